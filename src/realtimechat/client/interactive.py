"""``rtchat`` on a terminal: incoming text above, your line intact below.

prompt_toolkit owns the bottom of the screen: the input line and, under
it, a status line (server, your name, who is online, the connection,
unread mentions, unread messages per room, messages still on their way). Everything that arrives is
printed *above* that area with ``print_formatted_text``, which erases the
prompt, prints, and redraws it with what you were typing exactly as it
was: the line being typed is never broken, moved or lost. Arrivals within
one event-loop iteration are printed in one go: a burst costs one redraw.

What people get used to in weechat and irssi: line editing and input
history (up/down), Tab completion of names and ``/commands``, a pasted
block sent as one message (bracketed paste), each name in its own stable
colour, mentions of your name highlighted (and the terminal bell, unless
``--no-bell``), private messages marked, notices and history dimmed.
``NO_COLOR`` or ``--no-color`` turns colour off.

Rooms: the prompt names the room you type into (``alice #ops>``); a line
of another room (or of the lobby, while you type into a room) is tagged
``[#ops]`` and counted as unread in the status line until you go there
(``/go #ops``, Alt-Left/Alt-Right, Ctrl-P/Ctrl-N). Tab completes room
names after ``#``.

Reconnecting: the status line counts down to the next attempt; Enter on
an empty line (or ``/reconnect``) tries at once.

Leaving: ``/quit``, Ctrl-D or Ctrl-C say ``bye`` and return; prompt_toolkit
restores the terminal in every case. Ctrl-C works as in a shell: with text
on the input line it clears the line; on an empty line it leaves. Nothing
typed is lost by leaving: a message the server has not confirmed yet is
waited for a moment while connected; while it cannot be sent
(reconnecting) the client says so and leaves only when asked a second
time.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from prompt_toolkit import PromptSession
from prompt_toolkit.application import get_app_session, run_in_terminal
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.output import ColorDepth, Output
from prompt_toolkit.patch_stdout import patch_stdout
from prompt_toolkit.shortcuts import clear, print_formatted_text
from prompt_toolkit.styles import Style

from ..names import shown
from ..protocol import DEFAULT_ROOM, Msg
from ..sanitize import visible, visible_text
from .chat import Chat, Opener, Status
from .commands import COMMANDS, KEY_HELP_LINES, ShowHelp, parse_line
from .connection import Endpoint
from .events import Event, Message, Notice
from .render import Fragments, as_text, event_lines, fit, notice, width
from .signatures import Signatures
from .state import ResumePoint

STYLE = Style.from_dict(
    {
        "time": "#888888",
        "name": "bold",
        "own": "bold",
        "private": "italic",
        "mention": "bold reverse",
        "notice": "#888888",
        "error": "ansired",
        "prompt": "bold",
        "bottom-toolbar": "noreverse #aaaaaa",
        "status-bad": "ansired",
        "status-mention": "bold ansiyellow",
        "pending": "italic #aaaaaa",
        "replay": "#808080 noitalic",
        "room": "ansicyan",
        "prompt-room": "bold ansicyan",
        "status-unread": "bold",
        "day": "bold #888888",
    }
)
MAX_PENDING_SHOWN = 3
ECHO_WAIT = 1.5  # leaving while connected: seconds to wait for our last messages' echo


@dataclass(frozen=True, slots=True)
class Look:
    """How the terminal client shows things."""

    colour: bool = True
    bell: bool = True

    @classmethod
    def from_options(cls, *, no_color: bool, no_bell: bool) -> Look:
        return cls(colour=not no_color and not os.environ.get("NO_COLOR"), bell=not no_bell)

    @property
    def color_depth(self) -> ColorDepth | None:
        return None if self.colour else ColorDepth.DEPTH_1_BIT


class Printer:
    """Prints lines above the prompt, coalescing a burst into one redraw."""

    def __init__(self, look: Look) -> None:
        self.look = look
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
        columns = self.columns()
        text: Fragments = []
        for line in lines:  # a message fits already; a notice may not (fit)
            text += [*fit(line, columns), ("", "\n")]
        print_formatted_text(
            FormattedText(text), style=STYLE, end="", color_depth=self.look.color_depth
        )

    @staticmethod
    def columns() -> int | None:
        """The terminal's width now (one column spare), or None if unknown.

        Every line printed fits it (``render.fit``): the terminal never
        wraps one itself, at any width.
        """
        try:
            return get_app_session().output.get_size().columns - 1
        except Exception:  # no terminal to ask: do not wrap
            return None

    def clear(self) -> None:
        self._lines = []
        with contextlib.suppress(RuntimeError):  # no application running: nothing to clear
            run_in_terminal(clear)

    def bell(self) -> None:
        print_formatted_text("\a", end="")


class TerminalView:
    """Shows a chat above the prompt; counts the mentions not yet answered."""

    def __init__(
        self,
        printer: Printer,
        refresh: Callable[[], None],
        tag: Callable[[Msg], str | None] = lambda msg: None,
    ) -> None:
        self.printer = printer
        self.refresh = refresh
        self.tag = tag  # the room shown on a line not of the room typed into
        self.me: str | None = None
        self.unread_mentions = 0

    def show(self, event: Event) -> None:
        if isinstance(event, Message):
            self._message(event)
            return
        for line in event_lines(event, codes=False):  # the user's own errors without codes
            self.printer.show(line)

    def _message(self, event: Message) -> None:
        columns = self.printer.columns()
        (fragments,) = event_lines(
            event, me=self.me, multiline=True, columns=columns, tag=self.tag(event.msg)
        )
        if event.msg.replay:  # history, set apart from live traffic
            fragments = [(f"{style} class:replay", text) for style, text in fragments]
        elif event.mention:
            self.unread_mentions += 1
            if self.printer.look.bell:
                self.printer.bell()
            self.refresh()
        self.printer.show(fragments)

    def changed(self) -> None:
        self.refresh()

    def clear(self) -> None:
        self.printer.clear()


@contextlib.contextmanager
def _bracketed_paste_kept(output: Output) -> Iterator[None]:
    """Bracketed paste stays on for the whole chat, not only while a line is drawn.

    prompt_toolkit turns it off whenever it erases the input area -- for every
    message printed above it, and between one line and the next -- and on
    again at the next redraw. A paste that reaches the terminal in between
    comes without its brackets, and each of its line breaks is an Enter: one
    message per line (tests/system/test_terminal.py's paste test, under load).
    So it is turned off once, when the chat ends.
    """
    disable = output.disable_bracketed_paste
    output.disable_bracketed_paste = lambda: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        output.disable_bracketed_paste = disable  # type: ignore[method-assign]
        disable()
        output.flush()


class ChatCompleter(Completer):
    """Tab: ``/commands`` at the start of a line, ``#rooms`` after a ``#``, names anywhere."""

    def __init__(
        self,
        names: Callable[[], Iterable[str]],
        rooms: Callable[[], Iterable[str]] = lambda: (),
    ) -> None:
        self.names = names
        self.rooms = rooms

    def get_completions(self, document: Document, event: CompleteEvent) -> Iterable[Completion]:
        before = document.text_before_cursor
        word = before.split(" ")[-1]
        if before.startswith("/") and " " not in before:
            candidates: Iterable[str] = COMMANDS
            suffix = " "
        elif word.startswith("#"):
            candidates = (visible(room) for room in self.rooms())
            suffix = " "
        elif before.startswith("/go ") and before.count(" ") == 1:
            candidates = [DEFAULT_ROOM]  # /go lobby; rooms are completed after their '#'
            suffix = " "
        else:
            candidates = (shown(name) for name in self.names())
            # A name at the start of a line is addressed to: "bob: "
            suffix = ": " if before == word else " "
        for candidate in candidates:
            if word and candidate.lower().startswith(word.lower()):
                yield Completion(candidate + suffix, start_position=-len(word), display=candidate)


class InteractiveClient:
    """One chat on a terminal: the prompt appears once the server has welcomed us."""

    def __init__(
        self,
        opener: Opener,
        endpoint: Endpoint,
        *,
        name: str | None = None,
        resume: ResumePoint | None = None,
        look: Look | None = None,
        room: str | None = None,
        certificate_expires: dt.datetime | None = None,
        signatures: Signatures | None = None,
        require_signed: bool = False,
    ) -> None:
        self.endpoint = endpoint
        self.look = look or Look()
        self.printer = Printer(self.look)
        self.view = TerminalView(self.printer, self._refresh, tag=self._tag)
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
        self._warned_pending = False  # told that leaving now loses messages not sent yet
        self.session: PromptSession[str] = PromptSession(
            bottom_toolbar=self._toolbar,
            style=STYLE,
            erase_when_done=True,
            refresh_interval=0.5,  # the "reconnecting in N s" countdown
            completer=ChatCompleter(self.chat.roster.names, self.chat.rooms.completions),
            complete_while_typing=False,
            color_depth=self.look.color_depth,
            key_bindings=_key_bindings(self._switch_room),
        )

    def _tag(self, msg: Msg) -> str | None:
        return self.chat.rooms.tag(msg)

    def _switch_room(self, step: int) -> None:
        """Alt-Left/Alt-Right, Ctrl-P/Ctrl-N: the previous or next room to type into."""
        self.chat.rooms.cycle(step)
        self.chat.typing_into()

    def _prompt(self) -> FormattedText:
        """``alice> `` in the lobby, ``alice #ops> `` in a room (read at every redraw)."""
        parts: list[tuple[str, str]] = [("class:prompt", shown(self.chat.name or ""))]
        room = self.chat.rooms.current_name
        if room is not None:
            parts.append(("class:prompt-room", f" {visible(room)}"))
        parts.append(("class:prompt", "> "))
        return FormattedText(parts)

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
        self.view.me = chat.name
        self.view.show(
            Notice(
                "hint",
                "-- type to chat; Tab completes, /help for commands, /quit or Ctrl-D to leave",
            )
        )
        with patch_stdout(raw=True), _bracketed_paste_kept(self.session.output):
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
        while True:
            try:
                line = await self.session.prompt_async(self._prompt)
            except EOFError:  # Ctrl-D on an empty line
                if await self._may_leave("Ctrl-D"):
                    return
                continue
            except KeyboardInterrupt:  # Ctrl-C on an empty line
                if await self._may_leave("Ctrl-C"):
                    return
                continue
            self.view.unread_mentions = 0  # you are typing: you have read them
            if await self.chat.perform(line):
                if isinstance(parse_line(line), ShowHelp):
                    for help_line in KEY_HELP_LINES:
                        self.printer.show(notice(f"-- {help_line}"))
                if line.strip():
                    self._warned_pending = False  # a second /quit must follow the warning
            elif await self._may_leave("/quit"):
                return

    async def _may_leave(self, how: str) -> bool:
        """Whether to leave now, as the user asked with ``how``.

        With every message confirmed by the server: at once. Connected but
        still waiting for an echo: after it (or ECHO_WAIT at most), so that
        "type, then /quit" never loses the last line. Still unsent after
        that: not without a warning first, and a second request.
        """
        chat = self.chat
        if chat.pending and chat.status is Status.CONNECTED:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(ECHO_WAIT):
                    await chat.all_echoed.wait()
        if not chat.pending or self._warned_pending:
            return True
        self._warned_pending = True
        count = len(chat.pending)
        what = "1 message" if count == 1 else f"{count} messages"
        why = (
            "no answer from the server yet"
            if chat.status is Status.CONNECTED
            else chat.status.value
        )
        it = "it" if count == 1 else "them"
        self.printer.show(
            notice(
                f"-- {what} not sent yet ({why}): {how} again to leave without {it}",
                style="class:error",
            )
        )
        return False

    def _toolbar(self) -> FormattedText:
        """The status line: where and who, the connection, mentions, unread rooms, what is
        being sent; on a narrow terminal the address goes first, then the online count, so
        that what changes (and what waits for you) stays in sight."""
        chat = self.chat
        where = ("", f" {self.endpoint} as {shown(chat.name or '?')} ")
        who = ("", f" as {shown(chat.name or '?')} ")
        connected = chat.status is Status.CONNECTED
        online = ("", f"| {chat.roster.online} online ") if connected else None
        rest: list[tuple[str, str]] = []
        if chat.status is Status.RECONNECTING and chat.retry_at is not None:
            left = max(0.0, chat.retry_at - asyncio.get_running_loop().time())
            rest.append(("class:status-bad", f"| reconnecting in {left:.0f} s (Enter: now) "))
        elif chat.status is Status.CONNECTED:
            rest.append(("", "| connected "))
        else:
            rest.append(("class:status-bad", f"| {chat.status.value} "))
        if self.view.unread_mentions:
            count = self.view.unread_mentions
            mentioned = "1 mention" if count == 1 else f"{count} mentions"
            rest.append(("class:status-mention", f"| {mentioned} "))
        unread = chat.rooms.unread()
        if unread:
            counts = " · ".join(f"{visible(room)} {count}" for room, count in unread)
            rest.append(("class:status-unread", f"| {counts} "))
        pending: Sequence[str] = [visible_text(item.frame.text) for item in chat.pending.values()]
        if pending:
            listed = ", ".join(_shorten(text) for text in pending[:MAX_PENDING_SHOWN])
            extra = len(pending) - MAX_PENDING_SHOWN
            more = f" (+{extra})" if extra > 0 else ""
            rest.append(("class:pending", f"| sending: {listed}{more}"))
        columns = self.printer.columns()
        choices: list[list[tuple[str, str] | None]] = [[where, online], [who, online], [who]]
        for head in choices:
            parts = [part for part in head if part is not None] + rest
            if columns is None or width(as_text(parts)) <= columns:
                break
        return FormattedText(parts)

    def _refresh(self) -> None:
        with contextlib.suppress(Exception):  # no app running: nothing to redraw
            self.session.app.invalidate()


def _key_bindings(switch_room: Callable[[int], None]) -> KeyBindings:
    bindings = KeyBindings()

    @bindings.add("escape", "left")  # Alt-Left: terminals send ESC then the arrow
    @bindings.add("c-p")
    def _previous_room(event: KeyPressEvent) -> None:
        """Type into the previous room (the lobby comes first)."""
        switch_room(-1)

    @bindings.add("escape", "right")
    @bindings.add("c-n")
    def _next_room(event: KeyPressEvent) -> None:
        """Type into the next room."""
        switch_room(1)

    @bindings.add("c-c")
    def _interrupt(event: KeyPressEvent) -> None:
        """As in a shell: clear the line typed; on an empty line, leave."""
        buffer = event.app.current_buffer
        if buffer.text:
            buffer.reset()
        else:
            event.app.exit(exception=KeyboardInterrupt, style="class:aborting")

    return bindings


def _shorten(text: str, limit: int = 30) -> str:
    text = text.replace("\n", " ")
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
