"""What one identity may cost, over all its sessions: requests, stored text, presence.

The limits of ``Limits`` that say "per client" bound one connection; an
identity (one certificate: protocol.md 1, "Identity") can open many. So
every identity with a session also has one ``IdentityBudget``, which all
its sessions share:

* ``requests``: a token bucket (``identity_rate``, ``identity_burst``) that
  each request spends from as well as from its session's own. The
  session's sans-I/O machine holds it (``ServerProtocol.accept(shared=)``)
  and refuses with ``rate_limited`` when either is empty.
* ``text``: a bucket of bytes (``identity_text_rate``,
  ``identity_text_burst``): what the identity's messages may add to the
  store. The hub takes a message's text from it before the message goes
  to the engine (``Hub.publish``), and refuses it with ``rate_limited``
  otherwise.
* ``presence``: a bucket of announcements (``presence_burst``, then one
  per ``presence_interval``). A join or leave of one of the identity's
  names that finds it empty waits, with every later change, until the
  bucket has a token again; then only what changed in the end is
  announced (``settle``): a reconnect meanwhile shows nothing.

The checks sit in the hub, above the engine boundary (server/engine.py),
so that they hold whichever engine stores and delivers. Each server keeps
its own budgets: with several servers (the Redis engine), an identity
connected to N of them gets N times these budgets unless the engine
shares them.

A budget is kept while the identity has a session, and after that until
every bucket has filled up again (``IdentityBudgets.sweep``): leaving and
coming back does not start an identity afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..sansio.ratelimit import TokenBucket
from .config import Limits, ServerSettings


@dataclass(frozen=True, slots=True)
class PresenceChange:
    """A name of the identity came online (``online``) or went (with ``reason``)."""

    key: str  # name_key(name)
    name: str
    online: bool
    reason: str | None = None


class IdentityBudget:
    """One identity's budgets, shared by its sessions (see the module docstring)."""

    __slots__ = (
        "due",
        "pending",
        "presence",
        "requests",
        "sessions",
        "shown",
        "text",
        "text_limited",
    )

    def __init__(self, limits: Limits, settings: ServerSettings) -> None:
        self.requests = TokenBucket(rate=limits.identity_rate, burst=limits.identity_burst)
        self.text = TokenBucket(rate=limits.identity_text_rate, burst=limits.identity_text_burst)
        interval = settings.presence_interval
        self.presence = TokenBucket(
            rate=1.0 / interval if interval > 0 else 0.0, burst=settings.presence_burst
        )
        self.sessions = 0  # welcomed sessions of this identity
        self.shown: dict[str, str] = {}  # name key -> name: online, as the others were told
        self.pending: dict[str, PresenceChange] = {}  # changes not announced yet, the last of each
        self.due: Any = None  # the hub's timer for ``pending`` (an asyncio.TimerHandle)
        self.text_limited = False  # refusing text: logged at the first refusal of an episode

    def settle(self) -> list[PresenceChange]:
        """The pending changes that change what the others were told; ``shown`` follows.

        A name that left and came back (or came and went) since the last
        announcement has nothing to announce.
        """
        changes = []
        for change in self.pending.values():
            if (change.key in self.shown) == change.online:
                continue
            if change.online:
                self.shown[change.key] = change.name
            else:
                del self.shown[change.key]
            changes.append(change)
        self.pending.clear()
        return changes

    def idle(self, now: float) -> bool:
        """Whether forgetting this budget changes nothing: no session, nothing owed, all full."""
        return (
            self.sessions == 0
            and self.due is None
            and not self.pending
            and not self.shown
            and self.requests.full(now)
            and self.text.full(now)
            and self.presence.full(now)
        )


class IdentityBudgets:
    """The budgets of the identities that have (or lately had) a session, by identity key."""

    def __init__(self, limits: Limits, settings: ServerSettings) -> None:
        self.limits = limits
        self.settings = settings
        self._budgets: dict[str, IdentityBudget] = {}

    def __len__(self) -> int:
        return len(self._budgets)

    def attach(self, identity: str) -> IdentityBudget:
        """A session of ``identity`` was welcomed: its budget (made if there is none)."""
        budget = self.of(identity)
        budget.sessions += 1
        return budget

    def detach(self, identity: str) -> None:
        """A welcomed session of ``identity`` is gone (its budget stays until ``sweep``)."""
        budget = self._budgets.get(identity)
        if budget is not None:
            budget.sessions -= 1

    def of(self, identity: str) -> IdentityBudget:
        budget = self._budgets.get(identity)
        if budget is None:
            budget = self._budgets[identity] = IdentityBudget(self.limits, self.settings)
        return budget

    def sweep(self, now: float) -> int:
        """Forget the budgets of identities gone long enough to be full again; how many."""
        idle = [key for key, budget in self._budgets.items() if budget.idle(now)]
        for key in idle:
            del self._budgets[key]
        return len(idle)

    def cancel(self) -> None:
        """At shutdown: no presence announcement is due any more."""
        for budget in self._budgets.values():
            if budget.due is not None:
                budget.due.cancel()
                budget.due = None
            budget.pending.clear()
