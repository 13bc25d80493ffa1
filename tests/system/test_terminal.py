"""The interactive client in a real terminal (tmux): what people actually see."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from subprocess import Popen
from typing import IO

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from realtimechat.pki import CaFolder

from ..support import Pki, ServerProcess, ca_issued

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

BIN = Path(sys.executable).parent
DEADLINE = 15.0


@pytest.fixture
def server_process(pki: Pki, tmp_path: Path) -> Iterator[ServerProcess]:
    """A real rtchat-server on 127.0.0.1 with an ephemeral port; its log in a file."""
    server = ServerProcess(pki, tmp_path)
    yield server
    server.stop()


class Tmux:
    """A private tmux server: panes running a plain shell we type into."""

    def __init__(self, tmp: Path) -> None:
        self.socket = f"rtchat-test-{os.getpid()}-{id(self)}"
        self.tmp = tmp

    def run(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout

    def new_pane(self, name: str, *, width: int = 110, height: int = 30) -> None:
        home = self.tmp / "home"
        shell = (
            f"env -i PATH=/usr/bin:/bin HOME={home} TERM=screen PS1='$ ' bash --norc --noprofile"
        )
        self.run("new-session", "-d", "-s", name, "-x", str(width), "-y", str(height), shell)
        self.wait_for(name, lambda screen: "$" in screen)

    def type(self, name: str, text: str, *, enter: bool = False) -> None:
        self.run("send-keys", "-t", name, "-l", text)
        if enter:
            self.run("send-keys", "-t", name, "Enter")

    def keys(self, name: str, *keys: str) -> None:
        self.run("send-keys", "-t", name, *keys)

    def screen(self, name: str) -> str:
        return self.run("capture-pane", "-p", "-t", name)

    def lines(self, name: str) -> list[str]:
        return [line.rstrip() for line in self.screen(name).splitlines()]

    def output(self, name: str) -> str:
        """The screen without the shell's lines (its prompt and its echo of a command).

        That echo holds paths (the clone's, pytest's temporary folders), which
        may contain any word: whether a program printed something is decided
        on what it printed. ``-J`` joins the rows a long echo wraps onto.
        """
        screen = self.run("capture-pane", "-p", "-J", "-t", name)
        return "\n".join(line for line in screen.splitlines() if not line.startswith("$ "))

    def wait_output(self, name: str, text: str, timeout: float = DEADLINE) -> str:
        """Wait until the program (not the shell's echo) shows ``text``; its output then."""
        self.wait_for(name, lambda _: text in self.output(name), timeout)
        return self.output(name)

    def title(self, name: str) -> str:
        return self.run("display-message", "-p", "-t", name, "#{pane_title}").strip()

    def wait_for(self, name: str, check: Callable[[str], bool], timeout: float = DEADLINE) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen(name)
            if check(screen):
                return screen
            time.sleep(0.05)  # polling a screen we do not control, bounded by the deadline
        pytest.fail(f"timed out waiting on pane {name!r}; it shows:\n{screen}")

    def wait_text(self, name: str, text: str, timeout: float = DEADLINE) -> str:
        return self.wait_for(name, lambda screen: text in screen, timeout)

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, check=False)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    session = Tmux(tmp_path)
    yield session
    session.kill()


def rtchat_command(folder: CaFolder, port: int | None, name: str | None, *extra: str) -> str:
    parts = [str(BIN / "rtchat"), "--pki", str(folder.root)]
    if port is not None:
        parts += ["--host", "127.0.0.1", "--port", str(port), "--cn", "chatserver"]
    if name is not None:
        parts += ["--name", name]
    return " ".join([*parts, *extra])


def join_in_pane(
    tmux: Tmux, pane: str, pki: Pki, port: int, name: str, *, width: int = 110
) -> None:
    tmux.new_pane(pane, width=width)
    tmux.type(pane, rtchat_command(pki.folder, port, name), enter=True)
    tmux.wait_text(pane, f"joined as {name}")
    tmux.wait_text(pane, f"{name}>")


def prompt_line(tmux: Tmux, pane: str, name: str) -> str:
    """The input line: the last screen line starting with the prompt.

    "" while the client is redrawing (it erases the prompt, prints above it
    and draws it again): a capture can fall in between, so check with
    ``wait_for`` or ``lines_with_prompt``.
    """
    return _prompt_in(tmux.lines(pane), name)


def _prompt_in(lines: list[str], name: str) -> str:
    return next((line for line in reversed(lines) if line.startswith(f"{name}>")), "")


def lines_with_prompt(tmux: Tmux, pane: str, name: str, expected: str) -> list[str]:
    """The screen's lines, from the first capture whose input line is ``expected``."""

    def stripped(screen: str) -> list[str]:
        return [line.rstrip() for line in screen.splitlines()]

    screen = tmux.wait_for(pane, lambda shown: _prompt_in(stripped(shown), name) == expected)
    return stripped(screen)


