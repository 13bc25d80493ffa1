"""rtchat as a bot's client: --json events against the schema, and what the exit status says.

Real processes over real TLS on loopback (issue 15, item 3): every line a
``--json`` run writes validates against docs/bots.schema.json; lines piped
before the welcome are carried out; a message refused or never sent exits
8, one not echoed in time 7, and one that was echoed never counts as lost.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from realtimechat.protocol import MAX_LINE_BYTES

from ..support import Pki, ServerProcess
from ..unit.test_bots import validate
from .test_cli import Spawned

BIN = Path(sys.executable).parent
WAIT = 15.0


@pytest.fixture
def server(pki: Pki, tmp_path: Path) -> Iterator[ServerProcess]:
    running = ServerProcess(pki, tmp_path)
    yield running
    running.stop()


def rtchat(
    clients: list[Spawned], env: dict[str, str], pki: Pki, port: int, name: str, *options: str
) -> Spawned:
    client = Spawned.start(
        [
            str(BIN / "rtchat"),
            "--pki",
            str(pki.folder.root),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--cn",
            "chatserver",
            "--name",
            name,
            *options,
        ],
        env,
    )
    clients.append(client)
    return client


def events_of(client: Spawned) -> list[dict[str, Any]]:
    """Every line the client wrote, each checked against the schema."""
    return [validate(line) for line in client.stdout.lines]


def expect_event(client: Spawned, kind: str, text: str = "") -> dict[str, Any]:
    found = client.stdout.expect(rf'^\{{"event": "{kind}".*{text}', timeout=WAIT)
    return validate(found.string)


def test_a_bot_gets_every_event_as_typed_facts(
    clients: list[Spawned], client_env: dict[str, str], pki: Pki, server: ServerProcess
) -> None:
    """/who and /whois piped before the welcome are answered; every line is of the schema."""
    bot = rtchat(clients, client_env, pki, server.port, "alice", "--json", "--wait", "5")
    bot.send("/who")  # before the welcome: queued, not lost
    bot.send("/whois alice")
    welcome = expect_event(bot, "welcome")
    assert welcome["name"] == "alice"
    users = expect_event(bot, "users")
    assert [user["name"] for user in users["users"]] == ["alice"]
    whois = expect_event(bot, "whois")
    assert whois["online"] is True
    assert whois["user"]["name"] == "alice"

    bob = rtchat(clients, client_env, pki, server.port, "bob", "--plain", "--wait", "5")
    assert expect_event(bot, "join")["name"] == "bob"
    bob.send("alice: lunch?")
    bob.send("nothing for anyone")
    bob.send("/msg alice psst")
    mention = expect_event(bot, "message", "lunch")
    assert (mention["from"], mention["mention"], mention["own"]) == ("bob", True, False)
    plain = expect_event(bot, "message", "nothing for anyone")
    assert plain["mention"] is False
    private = expect_event(bot, "private")
    assert (private["to"], private["text"]) == ("alice", "psst")

    bot.send("/msg zed hello")
    error = expect_event(bot, "error")
    assert (error["code"], error["text"], error["local"]) == ("no_such_user", "hello", False)
    bot.send("/frobnicate")
    error = expect_event(bot, "error", "unknown_command")
    assert error["local"] is True

    bob.end_input()
    assert bob.wait() == 0
    left = expect_event(bot, "leave")
    assert (left["name"], left["reason"]) == ("bob", "quit")

    server.stop()
    gone = expect_event(bot, "reconnecting")
    assert gone["attempt"] == 0
    assert "shutdown" in gone["reason"]
    server.start()
    assert expect_event(bot, "reconnected")["name"] == "alice"

    bot.send("/quit")
    assert bot.wait() == 8, bot.stderr.lines  # the refused /msg and the unknown command
    assert bot.stderr.lines == ["rtchat: 2 lines not sent (no_such_user, unknown_command)"]
    kinds = {event["event"] for event in events_of(bot)}
    expected = {"welcome", "users", "whois", "join", "message", "private", "error", "leave"}
    assert kinds >= expected | {"reconnecting", "reconnected"}


def test_a_refused_message_exits_8(
    clients: list[Spawned], client_env: dict[str, str], pki: Pki, server: ServerProcess
) -> None:
    """printf '/msg zed hello' | rtchat --plain: nothing was sent, and the status says so."""
    client = rtchat(clients, client_env, pki, server.port, "alice", "--plain")
    client.send("/msg zed hello")
    client.end_input()
    assert client.wait() == 8
    assert any(
        line.endswith("!! no_such_user: nobody is called 'zed'") for line in client.stdout.lines
    )
    assert client.stderr.lines == ["rtchat: 1 line not sent (no_such_user)"]


def test_a_message_too_long_to_send_exits_8(
    clients: list[Spawned], client_env: dict[str, str], pki: Pki, server: ServerProcess
) -> None:
    """A 70 KB line is never sent: exit 8, and the other lines still go."""
    client = rtchat(clients, client_env, pki, server.port, "alice", "--json")
    client.send("x" * 70_000)
    client.send("short and sent")
    client.end_input()
    assert client.wait() == 8
    found = events_of(client)
    (error,) = [event for event in found if event["event"] == "error"]
    assert (error["code"], error["local"], len(error["text"])) == ("too_long", True, 70_000)
    assert f"{MAX_LINE_BYTES:,}" in error["message"]
    assert any(event.get("text") == "short and sent" for event in found)
    assert client.stderr.lines == ["rtchat: 1 line not sent (too_long)"]


def test_an_echoed_message_is_never_counted_as_lost(
    clients: list[Spawned], client_env: dict[str, str], pki: Pki, server: ServerProcess
) -> None:
    """--wait 0: the message goes before the bye and its echo is read before the exit: 0."""
    for attempt in range(3):  # the same each time, whatever the timing
        client = rtchat(clients, client_env, pki, server.port, "alice", "--json", "--wait", "0")
        client.send(f"quick {attempt}")
        client.end_input()
        assert client.wait() == 0, client.stderr.lines
        echoes = [event for event in events_of(client) if event.get("text") == f"quick {attempt}"]
        assert len(echoes) == 1
        assert echoes[0]["own"] is True


def test_a_message_not_echoed_in_time_exits_7(
    clients: list[Spawned], client_env: dict[str, str], pki: Pki, server: ServerProcess
) -> None:
    """The server stops answering: 7 after --wait, not 8 (nothing was refused)."""
    client = rtchat(clients, client_env, pki, server.port, "alice", "--plain", "--wait", "1")
    client.stdout.expect("joined as alice", timeout=WAIT)
    server.process.send_signal(signal.SIGSTOP)
    try:
        client.send("into the void")
        client.end_input()
        assert client.wait(timeout=WAIT) == 7
    finally:
        server.process.send_signal(signal.SIGCONT)
    assert client.stderr.lines == ["rtchat: 1 message not echoed by the server within 1 s"]


def test_json_lines_are_one_object_each(
    clients: list[Spawned], client_env: dict[str, str], pki: Pki, server: ServerProcess
) -> None:
    """Hostile text arrives exact in JSON, escaped on the wire to the bot."""
    bot = rtchat(clients, client_env, pki, server.port, "alice", "--json")
    bot.send("beep \x1b[2J boop")
    event = expect_event(bot, "message", "beep")
    assert event["text"] == "beep \x1b[2J boop"
    bot.end_input()
    assert bot.wait() == 0
    assert b"\x1b" not in bot.stdout.raw
    for line in bot.stdout.lines:
        assert isinstance(json.loads(line), dict)


@pytest.mark.protocol("6.5")
def test_rooms_in_plain_and_json_scripts(
    clients: list[Spawned], client_env: dict[str, str], pki: Pki, server: ServerProcess
) -> None:
    """--room picks where lines go, /join and /part move them as typed, every line says its
    room, and nothing meant for a room reaches the lobby: a witness in the lobby sees only
    the lobby's lines, in order."""
    witness = rtchat(clients, client_env, pki, server.port, "erin", "--json", "--wait", "5")
    expect_event(witness, "welcome")
    ops = rtchat(clients, client_env, pki, server.port, "bob", "--plain", "--room", "#ops")
    for line in ("deploy at five", "/join #qa", "to qa", "/part", "to everyone"):
        ops.send(line)
    ops.send("/go #ops")
    ops.send("/topic on call: bob")
    ops.end_input()
    assert ops.wait() == 0, ops.stderr.lines
    shown = [line.split(" ", 1)[1] for line in ops.stdout.lines]
    assert "[#ops] bob: deploy at five" in shown
    assert "[#qa] bob: to qa" in shown
    assert "bob: to everyone" in shown
    assert shown.index("[#ops] bob: deploy at five") < shown.index("[#qa] bob: to qa")
    assert shown[-1] == "-- bob set the topic of #ops: on call: bob"

    bot = rtchat(clients, client_env, pki, server.port, "alice", "--json", "--wait", "5")
    bot.send("/join #ops")
    bot.send("from the bot")
    bot.send("/rooms")
    entered = expect_event(bot, "joined_room")
    assert (entered["room"], entered["topic"]) == ("#ops", "on call: bob")
    message = expect_event(bot, "message", "from the bot")
    assert (message["room"], message["own"]) == ("#ops", True)
    listed = expect_event(bot, "rooms")
    assert [(room["name"], room["member"]) for room in listed["rooms"]] == [
        ("#ops", True),
        ("#qa", False),
    ]
    bot.end_input()
    assert bot.wait() == 0, bot.stderr.lines
    history = [event for event in events_of(bot) if event["event"] == "history"]
    assert [(event["room"], event["count"]) for event in history] == [(None, 1), ("#ops", 1)]

    witness.send("/quit")
    assert witness.wait() == 0
    lobby = [
        event["text"] for event in events_of(witness) if event["event"] in ("message", "private")
    ]
    assert lobby == ["to everyone"]


