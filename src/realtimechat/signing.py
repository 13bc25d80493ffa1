"""Signed messages: the canonical bytes a client signs, and signing and verifying them.

Pure: no I/O, no clock. ``docs/protocol.md`` section 6.8 is the normative
description (the fields, their order, the encoding, the algorithms and the
test vectors, which ``tests/unit/test_signing.py`` checks against this
module).

The canonical form is length-prefixed fields, not RFC 8785 JSON: every
field is a string (or absent), so a 4-byte length before each UTF-8 value
is unambiguous, and a third party rebuilds it in a few lines of any
language without a JSON canonicaliser (whose number and escape rules are
the usual source of disagreement). A domain label in front keeps these
bytes from ever being valid as anything else the key signs (a TLS
handshake signs a different, labelled context).

Names (``from``, ``to``) are signed in their name-key form (NFKC, case
folded: ``names.name_key``), because the server delivers ``to`` as the
name is recorded with its owner (``BOB`` is delivered as ``bob``); a
lobby message is signed with no room, whether it was sent with
``room: "lobby"`` or none, as the server delivers it with none.
"""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass
from typing import Final, TypeAlias

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa

from .names import name_key
from .protocol import DEFAULT_ROOM

DOMAIN: Final = b"rtchat signed msg v1\n"
ABSENT: Final = b"\xff\xff\xff\xff"  # in place of a length: the field is absent

SigningKey: TypeAlias = (
    ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
    | rsa.RSAPrivateKey
)

SIGNING_KEYS: Final = (
    ec.EllipticCurvePrivateKey,
    ed25519.Ed25519PrivateKey,
    ed448.Ed448PrivateKey,
    rsa.RSAPrivateKey,
)


class SignatureError(Exception):
    """A signature that does not verify, or a key this module cannot sign or verify with."""


@dataclass(frozen=True, slots=True)
class Signed:
    """What a signature covers, in the order the canonical form puts it."""

    fp: str  # SHA-256 of the signer's certificate (DER), lowercase hex
    from_: str  # the sender's name
    room: str | None  # None: the lobby, or a private message
    to: str | None
    text: str
    action: str | None
    ref: str | None
    sent: str  # the client's clock when it sent the message (a timestamp)
    seq: int  # the sender's sequence number, one more for each message it signs


def canonical(fields: Signed) -> bytes:
    """The bytes that are signed: the domain label, then each field length-prefixed."""
    room = None if fields.room in (None, DEFAULT_ROOM) else fields.room
    values = (
        fields.fp,
        name_key(fields.from_),
        room,
        None if fields.to is None else name_key(fields.to),
        fields.text,
        fields.action,
        fields.ref,
        fields.sent,
        str(fields.seq),
    )
    return DOMAIN + b"".join(_field(value) for value in values)


def _field(value: str | None) -> bytes:
    if value is None:
        return ABSENT
    data = value.encode("utf-8")
    return struct.pack(">I", len(data)) + data


def sign(key: SigningKey, fields: Signed) -> str:
    """The signature of ``fields`` with ``key``, base64 (RFC 4648 section 4, padded)."""
    data = canonical(fields)
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        raw = key.sign(data)
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        raw = key.sign(data, ec.ECDSA(hashes.SHA256()))
    elif isinstance(key, rsa.RSAPrivateKey):
        raw = key.sign(data, _pss(), hashes.SHA256())
    else:
        raise SignatureError(f"cannot sign with a {type(key).__name__}")
    return base64.b64encode(raw).decode("ascii")


def verify(cert: x509.Certificate, fields: Signed, signature: str) -> None:
    """Raise SignatureError unless ``signature`` is ``cert``'s key's over ``fields``.

    Only the signature: whether the certificate is trusted, valid at the
    send time and the sender's is the caller's question.
    """
    verify_with(cert.public_key(), fields, signature)


def verify_with(key: object, fields: Signed, signature: str) -> None:
    """``verify`` with a bare public key (the test vectors give keys, not certificates)."""
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("the signature is not base64") from None
    data = canonical(fields)
    try:
        if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(raw, data)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(raw, data, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(raw, data, _pss(), hashes.SHA256())
        else:
            raise SignatureError(f"cannot verify with a {type(key).__name__}")
    except InvalidSignature:
        raise SignatureError("the signature does not match the message") from None


def _pss() -> padding.PSS:
    # PSS with the salt as long as the digest: what TLS 1.3 uses, and verifiable anywhere.
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
