"""Sealed private messages: text only its recipient's and its sender's keys can open.

Pure: no I/O. docs/protocol.md 6.9 is the normative description.

The scheme is the ECIES shape of HPKE's base mode (RFC 9180) built from
``cryptography``'s own pieces, because HPKE itself is not in the
``cryptography`` version we pin and the recipients hold the keys of their
certificates, not HPKE keys: a fresh 256-bit content key encrypts the text
once with AES-256-GCM; for each reader the content key is wrapped with
AES-256-GCM under a key derived by HKDF-SHA256 from an ECDH between a fresh
ephemeral key (on the reader's curve) and the reader's certificate key, or,
for an RSA certificate, with RSA-OAEP-SHA256. Each reader's entry is found
by its certificate's fingerprint. Ed25519 and Ed448 keys sign only: X25519
from an Ed25519 key is not in ``cryptography``, so such a reader cannot be
sealed to, and the client says so before sending anything.

Integrity and the sender's identity come from the message's signature
(protocol.md 6.8), which covers the sealed text as sent; the GCM tags make a
changed envelope fail to open rather than open to garbage.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Any, Final

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .pki.keys import fingerprint_sha256
from .signing import SigningKey

PREFIX: Final = "rtchat-sealed-v1:"
LABEL: Final = b"rtchat sealed v1"
NONCE_BYTES: Final = 12


class SealError(Exception):
    """A message that cannot be sealed to a reader, or opened by us."""


def seal_problem(cert: x509.Certificate) -> str | None:
    """Why a message cannot be sealed to ``cert``'s key, or None."""
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        return None
    kind = type(key).__name__.removeprefix("_").removesuffix("PublicKey")
    article = "an" if kind[:1] in "AEIOU" else "a"
    return f"{article} {kind} key can only sign: nothing can be encrypted to it"


def is_sealed(text: str) -> bool:
    return text.startswith(PREFIX)


def seal(text: str, readers: list[x509.Certificate]) -> str:
    """``text`` sealed so that each of ``readers`` (and nobody else) can open it."""
    content_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(NONCE_BYTES)
    body = AESGCM(content_key).encrypt(nonce, text.encode("utf-8"), LABEL)
    entries = [_wrap(content_key, reader) for reader in readers]
    envelope = {"r": entries, "n": _b64(nonce), "c": _b64(body)}
    return PREFIX + _b64(json.dumps(envelope, separators=(",", ":")).encode("ascii"))


def open_sealed(text: str, key: SigningKey, cert: x509.Certificate) -> str:
    """The text sealed in ``text`` for the holder of ``key`` (whose certificate is ``cert``)."""
    try:
        envelope = json.loads(base64.b64decode(text.removeprefix(PREFIX), validate=True))
        fp = fingerprint_sha256(cert)
        entry = next(e for e in envelope["r"] if e["f"] == fp)
        content_key = _unwrap(entry, key, fp)
        plain = AESGCM(content_key).decrypt(_unb64(envelope["n"]), _unb64(envelope["c"]), LABEL)
    except StopIteration:
        raise SealError("sealed for others") from None
    except (ValueError, KeyError, TypeError, InvalidTag, binascii.Error):
        raise SealError("the sealed text is damaged") from None
    return plain.decode("utf-8", "replace")


def _wrap(content_key: bytes, reader: x509.Certificate) -> dict[str, str]:
    fp = fingerprint_sha256(reader)
    public = reader.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        return {"f": fp, "w": _b64(public.encrypt(content_key, _oaep()))}
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise SealError(seal_problem(reader) or "cannot seal to this key")
    ephemeral = ec.generate_private_key(public.curve)
    point = ephemeral.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    kek = _kek(ephemeral.exchange(ec.ECDH(), public), point, fp)
    nonce = os.urandom(NONCE_BYTES)
    wrapped = AESGCM(kek).encrypt(nonce, content_key, LABEL)
    return {"f": fp, "e": _b64(point), "n": _b64(nonce), "w": _b64(wrapped)}


def _unwrap(entry: dict[str, Any], key: SigningKey, fp: str) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        return key.decrypt(_unb64(entry["w"]), _oaep())
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SealError("our key cannot decrypt")
    point = _unb64(entry["e"])
    peer = ec.EllipticCurvePublicKey.from_encoded_point(key.curve, point)
    kek = _kek(key.exchange(ec.ECDH(), peer), point, fp)
    return AESGCM(kek).decrypt(_unb64(entry["n"]), _unb64(entry["w"]), LABEL)


def _kek(shared: bytes, point: bytes, fp: str) -> bytes:
    """The key-wrapping key: bound to the ephemeral point and the reader's certificate."""
    info = LABEL + b"\n" + point + fp.encode("ascii")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(shared)


def _oaep() -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=LABEL)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object) -> bytes:
    if not isinstance(value, str):
        raise TypeError("not base64 text")
    return base64.b64decode(value, validate=True)
