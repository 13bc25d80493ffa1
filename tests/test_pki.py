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
from cryptography.hazmat.primitives import serialization
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


def _client_context(ca_cert: Path, cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and hostname checks
    context.verify_flags |= STRICT
    context.load_verify_locations(cafile=ca_cert)
    context.load_cert_chain(cert, key)
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

    written = pki.init_ca(root, "chatserver")

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

    assert written == [folder.client_key("alice"), folder.client_cert("alice"), folder.index]
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
    """Issuing a name twice raises PKIError and leaves key, certificate and index alone."""
    pki.issue_client(ca_root, "alice")
    before = _snapshot(ca_root)

    with pytest.raises(PKIError, match=r"alice\.key already exists"):
        pki.issue_client(ca_root, "alice")

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