def at_shell(tmux: Tmux, pane: str, code: int = 0) -> None:
    """The client has exited with ``code`` and the shell is back."""
    tmux.wait_for(pane, lambda screen: screen.rstrip().endswith("$"))
    tmux.type(pane, "echo code=$?", enter=True)
    tmux.wait_text(pane, f"code={code}")


def test_arrivals_show_above_the_line_being_typed(
    tmux: Tmux, pki: Pki, server_process: ServerProcess
) -> None:
    """Messages arriving mid-word print above alice's input; her words arrive whole."""
    join_in_pane(tmux, "alice", pki, server_process.port, "alice")
    join_in_pane(tmux, "bob", pki, server_process.port, "bob")
    tmux.wait_text("alice", "bob joined")

    tmux.type("alice", "hello wor")
    tmux.wait_for("alice", lambda _: prompt_line(tmux, "alice", "alice") == "alice> hello wor")
    for n in range(5):
        tmux.type("bob", f"interruption {n}", enter=True)
    tmux.wait_text("alice", "bob: interruption 4")
    lines = lines_with_prompt(tmux, "alice", "alice", "alice> hello wor")
    arrival = max(i for i, line in enumerate(lines) if "bob: interruption 4" in line)
    prompt = max(i for i, line in enumerate(lines) if line.startswith("alice>"))
    assert arrival < prompt, "the message must appear above the input line"
    assert not any("interruption" in line for line in lines[prompt:])

    tmux.type("alice", "ld", enter=True)
    tmux.wait_text("bob", "alice: hello world")
    tmux.wait_for("alice", lambda _: prompt_line(tmux, "alice", "alice") == "alice>")

    tmux.type("alice", "/who", enter=True)
    tmux.wait_text("alice", "online: alice, bob")

    tmux.type("alice", "/quit", enter=True)
    tmux.wait_text("bob", "alice left (quit)")
    at_shell(tmux, "alice")


def test_ctrl_d_leaves_cleanly(tmux: Tmux, pki: Pki, server_process: ServerProcess) -> None:
    """Ctrl-D says bye (the others see 'quit'), exits 0 and gives the shell back."""
    join_in_pane(tmux, "bob", pki, server_process.port, "bob")
    join_in_pane(tmux, "alice", pki, server_process.port, "alice")
    tmux.keys("alice", "C-d")
    tmux.wait_text("bob", "alice left (quit)")
    at_shell(tmux, "alice")


def typed_while_away(tmux: Tmux, pki: Pki, server_process: ServerProcess, text: str) -> None:
    """Alice joins, the server goes away, she sends ``text``: it waits, unsent."""
    join_in_pane(tmux, "alice", pki, server_process.port, "alice")
    server_process.stop()
    tmux.wait_text("alice", "reconnecting in")
    tmux.type("alice", text, enter=True)
    tmux.wait_text("alice", f"sending: {text}")


def test_quit_with_an_unsent_message_warns_and_keeps_it(
    tmux: Tmux, pki: Pki, server_process: ServerProcess
) -> None:
    """/quit while a message waits for the server: a warning, not a silent loss."""
    typed_while_away(tmux, pki, server_process, "will this be lost?")
    tmux.type("alice", "/quit", enter=True)
    tmux.wait_text(
        "alice", "1 message not sent yet (reconnecting): /quit again to leave without it"
    )
    lines_with_prompt(tmux, "alice", "alice", "alice>")  # the client is still running
    server_process.start()
    tmux.wait_text("alice", "alice: will this be lost?", timeout=45)
    tmux.wait_for("alice", lambda screen: "sending:" not in screen)
    tmux.type("alice", "/quit", enter=True)  # everything confirmed: leave at once
    at_shell(tmux, "alice")


def test_a_second_quit_or_ctrl_d_leaves_without_the_unsent_message(
    tmux: Tmux, pki: Pki, server_process: ServerProcess
) -> None:
    """Asked twice, the client leaves; Ctrl-D and Ctrl-C count as much as /quit."""
    typed_while_away(tmux, pki, server_process, "gone with the wind")
    tmux.keys("alice", "C-c")
    tmux.wait_text("alice", "1 message not sent yet (reconnecting): Ctrl-C again")
    tmux.keys("alice", "C-d")
    at_shell(tmux, "alice")


def test_quit_right_after_typing_waits_for_the_echo(
    tmux: Tmux, pki: Pki, server_process: ServerProcess
) -> None:
    """Connected, a last line not yet confirmed: /quit waits a moment for it, then leaves."""
    join_in_pane(tmux, "bob", pki, server_process.port, "bob")
    join_in_pane(tmux, "alice", pki, server_process.port, "alice")
    server_process.process.send_signal(signal.SIGSTOP)  # the echo cannot come yet
    try:
        tmux.type("alice", "last words", enter=True)
        tmux.wait_text("alice", "sending: last words")
        tmux.type("alice", "/quit", enter=True)
        # The prompt has returned /quit (its toolbar is gone): the client waits for the echo.
        tmux.wait_for("alice", lambda screen: "sending: last words" not in screen)
    finally:
        server_process.process.send_signal(signal.SIGCONT)
    tmux.wait_text("bob", "alice: last words")
    tmux.wait_text("bob", "alice left (quit)")
    at_shell(tmux, "alice")
    screen = tmux.screen("alice")
    assert "alice: last words" in screen, "alice left before her line was confirmed"
    assert "not sent yet" not in screen


