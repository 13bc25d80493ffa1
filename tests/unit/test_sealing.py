"""Sealed private messages without a network: who can open them, and who cannot be sealed to."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from realtimechat import sealing
from realtimechat.sealing import SealError
from realtimechat.signing import SigningKey

pytestmark = pytest.mark.protocol("6.9")


def self_signed(key: SigningKey, cn: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
    )
    digest = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, digest)


def test_the_recipient_and_the_sender_open_it_and_a_third_cannot() -> None:
    """Sealed to bob (P-256) and alice (RSA): both read it; carol, sealed for none, cannot."""
    bob_key = ec.generate_private_key(ec.SECP256R1())
    alice_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    carol_key = ec.generate_private_key(ec.SECP384R1())
    bob, alice, carol = (
        self_signed(bob_key, "bob"),
        self_signed(alice_key, "alice"),
        self_signed(carol_key, "carol"),
    )
    sealed = sealing.seal("the door code is 4711", [bob, alice])
    assert sealing.is_sealed(sealed)
    assert "4711" not in sealed
    assert sealing.open_sealed(sealed, bob_key, bob) == "the door code is 4711"
    assert sealing.open_sealed(sealed, alice_key, alice) == "the door code is 4711"
    with pytest.raises(SealError, match="sealed for others"):
        sealing.open_sealed(sealed, carol_key, carol)


def test_a_changed_envelope_does_not_open() -> None:
    """One flipped character of the sealed text: it fails to open, it never opens to garbage."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = self_signed(key, "bob")
    sealed = sealing.seal("hello", [cert])
    body = sealed.removeprefix(sealing.PREFIX)
    flipped = sealing.PREFIX + body[:-8] + ("A" if body[-8] != "A" else "B") + body[-7:]
    with pytest.raises(SealError):
        sealing.open_sealed(flipped, key, cert)


def test_an_ed25519_key_cannot_be_sealed_to_and_says_why() -> None:
    """Ed25519 signs only: seal_problem says so, and seal refuses."""
    cert = self_signed(ed25519.Ed25519PrivateKey.generate(), "dave")
    assert (
        sealing.seal_problem(cert) == "an Ed25519 key can only sign: nothing can be encrypted to it"
    )
    with pytest.raises(SealError):
        sealing.seal("x", [cert])
