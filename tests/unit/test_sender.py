"""The client's sans-I/O sender: which message goes next, and when each is done with.

Each test tells a ``Sender`` what the user typed and what the server
answered, with the time as a number, and checks what it would send: no
loop, no sockets, no sleeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realtimechat.protocol import JoinRoom, PartRoom, SendMsg
from realtimechat.sansio.sender import Pending, Request, Sender
from realtimechat.sansio.server import LocalProtocolError

pytestmark = pytest.mark.protocol("9.2", "12.3")

DELAY = 1.0


def typed(sender: Sender, *refs: str) -> None:
    for ref in refs:
        sender.add(SendMsg(text=f"text of {ref}", ref=ref))


def sent(sender: Sender, now: float = 0.0) -> str | None:
    """The ref the sender hands out now (a request: its frame's room), if any."""
    head = sender.next(now)
    if isinstance(head, Request):
        assert isinstance(head.frame, JoinRoom | PartRoom)
        return f"{head.frame.TYPE} {head.frame.room}"
    return None if head is None else head.ref


def test_messages_go_one_at_a_time_in_the_order_typed() -> None:
    """The next message leaves only once the server has acked the one before."""
    sender = Sender(DELAY)
    typed(sender, "a", "b", "c")
    assert sent(sender) == "a"
    assert sent(sender) is None  # a is not answered yet
    assert sender.acked("a", 1) is None  # acked, echo still to come
    assert sent(sender) == "b"
    sender.acked("b", 2)
    assert sent(sender) == "c"
    sender.acked("c", 3)
    assert sent(sender) is None
    assert list(sender.pending) == ["a", "b", "c"]  # all still waiting for their echoes


def test_a_message_without_a_ref_of_its_own_is_refused() -> None:
    """A resend is harmless only under its own ref (6.3): none, or one pending, is a bug."""
    sender = Sender(DELAY)
    typed(sender, "a")
    with pytest.raises(LocalProtocolError):
        sender.add(SendMsg(text="no ref"))
    with pytest.raises(LocalProtocolError):
        sender.add(SendMsg(text="again", ref="a"))
    assert list(sender.pending) == ["a"]


def test_a_rate_limited_message_goes_again_first_after_the_delay() -> None:
    """rate_limited: the same message again, after retry_delay, before anything typed later."""
    sender = Sender(DELAY)
    typed(sender, "a", "b")
    first = sender.next(10.0)
    assert isinstance(first, Pending)
    assert first.ref == "a"
    assert sender.refused("a", "rate_limited", 10.0) is None  # never dropped
    typed(sender, "c")
    assert sender.resend_at == 10.0 + DELAY
    assert sent(sender, 10.5) is None  # neither a nor anything newer before the delay
    again = sender.next(11.0)
    assert again is not None
    assert again.frame == first.frame  # the same frame: the same ref
    assert sender.resend_at is None
    assert sender.refused("a", "rate_limited", 11.0) is None  # refused again: wait again
    assert sent(sender, 11.9) is None
    assert sent(sender, 12.0) == "a"
    sender.acked("a", 1)
    assert [sent(sender, 12.0), sender.acked("b", 2), sent(sender, 12.0)] == ["b", None, "c"]


def test_a_stale_rate_limited_for_a_message_not_in_flight_changes_nothing() -> None:
    """Only the message in flight can be refused; another ref's refusal moves nothing."""
    sender = Sender(DELAY)
    typed(sender, "a", "b")
    assert sent(sender) == "a"
    sender.acked("a", 1)
    assert sent(sender) == "b"
    assert sender.refused("a", "rate_limited", 0.0) is None
    assert sender.resend_at is None
    assert sender.in_flight is not None
    assert sender.in_flight.ref == "b"


def test_any_other_refusal_drops_the_message_and_frees_the_line() -> None:
    """An error with our ref other than rate_limited is final: dropped, and the next goes."""
    sender = Sender(DELAY)
    typed(sender, "a", "b")
    assert sent(sender) == "a"
    dropped = sender.refused("a", "internal", 0.0)
    assert dropped is not None
    assert dropped.ref == "a"
    assert list(sender.pending) == ["b"]
    assert sent(sender) == "b"
    assert sender.refused("nobody's", "no_such_user", 0.0) is None  # not ours: ignored


def test_a_message_is_pending_until_both_its_ack_and_its_echo() -> None:
    """Ack then echo, or echo then ack: settled by the second, whichever it is."""
    sender = Sender(DELAY)
    typed(sender, "a", "b")
    assert sent(sender) == "a"
    assert sender.acked("a", 7) is None
    settled = sender.echoed(7)
    assert settled is not None
    assert settled.ref == "a"
    assert sent(sender) == "b"
    assert sender.echoed(8) is None  # the echo first: its ack is still to come
    settled = sender.acked("b", 8)
    assert settled is not None
    assert settled.ref == "b"
    assert not sender.pending
    assert sender.echoed(9) is None  # another session of ours: nothing to settle


def test_after_a_reconnect_every_pending_message_goes_again_in_order() -> None:
    """The one in flight, acked ones still unechoed, and unsent ones: again, from the first."""
    sender = Sender(DELAY)
    typed(sender, "a", "b", "c", "d")
    assert sent(sender) == "a"
    sender.acked("a", 1)  # acked, never echoed
    assert sent(sender) == "b"  # in flight when the connection dies
    sender.connected()
    order = []
    for msg_id in (1, 2, 3, 4):  # the server acks a's resend with its first id
        ref = sent(sender)
        assert ref is not None
        order.append(ref)
        sender.acked(ref, msg_id)
    assert order == ["a", "b", "c", "d"]
    assert sent(sender) is None


def test_a_reconnect_forgets_the_wait_after_rate_limited() -> None:
    """A new session starts with a full bucket: the refused message goes at once, first."""
    sender = Sender(DELAY)
    typed(sender, "a", "b")
    assert sent(sender, 5.0) == "a"
    sender.refused("a", "rate_limited", 5.0)
    sender.connected()
    assert sent(sender, 5.0) == "a"


def test_the_echo_in_the_replay_settles_a_message_whose_ack_was_lost() -> None:
    """The link died after the store, before the ack: the replay's echo, then the resend's ack."""
    sender = Sender(DELAY)
    typed(sender, "a", "b")
    assert sent(sender) == "a"
    sender.connected()  # a was stored as id 5; its ack was lost with the link
    assert sender.echoed(5) is None  # replayed before the resend's ack
    assert sent(sender) == "a"
    settled = sender.acked("a", 5)
    assert settled is not None
    assert settled.ref == "a"
    assert sent(sender) == "b"


def test_a_message_settled_while_owed_again_is_not_sent() -> None:
    """Acked before the drop, echoed in the replay: not resent, and does not hold the line."""
    sender = Sender(DELAY)
    typed(sender, "a", "b")
    assert sent(sender) == "a"
    sender.acked("a", 1)
    sender.connected()
    assert sender.echoed(1) is not None  # the replay brings a's echo before anything is sent
    assert sent(sender) == "b"


def test_an_echo_of_the_message_in_flight_frees_the_line() -> None:
    """A resent message already acked once is stored: its echo lets the next one go."""
    sender = Sender(DELAY)
    typed(sender, "a", "b")
    assert sent(sender) == "a"
    sender.acked("a", 1)
    sender.connected()
    assert sent(sender) == "a"  # resent: the server may have lost it (--ephemeral)
    assert sender.echoed(1) is not None  # the replay's echo comes before the resend's ack
    assert sent(sender) == "b"
    assert sender.acked("a", 1) is None  # the resend's ack, late: nothing left to settle


# -- whatever the server does, it stores our messages in the order typed -------------


@dataclass
class ModelServer:
    """What the server does with one client's messages, reduced to what the sender relies on."""

    stored: list[str] = field(default_factory=list)  # refs in id order
    ids: dict[str, int] = field(default_factory=dict)
    echoed: set[int] = field(default_factory=set)  # ids whose echo reached the client

    def store(self, ref: str) -> tuple[int, bool]:
        """Store ``ref`` once (6.3): its id, and whether it is new."""
        if ref in self.ids:
            return self.ids[ref], False
        self.stored.append(ref)
        self.ids[ref] = len(self.stored)
        return self.ids[ref], True


STEPS = st.lists(
    st.sampled_from(["type", "accept", "rate_limited", "internal", "tick", "drop", "lost_ack"]),
    max_size=80,
)


@settings(deadline=None)  # pure and fast: only a loaded machine could miss a deadline
@given(STEPS)
def test_whatever_the_server_answers_it_stores_our_messages_in_the_order_typed(
    steps: list[str],
) -> None:
    """Refusals, failures, drops and lost acks in any order: stored in order, once, all settled."""
    sender, server = Sender(DELAY), ModelServer()
    typed_refs: list[str] = []
    failed: set[str] = set()
    now = 0.0
    wire: str | None = None  # the message the server is reading

    def accept(ref: str) -> None:
        msg_id, new = server.store(ref)
        sender.acked(ref, msg_id)
        if new:  # a duplicate gets its ack and no echo
            server.echoed.add(msg_id)
            sender.echoed(msg_id)

    def reconnect() -> None:
        sender.connected()
        for ref in server.stored:  # the replay: every echo we have not had yet
            if server.ids[ref] not in server.echoed:
                server.echoed.add(server.ids[ref])
                sender.echoed(server.ids[ref])

    for step in [*steps, *["tick", "accept"] * (len(steps) + 1)]:  # then: all goes through
        if wire is None:
            wire = sent(sender, now)
        else:
            assert sender.next(now) is None, "a second message while one is unanswered"
        if step == "type":
            ref = f"m{len(typed_refs)}"
            typed_refs.append(ref)
            typed(sender, ref)
        elif step == "tick":
            now += DELAY / 2
        elif step in ("drop", "lost_ack"):
            if step == "lost_ack" and wire is not None:
                server.store(wire)  # committed, but the link died before the ack
            wire = None
            reconnect()
        elif wire is not None:
            ref, wire = wire, None
            if step == "accept":
                accept(ref)
            elif step == "rate_limited":
                sender.refused(ref, "rate_limited", now)
                assert sender.next(now) is None, "nothing before the delay"
                now += DELAY
                wire = sent(sender, now)
                assert wire == ref, "the refused message goes first"
            elif sender.refused(ref, "internal", now) is not None:
                failed.add(ref)

    assert not sender.pending
    assert server.stored == [ref for ref in typed_refs if ref in server.ids]  # typed order
    assert set(server.stored) | failed == set(typed_refs)  # nothing lost but the failed


def test_a_request_goes_in_its_place_among_the_messages() -> None:
    """/join after a line goes once the line is answered, and before the lines typed after it."""
    sender = Sender(DELAY)
    typed(sender, "a")
    sender.add_request(JoinRoom(room="#ops"))
    typed(sender, "b")
    assert sent(sender) == "a"
    assert sent(sender) is None  # "a" unanswered: the join waits behind it
    sender.acked("a", 1)
    assert sender.requests == 1
    assert sent(sender) == "join #ops"
    assert sender.requests == 0
    assert sent(sender) == "b"  # a request needs no answer: sent is done


def test_a_request_waits_behind_a_rate_limited_message() -> None:
    """A message refused for the rate limit goes again before the part typed after it."""
    sender = Sender(DELAY)
    typed(sender, "a")
    sender.add_request(PartRoom(room="#ops"))
    assert sent(sender, 10.0) == "a"
    sender.refused("a", "rate_limited", 10.0)
    assert sent(sender, 10.5) is None
    assert sent(sender, 11.0) == "a"
    sender.acked("a", 1)
    assert sent(sender, 11.0) == "part #ops"


def test_a_request_not_sent_is_owed_on_the_next_connection_and_a_sent_one_is_not() -> None:
    """Typed offline: sent after the reconnect, in its place; sent before the drop: not again."""
    sender = Sender(DELAY)
    sender.add_request(JoinRoom(room="#ops"))
    typed(sender, "a")
    sender.add_request(JoinRoom(room="#dev"))
    assert sender.requests_of(JoinRoom) == [JoinRoom(room="#ops"), JoinRoom(room="#dev")]
    assert sent(sender) == "join #ops"
    assert sent(sender) == "a"
    sender.connected()  # the link died before the ack of "a"
    assert sent(sender) == "a"
    sender.acked("a", 1)
    assert sent(sender) == "join #dev"
    assert sent(sender) is None
    assert sender.requests_of(JoinRoom) == []
