"""Tests for realtimechat.pki: real certificates, checked by openssl and by real TLS."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import socket
import ssl
import stat
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given
from hypothesis import strategies as st

from realtimechat import pki
from realtimechat.errors import PKIError

SANS = ("localhost", "127.0.0.1", "::1")
STRICT = ssl.VERIFY_X509_STRICT | ssl.VERIFY_X509_PARTIAL_CHAIN
TIMEOUT = 10.0


@pytest.fixture
def ca_root(tmp_path: Path) -> Path:
    """A CA folder made by init_ca for "chatserver" with localhost and loopback SANs."""
    root = tmp_path / "ca"
    pki.init_ca(root, "chatserver", SANS)
    return root


@pytest.fixture
def openssl() -> str:
    """The openssl command line tool, which checks our certificates independently."""
    path = shutil.which("openssl")
    if path is None:
        pytest.skip("openssl is not installed")
    return path


def _verify(
    openssl: str, root: Path, cert: Path, purpose: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    """Run `openssl verify -x509_strict` on ``cert`` against the CA of ``root``."""
    ca_cert = str(pki.CaFolder(root).ca_cert)
    return subprocess.run(
        [
            openssl,
            "verify",
            "-x509_strict",
            "-purpose",
            purpose,
            *extra,
            "-CAfile",
            ca_cert,
            str(cert),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _cn(cert: x509.Certificate) -> str:
    value = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert isinstance(value, str)
    return value


def _snapshot(root: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file under ``root`` with its bytes, mode and mtime."""
    return {
        str(path.relative_to(root)): (
            path.read_bytes(),
            path.stat().st_mode,
            path.stat().st_mtime_ns,
        )
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


# --------------------------------------------------------------------------- real TLS


@dataclass
class Handshake:
    """What each side of one loopback TLS connection saw."""

    server_saw_cert: bytes | None = None  # the client certificate (DER) the server got
    server_error: BaseException | None = None
    client_got: bytes = b""
    client_error: BaseException | None = None


def _server_context(folder: pki.CaFolder) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= STRICT
    context.load_verify_locations(cafile=folder.ca_cert)
    context.load_cert_chain(folder.server_cert, folder.server_key)
    return context


def _client_context(
    ca_cert: Path, cert: Path, key: Path, password: bytes | None = None
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and hostname checks
    context.verify_flags |= STRICT
    context.load_verify_locations(cafile=ca_cert)
    context.load_cert_chain(cert, key, password=password)
    return context


def _handshake(
    folder: pki.CaFolder, client_context: ssl.SSLContext, server_hostname: str
) -> Handshake:
    """Connect once on loopback; the server answers b"ok" after a verified handshake."""
    result = Handshake()
    server_context = _server_context(folder)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(TIMEOUT)
        port = listener.getsockname()[1]

        def serve() -> None:
            try:
                conn, _ = listener.accept()
                conn.settimeout(TIMEOUT)
                with server_context.wrap_socket(conn, server_side=True) as tls:
                    result.server_saw_cert = tls.getpeercert(binary_form=True)
                    tls.sendall(b"ok")
            except (OSError, ssl.SSLError) as exc:
                result.server_error = exc

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw,
                client_context.wrap_socket(raw, server_hostname=server_hostname) as tls,
            ):
                # TLS 1.3: the server judges our certificate after our handshake ends,
                # so only a read tells whether we were accepted.
                result.client_got = tls.recv(16)
        except (OSError, ssl.SSLError) as exc:
            result.client_error = exc
        finally:
            thread.join(TIMEOUT)
    assert not thread.is_alive(), "the TLS server thread did not finish"
    return result


@pytest.mark.parametrize("server_hostname", ["chatserver", "localhost", "127.0.0.1", "::1"])
def test_tls_handshake_with_issued_certificates(ca_root: Path, server_hostname: str) -> None:
    """A client with an issued certificate and a server from init complete strict mutual TLS."""
    folder = pki.CaFolder(ca_root)
    pki.issue_client(ca_root, "alice")
    context = _client_context(
        folder.ca_cert, folder.client_cert("alice"), folder.client_key("alice")
    )

    outcome = _handshake(folder, context, server_hostname)

    assert outcome.client_error is None
    assert outcome.server_error is None
    assert outcome.client_got == b"ok"
    assert outcome.server_saw_cert is not None
    seen = x509.load_der_x509_certificate(outcome.server_saw_cert)
    assert _cn(seen) == "alice"
    assert pki.fingerprint_sha256(outcome.server_saw_cert) == pki.fingerprint_sha256(
        pki.load_certificate(folder.client_cert("alice"))
    )


def test_tls_client_refuses_a_name_the_server_certificate_lacks(ca_root: Path) -> None:
    """The server certificate is not accepted for a hostname that is neither its CN nor a SAN."""
    folder = pki.CaFolder(ca_root)
    pki.issue_client(ca_root, "alice")
    context = _client_context(
        folder.ca_cert, folder.client_cert("alice"), folder.client_key("alice")
    )

    outcome = _handshake(folder, context, "other.example")

    assert isinstance(outcome.client_error, ssl.SSLCertVerificationError)
    assert outcome.client_got == b""


def test_tls_server_refuses_a_client_of_another_ca(ca_root: Path, tmp_path: Path) -> None:
    """A client certificate from a different CA folder is refused by the server."""
    other = tmp_path / "other-ca"
    pki.init_ca(other, "chatserver")
    pki.issue_client(other, "mallory")
    other_folder = pki.CaFolder(other)
    folder = pki.CaFolder(ca_root)
    context = _client_context(
        folder.ca_cert, other_folder.client_cert("mallory"), other_folder.client_key("mallory")
    )

    outcome = _handshake(folder, context, "chatserver")

    assert isinstance(outcome.server_error, ssl.SSLError)
    assert "certificate verify failed" in str(outcome.server_error)
    assert outcome.server_saw_cert is None
    assert outcome.client_got != b"ok"


@pytest.mark.parametrize(
    ("ca_type", "client_type"),
    [
        ("ec-p256", "ec-p256"),
        ("ed25519", "ed25519"),
        ("rsa-3072", "rsa-3072"),
        ("ec-p256", "ed25519"),
        ("ed25519", "rsa-3072"),
    ],
)
def test_every_key_type_issues_and_handshakes(
    tmp_path: Path, openssl: str, ca_type: pki.KeyType, client_type: pki.KeyType
) -> None:
    """CA, server and client keys of each type verify strictly and complete mutual TLS."""
    root = tmp_path / "ca"
    pki.init_ca(root, "chatserver", key_type=ca_type)
    pki.issue_client(root, "alice", key_type=client_type)
    folder = pki.CaFolder(root)

    assert _verify(openssl, root, folder.server_cert, "sslserver").returncode == 0
    assert _verify(openssl, root, folder.client_cert("alice"), "sslclient").returncode == 0
    context = _client_context(
        folder.ca_cert, folder.client_cert("alice"), folder.client_key("alice")
    )
    outcome = _handshake(folder, context, "chatserver")
    assert outcome.client_got == b"ok", outcome


# --------------------------------------------------------------------------- init_ca


def test_init_writes_files_with_modes(tmp_path: Path) -> None:
    """init_ca returns every file it wrote: keys 0600, certificates 0644, folders 0700."""
    root = tmp_path / "deep" / "ca"
    folder = pki.CaFolder(root)

    written = [item.path for item in pki.init_ca(root, "chatserver")]

    assert written == [
        folder.ca_key,
        folder.ca_cert,
        folder.server_key,
        folder.server_cert,
        folder.crl,
        folder.index,
    ]
    assert {_mode(path) for path in written if path.suffix == ".key"} == {0o600}
    assert {_mode(path) for path in written if path.suffix != ".key"} == {0o644}
    assert _mode(root) == 0o700
    assert _mode(folder.clients_dir) == 0o700
    assert sorted(p.name for p in root.iterdir()) == sorted([*(p.name for p in written), "clients"])


def test_modes_do_not_depend_on_the_umask(tmp_path: Path) -> None:
    """Keys are 0600, certificates 0644 and folders 0700 whatever the umask."""
    for umask in (0o000, 0o077, 0o277):
        old = os.umask(umask)
        try:
            root = tmp_path / f"ca-{umask:03o}"
            pki.init_ca(root, "chatserver")
            pki.issue_client(root, "alice")
        finally:
            os.umask(old)
        folder = pki.CaFolder(root)
        assert _mode(folder.ca_key) == 0o600
        assert _mode(folder.client_key("alice")) == 0o600
        assert _mode(folder.ca_cert) == 0o644
        assert _mode(folder.client_cert("alice")) == 0o644
        assert _mode(root) == 0o700
        assert _mode(folder.clients_dir) == 0o700


def test_keys_are_unencrypted_pkcs8_pem(ca_root: Path) -> None:
    """Private keys are written as unencrypted PKCS#8 PEM that loads without a passphrase."""
    folder = pki.CaFolder(ca_root)
    text = folder.server_key.read_text()

    assert text.startswith("-----BEGIN PRIVATE KEY-----\n")
    assert isinstance(pki.load_private_key(folder.server_key), ec.EllipticCurvePrivateKey)


def test_ca_certificate_extensions(ca_root: Path) -> None:
    """The CA is self-signed with critical CA:TRUE (pathlen 0), critical KeyUsage, SKI and AKI."""
    ca = pki.load_certificate(pki.CaFolder(ca_root).ca_cert)

    assert ca.subject == ca.issuer
    assert _cn(ca) == "realtimechat CA (chatserver)"
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
    assert _cn(server) == "chatserver"
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

    server = _verify(openssl, ca_root, folder.server_cert, "sslserver")
    client = _verify(
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

    as_client = _verify(openssl, ca_root, folder.server_cert, "sslclient")
    as_server = _verify(openssl, ca_root, folder.client_cert("alice"), "sslserver")

    assert as_client.returncode != 0
    assert "unsuitable certificate purpose" in as_client.stdout + as_client.stderr
    assert as_server.returncode != 0
    assert "unsuitable certificate purpose" in as_server.stdout + as_server.stderr


def test_init_refuses_an_existing_ca_and_changes_nothing(ca_root: Path) -> None:
    """A second init_ca in a folder raises PKIError naming a file and changes nothing."""
    before = _snapshot(ca_root)

    with pytest.raises(PKIError, match=r"ca\.key already exists"):
        pki.init_ca(ca_root, "chatserver")

    assert _snapshot(ca_root) == before


def test_init_refuses_if_any_single_target_exists(tmp_path: Path) -> None:
    """One leftover target file (here crl.pem) stops init_ca before it writes anything."""
    root = tmp_path / "ca"
    root.mkdir()
    (root / "crl.pem").write_text("keep me\n")

    with pytest.raises(PKIError, match=r"crl\.pem"):
        pki.init_ca(root, "chatserver")

    assert [p.name for p in root.iterdir()] == ["crl.pem"]
    assert (root / "crl.pem").read_text() == "keep me\n"


@pytest.mark.parametrize(
    ("cn", "sans"),
    [
        ("", ()),
        (" chatserver", ()),
        ("chat\nserver", ()),
        ("chatserver", ("",)),
        ("chatserver", ("bücher.example",)),
        ("x" * 65, ()),
    ],
)
def test_init_rejects_bad_names_without_writing(
    tmp_path: Path, cn: str, sans: tuple[str, ...]
) -> None:
    """A bad server name or SAN raises PKIError and creates no folder."""
    root = tmp_path / "ca"

    with pytest.raises(PKIError):
        pki.init_ca(root, cn, sans)

    assert not root.exists()


def test_long_server_cn_still_makes_a_ca(tmp_path: Path) -> None:
    """A 64-byte server CN works: the CA's own CN is shortened to the 64-byte limit."""
    root = tmp_path / "ca"
    pki.init_ca(root, "s" * 64)
    ca = pki.load_certificate(pki.CaFolder(root).ca_cert)

    assert _cn(ca).startswith("realtimechat CA (sss")
    assert len(_cn(ca).encode()) == 64


# --------------------------------------------------------------------------- issue_client


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
    assert _cn(cert) == "alice"
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


def test_index_records_server_and_clients(ca_root: Path) -> None:
    """index.json lists server and clients with serial, fingerprint, not_after, kind, status."""
    pki.issue_client(ca_root, "alice")
    folder = pki.CaFolder(ca_root)

    entries = pki.read_index(ca_root)

    assert [(e.name, e.kind, e.status) for e in entries] == [
        ("chatserver", "server", "valid"),
        ("alice", "client", "valid"),
    ]
    for entry, path in zip(entries, [folder.server_cert, folder.client_cert("alice")], strict=True):
        cert = pki.load_certificate(path)
        assert entry.serial == f"{cert.serial_number:x}"
        assert entry.fingerprint == pki.fingerprint_sha256(cert)
        assert dt.datetime.fromisoformat(entry.not_after) == cert.not_valid_after_utc
        assert entry.not_after.endswith("Z")
    document = json.loads(folder.index.read_text())
    assert document["version"] == 1
    assert document["entries"][1] == entries[1].to_json()
    assert _mode(folder.index) == 0o644


def test_index_keeps_fields_it_does_not_know(ca_root: Path) -> None:
    """Appending to index.json keeps fields a later version wrote; read_index sees status."""
    folder = pki.CaFolder(ca_root)
    document = json.loads(folder.index.read_text())
    document["entries"][0]["status"] = "revoked"
    document["entries"][0]["revoked_at"] = "2030-01-01T00:00:00Z"
    folder.index.write_text(json.dumps(document))

    pki.issue_client(ca_root, "alice")

    entries = json.loads(folder.index.read_text())["entries"]
    assert entries[0]["revoked_at"] == "2030-01-01T00:00:00Z"
    assert [e["name"] for e in entries] == ["chatserver", "alice"]
    assert [e.status for e in pki.read_index(ca_root)] == ["revoked", "valid"]


def test_damaged_index_stops_issue_before_writing(ca_root: Path) -> None:
    """A damaged index.json raises PKIError naming it, and no key or certificate is written."""
    folder = pki.CaFolder(ca_root)
    folder.index.write_text('{"entries": "nope"}')

    with pytest.raises(PKIError, match=r"index\.json is damaged"):
        pki.issue_client(ca_root, "alice")

    assert list(folder.clients_dir.iterdir()) == []


def test_issue_refuses_an_existing_name(ca_root: Path) -> None:
    """Issuing a name twice raises PKIError saying how to go on, and changes nothing."""
    pki.issue_client(ca_root, "alice")
    before = _snapshot(ca_root)

    with pytest.raises(PKIError, match="'alice' already has a certificate") as caught:
        pki.issue_client(ca_root, "alice")

    assert f"`rtchat-certs revoke alice --dir {ca_root}`" in str(caught.value)
    assert "--force" in str(caught.value)
    assert _snapshot(ca_root) == before


def test_issue_refuses_a_leftover_certificate_or_symlink(ca_root: Path, tmp_path: Path) -> None:
    """A dangling symlink at clients/NAME.crt is refused and its target never created."""
    folder = pki.CaFolder(ca_root)
    target = tmp_path / "elsewhere.crt"
    folder.client_cert("bob").symlink_to(target)

    with pytest.raises(PKIError, match=r"bob\.crt already exists"):
        pki.issue_client(ca_root, "bob")

    assert not target.exists()
    assert not folder.client_key("bob").exists()


def test_a_file_that_appears_after_the_check_is_not_overwritten(
    ca_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If another process creates NAME.crt after the existence check, it is kept, not replaced.

    The check is bypassed to stand in for the race; the final link must refuse,
    and the key written just before is removed again.
    """
    folder = pki.CaFolder(ca_root)
    folder.client_cert("alice").write_text("theirs\n")
    real_lexists = os.path.lexists
    monkeypatch.setattr(
        os.path,
        "lexists",
        lambda path: Path(path).parent != folder.clients_dir and real_lexists(path),
    )

    with pytest.raises(PKIError, match=r"alice\.crt already exists"):
        pki.issue_client(ca_root, "alice")

    monkeypatch.undo()
    assert folder.client_cert("alice").read_text() == "theirs\n"
    assert sorted(p.name for p in folder.clients_dir.iterdir()) == ["alice.crt"]
    assert [e.name for e in pki.read_index(ca_root)] == ["chatserver"]


def test_issue_without_a_ca_says_how_to_make_one(tmp_path: Path) -> None:
    """issue_client in a folder without a CA raises PKIError naming `rtchat-certs init`."""
    root = tmp_path / "empty"

    with pytest.raises(PKIError, match="rtchat-certs init") as caught:
        pki.issue_client(root, "alice")

    assert f"--dir {root}" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert not root.exists()


def test_issue_without_the_ca_key_explains(ca_root: Path) -> None:
    """A folder with ca.crt but no ca.key (a server's copy) raises PKIError naming ca.key."""
    pki.CaFolder(ca_root).ca_key.unlink()

    with pytest.raises(PKIError, match=r"ca\.key is missing"):
        pki.issue_client(ca_root, "alice")


def test_issue_refuses_a_ca_key_that_does_not_match(ca_root: Path, tmp_path: Path) -> None:
    """A ca.key that is not the key of ca.crt raises PKIError instead of issuing useless certs."""
    folder = pki.CaFolder(ca_root)
    other = tmp_path / "other"
    pki.init_ca(other, "chatserver")
    folder.ca_key.unlink()
    shutil.copy(pki.CaFolder(other).ca_key, folder.ca_key)

    with pytest.raises(PKIError, match="is not the key of"):
        pki.issue_client(ca_root, "alice")


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a" * 65,
        "é" * 33,
        "a/b",
        "a\\b",
        "a\x00b",
        "a\nb",
        "tab\there",
        ".",
        "..",
        ".hidden",
        " alice",
        "alice ",
        "al\u202eice",
        "zero\u200bwidth",
        "\ud800",
    ],
)
def test_issue_rejects_bad_names(ca_root: Path, name: str) -> None:
    """Empty, too long, path-like, hidden names or names with invisible characters are refused."""
    with pytest.raises(PKIError, match="name"):
        pki.issue_client(ca_root, name)

    assert list(pki.CaFolder(ca_root).clients_dir.iterdir()) == []
    assert [e.name for e in pki.read_index(ca_root)] == ["chatserver"]


@pytest.mark.parametrize("name", ["alice", "Bob Smith", "émilie", "a" * 64, "x.y", "o'neil"])
def test_issue_accepts_ordinary_names(ca_root: Path, name: str) -> None:
    """Ordinary names, with spaces inside, dots after the first character or accents, are issued."""
    pki.issue_client(ca_root, name)

    cert = pki.load_certificate(pki.CaFolder(ca_root).client_cert(name))
    assert _cn(cert) == name


@given(st.text(max_size=70))
def test_accepted_names_stay_inside_clients_and_fit_a_cn(name: str) -> None:
    """Any name validate_client_name accepts maps to clients/NAME.crt and is a valid CN."""
    folder = pki.CaFolder(Path("/ca"))
    try:
        pki.validate_client_name(name)
    except PKIError:
        return
    path = folder.client_cert(name)
    assert path.parent == folder.clients_dir
    assert path.name == f"{name}.crt"
    x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])  # raises if not a valid CN


