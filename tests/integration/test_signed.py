"""Signed messages end to end: real TLS on loopback, a server that lies, clients that notice.

The lying server is a real ``ChatServer`` whose store (the server's own
memory, which a compromised server controls) rewrites what it is given
and makes messages up: docs/security.md, "Signed messages".
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Sequence

import pytest

from realtimechat import pki as rtpki
from realtimechat.client.chat import Chat
from realtimechat.client.commands import Say
from realtimechat.client.events import Message
from realtimechat.client.render import as_text, event_lines
from realtimechat.client.signatures import Signatures
from realtimechat.server.app import ChatServer
from realtimechat.server.store import Draft, MemoryStore, Stored
from realtimechat.signing import SIGNING_KEYS

from ..support import WAIT, Pki, Recorder, ServerFactory, eventually, opener_for, port_of

pytestmark = pytest.mark.protocol("6.8")


class LyingStore(MemoryStore):
    """A server's memory that rewrites messages by their text, and can make one up."""

    def __init__(self) -> None:
        super().__init__()
        self.bob_key = ""  # identity keys, learnt from the drafts
        self.carol_key = ""
        self.copied: Draft | None = None  # alice's first signed draft, to forge with

    async def append(self, drafts: Sequence[Draft]) -> list[Stored]:
        return await super().append([self._lie(draft) for draft in drafts])

    def _lie(self, draft: Draft) -> Draft:  # noqa: PLR0911 - one return per lie
        if draft.from_name == "alice" and self.copied is None and draft.sig is not None:
            self.copied = draft
        if draft.to_name == "bob":  # private to bob (sealed): recorded as to carol
            return dataclasses.replace(draft, to_name="carol", recipient=self.carol_key)
        match draft.text:
            case "pay 10":
                return dataclasses.replace(draft, text="pay 1000")
            case "from me":
                return dataclasses.replace(draft, from_name="bob")
            case "inject":  # bob's line, stored as alice's, with her copied signature
                assert self.copied is not None
                return dataclasses.replace(
                    self.copied, text="alice owes bob 500", ref=draft.ref, ts=draft.ts
                )
            case "in the room":  # said in #x, recorded as said in the lobby
                return dataclasses.replace(draft, room=None)
            case "withheld":  # kept from everyone but alice herself
                return dataclasses.replace(draft, to_name="alice", recipient=draft.sender)
            case "replay":  # bob's line, stored as alice's first signed message once more
                assert self.copied is not None
                return dataclasses.replace(self.copied, sender=draft.sender, ts=draft.ts)
            case "unsigned":
                return dataclasses.replace(
                    draft, from_name="alice", sig=None, fp=None, sent=None, seq=None
                )
        if draft.from_name == "carol":
            self.carol_key = draft.sender
        return draft


def signatures_of(pki: Pki, name: str) -> Signatures:
    files = pki.client(name)
    key = rtpki.load_private_key(files.key)
    assert isinstance(key, SIGNING_KEYS)
    anchors = [rtpki.load_certificate(files.ca)]
    return Signatures(key, rtpki.load_certificate(files.cert), anchors, None)


@dataclasses.dataclass
class Client:
    chat: Chat
    view: Recorder
    running: asyncio.Task[None]

    def verdicts(self) -> dict[str, tuple[bool, str | None]]:
        """Each message shown: its text and whether it verified (and why not)."""
        return {
            event.msg.text: (event.verdict.verified, event.verdict.reason)
            for event in self.view.events
            if isinstance(event, Message) and event.verdict is not None
        }


@pytest.fixture
async def clients(
    start_server: ServerFactory, pki: Pki
) -> AsyncIterator[tuple[ChatServer, LyingStore, dict[str, Client]]]:
    store = LyingStore()
    server = await start_server(store=store)
    made: dict[str, Client] = {}
    for name in ("carol", "alice", "bob"):
        view = Recorder()
        opener = opener_for(pki.client(name), port_of(server))
        chat = Chat(opener, view, signatures=signatures_of(pki, name))
        made[name] = Client(chat, view, asyncio.create_task(chat.run()))
        async with asyncio.timeout(WAIT):
            await chat.welcomed.wait()
    await made["carol"].chat.say(Say("carol is here"))  # the store learns carol's identity
    await eventually(lambda: bool(store.carol_key))
    yield server, store, made
    for client in made.values():
        await client.chat.leave()
        async with asyncio.timeout(WAIT):
            await client.running


async def test_every_client_marks_what_the_server_changed_or_made_up(
    clients: tuple[ChatServer, LyingStore, dict[str, Client]],
) -> None:
    """Rewritten text, sender or recipient, and forged or unsigned lines in alice's name:
    no client shows any of them as verified; the honest lines verify everywhere."""
    _, _, made = clients
    alice, bob = made["alice"].chat, made["bob"].chat
    await alice.say(Say("honest"))
    await alice.say(Say("pay 10"))
    await alice.say(Say("from me"))
    await alice.say(Say("psst", to="bob"))
    await bob.say(Say("inject"))
    await bob.say(Say("unsigned"))
    await bob.say(Say("last"))
    everywhere = {"honest", "pay 1000", "from me", "alice owes bob 500", "unsigned", "last"}
    for name, client in made.items():
        wanted = everywhere | ({"psst"} if name != "carol" else set())
        await eventually(lambda c=client, w=wanted: w <= set(c.view.texts()))  # type: ignore[misc]
    forged = "the signature does not match: altered or forged"
    public = {
        "honest": (True, None),
        "pay 1000": (False, forged),
        "from me": (False, forged),
        "alice owes bob 500": (False, forged),
        "last": (True, None),
    }
    for name, client in made.items():
        seen = client.verdicts()
        for text, verdict in public.items():
            assert (name, text, seen[text]) == (name, text, verdict)
        assert seen["unsigned"] == (False, "unsigned")
    # Delivered to bob, but as written to carol: the recipient is signed too.
    assert made["bob"].verdicts()["psst"] == (False, forged)
    assert "psst" not in made["carol"].verdicts()


