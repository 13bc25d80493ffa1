"""Names: what is valid, what counts as the same name, and who may hold one."""

from __future__ import annotations

from pathlib import Path

import pytest

from realtimechat.errors import SessionRefused
from realtimechat.names import name_from_cn, name_key, name_problem
from realtimechat.tls import ClientFiles, ServerFiles

from ..support import Pki, ServerFactory, connect, join, seed_style


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