def test_one_identity_on_two_clients_gives_no_false_missing_and_seals_privately(
    clients: list[Spawned], client_env: dict[str, str], pki: Pki, server: ServerProcess
) -> None:
    """alice at a terminal and as a bot (one certificate, one state folder) take turns: bob's
    --json shows every line verified and no "missing" notice; her /msg comes sealed."""
    bob = rtchat(clients, client_env, pki, server.port, "bob", "--json", "--wait", "5")
    expect_event(bob, "welcome")
    terminal = rtchat(clients, client_env, pki, server.port, "alice", "--plain", "--wait", "5")
    terminal.stdout.expect(r"-- joined as alice\b", timeout=WAIT)
    bot = rtchat(clients, client_env, pki, server.port, "alice", "--json", "--wait", "5")
    expect_event(bot, "welcome")
    turns = ((terminal, "t1"), (terminal, "t2"), (bot, "b1"), (terminal, "t3"), (bot, "b2"))
    for client, text in turns:  # one count for both would skip from 1 to 3 at t3
        client.send(f"say {text}")
        said = expect_event(bob, "message", f"say {text}")
        assert (said["from"], said["verified"], said["reason"]) == ("alice", True, None)
    bot.send("/msg bob sealed words")
    private = expect_event(bob, "private", "sealed words")
    assert (private["verified"], private["sealed"]) == (True, True)
    for client in (terminal, bot, bob):
        client.end_input()
        assert client.wait() == 0, client.stderr.lines
    notices = [event for event in events_of(bob) if event["event"] == "notice"]
    assert [n for n in notices if n["kind"] == "missing"] == []