def test_expired_certificate_is_expired_for_openssl(ca_root: Path, openssl: str) -> None:
    """not_before/not_after in the past give a certificate `openssl verify` calls expired."""
    now = dt.datetime.now(dt.UTC)
    pki.issue_client(
        ca_root, "old", not_before=now - dt.timedelta(days=2), not_after=now - dt.timedelta(days=1)
    )
    cert_path = pki.CaFolder(ca_root).client_cert("old")

    result = _verify(openssl, ca_root, cert_path, "sslclient")

    assert result.returncode != 0
    assert "certificate has expired" in result.stdout + result.stderr
    cert = pki.load_certificate(cert_path)
    assert cert.not_valid_after_utc == (now - dt.timedelta(days=1)).replace(microsecond=0)


@pytest.mark.parametrize(
    ("not_before", "not_after"),
    [
        (dt.datetime(2030, 1, 2, tzinfo=dt.UTC), dt.datetime(2030, 1, 1, tzinfo=dt.UTC)),
        (None, dt.datetime(2030, 1, 1)),  # naive: local time or UTC? refused
    ],
)
def test_issue_rejects_bad_validity(
    ca_root: Path, not_before: dt.datetime | None, not_after: dt.datetime
) -> None:
    """A validity that ends before it starts, or a naive datetime, raises PKIError."""
    with pytest.raises(PKIError, match="not_"):
        pki.issue_client(ca_root, "alice", not_before=not_before, not_after=not_after)

    assert not pki.CaFolder(ca_root).client_key("alice").exists()


