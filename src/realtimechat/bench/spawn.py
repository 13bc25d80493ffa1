"""``--spawn``: a throwaway ``rtchat-server`` of the tool's own, and what /proc says about it.

The server gets a fresh CA (``pki.init_ca``) in the run's temporary folder,
listens on 127.0.0.1 on a port the system picks, keeps nothing on disk and
lifts the limits a load test from one address and a few certificates
would trip (``--ephemeral --rate 0 --identity-rate 0 --identity-text-rate 0
--presence-interval 0 --max-per-address 100000 --max-handshakes 2048
--max-handshakes-per-source 2048 --max-per-identity 100000``: every client
comes from 127.0.0.1, maybe with one certificate); ``--server-arg``
adds more (a later option wins). Its log goes to a file in the temporary
folder; the port is read from its ``listening on`` line.

``--store sqlite`` keeps the history in SQLite in the temporary folder
(``--data``, durability ``full``) instead of ``--ephemeral``; ``--redis
URL`` starts ``--servers N`` of them on one Redis (``--redis URL
--server-id bench<i>``), which share one conversation: the clients are
spread over them round robin (client ``i`` to server ``i % N``).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from .. import pki
from .errors import BenchError

SERVER_CN: Final = "chatserver"
SPAWN_FLAGS: Final = (
    *("--rate", "0", "--identity-rate", "0", "--identity-text-rate", "0"),
    *("--presence-interval", "0"),
    *("--max-per-address", "100000", "--max-handshakes", "2048"),
    *("--max-handshakes-per-source", "2048", "--max-per-identity", "100000"),
)
_LISTENING: Final = re.compile(r"listening on 127\.0\.0\.1:(\d+)")
_START_TIMEOUT: Final = 15.0
_STOP_TIMEOUT: Final = 10.0
_POLL: Final = 0.02


def server_command() -> list[str]:
    """How to start ``rtchat-server``: the script beside this Python, else on PATH."""
    beside = Path(sys.executable).parent / "rtchat-server"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("rtchat-server")
    if found is not None:
        return [found]
    return [sys.executable, "-m", "realtimechat.cli.server"]


def make_pki(root: Path) -> Path:
    """A fresh CA folder for the spawned server (its certificate is for ``chatserver``)."""
    folder = root / "ca"
    pki.init_ca(folder, SERVER_CN, ["localhost", "127.0.0.1"])
    return folder


@dataclass(frozen=True, slots=True)
class Store:
    """Where the spawned servers keep the conversation: memory, SQLite, or one Redis."""

    kind: str = "memory"  # memory | sqlite | redis
    redis_url: str | None = None  # kind redis: every server on this one

    def flags(self, index: int, folder: Path) -> list[str]:
        """The store's options for server ``index`` (its own SQLite folder, or Redis id)."""
        if self.kind == "sqlite":
            return ["--data", str(folder / f"data{index}")]
        if self.kind == "redis" and self.redis_url is not None:
            return ["--redis", self.redis_url, "--server-id", f"bench{index}"]
        return ["--ephemeral"]


@dataclass
class SpawnedServer:
    """A running ``rtchat-server`` subprocess of ours."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @classmethod
    def launch(
        cls,
        ca_dir: Path,
        folder: Path,
        extra: Sequence[str],
        store: Store = Store(),
        index: int = 0,
    ) -> SpawnedServer:
        """Start the process (then ``wait_until_listening``); ``stop`` it in every case."""
        log = folder / ("server.log" if index == 0 else f"server{index}.log")
        command = [
            *server_command(),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--pki",
            str(ca_dir),
            *SPAWN_FLAGS,
            *(store or Store()).flags(index, folder),
            *extra,
        ]
        with log.open("wb") as sink:
            process = subprocess.Popen(  # noqa: S603 - our own console script, no shell
                command, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink
            )
        return cls(process=process, port=0, log=log)

    def wait_until_listening(self, deadline: float) -> None:
        """Poll the log (another process writes it) for the ``listening on`` line and its port.

        Bounded by ``deadline`` (monotonic s) and a start timeout; BenchError
        if the server exits or does not listen in time.
        """
        until = min(deadline, time.monotonic() + _START_TIMEOUT)
        while time.monotonic() < until:
            found = _LISTENING.search(self.log.read_text(errors="replace"))
            if found:
                self.port = int(found.group(1))
                return
            if self.process.poll() is not None:
                raise BenchError(f"the spawned server did not start: {self.last_log_line()}")
            time.sleep(_POLL)
        raise BenchError(f"the spawned server did not listen within {_START_TIMEOUT:g} s")

    def last_log_line(self) -> str:
        """The last non-blank line the server logged (for error messages)."""
        lines = [line for line in self.log.read_text(errors="replace").splitlines() if line.strip()]
        return lines[-1] if lines else "(it logged nothing)"

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.process.pid

    def stop(self) -> None:
        """SIGTERM (a graceful stop), then SIGKILL if it takes too long."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(_STOP_TIMEOUT)


def rss_kib(pid: int) -> int | None:
    """The resident set size of ``pid`` in KiB (VmRSS in /proc/PID/status), if readable."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of ``pid`` so far (utime + stime in /proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class CpuMeter:
    """CPU use of some processes between ``begin`` and ``end``, in % of one core."""

    def __init__(self, pids: Sequence[int]) -> None:
        self.pids = list(pids)
        self._start: tuple[float, float] | None = None
        self.percent: float | None = None

    def _sample(self) -> tuple[float, float] | None:
        total = 0.0
        for pid in self.pids:
            seconds = cpu_seconds(pid)
            if seconds is None:
                return None
            total += seconds
        return time.monotonic(), total

    def begin(self) -> None:
        """Take the first sample."""
        self._start = self._sample()

    def end(self) -> None:
        """Take the second sample and compute ``percent``."""
        stop = self._sample()
        if self._start is None or stop is None or stop[0] <= self._start[0]:
            return
        self.percent = round((stop[1] - self._start[1]) / (stop[0] - self._start[0]) * 100, 1)
