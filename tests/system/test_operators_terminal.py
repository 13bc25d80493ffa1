"""Operators in real terminals (tmux): a kick, a mute and a ban as the user and a bystander
see them, and the ban holding across a server restart (protocol.md 6.7)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from realtimechat.pki import CaFolder, issue_client

from ..support import Pki, ServerProcess
from .test_terminal import BIN, Tmux, at_shell, join_in_pane, rtchat_command

pytestmark = [
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.protocol("6.7"),
]
WIDTH = 160  # wide enough that no line checked wraps


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    session = Tmux(tmp_path)
    yield session
    session.kill()


@pytest.fixture
def team(ca_root: Path, pki: Pki) -> Pki:
    """A CA of its own: op in group admin, bob and carol in none."""
    issue_client(ca_root, "op", groups=["admin"])
    for user in ("bob", "carol"):
        issue_client(ca_root, user)
    return Pki(CaFolder(ca_root), pki.rogue, pki.rogue_dir)


@pytest.fixture
def server(team: Pki, tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(team, tmp_path, extra=["--watch-interval", "0.2"])
    yield process
    process.stop()


def test_an_operator_kicks_mutes_and_bans_and_the_ban_survives_a_restart(
    tmux: Tmux, team: Pki, server: ServerProcess
) -> None:
    """bob's screen says who did what and why; carol's the same; bob's muted line never
    reaches carol; banned, bob is refused at hello, also after the server restarts."""
    for user in ("op", "carol", "bob"):
        join_in_pane(tmux, user, team, server.port, user, width=WIDTH)
    tmux.wait_text("op", "bob joined")

    tmux.type("op", "/who", enter=True)
    tmux.wait_text("op", "online: bob, carol, @op")

    # kick: bob is out, told why, and not reconnecting in a loop
    tmux.type("op", "/kick bob flooding", enter=True)
    tmux.wait_text("bob", "you were kicked by op: flooding")
    tmux.wait_text("bob", "not reconnecting")
    at_shell(tmux, "bob", 5)
    tmux.wait_text("carol", "bob was kicked by op: flooding")
    tmux.wait_text("carol", "bob left (kicked)")

    # mute: bob is back; his line is refused; carol never sees it
    tmux.type("bob", rtchat_command(team.folder, server.port, "bob"), enter=True)
    tmux.wait_text("bob", "bob>")
    tmux.type("op", "/mute bob 10m cool down", enter=True)
    tmux.wait_text("bob", "-- you are muted until")
    tmux.wait_text("carol", "bob is muted until")
    tmux.type("bob", "can anyone hear me", enter=True)
    tmux.wait_text("bob", "!! you are muted until")
    tmux.type("op", "after the mute", enter=True)
    screen = tmux.wait_text("carol", "op: after the mute")
    assert "can anyone hear me" not in screen

    # ban: bob's session ends; carol sees why
    tmux.type("op", "/ban bob 1h spam", enter=True)
    tmux.wait_text("bob", "an operator banned you")
    at_shell(tmux, "bob", 5)
    tmux.wait_text("carol", "bob is banned until")
    tmux.wait_text("carol", "bob left (banned)")

    # the ban is kept: after a restart bob's hello is refused, saying until when and why
    server.stop()
    server.start()
    tmux.type("bob", rtchat_command(team.folder, server.port, "bob"), enter=True)
    tmux.wait_text("bob", "by op: spam")
    at_shell(tmux, "bob", 5)
    assert "banned until" in tmux.output("bob")


def server_cli(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "rtchat-server"), *args, "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_rtchat_server_ban_unban_and_bans_act_on_the_running_server(
    tmux: Tmux, team: Pki, server: ServerProcess, tmp_path: Path
) -> None:
    """ban from the host: bob's live session ends within seconds (his screen says so); bans
    lists it; unban lets him in; the exit codes say what went wrong."""
    data = tmp_path / "data"
    join_in_pane(tmux, "bob", team, server.port, "bob", width=WIDTH)
    banned = server_cli("ban", "BOB", "2h", "--reason", "from the host", data=data)
    assert banned.returncode == 0, banned.stderr
    assert banned.stdout.startswith("banned 'bob' until ")
    tmux.wait_text("bob", "you are banned until")
    tmux.wait_text("bob", "by rtchat-server: from the host")
    at_shell(tmux, "bob", 5)
    listed = server_cli("bans", data=data)
    assert listed.returncode == 0
    name, kind, _until, by, reason = listed.stdout.rstrip("\n").split("\t")
    assert (name, kind, by, reason) == ("bob", "ban", "rtchat-server", "from the host")
    assert server_cli("unban", "bob", data=data).stdout == "unbanned 'bob'\n"
    again = server_cli("unban", "bob", data=data)
    assert (again.returncode, again.stderr.strip()) == (1, "rtchat-server: 'bob' is not banned")
    nobody = server_cli("ban", "zed", "1h", data=data)
    assert nobody.returncode == 1
    assert "no identity owns the name 'zed'" in nobody.stderr
    bad = server_cli("ban", "bob", "forever", data=data)
    assert bad.returncode == 2
    assert "'forever' is no duration" in bad.stderr
    typo = server_cli("ban", "bob", "1h", data=tmp_path / "dta")
    assert (typo.returncode, typo.stderr.strip()) == (
        1,
        f"rtchat-server: no message store at {tmp_path / 'dta' / 'messages.db'}: is --data right?",
    )
    assert not (tmp_path / "dta").exists(), "no empty store made in a mistyped folder"
    assert server_cli("bans", data=data).stdout == ""
    tmux.type("bob", rtchat_command(team.folder, server.port, "bob"), enter=True)
    tmux.wait_text("bob", "bob>")  # let in again
    assert "moderation action=ban by=rtchat-server target=bob" in server.log_text()
