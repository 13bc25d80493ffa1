"""Time and expiry as people meet them (issue 15, item 5): real processes on loopback.

A day line before the first message of each day (history included), dates
in /whois, a warning at join when one's own certificate expires soon, and
``rtchat-certs list`` with the soonest expiry first.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from realtimechat.pki import CaFolder, init_ca, issue_client

from ..support import Pki, ServerProcess
from .test_bots import events_of, expect_event, rtchat
from .test_cli import Spawned
from .test_terminal import Tmux, at_shell

BIN = Path(sys.executable).parent
CLOCK = r"\d\d:\d\d"


@pytest.fixture
def server(pki: Pki, tmp_path: Path) -> Iterator[ServerProcess]:
    running = ServerProcess(pki, tmp_path)
    yield running
    running.stop()


UNSIGNED = "!! UNVERIFIED (unsigned) "


def test_a_day_line_comes_before_each_new_days_first_message(
    clients: list[Spawned],
    client_env: dict[str, str],
    pki: Pki,
    server: ServerProcess,
    tmp_path: Path,
) -> None:
    """History from two earlier days, then today's: a day line before each day's first."""
    env = {**client_env, "TZ": "UTC"}
    alice = rtchat(clients, env, pki, server.port, "alice", "--plain")
    for text in ("first on saturday", "second on saturday", "on sunday", "today"):
        alice.send(text)
        alice.stdout.expect(rf"^{CLOCK} alice: {text}$")
    alice.end_input()
    assert alice.wait() == 0
    server.stop()
    with sqlite3.connect(tmp_path / "data" / "messages.db") as db:
        for text, ts in (
            ("first on saturday", "2020-01-04T10:00:00.000Z"),
            ("second on saturday", "2020-01-04T23:59:00.000Z"),
            ("on sunday", "2020-01-05T00:01:00.000Z"),
        ):
            # Moved to an earlier day: a server that rewrites ts is a replay to a reader of
            # the signature (docs/security.md), so these become old, unsigned lines.
            db.execute(
                "UPDATE messages SET ts = ?, sig = NULL, fp = NULL, sent = NULL, seq = NULL"
                " WHERE text = ?",
                (ts, text),
            )
    db.close()
    server.start()

    bob = rtchat(clients, env, pki, server.port, "bob", "--plain")
    bob.stdout.expect("-- 4 earlier messages above")
    bob.end_input()
    assert bob.wait() == 0
    today = dt.datetime.now(dt.UTC).date()
    lines = [line for line in bob.stdout.lines if "alice:" in line or line.startswith("-- ")]
    assert lines == [
        "-- Saturday 2020-01-04",
        f"{UNSIGNED}10:00 alice: first on saturday",
        f"{UNSIGNED}23:59 alice: second on saturday",
        "-- Sunday 2020-01-05",
        f"{UNSIGNED}00:01 alice: on sunday",
        f"-- {today.strftime('%A %Y-%m-%d')}",
        lines[-1],
    ]
    assert lines[-1].endswith("alice: today")


def test_a_run_whose_first_message_is_todays_shows_no_day_line(
    clients: list[Spawned], client_env: dict[str, str], pki: Pki, server: ServerProcess
) -> None:
    """Today's messages only: no day line (the day is today, as the clock says)."""
    alice = rtchat(clients, client_env, pki, server.port, "alice", "--json")
    alice.send("just now")
    expect_event(alice, "message", "just now")
    alice.end_input()
    assert alice.wait() == 0
    assert "day" not in {event["event"] for event in events_of(alice)}


