"""``rtchat`` on a terminal: incoming text above, your line intact below.

prompt_toolkit owns the bottom of the screen: the input line and, under
it, a toolbar that shows the connection and the messages still on their
way to the server ("sending ..."). Everything that arrives is printed
*above* that area with ``print_formatted_text``, which erases the prompt,
prints, and redraws it with what you were typing exactly as it was: the
line being typed is never broken, moved or lost.

Arrivals within one event-loop iteration are printed in one go, so a
burst costs one redraw, not one per line.

Leaving: ``/quit``, Ctrl-D or Ctrl-C say ``bye`` and return; prompt_toolkit
restores the terminal in every case, including a lost connection (the
prompt is cancelled, then the error propagates to the CLI).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from prompt_toolkit import PromptSession
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.patch_stdout import patch_stdout
from prompt_toolkit.shortcuts import print_formatted_text
from prompt_toolkit.styles import Style

from ..protocol import Msg
from ..sanitize import visible
from .chat import ChatClient
from .connection import ServerConnection
from .render import Fragments, event_fragments, message_fragments, notice, welcome_lines

STYLE = Style.from_dict(
    {
        "time": "#888888",
        "name": "bold",
        "own": "bold ansicyan",
        "private": "ansimagenta",
        "notice": "#888888",
        "error": "ansired",
        "prompt": "bold",
        "bottom-toolbar": "noreverse #aaaaaa",
        "pending": "italic #aaaaaa",
    }
)
MAX_PENDING_SHOWN = 3


class Printer:
    """Prints lines above the prompt, coalescing a burst into one redraw."""

    def __init__(self) -> None:
        self._lines: list[Fragments] = []
        self._scheduled = False

    def show(self, fragments: Fragments) -> None:
        self._lines.append(fragments)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        lines, self._lines = self._lines, []
        if not lines:
            return
        text: Fragments = []
        for line in lines:
            text += [*line, ("", "\n")]
        print_formatted_text(FormattedText(text), style=STYLE, end="")


class InteractiveClient:
    """One chat session on a terminal."""

    def __init__(self, connection: ServerConnection) -> None:
        self.connection = connection
        self.printer = Printer()
        self.session: PromptSession[str] = PromptSession(
            bottom_toolbar=self._toolbar, style=STYLE, erase_when_done=True
        )
        self.chat: ChatClient | None = None

    async def run(self, name: str | None) -> None:
        """Chat until the user leaves (return) or the connection ends (raise)."""
        welcome = await self.connection.hello(name)
        self.chat = ChatClient(self.connection, welcome)
        for line in welcome_lines(welcome):
            self.printer.show(line)
        self.printer.show(notice("-- type to chat; /help for commands, /quit or Ctrl-D to leave"))
        with patch_stdout(raw=True):
            receiving = asyncio.create_task(self._receive(self.chat), name="receive")
            typing = asyncio.create_task(self._type(self.chat), name="input")
            try:
                done, _ = await asyncio.wait(
                    {receiving, typing}, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                for task in (typing, receiving):
                    task.cancel()
                await asyncio.gather(typing, receiving, return_exceptions=True)
                self.printer.flush()
        if receiving in done:
            receiving.result()  # raises why the connection ended
        await self.connection.close()

    async def _type(self, chat: ChatClient) -> None:
        prompt = FormattedText([("class:prompt", f"{visible(chat.name)}> ")])
        while True:
            try:
                line = await self.session.prompt_async(prompt)
            except (EOFError, KeyboardInterrupt):
                return  # Ctrl-D / Ctrl-C: leave cleanly
            if not await chat.perform(line, self.printer.show):
                return
            self._refresh()  # a new pending message shows in the toolbar

    async def _receive(self, chat: ChatClient) -> None:
        while True:
            frame = await self.connection.receive()
            outcome = chat.observe(frame)
            if outcome.failed is not None:
                self._refresh()
            if isinstance(frame, Msg):
                self.printer.show(message_fragments(frame, me=chat.name))
                if outcome.echoed is not None:
                    self._refresh()
                continue
            fragments = event_fragments(frame)
            if fragments is not None:
                self.printer.show(fragments)

    def _toolbar(self) -> FormattedText:
        chat = self.chat
        if chat is None:
            return FormattedText([])
        parts: list[tuple[str, str]] = [
            ("", f" {self.connection.endpoint} as {visible(chat.name)}  /help  /quit ")
        ]
        pending: Sequence[str] = [visible(item.say.text) for item in chat.pending.values()]
        if pending:
            shown = ", ".join(_shorten(text) for text in pending[:MAX_PENDING_SHOWN])
            more = (
                f" (+{len(pending) - MAX_PENDING_SHOWN})"
                if len(pending) > MAX_PENDING_SHOWN
                else ""
            )
            parts.append(("class:pending", f"  sending: {shown}{more}"))
        return FormattedText(parts)

    def _refresh(self) -> None:
        with contextlib.suppress(Exception):  # no app running: nothing to redraw
            self.session.app.invalidate()


def _shorten(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def ask(question: str, default: str | None = None, *, secret: bool = False) -> str:
    """Ask one question on the terminal until it gets an answer.

    Enter alone takes ``default`` when there is one. Ctrl-C and Ctrl-D
    raise KeyboardInterrupt and EOFError.
    """
    session: PromptSession[str] = PromptSession()
    suffix = f" [{default}]" if default else ""
    while True:
        typed = await session.prompt_async(f"{question}{suffix}: ", is_password=secret)
        answer = (typed if secret else typed.strip()) or default
        if answer:
            return answer
