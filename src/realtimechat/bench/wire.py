"""What the benchmark puts on the wire and how it finds it again in what comes back.

Every message text starts with a marker, ``~RUN|SENDER|TS|``, padded with
``x`` to the message size: ``RUN`` is a random token of this run (so other
traffic on a shared server, and history from earlier runs, is never counted),
``SENDER`` the index of the sending client and ``TS`` the
``time.monotonic_ns()`` at which it was sent (or scheduled). The server
copies the text verbatim into the ``msg`` frames it delivers, so receivers
count deliveries with one regular-expression scan of the raw bytes instead
of decoding every frame as JSON.
"""

from __future__ import annotations

import re
import secrets
from typing import Any, Final

from ..protocol import FP_CHARS, SendMsg, encode

_PLACEHOLDER: Final = "@@TEXT@@"
#: How every ``msg`` line a server writes starts (compact JSON, ``type`` first).
MSG_PREFIX: Final = b'{"type":"msg",'
# --signed: a signed message's fields as a P-256 signer sends them (protocol.md 6.8);
# the server checks only their bounds, so one fixed set costs it what real ones do.
SIGNATURE: Final = {
    "sig": "M" * 96,  # base64 of a DER ECDSA P-256 signature: 94 to 96 characters
    "fp": "0" * FP_CHARS,
    "sent": "2026-01-01T00:00:00.000Z",
    "seq": 1,
}
MIN_SIZE: Final = 48
"""The smallest message text the tool sends: room for the longest marker (about 40 bytes)."""


def new_run_id() -> str:
    """A fresh random token naming one run (8 lowercase hex digits)."""
    return secrets.token_hex(4)


class Marker:
    """Builds the messages of one run and finds them in received bytes."""

    __slots__ = ("_pad", "_post", "_pre", "_rooms", "pattern", "run_id", "signed", "size")

    def __init__(self, run_id: str, size: int, *, signed: bool = False) -> None:
        self.run_id = run_id
        self.size = size
        self.signed = signed
        self._pre, self._post = _frame_around(None, signed)
        self._rooms: dict[str, tuple[bytes, bytes]] = {}  # room -> its frame around the text
        self._pad = b"x" * size
        token = re.escape(run_id.encode("ascii"))
        self.pattern = re.compile(rb"~" + token + rb"\|(\d+)\|(\d+)\|")

    def text(self, sender: bytes, timestamp: int) -> bytes:
        """The message text: the marker, padded with ``x`` to ``size`` bytes."""
        head = b"~%s|%s|%d|" % (self.run_id.encode("ascii"), sender, timestamp)
        return head + self._pad[len(head) :]

    def line(self, sender: bytes, timestamp: int, room: str | None = None) -> bytes:
        """The whole ``msg`` frame (one line) carrying ``text(sender, timestamp)``, to ``room``."""
        if room is None:
            return self._pre + self.text(sender, timestamp) + self._post
        around = self._rooms.get(room)
        if around is None:
            around = self._rooms[room] = _frame_around(room, self.signed)
        return around[0] + self.text(sender, timestamp) + around[1]

    def find(self, data: bytes) -> list[tuple[bytes, bytes]]:
        """Every marker of this run in ``data``, as (sender, timestamp) digit strings."""
        return self.pattern.findall(data)


def _frame_around(room: str | None, signed: bool) -> tuple[bytes, bytes]:
    """The bytes of a ``msg`` frame (to ``room``, signed or not) before and after its text."""
    fields: dict[str, Any] = SIGNATURE if signed else {}
    line = encode(SendMsg(text=_PLACEHOLDER, room=room, **fields))
    before, after = line.split(_PLACEHOLDER.encode("ascii"))
    return before, after


def latency_bucket(nanoseconds: int) -> int:
    """A latency in microseconds, rounded down to 10 significant bits (at most 0.1 % low)."""
    micros = max(nanoseconds, 0) // 1000
    if micros < 1024:
        return micros
    shift = micros.bit_length() - 10
    return (micros >> shift) << shift
