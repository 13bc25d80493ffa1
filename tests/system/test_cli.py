"""The three console commands as people run them: real processes, real TLS on loopback.

Every process is an installed console script started next to ``sys.executable``;
its stdout and stderr are read line by line by threads, so every wait has a
deadline and no test sleeps to synchronise.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest
from cryptography import x509

from realtimechat import pki
from realtimechat.cli.server import parse_retention, read_motd
from realtimechat.errors import ConfigError
from realtimechat.pki.groups import groups_of

from ..support import REPO
from .test_terminal import Tmux, at_shell

BIN = Path(sys.executable).parent
WAIT = 15.0  # generous bound for anything that should happen "at once"
CLOCK = r"\d\d:\d\d"


def script(name: str) -> str:
    """The path of one of our console scripts, installed beside this Python."""
    return str(BIN / name)


# -- processes -------------------------------------------------------------------


class LineStream:
    """The lines of one pipe, pumped by a daemon thread so that every wait has a deadline."""

    def __init__(self, pipe: IO[bytes]) -> None:
        self.raw = bytearray()  # every byte, exactly as the process wrote it
        self.lines: list[str] = []  # every line so far, decoded, without its newline
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(pipe,), daemon=True)
        self._thread.start()

    def _pump(self, pipe: IO[bytes]) -> None:
        for raw in iter(pipe.readline, b""):
            self.raw += raw
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put(None)

    def expect(self, pattern: str, *, timeout: float = WAIT) -> re.Match[str]:
        """Read lines until one matches ``pattern`` (``re.search``); fail at EOF or deadline."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                pytest.fail(f"no line matching {pattern!r} within {timeout:g} s: {self.lines}")
            if line is None:
                self._queue.put(None)  # later waits see the end too
                pytest.fail(f"output ended before a line matching {pattern!r}: {self.lines}")
            match = re.search(pattern, line)
            if match is not None:
                return match

    def join(self, timeout: float = WAIT) -> None:
        self._thread.join(timeout)


@dataclass
class Spawned:
    """A running console script with stdin open and its output being read."""

    proc: subprocess.Popen[bytes]
    stdout: LineStream
    stderr: LineStream

    @classmethod
    def start(cls, args: list[str], env: dict[str, str]) -> Spawned:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert proc.stdout is not None
        assert proc.stderr is not None
        return cls(proc, LineStream(proc.stdout), LineStream(proc.stderr))

    def send(self, line: str) -> None:
        """Type one line (the process reads it from its stdin)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode("utf-8") + b"\n")
        self.proc.stdin.flush()

    def end_input(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()

    def wait(self, timeout: float = WAIT) -> int:
        """The exit code, once the process has ended and all its output is read."""
        code = self.proc.wait(timeout)
        self.stdout.join()
        self.stderr.join()
        return code

    def stop(self) -> None:
        """Kill the process if it still runs, and release its pipes."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(WAIT)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None and not pipe.closed:
                pipe.close()
        self.stdout.join()
        self.stderr.join()


Spawn = Callable[..., Spawned]


def error_line(stderr: str) -> str:
    """The one line a failed client writes to stderr (the test fails if it wrote more)."""
    lines = stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("rtchat: "), lines
    return lines[0]


# -- fixtures --------------------------------------------------------------------


@dataclass(frozen=True)
class Folders:
    """Two CA folders made by ``rtchat-certs``: ours (alice, bob) and a stranger's (mallory)."""

    ca: Path
    rogue: Path


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment for our processes: no RTCHAT_* settings, an empty config folder."""
    home = tmp_path_factory.mktemp("home")
    clean = {key: value for key, value in os.environ.items() if not key.startswith("RTCHAT")}
    clean["HOME"] = str(home)
    clean["XDG_CONFIG_HOME"] = str(home / ".config")
    clean["XDG_DATA_HOME"] = str(home / ".local" / "share")
    return clean


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> Folders:
    """Certificates made with the real ``rtchat-certs init`` and ``issue``."""
    root = tmp_path_factory.mktemp("cli-pki")
    made = Folders(ca=root / "ca", rogue=root / "rogue")
    server_options = ["--cn", "chatserver", "--san", "localhost", "--san", "127.0.0.1"]
    commands = [
        ["init", "--dir", str(made.ca), *server_options],
        ["issue", "alice", "--dir", str(made.ca)],
        ["issue", "bob", "--dir", str(made.ca)],
        ["init", "--dir", str(made.rogue), *server_options],
        ["issue", "mallory", "--dir", str(made.rogue)],
    ]
    for command in commands:
        done = subprocess.run(
            [script("rtchat-certs"), *command],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, (command, done.stderr)
    return made


@pytest.fixture
def spawn(env: dict[str, str]) -> Iterator[Spawn]:
    """Start console scripts; every one still running after the test is killed."""
    started: list[Spawned] = []

    def start(*args: str) -> Spawned:
        process = Spawned.start(list(args), env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@dataclass
class RunningServer:
    process: Spawned
    port: int


def start_server(spawn: Spawn, pki: Path, *options: str) -> RunningServer:
    """``rtchat-server --port 0`` on 127.0.0.1 with ``pki``; the port is read from its log."""
    process = spawn(
        script("rtchat-server"), "--host", "127.0.0.1", "--port", "0", "--pki", str(pki), *options
    )
    match = process.stderr.expect(r"listening on 127\.0\.0\.1:(\d+)")
    return RunningServer(process, int(match.group(1)))


@pytest.fixture
def server(spawn: Spawn, folders: Folders) -> RunningServer:
    """``rtchat-server`` on the module's CA folder (its history in the module's home)."""
    return start_server(spawn, folders.ca)


def client_args(port: int, name: str, folders: Folders, *, cn: str = "chatserver") -> list[str]:
    return [
        script("rtchat"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--cn",
        cn,
        "--pki",
        str(folders.ca),
        "--name",
        name,
        "--plain",
        "--wait",
        "5",
    ]


def join(spawn: Spawn, server: RunningServer, folders: Folders, name: str) -> Spawned:
    """Start ``rtchat --plain`` as ``name`` and wait until it has joined."""
    client = spawn(*client_args(server.port, name, folders))
    client.stdout.expect(rf"^{CLOCK} -- joined as {name}\b")
    return client


def run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run a command to its end with ``stdin`` (empty by default) as its input."""
    return subprocess.run(
        args, input=stdin, capture_output=True, text=True, env=env, timeout=30, check=False
    )