def test_no_temporary_files_are_left_behind(ca_root: Path) -> None:
    """After init and issue the CA folder holds only the files they name."""
    pki.issue_client(ca_root, "alice")

    hidden = [p for p in ca_root.rglob(".*")]
    assert hidden == []


# --------------------------------------------------------------------------- keys


@pytest.mark.parametrize(
    ("key_type", "expected"),
    [
        ("ec-p256", ec.EllipticCurvePrivateKey),
        ("ed25519", ed25519.Ed25519PrivateKey),
        ("rsa-3072", rsa.RSAPrivateKey),
    ],
)
def test_generate_key_types(key_type: pki.KeyType, expected: type) -> None:
    """generate_key makes a key of the requested type and size."""
    key = pki.generate_key(key_type)

    assert isinstance(key, expected)
    if isinstance(key, rsa.RSAPrivateKey):
        assert key.key_size == 3072
        assert key.public_key().public_numbers().e == 65537
    if isinstance(key, ec.EllipticCurvePrivateKey):
        assert isinstance(key.curve, ec.SECP256R1)


def test_generate_key_rejects_an_unknown_type() -> None:
    """An unknown key type raises PKIError listing the choices."""
    with pytest.raises(PKIError, match="ec-p256"):
        pki.generate_key("dsa-1024")  # type: ignore[arg-type]


def test_rsa_4096_client_certificate(ca_root: Path, openssl: str) -> None:
    """An RSA-4096 client key is generated, issued and verified by openssl (the slow key type)."""
    pki.issue_client(ca_root, "big", key_type="rsa-4096")
    folder = pki.CaFolder(ca_root)

    key = pki.load_private_key(folder.client_key("big"))
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 4096
    assert _verify(openssl, ca_root, folder.client_cert("big"), "sslclient").returncode == 0


def test_load_private_key_with_a_passphrase(tmp_path: Path) -> None:
    """An encrypted key needs its passphrase: missing or wrong ones raise PKIError."""
    key = pki.generate_key()
    path = tmp_path / "user.key"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"correct horse"),
        )
    )

    with pytest.raises(PKIError, match="passphrase is needed"):
        pki.load_private_key(path)
    with pytest.raises(PKIError, match="wrong passphrase"):
        pki.load_private_key(path, b"wrong")
    loaded = pki.load_private_key(path, b"correct horse")
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)
    assert loaded.private_numbers() == key.private_numbers()  # type: ignore[union-attr]


def test_load_private_key_errors_name_the_file(tmp_path: Path) -> None:
    """A missing file or a file that is no key raises PKIError with its path."""
    missing = tmp_path / "missing.key"
    garbage = tmp_path / "garbage.key"
    garbage.write_text("not a key\n")

    with pytest.raises(PKIError, match=r"missing\.key"):
        pki.load_private_key(missing)
    with pytest.raises(PKIError, match=r"garbage\.key"):
        pki.load_private_key(garbage)


# --------------------------------------------------------------------------- loading, fingerprints


def test_load_certificates_reads_a_bundle_in_order(ca_root: Path, tmp_path: Path) -> None:
    """load_certificates returns every certificate of a PEM bundle, in file order."""
    folder = pki.CaFolder(ca_root)
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(folder.server_cert.read_bytes() + folder.ca_cert.read_bytes())

    certs = pki.load_certificates(bundle)

    assert [_cn(c) for c in certs] == ["chatserver", "realtimechat CA (chatserver)"]
    assert _cn(pki.load_certificate(bundle)) == "chatserver"


def test_load_certificate_reads_der(ca_root: Path, tmp_path: Path) -> None:
    """load_certificate also reads a DER certificate."""
    ca = pki.load_certificate(pki.CaFolder(ca_root).ca_cert)
    der = tmp_path / "ca.der"
    der.write_bytes(ca.public_bytes(serialization.Encoding.DER))

    assert pki.load_certificate(der) == ca


@pytest.mark.parametrize("content", [b"", b"hello\n", b"-----BEGIN CERTIFICATE-----\nxx\n"])
def test_load_certificates_rejects_non_certificates(tmp_path: Path, content: bytes) -> None:
    """An empty file or one without a certificate raises PKIError naming the path."""
    path = tmp_path / "thing.pem"
    path.write_bytes(content)

    with pytest.raises(PKIError, match=r"thing\.pem"):
        pki.load_certificates(path)
    with pytest.raises(PKIError, match=r"thing\.pem"):
        pki.load_certificate(path)


def test_load_certificate_of_a_missing_file_names_it(tmp_path: Path) -> None:
    """A missing certificate file raises PKIError with its path."""
    with pytest.raises(PKIError, match=r"nothere\.crt"):
        pki.load_certificate(tmp_path / "nothere.crt")