async def test_a_withheld_message_and_a_replayed_one_are_told(
    clients: tuple[ChatServer, LyingStore, dict[str, Client]],
) -> None:
    """bob is told that a message of alice's is missing, and sees her old line again flagged."""
    _, _, made = clients
    alice, bob = made["alice"].chat, made["bob"]
    await alice.say(Say("first"))
    await eventually(lambda: "first" in bob.view.texts())
    await alice.say(Say("withheld"))
    await alice.say(Say("after it"))
    await eventually(lambda: "after it" in bob.view.texts())
    missing = "-- a message from alice is missing (withheld?)"
    assert [line for line in bob.view.notices if line.endswith(missing)] != []
    await bob.chat.say(Say("replay"))
    await eventually(lambda: bob.view.texts().count("first") == 2)
    again = [e for e in bob.view.events if isinstance(e, Message) and e.msg.text == "first"]
    assert [e.verdict.verified if e.verdict else None for e in again] == [True, False]
    assert again[1].verdict is not None
    assert (again[1].verdict.reason or "").startswith("replayed: the same message came before")


async def test_a_message_moved_to_another_room_is_marked(
    clients: tuple[ChatServer, LyingStore, dict[str, Client]],
) -> None:
    """alice's line in #x, delivered as the lobby's: the room is signed, so it fails."""
    _, _, made = clients
    alice = made["alice"]
    assert await alice.chat.perform("/join #x")
    await alice.chat.say(Say("in the room"))
    await alice.chat.say(Say("still honest"))
    await eventually(lambda: "still honest" in alice.view.texts())
    verdicts = alice.verdicts()
    assert verdicts["in the room"] == (False, "the signature does not match: altered or forged")
    assert verdicts["still honest"] == (True, None)


async def test_a_verified_line_looks_as_before_and_a_failed_one_is_marked(
    clients: tuple[ChatServer, LyingStore, dict[str, Client]],
) -> None:
    """On screen: the honest line as it always was; the rewritten one behind !! UNVERIFIED."""
    _, _, made = clients
    await made["alice"].chat.say(Say("honest"))
    await made["alice"].chat.say(Say("pay 10"))
    view = made["bob"].view
    await eventually(lambda: "pay 1000" in view.texts())
    shown = {
        event.msg.text: as_text(event_lines(event)[0])
        for event in view.events
        if isinstance(event, Message)
    }
    assert shown["honest"].split(" ", 1)[1] == "alice: honest"  # after the time, as before
    mark = "!! UNVERIFIED (the signature does not match: altered or forged) "
    assert shown["pay 1000"].startswith(mark)
    assert shown["pay 1000"][len(mark) :].split(" ", 1)[1] == "alice: pay 1000"


async def test_require_signed_hides_what_does_not_verify(
    start_server: ServerFactory, pki: Pki
) -> None:
    """--require-signed: the rewritten line is not shown; one line says a message was hidden."""
    server = await start_server(store=LyingStore())
    views = {name: Recorder() for name in ("alice", "bob")}
    chats = {
        name: Chat(
            opener_for(pki.client(name), port_of(server)),
            views[name],
            signatures=signatures_of(pki, name),
            require_signed=name == "bob",
        )
        for name in views
    }
    running = [asyncio.create_task(chat.run()) for chat in chats.values()]
    for chat in chats.values():
        async with asyncio.timeout(WAIT):
            await chat.welcomed.wait()
    await chats["alice"].say(Say("pay 10"))
    await chats["alice"].say(Say("fine"))
    await eventually(lambda: "fine" in views["bob"].texts())
    assert views["bob"].texts() == ["fine"]
    hidden = [line for line in views["bob"].notices if "hidden" in line]
    assert len(hidden) == 1
    assert "a message from alice that is not verified" in hidden[0]
    for chat in chats.values():
        await chat.leave()
    async with asyncio.timeout(WAIT):
        await asyncio.gather(*running)


async def test_whois_shows_the_signing_certificate_and_its_state(
    clients: tuple[ChatServer, LyingStore, dict[str, Client]],
) -> None:
    """/whois alice: her certificate's CN and fingerprint, its CA, and the last verdict."""
    _, _, made = clients
    await made["alice"].chat.say(Say("honest"))
    bob = made["bob"]
    await eventually(lambda: "honest" in bob.view.texts())
    assert await bob.chat.perform("/whois alice")
    await eventually(lambda: any("signs with" in line for line in bob.view.notices))
    (line,) = [line for line in bob.view.notices if "signs with" in line]
    fp = made["alice"].chat.signatures.fp if made["alice"].chat.signatures else ""
    assert f"alice signs with CN=alice, SHA-256 {fp[:16]}, issued by your CA" in line
    assert line.endswith("last message verified")
