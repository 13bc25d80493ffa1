"""Names: what is valid, what counts as the same name, and who may hold one."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from realtimechat.errors import SessionRefused
from realtimechat.names import name_from_cn, name_key, name_problem
from realtimechat.server.config import NamesMode, ServerSettings
from realtimechat.server.store import MemoryStore
from realtimechat.tls import ClientFiles, ServerFiles

from ..support import Pki, ServerFactory, ca_issued, connect, join, seed_style


@pytest.mark.parametrize("name", ["alice", "Zoë", "李雷", "o'brien", "x" * 32, "bob_2"])
@pytest.mark.protocol("5.3")
def test_valid_names(name: str) -> None:
    """Letters of any script, digits and punctuation make names."""
    assert name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        ("x" * 33, "at most 32"),
        ("two words", "spaces"),
        ("evil\u202eman", "invisible"),
        ("zero\u200bwidth", "invisible"),
        ("bell\x07", "invisible"),
        ("\ue000private", "invisible"),
    ],
)
@pytest.mark.protocol("5.3")
def test_invalid_names_say_why(name: str, why: str) -> None:
    """Each rejected name comes with a reason a person can act on."""
    problem = name_problem(name)
    assert problem is not None
    assert why in problem


@pytest.mark.protocol("5.3")
def test_names_compare_after_nfkc_and_casefold() -> None:
    """Case and compatibility forms do not make a different name."""
    assert name_key("Alice") == name_key("ALICE") == name_key("\uff21lice")
    assert name_key("Straße") == name_key("STRASSE")
    assert name_key("alice") != name_key("alicia")


@pytest.mark.protocol("5.3")
def test_cn_spaces_become_underscores() -> None:
    """A CN typed at openssl's prompt with spaces still makes a usable name."""
    assert name_from_cn("Alice  Smith") == "Alice_Smith"
    assert name_problem(name_from_cn("Alice Smith")) is None


@pytest.fixture
def pinned_alice(tmp_path: Path, pki: Pki) -> ClientFiles:
    """A self-signed certificate whose CN is also 'alice' (another person's key)."""
    return seed_style(tmp_path, "pinned", "alice", ca=pki.folder.ca_cert)


@pytest.mark.protocol("5.3")
async def test_a_name_stays_with_its_first_identity_even_offline(
    start_server: ServerFactory, pki: Pki, pinned_alice: ClientFiles, tmp_path: Path
) -> None:
    """A pinned certificate with CN 'alice' cannot become the CA's alice, online or not."""
    trust = tmp_path / "trust.pem"
    trust.write_bytes(pki.folder.ca_cert.read_bytes() + pinned_alice.cert.read_bytes())
    server = await start_server(
        files=ServerFiles(cert=pki.folder.server_cert, key=pki.folder.server_key, ca=trust)
    )
    alice = await join(server, pki, "alice")
    await alice.close()
    impostor = await connect(server, pinned_alice)
    with pytest.raises(SessionRefused) as refused:
        await impostor.hello()
    assert refused.value.reason == "name_taken"
    again = await join(server, pki, "alice")  # the real alice, renewed or not, still gets in
    assert again.welcome is not None
    assert again.welcome.name == "alice"
    await again.close()


CLAIM = ServerSettings(names=NamesMode.CLAIM)
CYRILLIC_DAVE = "\u0501\u0430\u0475\u0435"  # dave in Cyrillic letters: one script


async def refused(server_files: ClientFiles, server: object, name: str | None = None) -> str:
    """The reason and message a hello (asking for ``name``) is refused with."""
    connection = await connect(server, server_files)  # type: ignore[arg-type]
    with pytest.raises(SessionRefused) as refusal:
        await connection.hello(name)
    return f"{refusal.value.reason}: {refusal.value}"


