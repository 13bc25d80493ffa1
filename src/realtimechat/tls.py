"""The one place where SSLContexts are built, and what TLS errors mean.

Policy (docs/security.md explains each choice):

* TLS 1.2 or newer; TLS 1.2 only with ECDHE key exchange and AEAD ciphers
  (AES-GCM, ChaCha20-Poly1305); TLS 1.3 with OpenSSL's suites. No
  compression, no renegotiation.
* Key-exchange groups X25519 and P-256, on both sides (see
  ``KEY_EXCHANGE_GROUPS``).
* No session resumption: every connection is a full handshake (and it is
  cheaper), see ``_refuse_resumption``.
* Both sides authenticate. The server requires a client certificate
  (``CERT_REQUIRED`` set explicitly: ``create_default_context`` for
  ``CLIENT_AUTH`` would leave ``CERT_NONE``).
* ``VERIFY_X509_STRICT`` and ``VERIFY_X509_PARTIAL_CHAIN`` are on, as
  Python 3.13 turns them on by default: certificates that pass here keep
  passing there, and a bundle may pin a CA-issued leaf directly.
* Trust anchors are CA certificates (``--ca``) and pinned certificates
  (``--pins``), including self-signed ones made by ``openssl req -x509``
  (the seed's recipe). OpenSSL is given both as anchors and only checks the
  chain; which certificate may vouch for which is decided by the server
  after the handshake (server/trust.py): a pinned certificate admits itself
  and never the certificates it signs. OpenSSL's CRL flags are never set:
  revocation is checked by the server too (they would reject every pinned
  self-signed client, and every client once the CRL's next-update passes).
* A server may refuse TLS 1.2 (``tls13_only``): in TLS 1.2 the client's
  certificate, and so its user's name, crosses the network in clear.
* The client checks the server's name against ``--cn``, in the
  subjectAltName or, for certificates without one, in the subject CN.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from . import sslctx
from .errors import ConfigError, PKIError
from .pki.load import pem_kind
from .sslctx import NativeContext

# ECDHE + AEAD for TLS 1.2. TLS 1.3 suites are configured separately by
# OpenSSL and are all AEAD.
TLS12_CIPHERS: Final = "ECDHE+AESGCM:ECDHE+CHACHA20"

# Key-exchange groups, for TLS 1.2 and 1.3 alike: X25519 first, P-256 as
# well. OpenSSL's default list also offers X448 and P-521, which fail
# Mozilla's "intermediate" profile. Why both, measured on OpenSSL 3.0
# (docs/security.md has the tables):
# * X25519 is what most clients send their first key share for; a server
#   without it answers with a HelloRetryRequest, an extra round trip, and
#   P-256 key exchange costs more CPU (docs/security.md: handshakes/s).
# * P-256 must stay: in TLS 1.2 the group list also decides which ECDSA
#   certificates are usable, so without P-256 a P-256 certificate
#   (rtchat-certs' default key) fails TLS 1.2 outright (WRONG_CURVE); and it
#   is the one group every TLS 1.3 peer must implement (RFC 8446 9.1).
# Python 3.15 has set_groups(). Before it, set_ecdh_curve() keeps exactly one
# group, so _set_groups() calls OpenSSL's SSL_CTX_set1_groups_list on the
# context's SSL_CTX, at the address OpenSSL reported creating (sslctx.py); where
# there is none, the context falls back to P-256 alone: correct, just slower.
KEY_EXCHANGE_GROUPS: Final = "X25519:P-256"
FALLBACK_GROUP: Final = "prime256v1"

# From OpenSSL's ssl.h: SSL_CTX_set1_groups_list and
# SSL_CTX_set_session_cache_mode are macros over SSL_CTX_ctrl.
_SSL_CTRL_SET_SESS_CACHE_MODE: Final = 44
_SSL_CTRL_GET_SESS_CACHE_MODE: Final = 45
_SSL_CTRL_SET_GROUPS_LIST: Final = 92
_SSL_SESS_CACHE_OFF: Final = 0

log = logging.getLogger("realtimechat.tls")


class _OncePerProcess:
    """A warning logged the first time it applies, and never again in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logged = False

    def warn(self, message: str, *args: object) -> None:
        with self._lock:
            if self._logged:
                return
            self._logged = True
        log.warning(message, *args)


