"""The interactive client in a real terminal (tmux): what people actually see."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from realtimechat.pki import CaFolder

from .support import Pki, ServerProcess

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
            f"env -i PATH=/usr/bin:/bin HOME={home} TERM=screen PS1='$ ' "
            "bash --norc --noprofile"
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


def join_in_pane(tmux: Tmux, pane: str, pki: Pki, port: int, name: str) -> None:
    tmux.new_pane(pane)
    tmux.type(pane, rtchat_command(pki.folder, port, name), enter=True)
    tmux.wait_text(pane, f"joined as {name}")
    tmux.wait_text(pane, f"{name}>")


def prompt_line(tmux: Tmux, pane: str, name: str) -> str:
    """The input line: the last screen line starting with the prompt."""
    return [line for line in tmux.lines(pane) if line.startswith(f"{name}>")][-1]


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
    assert prompt_line(tmux, "alice", "alice") == "alice> hello wor"
    lines = tmux.lines("alice")
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
    tmux.wait_for("alice", lambda screen: screen.rstrip().endswith("$"))
    tmux.type("alice", "echo code=$?", enter=True)
    tmux.wait_text("alice", "code=0")  # the shell got our exit code, and echoes again


def test_ctrl_d_leaves_cleanly(tmux: Tmux, pki: Pki, server_process: ServerProcess) -> None:
    """Ctrl-D says bye (the others see 'quit'), exits 0 and gives the shell back."""
    join_in_pane(tmux, "bob", pki, server_process.port, "bob")
    join_in_pane(tmux, "alice", pki, server_process.port, "alice")
    tmux.keys("alice", "C-d")
    tmux.wait_text("bob", "alice left (quit)")
    tmux.wait_for("alice", lambda screen: screen.rstrip().endswith("$"))
    tmux.type("alice", "echo code=$?", enter=True)
    tmux.wait_text("alice", "code=0")


def test_missing_settings_are_asked_in_order(
    tmux: Tmux, pki: Pki, server_process: ServerProcess
) -> None:
    """With no host, port, CN or name, the client asks for each in turn and connects."""
    tmux.new_pane("alice")
    tmux.type("alice", rtchat_command(pki.folder, None, None), enter=True)
    answers = [
        ("Server address", "127.0.0.1"),
        ("Port", str(server_process.port)),
        ("Server certificate name (CN)", "chatserver"),
        ("Your name", "alice"),
    ]
    for question, answer in answers:
        tmux.wait_text("alice", f"{question}")
        tmux.type("alice", answer, enter=True)
    screen = tmux.wait_text("alice", "joined as alice")
    order = [screen.index(question) for question, _ in answers]
    assert order == sorted(order)


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


def test_lost_server_shows_reconnecting_and_recovers(
    tmux: Tmux, pki: Pki, server_process: ServerProcess
) -> None:
    """When the server goes away the client says so, keeps the typed line, and comes back."""
    join_in_pane(tmux, "alice", pki, server_process.port, "alice")
    tmux.type("alice", "half a thought")
    server_process.stop()
    tmux.wait_text("alice", "the server ended the session: shutdown; reconnecting in")
    tmux.wait_text("alice", "reconnecting in")
    assert prompt_line(tmux, "alice", "alice") == "alice> half a thought"
    server_process.start()
    tmux.wait_for("alice", lambda screen: screen.count("joined as alice") == 2, timeout=45)
    tmux.type("alice", ", finished", enter=True)
    tmux.wait_text("alice", "alice: half a thought, finished")
    tmux.keys("alice", "C-d")
    tmux.wait_for("alice", lambda screen: screen.rstrip().endswith("$"))
    tmux.type("alice", "echo code=$?", enter=True)
    tmux.wait_text("alice", "code=0")


def test_refusal_is_one_line_and_a_non_zero_exit(
    tmux: Tmux, pki: Pki, server_process: ServerProcess
) -> None:
    """A server certificate that does not match --cn: one line, exit 4, no prompt drawn."""
    tmux.new_pane("alice")
    command = rtchat_command(pki.folder, server_process.port, "alice").replace(
        "--cn chatserver", "--cn someone-else"
    )
    tmux.type("alice", command, enter=True)
    screen = tmux.wait_text("alice", "rtchat: the server's certificate is not for 'someone-else'")
    assert "alice>" not in screen
    tmux.type("alice", "echo code=$?", enter=True)
    tmux.wait_text("alice", "code=4")