@pytest.mark.protocol("5.3")
async def test_a_certificate_whose_cn_looks_like_an_owned_name_gets_name_taken(
    start_server: ServerFactory, pki: Pki, tmp_path: Path
) -> None:
    """CN mode: a CA-issued CYRILLIC_DAVE (valid: one script) looks like dave, who owns his."""
    server = await start_server()
    dave = await join(server, pki, "dave")
    impostor = ca_issued(pki, tmp_path, "ddave", CYRILLIC_DAVE, ExtendedKeyUsageOID.CLIENT_AUTH)
    why = await refused(impostor, server)
    assert why.startswith("name_taken: ")
    assert "looks like 'dave'" in why
    invisible = ca_issued(pki, tmp_path, "cgj", "dave\u034f", ExtendedKeyUsageOID.CLIENT_AUTH)
    assert (await refused(invisible, server)).startswith("bad_name: ")
    await dave.close()


@pytest.mark.protocol("5.3")
async def test_a_claim_that_looks_like_an_owned_name_gets_name_taken(
    start_server: ServerFactory, pki: Pki
) -> None:
    """Claim mode: aIice (capital I), a1ice and rnary-style forgeries of an owned name."""
    server = await start_server(settings=CLAIM)
    alice = await join(server, pki, "alice")
    for forged in ("aIice", "a1ice", "ALlCE"):
        why = await refused(pki.client("bob"), server, forged)
        assert why.startswith("name_taken: "), why
    for invalid in ("\u0430lice", "alice\ufe0f", "alice\u2800->\u2800bob"):
        assert (await refused(pki.client("bob"), server, invalid)).startswith("bad_name: ")
    bob = await join(server, pki, "bob", name="alicia")  # different enough
    assert bob.welcome is not None
    assert bob.welcome.name == "alicia"
    await bob.close()
    await alice.close()


@pytest.mark.protocol("5.3")
async def test_claims_stop_at_the_per_identity_limit(start_server: ServerFactory, pki: Pki) -> None:
    """Claim mode: one identity owns at most --max-names-per-identity names, its CN's included.

    Before the limit one identity claimed 300 names in 2.2 s, squatting the
    names of users who had not joined yet (and their private messages).
    """
    server = await start_server(settings=CLAIM, max_names_per_identity=3)
    for name in ("carol2", "carol3"):  # with carol (the CN's name): three
        session = await join(server, pki, "carol", name=name)
        await session.close()
    why = await refused(pki.client("carol"), server, "bob")
    assert why.startswith("name_taken: ")
    assert "you own 3 names already (carol, carol2, carol3)" in why
    assert "at most 3" in why
    again = await join(server, pki, "carol", name="carol3")  # her own: always
    assert again.welcome is not None
    await again.close()
    bob = await join(server, pki, "bob")  # nobody squatted bob
    assert bob.welcome is not None
    assert bob.welcome.name == "bob"
    await bob.close()


@pytest.mark.protocol("5.3")
async def test_names_owned_before_the_profile_are_grandfathered(
    start_server: ServerFactory, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    """An owned name the profile now refuses stays its owner's (logged at start); nobody else
    can take it or one that looks like it."""
    store = MemoryStore()
    probe = await start_server(settings=CLAIM)
    carol = await join(probe, pki, "carol")
    carol_key = next(s.identity.key for s in probe.hub.sessions if s.identity is not None)
    await carol.close()
    await store.own_name(name_key("dave\u034f"), carol_key, "dave\u034f")
    caplog.set_level(logging.WARNING, logger="realtimechat.server")
    server = await start_server(settings=CLAIM, store=store)
    assert any(
        "name_grandfathered" in record.getMessage() and "U+034F" in record.getMessage()
        for record in caplog.records
    )
    again = await join(server, pki, "carol", name="dave\u034f")
    assert again.welcome is not None
    assert again.welcome.name == "dave\u034f"
    await again.close()
    dave = await join(server, pki, "dave")  # it shows as dave\u034f: it passes for nobody
    assert dave.welcome is not None
    assert dave.welcome.name == "dave"
    await dave.close()
    why = await refused(pki.client("erin"), server, "DAVE\u034f")  # nobody else gets it
    assert why.startswith("bad_name: ")
