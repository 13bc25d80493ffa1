"""Who a peer is, read from the certificate it proved it holds.

Identity rules (docs/protocol.md 1, "Identity"; ``Trust.identify`` applies them):

* A pinned certificate (in the server's pin file, such as the seed's
  self-signed ``openssl req -x509`` ones) is identified by its SHA-256
  fingerprint: nothing else vouches for it.
* A certificate issued by a trusted CA is identified by issuer and subject
  CN, so a renewed certificate (new key, new serial) is the same user.
  ``authority`` says which CA's key signed it (None: no CA of the server's
  did, for instance a certificate signed by a pinned one), so that the
  server can refuse what no CA vouches for (``Trust.refusal``).

Groups (``urn:rtchat:group:NAME`` in the subjectAltName, pki/groups.py) are
taken only from a CA-issued certificate: the CA vouches for them. A pinned
certificate is vouched for as a whole by whoever pinned it, and its holder
wrote its SANs: it carries no group (a room file names such a user by name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PeerIdentity:
    """A verified peer, as the server knows it."""

    key: str  # stable identity: "pin:<sha256>" or "ca:<issuer>/<cn>"
    cn: str
    fingerprint: str  # SHA-256 of the certificate, lowercase hex
    serial: int
    issuer: str  # RFC 4514 name of the issuer
    not_after: datetime
    pinned: bool
    authority: str | None = None  # SHA-256 of the public key of the CA that signed it
    is_ca: bool = False  # it says CA:TRUE: a certificate for issuing, nobody's identity
    groups: frozenset[str] = field(default=frozenset())  # group keys (rooms.group_key)
    # The certificate itself (DER), offered to readers of its signed messages (protocol.md 6.8).
    der: bytes = field(default=b"", repr=False, compare=False)

    @property
    def short_fp(self) -> str:
        return self.fingerprint[:16]
