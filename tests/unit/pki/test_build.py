"""Tests for realtimechat.pki.build: what certificates and CRLs contain.

Extensions, names, serials and reasons, as init_ca, issue_client and revoke
make them, and checked by `openssl verify -x509_strict` as well.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from realtimechat import pki

from ...support import cn_of, openssl_verify
from .helpers import crl_of


def test_ca_certificate_extensions(ca_root: Path) -> None:
    """The CA is self-signed with critical CA:TRUE (pathlen 0), critical KeyUsage, SKI and AKI."""
    ca = pki.load_certificate(pki.CaFolder(ca_root).ca_cert)

    assert ca.subject == ca.issuer
    assert cn_of(ca) == "realtimechat CA (chatserver)"
    ca.verify_directly_issued_by(ca)
    basic = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical
    assert basic.value.ca
    assert basic.value.path_length == 0
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.key_cert_sign
    assert usage.value.crl_sign
    assert usage.value.digital_signature
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = ca.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski.digest


def test_server_certificate_names_and_usage(ca_root: Path) -> None:
    """The server certificate has its CN, DNS and IP SANs, serverAuth, critical KU/BC, AKI."""
    folder = pki.CaFolder(ca_root)
    ca = pki.load_certificate(folder.ca_cert)
    server = pki.load_certificate(folder.server_cert)

    server.verify_directly_issued_by(ca)
    assert cn_of(server) == "chatserver"
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["chatserver", "localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
    eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    usage = server.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature
    assert not usage.value.key_encipherment  # an EC key only signs
    assert not usage.value.key_cert_sign
    basic = server.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical
    assert not basic.value.ca
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = server.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest
    server.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)


def test_server_cn_given_as_san_is_listed_once(tmp_path: Path) -> None:
    """A --san equal to the CN (or repeated) appears once; an IP CN becomes an IP SAN."""
    root = tmp_path / "ca"
    pki.init_ca(root, "10.0.0.5", ["10.0.0.5", "chat.example", "chat.example"])
    server = pki.load_certificate(pki.CaFolder(root).server_cert)

    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.5"]
    assert san.get_values_for_type(x509.DNSName) == ["chat.example"]


def test_rsa_server_key_usage_allows_key_encipherment(tmp_path: Path) -> None:
    """An RSA server certificate also has keyEncipherment, for TLS 1.2 RSA key exchange."""
    root = tmp_path / "ca"
    pki.init_ca(root, "chatserver", key_type="rsa-3072")
    server = pki.load_certificate(pki.CaFolder(root).server_cert)

    usage = server.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_encipherment
    assert usage.digital_signature


def test_init_writes_an_empty_signed_crl(ca_root: Path) -> None:
    """crl.pem is empty, signed by the CA, numbered, with an AKI and next update in 30 days."""
    folder = pki.CaFolder(ca_root)
    ca = pki.load_certificate(folder.ca_cert)
    crl = x509.load_pem_x509_crl(folder.crl.read_bytes())

    assert crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
    assert len(crl) == 0
    assert crl.issuer == ca.subject
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 1
    crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    assert crl.next_update_utc is not None
    lifetime = crl.next_update_utc - crl.last_update_utc
    assert lifetime == dt.timedelta(days=30)


def test_openssl_verifies_server_and_client_strictly(ca_root: Path, openssl: str) -> None:
    """`openssl verify -x509_strict` accepts the server (sslserver) and a client (sslclient)."""
    folder = pki.CaFolder(ca_root)
    pki.issue_client(ca_root, "alice")

    server = openssl_verify(openssl, ca_root, folder.server_cert, "sslserver")
    client = openssl_verify(
        openssl,
        ca_root,
        folder.client_cert("alice"),
        "sslclient",
        "-crl_check",
        "-CRLfile",
        str(folder.crl),
    )

    assert server.returncode == 0, server.stderr
    assert server.stdout.strip().endswith(": OK")
    assert client.returncode == 0, client.stderr
    assert client.stdout.strip().endswith(": OK")


def test_openssl_refuses_each_certificate_for_the_other_purpose(
    ca_root: Path, openssl: str
) -> None:
    """The EKUs are meant: the server certificate is no client's, the client's no server's."""
    folder = pki.CaFolder(ca_root)
    pki.issue_client(ca_root, "alice")

    as_client = openssl_verify(openssl, ca_root, folder.server_cert, "sslclient")
    as_server = openssl_verify(openssl, ca_root, folder.client_cert("alice"), "sslserver")

    assert as_client.returncode != 0
    assert "unsuitable certificate purpose" in as_client.stdout + as_client.stderr
    assert as_server.returncode != 0
    assert "unsuitable certificate purpose" in as_server.stdout + as_server.stderr


def test_long_server_cn_still_makes_a_ca(tmp_path: Path) -> None:
    """A 64-byte server CN works: the CA's own CN is shortened to the 64-byte limit."""
    root = tmp_path / "ca"
    pki.init_ca(root, "s" * 64)
    ca = pki.load_certificate(pki.CaFolder(root).ca_cert)

    assert cn_of(ca).startswith("realtimechat CA (sss")
    assert len(cn_of(ca).encode()) == 64


def test_issue_client_certificate_fields(ca_root: Path) -> None:
    """A client certificate has CN=name, clientAuth, critical KeyUsage and CA:FALSE, SKI and AKI."""
    folder = pki.CaFolder(ca_root)
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)

    written = pki.issue_client(ca_root, "alice")
    after = dt.datetime.now(dt.UTC)

    assert [(item.path, item.action) for item in written] == [
        (folder.client_key("alice"), "wrote"),
        (folder.client_cert("alice"), "wrote"),
        (folder.index, "updated"),
    ]
    ca = pki.load_certificate(folder.ca_cert)
    cert = pki.load_certificate(folder.client_cert("alice"))
    cert.verify_directly_issued_by(ca)
    assert cn_of(cert) == "alice"
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature
    assert not usage.value.key_cert_sign
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical
    assert not basic.value.ca
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest
    cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    # Default validity: five minutes of clock skew before now, 365 days after.
    skew = dt.timedelta(minutes=5)
    assert before - skew <= cert.not_valid_before_utc <= after - skew
    assert (
        before + dt.timedelta(days=365)
        <= cert.not_valid_after_utc
        <= after + dt.timedelta(days=365)
    )
    key = pki.load_private_key(folder.client_key("alice"))
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()  # type: ignore[union-attr]


def test_issued_serials_are_random_and_distinct(ca_root: Path) -> None:
    """Each issued certificate gets its own large random serial number."""
    pki.issue_client(ca_root, "alice")
    pki.issue_client(ca_root, "bob")
    folder = pki.CaFolder(ca_root)
    serials = {
        pki.load_certificate(path).serial_number
        for path in (folder.client_cert("alice"), folder.client_cert("bob"), folder.server_cert)
    }

    assert len(serials) == 3
    assert all(serial > 2**64 for serial in serials)


def test_unspecified_reason_is_left_out_of_the_crl(ca_root: Path) -> None:
    """The default reason is recorded in the index but, per RFC 5280, not on the CRL."""
    pki.issue_client(ca_root, "alice")

    done = pki.revoke(ca_root, "alice")

    assert done.entry.reason == "unspecified"
    (entry,) = list(crl_of(ca_root))
    with pytest.raises(x509.ExtensionNotFound):
        entry.extensions.get_extension_for_class(x509.CRLReason)
