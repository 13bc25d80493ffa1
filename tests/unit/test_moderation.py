"""Moderation's pure parts: durations, the operator frames' bounds, who is an operator."""

from __future__ import annotations

import datetime as dt

import click
import pytest

from realtimechat.cli.server import PROGRAM, main
from realtimechat.client.commands import OperatorCmd, TopicCmd, Unknown, parse_line
from realtimechat.client.render import (
    OPERATOR_HINT,
    as_text,
    event_fragments,
    operator_notice,
    welcome_lines,
)
from realtimechat.errors import ProtocolError
from realtimechat.moderation import MAX_SECONDS, format_duration, parse_duration
from realtimechat.protocol import (
    CLIENT_FRAME_TYPES,
    FINAL_BYE_REASONS,
    PERMANENT_BYE_REASONS,
    SERVER_FRAME_TYPES,
    Announce,
    Ban,
    Frame,
    Kick,
    Mute,
    Notice,
    SetMotd,
    Unban,
    Unmute,
    UserInfo,
    Welcome,
    decode_line,
    encode,
)
from realtimechat.server.identity import PeerIdentity
from realtimechat.server.moderation import described, is_operator
from realtimechat.server.store import MemoryStore, Sanction

pytestmark = pytest.mark.protocol("6.7")
TS = "2026-12-07T12:00:00.000Z"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("10m", 600),
        ("2h", 7200),
        ("7d", 604800),
        ("1w", 604800),
        ("1h30m", 5400),
        (" 10M ", 600),
        ("365d", MAX_SECONDS),
    ],
)
def test_a_duration_is_a_number_and_a_unit(text: str, seconds: int) -> None:
    """10m is 600 s; parts add up; case and surrounding spaces do not matter."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "no duration"),
        ("10", "no duration"),
        ("m", "no duration"),
        ("10 m", "no duration"),
        ("-5m", "no duration"),
        ("1.5h", "no duration"),
        ("10y", "no duration"),
        ("0s", "no time at all"),
        ("366d", "longer than the most"),
        ("53w", "longer than the most"),
    ],
)
def test_anything_else_is_refused_saying_what_is_accepted(text: str, why: str) -> None:
    """A bad duration raises ValueError whose message names the forms or the bound."""
    with pytest.raises(ValueError, match=why):
        parse_duration(text)


@pytest.mark.parametrize("seconds", [1, 59, 60, 600, 5400, 86399, 604800, 694861, MAX_SECONDS])
def test_a_formatted_duration_parses_back(seconds: int) -> None:
    """format_duration writes what parse_duration reads, to the second."""
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ('{"type":"ban","name":"bob","seconds":0}', "bad_field"),
        ('{"type":"mute","name":"bob","seconds":31536001}', "bad_field"),
        ('{"type":"ban","name":"bob"}', "missing_field"),
        ('{"type":"kick","name":"bob","reason":"' + "x" * 257 + '"}', "bad_field"),
        ('{"type":"motd","text":"' + "x" * 4097 + '"}', "bad_field"),
        ('{"type":"announce","text":" \\u200b "}', "empty_text"),
        ('{"type":"unban"}', "missing_field"),
    ],
)
def test_operator_frames_are_checked_like_the_others(line: str, code: str) -> None:
    """Bounds of seconds, reason and motd text; an announcement needs visible text."""
    with pytest.raises(ProtocolError) as caught:
        decode_line(line.encode(), CLIENT_FRAME_TYPES)
    assert caught.value.code == code


def test_operator_frames_and_notices_round_trip() -> None:
    """A ban, a notice and an operator's user entry survive the wire; op is left out if false."""
    ban = Ban(name="bob", seconds=600, reason="spam")
    assert decode_line(encode(ban)[:-1], CLIENT_FRAME_TYPES) == ban
    notice = Notice(kind="ban", ts="2026-12-07T12:00:00.000Z", name="bob", by="op", until="x")
    assert decode_line(encode(notice)[:-1], SERVER_FRAME_TYPES) == notice
    assert b'"op"' not in encode(Notice(kind="motd", ts="t", text=None))
    assert UserInfo("a", "f", "t").op is False