# -- chatting --------------------------------------------------------------------


def test_two_clients_see_each_others_messages_and_their_own(
    spawn: Spawn, server: RunningServer, folders: Folders
) -> None:
    """Alice and bob, each an ``rtchat --plain`` process, see both messages, their own too."""
    alice = join(spawn, server, folders, "alice")
    bob = join(spawn, server, folders, "bob")
    alice.stdout.expect(rf"^{CLOCK} -- bob joined$")

    bob.send("hello from bob")
    alice.stdout.expect(rf"^{CLOCK} bob: hello from bob$")
    bob.stdout.expect(rf"^{CLOCK} bob: hello from bob$")
    alice.send("hi bob, alice here")
    bob.stdout.expect(rf"^{CLOCK} alice: hi bob, alice here$")
    alice.stdout.expect(rf"^{CLOCK} alice: hi bob, alice here$")

    bob.end_input()
    assert bob.wait() == 0
    alice.stdout.expect(rf"^{CLOCK} -- bob left\b")
    alice.end_input()
    assert alice.wait() == 0
    assert alice.stderr.lines == []
    assert bob.stderr.lines == []
    server.process.stderr.expect(r"joined peer=127\.0\.0\.1:\d+ cn=alice .*name=alice")
    server.process.stderr.expect(r"joined peer=127\.0\.0\.1:\d+ cn=bob .*name=bob")


def test_state_keeps_the_resume_point_where_asked(
    spawn: Spawn, server: RunningServer, folders: Folders, env: dict[str, str], tmp_path: Path
) -> None:
    """--state FILE holds the resume point instead of the per-user data folder."""
    state = tmp_path / "dev" / "client-state.json"
    default = Path(env["XDG_DATA_HOME"]) / "rtchat" / "client-state.json"
    before = default.read_text() if default.exists() else None
    alice = spawn(*client_args(server.port, "alice", folders), "--state", str(state))
    alice.stdout.expect(rf"^{CLOCK} -- joined as alice\b")
    alice.send("remember me")
    alice.stdout.expect(rf"^{CLOCK} alice: remember me$")
    alice.end_input()
    assert alice.wait() == 0
    saved = json.loads(state.read_text())
    assert len(saved) == 1
    assert next(iter(saved.values())) > 0
    assert (default.read_text() if default.exists() else None) == before