def test_fingerprints_match_openssl(ca_root: Path, openssl: str) -> None:
    """fingerprint_sha256 equals openssl's SHA-256 fingerprint, for a certificate and its DER."""
    path = pki.CaFolder(ca_root).server_cert
    cert = pki.load_certificate(path)
    der = cert.public_bytes(serialization.Encoding.DER)
    result = subprocess.run(
        [openssl, "x509", "-in", str(path), "-noout", "-fingerprint", "-sha256"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    from_openssl = result.stdout.strip().split("=", 1)[1].replace(":", "").lower()

    assert pki.fingerprint_sha256(cert) == from_openssl
    assert pki.fingerprint_sha256(der) == from_openssl
    assert from_openssl == hashlib.sha256(der).hexdigest()
    assert len(from_openssl) == 64
    assert pki.short_fingerprint(cert) == from_openssl[:16]
    assert pki.short_fingerprint(der) == from_openssl[:16]


def test_ca_folder_layout() -> None:
    """CaFolder names the documented files, and client paths refuse names that escape clients/."""
    folder = pki.CaFolder(Path("/x"))

    assert [
        folder.ca_cert,
        folder.ca_key,
        folder.server_cert,
        folder.server_key,
        folder.crl,
        folder.clients_dir,
        folder.index,
        folder.client_cert("a"),
        folder.client_key("a"),
    ] == [
        Path("/x/ca.crt"),
        Path("/x/ca.key"),
        Path("/x/server.crt"),
        Path("/x/server.key"),
        Path("/x/crl.pem"),
        Path("/x/clients"),
        Path("/x/index.json"),
        Path("/x/clients/a.crt"),
        Path("/x/clients/a.key"),
    ]
    with pytest.raises(PKIError):
        folder.client_key("../ca")


# --------------------------------------------------------------------------- requests and signing


def _csr(
    key: pki.PrivateKey | rsa.RSAPrivateKey,
    name: x509.Name,
    *extensions: x509.ExtensionType,
) -> x509.CertificateSigningRequest:
    """A CSR for ``name`` signed with ``key``, asking for ``extensions``."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(name)
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, algorithm)


def _write_csr(path: Path, csr: x509.CertificateSigningRequest) -> Path:
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    return path


def _cn_name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _openssl_public_key_sha256(openssl: str, csr_path: Path) -> str:
    """The SHA-256 of the CSR's SubjectPublicKeyInfo, computed by openssl alone."""
    pem = subprocess.run(
        [openssl, "req", "-in", str(csr_path), "-pubkey", "-noout"],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    der = subprocess.run(
        [openssl, "pkey", "-pubin", "-outform", "DER"],
        input=pem,
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    return hashlib.sha256(der).hexdigest()


def test_request_writes_key_and_csr(tmp_path: Path, openssl: str) -> None:
    """create_request writes NAME.key 0600 and NAME.csr in a 0700 folder; openssl agrees on both."""
    out = tmp_path / "user"

    made = pki.create_request(out, "alice")

    assert [(w.path, w.action) for w in made.written] == [
        (out / "alice.key", "wrote"),
        (out / "alice.csr", "wrote"),
    ]
    assert (made.key, made.csr) == (out / "alice.key", out / "alice.csr")
    assert _mode(out) == 0o700
    assert _mode(made.key) == 0o600
    assert _mode(made.csr) == 0o644
    csr = pki.load_csr(made.csr)
    assert csr.is_signature_valid
    assert csr.subject.rfc4514_string() == "CN=alice"
    key = pki.load_private_key(made.key)
    assert pki.public_key_fingerprint(key.public_key()) == made.fingerprint
    assert made.fingerprint == _openssl_public_key_sha256(openssl, made.csr)
    checked = subprocess.run(
        [openssl, "req", "-in", str(made.csr), "-verify", "-noout"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr


def test_passphrase_protected_key_needs_the_right_passphrase(tmp_path: Path, openssl: str) -> None:
    """A passphrase makes an encrypted key: the right one loads it, a wrong one fails clearly."""
    made = pki.create_request(tmp_path / "user", "alice", passphrase=b"correct horse")

    assert made.key.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert pki.private_key_is_encrypted(made.key)
    assert [w.note for w in made.written] == ["passphrase-protected", ""]
    with pytest.raises(PKIError, match="is encrypted: a passphrase is needed"):
        pki.load_private_key(made.key)
    with pytest.raises(PKIError) as wrong:
        pki.load_private_key(made.key, b"battery staple")
    assert str(wrong.value) == f"wrong passphrase for {made.key}"
    key = pki.load_private_key(made.key, b"correct horse")
    assert pki.public_key_fingerprint(key.public_key()) == made.fingerprint
    by_openssl = subprocess.run(
        [openssl, "pkey", "-in", str(made.key), "-passin", "pass:correct horse", "-noout"],
        capture_output=True,
        check=False,
        timeout=30,
    )
    wrong_for_openssl = subprocess.run(
        [openssl, "pkey", "-in", str(made.key), "-passin", "pass:nope", "-noout"],
        capture_output=True,
        check=False,
        timeout=30,
    )
    assert by_openssl.returncode == 0
    assert wrong_for_openssl.returncode != 0


def test_unencrypted_key_is_not_reported_encrypted(tmp_path: Path) -> None:
    """private_key_is_encrypted is False for a plain key, and a needless passphrase is an error."""
    made = pki.create_request(tmp_path / "user", "alice")

    assert not pki.private_key_is_encrypted(made.key)
    with pytest.raises(PKIError, match="not encrypted, but a passphrase was given"):
        pki.load_private_key(made.key, b"anything")


def test_request_refuses_existing_files_unless_forced(tmp_path: Path) -> None:
    """A second request for a name is refused and changes nothing; with force it makes a new key."""
    out = tmp_path / "user"
    first = pki.create_request(out, "alice")
    before = _snapshot(out)

    with pytest.raises(PKIError, match=r"alice\.key already exists; refusing to overwrite it"):
        pki.create_request(out, "alice")

    assert _snapshot(out) == before
    second = pki.create_request(out, "alice", force=True)
    assert [w.action for w in second.written] == ["replaced", "replaced"]
    assert second.fingerprint != first.fingerprint
    assert _mode(second.key) == 0o600


def test_request_refuses_a_folder_others_can_open(tmp_path: Path) -> None:
    """A key is never written into an existing folder with group or other access."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)

    with pytest.raises(PKIError, match=r"mode 0755.*chmod 700"):
        pki.create_request(shared, "alice")

    assert list(shared.iterdir()) == []


@pytest.mark.parametrize(("name", "passphrase"), [("../alice", None), ("alice", b"")])
def test_request_rejects_bad_input(tmp_path: Path, name: str, passphrase: bytes | None) -> None:
    """A bad name or an empty passphrase is refused before any file is written."""
    out = tmp_path / "user"

    with pytest.raises(PKIError):
        pki.create_request(out, name, passphrase=passphrase)

    assert not out.exists()


def test_request_then_sign_completes_the_user_folder(ca_root: Path, tmp_path: Path) -> None:
    """request + sign --out make a user folder that does strict mutual TLS; the CA lacks the key."""
    user = tmp_path / "user"
    made = pki.create_request(user, "alice", passphrase=b"s3cret")
    folder = pki.CaFolder(ca_root)
    request = pki.read_csr(made.csr)

    written = pki.sign_request(ca_root, request, out_dir=user)

    assert [(w.path, w.action) for w in written] == [
        (folder.client_cert("alice"), "wrote"),
        (user / "alice.crt", "wrote"),
        (user / "ca.crt", "wrote"),
        (folder.index, "updated"),
    ]
    assert sorted(p.name for p in user.iterdir()) == [
        "alice.crt",
        "alice.csr",
        "alice.key",
        "ca.crt",
    ]
    assert (user / "ca.crt").read_bytes() == folder.ca_cert.read_bytes()
    assert (user / "alice.crt").read_bytes() == folder.client_cert("alice").read_bytes()
    assert not folder.client_key("alice").exists()
    key_bytes = made.key.read_bytes()
    assert all(path.read_bytes() != key_bytes for path in ca_root.rglob("*") if path.is_file())
    cert = pki.load_certificate(user / "alice.crt")
    assert pki.public_key_fingerprint(cert) == made.fingerprint
    context = _client_context(user / "ca.crt", user / "alice.crt", made.key, password=b"s3cret")
    outcome = _handshake(folder, context, "chatserver")
    assert outcome.client_got == b"ok", outcome
    assert outcome.server_saw_cert is not None
    assert _cn(x509.load_der_x509_certificate(outcome.server_saw_cert)) == "alice"


def test_signed_certificate_ignores_what_the_csr_asks_for(
    ca_root: Path, tmp_path: Path, openssl: str
) -> None:
    """A CSR asking for SANs, serverAuth and CA:TRUE gets CN and clientAuth only."""
    key = pki.generate_key()
    csr_path = _write_csr(
        tmp_path / "greedy.csr",
        _csr(
            key,
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Evil Corp"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "greedy"),
                ]
            ),
            x509.SubjectAlternativeName([x509.DNSName("chatserver")]),
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
            x509.BasicConstraints(ca=True, path_length=None),
        ),
    )
    request = pki.read_csr(csr_path)

    pki.sign_request(ca_root, request)

    assert request.requested == ["subjectAltName", "extendedKeyUsage", "basicConstraints"]
    cert_path = pki.CaFolder(ca_root).client_cert("greedy")
    cert = pki.load_certificate(cert_path)
    assert cert.subject.rfc4514_string() == "CN=greedy"
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert _verify(openssl, ca_root, cert_path, "sslclient").returncode == 0
    assert _verify(openssl, ca_root, cert_path, "sslserver").returncode != 0


def test_sign_refuses_a_name_issued_and_not_revoked(ca_root: Path, tmp_path: Path) -> None:
    """sign refuses a name with a valid certificate and writes nothing; after revoke it signs."""
    pki.issue_client(ca_root, "alice")
    made = pki.create_request(tmp_path / "user", "alice")
    request = pki.read_csr(made.csr)
    before = _snapshot(ca_root)

    with pytest.raises(PKIError, match="'alice' already has a certificate that is not revoked"):
        pki.sign_request(ca_root, request)

    assert _snapshot(ca_root) == before
    pki.revoke(ca_root, "alice")
    folder = pki.CaFolder(ca_root)
    written = pki.sign_request(ca_root, request)
    assert [(w.path, w.action) for w in written] == [
        (folder.client_cert("alice"), "replaced"),
        (folder.index, "updated"),
        (folder.client_key("alice"), "removed"),
    ]
    assert written[0].note == "the previous certificate was revoked"
    assert not folder.client_key("alice").exists()
    cert = pki.load_certificate(folder.client_cert("alice"))
    assert pki.public_key_fingerprint(cert) == made.fingerprint
    assert [(e.name, e.status) for e in pki.read_index(ca_root)] == [
        ("chatserver", "valid"),
        ("alice", "revoked"),
        ("alice", "valid"),
    ]


def test_sign_with_force_issues_a_second_certificate(ca_root: Path, tmp_path: Path) -> None:
    """With force a name gets a second valid certificate (a renewal); the name is then ambiguous."""
    pki.issue_client(ca_root, "alice")
    request = pki.read_csr(pki.create_request(tmp_path / "user", "alice").csr)

    pki.sign_request(ca_root, request, force=True)

    alices = [e for e in pki.read_index(ca_root) if e.name == "alice"]
    assert [e.status for e in alices] == ["valid", "valid"]
    with pytest.raises(PKIError, match="'alice' matches 2 certificates") as caught:
        pki.revoke(ca_root, "alice")
    assert all(e.serial in str(caught.value) for e in alices)
    assert [e.status for e in pki.read_index(ca_root)] == ["valid", "valid", "valid"]


def test_sign_asks_and_a_no_writes_nothing(ca_root: Path, tmp_path: Path) -> None:
    """confirm sees the checked request; when it says no, nothing is signed or written."""
    request = pki.read_csr(pki.create_request(tmp_path / "user", "alice").csr)
    before = _snapshot(ca_root)
    seen: list[pki.SigningRequest] = []

    def decline(asked: pki.SigningRequest) -> bool:
        seen.append(asked)
        return False

    with pytest.raises(PKIError, match="not signed"):
        pki.sign_request(ca_root, request, confirm=decline)

    assert seen == [request]
    assert _snapshot(ca_root) == before


def test_sign_refuses_the_cas_own_key(ca_root: Path, tmp_path: Path) -> None:
    """A CSR carrying the CA's key is refused: that certificate would share the CA's key."""
    ca_key = pki.load_private_key(pki.CaFolder(ca_root).ca_key)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    request = pki.read_csr(_write_csr(tmp_path / "sneaky.csr", _csr(ca_key, _cn_name("sneaky"))))

    with pytest.raises(PKIError, match="the CA's own key"):
        pki.sign_request(ca_root, request)

    assert not pki.CaFolder(ca_root).client_cert("sneaky").exists()


def test_sign_refuses_a_user_folder_with_another_key(ca_root: Path, tmp_path: Path) -> None:
    """--out into a folder whose NAME.key is not the CSR's key is refused before signing."""
    user = tmp_path / "user"
    pki.create_request(user, "alice")
    other = pki.create_request(tmp_path / "other", "alice")

    with pytest.raises(PKIError, match=r"alice\.key is not the key of"):
        pki.sign_request(ca_root, pki.read_csr(other.csr), out_dir=user)

    assert not (user / "alice.crt").exists()
    assert not pki.CaFolder(ca_root).client_cert("alice").exists()


def test_read_csr_refuses_a_csr_whose_signature_fails(tmp_path: Path) -> None:
    """A CSR changed after signing (CN alice -> mallo) is refused: its signature does not verify."""
    good = _csr(pki.generate_key(), _cn_name("alice")).public_bytes(serialization.Encoding.DER)
    forged = tmp_path / "forged.csr"
    forged.write_bytes(good.replace(b"alice", b"mallo"))

    with pytest.raises(PKIError, match="signature does not verify"):
        pki.read_csr(forged)

    assert pki.common_name(pki.load_csr(forged)) == "mallo"


@pytest.mark.parametrize(
    ("subject", "message"),
    [
        (x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "x")]), "exactly one CN"),
        (
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, "a"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "b"),
                ]
            ),
            "exactly one CN",
        ),
        (_cn_name("../escape"), "cannot contain '/'"),
        (_cn_name(".hidden"), "cannot start with '.'"),
        (_cn_name("al\u202eice"), "invisible character"),
    ],
)
def test_read_csr_refuses_names_that_cannot_be_clients(
    tmp_path: Path, subject: x509.Name, message: str
) -> None:
    """A CSR without exactly one valid client name as CN is refused."""
    path = _write_csr(tmp_path / "bad.csr", _csr(pki.generate_key(), subject))

    with pytest.raises(PKIError, match=message):
        pki.read_csr(path)


