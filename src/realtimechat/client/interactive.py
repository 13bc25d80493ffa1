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
from collections.abc import Callable, Sequence

from prompt_toolkit import PromptSession
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.patch_stdout import patch_stdout
from prompt_toolkit.shortcuts import print_formatted_text
from prompt_toolkit.styles import Style

from ..protocol import Msg
from ..sanitize import visible
from .chat import Chat, Opener, Status
from .connection import Endpoint
from .render import Fragments, message_fragments, notice
from .state import ResumePoint

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
        "replay": "#808080 noitalic",
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


class TerminalView:
    """Shows a chat above the prompt."""

    def __init__(self, printer: Printer, refresh: Callable[[], None]) -> None:
        self.printer = printer
        self.refresh = refresh

    def message(self, msg: Msg, *, own: bool) -> None:
        fragments = message_fragments(msg, me=msg.from_ if own else None)
        if msg.replay:  # history, set apart from live traffic
            fragments = [(f"{style} class:replay", text) for style, text in fragments]
        self.printer.show(fragments)

    def notice(self, fragments: Fragments) -> None:
        self.printer.show(fragments)

    def changed(self) -> None:
        self.refresh()


class InteractiveClient:
    """One chat on a terminal: the prompt appears once the server has welcomed us."""

    def __init__(
        self,
        opener: Opener,
        endpoint: Endpoint,
        *,
        name: str | None = None,
        resume: ResumePoint | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.printer = Printer()
        self.session: PromptSession[str] = PromptSession(
            bottom_toolbar=self._toolbar,
            style=STYLE,
            erase_when_done=True,
            refresh_interval=0.5,  # the "reconnecting in N s" countdown
        )
        self.chat = Chat(
            opener, TerminalView(self.printer, self._refresh), name=name, resume=resume
        )

    async def run(self) -> None:
        """Chat until the user leaves (return) or the chat cannot go on (raise)."""
        chat = self.chat
        running = asyncio.create_task(chat.run(), name="chat")
        welcomed = asyncio.create_task(chat.welcomed.wait())
        try:
            await asyncio.wait({running, welcomed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            welcomed.cancel()
        if running.done():
            self.printer.flush()
            running.result()  # raises why we could not join
            return
        self.printer.show(notice("-- type to chat; /help for commands, /quit or Ctrl-D to leave"))
        with patch_stdout(raw=True):
            typing = asyncio.create_task(self._type(), name="input")
            try:
                await asyncio.wait({running, typing}, return_when=asyncio.FIRST_COMPLETED)
                if typing.done():
                    await chat.leave()
                    await running
            finally:
                for task in (typing, running):
                    task.cancel()
                await asyncio.gather(typing, running, return_exceptions=True)
                self.printer.flush()
        if running.done() and not running.cancelled():
            running.result()  # raises why the chat ended, if it did not end by our leaving

    async def _type(self) -> None:
        prompt = FormattedText([("class:prompt", f"{visible(self.chat.name or '')}> ")])
        while True:
            try:
                line = await self.session.prompt_async(prompt)
            except (EOFError, KeyboardInterrupt):
                return  # Ctrl-D / Ctrl-C: leave cleanly
            if not await self.chat.perform(line, self.printer.show):
                return

    def _toolbar(self) -> FormattedText:
        chat = self.chat
        parts: list[tuple[str, str]] = [("", f" {self.endpoint} as {visible(chat.name or '?')} ")]
        if chat.status is Status.RECONNECTING and chat.retry_at is not None:
            left = max(0.0, chat.retry_at - asyncio.get_running_loop().time())
            parts.append(("class:error", f" reconnecting in {left:.0f} s "))
        elif chat.status is not Status.CONNECTED:
            parts.append(("class:error", f" {chat.status.value} "))
        parts.append(("", " /help  /quit "))
        pending: Sequence[str] = [visible(item.say.text) for item in chat.pending.values()]
        if pending:
            shown = ", ".join(_shorten(text) for text in pending[:MAX_PENDING_SHOWN])
            extra = len(pending) - MAX_PENDING_SHOWN
            more = f" (+{extra})" if extra > 0 else ""
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