_NATIVE_FALLBACK: Final = _OncePerProcess()


def _fall_back(native: NativeContext | str, what: str) -> None:
    """Say, once per process, that a setting fell back and why (``native`` is the reason)."""
    _NATIVE_FALLBACK.warn(
        "TLS: %s (%s; this warning is logged once, docs/security.md has what falls back)",
        what,
        native,
    )


def _set_groups(context: ssl.SSLContext, native: NativeContext | str, groups: str) -> bool:
    """Offer and accept exactly ``groups`` (OpenSSL's list syntax); False if not done."""
    set_groups = getattr(context, "set_groups", None)  # Python 3.15+
    if set_groups is not None:
        try:
            set_groups(groups)
        except (ssl.SSLError, ValueError):
            return False
        return True
    if isinstance(native, str):
        return False
    return native.control(_SSL_CTRL_SET_GROUPS_LIST, 0, groups.encode("ascii")) == 1


def _turn_off_session_cache(native: NativeContext | str) -> bool:
    """SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF); False if not done."""
    if isinstance(native, str):
        return False
    native.control(_SSL_CTRL_SET_SESS_CACHE_MODE, _SSL_SESS_CACHE_OFF, None)
    return native.control(_SSL_CTRL_GET_SESS_CACHE_MODE, 0, None) == _SSL_SESS_CACHE_OFF


# OpenSSL verify result for a name that does not match (X509_V_ERR_HOSTNAME_MISMATCH).
_X509_V_ERR_HOSTNAME_MISMATCH: Final = 62
_X509_V_ERR_IP_ADDRESS_MISMATCH: Final = 64

PassphraseCallback = Callable[[], str | bytes]


@dataclass(frozen=True, slots=True)
class ServerFiles:
    """What a server presents, whom it trusts, and whom it no longer does.

    ``ca`` holds CA certificates, which admit the certificates they issue;
    ``pins`` pinned certificates, each admitting its holder and nobody else.
    At least one of them is given. A ``ca`` file given without ``pins`` may
    be an old-style bundle of users' certificates: server/trust.py says how
    such a file is read.
    """

    cert: Path
    key: Path
    ca: Path | None
    crl: Path | None = None  # checked by the server itself, never by OpenSSL
    pins: Path | None = None

    @property
    def trust_files(self) -> tuple[Path, ...]:
        """The files that say whom to trust, CA file first."""
        return tuple(path for path in (self.ca, self.pins) if path is not None)


@dataclass(frozen=True, slots=True)
class ClientFiles:
    """What a client presents and which server certificate it trusts."""

    cert: Path
    key: Path
    ca: Path


def _apply_policy(context: ssl.SSLContext, native: NativeContext | str) -> None:
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    if not _set_groups(context, native, KEY_EXCHANGE_GROUPS):
        context.set_ecdh_curve(FALLBACK_GROUP)
        _fall_back(native, f"key exchange on {FALLBACK_GROUP} only, not {KEY_EXCHANGE_GROUPS}")
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= ssl.VERIFY_X509_STRICT | ssl.VERIFY_X509_PARTIAL_CHAIN


def _require_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise ConfigError(f"{what} {path} does not exist")


def _load_chain(
    context: ssl.SSLContext, cert: Path, key: Path, password: PassphraseCallback | None
) -> None:
    _require_file(cert, "certificate file")
    _require_file(key, "key file")
    _refuse_wrong_files(cert, key)
    encrypted = key_is_encrypted(key)
    if encrypted and password is None:
        # Without a callback OpenSSL would ask on the terminal by itself.
        raise PKIError(f"key {key} is protected by a passphrase and none was given")
    try:
        context.load_cert_chain(cert, key, password=password)
    except ssl.SSLError as exc:
        reason = exc.reason or str(exc)
        if reason == "KEY_VALUES_MISMATCH":
            raise PKIError(f"key {key} does not belong to certificate {cert}") from None
        if encrypted:
            raise PKIError(f"wrong passphrase for key {key}") from None
        raise PKIError(f"cannot load certificate {cert} with key {key}: {reason}") from None
    except OSError as exc:
        raise PKIError(f"cannot read {cert} or {key}: {exc.strerror or exc}") from None


