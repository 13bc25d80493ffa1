"""rtchat-server as a systemd service: sd_notify from a real process, and the unit files.

The service manager is played by the test: a real AF_UNIX datagram socket
it binds (a path, or a name in the abstract namespace) and names in
NOTIFY_SOCKET, as systemd does for a ``Type=notify`` unit.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import grp
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509

from realtimechat.protocol import PROTOCOL_VERSION, FrameDecoder, Hello, Welcome, encode
from realtimechat.tls import client_context

from ..support import REPO, WAIT, Pki
from . import sandbox

BIN = Path(sys.executable).parent
UNITS = REPO / "contrib" / "systemd"


class Manager:
    """The service manager's end of NOTIFY_SOCKET: every datagram, in order."""

    def __init__(self, sock: socket.socket, address: str) -> None:
        self.sock = sock
        self.address = address  # as NOTIFY_SOCKET says it
        sock.settimeout(WAIT)

    def next(self) -> dict[str, str]:
        """The next notification's assignments, in the order sent."""
        try:
            data = self.sock.recv(4096)
        except TimeoutError:
            raise AssertionError(f"no notification within {WAIT} s") from None
        return dict(line.split("=", 1) for line in data.decode().split("\n"))

    def pending(self) -> list[bytes]:
        """What has arrived and not been read (without waiting)."""
        self.sock.setblocking(False)
        found = []
        try:
            while True:
                found.append(self.sock.recv(4096))
        except BlockingIOError:
            return found
        finally:
            self.sock.settimeout(WAIT)


@contextlib.contextmanager
def notify_socket(folder: Path, *, abstract: bool = False) -> Iterator[Manager]:
    """A bound datagram socket: ``folder/notify``, or a name in the abstract namespace."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        if abstract:
            name = f"rtchat-test/{os.getpid()}/{time.monotonic_ns()}"
            sock.bind(b"\0" + name.encode())
            yield Manager(sock, "@" + name)
        else:
            sock.bind(str(folder / "notify"))
            yield Manager(sock, str(folder / "notify"))


@pytest.fixture(params=["path", "abstract"])
def manager(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Manager]:
    with notify_socket(tmp_path, abstract=request.param == "abstract") as bound:
        yield bound


SYSTEMD_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM")


def outside_systemd() -> dict[str, str]:
    """This environment without what systemd sets (the tests may run as a service)."""
    return {key: value for key, value in os.environ.items() if key not in SYSTEMD_VARIABLES}


def start(
    pki: Pki,
    folder: Path,
    environ: dict[str, str],
    *extra: str,
    preexec: Callable[[], None] | None = None,
) -> subprocess.Popen[bytes]:
    """A real rtchat-server on a free port, its log in ``folder/server.log``."""
    with (folder / "server.log").open("wb") as log:
        return subprocess.Popen(
            [
                *(str(BIN / "rtchat-server"), "--host", "127.0.0.1", "--port", "0"),
                *("--pki", str(pki.folder.root), "--data", str(folder / "data"), *extra),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env={**outside_systemd(), **environ},
            preexec_fn=preexec,  # noqa: PLW1509 - only the sandbox test: seccomp and prctl
        )


def welcomed(pki: Pki, port: int) -> Welcome:
    """One attempt, no retry: TLS with alice's certificate, ``hello``, and the ``welcome``."""
    context = client_context(pki.client("alice"))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=WAIT) as raw,
        context.wrap_socket(raw, server_hostname="chatserver") as tls,
    ):
        tls.sendall(encode(Hello(v=PROTOCOL_VERSION)))
        decoder = FrameDecoder.for_client()
        for _ in range(100):  # a few frames at most come before the welcome
            data = tls.recv(65536)
            assert data, "the server closed the connection before its welcome"
            for frame in decoder.feed(data):
                if isinstance(frame, Welcome):
                    return frame
    raise AssertionError("no welcome")


