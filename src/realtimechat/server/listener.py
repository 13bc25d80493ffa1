"""Listening sockets whose connections we accept ourselves, keeping the address accept() gave.

Why not ``loop.create_server``? Its loop accepts, then builds the
transport, and on uvloop the transport asks the socket for its peer's
address only when asked -- after a reset that is ``None``: a connect+RST
loop left 99.97 % of its ``refused`` lines with ``peer=None`` (issue 16),
and a source that cannot be named cannot be counted or capped. Here
``accept()`` returns the address with the socket, and the connection is
handed to the loop with ``connect_accepted_socket``, which both loops
have, along with that address.

A failed accept for want of descriptors (EMFILE, ENFILE) pauses
accepting for ``ACCEPT_RETRY_DELAY``, as asyncio's own server does (a
listener that stays readable would otherwise spin), and is reported
through ``on_limited`` for the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Callable, Iterable
from typing import Any, Final

ACCEPT_RETRY_DELAY: Final = 1.0  # seconds without accepting after EMFILE/ENFILE, as asyncio
ACCEPTS_PER_WAKEUP: Final = 128  # then back to the loop, so that a flood cannot starve it
_OUT_OF_DESCRIPTORS: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
# A peer gone between its SYN and our accept, or a signal: try the next one.
_TRANSIENT: Final = frozenset({errno.ECONNABORTED, errno.EPROTO, errno.EINTR, errno.EPERM})

Address = tuple[str, int] | tuple[str, int, int, int]
ProtocolFactory = Callable[[Address], asyncio.Protocol]  # called with the peer's address

log = logging.getLogger("realtimechat.server")


def listening_sockets(hosts: Iterable[str] | None, port: int, backlog: int) -> list[socket.socket]:
    """Bound, listening, non-blocking TCP sockets for ``hosts`` (None: every interface).

    As ``loop.create_server`` makes them: SO_REUSEADDR, and IPV6_V6ONLY on
    IPv6 sockets so that an IPv4 socket on the same port can coexist. An
    address that cannot be bound closes the others and raises its OSError
    (with its errno, which rtchat-server explains).
    """
    infos: dict[tuple[socket.AddressFamily, Any], None] = {}  # ordered, without repeats
    wanted: list[str | None] = [*hosts] if hosts else [None]  # None: every interface
    for host in wanted:
        for family, _, _, _, address in socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        ):
            infos[(family, address)] = None
    sockets: list[socket.socket] = []
    try:
        for kind, address in infos:
            sock = socket.socket(kind, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if kind == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                raise OSError(
                    exc.errno, f"error while attempting to bind on address {address!r}: {exc}"
                ) from None
            sock.listen(backlog)
            sock.setblocking(False)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def cannot_listen(port: int, exc: OSError) -> str:
    """Why the server cannot listen, and what to do about the usual cause."""
    if exc.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on port {port}: it is already in use"
            " (another rtchat-server running?): stop that one or choose another --port"
        )
    if exc.errno == errno.EACCES:
        return f"cannot listen on port {port}: permission denied (ports below 1024 need privileges)"
    return f"cannot listen on port {port}: {exc.strerror or exc}"


class Listener:
    """Accepts on its sockets and hands each connection, with its address, to the loop."""

    def __init__(
        self,
        sockets: list[socket.socket],
        factory: ProtocolFactory,
        *,
        on_limited: Callable[[OSError], None],
    ) -> None:
        self._sockets = sockets
        self._factory = factory
        self._on_limited = on_limited
        self._loop = asyncio.get_running_loop()
        self._connecting: set[asyncio.Task[None]] = set()  # held: the loop keeps weak references
        self._closed = False
        for sock in sockets:
            self._loop.add_reader(sock.fileno(), self._accept, sock)

    @property
    def sockets(self) -> list[socket.socket]:
        """The listening sockets; none once closed (as ``asyncio.Server.sockets``)."""
        return [] if self._closed else list(self._sockets)

    def _accept(self, sock: socket.socket) -> None:
        """Accept what is waiting, a bounded number at a time."""
        for _ in range(ACCEPTS_PER_WAKEUP):
            try:
                connection, address = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _TRANSIENT:
                    continue
                self._pause(sock)  # whatever it is, do not spin on it
                if exc.errno in _OUT_OF_DESCRIPTORS:
                    self._on_limited(exc)
                else:
                    # One line for the operator, no traceback: it is retried.
                    log.error(  # noqa: TRY400
                        "accepting failed, trying again in %gs: %s", ACCEPT_RETRY_DELAY, exc
                    )
                return
            self._start(connection, address)

    def _start(self, connection: socket.socket, address: Address) -> None:
        connection.setblocking(False)
        with contextlib.suppress(OSError):  # a reset socket refuses options; it closes anyway
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        task = self._loop.create_task(self._connect(connection, address))
        self._connecting.add(task)
        task.add_done_callback(self._connecting.discard)

    async def _connect(self, connection: socket.socket, address: Address) -> None:
        try:
            await self._loop.connect_accepted_socket(lambda: self._factory(address), connection)
        except OSError:  # gone before the loop could take it: nothing to serve, nothing leaks
            connection.close()
        except BaseException:
            connection.close()
            raise

    def _pause(self, sock: socket.socket) -> None:
        """Stop accepting on ``sock`` for a moment: it stays readable while we cannot accept."""
        self._loop.remove_reader(sock.fileno())
        self._loop.call_later(ACCEPT_RETRY_DELAY, self._resume, sock)

    def _resume(self, sock: socket.socket) -> None:
        if not self._closed:
            self._loop.add_reader(sock.fileno(), self._accept, sock)

    def close(self) -> None:
        """Stop accepting and close the listening sockets (connections stay)."""
        if self._closed:
            return
        self._closed = True
        for sock in self._sockets:
            with contextlib.suppress(OSError, ValueError):
                self._loop.remove_reader(sock.fileno())
            sock.close()

    async def wait_closed(self) -> None:
        """Until the connections already accepted have been handed to the loop."""
        if self._connecting:
            await asyncio.gather(*self._connecting, return_exceptions=True)