def check_key_pair(cert: Path, key: Path) -> None:
    """PKIError (or ConfigError) if ``key`` is not ``cert``'s, as the server would say it.

    Loads them into a throwaway context, so the errors are the server's own.
    """
    _load_chain(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), cert, key, None)


def _refuse_wrong_files(cert: Path, key: Path) -> None:
    """Name a key given as the certificate, a request not signed yet, a certificate as the key.

    OpenSSL says "[SSL] PEM lib" for each of them, which tells nobody which
    file is wrong or why.
    """
    cert_holds, key_holds = pem_kind(cert), pem_kind(key)
    if cert_holds == "private key":
        raise PKIError(
            f"{cert} holds a private key, not a certificate: are --cert and --key swapped?"
        )
    if cert_holds == "certificate request":
        raise PKIError(
            f"{cert} is a certificate request, not a certificate: it is waiting to be signed "
            f"(your admin runs `rtchat-certs sign {cert.name}` and sends back the certificate "
            "or an invite for `rtchat join`)"
        )
    if key_holds not in (None, "private key"):
        raise PKIError(f"{key} holds a {key_holds}, not a private key: give --key the .key file")


def _load_trust(context: ssl.SSLContext, ca: Path, what: str = "trust file (--ca)") -> None:
    _require_file(ca, what)
    try:
        context.load_verify_locations(cafile=ca)
    except (ssl.SSLError, OSError) as exc:
        raise PKIError(f"{ca} holds no usable certificate: {exc}") from None


def _is_empty(path: Path) -> bool:
    try:
        return not path.read_bytes().strip()
    except OSError:
        return False  # loading it says what is wrong


def key_is_encrypted(path: Path) -> bool:
    """True for a PEM private key protected by a passphrase."""
    try:
        with path.open("rb") as file:
            head = file.read(64)
    except OSError:
        return False
    return b"ENCRYPTED" in head


def _refuse_resumption(context: ssl.SSLContext, native: NativeContext | str) -> None:
    """No session is ever resumed: every connection is a full handshake.

    Why: no client of ours resumes, and the server would keep sessions it
    never uses. (A resumed session would still pass every check the server
    makes after the handshake, which read the certificate, not the handshake.)

    * OP_NO_TICKET: no encrypted, stateless tickets. OpenSSL's two default
      TLS 1.3 tickets cost about a third of the server's CPU per handshake
      (measured: 1.16 ms -> 0.80 ms), and a TLS 1.2 ticket would carry the
      session's master secret under a key that lives as long as the process.
    * The session cache off: without it, OpenSSL keeps every TLS 1.2 session
      that ended with close_notify (as ours do) and resumes it by session ID.
    * One TLS 1.3 ticket all the same, now a bare session ID that matches
      nothing (nothing is cached), so it costs next to nothing. Clients
      expect one: a plain asyncio Protocol over uvloop's TLS gets a fresh
      256 KiB buffer per read, and only a read that finds no application
      data, like the ticket's, makes glibc raise its mmap threshold; without
      it every read was an mmap + mremap + munmap: the shared bench's load
      generator used 66 % of a core instead of 40 %, and its S2 p99 grew
      by a quarter (docs/performance.md).

    Where the cache cannot be turned off (no SSL_CTX address, sslctx.py), TLS
    1.2 session IDs stay resumable, and no ticket is sent that could resume too.
    """
    context.options |= ssl.OP_NO_TICKET
    if _turn_off_session_cache(native):
        context.num_tickets = 1
    else:
        context.num_tickets = 0
        _fall_back(native, "the session cache stays on: TLS 1.2 session IDs can resume")


def server_context(files: ServerFiles, *, tls13_only: bool = False) -> ssl.SSLContext:
    """The server side: present ``files.cert``, require a client certificate.

    ``files.ca`` holds CA certificates and ``files.pins`` pinned (possibly
    self-signed) client certificates; OpenSSL gets both as anchors, and the
    server decides after the handshake what each may vouch for. With
    ``tls13_only`` a TLS 1.2 client is refused at the handshake.
    """
    context, native = sslctx.create(ssl.PROTOCOL_TLS_SERVER)
    _apply_policy(context, native)
    if tls13_only:
        context.minimum_version = ssl.TLSVersion.TLSv1_3
    # Among the allowed suites, the server's order wins over the client's.
    context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    _refuse_resumption(context, native)
    _load_chain(context, files.cert, files.key, None)
    if not files.trust_files:
        raise ConfigError("no trust file: give --ca (CA certificates) or --pins (pinned ones)")
    if files.ca is not None:
        _load_trust(context, files.ca)
    if files.pins is not None and not _is_empty(files.pins):  # empty: nobody is pinned
        _load_trust(context, files.pins, "pinned certificates file (--pins)")
    return context


