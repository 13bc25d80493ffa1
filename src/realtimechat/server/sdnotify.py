"""Telling systemd how the server is doing: the sd_notify protocol, spoken without a library.

A service of ``Type=notify`` is started with ``NOTIFY_SOCKET`` in its
environment: the address of an ``AF_UNIX`` datagram socket of the service
manager, a path (``/run/systemd/notify``) or, after ``@``, a name in the
abstract namespace. Each datagram holds ``KEY=VALUE`` lines (sd_notify(3)):

* ``READY=1`` (with ``STATUS=``) once the server is listening: ``systemctl
  start`` returns then, and units ordered after it start only then;
* ``RELOADING=1`` with ``MONOTONIC_USEC=`` (CLOCK_MONOTONIC, in microseconds,
  which ``Type=notify-reload`` requires) before a SIGHUP reload, and
  ``READY=1`` after it: ``systemctl reload`` waits for that;
* ``STOPPING=1`` as the shutdown begins;
* ``WATCHDOG=1`` every half of ``WATCHDOG_USEC`` when the unit sets
  ``WatchdogSec=`` (a loop that stops turning stops the pings, and systemd
  restarts the server).

Without ``NOTIFY_SOCKET`` every call does nothing, so the server is the same
program in a terminal and under systemd. A datagram that cannot be sent is
logged (once per kind of error) and never stops the server: systemd then
reports the start as timed out, which the log line explains.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Iterator, Mapping
from typing import Final

NOTIFY_SOCKET: Final = "NOTIFY_SOCKET"
WATCHDOG_USEC: Final = "WATCHDOG_USEC"
WATCHDOG_PID: Final = "WATCHDOG_PID"
SEND_TIMEOUT: Final = 1.0  # seconds a datagram may wait for room in the manager's queue


class NotifySocketError(ValueError):
    """``NOTIFY_SOCKET`` holds an address this module cannot send to."""


def encode(**fields: str | int) -> bytes:
    """One notification: ``KEY=VALUE`` lines, in the order given, UTF-8.

    A value is one line (a newline would start another assignment), so
    newlines in it become spaces.
    """
    lines = []
    for key, value in fields.items():
        text = " ".join(str(value).splitlines())
        lines.append(f"{key}={text}")
    return "\n".join(lines).encode()


def socket_address(value: str) -> str | bytes:
    """The address to send to for a ``NOTIFY_SOCKET`` value: a path, or an abstract name.

    ``@name`` is the abstract namespace: the address starts with a NUL byte
    instead (unix(7)). Other forms (``vsock:``) are refused.
    """
    if value.startswith("/"):
        return value
    if value.startswith("@") and len(value) > 1:
        return b"\0" + value[1:].encode()
    raise NotifySocketError(f"{NOTIFY_SOCKET}={value!r}: not a socket path or @abstract name")


def monotonic_usec() -> int:
    """CLOCK_MONOTONIC in microseconds: the clock systemd compares ``MONOTONIC_USEC`` with."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def watchdog_interval(environ: Mapping[str, str], pid: int) -> float | None:
    """Seconds between ``WATCHDOG=1`` pings: half of ``WATCHDOG_USEC``, if it is meant for us.

    ``WATCHDOG_PID``, when set, names the process the watchdog watches:
    another one's (a wrapper's) is not ours to keep alive.
    """
    usec = environ.get(WATCHDOG_USEC, "")
    owner = environ.get(WATCHDOG_PID, "")
    if not usec.isdigit() or int(usec) == 0 or (owner and owner != str(pid)):
        return None
    return int(usec) / 2_000_000


class Notifier:
    """Sends the server's state to the service manager; does nothing when there is none."""

    def __init__(
        self,
        address: str | bytes | None = None,
        *,
        watchdog: float | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.address = address
        self.watchdog = watchdog  # seconds between pings, or None
        self.log = log or logging.getLogger("realtimechat.server")
        self._failed: set[str] = set()  # errors already logged, so that pings do not flood
        self.status = ""  # the STATUS= of the last READY=1, sent again after a reload

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], log: logging.Logger) -> Notifier:
        """The notifier ``environ`` asks for (``os.environ`` under systemd): off without one.

        A ``NOTIFY_SOCKET`` that cannot be used is logged and ignored: the
        server runs, and systemd says the start timed out.
        """
        value = environ.get(NOTIFY_SOCKET)
        if not value:
            return cls(log=log)
        try:
            address = socket_address(value)
        except NotifySocketError as exc:
            log.warning("%s: not telling the service manager anything", exc)
            return cls(log=log)
        return cls(address, watchdog=watchdog_interval(environ, os.getpid()), log=log)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, **fields: str | int) -> bool:
        """Send one notification; False if there is nobody to tell or it could not be sent."""
        if self.address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.settimeout(SEND_TIMEOUT)
                sock.sendto(encode(**fields), self.address)
        except OSError as exc:
            kind = type(exc).__name__
            if kind not in self._failed:
                self._failed.add(kind)
                self.log.warning(
                    "cannot notify the service manager at %s=%s: %s",
                    NOTIFY_SOCKET,
                    _shown(self.address),
                    exc,
                )
            return False
        return True

    def ready(self, status: str) -> None:
        """Listening: ``systemctl start`` returns, ``systemctl status`` shows ``status``."""
        self.status = status
        self.send(READY=1, STATUS=status)

    @contextlib.contextmanager
    def reloading(self, status: str = "reloading") -> Iterator[None]:
        """Around a reload: ``RELOADING=1`` before, ``READY=1`` after (even if it failed).

        A reload that fails keeps the previous files (the log says why): the
        server is as ready as before, so READY=1 goes all the same.
        """
        self.send(RELOADING=1, MONOTONIC_USEC=monotonic_usec(), STATUS=status)
        try:
            yield
        finally:
            self.send(READY=1, STATUS=self.status)

    def stopping(self, status: str = "shutting down") -> None:
        self.send(STOPPING=1, STATUS=status)

    async def keep_alive(self) -> None:
        """``WATCHDOG=1`` every half watchdog interval, until cancelled (without one, only waits).

        It never returns by itself, so that it can run beside what ends the
        server (``asyncio.wait(..., FIRST_COMPLETED)``) whether or not a
        watchdog is asked for.
        """
        interval = self.watchdog if self.enabled else None
        if interval is None:
            await asyncio.get_running_loop().create_future()  # never done: cancelled at shutdown
            return
        while True:
            self.send(WATCHDOG=1)
            await asyncio.sleep(interval)


def _shown(address: str | bytes) -> str:
    """An address as ``NOTIFY_SOCKET`` writes it: ``@name`` for the abstract namespace."""
    if isinstance(address, bytes):
        return "@" + address[1:].decode(errors="replace")
    return address