def test_ready_reload_and_stop_reach_the_manager_in_order(
    pki: Pki, tmp_path: Path, manager: Manager
) -> None:
    """READY=1 once the port takes TLS; RELOADING=1 then READY=1 on SIGHUP; STOPPING=1 on TERM."""
    server = start(pki, tmp_path, {"NOTIFY_SOCKET": manager.address})
    try:
        ready_reload_stop(pki, tmp_path, manager, server)
    finally:
        server.kill()
        server.wait(timeout=WAIT)
    assert manager.pending() == []  # nothing else was sent (no watchdog was asked for)


def ready_reload_stop(
    pki: Pki, folder: Path, manager: Manager, server: subprocess.Popen[bytes]
) -> None:
    """A service's life as systemd sees it: started, used, reloaded, stopped; in that order."""
    ready = manager.next()
    assert list(ready) == ["READY", "STATUS"]
    found = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)", ready["STATUS"])
    assert found, ready
    assert f"INFO {ready['STATUS']} (" in (folder / "server.log").read_text()  # logged before
    # Ready means ready: the very first connection is welcomed.
    assert welcomed(pki, int(found.group(1))).name == "alice"

    server.send_signal(signal.SIGHUP)
    reloading, again = manager.next(), manager.next()
    assert list(reloading) == ["RELOADING", "MONOTONIC_USEC", "STATUS"]
    assert reloading["RELOADING"] == "1"
    assert int(reloading["MONOTONIC_USEC"]) > 0
    assert again == ready  # READY=1 with the same status as before
    assert "TLS reloaded" in (folder / "server.log").read_text()
    assert welcomed(pki, int(found.group(1))).name == "alice"

    server.send_signal(signal.SIGTERM)
    assert manager.next() == {"STOPPING": "1", "STATUS": "shutting down"}
    assert server.wait(timeout=WAIT) == 0, (folder / "server.log").read_text()


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_the_server_runs_in_the_units_sandbox(pki: Pki, tmp_path: Path, loop: str) -> None:
    """The unit's syscall filter, address families and MemoryDenyWriteExecute break nothing.

    Started, welcomed, reloaded and stopped as above, on each event loop,
    with OpenSSL reached through ctypes (sslctx.py) and SQLite in its thread.
    """
    need_systemd_analyze()
    reason = sandbox.why_not()
    if reason is not None:
        pytest.skip(reason)
    confine = sandbox.Sandbox.of(UNITS / "rtchat-server.service")
    assert confine.deny_write_execute
    assert "setrlimit" in confine.syscalls  # the open-file limit is raised at start
    with notify_socket(tmp_path) as manager:
        server = start(
            pki, tmp_path, {"NOTIFY_SOCKET": manager.address}, "--loop", loop, preexec=confine
        )
        try:
            ready_reload_stop(pki, tmp_path, manager, server)
        finally:
            server.kill()
            server.wait(timeout=WAIT)
    log = (tmp_path / "server.log").read_text()
    assert f"{loop} loop" in log
    assert "falls back" not in log  # the SSL_CTX was reached through ctypes (tls.py, sslctx.py)


