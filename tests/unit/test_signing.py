"""Signed messages without a network: the canonical form, signing, verifying, the vectors."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from realtimechat import signing
from realtimechat.signing import SignatureError, Signed

from ..support import REPO

pytestmark = pytest.mark.protocol("6.8")

FIELDS = Signed(
    fp="3b" * 32,
    from_="alice",
    room="#ops",
    to=None,
    text="héllo, world",
    action=None,
    ref="r-1",
    sent="2026-12-07T23:00:00.000Z",
    seq=7,
)
VECTOR_LINE = re.compile(r"^([a-z0-9 ]+?) = (.*)$")


def doc_vectors() -> dict[str, str]:
    """Every ``name = value`` line of the fenced vectors in docs/protocol.md 6.8."""
    text = (REPO / "docs" / "protocol.md").read_text(encoding="utf-8")
    section = text.split("### 6.8 Signed messages", 1)[1].split("\n## ", 1)[0]
    found: dict[str, str] = {}
    for block in re.findall(r"```text\n(.*?)```", section, flags=re.S):
        for line in block.splitlines():
            match = VECTOR_LINE.match(line)
            assert match, line
            found[match.group(1)] = match.group(2)
    return found


def doc_fields(vectors: dict[str, str]) -> Signed:
    def value(name: str) -> str | None:
        return None if vectors[name] == "(absent)" else vectors[name]

    return Signed(
        fp=vectors["fp"],
        from_=vectors["from"],
        room=value("room"),
        to=value("to"),
        text=vectors["text"],
        action=value("action"),
        ref=value("ref"),
        sent=vectors["sent"],
        seq=int(vectors["seq"]),
    )


def test_the_documented_fields_give_the_documented_bytes() -> None:
    """The canonical bytes of the vectors' fields are those docs/protocol.md prints."""
    vectors = doc_vectors()
    assert doc_fields(vectors) == FIELDS
    assert signing.canonical(FIELDS).hex() == vectors["canonical"]


def test_the_documented_ed25519_signature_is_made_again() -> None:
    """Ed25519 is deterministic: the documented seed signs the vector to the documented bytes."""
    vectors = doc_vectors()
    key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
    public = ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(vectors["ed25519 public"]))
    assert signing.sign(key, FIELDS) == vectors["ed25519 sig"]
    signing.verify_with(public, FIELDS, vectors["ed25519 sig"])


def test_the_documented_p256_signature_verifies() -> None:
    """The documented ECDSA P-256 signature verifies with the documented public key."""
    vectors = doc_vectors()
    public = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), bytes.fromhex(vectors["p256 public"])
    )
    signing.verify_with(public, FIELDS, vectors["p256 sig"])
    with pytest.raises(SignatureError):
        signing.verify_with(public, dataclasses.replace(FIELDS, seq=8), vectors["p256 sig"])


KEYS: dict[str, Callable[[], signing.SigningKey]] = {
    "ec-p256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "ec-p384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "ed25519": ed25519.Ed25519PrivateKey.generate,
    "ed448": ed448.Ed448PrivateKey.generate,
    "rsa-2048": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
}
CHANGES = [
    dataclasses.replace(FIELDS, fp="3c" * 32),
    dataclasses.replace(FIELDS, from_="mallory"),
    dataclasses.replace(FIELDS, room="#other"),
    dataclasses.replace(FIELDS, to="bob"),
    dataclasses.replace(FIELDS, text="héllo, World"),
    dataclasses.replace(FIELDS, action="me"),
    dataclasses.replace(FIELDS, ref="r-2"),
    dataclasses.replace(FIELDS, sent="2026-12-07T23:00:00.001Z"),
    dataclasses.replace(FIELDS, seq=8),
]


@pytest.mark.parametrize("kind", sorted(KEYS))
def test_every_key_type_signs_and_any_changed_field_fails(kind: str) -> None:
    """Each key type's signature verifies, and fails once any one field is changed."""
    key = KEYS[kind]()
    sig = signing.sign(key, FIELDS)
    signing.verify_with(key.public_key(), FIELDS, sig)
    for changed in CHANGES:
        with pytest.raises(SignatureError, match="does not match"):
            signing.verify_with(key.public_key(), changed, sig)


def test_absent_and_empty_differ_and_fields_do_not_run_together() -> None:
    """An absent field is not an empty one, and moving bytes between fields changes the form."""
    empty_ref = dataclasses.replace(FIELDS, ref="")
    no_ref = dataclasses.replace(FIELDS, ref=None)
    assert signing.canonical(empty_ref) != signing.canonical(no_ref)
    one = dataclasses.replace(FIELDS, text="ab", ref="c")
    other = dataclasses.replace(FIELDS, text="a", ref="bc")
    assert signing.canonical(one) != signing.canonical(other)


def test_the_lobby_and_names_are_signed_as_the_server_delivers_them() -> None:
    """``room: "lobby"`` signs as no room, and ``to: "BOB"`` as ``bob``."""
    lobby = dataclasses.replace(FIELDS, room="lobby")
    assert signing.canonical(lobby) == signing.canonical(dataclasses.replace(FIELDS, room=None))
    shouted = dataclasses.replace(FIELDS, room=None, to="BOB")
    assert signing.canonical(shouted) == signing.canonical(dataclasses.replace(shouted, to="bob"))


def test_a_signature_that_is_not_base64_is_refused() -> None:
    """Garbage in ``sig`` is a SignatureError, not a crash."""
    key = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(SignatureError, match="not base64"):
        signing.verify_with(key.public_key(), FIELDS, "***")
