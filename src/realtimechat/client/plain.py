"""``rtchat --plain``: one line per event on stdout, lines from stdin sent.

For scripts and tests (and automatic when stdin is not a terminal). A
thread reads stdin -- the only blocking call in the client -- and hands
each line to the event loop. Every event prints as one flushed line.
Lines read before the server's ``welcome`` (or while reconnecting) are
carried out once it arrives: messages are sent, ``/who`` and ``/whois``
asked. At end of input the client waits for ``welcome`` or a refusal, then
up to ``wait`` seconds for the server to echo every message it sent and
answer every question, says ``bye`` and reads what the server still owes
until it closes. Then, if a line was not carried out (a message the server
refused, one too long to send, a line that is no command), it raises
``MessagesNotSent``; else, if some message never came back, it raises
``MessagesNotDelivered``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import sys
import threading
from typing import TextIO

from ..errors import MessagesNotDelivered, MessagesNotSent
from .chat import Chat, Opener
from .events import Event, Message, as_json
from .render import Fragments, as_text, event_lines, fit
from .signatures import Signatures
from .state import ResumePoint

Lines = asyncio.Queue[str | None]  # None marks the end of input


def start_stdin_thread(loop: asyncio.AbstractEventLoop, lines: Lines) -> threading.Thread:
    """Read stdin in a daemon thread, handing each line to ``lines``."""

    def read() -> None:
        try:
            for raw in sys.stdin:
                loop.call_soon_threadsafe(lines.put_nowait, raw.rstrip("\r\n"))
        except (OSError, ValueError):
            pass  # stdin closed under us: treat as end of input
        with contextlib.suppress(RuntimeError):  # the loop may be gone already
            loop.call_soon_threadsafe(lines.put_nowait, None)

    thread = threading.Thread(target=read, name="stdin", daemon=True)
    thread.start()
    return thread


def terminal_columns(out: TextIO) -> int | None:
    """The width of the terminal ``out`` writes to (one column spare), or None if none."""
    try:
        if not out.isatty():
            return None
        return os.get_terminal_size(out.fileno()).columns - 1
    except (OSError, ValueError):
        return None


class PlainView:
    """Every event as one line, flushed at once; a room's line starts ``HH:MM [#ops]``.

    On a terminal a line wider than it continues indented (``render.fit``),
    so the terminal never wraps one to column 0; into a pipe or a file
    every event stays one line.
    """

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def emit(self, fragments: Fragments) -> None:
        self.out.write(as_text(fit(fragments, terminal_columns(self.out))) + "\n")
        self.out.flush()

    def show(self, event: Event) -> None:
        tag = event.msg.room if isinstance(event, Message) else None  # every room's line tagged
        for line in event_lines(event, tag=tag):
            self.emit(line)

    def changed(self) -> None:
        return None

    def clear(self) -> None:
        return None  # a script's output is not a screen


class JsonView(PlainView):
    """``--json``: every event as one JSON object per line, for bots.

    The event's facts (``events.as_json``; docs/bots.md and
    docs/bots.schema.json), never prose: messages with their text exactly as
    sent, joins and leaves with their names, errors with their codes. JSON
    escapes make every string safe. A room's events carry ``room``.
    """

    def show(self, event: Event) -> None:
        # ensure_ascii: every control or bidi character arrives as \uXXXX
        self.out.write(json.dumps(as_json(event), ensure_ascii=True) + "\n")
        self.out.flush()


class PlainClient:
    """Runs one chat in plain mode."""

    def __init__(
        self,
        opener: Opener,
        out: TextIO,
        *,
        wait: float,
        name: str | None = None,
        resume: ResumePoint | None = None,
        as_json: bool = False,
        room: str | None = None,
        certificate_expires: dt.datetime | None = None,
        signatures: Signatures | None = None,
        require_signed: bool = False,
    ) -> None:
        self.view = JsonView(out) if as_json else PlainView(out)
        self.chat = Chat(
            opener,
            self.view,
            name=name,
            resume=resume,
            room=room,
            certificate_expires=certificate_expires,
            signatures=signatures,
            require_signed=require_signed,
        )
        self.wait = wait

    async def run(self, lines: Lines) -> None:
        """Chat until input ends, ``/quit``, or the chat cannot go on."""
        chat = self.chat
        running = asyncio.create_task(chat.run(), name="chat")
        typing = asyncio.create_task(self._send_lines(lines), name="input")
        try:
            await asyncio.wait({running, typing}, return_when=asyncio.FIRST_COMPLETED)
            if running.done():
                running.result()  # raises why the chat ended
                return
            await self._until(chat.welcomed, running)  # a welcome or a refusal first
            await self._until(chat.answered, running, timeout=self.wait)
            await chat.leave()
            await running
        finally:
            typing.cancel()
            running.cancel()
            await asyncio.gather(typing, running, return_exceptions=True)
        _check_delivered(chat, self.wait)

    async def _send_lines(self, lines: Lines) -> None:
        # Carried out once welcomed, in order: the welcome says which rooms
        # are ours, so /go, /topic and /part read before it mean what they say.
        await self.chat.welcomed.wait()
        while (line := await lines.get()) is not None:
            if not await self.chat.perform(line):
                return

    @staticmethod
    async def _until(
        event: asyncio.Event, running: asyncio.Task[None], *, timeout: float | None = None
    ) -> None:
        """Wait for ``event``; if the chat ends first, raise why."""
        waiting = asyncio.create_task(event.wait())
        try:
            await asyncio.wait(
                {waiting, running}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            waiting.cancel()
        if running.done():
            running.result()


def _check_delivered(chat: Chat, wait: float) -> None:
    """Raise why the run did not do all it was asked: lines not sent first, then not echoed."""
    unsent = len(chat.pending)
    later = ""
    if unsent:
        later = f"; {_count(unsent, 'message')} not echoed by the server within {wait:g} s"
    if chat.failures:
        codes = ", ".join(dict.fromkeys(failure.code for failure in chat.failures))
        raise MessagesNotSent(f"{_count(len(chat.failures), 'line')} not sent ({codes}){later}")
    if unsent:
        raise MessagesNotDelivered(later[2:])


def _count(number: int, what: str) -> str:
    return f"{number} {what}{'' if number == 1 else 's'}"
