"""Running out of file descriptors never stops the server."""

from __future__ import annotations

import asyncio
import resource
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from realtimechat.server.app import highest_accepted

from ..support import WAIT, Pki, ServerProcess, opener_for

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
        extra=[
            *("--handshake-timeout", "2", "--max-per-address", "1000"),
            *("--max-handshakes-per-source", "1000", "--loop", loop),
        ],
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
        assert f", {loop} loop, {FD_LIMIT} open files)" in log, "the limit in force is logged"
        lines = [line for line in log.splitlines() if 'limited limit="open files"' in line]
        assert len(lines) <= 10, "one line per 5 s, however many accepts failed"
        assert "times=" in lines[0]
    finally:
        for hog in hogs:
            hog.close()
        server.stop()


OPEN_FILES_PROBE = """
import resource, sys
from realtimechat.server.app import raise_open_file_limit
soft, hard = int(sys.argv[1]), int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_NOFILE, (soft, resource.RLIM_INFINITY if hard < 0 else hard))
print(raise_open_file_limit(), resource.getrlimit(resource.RLIMIT_NOFILE)[0])
"""


def _raise_from(soft: int, hard: int) -> tuple[int, int]:
    """In a child with these limits (hard -1: unlimited): what raise_open_file_limit returned
    and the soft limit then in force."""
    done = subprocess.run(
        [sys.executable, "-c", OPEN_FILES_PROBE, str(soft), str(hard)],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    if "not allowed" in done.stderr or "PermissionError" in done.stderr:
        pytest.skip("raising the hard open-file limit needs root (CAP_SYS_RESOURCE)")
    assert done.returncode == 0, done.stderr
    returned, in_force = done.stdout.split()
    return int(returned), int(in_force)


def test_the_open_file_limit_is_raised_to_the_hard_limit() -> None:
    """Soft 256 under a hard 4096: the server raises its soft limit to 4096."""
    assert _raise_from(256, 4096) == (4096, 4096)


def test_an_unlimited_hard_limit_gives_the_most_the_kernel_accepts() -> None:
    """Hard "unlimited" (as on macOS, which refuses a soft RLIM_INFINITY): the highest the
    kernel takes, here Linux's fs.nr_open, not the 256 it started with."""
    kernel_cap = int(Path("/proc/sys/fs/nr_open").read_text())
    assert _raise_from(256, -1) == (kernel_cap, kernel_cap)


@pytest.mark.parametrize(("cap", "start"), [(10240, 256), (1048576, 1024), (257, 256), (256, 256)])
def test_bisection_finds_the_highest_limit_the_kernel_takes(cap: int, start: int) -> None:
    """Against a kernel that takes at most ``cap`` (macOS: kern.maxfilesperproc, often 10240;
    Linux: fs.nr_open), the search from the current limit ends exactly at ``cap``."""
    tried: list[int] = []

    def kernel_takes(limit: int) -> bool:
        tried.append(limit)
        return limit <= cap

    assert highest_accepted(start, 2**31, kernel_takes) == cap
    assert len(tried) <= 31, "a bisection, not a walk"