def test_kicked_and_banned_end_reconnecting_but_are_not_permanent() -> None:
    """A client does not come straight back after a kick or a ban; a ban still ends."""
    assert {"kicked", "banned"} <= FINAL_BYE_REASONS
    assert not {"kicked", "banned"} & PERMANENT_BYE_REASONS


def identity(*, groups: frozenset[str], pinned: bool = False) -> PeerIdentity:
    return PeerIdentity(
        key="ca:x/op",
        cn="op",
        fingerprint="0" * 64,
        serial=1,
        issuer="x",
        not_after=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
        pinned=pinned,
        groups=groups,
    )


def test_an_operator_holds_a_ca_issued_certificate_in_the_group() -> None:
    """The group compares as names do; a pinned certificate never operates."""
    assert is_operator(identity(groups=frozenset({"admin"})), "Admin")
    assert not is_operator(identity(groups=frozenset({"ops"})), "admin")
    assert not is_operator(identity(groups=frozenset({"admin"}), pinned=True), "admin")


def test_a_sanction_says_until_when_by_whom_and_why() -> None:
    """The text a banned user's refused hello carries."""
    ban = Sanction("ban", "ca:x/bob", "bob", "2026-12-08T10:00:00.000Z", "op", "spam")
    assert described(ban) == "banned until 2026-12-08 10:00:00 UTC by op: spam"


async def test_the_memory_store_keeps_one_sanction_of_each_kind_per_identity() -> None:
    """put replaces the identity's sanction of that kind; drop says whether one was there."""
    store = MemoryStore()
    first = Sanction("ban", "id", "bob", "2026-12-08T10:00:00.000Z", "op")
    second = Sanction("ban", "id", "bob", "2026-12-09T10:00:00.000Z", "op")
    mute = Sanction("mute", "id", "bob", "2026-12-08T10:00:00.000Z", "op")
    for each in (first, second, mute):
        await store.put_sanction(each)
    assert await store.sanctions() == [second, mute]
    assert await store.drop_sanction("ban", "id")
    assert not await store.drop_sanction("ban", "id")
    assert await store.motd() is None
    await store.set_motd("hi")
    assert await store.motd() == "hi"


@pytest.mark.parametrize(
    ("line", "frame"),
    [
        ("/kick bob", Kick("bob")),
        ("/kick bob  spamming links ", Kick("bob", "spamming links")),
        ("/mute bob 10m", Mute("bob", 600)),
        ("/mute bob 1h30m cool down", Mute("bob", 5400, "cool down")),
        ("/ban bob 7d spam", Ban("bob", 604800, "spam")),
        ("/unban bob", Unban("bob")),
        ("/unmute bob", Unmute("bob")),
        ("/motd", SetMotd()),
        ("/motd be kind", SetMotd("be kind")),
        ("/motd --clear", SetMotd("")),
        ("/announce restart at noon", Announce("restart at noon")),
        ("/kick bob " + "x" * 256, Kick("bob", "x" * 256)),
        ("/motd " + "m" * 4096, SetMotd("m" * 4096)),
    ],
)
def test_operator_commands_become_their_frames(line: str, frame: Frame) -> None:
    """Each operator command is the frame the server reads; TIME is sent in seconds."""
    assert parse_line(line) == OperatorCmd(frame)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("/kick", "usage: /kick"),
        ("/mute bob", "usage: /mute NAME TIME"),
        ("/ban bob forever", "no duration"),
        ("/ban bob 400d", "longer than the most"),
        ("/announce   ", "usage: /announce"),
        ("/unban", "usage: /unban"),
        ("/kick bob " + "x" * 257, "a reason has at most 256 characters, not 257"),
        ("/mute bob 1h " + "x" * 300, "a reason has at most 256 characters, not 300"),
        ("/ban bob 1h " + "x" * 257, "a reason has at most 256 characters"),
        ("/motd " + "m" * 4097, "the message of the day has at most 4096 characters, not 4097"),
    ],
)
def test_operator_commands_used_wrongly_are_not_sent(line: str, why: str) -> None:
    """A missing NAME, a bad TIME or a reason or motd too long is said before anything is
    sent (the server's bad_field would count toward the errors that end the session)."""
    command = parse_line(line)
    assert isinstance(command, Unknown)
    assert why in command.problem