def test_a_fresh_join_shows_earlier_messages_and_a_resume_what_was_missed(
    spawn: Spawn, folders: Folders, tmp_path: Path
) -> None:
    """The line after the join replay tells history (fresh) from what we missed (resumed)."""
    running = start_server(spawn, folders.ca, "--ephemeral")
    state = ["--state", str(tmp_path / "bob-state.json")]
    alice = join(spawn, running, folders, "alice")
    for text in ("one", "two"):
        alice.send(text)
        alice.stdout.expect(rf"^{CLOCK} alice: {text}$")

    bob = spawn(*client_args(running.port, "bob", folders), *state)
    bob.stdout.expect(rf"^{CLOCK} alice: two$")
    bob.stdout.expect(rf"^{CLOCK} -- 2 earlier messages above$")
    bob.end_input()
    assert bob.wait() == 0
    alice.send("three")
    alice.stdout.expect(rf"^{CLOCK} alice: three$")

    again = spawn(*client_args(running.port, "bob", folders), *state)
    again.stdout.expect(rf"^{CLOCK} alice: three$")
    again.stdout.expect(rf"^{CLOCK} -- 1 missed message above$")
    again.end_input()
    assert again.wait() == 0
    assert not any("alice: two" in line for line in again.stdout.lines)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_chat_keeps_its_state_with_the_development_pki() -> None:
    """`make chat` resumes from .rtchat-dev/, not the user's own client-state.json."""
    root = REPO
    done = subprocess.run(
        ["make", "-n", "chat", "NAME=bob"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    command = done.stdout.replace("\\\n", " ").split("\n")
    (chat,) = [line for line in command if "/rtchat " in line]
    assert "--state .rtchat-dev/client-state.json" in " ".join(chat.split())


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_the_development_pki_makes_alice_an_operator(tmp_path: Path) -> None:
    """`make run`'s PKI: alice's certificate is in group admin (a newcomer can /kick), bob's not."""
    folder = tmp_path / "dev"
    subprocess.run(
        ["make", "--no-print-directory", "pki", f"DEV_PKI={folder}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )

    def groups(user: str) -> list[str]:
        pem = (folder / "clients" / f"{user}.crt").read_bytes()
        return groups_of(x509.load_pem_x509_certificate(pem))

    assert (groups("alice"), groups("bob")) == (["admin"], [])


def test_me_double_slash_and_escape_sequences(
    spawn: Spawn, server: RunningServer, folders: Folders
) -> None:
    """``/me`` is an action, ``//`` a literal slash, and a peer's ESC/BEL arrive as text."""
    alice = join(spawn, server, folders, "alice")
    bob = join(spawn, server, folders, "bob")
    alice.stdout.expect(rf"^{CLOCK} -- bob joined$")

    alice.send("/me waves")
    bob.stdout.expect(rf"^{CLOCK} \* alice waves$")
    alice.send("//literal")
    bob.stdout.expect(rf"^{CLOCK} alice: /literal$")
    alice.send("clear \x1b[2J\x1b]0;pwned\x07 title")
    shown = re.escape(r"clear \x1b[2J\x1b]0;pwned\x07 title")
    bob.stdout.expect(rf"^{CLOCK} alice: {shown}$")
    alice.stdout.expect(rf"^{CLOCK} alice: {shown}$")

    alice.end_input()
    bob.end_input()
    assert alice.wait() == 0
    assert bob.wait() == 0
    for client in (alice, bob):
        assert b"\x1b" not in client.stdout.raw
        assert b"\x07" not in client.stdout.raw
        assert b"\\x1b[2J" in client.stdout.raw


def test_every_script_is_shown_as_written(
    spawn: Spawn, server: RunningServer, folders: Folders
) -> None:
    """Joiners in Persian, Hindi and emoji arrive as written; an override stays escaped."""
    alice = join(spawn, server, folders, "alice")
    bob = join(spawn, server, folders, "bob")
    alice.stdout.expect(rf"^{CLOCK} -- bob joined$")
    written = "می\u200cخواهم क्\u200dष 👩\u200d💻 🏳️\u200d🌈 👍🏽 🇮🇷"  # noqa: RUF001 - Persian
    alice.send(f"{written} abc\u202edef")
    line = bob.stdout.expect(r"abc\\u202edef$").string
    assert line.endswith(f"alice: {written} abc\\u202edef"), ascii(line)
    alice.end_input()
    bob.end_input()
    assert alice.wait() == 0
    assert bob.wait() == 0


# -- in order under the rate limit (issue 13) ---------------------------------------

# Faster than the server's --rate: 500 lines a second against 50 requests.
PIPE_PACE = 0.002
# A rate of 5 a second bites whenever the client gets its answers within a
# fifth of a second (its one message in flight), also on a busy machine; at
# 50 a second a loaded machine's client was too slow to be refused.
ORDER_SERVER = ("--ephemeral", "--rate", "5", "--burst", "5", "--history-lines", "200")
NUMBERED = [str(n) for n in range(1, 41)]


def pipe_past_the_rate_limit(spawn: Spawn, folders: Folders, mode: str) -> list[str]:
    """Pipe NUMBERED into ``rtchat MODE`` as alice; the texts a later joiner sees, in order.

    The lines are written at a steady pace once alice has joined, as a
    producer such as ``tail -f`` writes them: the pace is the workload (lines
    keep coming while a refused one waits to be resent), not a
    synchronisation. The server must have refused some of them.
    """
    running = start_server(spawn, folders.ca, *ORDER_SERVER)
    alice = spawn(*client_args(running.port, "alice", folders), mode, "--wait", "60")
    alice.stdout.expect("joined as alice" if mode == "--plain" else '"event": "welcome"')
    for line in NUMBERED:
        alice.send(line)
        time.sleep(PIPE_PACE)
    alice.end_input()
    assert alice.wait(timeout=90) == 0, alice.stderr.lines  # every line echoed
    running.process.stderr.expect(r" limited .*limit=rate")  # the limit did bite
    witness = spawn(*client_args(running.port, "bob", folders), mode)
    replayed = (
        f"-- {len(NUMBERED)} earlier messages above"
        if mode == "--plain"
        else f'"event": "history", .*"count": {len(NUMBERED)}'
    )
    witness.stdout.expect(replayed)  # the replay's end
    witness.end_input()
    assert witness.wait() == 0, witness.stderr.lines
    return [text for line in witness.stdout.lines if (text := alices_text(line, mode))]


def alices_text(line: str, mode: str) -> str | None:
    """The text of one of alice's messages on an output line of ``mode``, else None."""
    if mode == "--json":
        event = json.loads(line)
        return event["text"] if event["event"] == "message" and event["from"] == "alice" else None
    found = re.fullmatch(rf"{CLOCK} alice: (.*)", line)
    return found.group(1) if found else None


@pytest.mark.protocol("9.2", "12.3")
def test_plain_lines_piped_past_the_rate_limit_arrive_in_order(
    spawn: Spawn, folders: Folders
) -> None:
    """--plain: 40 lines piped faster than --rate are stored once each, in the order piped."""
    seen = pipe_past_the_rate_limit(spawn, folders, "--plain")
    assert seen == NUMBERED, " ".join(seen)


@pytest.mark.protocol("9.2", "12.3")
def test_json_lines_piped_past_the_rate_limit_arrive_in_order(
    spawn: Spawn, folders: Folders
) -> None:
    """--json: 40 lines piped faster than --rate are stored once each, in the order piped."""
    seen = pipe_past_the_rate_limit(spawn, folders, "--json")
    assert seen == NUMBERED, " ".join(seen)


# -- refusals --------------------------------------------------------------------


def test_no_server_listening_exits_3(folders: Folders, env: dict[str, str]) -> None:
    """With nobody listening on the port the client exits 3 with one 'cannot connect' line."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound but not listening: a connect is refused
        port = sock.getsockname()[1]
        done = run(client_args(port, "alice", folders), env)
    assert done.returncode == 3
    assert "cannot connect to 127.0.0.1:" in error_line(done.stderr)
    assert done.stdout == ""


def test_wrong_cn_exits_4_and_names_it(
    server: RunningServer, folders: Folders, env: dict[str, str]
) -> None:
    """A --cn the server's certificate is not for exits 4, saying which names would do."""
    done = run(client_args(server.port, "alice", folders, cn="wrong"), env)
    assert done.returncode == 4
    assert error_line(done.stderr) == (
        "rtchat: the server's certificate is not for 'wrong' "
        "(it is for: chatserver, localhost, 127.0.0.1): use one of those with --cn"
    )
    assert done.stdout == ""


def test_certificate_from_another_ca_exits_5(
    server: RunningServer, folders: Folders, env: dict[str, str]
) -> None:
    """A client certificate from another CA exits 5; the server logs the refusal."""
    args = [
        script("rtchat"),
        *("--host", "127.0.0.1", "--port", str(server.port), "--cn", "chatserver"),
        *("--cert", str(folders.rogue / "clients" / "mallory.crt")),
        *("--key", str(folders.rogue / "clients" / "mallory.key")),
        *("--ca", str(folders.ca / "ca.crt"), "--plain", "--wait", "5"),
    ]
    done = run(args, env)
    assert done.returncode == 5
    assert "did not accept our certificate" in error_line(done.stderr)
    assert done.stdout == ""
    server.process.stderr.expect(
        r"refused peer=127\.0\.0\.1:\d+ "
        r'reason="certificate verify failed: unable to get local issuer certificate"'
    )


def unused_port() -> int:
    """A port nobody listens on: a client that got as far as connecting would exit 3."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def without_certificate_options(port: int) -> list[str]:
    return [script("rtchat"), "--host", "127.0.0.1", "--port", str(port), "--cn", "chatserver"]


def user_folder(where: Path, folders: Folders, *names: str) -> Path:
    """A user folder as ``rtchat-certs request`` + ``sign --out`` leave it, for ``names``."""
    where.mkdir(parents=True)
    (where / "ca.crt").write_bytes((folders.ca / "ca.crt").read_bytes())
    for name in names:
        for suffix in (".crt", ".key"):
            source = folders.ca / "clients" / f"{name}{suffix}"
            (where / source.name).write_bytes(source.read_bytes())
    return where


def test_the_admins_folders_and_certificates_are_no_identity(
    tmp_path: Path, folders: Folders, env: dict[str, str]
) -> None:
    """A CA or server folder, or a CA or server certificate, is named as such before connecting.

    The server's refusal ("sslv3 alert unsupported certificate", exit 5) did
    not say that the certificate was the wrong kind: it is a configuration
    error, found before a byte is sent.
    """
    base = without_certificate_options(unused_port())
    ca = folders.ca
    server_folder = tmp_path / "server"
    server_folder.mkdir()
    for file in ("ca.crt", "server.crt", "server.key"):
        (server_folder / file).write_bytes((ca / file).read_bytes())
    cases = [
        (
            ["--identity", str(ca)],
            f"{ca} is a CA folder, not a user folder: pass --pki {ca} --name NAME to use a "
            "client certificate issued there, or --identity with the folder that holds your "
            "NAME.crt, NAME.key and ca.crt",
        ),
        (
            ["--identity", str(server_folder)],
            f"{server_folder} is a server folder, not a user folder: pass --identity with the "
            "folder that holds your NAME.crt, NAME.key and ca.crt",
        ),
        (
            ["--cert", str(ca / "server.crt"), "--key", str(ca / "server.key")],
            f"{ca / 'server.crt'} is a server certificate (serverAuth, no clientAuth), not a "
            "client certificate: use your own: --identity DIR, --pki DIR --name NAME, "
            "or --cert/--key/--ca",
        ),
        (
            ["--cert", str(ca / "ca.crt"), "--key", str(ca / "ca.key")],
            f"{ca / 'ca.crt'} is a CA certificate, not a client certificate: use your own: "
            "--identity DIR, --pki DIR --name NAME, or --cert/--key/--ca",
        ),
    ]
    for options, line in cases:
        done = run([*base, *options, "--ca", str(ca / "ca.crt"), "--plain"], env)
        assert (done.returncode, error_line(done.stderr)) == (1, f"rtchat: {line}"), options


def test_a_folder_without_the_asked_name_says_which_names_it_has(
    tmp_path: Path, folders: Folders, env: dict[str, str]
) -> None:
    """--name that matches no NAME.crt: the names there are listed, matched as files are named."""
    base = [*without_certificate_options(unused_port()), "--plain"]
    bobs = user_folder(tmp_path / "bob", folders, "bob")
    both = user_folder(tmp_path / "both", folders, "alice", "bob")
    cases = [
        (
            ["--identity", str(bobs), "--name", "alice"],
            f"no certificate for 'alice' in {bobs} (it has: bob; "
            "names are matched as the files are named)",
        ),
        (
            ["--identity", str(bobs), "--name", "Bob"],
            f"no certificate for 'Bob' in {bobs} (it has: bob; "
            "names are matched as the files are named)",
        ),
        (
            ["--identity", str(both)],
            f"{both} holds certificates for alice, bob: say whose with --name",
        ),
        (
            ["--pki", str(folders.ca), "--name", "carol"],
            f"no certificate for 'carol' in {folders.ca / 'clients'} (it has: alice, bob; "
            "names are matched as the files are named)",
        ),
    ]
    for options, line in cases:
        done = run([*base, *options], env)
        assert (done.returncode, error_line(done.stderr)) == (1, f"rtchat: {line}"), options


def test_swapped_or_unsigned_files_are_named_for_what_they_are(
    tmp_path: Path, folders: Folders, env: dict[str, str]
) -> None:
    """A key given as --cert, a CSR as --cert or a certificate as --key: one line says which.

    OpenSSL said only "[SSL] PEM lib (_ssl.c:3905)".
    """
    base = [*without_certificate_options(unused_port()), "--ca", str(folders.ca / "ca.crt")]
    crt, key = folders.ca / "clients" / "alice.crt", folders.ca / "clients" / "alice.key"
    requested = run(
        [script("rtchat-certs"), "request", "dave", "--out", str(tmp_path / "dave")], env
    )
    assert requested.returncode == 0, requested.stderr
    csr, dave_key = tmp_path / "dave" / "dave.csr", tmp_path / "dave" / "dave.key"
    cases = [
        (
            ["--cert", str(key), "--key", str(crt)],
            f"{key} holds a private key, not a certificate: are --cert and --key swapped?",
        ),
        (
            ["--cert", str(csr), "--key", str(dave_key)],
            f"{csr} is a certificate request, not a certificate: it is waiting to be signed "
            f"(your admin runs `rtchat-certs sign {csr.name}` and sends back the certificate "
            "or an invite for `rtchat join`)",
        ),
        (
            ["--cert", str(crt), "--key", str(folders.ca / "ca.crt")],
            f"{folders.ca / 'ca.crt'} holds a certificate, not a private key: give --key "
            "the .key file",
        ),
    ]
    for options, line in cases:
        done = run([*base, *options, "--plain"], env)
        assert (done.returncode, error_line(done.stderr)) == (1, f"rtchat: {line}"), options


def test_a_request_waiting_to_be_signed_is_recognised(tmp_path: Path, env: dict[str, str]) -> None:
    """A user folder with NAME.key and NAME.csr only: the request waits; it says what to do."""
    home = tmp_path / "home"
    mine = {**env, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    identity = home / ".config" / "rtchat" / "identity"
    requested = run([script("rtchat-certs"), "request", "dave"], mine)
    assert requested.returncode == 0, requested.stderr
    expected = (
        f"rtchat: the request dave.csr in {identity} is waiting to be signed: send it to "
        "your admin (`rtchat-certs sign dave.csr --invite dave.invite`), then run "
        "`rtchat join dave.invite` with the invite they send back"
    )
    for options in ([], ["--identity", str(identity)]):
        done = run([*without_certificate_options(unused_port()), *options, "--plain"], mine)
        assert (done.returncode, error_line(done.stderr)) == (1, expected), options


def test_a_server_host_without_its_folder_is_pointed_at_the_server_bundle(
    tmp_path: Path, env: dict[str, str], folders: Folders
) -> None:
    """On a server host the advice is the admin's server-bundle, never a second CA (init)."""
    home = tmp_path / "home"
    mine = {**env, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    server_folder = home / ".config" / "rtchat" / "server"
    server_folder.mkdir(parents=True)
    lines = []
    for step in ("empty", "half"):
        done = run([script("rtchat-server"), "--port", "1"], mine)
        assert done.returncode == 1, (step, done.stderr)
        lines.append(done.stderr.strip())
        (server_folder / "server.crt").write_bytes((folders.ca / "server.crt").read_bytes())
    for line in lines:
        assert "init" not in line, line
        assert "rtchat-certs server-bundle" in line, line
        assert "on the admin's machine" in line, line


def test_one_passphrase_variable_for_both_tools(tmp_path: Path, env: dict[str, str]) -> None:
    """RTCHAT_PASSPHRASE protects a new key in rtchat-certs and opens it in rtchat; --help says so.

    RTCHAT_CERTS_PASSPHRASE, the old name, still works.
    """
    for variable in ("RTCHAT_PASSPHRASE", "RTCHAT_CERTS_PASSPHRASE"):
        out = tmp_path / variable
        made = run(
            [script("rtchat-certs"), "request", "erin", "--passphrase", "--out", str(out)],
            {**env, variable: "s3cret words"},
        )
        assert made.returncode == 0, made.stderr
        assert b"ENCRYPTED" in (out / "erin.key").read_bytes()
    for command in (["rtchat"], ["rtchat-certs"], ["rtchat-certs", "request"]):
        shown = run([script(command[0]), *command[1:], "--help"], env)
        assert "RTCHAT_PASSPHRASE" in " ".join(shown.stdout.split()), command


def test_missing_host_exits_2(folders: Folders, env: dict[str, str]) -> None:
    """Without --host the client exits 2 and says what is missing."""
    args = [script("rtchat"), "--port", "8443", "--cn", "chatserver", "--plain"]
    args += ["--pki", str(folders.ca), "--name", "alice"]
    done = run(args, env)
    assert done.returncode == 2
    assert "missing --host" in error_line(done.stderr)


def test_host_may_carry_the_port(
    server: RunningServer, folders: Folders, env: dict[str, str]
) -> None:
    """--host 127.0.0.1:PORT needs no --port; a --port that says otherwise is a usage error."""
    args = client_args(server.port, "alice", folders)
    host_port = [*args[:2], f"127.0.0.1:{server.port}", *args[5:]]  # no --port
    joined = run(host_port, env, stdin="port from --host\n")
    assert joined.returncode == 0, joined.stderr
    assert re.search(rf"{CLOCK} alice: port from --host", joined.stdout)

    clash = run([*host_port, "--port", "1"], env)
    assert clash.returncode == 2
    assert error_line(clash.stderr) == (
        f"rtchat: --host 127.0.0.1:{server.port} says port {server.port} "
        "but --port says 1: give the port once"
    )
    same = run([*host_port, "--port", str(server.port)], env)
    assert same.returncode == 0, same.stderr  # the same port twice is no clash
    bad = run([*args[:2], "127.0.0.1:http", *args[5:]], env)
    assert bad.returncode == 2
    assert "--host: the port in '127.0.0.1:http' must be a number" in error_line(bad.stderr)


# -- questions on a terminal ----------------------------------------------------

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    session = Tmux(tmp_path)
    yield session
    session.kill()


def ask_in_pane(tmux: Tmux, folders: Folders, *options: str) -> None:
    """Start the interactive rtchat in a fresh pane, with ``options`` and our CA folder."""
    tmux.new_pane("alice")
    command = [script("rtchat"), "--pki", str(folders.ca), "--cn", "chatserver", *options]
    tmux.type("alice", " ".join(command), enter=True)


@needs_tmux
def test_the_address_question_takes_host_and_port(
    tmux: Tmux, server: RunningServer, folders: Folders
) -> None:
    """HOST:PORT typed at "Server address" answers the port too: no "Port" question."""
    ask_in_pane(tmux, folders, "--name", "alice")
    tmux.wait_output("alice", "Server address")
    tmux.type("alice", f"127.0.0.1:{server.port}", enter=True)
    screen = tmux.wait_output("alice", "joined as alice")
    assert "Port" not in screen


@needs_tmux
def test_the_address_question_asks_again_when_its_port_is_not_ports(
    tmux: Tmux, server: RunningServer, folders: Folders
) -> None:
    """With --port given, HOST:PORT naming another port is explained and asked again."""
    ask_in_pane(tmux, folders, "--name", "alice", "--port", str(server.port))
    tmux.wait_text("alice", "Server address")
    tmux.type("alice", "127.0.0.1:1", enter=True)
    tmux.wait_text("alice", f"that address says port 1 but --port says {server.port}")
    tmux.type("alice", "127.0.0.1", enter=True)
    tmux.wait_text("alice", "joined as alice")


@needs_tmux
def test_a_name_typed_at_the_question_that_no_file_has(
    tmux: Tmux, tmp_path: Path, server: RunningServer, folders: Folders
) -> None:
    """'Bob' typed at "Your name" for the default folder's certificates: the names there are listed.

    It said "no client certificate in ...: ask your admin for one" although
    bob's certificate was there. (The name is asked only because the folder
    holds two certificates: with one, the certificate decides.)
    """
    identity = user_folder(
        tmp_path / "home" / ".config" / "rtchat" / "identity", folders, "alice", "bob"
    )
    tmux.new_pane("bob", width=300)  # the error line names a long folder: keep it one line
    command = [script("rtchat"), *without_certificate_options(server.port)[1:]]
    tmux.type("bob", " ".join(command), enter=True)
    tmux.wait_text("bob", "Your name:")
    tmux.type("bob", "Bob", enter=True)
    tmux.wait_text("bob", f"rtchat: no certificate for 'Bob' in {identity} (it has: alice, bob;")
    at_shell(tmux, "bob", 1)


def test_cn_defaults_to_the_host(
    server: RunningServer, folders: Folders, env: dict[str, str]
) -> None:
    """No --cn: the host is the name checked against the server's certificate (it has 127.0.0.1)."""
    args = [
        a for a in client_args(server.port, "alice", folders) if a not in ("--cn", "chatserver")
    ]
    done = run(args, env, stdin="no cn needed\n")
    assert done.returncode == 0, done.stderr
    assert re.search(rf"{CLOCK} alice: no cn needed", done.stdout)


def test_save_profile_writes_the_defaults_that_a_bare_rtchat_uses(
    tmp_path: Path, server: RunningServer, folders: Folders, env: dict[str, str]
) -> None:
    """--save-profile alone writes [defaults]; then a bare rtchat joins the same server.

    And a config with exactly one saved server, and no defaults, is used the same way.
    """
    mine = {**env, "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    saved = run([*client_args(server.port, "alice", folders), "--save-profile"], mine, "one\n")
    assert saved.returncode == 0, saved.stderr
    config = tmp_path / "xdg" / "rtchat" / "config.toml"
    assert config.read_text().startswith("[defaults]\n")
    bare = run([script("rtchat"), "--plain"], mine, stdin="bare\n")
    assert bare.returncode == 0, bare.stderr
    assert re.search(rf"{CLOCK} alice: bare", bare.stdout)

    config.unlink()
    named = [*client_args(server.port, "alice", folders), "--save-profile", "lab"]
    assert run(named, mine, "two\n").returncode == 0
    assert config.read_text().startswith("[profiles.lab]\n")
    only = run([script("rtchat"), "--plain"], mine, stdin="only one\n")
    assert only.returncode == 0, only.stderr
    assert re.search(rf"{CLOCK} alice: only one", only.stdout)


@needs_tmux
def test_only_the_address_is_asked_when_the_certificate_decides_the_rest(
    tmux: Tmux, tmp_path: Path, server: RunningServer, folders: Folders
) -> None:
    """A user folder with one certificate: the address is asked; not the CN, not the name."""
    identity = user_folder(tmp_path / "alice", folders, "alice")
    tmux.new_pane("alice")
    tmux.type("alice", f"{script('rtchat')} --identity {identity}", enter=True)
    tmux.wait_output("alice", "Server address")
    tmux.type("alice", f"127.0.0.1:{server.port}", enter=True)
    screen = tmux.wait_output("alice", "joined as alice")
    assert "Server certificate name" not in screen
    assert "Your name" not in screen


@needs_tmux
def test_a_cn_the_certificate_lacks_offers_its_names_and_asks_again(
    tmux: Tmux, tmp_path: Path, spawn: Spawn
) -> None:
    """The host typed is not on the server's certificate: its names are offered, then it joins."""
    root = tmp_path / "ca"
    pki.init_ca(root, "chatserver")  # no 127.0.0.1 on it: only chatserver
    pki.issue_client(root, "alice")
    running = start_server(spawn, root)
    tmux.new_pane("alice", width=160)
    tmux.type("alice", f"{script('rtchat')} --pki {root} --name alice", enter=True)
    tmux.wait_output("alice", "Server address")
    tmux.type("alice", f"127.0.0.1:{running.port}", enter=True)
    tmux.wait_output(
        "alice", "the server's certificate is not for '127.0.0.1' (it is for: chatserver)"
    )
    tmux.wait_output("alice", "Server certificate name (CN) [chatserver]")
    tmux.type("alice", "still-wrong", enter=True)
    tmux.wait_output("alice", "not for 'still-wrong' (it is for: chatserver)")
    tmux.keys("alice", "Enter")
    tmux.wait_output("alice", "joined as alice")


def passphrase_folder(where: Path, folders: Folders, name: str, passphrase: str) -> Path:
    """A user folder whose key is protected by ``passphrase``, signed by the module's CA."""
    made = pki.create_request(where, name, passphrase=passphrase.encode())
    pki.sign_request(folders.ca, pki.read_csr(made.csr), out_dir=where)
    return where


@needs_tmux
def test_three_passphrase_tries_as_in_ssh(
    tmux: Tmux, tmp_path: Path, server: RunningServer, folders: Folders
) -> None:
    """A wrong passphrase is asked again, three tries in all; the third wrong one ends it."""
    identity = passphrase_folder(tmp_path / "erin", folders, "erin", "right one")
    tmux.new_pane("erin", width=200)
    command = [*without_certificate_options(server.port), "--identity", str(identity)]
    tmux.type("erin", " ".join(command), enter=True)
    for attempt in ("wrong", "also wrong", "right one"):
        tmux.wait_for("erin", lambda screen: screen.rstrip().endswith("Passphrase for erin.key:"))
        tmux.type("erin", attempt, enter=True)
    screen = tmux.wait_output("erin", "joined as erin")
    assert screen.count("wrong passphrase, try again") == 2
    tmux.keys("erin", "C-d")
    at_shell(tmux, "erin")
    tmux.type("erin", "clear", enter=True)
    tmux.type("erin", " ".join(command), enter=True)
    for attempt in ("one", "two", "three"):
        tmux.wait_for("erin", lambda screen: screen.rstrip().endswith("Passphrase for erin.key:"))
        tmux.type("erin", attempt, enter=True)
    tmux.wait_output("erin", f"rtchat: wrong passphrase for key {identity / 'erin.key'} (3 tries)")
    at_shell(tmux, "erin", 1)


# -- the server's life -----------------------------------------------------------


@pytest.mark.protocol("9.2", "12.2")
def test_sigterm_says_shutdown_to_every_client(
    spawn: Spawn, server: RunningServer, folders: Folders
) -> None:
    """SIGTERM: the server exits 0 soon; each client says 'shutdown', then tries to reconnect."""
    alice = join(spawn, server, folders, "alice")
    bob = join(spawn, server, folders, "bob")
    alice.stdout.expect(rf"^{CLOCK} -- bob joined$")

    started = time.monotonic()
    server.process.proc.send_signal(signal.SIGTERM)
    assert server.process.wait() == 0
    assert time.monotonic() - started < 5.0
    assert any("shutting down" in line for line in server.process.stderr.lines)
    for client in (alice, bob):
        client.stdout.expect(r"the server ended the session: shutdown; reconnecting in")
        client.end_input()  # nothing was left unsent: leaving now is a clean exit
        assert client.wait() == 0


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM], ids=["HUP", "TERM"])
def test_a_signal_sent_as_soon_as_it_listens_is_handled(
    spawn: Spawn, folders: Folders, signum: signal.Signals
) -> None:
    """SIGHUP or SIGTERM the moment "listening on" shows: a reload, or a clean stop.

    The handlers used to be installed after that line: a script (or a test)
    that signalled at once killed the server, SIGHUP's default action.
    """
    server = start_server(spawn, folders.ca).process
    server.proc.send_signal(signum)
    if signum == signal.SIGHUP:
        server.stderr.expect(r"TLS reloaded")
        assert server.proc.poll() is None, "SIGHUP means reload, not stop"
        server.proc.send_signal(signal.SIGTERM)
    assert server.wait() == 0
    ending = [line.split(" INFO ")[-1] for line in server.stderr.lines[-2:]]
    assert ending == ["shutting down", "stopped"], server.stderr.lines


def test_server_without_port_and_no_terminal_exits_2(folders: Folders, env: dict[str, str]) -> None:
    """Without --port and with no terminal to ask on, the server exits 2 saying so."""
    done = subprocess.run(
        [script("rtchat-server"), "--host", "127.0.0.1", "--pki", str(folders.ca)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["rtchat-server: missing --port (or RTCHAT_SERVER_PORT)"]
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("command", "mentions"),
    [
        ("rtchat-server", ["--port", "--host", "--pki", "--cert", "--key", "--ca", "--names"]),
        ("rtchat", ["--host", "--port", "--cn", "--name", "--pki", "--plain", "--wait"]),
        ("rtchat-certs", ["init", "issue"]),
    ],
)
def test_help_lists_the_key_options(command: str, mentions: list[str], env: dict[str, str]) -> None:
    """``--help`` exits 0 and mentions the command's key options."""
    done = run([script(command), "--help"], env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Usage: {command} ")
    for word in mentions:
        assert re.search(rf"(^|\s){re.escape(word)}\b", done.stdout), word


def test_oversized_motd_is_a_clear_error(tmp_path: Path) -> None:
    """A --motd file too large to send in welcome is refused before the server starts."""
    motd = tmp_path / "motd.txt"
    motd.write_text("x" * 5000)
    with pytest.raises(ConfigError, match="longer than 4096"):
        read_motd(motd)
    motd.write_text("  welcome!\n")
    assert read_motd(motd) == "welcome!"


def test_the_seeds_commands_find_certificates_in_the_config_folder(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """Without certificate options, server and client use the per-user folder or say what to run."""
    home = {
        **env,
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / ".config"),
        "XDG_DATA_HOME": str(tmp_path / ".local" / "share"),
    }
    config = tmp_path / ".config" / "rtchat"

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [script(args[0]), *args[1:]],
            input=stdin,
            capture_output=True,
            text=True,
            env=home,
            timeout=60,
            check=False,
        )

    empty = run("rtchat-server", "--host", "127.0.0.1", "--port", "0")
    assert empty.returncode == 1
    assert "rtchat-certs server-bundle" in empty.stderr
    lonely = run("rtchat", "--host", "127.0.0.1", "--port", "1", "--cn", "chatserver")
    assert lonely.returncode == 1
    assert "no client certificate" in lonely.stderr

    assert run("rtchat-certs", "init", "--cn", "chatserver", "--san", "127.0.0.1").returncode == 0
    assert run("rtchat-certs", "issue", "alice").returncode == 0
    identity = config / "identity"
    identity.mkdir()
    for source in (
        config / "ca" / "clients" / "alice.crt",
        config / "ca" / "clients" / "alice.key",
        config / "ca" / "ca.crt",
    ):
        (identity / source.name).write_bytes(source.read_bytes())

    server = Spawned.start([script("rtchat-server"), "--host", "127.0.0.1", "--port", "0"], home)
    try:
        port = server.stderr.expect(r"listening on 127\.0\.0\.1:(\d+)").group(1)
        chat = run(
            "rtchat",
            "--host",
            "127.0.0.1",
            "--port",
            port,
            "--cn",
            "chatserver",
            stdin="found my certificate\n",
        )
        assert chat.returncode == 0, chat.stderr
        assert re.search(rf"{CLOCK} alice: found my certificate", chat.stdout)
    finally:
        server.stop()


@pytest.mark.protocol("4.2")
def test_blank_motd_is_no_motd(tmp_path: Path) -> None:
    """An empty --motd file sends no motd at all rather than an empty one."""
    motd = tmp_path / "motd.txt"
    motd.write_text("\n  \n")
    assert read_motd(motd) is None


@pytest.mark.protocol("8.4")
def test_corrupt_data_folder_stops_the_server_with_a_clear_message(
    tmp_path: Path, folders: Folders, env: dict[str, str]
) -> None:
    """A --data folder holding a damaged database: the server refuses to start, saying why."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "messages.db").write_bytes(b"definitely not sqlite " * 50)
    done = subprocess.run(
        [
            script("rtchat-server"),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--pki",
            str(folders.ca),
            "--data",
            str(data),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert "cannot use the message store" in done.stderr
    assert "listening" not in done.stderr


@pytest.mark.protocol("5.3")
def test_names_release_frees_a_name(
    tmp_path: Path, folders: Folders, env: dict[str, str], spawn: Spawn
) -> None:
    """`rtchat-server names release NAME --data DIR` forgets who owned NAME."""
    data = tmp_path / "data"
    running = start_server(spawn, folders.ca, "--data", str(data))
    server = running.process
    alice = spawn(*client_args(running.port, "alice", folders))
    alice.stdout.expect(r"joined as alice")
    alice.end_input()
    assert alice.wait() == 0
    server.proc.send_signal(signal.SIGTERM)
    assert server.wait() == 0

    def release() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [script("rtchat-server"), "names", "release", "alice", "--data", str(data)],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
            check=False,
        )

    first = release()
    assert first.returncode == 0, first.stderr
    assert "released 'alice'" in first.stdout
    again = release()
    assert again.returncode == 1
    assert "no identity owns the name 'alice'" in again.stderr


@pytest.mark.parametrize(
    ("text", "age", "count"),
    [
        ("30d", 30 * 86400, None),
        ("12h", 12 * 3600, None),
        ("90m", 5400, None),
        ("5000", None, 5000),
        (None, None, None),
    ],
)
def test_retention_is_an_age_or_a_count(
    text: str | None, age: int | None, count: int | None
) -> None:
    """--retention reads 30d/12h/90m as an age and a bare number as a count."""
    parsed_age, parsed_count = parse_retention(text)
    assert (parsed_age.total_seconds() if parsed_age else None) == age
    assert parsed_count == count


@pytest.mark.parametrize("value", ["0.001", "-1", "nan", "inf", "1e9", "often"])
def test_a_watch_interval_that_is_a_busy_loop_or_no_number_is_refused(
    value: str, env: dict[str, str]
) -> None:
    """--watch-interval is 0 (off) or 0.1 to 86400 s: not a stat() busy loop, not NaN."""
    done = run([script("rtchat-server"), "--watch-interval", value, "--port", "1"], env)
    assert done.returncode == 2, done.stderr
    assert "Invalid value for '--watch-interval'" in done.stderr
    assert "listening" not in done.stderr


@pytest.mark.parametrize("text", ["soon", "-3d", "0", "d"])
def test_bad_retention_is_refused(text: str) -> None:
    """A retention that is neither an age nor a count is a clear error."""
    with pytest.raises(ConfigError, match="--retention"):
        parse_retention(text)


@pytest.mark.parametrize("reload_by", ["sighup", "watching the files"])
@pytest.mark.protocol("1", "12.2")
def test_revoke_ends_a_live_session(
    tmp_path: Path, env: dict[str, str], spawn: Spawn, reload_by: str
) -> None:
    """rtchat-certs revoke, then SIGHUP or nothing at all (the server sees crl.pem change):
    bob is told he is revoked (exit 5); alice chats on."""
    ca = tmp_path / "ca"
    for command in (
        ["init", "--dir", str(ca), "--cn", "chatserver", "--san", "127.0.0.1"],
        ["issue", "alice", "--dir", str(ca)],
        ["issue", "bob", "--dir", str(ca)],
    ):
        assert run([script("rtchat-certs"), *command], env).returncode == 0
    here = Folders(ca=ca, rogue=ca)
    running = start_server(
        spawn,
        ca,
        *("--data", str(tmp_path / "data")),
        *("--watch-interval", "0" if reload_by == "sighup" else "0.2"),
    )
    server = running.process
    alice = join(spawn, running, here, "alice")
    bob = join(spawn, running, here, "bob")
    alice.stdout.expect(rf"^{CLOCK} -- bob joined$")
    revoked = run([script("rtchat-certs"), "revoke", "bob", "--dir", str(ca)], env)
    assert revoked.returncode == 0, revoked.stderr
    if reload_by == "sighup":
        server.proc.send_signal(signal.SIGHUP)
    else:
        server.stderr.expect(r"certificate files changed on disk: reloading")
    assert bob.wait() == 5
    assert "revoked" in error_line("\n".join(bob.stderr.lines))
    alice.stdout.expect(rf"^{CLOCK} -- bob left \(revoked\)$")
    alice.send("still here")
    alice.stdout.expect(rf"^{CLOCK} alice: still here$")
    server.stderr.expect(r"TLS reloaded")


def test_profile_environment_and_command_line_in_that_order(
    tmp_path: Path, env: dict[str, str], folders: Folders
) -> None:
    """config.toml gives defaults, RTCHAT_* beats it, the command line beats both."""
    config = tmp_path / "xdg" / "rtchat"
    config.mkdir(parents=True)
    (config / "config.toml").write_text(
        '[defaults]\nhost = "127.0.0.1"\nport = 1\ncn = "chatserver"\n'
        f'pki = "{folders.ca}"\nname = "alice"\n'
        "[profiles.other]\nport = 2\n"
    )
    base = {**env, "XDG_CONFIG_HOME": str(tmp_path / "xdg")}

    def port_tried(*args: str, **extra: str) -> str:
        done = run([script("rtchat"), "--plain", *args], {**base, **extra})
        assert done.returncode == 3, done.stderr
        return error_line(done.stderr).split("127.0.0.1:")[1].split(":")[0]

    assert port_tried() == "1"
    assert port_tried("--profile", "other") == "2"
    assert port_tried("--profile", "other", RTCHAT_PORT="3") == "3"
    assert port_tried("--profile", "other", "--port", "4", RTCHAT_PORT="3") == "4"
    assert port_tried(RTCHAT_PROFILE="other") == "2"
    missing = run([script("rtchat"), "--plain", "--profile", "nope"], base)
    assert missing.returncode == 2
    assert "no profile 'nope'" in missing.stderr


def test_a_port_in_host_beats_a_weaker_port(
    tmp_path: Path, env: dict[str, str], folders: Folders
) -> None:
    """HOST:PORT against a port from elsewhere: the stronger source wins, as for any option.

    A profile gives host and port together, so a --host HOST:PORT typed now
    must not clash with the profile's port; at the same level they do clash.
    """
    config = tmp_path / "xdg" / "rtchat"
    config.mkdir(parents=True)
    (config / "config.toml").write_text(
        f'[defaults]\nhost = "127.0.0.1"\nport = 1\ncn = "chatserver"\n'
        f'pki = "{folders.ca}"\nname = "alice"\n'
    )
    base = {**env, "XDG_CONFIG_HOME": str(tmp_path / "xdg")}

    def port_tried(*args: str, **extra: str) -> str:
        done = run([script("rtchat"), "--plain", *args], {**base, **extra})
        assert done.returncode == 3, done.stderr
        return error_line(done.stderr).split("127.0.0.1:")[1].split(":")[0]

    assert port_tried("--host", "127.0.0.1:2") == "2"
    assert port_tried(RTCHAT_HOST="127.0.0.1:3") == "3"
    assert port_tried("--port", "4", RTCHAT_HOST="127.0.0.1:3") == "4"
    clash = run(
        [script("rtchat"), "--plain"], {**base, "RTCHAT_HOST": "127.0.0.1:3", "RTCHAT_PORT": "5"}
    )
    assert clash.returncode == 2
    assert error_line(clash.stderr) == (
        "rtchat: RTCHAT_HOST 127.0.0.1:3 says port 3 but RTCHAT_PORT says 5: give the port once"
    )
