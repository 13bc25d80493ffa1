"""Certificates from realtimechat.pki in real mutual TLS on loopback.

A server and a client ``ssl`` context with strict verification (X509_STRICT)
shake hands over 127.0.0.1; what each side saw or refused is checked. The
unit tests of the same package are in tests/unit/pki/.
"""

from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509

from realtimechat import pki

from ..support import cn_of, mode_of, openssl_verify

STRICT = ssl.VERIFY_X509_STRICT | ssl.VERIFY_X509_PARTIAL_CHAIN
TIMEOUT = 10.0


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
    assert cn_of(seen) == "alice"
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

    assert openssl_verify(openssl, root, folder.server_cert, "sslserver").returncode == 0
    assert openssl_verify(openssl, root, folder.client_cert("alice"), "sslclient").returncode == 0
    context = _client_context(
        folder.ca_cert, folder.client_cert("alice"), folder.client_key("alice")
    )
    outcome = _handshake(folder, context, "chatserver")
    assert outcome.client_got == b"ok", outcome


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
    assert cn_of(x509.load_der_x509_certificate(outcome.server_saw_cert)) == "alice"


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
    assert mode_of(out) == 0o700
    assert mode_of(out / "server.key") == 0o600
    assert mode_of(out / "crl.pem") == 0o644
    pki.issue_client(ca_root, "alice")
    context = _client_context(
        folder.ca_cert, folder.client_cert("alice"), folder.client_key("alice")
    )
    assert _handshake(pki.CaFolder(out), context, "localhost").client_got == b"ok"


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
    assert mode_of(out / "server.key") == 0o600
    assert (out / "crl.pem").read_bytes() == folder.crl.read_bytes()
    assert pki.load_certificate(folder.server_cert) != pki.load_certificate(out / "server.crt")
    pki.issue_client(ca_root, "alice")
    context = _client_context(
        folder.ca_cert, folder.client_cert("alice"), folder.client_key("alice")
    )
    assert _handshake(pki.CaFolder(out), context, "chat2.example").client_got == b"ok"
    refused = _handshake(pki.CaFolder(out), context, "chatserver")
    assert isinstance(refused.client_error, ssl.SSLCertVerificationError)
