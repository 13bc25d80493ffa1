"""`make cluster`: a local demo of many servers behind one address, in the foreground.

A redis-server with its append-only file (fsync always) in a folder of
its own, two ``rtchat-server --redis`` on it with the development PKI
(as ``make run`` makes it), and Debian's haproxy in front on one port
(round robin, health checks). Prints the join commands; Ctrl-C (or
SIGTERM) stops haproxy, the servers and Redis, in that order, and exits 0.
Exit 1, with one line, if a part cannot start. docs/scaling.md,
"Deployment", shows the same haproxy configuration.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType

START_WAIT = 15.0  # seconds each part has to come up
STOP_WAIT = 10.0  # seconds each part has to stop before it is killed
SERVERS = ("a", "b")
# haproxy's address as the servers see it (its `source`), given to --proxy-protocol:
# not 127.0.0.1, so that a client may still connect to a server directly.
PROXY_FROM = "127.0.0.3"
LISTENING = re.compile(r"listening on 127\.0\.0\.1:(\d+)")


class Failed(Exception):
    """A part of the cluster could not start: the message says which and where its log is."""


def haproxy_config(port: int, backends: Sequence[int], *, proxy_v2: bool = True) -> str:
    """A TCP frontend on ``port``, round robin to ``backends``, with health checks.

    TCP passes TLS through untouched: each client's certificate reaches
    the server. A connect check every 200 ms marks a dead server down
    after one failure and back after two successes; a connection that
    meets a dead server before that is sent to another (redispatch).
    Idle chat connections are long: the client and server timeouts are
    an hour (the chat's own pings keep a live one busy).

    ``proxy_v2``: each connection starts with a PROXY v2 header naming the
    client (servers started with ``--proxy-protocol`` for haproxy's address,
    PROXY_FROM, which it connects from), so that the per-source caps count clients, not haproxy;
    health checks send one too (check-send-proxy), or the server would refuse
    them as headerless; a check is a connect and close, which the server
    logs as ``peer closed the connection during the handshake`` (collapsed).
    """
    proxy = " send-proxy-v2 check-send-proxy" if proxy_v2 else ""
    source = f"    source {PROXY_FROM}\n" if proxy_v2 else ""
    servers = "\n".join(
        f"    server s{n} 127.0.0.1:{backend} check inter 200ms fall 1 rise 2{proxy}"
        for n, backend in enumerate(backends, start=1)
    )
    return f"""global
    maxconn 4000

defaults
    mode tcp
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    retries 3
    option redispatch

frontend chat
    bind 127.0.0.1:{port}
    default_backend servers

backend servers
    balance roundrobin
{source}{servers}
"""


def which(name: str) -> str:
    """The program ``name`` on PATH or in /usr/sbin (haproxy's place on Debian)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        raise Failed(f"{name} is not installed (apt-get install {name.replace('-server', '')})")
    return found


def spawn(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``command`` with its output in ``log``, in its own process group.

    Its own group: Ctrl-C reaches only this script, which stops the parts
    in order (haproxy first, so no client is sent to a server stopping).
    """
    with log.open("wb") as sink:
        return subprocess.Popen(  # noqa: S603 - our own command lines, no shell
            command, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink, start_new_session=True
        )


def wait_until(
    ready: Iterator[bool], process: subprocess.Popen[bytes], what: str, log: Path
) -> None:
    """Poll ``ready`` until it yields True (bounded by START_WAIT and the process ending)."""
    deadline = time.monotonic() + START_WAIT
    for done in ready:
        if done:
            return
        if process.poll() is not None:
            raise Failed(f"{what} exited with {process.returncode}: {last_line(log)} ({log})")
        if time.monotonic() > deadline:
            raise Failed(f"{what} did not start within {START_WAIT:g} s: see {log}")
        time.sleep(0.05)


def last_line(log: Path) -> str:
    """What a part said last (its reason to exit, usually)."""
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def connects(address: str | tuple[str, int]) -> Iterator[bool]:
    """True each time a connection to ``address`` (a Unix socket, or host and port) succeeds."""
    while True:
        family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
        with socket.socket(family) as probe:
            try:
                probe.connect(address)
            except OSError:
                yield False
            else:
                yield True


def listening_port(log: Path, found: list[int]) -> Iterator[bool]:
    """True once the server's log says on which port it listens (appended to ``found``)."""
    while True:
        match = LISTENING.search(log.read_text(errors="replace")) if log.exists() else None
        if match:
            found.append(int(match.group(1)))
        yield match is not None


class Cluster:
    """The parts started so far, stopped in reverse order."""

    def __init__(
        self,
        folder: Path,
        pki: Path,
        bin_dir: Path,
        port: int,
        server_args: dict[str, list[str]] | None = None,
    ) -> None:
        self.folder = folder
        self.pki = pki
        self.bin_dir = bin_dir
        self.port = port
        self.server_args = server_args or {}  # by server name: more options (tools/storm.py)
        self.ports: dict[str, int] = {}  # by server name, once started
        self.parts: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        socket_path = self.folder / "redis.sock"
        self._start_redis(socket_path)
        ports = [self._start_server(name, f"unix://{socket_path}") for name in SERVERS]
        config = self.folder / "haproxy.cfg"
        config.write_text(haproxy_config(self.port, ports))
        log = self.folder / "haproxy.log"
        process = self._add("haproxy", [which("haproxy"), "-db", "-f", str(config)], log)
        wait_until(connects(("127.0.0.1", self.port)), process, "haproxy", log)

    def _add(self, what: str, command: list[str], log: Path) -> subprocess.Popen[bytes]:
        process = spawn(command, log)
        self.parts.append((what, process))
        return process

    def _start_redis(self, socket_path: Path) -> None:
        log = self.folder / "redis.log"
        options = {
            "port": "0",
            "unixsocket": str(socket_path),
            "unixsocketperm": "700",
            "dir": str(self.folder),
            "appendonly": "yes",
            "appendfsync": "always",  # what --redis-durability full (the default) asks for
            "save": "",
        }
        command = [which("redis-server")]
        command += [part for key, value in options.items() for part in (f"--{key}", value)]
        process = self._add("redis-server", command, log)
        wait_until(connects(str(socket_path)), process, "redis-server", log)

    def _start_server(self, name: str, redis_url: str) -> int:
        data = self.folder / name
        log = self.folder / f"server-{name}.log"
        log.unlink(missing_ok=True)  # the port is read from this run's log
        command = [
            str(self.bin_dir / "rtchat-server"),
            *("--host", "127.0.0.1", "--port", "0", "--pki", str(self.pki)),
            *("--data", str(data), "--redis", redis_url, "--server-id", name),
            *("--proxy-protocol", PROXY_FROM),
            *self.server_args.get(name, []),
        ]
        process = self._add(f"rtchat-server {name}", command, log)
        found: list[int] = []
        wait_until(listening_port(log, found), process, f"rtchat-server {name}", log)
        self.ports[name] = found[-1]
        return found[-1]

    def stop(self) -> None:
        """SIGTERM each part, newest first; kill one that does not stop within STOP_WAIT."""
        for _, process in reversed(self.parts):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=STOP_WAIT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.parts.clear()

    def haproxy_gone(self) -> bool:
        """haproxy exited on its own: nobody can get in any more (a killed server is the demo)."""
        return any(what == "haproxy" and p.poll() is not None for what, p in self.parts)

    def kill(self, name: str) -> None:
        """SIGKILL rtchat-server ``name`` (no goodbye: its clients just lose the connection)."""
        for what, process in self.parts:
            if what == f"rtchat-server {name}":
                process.kill()
                process.wait()

    def servers(self) -> list[tuple[str, int]]:
        return [(what, p.pid) for what, p in self.parts if what.startswith("rtchat-server")]


def announce(cluster: Cluster, make_port: int) -> None:
    where = f"--host 127.0.0.1 --port {cluster.port} --cn chatserver --pki {cluster.pki}"
    print(f"cluster up: haproxy on 127.0.0.1:{cluster.port}, in front of")
    for what, pid in cluster.servers():
        print(f"  {what} (pid {pid}; kill -9 {pid} to see the clients move)")
    print(f"on redis-server with its append-only file in {cluster.folder}")
    print("Join from other terminals with:")
    print(f"  make chat NAME=alice PORT={make_port}")
    print(f"  make chat NAME=bob PORT={make_port}")
    print(f"  (or: {cluster.bin_dir / 'rtchat'} {where} --name alice)")
    print("Ctrl-C stops everything.", flush=True)


class Stop(Exception):
    """SIGTERM: stop as on Ctrl-C."""


def on_term(signum: int, frame: FrameType | None) -> None:
    raise Stop


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="tools/cluster.py",
        description="Run Redis (AOF), two rtchat-servers on it and haproxy in front, "
        "in the foreground, until Ctrl-C.",
    )
    parser.add_argument("--port", type=int, default=8443, help="haproxy's port (default 8443)")
    parser.add_argument(
        "--folder", type=Path, default=Path("build/cluster"), help="Redis's and the servers' files"
    )
    parser.add_argument(
        "--pki", type=Path, default=Path(".rtchat-dev"), help="the development PKI (make run's)"
    )
    parser.add_argument(
        "--bin", type=Path, default=Path(sys.executable).parent, help="where rtchat-server is"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    cluster = Cluster(args.folder.resolve(), args.pki.resolve(), args.bin.resolve(), args.port)
    signal.signal(signal.SIGTERM, on_term)
    try:
        cluster.start()
        announce(cluster, args.port)
        while not cluster.haproxy_gone():  # until Ctrl-C, SIGTERM or haproxy gone
            time.sleep(0.5)
    except Failed as exc:
        print(f"cluster: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Stop):
        print("stopping the cluster", flush=True)
        return 0
    else:
        print("haproxy exited: stopping the cluster", file=sys.stderr)
        return 1
    finally:
        with contextlib.suppress(KeyboardInterrupt):
            cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
