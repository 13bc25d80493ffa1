"""The chat state every client front end shares.

``ChatClient`` sends what the user typed and follows each of our messages
until the server echoes it back (``ack {ref, id}``, then the ``msg`` with
that id). A front end (plain or interactive) asks it what to send and
tells it what arrived; it decides how to show things.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from ..protocol import Ack, Bye, Error, Frame, Msg, SendMsg, Welcome, Who
from .commands import HELP_TEXT, AskWho, Quit, Say, ShowHelp, Unknown, parse_line
from .connection import ServerConnection, bye_error
from .render import Fragments, notice

_EARLY_ECHOES_KEPT: Final = 1024


@dataclass(slots=True)
class Pending:
    """One of our messages the server has not echoed yet."""

    ref: str
    say: Say
    msg_id: int | None = None  # known once acked


@dataclass(slots=True)
class Outcome:
    """What one received frame meant for our own messages."""

    echoed: Pending | None = None  # our message, now confirmed by its echo
    failed: Pending | None = None  # our message, refused by an error


@dataclass
class ChatClient:
    """Our side of a session: what we sent and what came back."""

    connection: ServerConnection
    welcome: Welcome
    pending: dict[str, Pending] = field(default_factory=dict)
    _by_id: dict[int, str] = field(default_factory=dict)
    _early_echoes: OrderedDict[int, None] = field(default_factory=OrderedDict)
    _refs: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _ref_prefix: str = field(default_factory=lambda: secrets.token_hex(4))
    all_echoed: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.all_echoed.set()

    @property
    def name(self) -> str:
        return self.welcome.name

    async def say(self, say: Say) -> Pending:
        """Send a message with a fresh ``ref`` and follow it until its echo."""
        ref = f"{self._ref_prefix}-{next(self._refs)}"
        pending = Pending(ref, say)
        self.pending[ref] = pending
        self.all_echoed.clear()
        await self.connection.send(SendMsg(text=say.text, to=say.to, ref=ref, action=say.action))
        return pending

    async def ask_who(self) -> None:
        await self.connection.send(Who())

    async def perform(self, line: str, show: Callable[[Fragments], None]) -> bool:
        """Carry out one typed line; ``show`` displays local notices.

        Returns False when the line asks to leave (``/quit``).
        """
        command = parse_line(line)
        match command:
            case Say():
                await self.say(command)
            case AskWho():
                await self.ask_who()
            case ShowHelp():
                show(notice(f"-- {HELP_TEXT}"))
            case Unknown():
                show(notice(f"-- {command.problem}", style="class:error"))
            case Quit():
                return False
        return True

    def observe(self, frame: Frame) -> Outcome:
        """Update our bookkeeping for one received frame.

        Raises ConnectionLost or SessionRefused when the frame is the
        server's ``bye``.
        """
        outcome = Outcome()
        if isinstance(frame, Ack):
            if frame.id in self._early_echoes:
                del self._early_echoes[frame.id]
                outcome.echoed = self._settle(frame.ref)
            elif frame.ref in self.pending:
                self.pending[frame.ref].msg_id = frame.id
                self._by_id[frame.id] = frame.ref
        elif isinstance(frame, Msg) and frame.from_ == self.name and not frame.replay:
            ref = self._by_id.pop(frame.id, None)
            if ref is not None:
                outcome.echoed = self._settle(ref)
            else:  # echo before its ack, or from another device of ours
                self._early_echoes[frame.id] = None
                if len(self._early_echoes) > _EARLY_ECHOES_KEPT:
                    self._early_echoes.popitem(last=False)
        elif isinstance(frame, Error) and frame.ref is not None:
            outcome.failed = self._settle(frame.ref)
        elif isinstance(frame, Bye):
            raise bye_error(frame, before_welcome=False)
        return outcome

    def _settle(self, ref: str) -> Pending | None:
        pending = self.pending.pop(ref, None)
        if pending is not None and pending.msg_id is not None:
            self._by_id.pop(pending.msg_id, None)
        if not self.pending:
            self.all_echoed.set()
        return pending