def test_the_watchdog_is_pinged_when_systemd_asks(pki: Pki, tmp_path: Path) -> None:
    """WATCHDOG_USEC set for this process: WATCHDOG=1 comes again and again after READY=1."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(tmp_path / "notify"))
        manager = Manager(sock, str(tmp_path / "notify"))
        server = start(pki, tmp_path, {"NOTIFY_SOCKET": manager.address, "WATCHDOG_USEC": "200000"})
        try:
            assert manager.next()["READY"] == "1"
            assert [manager.next() for _ in range(3)] == [{"WATCHDOG": "1"}] * 3
        finally:
            server.terminate()
            server.wait(timeout=WAIT)


def test_without_notify_socket_the_log_has_its_timestamps(pki: Pki, tmp_path: Path) -> None:
    """In a terminal (no NOTIFY_SOCKET, no JOURNAL_STREAM) nothing changes: stamped lines."""
    with (tmp_path / "server.log").open("wb") as log:
        server = subprocess.Popen(
            [
                *(str(BIN / "rtchat-server"), "--host", "127.0.0.1", "--port", "0"),
                *("--pki", str(pki.folder.root), "--ephemeral"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=outside_systemd(),
        )
    try:
        text = _wait_for(tmp_path / "server.log", "listening on", server)
    finally:
        server.terminate()
        server.wait(timeout=WAIT)
    assert re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S* INFO listening on", text, re.M), text


def test_into_the_journal_lines_have_a_priority_and_no_timestamp(pki: Pki, tmp_path: Path) -> None:
    """JOURNAL_STREAM naming the server's stderr (as systemd sets it): ``<6>INFO listening on``."""
    log_path = tmp_path / "server.log"
    log_path.touch()
    status = log_path.stat()
    server = start(
        pki, tmp_path, {"JOURNAL_STREAM": f"{status.st_dev}:{status.st_ino}"}
    )  # start() opens the same file again: the same device and inode
    try:
        text = _wait_for(log_path, "listening on", server)
    finally:
        server.terminate()
        server.wait(timeout=WAIT)
    first = text.splitlines()[0]
    assert re.fullmatch(r"<6>INFO listening on 127\.0\.0\.1:\d+ \(.*\)", first), text


