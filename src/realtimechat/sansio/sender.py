"""The client's outgoing messages, sans I/O: which goes next, and when each is done with.

In the style of h11: ``client/chat.py`` tells this machine what the user
typed (``add``) and what the server answered (``acked``, ``echoed``,
``refused``), passes the loop's time in as ``now``, and writes the message
``next`` hands out. Nothing here sleeps or writes, so every rule below is
checked in microseconds (tests/unit/test_sender.py).

The rules (docs/design.md, "Client"; docs/protocol.md 12.3):

* Messages go out in the order they were typed, **one at a time**: the
  next leaves only once the server has answered the one before, with its
  ``ack`` or an ``error`` carrying its ``ref``. The server takes or refuses
  a message the moment it reads it, and a refusal is undone by a resend.
  With two messages unanswered, the first could be refused for the rate
  limit and the second taken (a token came back in between), and the
  second would be stored first, for everyone. One round trip per message
  is the price; the rate limit costs more than that anyway.
* ``rate_limited`` puts the refused message back at the head of the line:
  it goes again, with the same ``ref``, ``retry_delay`` seconds later, and
  nothing newer goes before it.
* Any other ``error`` with its ``ref`` is final (docs/protocol.md 9.2): the
  message is dropped and its slot freed; the caller says why.
* A message is *pending* until both its ``ack`` and its echo have come,
  in either order: when the link died before the ``ack``, the echo comes
  in the replay after the reconnect, and the ``ack`` of the resend after
  it. An acked message no longer holds the slot: it has its id, so nothing
  sent after it can be stored before it.
* After every (re)connect, every pending message is owed again, from the
  first, in order: acked ones too, since an ``--ephemeral`` server may have
  lost them. The server stores a ``ref`` once and acks a resend with the
  first id (6.3), so nothing is stored twice.
* A *request* typed between messages (``join``, ``part``, ``topic``, the
  room list: ``add_request``) takes its place in the same line: it goes
  once every message typed before it is answered, and before any typed
  after it, so ``/join #ops`` then a line sends the line after the join
  and ``/part #ops`` after the lines to ``#ops`` typed before it. It needs
  no answer (the server answers requests in order anyway): sent is done.
  One not yet sent when the connection ends is owed on the next.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Final, TypeVar

from ..protocol import ErrorCode, Frame, SendMsg
from .server import LocalProtocolError

RATE_RETRY_DELAY: Final = 1.0  # after `rate_limited`, seconds before sending that message again
F = TypeVar("F", bound=Frame)
EARLY_ECHOES_KEPT: Final = 10_000  # own message ids seen before their ack (or with none coming)


@dataclass(slots=True)
class Pending:
    """One of our messages the server has not both acked and echoed yet."""

    ref: str
    frame: SendMsg  # sent as it is every time: the same ref makes a resend harmless
    msg_id: int | None = None  # known once acked


@dataclass(slots=True)
class Request:
    """A request typed between messages: it goes in its place in the line, once."""

    key: str
    frame: Frame


class Sender:
    """Our unsettled messages, in the order typed, and the one the server is answering."""

    def __init__(self, retry_delay: float = RATE_RETRY_DELAY) -> None:
        self.retry_delay = retry_delay
        self.pending: OrderedDict[str, Pending] = OrderedDict()  # in the order typed
        self._requests: dict[str, Request] = {}  # typed, not sent yet
        self._typed: OrderedDict[str, None] = OrderedDict()  # refs and request keys, in order
        self._request_keys = 0
        self.resend_at: float | None = None  # the head of the line was refused: not before then
        self._owed: deque[str] = deque()  # refs still to send on this connection, in order
        self._in_flight: str | None = None  # sent on this connection, not answered yet
        self._by_id: dict[int, str] = {}  # acked, echo awaited
        self._early_echoes: OrderedDict[int, None] = OrderedDict()

    @property
    def in_flight(self) -> Pending | None:
        """The message sent and not answered yet, if any."""
        return None if self._in_flight is None else self.pending.get(self._in_flight)

    def add(self, frame: SendMsg) -> Pending:
        """The user typed a message: it goes after every one typed before."""
        if frame.ref is None or frame.ref in self.pending:
            # Without a ref of its own a resend could be stored twice (6.3).
            raise LocalProtocolError(f"a message needs a ref no pending one has: {frame.ref!r}")
        pending = Pending(frame.ref, frame)
        self.pending[pending.ref] = pending
        self._typed[pending.ref] = None
        self._owed.append(pending.ref)
        return pending

    def add_request(self, frame: Frame) -> Request:
        """The user typed a request (not a message): it goes in its place in the line."""
        self._request_keys += 1
        request = Request(f"request {self._request_keys}", frame)  # no ref has a space
        self._requests[request.key] = request
        self._typed[request.key] = None
        self._owed.append(request.key)
        return request

    @property
    def requests(self) -> int:
        """Requests typed and not sent yet."""
        return len(self._requests)

    def requests_of(self, kind: type[F]) -> list[F]:
        """The frames of the requests of ``kind`` not sent yet, in order."""
        return [
            request.frame for request in self._requests.values() if isinstance(request.frame, kind)
        ]

    def connected(self) -> None:
        """A new connection: nothing is in flight and every pending message is owed again."""
        self._in_flight = None
        self.resend_at = None  # a new session has a full bucket of tokens
        self._owed = deque(self._typed)

    def next(self, now: float) -> Pending | Request | None:
        """What to send now: a message (marked in flight) or a request (done once handed
        out); None while nothing may go."""
        if self._in_flight is not None:
            return None
        if self.resend_at is not None and now < self.resend_at:
            return None
        self.resend_at = None
        while self._owed:
            key = self._owed.popleft()
            request = self._requests.pop(key, None)
            if request is not None:
                del self._typed[key]
                return request
            pending = self.pending.get(key)
            if pending is not None:  # not settled meanwhile (say, by an echo in a replay)
                self._in_flight = key
                return pending
        return None

    def acked(self, ref: str, msg_id: int) -> Pending | None:
        """``ack {ref, id}`` arrived; returns the message if that settles it."""
        pending = self.pending.get(ref)
        if pending is None:
            return None  # settled already (its echo came first, from a replay)
        if ref == self._in_flight:
            self._in_flight = None
        pending.msg_id = msg_id
        if msg_id in self._early_echoes:
            del self._early_echoes[msg_id]
            return self._settle(ref)
        self._by_id[msg_id] = ref
        return None

    def echoed(self, msg_id: int) -> Pending | None:
        """A message from us with this id arrived; returns ours if that settles it."""
        ref = self._by_id.pop(msg_id, None)
        if ref is not None:
            return self._settle(ref)
        # Its ack is still to come (the link died before it and the replay
        # brought the echo first), or another session of ours sent it.
        self._early_echoes[msg_id] = None
        if len(self._early_echoes) > EARLY_ECHOES_KEPT:
            self._early_echoes.popitem(last=False)
        return None

    def refused(self, ref: str, code: str, now: float) -> Pending | None:
        """``error {code, ref}`` arrived; returns the message if it is dropped for good."""
        if code == ErrorCode.RATE_LIMITED:
            if ref == self._in_flight:
                self._in_flight = None
                self._owed.appendleft(ref)  # first in line again: nothing newer goes before it
                self.resend_at = now + self.retry_delay
            return None  # never final: we only sent too fast
        if ref not in self.pending:
            return None
        return self._settle(ref)  # if still owed, ``next`` skips it

    def _settle(self, ref: str) -> Pending:
        pending = self.pending.pop(ref)
        self._typed.pop(ref, None)
        if pending.msg_id is not None:
            self._by_id.pop(pending.msg_id, None)
        if ref == self._in_flight:
            self._in_flight = None
        return pending