def test_ctrl_c_clears_the_line_then_leaves(
    tmux: Tmux, pki: Pki, server_process: ServerProcess
) -> None:
    """As in a shell: Ctrl-C throws away what is typed; on an empty line it leaves."""
    join_in_pane(tmux, "bob", pki, server_process.port, "bob")
    join_in_pane(tmux, "alice", pki, server_process.port, "alice")
    tmux.type("alice", "/help", enter=True)
    tmux.wait_text("alice", "clear the line typed; on an empty line, leave")
    tmux.type("alice", "a thought I regret")
    tmux.wait_for("alice", lambda _: prompt_line(tmux, "alice", "alice").endswith("regret"))
    tmux.keys("alice", "C-c")
    tmux.wait_for("alice", lambda _: prompt_line(tmux, "alice", "alice") == "alice>")
    tmux.type("alice", "what I meant", enter=True)
    tmux.wait_text("bob", "alice: what I meant")
    assert "regret" not in tmux.screen("bob")
    tmux.keys("alice", "C-c")
    tmux.wait_text("bob", "alice left (quit)")
    at_shell(tmux, "alice")


def test_missing_settings_are_asked_in_order(
    tmux: Tmux, pki: Pki, server_process: ServerProcess
) -> None:
    """With no host, port or name, the client asks for each in turn and connects.

    The CN is the host (the certificate carries 127.0.0.1); the name is asked
    because the CA folder holds several users' certificates.
    """
    tmux.new_pane("alice")
    tmux.type("alice", rtchat_command(pki.folder, None, None), enter=True)
    answers = [
        ("Server address", "127.0.0.1"),
        ("Port", str(server_process.port)),
        ("Your name", "alice"),
    ]
    for question, answer in answers:
        tmux.wait_output("alice", question)
        tmux.type("alice", answer, enter=True)
    screen = tmux.wait_output("alice", "joined as alice")
    order = [screen.index(question) for question, _ in answers]
    assert order == sorted(order)
    assert "Server certificate name" not in screen


def test_with_cert_and_key_no_name_is_asked_and_a_refused_name_is_explained(
    tmux: Tmux, pki: Pki, server_process: ServerProcess
) -> None:
    """--cert/--key choose the identity: no name question; a --name not granted is explained."""
    files = pki.client("alice")
    command = (
        f"{BIN / 'rtchat'} --host 127.0.0.1 --port {server_process.port} --cn chatserver "
        f"--cert {files.cert} --key {files.key} --ca {files.ca}"
    )
    tmux.new_pane("alice")
    tmux.type("alice", command, enter=True)
    screen = tmux.wait_output("alice", "joined as alice")
    assert "Your name" not in screen
    assert "was not used" not in screen
    tmux.keys("alice", "C-d")
    at_shell(tmux, "alice")
    tmux.type("alice", "clear", enter=True)
    tmux.type("alice", f"{command} --name mallory", enter=True)
    tmux.wait_text(
        "alice",
        "the server names you by your certificate, so you are alice here ('mallory' was not used)",
    )
    tmux.wait_text("alice", "alice>")