def test_topic_may_name_a_room() -> None:
    """/topic #ROOM TEXT sets that room's topic (operators: any room); alone, this room's."""
    assert parse_line("/topic #den be nice") == TopicCmd("be nice", "#den")
    assert parse_line("/topic #den") == TopicCmd(None, "#den")
    assert parse_line("/topic be nice") == TopicCmd("be nice")
    assert parse_line("/topic --clear") == TopicCmd("")


def test_an_operator_notice_reads_as_a_sentence() -> None:
    """kick, ban, announce and motd as the terminal and --plain show them."""
    kick = Notice(kind="kick", ts=TS, name="bob", by="op", reason="spam")
    assert line_of(kick).endswith("-- bob was kicked by op: spam")
    ban = Notice(kind="ban", ts=TS, name="bob", by="op", until=TS)
    assert "-- bob is banned until " in line_of(ban)
    assert line_of(Notice(kind="announce", ts=TS, text="noon", by="op")).endswith("** op: noon")
    assert line_of(Notice(kind="motd", ts=TS)).endswith("-- message of the day: (none)")
    assert line_of(Notice(kind="motd", ts=TS, text="hi", by="op")).endswith(
        "-- op set the message of the day: hi"
    )
    cleared = Notice(kind="motd", ts=TS, by="op")
    assert line_of(cleared).endswith("-- op cleared the message of the day")
    assert line_of(Notice(kind="future", ts=TS, text="x")).endswith("-- x")


def test_the_target_of_an_operator_notice_is_told_you() -> None:
    """bob's own screen says "you were kicked", not "bob was kicked"; others' say bob."""
    kick = Notice(kind="kick", ts=TS, name="bob", by="op", reason="spam")
    assert as_text(operator_notice(kick, about_me=True)).endswith("-- you were kicked by op: spam")
    mute = Notice(kind="mute", ts=TS, name="bob", by="op", until=TS)
    assert "-- you are muted until " in as_text(operator_notice(mute, about_me=True))
    ban = Notice(kind="ban", ts=TS, name="bob", by="op", until=TS, reason="spam")
    assert as_text(operator_notice(ban, about_me=True)).endswith("by op: spam")
    assert "-- you are banned until " in as_text(operator_notice(ban, about_me=True))
    unmute = Notice(kind="unmute", ts=TS, name="bob", by="op")
    assert as_text(operator_notice(unmute, about_me=True)).endswith("-- you may speak again (op)")
    assert as_text(operator_notice(kick)).endswith("-- bob was kicked by op: spam")


def test_an_operator_is_told_so_on_joining() -> None:
    """welcome with our own entry marked op: a line naming the operator commands; else none."""
    op = UserInfo(name="op", fp="ab" * 8, online_since=TS, op=True)
    bob = UserInfo(name="bob", fp="cd" * 8, online_since=TS)

    def lines(name: str) -> list[str]:
        welcome = Welcome(v=1, name=name, last_id=0, users_online=2, users=(bob, op))
        return [as_text(line) for line in welcome_lines(welcome)]

    assert lines("op")[0].endswith("-- joined as op; 2 online: bob, @op")
    assert lines("op")[1].endswith(OPERATOR_HINT)
    assert "/kick" in OPERATOR_HINT
    assert lines("bob") == [lines("bob")[0]]
    assert lines("bob")[0].endswith("-- joined as bob; 2 online: bob, @op")


def line_of(frame: Notice) -> str:
    fragments = event_fragments(frame)
    assert fragments is not None
    return as_text(fragments)


def test_the_operator_group_option_takes_a_group_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """--operator-group: a name rtchat-certs could write into a certificate, else a usage error."""
    monkeypatch.delenv("RTCHAT_SERVER_OPERATOR_GROUP", raising=False)
    ctx = main.make_context(PROGRAM, ["--operator-group", "Ops"])
    assert ctx.params["operator_group"] == "Ops"
    assert main.make_context(PROGRAM, []).params["operator_group"] == "admin"
    with pytest.raises(click.BadParameter, match="only letters, digits"):
        main.make_context(PROGRAM, ["--operator-group", "ops team"])