def test_read_csr_refuses_a_weak_key(tmp_path: Path) -> None:
    """A CSR for a 1024-bit RSA key is refused: OpenSSL would refuse the certificate."""
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (on purpose)
    path = _write_csr(tmp_path / "weak.csr", _csr(weak, _cn_name("weak")))

    with pytest.raises(PKIError, match="only 1024 bits"):
        pki.read_csr(path)


def test_read_csr_accepts_der_and_ed25519(tmp_path: Path) -> None:
    """A DER CSR for an Ed25519 key is read, with its key type and fingerprint."""
    key = ed25519.Ed25519PrivateKey.generate()
    path = tmp_path / "ed.csr"
    path.write_bytes(_csr(key, _cn_name("ed")).public_bytes(serialization.Encoding.DER))

    request = pki.read_csr(path)

    assert (request.name, request.key) == ("ed", "Ed25519")
    assert request.fingerprint == pki.public_key_fingerprint(key.public_key())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello\n", r"is not a certificate signing request \(neither PEM nor DER\)$"),
        (b"-----BEGIN PRIVATE KEY-----\nxx\n", r"\(it holds a private key\)"),
        (b"-----BEGIN CERTIFICATE REQUEST-----\nxx\n", "a damaged CSR"),
    ],
)
def test_read_csr_refuses_files_that_are_not_csrs(
    tmp_path: Path, content: bytes, message: str
) -> None:
    """Text, a key or a damaged CSR is refused with one line that names the file."""
    path = tmp_path / "thing.csr"
    path.write_bytes(content)

    with pytest.raises(PKIError, match=message) as caught:
        pki.read_csr(path)

    assert str(caught.value).startswith(str(path))


def test_read_csr_of_a_certificate_says_so(ca_root: Path) -> None:
    """Giving sign a certificate instead of a CSR says that it holds a certificate."""
    server = pki.CaFolder(ca_root).server_cert

    with pytest.raises(
        PKIError, match=r"not a certificate signing request \(CSR\) \(it holds a certificate\)"
    ):
        pki.read_csr(server)


# --------------------------------------------------------------------------- revocation


def _crl(root: Path) -> x509.CertificateRevocationList:
    return pki.load_crl(pki.CaFolder(root).crl)


def _crl_number(crl: x509.CertificateRevocationList) -> int:
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


def test_revoke_marks_the_index_and_signs_a_new_crl(ca_root: Path, openssl: str) -> None:
    """revoke records status, time and reason, and crl.pem lists the serial; openssl agrees."""
    pki.issue_client(ca_root, "alice")
    pki.issue_client(ca_root, "bob")
    folder = pki.CaFolder(ca_root)
    alice = pki.load_certificate(folder.client_cert("alice"))
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)

    done = pki.revoke(ca_root, "alice", reason="keyCompromise")

    assert (done.entry.name, done.entry.status, done.entry.reason) == (
        "alice",
        "revoked",
        "keyCompromise",
    )
    assert done.entry.revoked_at is not None
    assert dt.datetime.fromisoformat(done.entry.revoked_at) >= before
    assert [(w.path, w.action) for w in done.written] == [
        (folder.crl, "updated"),
        (folder.index, "updated"),
    ]
    assert [e.status for e in pki.read_index(ca_root)] == ["valid", "revoked", "valid"]
    crl = _crl(ca_root)
    ca = pki.load_certificate(folder.ca_cert)
    assert crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
    assert _crl_number(crl) == 2
    assert [entry.serial_number for entry in crl] == [alice.serial_number]
    entry = crl.get_revoked_certificate_by_serial_number(alice.serial_number)
    assert entry is not None
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason is x509.ReasonFlags.key_compromise
    assert crl.next_update_utc is not None
    assert crl.next_update_utc - crl.last_update_utc == dt.timedelta(days=30)
    crl_args = ("-crl_check", "-CRLfile", str(folder.crl))
    revoked = _verify(openssl, ca_root, folder.client_cert("alice"), "sslclient", *crl_args)
    kept = _verify(openssl, ca_root, folder.client_cert("bob"), "sslclient", *crl_args)
    assert revoked.returncode != 0
    assert "certificate revoked" in revoked.stdout + revoked.stderr
    assert kept.returncode == 0, kept.stderr


def test_unspecified_reason_is_left_out_of_the_crl(ca_root: Path) -> None:
    """The default reason is recorded in the index but, per RFC 5280, not on the CRL."""
    pki.issue_client(ca_root, "alice")

    done = pki.revoke(ca_root, "alice")

    assert done.entry.reason == "unspecified"
    (entry,) = list(_crl(ca_root))
    with pytest.raises(x509.ExtensionNotFound):
        entry.extensions.get_extension_for_class(x509.CRLReason)


def _colons(hex_digits: str) -> str:
    """Hex digits in colon-separated pairs, as openssl prints serials and fingerprints."""
    even = hex_digits.zfill(len(hex_digits) + len(hex_digits) % 2)
    return ":".join(even[i : i + 2] for i in range(0, len(even), 2))


@pytest.mark.parametrize(
    "form",
    ["name", "hex", "HEX:WITH:COLONS", "decimal", "fingerprint", "FP:COLONS", "short"],
)
def test_find_certificate_by_every_form(ca_root: Path, form: str) -> None:
    """A name, a serial (hex, colons, decimal) or a fingerprint (full, colons, short) finds it."""
    pki.issue_client(ca_root, "alice")
    pki.issue_client(ca_root, "bob")
    alice = pki.read_index(ca_root)[1]
    serial = alice.serial
    fingerprint = alice.fingerprint
    which = {
        "name": "alice",
        "hex": serial,
        "HEX:WITH:COLONS": _colons(serial).upper(),
        "decimal": str(int(serial, 16)),
        "fingerprint": fingerprint,
        "FP:COLONS": _colons(fingerprint).upper(),
        "short": fingerprint[:16],
    }[form]

    assert pki.find_certificate(ca_root, which) == alice


