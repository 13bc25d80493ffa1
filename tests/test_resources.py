"""Running out of file descriptors never stops the server."""

from __future__ import annotations

import asyncio
import resource
import socket
from pathlib import Path

import pytest

from .support import WAIT, Pki, ServerProcess, opener_for

FD_LIMIT = 64


def low_file_limit() -> None:
    """In the child: a hard limit of 64 open files, so accept() hits EMFILE soon."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
async def test_emfile_on_accept_does_not_stop_the_server(
    pki: Pki, tmp_path: Path, loop: str
) -> None:
    """With every descriptor in use, accept fails; once some are free, a client gets in."""
    server = ServerProcess(
        pki,
        tmp_path,
        extra=["--handshake-timeout", "2", "--max-per-address", "1000", "--loop", loop],
        preexec=low_file_limit,
    )
    hogs: list[socket.socket] = []
    try:
        for _ in range(FD_LIMIT + 20):  # more than the server can hold open
            hog = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
            hogs.append(hog)
        # Held open until the server has said so (uvloop's accept fails
        # silently: there the check of connections against the limit tells).
        async with asyncio.timeout(WAIT):
            while 'limited limit="open files"' not in server.log_text():
                await asyncio.sleep(0.1)
        for hog in hogs:
            hog.close()
        # The server paused accepting for a moment; then it serves again.
        opener = opener_for(pki.client("alice"), server.port)
        async with asyncio.timeout(30):
            while True:
                try:
                    connection = await opener()
                    welcome = await connection.hello()
                    break
                except Exception:
                    await asyncio.sleep(0.2)
        assert welcome.name == "alice"
        await connection.close()
        assert server.process.poll() is None, "the server died"
        log = server.log_text()
        assert "Traceback" not in log
        lines = [line for line in log.splitlines() if 'limited limit="open files"' in line]
        assert len(lines) <= 10, "one line per 5 s, however many accepts failed"
        assert "times=" in lines[0]
    finally:
        for hog in hogs:
            hog.close()
        server.stop()
