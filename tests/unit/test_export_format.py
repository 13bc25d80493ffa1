"""The export's line format (server/export.py): what a line says, and which lines are refused."""

from __future__ import annotations

import json
import re

import pytest

from realtimechat.protocol import Msg
from realtimechat.server.export import Line, parse_line

from ..support import REPO

TS = "2026-12-07T10:00:00.000Z"


def test_a_line_is_the_msg_frame_with_the_identity_keys_after_it() -> None:
    """Wire names and order (``from``, unset fields left out), then sender and recipient."""
    msg = Msg(7, TS, "bob", "psst", to="alice")
    assert Line(msg, "ca:x/bob", "ca:x/alice").encode() == (
        '{"type":"msg","id":7,"ts":"2026-12-07T10:00:00.000Z","from":"bob","text":"psst",'
        '"to":"alice","sender":"ca:x/bob","recipient":"ca:x/alice"}'
    )


@pytest.mark.parametrize(
    "line",
    [
        Line(Msg(1, TS, "alice", "hi"), "pin:ab12"),
        Line(Msg(2, TS, "bob", "ünïcode ✓ \u200b", action="me", room="#Ops"), "ca:x/bob"),
        Line(Msg(3, TS, "bob", "psst", to="alice"), "ca:x/bob", "ca:x/alice"),
    ],
)
def test_parse_line_reads_back_what_encode_wrote(line: Line) -> None:
    """encode then parse_line gives the same message and keys, byte for byte again."""
    raw = line.encode().encode("utf-8")
    assert parse_line(raw) == line
    assert parse_line(raw).encode() == line.encode()


def fields(**changed: object) -> bytes:
    base: dict[str, object] = {"type": "msg", "id": 4, "ts": TS, "from": "bob", "text": "t"}
    base["sender"] = "ca:x/bob"
    base.update(changed)
    return json.dumps({key: value for key, value in base.items() if value is not None}).encode()


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"   ", "the line is empty"),
        (b"[1]", "frame must be a JSON object"),
        (b'{"type":"msg","type":"msg"}', "frame is not valid JSON: duplicate key 'type'"),
        (fields(type=None), "'type' must be 'msg'"),
        (fields(id=None), "field 'id' is required"),
        (fields(id=0), "'id' must be at least 1"),
        (fields(id=-3), "field 'id' must not be negative"),
        (fields(id=True), "field 'id' must be an integer"),
        (fields(ts="2026-12-07 10:00"), "'ts' '2026-12-07 10:00' is not an RFC 3339 time with"),
        (fields(text=""), "'text' is empty"),
        (fields(action="dance"), "unknown action 'dance'"),
        (fields(room="#a b"), "'room': "),
        (fields(room="#ops", to="alice", recipient="ca:x/a"), "a private message ('to') has no"),
        (fields(sender=""), "'sender' must be the identity key"),
        (fields(sender=["ca:x/bob"]), "'sender' must be the identity key"),
        (fields(sender="\ud800"), "'sender' contains a lone surrogate"),
        (fields(to="alice"), "'recipient' must be the identity key"),
        (fields(recipient="ca:x/a"), "'recipient' belongs to a private message"),
        (fields(replay=True), "'replay' is no part of an export"),
        (fields(text="\ud800"), "field 'text' contains a lone surrogate"),
    ],
)
def test_parse_line_refuses_what_the_server_would_never_have_stored(raw: bytes, why: str) -> None:
    """Each bad line is a ValueError that says what is wrong with it."""
    with pytest.raises(ValueError, match="^" + re.escape(why)):
        parse_line(raw)


def test_the_example_in_operations_md_is_what_export_writes() -> None:
    """Each line of the documented example parses, and encodes back to itself."""
    text = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    section = text.split("## Backups and export", 1)[1]
    example = section.split("```json\n", 1)[1].split("```", 1)[0].splitlines()
    assert len(example) == 3
    for raw in example:
        assert parse_line(raw.encode()).encode() == raw