def test_a_name_means_its_current_certificate(ca_root: Path) -> None:
    """Of an expired and a current certificate of one name, the name finds the current one."""
    now = dt.datetime.now(dt.UTC)
    pki.issue_client(
        ca_root,
        "alice",
        not_before=now - dt.timedelta(days=9),
        not_after=now - dt.timedelta(days=1),
    )
    pki.issue_client(ca_root, "alice", force=True)
    old, current = pki.read_index(ca_root)[1:]

    assert pki.find_certificate(ca_root, "alice") == current
    assert pki.find_certificate(ca_root, old.serial) == old


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("nobody", "no certificate named 'nobody'"),
        ("", "say which certificate"),
        ("0123456789abcdef", "no certificate named"),
    ],
)
def test_revoke_of_an_unknown_certificate_changes_nothing(
    ca_root: Path, which: str, message: str
) -> None:
    """An unknown name, serial or fingerprint raises PKIError and leaves index and CRL alone."""
    pki.issue_client(ca_root, "alice")
    before = _snapshot(ca_root)

    with pytest.raises(PKIError, match=message):
        pki.revoke(ca_root, which)

    assert _snapshot(ca_root) == before


def test_revoking_twice_says_already_revoked(ca_root: Path) -> None:
    """Revoking a revoked certificate, by name or serial, says so and changes nothing."""
    pki.issue_client(ca_root, "alice")
    done = pki.revoke(ca_root, "alice")
    before = _snapshot(ca_root)

    with pytest.raises(PKIError, match="already revoked"):
        pki.revoke(ca_root, "alice")
    with pytest.raises(PKIError, match="already revoked on"):
        pki.revoke(ca_root, done.entry.serial)

    assert _snapshot(ca_root) == before


def test_revoke_the_server_certificate(ca_root: Path) -> None:
    """The server certificate can be revoked too (a stolen server key)."""
    server = pki.load_certificate(pki.CaFolder(ca_root).server_cert)

    done = pki.revoke(ca_root, "chatserver", reason="keyCompromise")

    assert (done.entry.kind, done.entry.status) == ("server", "revoked")
    assert [e.serial_number for e in _crl(ca_root)] == [server.serial_number]


def test_a_revoked_name_can_be_issued_again(ca_root: Path) -> None:
    """After revoke, issue replaces the revoked files without force and the index keeps both."""
    pki.issue_client(ca_root, "alice")
    old = pki.load_certificate(pki.CaFolder(ca_root).client_cert("alice"))
    pki.revoke(ca_root, "alice")

    written = pki.issue_client(ca_root, "alice")

    assert [w.action for w in written] == ["replaced", "replaced", "updated"]
    assert written[0].note == "the previous certificate was revoked"
    new = pki.load_certificate(pki.CaFolder(ca_root).client_cert("alice"))
    assert new.serial_number != old.serial_number
    assert [(e.name, e.status) for e in pki.read_index(ca_root)][1:] == [
        ("alice", "revoked"),
        ("alice", "valid"),
    ]
    assert _mode(pki.CaFolder(ca_root).client_key("alice")) == 0o600


def test_crl_renewal_changes_only_dates_and_number(ca_root: Path) -> None:
    """renew_crl keeps the serials, raises the number, sets next update and leaves the index."""
    pki.issue_client(ca_root, "alice")
    pki.revoke(ca_root, "alice", reason="superseded")
    before = _crl(ca_root)
    index = pki.CaFolder(ca_root).index.read_bytes()

    written = pki.renew_crl(ca_root, days=90)

    after = _crl(ca_root)
    assert [(w.path.name, w.action) for w in written] == [("crl.pem", "updated")]
    assert "1 revoked, next update" in written[0].note
    assert _crl_number(after) == _crl_number(before) + 1
    assert [(e.serial_number, e.revocation_date_utc) for e in after] == [
        (e.serial_number, e.revocation_date_utc) for e in before
    ]
    (entry,) = list(after)
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is (
        x509.ReasonFlags.superseded
    )
    assert after.next_update_utc is not None
    assert after.next_update_utc - after.last_update_utc == dt.timedelta(days=90)
    assert pki.CaFolder(ca_root).index.read_bytes() == index


def test_crl_never_forgets_a_revocation(ca_root: Path) -> None:
    """A serial on crl.pem stays there even if the index lost its revocation (a failed write)."""
    pki.issue_client(ca_root, "alice")
    serial = pki.revoke(ca_root, "alice").entry.serial_number
    folder = pki.CaFolder(ca_root)
    document = json.loads(folder.index.read_text())
    document["entries"][1]["status"] = "valid"
    folder.index.write_text(json.dumps(document))

    pki.renew_crl(ca_root)
    pki.issue_client(ca_root, "bob")
    pki.revoke(ca_root, "bob")

    assert serial in {e.serial_number for e in _crl(ca_root)}
    assert len(_crl(ca_root)) == 2


def test_a_damaged_crl_stops_revoke_until_it_is_moved_aside(ca_root: Path) -> None:
    """A damaged crl.pem is never silently replaced; moved aside, crl rebuilds it from the index."""
    pki.issue_client(ca_root, "alice")
    pki.issue_client(ca_root, "bob")
    pki.revoke(ca_root, "bob")
    folder = pki.CaFolder(ca_root)
    number = _crl_number(_crl(ca_root))
    folder.crl.write_text("garbage\n")
    index = folder.index.read_bytes()

    with pytest.raises(PKIError, match="move it aside, then run `rtchat-certs crl"):
        pki.revoke(ca_root, "alice")

    assert folder.index.read_bytes() == index
    folder.crl.rename(ca_root / "crl.pem.damaged")
    written = pki.renew_crl(ca_root)
    assert [(w.path, w.action) for w in written] == [(folder.crl, "wrote")]
    rebuilt = _crl(ca_root)
    bob = pki.read_index(ca_root)[2]
    assert [e.serial_number for e in rebuilt] == [bob.serial_number]
    assert _crl_number(rebuilt) > number


def test_a_crl_of_another_ca_is_refused(ca_root: Path, tmp_path: Path) -> None:
    """A crl.pem signed by another CA stops revoke instead of being replaced."""
    other = tmp_path / "other"
    pki.init_ca(other, "chatserver")
    shutil.copy(pki.CaFolder(other).crl, pki.CaFolder(ca_root).crl)
    pki.issue_client(ca_root, "alice")

    with pytest.raises(PKIError, match="is not signed by"):
        pki.revoke(ca_root, "alice")

    assert pki.read_index(ca_root)[1].status == "valid"


def test_load_crl_reads_pem_and_der(ca_root: Path, tmp_path: Path) -> None:
    """load_crl reads the PEM crl.pem and the same CRL as DER."""
    crl = _crl(ca_root)
    der = tmp_path / "crl.der"
    der.write_bytes(crl.public_bytes(serialization.Encoding.DER))

    assert pki.load_crl(der) == crl
    assert crl.issuer == pki.load_certificate(pki.CaFolder(ca_root).ca_cert).subject


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello\n", r"not a certificate revocation list \(neither PEM nor DER\)$"),
        (b"-----BEGIN X509 CRL-----\nxx\n", "a damaged CRL"),
    ],
)
def test_load_crl_rejects_other_files(tmp_path: Path, content: bytes, message: str) -> None:
    """load_crl raises PKIError naming the file for text or a damaged CRL."""
    path = tmp_path / "thing.pem"
    path.write_bytes(content)

    with pytest.raises(PKIError, match=message) as caught:
        pki.load_crl(path)

    assert str(caught.value).startswith(str(path))


def test_load_crl_of_a_certificate_or_missing_file(ca_root: Path, tmp_path: Path) -> None:
    """A certificate given as CRL, or a missing file, raises PKIError that says what it is."""
    with pytest.raises(PKIError, match=r"\(it holds a certificate\)"):
        pki.load_crl(pki.CaFolder(ca_root).ca_cert)
    with pytest.raises(PKIError, match=r"cannot read .*nothere\.pem"):
        pki.load_crl(tmp_path / "nothere.pem")


# --------------------------------------------------------------------------- server folders


def test_server_bundle_copies_what_a_server_needs(ca_root: Path, tmp_path: Path) -> None:
    """server_bundle copies ca.crt, server.crt, server.key (0600), crl.pem, never ca.key."""
    out = tmp_path / "server"
    folder = pki.CaFolder(ca_root)

    written = pki.server_bundle(ca_root, out)

    assert [(w.path.name, w.action) for w in written] == [
        ("ca.crt", "wrote"),
        ("server.crt", "wrote"),
        ("server.key", "wrote"),
        ("crl.pem", "wrote"),
    ]
    assert sorted(p.name for p in out.iterdir()) == [
        "ca.crt",
        "crl.pem",
        "server.crt",
        "server.key",
    ]
    for name in ("ca.crt", "server.crt", "server.key", "crl.pem"):
        assert (out / name).read_bytes() == (ca_root / name).read_bytes()
    assert _mode(out) == 0o700
    assert _mode(out / "server.key") == 0o600
    assert _mode(out / "crl.pem") == 0o644
    pki.issue_client(ca_root, "alice")
    context = _client_context(
        folder.ca_cert, folder.client_cert("alice"), folder.client_key("alice")
    )
    assert _handshake(pki.CaFolder(out), context, "localhost").client_got == b"ok"