def client_context(
    files: ClientFiles, *, passphrase: PassphraseCallback | None = None
) -> ssl.SSLContext:
    """The client side: verify the server against ``files.ca``, present ours.

    The caller passes the expected name (``--cn``) as ``server_hostname``
    when connecting; it is matched against the certificate's SANs, or its
    subject CN when it has no SAN (certificates made by ``openssl req``).
    """
    context, native = sslctx.create(ssl.PROTOCOL_TLS_CLIENT)
    _apply_policy(context, native)
    context.check_hostname = True
    context.hostname_checks_common_name = True
    _load_trust(context, files.ca)
    _load_chain(context, files.cert, files.key, passphrase)
    return context


def is_name_mismatch(exc: ssl.SSLCertVerificationError) -> bool:
    """True when verification failed only because the name did not match."""
    return exc.verify_code in (_X509_V_ERR_HOSTNAME_MISMATCH, _X509_V_ERR_IP_ADDRESS_MISMATCH)


def describe_handshake_error(exc: BaseException, context: ssl.SSLContext | None = None) -> str:
    """One short, human reason for a failed handshake, for logs and users.

    ``context`` is ours, when known: a version refusal then names the
    version it requires (1.3 on a server run with --tls13-only).
    """
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return _describe_ssl_reason(exc, context)
    if isinstance(exc, ConnectionAbortedError | TimeoutError):
        return "handshake timed out"
    if isinstance(exc, ConnectionResetError | BrokenPipeError | EOFError):
        return "peer closed the connection during the handshake"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


# What OpenSSL says when the bytes that came back are not TLS at all.
_NOT_TLS_REASONS: Final = frozenset(
    {"WRONG_VERSION_NUMBER", "PACKET_LENGTH_TOO_LONG", "RECORD_LAYER_FAILURE", "UNKNOWN_PROTOCOL"}
)


def peer_speaks_no_tls(exc: ssl.SSLError) -> bool:
    """True when the peer answered in something other than TLS (a wrong port)."""
    return (exc.reason or "") in _NOT_TLS_REASONS


_SSL_REASONS: Final = {
    "PEER_DID_NOT_RETURN_A_CERTIFICATE": "no client certificate",
    "WRONG_VERSION_NUMBER": "not a TLS handshake (plaintext to the TLS port?)",
    "HTTP_REQUEST": "an HTTP request, not TLS",
    "UNSUPPORTED_PROTOCOL": "TLS version too old (1.2 or newer required)",
    "NO_SHARED_CIPHER": "no cipher in common",
    "NO_SUITABLE_SIGNATURE_ALGORITHM": "no signature algorithm in common",
    "UNEXPECTED_EOF_WHILE_READING": "peer closed the connection during the handshake",
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the server requires a client certificate",
    "SSLV3_ALERT_BAD_CERTIFICATE": "peer rejected the certificate (bad certificate)",
    "TLSV1_ALERT_UNKNOWN_CA": "peer does not trust the certificate's issuer",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "peer says the certificate has expired",
    "SSLV3_ALERT_CERTIFICATE_REVOKED": "peer says the certificate is revoked",
    "TLSV1_ALERT_PROTOCOL_VERSION": "no TLS version in common",
}


def _describe_ssl_reason(exc: ssl.SSLError, context: ssl.SSLContext | None = None) -> str:
    reason = exc.reason or ""
    if (
        reason == "UNSUPPORTED_PROTOCOL"
        and context is not None
        and context.minimum_version == ssl.TLSVersion.TLSv1_3
    ):
        return "TLS version too old (1.3 required)"
    known = _SSL_REASONS.get(reason)
    if known is not None:
        return known
    if isinstance(exc, ssl.SSLEOFError):
        return "peer closed the connection during the handshake"
    return reason.lower().replace("_", " ") or str(exc)