def _wait_for(log: Path, text: str, process: subprocess.Popen[bytes]) -> str:
    """The log once it holds ``text``; bounded by WAIT and by the process ending."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and process.poll() is None:
        content = log.read_text()
        if text in content:
            return content
        time.sleep(0.02)
    raise AssertionError(f"no {text!r} in the log:\n{log.read_text()}")


# -- the unit files ---------------------------------------------------------------------


def need_systemd_analyze() -> None:
    """Skip without systemd-analyze, unless RTCHAT_REQUIRE_SYSTEMD_ANALYZE says it must be here.

    .ci/run installs it and sets the variable: there a missing one fails.
    """
    if shutil.which("systemd-analyze") is not None:
        return
    if os.environ.get("RTCHAT_REQUIRE_SYSTEMD_ANALYZE"):
        pytest.fail("no systemd-analyze, and RTCHAT_REQUIRE_SYSTEMD_ANALYZE is set")
    pytest.skip("no systemd-analyze here")


def installed_units(target: Path) -> list[Path]:
    """The unit files as an admin installs them, their programs pointed at this checkout's.

    ``systemd-analyze verify`` checks that every Exec*= program exists: the
    units name where docs/operations.md installs realtimechat
    (/opt/realtimechat/bin), which this machine need not have.
    """
    target.mkdir()
    copies = []
    for unit in sorted(UNITS.glob("*.service")) + sorted(UNITS.glob("*.timer")):
        text = unit.read_text().replace("/opt/realtimechat/bin/", f"{BIN}/")
        copy = target / unit.name
        copy.write_text(text)
        copies.append(copy)
    return copies


def test_the_units_name_the_documented_programs() -> None:
    """Every Exec line runs rtchat-server or rtchat-certs from /opt/realtimechat/bin, or a tool."""
    programs = set()
    for unit in UNITS.glob("*.service"):
        for line in unit.read_text().splitlines():
            if re.match(r"Exec\w*=", line):
                programs.add(line.split("=", 1)[1].lstrip("-+!@:").split()[0])
    assert "/opt/realtimechat/bin/rtchat-server" in programs
    assert "/opt/realtimechat/bin/rtchat-certs" in programs
    assert {program for program in programs if "realtimechat" not in program} <= {
        "/bin/kill",
        "/bin/sh",
        "/bin/systemctl",
        "/usr/bin/install",
    }


def test_systemd_analyze_verify_passes(tmp_path: Path) -> None:
    """``systemd-analyze verify`` finds nothing to say about the units (nor the timer)."""
    need_systemd_analyze()
    units = installed_units(tmp_path / "units")
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *map(str, units)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr


# -- the renewal timer's service --------------------------------------------------------


def renewal_commands(ca: Path, server_folder: Path) -> tuple[list[list[str]], list[str]]:
    """The renewal unit's ExecStart= lines and its ExecStartPost=, made to run here.

    Its folders become temporary ones, its programs this checkout's, and the
    owner it gives the server's files (rtchat) the user running the test.
    """
    settings = sandbox.unit_settings(UNITS / "rtchat-certs-renew.service")
    owner = ["-o", pwd.getpwuid(os.getuid()).pw_name, "-g", grp.getgrgid(os.getgid()).gr_name]

    def here(line: str) -> list[str]:
        line = line.replace("/opt/realtimechat/bin/", f"{BIN}/")
        line = line.replace("/var/lib/rtchat-ca", str(ca))
        line = line.replace("/etc/rtchat", str(server_folder))
        return shlex.split(line.replace("-o rtchat -g rtchat", " ".join(owner)))

    assert settings["Environment"] == ["RTCHAT_CERTS_DIR=/var/lib/rtchat-ca"]
    (post,) = settings["ExecStartPost"]
    return [here(line) for line in settings["ExecStart"]], here(post)


def renew(ca: Path, server_folder: Path) -> None:
    """One run of the renewal service as systemd runs it: each line in turn, stop on error."""
    commands, post = renewal_commands(ca, server_folder)
    assert post == ["/bin/systemctl", "try-reload-or-restart", "rtchat-server.service"]
    for command in commands:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "RTCHAT_CERTS_DIR": str(ca)},
        )
        assert done.returncode == 0, (command, done.stderr)


def crl_number(path: Path) -> int:
    crl = x509.load_pem_x509_crl(path.read_bytes())
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


def certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the renewal's test needs openssl")
def test_renewal_refreshes_the_crl_and_renews_the_certificate_only_near_its_end(
    tmp_path: Path,
) -> None:
    """Weekly: a new CRL each run; a new server certificate (same names) within 30 days of its end.

    The server's folder gets the four files, mode 0600, never ca.key.
    """
    ca, server_folder = tmp_path / "ca", tmp_path / "etc-rtchat"
    server_folder.mkdir()
    subprocess.run(
        [str(BIN / "rtchat-certs"), "init", "--dir", str(ca), "--cn", "chat.example.com"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    first_crl = crl_number(ca / "crl.pem")

    renew(ca, server_folder)
    assert sorted(path.name for path in server_folder.iterdir()) == [
        "ca.crt",
        "crl.pem",
        "server.crt",
        "server.key",
    ]
    assert {stat.S_IMODE(path.stat().st_mode) for path in server_folder.iterdir()} == {0o600}
    assert crl_number(server_folder / "crl.pem") > first_crl
    installed = certificate(server_folder / "server.crt")
    assert installed == certificate(ca / "server.crt")

    renew(ca, server_folder)  # a year left: the same certificate, a newer CRL
    assert certificate(server_folder / "server.crt") == installed
    assert crl_number(server_folder / "crl.pem") > first_crl + 1

    subprocess.run(  # a certificate with ten days left
        [str(BIN / "rtchat-certs"), "server-cert", "--dir", str(ca), "--force", "--days", "10"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    ending = certificate(ca / "server.crt")
    renew(ca, server_folder)
    renewed = certificate(server_folder / "server.crt")
    assert renewed.serial_number not in {ending.serial_number, installed.serial_number}
    assert renewed.not_valid_after_utc - ending.not_valid_after_utc > dt.timedelta(days=300)
    names = x509.SubjectAlternativeName
    assert renewed.extensions.get_extension_for_class(names).value == (
        installed.extensions.get_extension_for_class(names).value
    )
    assert (server_folder / "server.key").read_bytes() == (ca / "server.key").read_bytes()