def test_hostile_text_leaves_the_screen_intact(
    tmux: Tmux, pki: Pki, server_process: ServerProcess
) -> None:
    """Escape sequences from another user are shown as text; the screen and title survive."""
    join_in_pane(tmux, "alice", pki, server_process.port, "alice")
    hostile = "\x1b[2J\x1b[H\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07\u202egnp.exe\x1b[31mRED"
    bob = subprocess.Popen(
        rtchat_command(pki.folder, server_process.port, "bob", "--plain", "--wait", "5").split(),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    tmux.wait_text("alice", "bob joined")
    before = [line for line in tmux.lines("alice") if line]
    title_before = tmux.title("alice")
    bob.communicate(hostile + "\nafter the attack\n", timeout=DEADLINE)
    assert bob.returncode == 0
    after = tmux.wait_text("alice", "bob: after the attack")
    assert tmux.title("alice") == title_before != "pwned"
    for line in before[:-1]:  # everything shown before is still there (the prompt moved)
        assert line in after
    attack = next(line for line in after.splitlines() if "bob: " in line and "gnp" in line)
    assert "\\x1b[2J" in attack
    assert "\\x1b]0;pwned\\x07" in attack
    assert "\\u202e" in attack


def test_every_script_is_drawn_as_written(
    tmux: Tmux, pki: Pki, server_process: ServerProcess
) -> None:
    """Persian, Hindi and emoji keep their joiners on screen; lone joiners and overrides do not."""
    join_in_pane(tmux, "alice", pki, server_process.port, "alice")
    join_in_pane(tmux, "bob", pki, server_process.port, "bob")
    tmux.wait_text("alice", "bob joined")
    persian, hindi, emoji = "می\u200cخواهم", "क्\u200dष", "👩\u200d💻 👨\u200d👩\u200d👧"  # noqa: RUF001
    for text in (persian, hindi, emoji, "ad\u200dmin abc\u202edef"):
        tmux.run("set-buffer", "-b", "text", text)
        tmux.run("paste-buffer", "-p", "-b", "text", "-t", "bob")
        tmux.keys("bob", "Enter")
    screen = tmux.wait_text("alice", "bob: ad\\u200dmin abc\\u202edef")
    for text in (persian, hindi, emoji):
        assert f"bob: {text}" in screen, ascii(screen)


def test_pending_until_echoed_then_shown_as_ours(
    tmux: Tmux, pki: Pki, server_process: ServerProcess
) -> None:
    """A message the server has not echoed shows as 'sending'; once echoed it is ours, in bold."""
    join_in_pane(tmux, "alice", pki, server_process.port, "alice")
    server_process.process.send_signal(signal.SIGSTOP)  # the server hears nothing for now
    try:
        tmux.type("alice", "are you there", enter=True)
        tmux.wait_text("alice", "sending: are you there")
        assert "alice: are you there" not in tmux.screen("alice")
    finally:
        server_process.process.send_signal(signal.SIGCONT)
    tmux.wait_text("alice", "alice: are you there")
    tmux.wait_for("alice", lambda screen: "sending:" not in screen)
    styled = tmux.run("capture-pane", "-p", "-e", "-t", "alice")
    own_line = next(line for line in styled.splitlines() if "are you there" in line)
    assert "\x1b[1" in own_line.split("alice")[0], "our own name is drawn in bold"


@pytest.mark.protocol("9.2")
def test_lost_server_shows_reconnecting_and_recovers(
    tmux: Tmux, pki: Pki, server_process: ServerProcess
) -> None:
    """When the server goes away the client says so, keeps the typed line, and comes back."""
    join_in_pane(tmux, "alice", pki, server_process.port, "alice")
    tmux.type("alice", "half a thought")
    server_process.stop()
    tmux.wait_text("alice", "the server ended the session: shutdown; reconnecting in")
    tmux.wait_text("alice", "reconnecting in")
    lines_with_prompt(tmux, "alice", "alice", "alice> half a thought")
    server_process.start()
    tmux.wait_for("alice", lambda screen: screen.count("joined as alice") == 2, timeout=45)
    tmux.type("alice", ", finished", enter=True)
    tmux.wait_text("alice", "alice: half a thought, finished")
    tmux.keys("alice", "C-d")
    at_shell(tmux, "alice")


def test_enter_on_an_empty_line_reconnects_now(
    tmux: Tmux, pki: Pki, server_process: ServerProcess
) -> None:
    """Back-off has grown long; the server is back: Enter on an empty line reconnects at once."""
    join_in_pane(tmux, "alice", pki, server_process.port, "alice")
    server_process.stop()
    tmux.wait_text("alice", "(Enter: now)")
    # After five failed attempts the next waits 16 s (12.8-19.2 s with the jitter).
    countdown = re.compile(r"\| reconnecting in (1\d) s")
    tmux.wait_for("alice", lambda screen: countdown.search(screen) is not None, timeout=40)
    server_process.start()
    tmux.keys("alice", "Enter")
    tmux.wait_text("alice", "-- reconnecting now")
    tmux.wait_for("alice", lambda screen: screen.count("joined as alice") == 2, timeout=6)
    tmux.wait_text("alice", "| connected")


def test_refusal_is_one_line_and_a_non_zero_exit(
    tmux: Tmux, pki: Pki, server_process: ServerProcess
) -> None:
    """A server certificate that does not match --cn: one line, exit 4, no prompt drawn."""
    tmux.new_pane("alice")
    command = rtchat_command(pki.folder, server_process.port, "alice").replace(
        "--cn chatserver", "--cn someone-else"
    )
    tmux.type("alice", command, enter=True)
    screen = tmux.wait_output("alice", "rtchat: the server's certificate is not for 'someone-else'")
    assert "alice>" not in screen
    at_shell(tmux, "alice", 4)


def test_tab_completes_names_and_commands(
    tmux: Tmux, pki: Pki, server_process: ServerProcess
) -> None:
    """Tab turns 'bo' into 'bob: ' at the start of a line and '/wh' into a command."""
    join_in_pane(tmux, "bob", pki, server_process.port, "bob")
    join_in_pane(tmux, "alice", pki, server_process.port, "alice")
    tmux.type("alice", "bo")
    tmux.keys("alice", "Tab")
    tmux.wait_for("alice", lambda _: prompt_line(tmux, "alice", "alice") == "alice> bob:")
    tmux.type("alice", "ready?", enter=True)
    tmux.wait_text("bob", "alice: bob: ready?")
    tmux.type("alice", "/whoi")
    tmux.keys("alice", "Tab")
    tmux.wait_for("alice", lambda _: prompt_line(tmux, "alice", "alice") == "alice> /whois")


def test_a_mention_rings_the_bell_and_is_highlighted(
    tmux: Tmux, pki: Pki, server_process: ServerProcess, tmp_path: Path
) -> None:
    """Bob names alice: her terminal gets a BEL and the line is drawn in reverse video."""
    join_in_pane(tmux, "alice", pki, server_process.port, "alice")
    join_in_pane(tmux, "bob", pki, server_process.port, "bob")
    raw = tmp_path / "alice.raw"
    tmux.run("pipe-pane", "-o", "-t", "alice", f"cat >> {raw}")
    tmux.type("bob", "nothing for anyone", enter=True)
    tmux.type("bob", "alice, lunch?", enter=True)
    tmux.wait_text("alice", "bob: alice, lunch?")
    tmux.wait_text("alice", "1 mention")
    styled = tmux.run("capture-pane", "-p", "-e", "-t", "alice")
    line = next(text for text in styled.splitlines() if "lunch?" in text)
    assert "\x1b[7m" in line or ";7m" in line, "the mention is not highlighted"
    plain = next(text for text in styled.splitlines() if "nothing for anyone" in text)
    assert "7m" not in plain
    data = b""
    deadline = time.monotonic() + DEADLINE
    while b"\x07" not in data and time.monotonic() < deadline:
        data = raw.read_bytes() if raw.exists() else b""
        time.sleep(0.05)  # polling a file tmux writes, bounded by the deadline
    assert data.count(b"\x07") == 1, "exactly one bell, for the mention"
    assert "mention(s)" not in tmux.screen("alice")
    tmux.type("bob", "alice: and coffee?", enter=True)
    tmux.wait_text("alice", "| 2 mentions")
    tmux.type("alice", "yes", enter=True)
    tmux.wait_for("alice", lambda screen: "mention" not in screen.splitlines()[-1])


def test_private_messages_and_ignore(tmux: Tmux, pki: Pki, server_process: ServerProcess) -> None:
    """A /msg shows only at its recipient (marked); /ignore hides someone from this client."""
    for user in ("alice", "bob", "carol"):
        join_in_pane(tmux, user, pki, server_process.port, user)
    tmux.wait_text("alice", "carol joined")
    tmux.type("alice", "/msg bob just between us", enter=True)
    tmux.wait_text("bob", "alice -> bob: just between us")
    tmux.wait_text("alice", "alice -> bob: just between us")
    tmux.type("carol", "/ignore alice", enter=True)
    tmux.wait_text("carol", "ignoring alice")
    tmux.type("alice", "can anyone hear me", enter=True)
    tmux.wait_text("bob", "alice: can anyone hear me")
    tmux.type("bob", "I can", enter=True)
    tmux.wait_text("carol", "bob: I can")
    carol = tmux.screen("carol")
    assert "just between us" not in carol
    assert "can anyone hear me" not in carol
    tmux.type("alice", "/msg dave are you there", enter=True)
    screen = tmux.wait_text("alice", "!! nobody is called 'dave'")
    assert "no_such_user" not in screen  # the protocol's code is not for people


def test_pastes_stay_whole_while_messages_arrive(
    tmux: Tmux, pki: Pki, server_process: ServerProcess, tmp_path: Path
) -> None:
    """Multi-line pastes while another user's lines keep arriving: each paste is one message.

    prompt_toolkit turns bracketed paste off while it prints a line above the
    input, and a paste landing then would be split into one message per line.
    A --json observer records every message alice sends.
    """
    join_in_pane(tmux, "alice", pki, server_process.port, "alice")

    def plain(name: str, *options: str, out: int | IO[str] = subprocess.DEVNULL) -> Popen[str]:
        command = rtchat_command(pki.folder, server_process.port, name, *options)
        state = ["--state", str(tmp_path / f"{name}.state")]
        return subprocess.Popen(
            [*command.split(), *state], stdin=subprocess.PIPE, stdout=out, text=True
        )

    with (tmp_path / "observed.jsonl").open("w") as observed:
        observer = plain("dave", "--json", out=observed)
        talker = plain("carol", "--plain")
        assert observer.stdin is not None
        assert talker.stdin is not None
        try:
            tmux.wait_text("alice", "carol joined")
            for n in range(5):
                talker.stdin.write("".join(f"chatter {n}.{m}\n" for m in range(8)))
                talker.stdin.flush()
                tmux.run("set-buffer", "-b", "block", f"paste {n} first\npaste {n} second")
                tmux.run("paste-buffer", "-p", "-b", "block", "-t", "alice")
                tmux.keys("alice", "Enter")
            tmux.wait_text("alice", "paste 4 second")
            deadline = time.monotonic() + DEADLINE
            while "paste 4 second" not in (tmp_path / "observed.jsonl").read_text():
                assert time.monotonic() < deadline, "the observer did not get the last paste"
                time.sleep(0.1)
        finally:
            for client in (talker, observer):
                if client.stdin is not None:
                    client.stdin.close()
                client.wait(timeout=30)
    events = [json.loads(line) for line in (tmp_path / "observed.jsonl").read_text().splitlines()]
    from_alice = [event["text"] for event in events if event.get("from") == "alice"]
    assert from_alice == [f"paste {n} first\npaste {n} second" for n in range(5)]


def test_status_line_counts_users_and_shows_reconnecting(
    tmux: Tmux, pki: Pki, server_process: ServerProcess
) -> None:
    """The bottom line says how many are online, and 'reconnecting' while the server is away.

    Offline it shows no count: the last one known would be stale.
    """
    join_in_pane(tmux, "alice", pki, server_process.port, "alice")
    tmux.wait_text("alice", "| 1 online")
    join_in_pane(tmux, "bob", pki, server_process.port, "bob")
    tmux.wait_text("alice", "| 2 online")
    server_process.stop()
    status = tmux.wait_text("alice", "| reconnecting in").splitlines()
    assert not any("online" in line for line in status if "| reconnecting in" in line)
    tmux.keys("bob", "C-d")
    at_shell(tmux, "bob")  # bob leaves while the server is away: alice is alone after it
    server_process.start()
    tmux.wait_for("alice", lambda screen: "| connected" in screen, timeout=45)
    tmux.wait_text("alice", "| 1 online |")


def test_a_pasted_block_is_one_message(tmux: Tmux, pki: Pki, server_process: ServerProcess) -> None:
    """A multi-line paste is sent as one message and shown with its line breaks."""
    join_in_pane(tmux, "alice", pki, server_process.port, "alice")
    join_in_pane(tmux, "bob", pki, server_process.port, "bob")
    tmux.run("set-buffer", "-b", "block", "first line\nsecond line\nthird line")
    tmux.run("paste-buffer", "-p", "-b", "block", "-t", "alice")
    tmux.keys("alice", "Enter")
    screen = tmux.wait_text("bob", "third line")
    lines = screen.splitlines()
    first = next(i for i, line in enumerate(lines) if line.endswith("alice: first line"))
    assert lines[first + 1].strip() == "second line"
    assert lines[first + 2].strip() == "third line"
    assert lines[first + 1].startswith(" ")  # indented under the first line
    assert screen.count("alice:") == 1, "the paste arrived as one message"


@pytest.mark.protocol("9.2", "12.3")
def test_lines_pasted_past_the_rate_limit_arrive_in_order(
    tmux: Tmux, pki: Pki, tmp_path: Path
) -> None:
    """30 lines pasted without bracketed paste, past the rate limit: bob sees them in order.

    Issue 13's reproduction: the terminal feeds the paste in line by line,
    so lines keep coming while one the server refused waits to be resent.
    A burst of 3 and a rate of 2 a second are bitten whenever the client
    gets an answer within half a second, even on a busy machine (at 20 a
    second a loaded machine's client was too slow to be refused), and let
    the rest through in about 15 s.
    """
    server = ServerProcess(pki, tmp_path, extra=["--rate", "2", "--burst", "3"])
    try:
        join_in_pane(tmux, "bob", pki, server.port, "bob")
        join_in_pane(tmux, "alice", pki, server.port, "alice")
        numbered = [str(n) for n in range(1, 31)]
        tmux.run("set-buffer", "-b", "lines", "\n".join(numbered) + "\n")
        tmux.run("paste-buffer", "-b", "lines", "-t", "alice")  # no -p: each line ends in Enter
        tmux.wait_for("bob", lambda _: len(alices_numbers(tmux, "bob")) == len(numbered), 60)
        tmux.wait_for("alice", lambda screen: "sending:" not in screen)
        assert " limited " in server.log_text()  # the limit did bite
        seen = alices_numbers(tmux, "bob")
        assert seen == numbered, " ".join(seen)
    finally:
        server.stop()


def alices_numbers(tmux: Tmux, pane: str) -> list[str]:
    """The numbers alice sent, as ``pane`` shows them from the top of its scrollback."""
    screen = tmux.run("capture-pane", "-p", "-J", "-S", "-", "-t", pane)
    return [found.group(1) for found in re.finditer(r" alice: (\d+)$", screen, re.MULTILINE)]


def test_a_long_line_wraps_under_the_text(
    tmux: Tmux, pki: Pki, server_process: ServerProcess
) -> None:
    """A line wider than the terminal continues under its text, not at column 0."""
    join_in_pane(tmux, "alice", pki, server_process.port, "alice")
    join_in_pane(tmux, "bob", pki, server_process.port, "bob")
    words = [f"word{n:02}" for n in range(40)]  # 279 columns of text
    tmux.type("bob", " ".join(words), enter=True)
    lines = tmux.wait_text("alice", "word39").splitlines()
    first = next(i for i, line in enumerate(lines) if "bob: word00" in line)
    indent = lines[first].index("word00")
    block = [lines[first][indent:]]
    for line in lines[first + 1 :]:
        if not line.startswith(" " * indent):
            break
        block.append(line[indent:])
    assert " ".join(block).split() == words, lines
    assert len(block) >= 3
    # From the message on: the shell's echo of the rtchat command above may fill whole rows.
    assert all(len(line) < 110 for line in lines[first:])
    tmux.run("resize-window", "-t", "alice", "-x", "70")
    tmux.wait_for(
        "alice", lambda _: int(tmux.run("display", "-p", "-t", "alice", "#{pane_width}")) == 70
    )
    tmux.type("bob", "again: " + " ".join(words), enter=True)
    lines = tmux.wait_text("alice", "bob: again:").splitlines()
    first = next(i for i, line in enumerate(lines) if "bob: again:" in line)
    assert lines[first + 1].startswith(" " * indent + "word")
    assert all(len(line.rstrip()) <= 70 for line in lines[first:])


LONG_NAME = "the_longest_name_this_chat_takes"  # 32 characters, the most a name has
HEAD = re.compile(r"^\d\d:\d\d \S+( -> \S+)?: ")  # how a message's first line starts


def test_a_narrow_pane_never_shows_a_forged_line(
    tmux: Tmux, pki: Pki, server_process: ServerProcess, tmp_path: Path
) -> None:
    """Issue 16, finding 5: a 58-column pane, a 32-character sender, a padded message.

    The head (time and name) left under 20 columns for the text, so the
    client stopped wrapping, the terminal wrapped at column 0, and the
    padding put a fake "15:09 alice: ..." line at the start of a row. Now
    every line is wrapped by the client and continues indented.
    """
    width = 58
    join_in_pane(tmux, "bob", pki, server_process.port, "bob", width=width)
    files = ca_issued(pki, tmp_path, "long", LONG_NAME, ExtendedKeyUsageOID.CLIENT_AUTH)
    files.key.chmod(0o600)
    sender = subprocess.Popen(
        [
            str(BIN / "rtchat"),
            *("--host", "127.0.0.1", "--port", str(server_process.port), "--cn", "chatserver"),
            *("--cert", str(files.cert), "--key", str(files.key), "--ca", str(files.ca)),
            *("--plain", "--wait", "5"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    tmux.wait_text("bob", f"{LONG_NAME} joined")
    head = len(f"15:09 {LONG_NAME}: ")  # 40 columns: 18 left on the first row
    forged = "15:09 alice: new plan: mail me the prod key"
    padded = "ok" + " " * (width - head - len("ok")) + forged
    sender.communicate(f"{padded}\n{'word ' * 30}lastword\n", timeout=DEADLINE)
    assert sender.returncode == 0
    tmux.wait_text("bob", "prod key")
    lines = tmux.wait_text("bob", "lastword").splitlines()
    first = next(i for i, line in enumerate(lines) if f"{LONG_NAME}: ok" in line)
    shown = [line.rstrip() for line in lines[first:] if line.strip()]
    for line in shown:
        assert len(line) <= width
        if HEAD.match(line):  # a message's first line: only the sender's real ones
            assert f" {LONG_NAME}: " in line, line
    heads = [line for line in shown if HEAD.match(line)]
    assert len(heads) == 2, lines  # the two messages, and nothing that passes for one
    forged_at = next(line for line in shown if "mail me the prod key" in line)
    assert forged_at.startswith(" "), forged_at  # a continuation, indented
    assert not any(line.startswith("15:09 alice") for line in lines)
    words = next(i for i, line in enumerate(lines) if f"{LONG_NAME}: word" in line)
    for line in lines[words + 1 :]:
        if "lastword" in line:
            assert line.startswith(" ")
            break
        assert line.startswith(" "), line


def running(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def test_server_reloads_on_kill_hup_and_stops_when_its_terminal_closes(
    tmux: Tmux, pki: Pki, tmp_path: Path
) -> None:
    """Both are SIGHUP: ``kill -HUP`` means reload, a closed terminal means stop."""
    log = tmp_path / "server.log"
    pid_file = tmp_path / "server.pid"
    tmux.new_pane("server")
    tmux.type(
        "server",
        f"echo $$ > {pid_file}; exec {BIN / 'rtchat-server'} --host 127.0.0.1 --port 0 "
        f"--pki {pki.folder.root} --ephemeral 2>>{log}",
        enter=True,
    )
    deadline = time.monotonic() + DEADLINE
    while "listening on" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    pid = int(pid_file.read_text())

    os.kill(pid, signal.SIGHUP)
    while "TLS reloaded" not in log.read_text():
        assert time.monotonic() < deadline, f"no reload after kill -HUP:\n{log.read_text()}"
        time.sleep(0.05)
    assert running(pid)

    tmux.run("kill-session", "-t", "server")
    deadline = time.monotonic() + DEADLINE
    while running(pid):
        assert time.monotonic() < deadline, "the server outlived its terminal"
        time.sleep(0.05)
    text = log.read_text()
    assert "the terminal closed" in text
    assert text.rstrip().endswith("stopped"), text


def wait_prompt(tmux: Tmux, pane: str, expected: str) -> None:
    """Wait until the input line of ``pane`` (its user named as the pane) is ``expected``."""
    tmux.wait_for(pane, lambda _: room_prompt(tmux, pane, pane) == expected)


def room_prompt(tmux: Tmux, pane: str, name: str) -> str:
    """The input line when it may name a room (``alice #ops> ...``), as ``prompt_line``."""
    pattern = re.compile(rf"^{re.escape(name)}( #\S+)?>")
    return next((line for line in reversed(tmux.lines(pane)) if pattern.match(line)), "")


@pytest.mark.protocol("6.5")
def test_two_rooms_unread_counts_switching_tags_and_tab(
    tmux: Tmux, pki: Pki, server_process: ServerProcess
) -> None:
    """The prompt names the room; another room's lines are tagged and counted until visited;
    /go, Alt-Left/Right and Ctrl-N switch; Tab completes a room name."""
    join_in_pane(tmux, "alice", pki, server_process.port, "alice")
    join_in_pane(tmux, "bob", pki, server_process.port, "bob")
    for pane in ("alice", "bob"):
        for room in ("#ops", "#dev"):
            tmux.type(pane, f"/join {room}", enter=True)
            wait_prompt(tmux, pane, f"{pane} {room}>")
    tmux.type("bob", "/go #ops", enter=True)
    tmux.wait_for("bob", lambda _: room_prompt(tmux, "bob", "bob") == "bob #ops>")
    for text in ("deploy at five", "rollback plan ready"):
        tmux.type("bob", text, enter=True)
    tmux.keys("bob", "C-n")  # #ops -> the lobby (after #ops comes the lobby again)
    tmux.wait_for("bob", lambda _: room_prompt(tmux, "bob", "bob") == "bob>")
    tmux.keys("bob", "C-n")  # the lobby -> #dev
    tmux.wait_for("bob", lambda _: room_prompt(tmux, "bob", "bob") == "bob #dev>")
    tmux.type("bob", "build is green", enter=True)

    screen = tmux.wait_text("alice", "bob: build is green")  # alice types into #dev
    assert re.search(r"\[#ops\] bob: deploy at five", screen), screen
    assert re.search(r"\[#ops\] bob: rollback plan ready", screen), screen
    assert "[#dev]" not in screen  # lines of the room typed into are not tagged
    tmux.wait_text("alice", "| #ops 2")

    tmux.type("alice", "/go #o")
    tmux.keys("alice", "Tab")
    tmux.wait_for("alice", lambda _: room_prompt(tmux, "alice", "alice") == "alice #dev> /go #ops")
    tmux.keys("alice", "Enter")
    tmux.wait_for("alice", lambda _: room_prompt(tmux, "alice", "alice") == "alice #ops>")
    tmux.wait_for("alice", lambda screen: "| #ops 2" not in screen)
    tmux.type("alice", "on it", enter=True)
    tmux.wait_text("bob", "[#ops] alice: on it")
    tmux.keys("alice", "M-Left")  # #ops -> #dev
    tmux.wait_for("alice", lambda _: room_prompt(tmux, "alice", "alice") == "alice #dev>")
    tmux.keys("alice", "M-Right")
    tmux.wait_for("alice", lambda _: room_prompt(tmux, "alice", "alice") == "alice #ops>")


@pytest.mark.protocol("6.5")
def test_a_narrow_status_line_keeps_the_unread_counts(
    tmux: Tmux, pki: Pki, server_process: ServerProcess
) -> None:
    """At 60 columns the address gives way, not the counts of the rooms waiting to be read."""
    join_in_pane(tmux, "alice", pki, server_process.port, "alice", width=60)
    join_in_pane(tmux, "bob", pki, server_process.port, "bob")
    rooms = ("#announce", "#dev", "#ops")
    for pane in ("alice", "bob"):
        for room in rooms:
            tmux.type(pane, f"/join {room}", enter=True)
            wait_prompt(tmux, pane, f"{pane} {room}>")
    tmux.type("alice", "/go lobby", enter=True)
    wait_prompt(tmux, "alice", "alice>")
    for room in rooms:
        tmux.type("bob", f"/go {room}", enter=True)
        wait_prompt(tmux, "bob", f"bob {room}>")
        tmux.type("bob", f"news in {room}", enter=True)
    screen = tmux.wait_text("alice", "| #announce 1 · #dev 1 · #ops 1")
    status = screen.rstrip("\n").splitlines()[-1]
    assert status.rstrip() == " as alice | connected | #announce 1 · #dev 1 · #ops 1", status
