"""What one identity may cost over all its sessions: the buckets and presence, no loop."""

from __future__ import annotations

from dataclasses import replace

from realtimechat.sansio.ratelimit import TokenBucket
from realtimechat.server.budgets import IdentityBudgets, PresenceChange
from realtimechat.server.config import Limits, ServerSettings

LIMITS = Limits(
    identity_rate=2, identity_burst=4, identity_text_rate=1000, identity_text_burst=5000
)
SETTINGS = ServerSettings(presence_interval=10.0, presence_burst=2)


def test_a_cost_above_the_burst_goes_when_the_bucket_is_full_and_leaves_a_debt() -> None:
    """A 64 kB message against a 5 kB burst: taken once full; the next waits out the debt."""
    bucket = TokenBucket(rate=1000, burst=5000)
    assert bucket.take(0.0, 64_000)
    assert not bucket.take(1.0, 10)
    assert bucket.wait(1.0, 10) > 50
    assert bucket.take(70.0, 10)


def test_a_bucket_with_rate_0_is_off() -> None:
    bucket = TokenBucket(rate=0, burst=1)
    assert all(bucket.take(0.0, 10**9) for _ in range(10))
    assert bucket.full(0.0)


def test_sessions_of_one_identity_get_one_budget_kept_until_it_is_full_again() -> None:
    """Leaving and coming back does not start an identity afresh: the budget stays until
    every bucket has filled up again."""
    budgets = IdentityBudgets(LIMITS, SETTINGS)
    first, second = budgets.attach("ca:x/alice"), budgets.attach("ca:x/alice")
    assert first is second
    assert first.requests.take(100.0, 4)  # the whole burst
    budgets.detach("ca:x/alice")
    budgets.detach("ca:x/alice")
    assert budgets.sweep(100.5) == 0  # one token back of four
    assert budgets.attach("ca:x/alice") is first
    budgets.detach("ca:x/alice")
    assert budgets.sweep(102.0) == 1
    assert len(budgets) == 0


def test_a_name_that_left_and_came_back_has_nothing_to_announce() -> None:
    """What was not announced yet is settled against what the others were told."""
    budget = IdentityBudgets(LIMITS, SETTINGS).attach("ca:x/alice")
    budget.pending["alice"] = PresenceChange("alice", "alice", online=True)
    assert budget.settle() == [PresenceChange("alice", "alice", online=True)]
    budget.pending["alice"] = PresenceChange("alice", "alice", False, "disconnected")
    budget.pending["alice"] = PresenceChange("alice", "alice", online=True)  # came back
    assert budget.settle() == []
    left = PresenceChange("alice", "alice", False, "quit")
    budget.pending["alice"] = left
    assert budget.settle() == [left]
    assert budget.shown == {}


def test_presence_is_off_with_an_interval_of_0() -> None:
    """presence_interval 0: every change is announced at once, however many."""
    budget = IdentityBudgets(LIMITS, replace(SETTINGS, presence_interval=0.0)).attach("k")
    assert all(budget.presence.take(0.0) for _ in range(1000))
