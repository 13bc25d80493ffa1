"""``rtchat --plain``: one line per event on stdout, lines from stdin sent.

For scripts and tests (and automatic when stdin is not a terminal). A
thread reads stdin -- the only blocking call in the client -- and hands
each line to the event loop. Every event prints as one flushed line. At
end of input the client waits up to ``wait`` seconds for the server to
echo every message it sent, says ``bye`` and returns; if some never came
back it raises ``MessagesNotDelivered``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from typing import TextIO

from ..errors import MessagesNotDelivered
from ..protocol import Welcome
from .chat import ChatClient
from .connection import ServerConnection
from .render import Fragments, as_text, event_line, welcome_lines

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


class PlainClient:
    """Runs one session in plain mode."""

    def __init__(self, connection: ServerConnection, out: TextIO, *, wait: float) -> None:
        self.connection = connection
        self.out = out
        self.wait = wait

    def emit(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    async def run(self, lines: Lines, name: str | None) -> None:
        """Chat until input ends, ``/quit``, or the connection does."""
        welcome = await self.connection.hello(name)
        chat = ChatClient(self.connection, welcome)
        self._show_welcome(welcome)
        receiving = asyncio.create_task(self._receive(chat), name="receive")
        typing = asyncio.create_task(self._send_lines(chat, lines), name="input")
        try:
            done, _ = await asyncio.wait({receiving, typing}, return_when=asyncio.FIRST_COMPLETED)
            if receiving in done:
                receiving.result()  # raises why the connection ended
            await self._await_echoes(chat, receiving)
        finally:
            typing.cancel()
            receiving.cancel()
            await asyncio.gather(typing, receiving, return_exceptions=True)
        await self.connection.close()

    def _show_welcome(self, welcome: Welcome) -> None:
        for line in welcome_lines(welcome):
            self.emit(as_text(line))

    async def _receive(self, chat: ChatClient) -> None:
        while True:
            frame = await self.connection.receive()
            chat.observe(frame)
            line = event_line(frame)
            if line is not None:
                self.emit(line)

    async def _send_lines(self, chat: ChatClient, lines: Lines) -> None:
        def show(fragments: Fragments) -> None:
            self.emit(as_text(fragments))

        while (line := await lines.get()) is not None:
            if not await chat.perform(line, show):
                return

    async def _await_echoes(self, chat: ChatClient, receiving: asyncio.Task[None]) -> None:
        echoed = asyncio.create_task(chat.all_echoed.wait())
        try:
            done, _ = await asyncio.wait(
                {echoed, receiving}, timeout=self.wait, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            echoed.cancel()
        if receiving in done:
            receiving.result()
        if chat.pending:
            count = len(chat.pending)
            raise MessagesNotDelivered(
                f"{count} message{'' if count == 1 else 's'} not echoed by the server "
                f"within {self.wait:g} s"
            )