def test_whois_says_since_when_with_the_date(
    clients: list[Spawned], client_env: dict[str, str], pki: Pki, server: ServerProcess
) -> None:
    """/whois: 'online since YYYY-MM-DD HH:MM', in local time."""
    alice = rtchat(clients, client_env, pki, server.port, "alice", "--plain")
    alice.send("/whois alice")
    found = alice.stdout.expect(
        r"-- alice: certificate fingerprint [0-9a-f]{16}, online since (.*)$"
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", found.group(1)), found.string
    alice.end_input()
    assert alice.wait() == 0


@pytest.fixture
def soon(pki: Pki, tmp_path: Path) -> Iterator[tuple[Pki, ServerProcess]]:
    """A CA of its own with 'soon', whose certificate expires in 10 days, and its server."""
    root = tmp_path / "soon-ca"
    init_ca(root, "chatserver", ["127.0.0.1"])
    issue_client(root, "soon", not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=10))
    issue_client(root, "later")
    own = Pki(folder=CaFolder(root), rogue=pki.rogue, rogue_dir=pki.rogue_dir)
    running = ServerProcess(own, tmp_path / "soon-server")
    yield own, running
    running.stop()


@pytest.fixture
def tmp_path(tmp_path: Path) -> Path:
    (tmp_path / "soon-server").mkdir()
    return tmp_path


def test_a_certificate_expiring_within_14_days_is_told_at_join(
    clients: list[Spawned], client_env: dict[str, str], soon: tuple[Pki, ServerProcess]
) -> None:
    """At join: when it expires, in how many days, and how to renew; not for a later one."""
    own, running = soon
    client = rtchat(clients, client_env, own, running.port, "soon", "--plain")
    warning = client.stdout.expect(r"!! your certificate expires on ").string
    assert re.search(r"expires on \d{4}-\d\d-\d\d \d\d:\d\d \(in (9|10) days\)", warning), warning
    assert "rtchat-certs request NAME --force" in warning
    client.end_input()
    assert client.wait() == 0

    bot = rtchat(clients, client_env, own, running.port, "soon", "--json")
    event = expect_event(bot, "certificate_expiring")
    assert event["days"] in (9, 10)
    bot.end_input()
    assert bot.wait() == 0

    later = rtchat(clients, client_env, own, running.port, "later", "--plain")
    later.stdout.expect("joined as later")
    later.end_input()
    assert later.wait() == 0
    assert not any("expires" in line for line in later.stdout.lines)


def test_certs_list_shows_the_soonest_expiry_first(
    tmp_path: Path, client_env: dict[str, str]
) -> None:
    """rtchat-certs list: sorted by NOT AFTER, whatever the order of issue."""
    root = tmp_path / "ca"
    certs = str(BIN / "rtchat-certs")
    commands = [
        ["init", "--dir", str(root), "--cn", "chatserver"],
        ["issue", "long", "--dir", str(root), "--days", "300"],
        ["issue", "short", "--dir", str(root), "--days", "3"],
        ["issue", "middle", "--dir", str(root), "--days", "30"],
    ]
    for command in commands:
        done = subprocess.run(
            [certs, *command],
            capture_output=True,
            text=True,
            env=client_env,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    listed = subprocess.run(
        [certs, "list", "--dir", str(root)],
        capture_output=True,
        text=True,
        env=client_env,
        timeout=60,
        check=True,
    ).stdout.splitlines()
    table = [line for line in listed[1:] if line.split()[0] in ("long", "short", "middle")]
    assert [line.split()[0] for line in table] == ["short", "middle", "long"], listed
    rows = [line for line in listed[1:] if line.split()[1] in ("client", "server")]
    assert len(rows) == 4, listed  # the server certificate and three clients
    stamps = [re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", line)[0] for line in rows]
    assert stamps == sorted(stamps), listed


def test_the_terminal_shows_the_expiry_warning_at_join(
    tmp_path: Path, soon: tuple[Pki, ServerProcess]
) -> None:
    """On the screen: the warning at join, before the prompt, with how to renew."""
    own, running = soon
    tmux = Tmux(tmp_path)
    try:
        tmux.new_pane("soon")
        command = (
            f"{BIN / 'rtchat'} --pki {own.folder.root} --host 127.0.0.1 "
            f"--port {running.port} --cn chatserver --name soon"
        )
        tmux.type("soon", command, enter=True)
        screen = tmux.wait_output("soon", "soon>")
        assert re.search(r"!! your certificate expires on \d{4}-\d\d-\d\d", screen), screen
        assert "rtchat-certs request NAME --force" in screen
        tmux.keys("soon", "C-d")
        at_shell(tmux, "soon")
    finally:
        tmux.kill()