def test_server_bundle_again_needs_force_only_for_what_changed(
    ca_root: Path, tmp_path: Path
) -> None:
    """A rerun leaves identical files; a new crl.pem is refused without force, replaced with it."""
    out = tmp_path / "server"
    pki.server_bundle(ca_root, out)

    again = pki.server_bundle(ca_root, out)
    pki.renew_crl(ca_root)
    with pytest.raises(PKIError, match=r"crl\.pem already exists; refusing to overwrite it"):
        pki.server_bundle(ca_root, out)
    forced = pki.server_bundle(ca_root, out, force=True)

    assert [w.action for w in again] == ["unchanged"] * 4
    assert [w.action for w in forced] == ["unchanged", "unchanged", "unchanged", "replaced"]
    assert (out / "crl.pem").read_bytes() == pki.CaFolder(ca_root).crl.read_bytes()


def test_server_bundle_refusals(ca_root: Path, tmp_path: Path) -> None:
    """No bundle into the CA folder, into a folder with a ca.key, or from a mismatched pair."""
    holder = tmp_path / "holder"
    holder.mkdir(mode=0o700)
    (holder / "ca.key").write_text("someone's key\n")
    folder = pki.CaFolder(ca_root)

    with pytest.raises(PKIError, match="is the CA folder itself"):
        pki.server_bundle(ca_root, ca_root)
    with pytest.raises(PKIError, match=r"holds a ca\.key"):
        pki.server_bundle(ca_root, holder)
    folder.server_key.unlink()
    folder.server_key.write_bytes(folder.ca_key.read_bytes())
    with pytest.raises(PKIError, match=r"server\.key is not the key of"):
        pki.server_bundle(ca_root, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in holder.iterdir()) == ["ca.key"]


def test_server_bundle_without_a_crl_says_how_to_make_one(ca_root: Path, tmp_path: Path) -> None:
    """A CA folder without crl.pem gets an error naming `rtchat-certs crl`."""
    pki.CaFolder(ca_root).crl.unlink()

    with pytest.raises(PKIError, match="make one with `rtchat-certs crl --dir"):
        pki.server_bundle(ca_root, tmp_path / "out")

    assert not (tmp_path / "out").exists()


def test_server_certificate_renewal_needs_force_and_keeps_names(
    ca_root: Path, openssl: str
) -> None:
    """Renewing server.crt in the CA folder needs force and keeps the old SANs."""
    folder = pki.CaFolder(ca_root)
    old = pki.load_certificate(folder.server_cert)
    before = _snapshot(ca_root)

    with pytest.raises(PKIError, match="pass --force to replace it: a renewal"):
        pki.issue_server_certificate(ca_root, "chatserver")
    assert _snapshot(ca_root) == before
    written = pki.issue_server_certificate(ca_root, "chatserver", force=True)

    assert [(w.path, w.action) for w in written] == [
        (folder.server_key, "replaced"),
        (folder.server_cert, "replaced"),
        (folder.index, "updated"),
    ]
    assert written[1].note == "names: chatserver, localhost, 127.0.0.1, ::1"
    new = pki.load_certificate(folder.server_cert)
    assert new.serial_number != old.serial_number
    san = new.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san == old.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert _mode(folder.server_key) == 0o600
    assert [e.kind for e in pki.read_index(ca_root)] == ["server", "server"]
    assert _verify(openssl, ca_root, folder.server_cert, "sslserver").returncode == 0


def test_server_certificate_for_another_host(ca_root: Path, tmp_path: Path) -> None:
    """server-cert --out makes a complete server folder for another name that TLS accepts."""
    out = tmp_path / "host2"
    folder = pki.CaFolder(ca_root)

    written = pki.issue_server_certificate(ca_root, "chat2.example", ["10.0.0.9"], out_dir=out)

    assert [(w.path.name, w.action) for w in written] == [
        ("server.key", "wrote"),
        ("server.crt", "wrote"),
        ("ca.crt", "wrote"),
        ("crl.pem", "wrote"),
        ("index.json", "updated"),
    ]
    assert sorted(p.name for p in out.iterdir()) == [
        "ca.crt",
        "crl.pem",
        "server.crt",
        "server.key",
    ]
    assert _mode(out / "server.key") == 0o600
    assert (out / "crl.pem").read_bytes() == folder.crl.read_bytes()
    assert pki.load_certificate(folder.server_cert) != pki.load_certificate(out / "server.crt")
    pki.issue_client(ca_root, "alice")
    context = _client_context(
        folder.ca_cert, folder.client_cert("alice"), folder.client_key("alice")
    )
    assert _handshake(pki.CaFolder(out), context, "chat2.example").client_got == b"ok"
    refused = _handshake(pki.CaFolder(out), context, "chatserver")
    assert isinstance(refused.client_error, ssl.SSLCertVerificationError)


# --------------------------------------------------------------------------- status


def _entry(not_after: dt.datetime, status: str = "valid") -> pki.IndexEntry:
    return pki.IndexEntry(
        name="x",
        serial="1",
        fingerprint="0" * 64,
        not_after=not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
        kind="client",
        status=status,
    )


@pytest.mark.parametrize(
    ("left", "status", "expected"),
    [
        (dt.timedelta(days=31), "valid", "valid"),
        (dt.timedelta(days=30), "valid", "expiring soon"),
        (dt.timedelta(hours=1), "valid", "expiring soon"),
        (dt.timedelta(0), "valid", "expired"),
        (dt.timedelta(days=-1), "valid", "expired"),
        (dt.timedelta(days=300), "revoked", "revoked"),
        (dt.timedelta(days=-1), "revoked", "revoked"),
    ],
)
def test_certificate_status(left: dt.timedelta, status: str, expected: pki.Status) -> None:
    """Status is revoked, expired, expiring soon (30 days or less) or valid."""
    now = dt.datetime(2030, 6, 1, 12, 0, tzinfo=dt.UTC)

    assert pki.certificate_status(_entry(now + left, status), now) == expected


def test_list_certificates_gives_each_status(ca_root: Path) -> None:
    """list_certificates pairs every index entry with its status, oldest first."""
    now = dt.datetime.now(dt.UTC)
    pki.issue_client(ca_root, "valid")
    pki.issue_client(ca_root, "soon", days=10)
    pki.issue_client(
        ca_root, "old", not_before=now - dt.timedelta(days=5), not_after=now - dt.timedelta(days=1)
    )
    pki.issue_client(ca_root, "gone")
    pki.revoke(ca_root, "gone")

    rows = pki.list_certificates(ca_root)

    assert [(entry.name, status) for entry, status in rows] == [
        ("chatserver", "valid"),
        ("valid", "valid"),
        ("soon", "expiring soon"),
        ("old", "expired"),
        ("gone", "revoked"),
    ]


# --------------------------------------------------------------------------- describing


