"""server/sdnotify.py: the sd_notify datagrams, their addresses, and a real receiving socket."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from realtimechat.server import sdnotify
from realtimechat.server.sdnotify import Notifier, NotifySocketError, encode, socket_address

WAIT = 10.0


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[socket.socket]:
    """A datagram socket bound to a path, as systemd's /run/systemd/notify is."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(tmp_path / "notify"))
        sock.settimeout(WAIT)
        yield sock


def received(sock: socket.socket) -> dict[str, str]:
    """The next datagram, as its assignments (in the order sent: dicts keep it)."""
    lines = sock.recv(4096).decode().split("\n")
    return dict(line.split("=", 1) for line in lines)


def test_encode_is_key_value_lines_in_order() -> None:
    """Each field is one KEY=VALUE line, in the order given, numbers as digits."""
    assert encode(RELOADING=1, MONOTONIC_USEC=12, STATUS="reloading") == (
        b"RELOADING=1\nMONOTONIC_USEC=12\nSTATUS=reloading"
    )


def test_a_newline_in_a_value_cannot_add_an_assignment() -> None:
    """A status with a newline stays one STATUS line: no READY=1 can be smuggled in."""
    assert encode(STATUS="one\nREADY=1") == b"STATUS=one READY=1"


def test_a_status_is_utf8() -> None:
    assert encode(STATUS="listening on [::1]:8443 \u2713") == (
        "STATUS=listening on [::1]:8443 \u2713".encode()
    )


def test_a_path_is_its_own_address_and_at_is_the_abstract_namespace() -> None:
    """``/run/x`` is a path; ``@x`` is the abstract name x, which starts with a NUL byte."""
    assert socket_address("/run/systemd/notify") == "/run/systemd/notify"
    assert socket_address("@rtchat/notify") == b"\0rtchat/notify"


@pytest.mark.parametrize("value", ["@", "relative/notify", "vsock:2:1234"])
def test_other_addresses_are_refused(value: str) -> None:
    with pytest.raises(NotifySocketError, match="not a socket path or @abstract name"):
        socket_address(value)


def test_monotonic_usec_is_the_monotonic_clock_in_microseconds() -> None:
    """The clock systemd compares MONOTONIC_USEC with: CLOCK_MONOTONIC, as time.monotonic."""
    before = time.monotonic_ns() // 1000
    now = sdnotify.monotonic_usec()
    after = time.monotonic_ns() // 1000
    assert before <= now <= after


@pytest.mark.parametrize(
    ("environ", "interval"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "42"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "43"}, None),  # another process's
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_the_watchdog_pings_at_half_its_interval_if_it_is_ours(
    environ: dict[str, str], interval: float | None
) -> None:
    assert sdnotify.watchdog_interval(environ, pid=42) == interval


def test_without_notify_socket_nothing_is_sent() -> None:
    """The server in a terminal: the notifier is off, and sending says so."""
    notifier = Notifier.from_environ({}, logging.getLogger("test"))
    assert not notifier.enabled
    assert notifier.send(READY=1) is False


def test_a_bad_notify_socket_is_logged_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": "vsock:2:1"}, logging.getLogger("test"))
    assert not notifier.enabled
    assert "NOTIFY_SOCKET='vsock:2:1': not a socket path" in caplog.text


def test_ready_reaches_the_manager(manager: socket.socket) -> None:
    notifier = Notifier.from_environ(
        {"NOTIFY_SOCKET": manager.getsockname()}, logging.getLogger("test")
    )
    notifier.ready("listening on 127.0.0.1:8443")
    assert received(manager) == {"READY": "1", "STATUS": "listening on 127.0.0.1:8443"}


def test_an_abstract_socket_is_reached() -> None:
    """``@name`` in NOTIFY_SOCKET reaches a socket bound in the abstract namespace."""
    name = f"rtchat-test-{os.getpid()}-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(WAIT)
        notifier = Notifier.from_environ({"NOTIFY_SOCKET": "@" + name}, logging.getLogger("test"))
        notifier.stopping()
        assert received(sock) == {"STOPPING": "1", "STATUS": "shutting down"}


def test_a_reload_is_reloading_then_ready_with_the_status_of_before(
    manager: socket.socket,
) -> None:
    """RELOADING=1 with the monotonic clock, then READY=1 with the listening status again."""
    notifier = Notifier(manager.getsockname())
    notifier.ready("listening on 127.0.0.1:8443")
    received(manager)
    with notifier.reloading():
        first = received(manager)
    second = received(manager)
    assert list(first) == ["RELOADING", "MONOTONIC_USEC", "STATUS"]
    assert first["RELOADING"] == "1"
    assert 0 < int(first["MONOTONIC_USEC"]) <= sdnotify.monotonic_usec()
    assert second == {"READY": "1", "STATUS": "listening on 127.0.0.1:8443"}


def test_a_failed_reload_is_ready_again_all_the_same(manager: socket.socket) -> None:
    """A reload that raises still ends with READY=1: the previous files stay in force."""
    notifier = Notifier(manager.getsockname())
    with pytest.raises(RuntimeError), notifier.reloading():
        raise RuntimeError("bad file")
    assert received(manager)["RELOADING"] == "1"
    assert received(manager)["READY"] == "1"


def test_a_manager_that_is_gone_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Sending to a socket nobody binds fails without raising, and says so once, not per ping."""
    notifier = Notifier(str(tmp_path / "gone"), log=logging.getLogger("test"))
    assert notifier.send(WATCHDOG=1) is False
    assert notifier.send(WATCHDOG=1) is False
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1
    assert lines[0].startswith(f"cannot notify the service manager at NOTIFY_SOCKET={tmp_path}")


async def test_the_watchdog_pings_until_cancelled(manager: socket.socket) -> None:
    notifier = Notifier(manager.getsockname(), watchdog=0.01)
    pinging = asyncio.create_task(notifier.keep_alive())
    try:
        for _ in range(3):
            data = await asyncio.wait_for(asyncio.to_thread(manager.recv, 4096), WAIT)
            assert data == b"WATCHDOG=1"
    finally:
        pinging.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pinging


async def test_without_a_watchdog_keep_alive_only_waits(manager: socket.socket) -> None:
    """No WATCHDOG_USEC: keep_alive sends nothing and never ends by itself."""
    notifier = Notifier(manager.getsockname())
    pinging = asyncio.create_task(notifier.keep_alive())
    for _ in range(10):
        await asyncio.sleep(0)
    assert not pinging.done()
    pinging.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pinging
    manager.setblocking(False)
    with pytest.raises(BlockingIOError):
        manager.recv(4096)