@pytest.fixture
def seed_cert(tmp_path: Path, openssl: str) -> Path:
    """A certificate made with the seed's exact openssl recipe (RSA 4096, self-signed, CN=alice)."""
    out = tmp_path / "seed"
    out.mkdir()
    subprocess.run(
        [
            openssl,
            "req",
            "-newkey",
            "rsa:4096",
            "-x509",
            "-sha256",
            "-days",
            "365",
            "-nodes",
            "-subj",
            "/CN=alice",
            "-out",
            str(out / "alice.crt"),
            "-keyout",
            str(out / "alice.key"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out / "alice.crt"


def test_describe_explains_the_seed_certificate(seed_cert: Path, openssl: str) -> None:
    """The seed's openssl certificate is a self-signed one that can be pinned, with no warnings."""
    info = pki.describe_file(seed_cert)

    assert info.kind == "certificate"
    assert info.summary == "a self-signed certificate"
    assert info.warnings == []
    fields = dict(info.fields)
    assert fields["subject"] == "CN=alice"
    assert fields["issuer"] == "CN=alice (itself: self-signed)"
    assert fields["SANs"] == "none"
    assert fields["EKUs"] == "none (any purpose)"
    assert fields["key"] == "RSA 4096 bits"
    assert fields["CA"].startswith("CA:TRUE, without a key usage")
    from_openssl = (
        subprocess.run(
            [openssl, "x509", "-in", str(seed_cert), "-noout", "-fingerprint", "-sha256"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        .stdout.strip()
        .split("=", 1)[1]
        .replace(":", "")
        .lower()
    )
    assert fields["SHA-256"] == from_openssl
    text = " ".join(info.notes)
    assert "trusted by pinning" in text
    assert "chat name is 'alice'" in text
    assert "clients connect with --cn alice" in text
    assert info.checked_against is None


def test_describe_seed_certificate_for_a_mismatched_name(seed_cert: Path) -> None:
    """Checked for another --cn, the seed certificate gets a name-mismatch warning."""
    matching = pki.describe_file(seed_cert, server_name="alice")
    other = pki.describe_file(seed_cert, server_name="chatserver")

    assert matching.warnings == []
    assert len(other.warnings) == 1
    assert "not valid for 'chatserver' (its names: CN 'alice')" in other.warnings[0]


def test_describe_a_client_certificate_in_its_ca_folder(ca_root: Path) -> None:
    """An issued client certificate is checked against the CA folder it lies in."""
    pki.issue_client(ca_root, "alice")
    folder = pki.CaFolder(ca_root)

    info = pki.describe_file(folder.client_cert("alice"))

    assert info.summary == "a client certificate issued by CN=realtimechat CA (chatserver)"
    assert info.checked_against == ca_root.resolve()
    assert info.warnings == []
    assert f"issued by the CA of {ca_root.resolve()}" in info.notes
    assert dict(info.fields)["EKUs"] == "clientAuth"


def test_describe_warns_about_a_revoked_certificate(ca_root: Path) -> None:
    """A certificate on the CA's crl.pem gets a warning that servers refuse it after SIGHUP."""
    pki.issue_client(ca_root, "alice")
    pki.revoke(ca_root, "alice", reason="keyCompromise")

    info = pki.describe_file(pki.CaFolder(ca_root).client_cert("alice"))

    assert len(info.warnings) == 1
    assert "it is revoked (on " in info.warnings[0]
    assert "keyCompromise" in info.warnings[0]
    assert "SIGHUP" in info.warnings[0]


def test_describe_warns_about_expiry(ca_root: Path) -> None:
    """An expired certificate and one expiring in ten days each get their warning."""
    now = dt.datetime.now(dt.UTC)
    pki.issue_client(
        ca_root, "old", not_before=now - dt.timedelta(days=5), not_after=now - dt.timedelta(days=1)
    )
    pki.issue_client(ca_root, "soon", days=10)
    folder = pki.CaFolder(ca_root)

    old = pki.describe_file(folder.client_cert("old"))
    soon = pki.describe_file(folder.client_cert("soon"))

    assert len(old.warnings) == 1
    assert old.warnings[0].startswith("expired on ")
    assert old.warnings[0].endswith(": every TLS peer refuses it")
    assert len(soon.warnings) == 1
    assert soon.warnings[0].startswith("expires in 10 days (")


def test_describe_server_certificate_used_as_a_client(ca_root: Path) -> None:
    """Checked for client use, the server certificate warns: no clientAuth."""
    server = pki.CaFolder(ca_root).server_cert

    as_server = pki.describe_file(server)
    as_client = pki.describe_file(server, role="client")

    assert as_server.warnings == []
    assert as_server.notes == [
        "as a server certificate, clients connect with --cn chatserver or localhost or "
        "127.0.0.1 or ::1",
        f"issued by the CA of {ca_root.resolve()}",
    ]
    assert as_client.warnings == [
        "no clientAuth in its extended key usage: the server refuses it as a client certificate"
    ]


def test_describe_a_certificate_of_another_ca(ca_root: Path, tmp_path: Path) -> None:
    """Checked against a CA folder it does not come from, a CA-issued certificate gets a warning."""
    other = tmp_path / "other"
    pki.init_ca(other, "chatserver")
    pki.issue_client(other, "mallory")

    info = pki.describe_file(pki.CaFolder(other).client_cert("mallory"), folder=ca_root)

    assert info.checked_against == ca_root
    assert len(info.warnings) == 1
    assert "not issued by the CA of" in info.warnings[0]


def test_describe_warns_about_a_missing_aki_and_a_bad_chat_name(
    ca_root: Path, tmp_path: Path
) -> None:
    """A CA-issued certificate without AKI and with a 40-character CN gets both warnings."""
    folder = pki.CaFolder(ca_root)
    ca = pki.load_certificate(folder.ca_cert)
    ca_key = pki.load_private_key(folder.ca_key)
    key = pki.generate_key()
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_cn_name("x" * 40))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=100))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    path = tmp_path / "noaki.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    info = pki.describe_file(path)

    assert len(info.warnings) == 2
    assert "no Authority Key Identifier" in info.warnings[0]
    assert "cannot be a chat name" in info.warnings[1]
    assert "--names claim" in info.warnings[1]


def test_describe_a_csr(ca_root: Path, tmp_path: Path) -> None:
    """A CSR shows its key fingerprint; checked against a CA with that name issued, it warns."""
    made = pki.create_request(tmp_path / "user", "alice")

    fresh = pki.describe_file(made.csr, folder=ca_root)
    pki.issue_client(ca_root, "alice")
    taken = pki.describe_file(made.csr, folder=ca_root)

    assert fresh.kind == "certificate signing request"
    assert fresh.summary == "a certificate signing request for CN=alice"
    assert dict(fresh.fields)["public key SHA-256"] == pki.format_fingerprint(made.fingerprint)
    assert dict(fresh.fields)["signature"] == "valid"
    assert fresh.warnings == []
    assert len(taken.warnings) == 1
    assert "'alice' already has a certificate that is not revoked" in taken.warnings[0]


def test_describe_a_forged_csr(tmp_path: Path) -> None:
    """A CSR whose signature fails is described, with a warning that sign refuses it."""
    good = _csr(pki.generate_key(), _cn_name("alice")).public_bytes(serialization.Encoding.PEM)
    forged = tmp_path / "forged.csr"
    csr = x509.load_pem_x509_csr(good)
    forged.write_bytes(csr.public_bytes(serialization.Encoding.DER).replace(b"alice", b"mallo"))

    info = pki.describe_file(forged)

    assert dict(info.fields)["signature"] == "does NOT verify"
    assert info.warnings == [
        "its signature does not verify (damaged, or not made with its key): sign refuses it"
    ]


def test_describe_a_crl(ca_root: Path) -> None:
    """A CRL shows number, dates and each revoked serial with the name the index knows."""
    pki.issue_client(ca_root, "alice")
    serial = pki.revoke(ca_root, "alice", reason="keyCompromise").entry.serial

    info = pki.describe_file(pki.CaFolder(ca_root).crl)

    assert (
        info.summary
        == "a certificate revocation list of CN=realtimechat CA (chatserver), 1 revoked"
    )
    fields = info.fields
    assert ("CRL number", "2") in fields
    assert ("revoked", "1") in fields
    listed = [value for label, value in fields if label.strip() == "serial"]
    assert len(listed) == 1
    assert listed[0].startswith(f"{serial} (alice) on ")
    assert listed[0].endswith(", keyCompromise")
    assert info.warnings == []
    assert f"signed by the CA of {ca_root.resolve()}" in info.notes


def test_describe_a_stale_crl(ca_root: Path, tmp_path: Path) -> None:
    """A CRL past its next update, and one due within a week, each get a warning naming `crl`."""
    folder = pki.CaFolder(ca_root)
    ca = pki.load_certificate(folder.ca_cert)
    ca_key = pki.load_private_key(folder.ca_key)
    now = dt.datetime.now(dt.UTC)

    def crl_until(next_update: dt.datetime, name: str) -> Path:
        crl = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca.subject)
            .last_update(now - dt.timedelta(days=40))
            .next_update(next_update)
            .sign(ca_key, hashes.SHA256())
        )
        path = tmp_path / name
        path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        return path

    stale = pki.describe_file(crl_until(now - dt.timedelta(days=1), "stale.pem"))
    due = pki.describe_file(crl_until(now + dt.timedelta(days=3), "due.pem"))
    fine = pki.describe_file(crl_until(now + dt.timedelta(days=20), "fine.pem"))

    assert len(stale.warnings) == 1
    assert "past its next update" in stale.warnings[0]
    assert "rtchat-certs crl" in stale.warnings[0]
    assert len(due.warnings) == 1
    assert due.warnings[0].startswith("its next update is in 3 days (")
    assert fine.warnings == []
    assert stale.checked_against is None


def test_describe_reads_der_and_refuses_keys(ca_root: Path, tmp_path: Path) -> None:
    """A DER certificate is described; a private key is refused with one line saying what it is."""
    der = tmp_path / "server.der"
    der.write_bytes(
        pki.load_certificate(pki.CaFolder(ca_root).server_cert).public_bytes(
            serialization.Encoding.DER
        )
    )

    info = pki.describe_file(der)

    assert info.summary.startswith("a server certificate issued by")
    with pytest.raises(PKIError, match=r"is not a certificate, .* \(it holds a private key\)"):
        pki.describe_file(pki.CaFolder(ca_root).server_key)
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x00\x01binary")
    with pytest.raises(
        PKIError, match=r"is not a certificate, a certificate signing request or a CRL"
    ):
        pki.describe_file(garbage)


def test_describe_escapes_hostile_names(tmp_path: Path) -> None:
    """Terminal escapes in a subject are shown escaped, never passed through."""
    key = pki.generate_key()
    name = _cn_name("evil\x1b]0;pwned\x07")
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=100))
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "evil.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    info = pki.describe_file(path)

    assert "\x1b" not in info.summary + "".join(v for _, v in info.fields) + "".join(info.notes)
    assert "\\x1b" in dict(info.fields)["subject"]
    assert "\x07" not in "".join(info.warnings)


def test_describe_with_a_damaged_crl_still_explains(ca_root: Path) -> None:
    """A damaged crl.pem beside an issued certificate is a warning, not a failure of show."""
    pki.issue_client(ca_root, "alice")
    folder = pki.CaFolder(ca_root)
    folder.crl.write_text("damaged\n")

    info = pki.describe_file(folder.client_cert("alice"))

    assert info.summary.startswith("a client certificate issued by")
    assert len(info.warnings) == 1
    assert "revocation could not be checked" in info.warnings[0]
    assert str(folder.crl.resolve()) in info.warnings[0]
