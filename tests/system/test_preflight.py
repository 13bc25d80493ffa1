"""``rtchat-server check`` as an admin runs it: real folders made by rtchat-certs, real exit codes.

Each broken folder is a healthy one with one thing wrong; the test asserts
the exact line that says so, that every other line is OK, and the exit
code (0 all OK, 1 a WARN, 2 a FAIL). The server itself refuses to start on
what ``check`` calls a FAIL (issue 18, item 3).
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from realtimechat.pki import CaFolder, load_certificate, load_private_key
from realtimechat.server.checks import Check

BIN = Path(sys.executable).parent
EVERY_CHECK = [check.value for check in Check]


def run(command: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / command[0]), *command[1:]],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )


def certs(cwd: Path, *args: str) -> None:
    done = run(["rtchat-certs", *args], cwd)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A CA folder as the README makes it: `rtchat-certs init`, then a user issued."""
    certs(tmp_path, "init", "--dir", "ca", "--san", "127.0.0.1")
    certs(tmp_path, "issue", "alice", "--dir", "ca")
    return tmp_path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def check(cwd: Path, *extra: str, port: int | None = None) -> tuple[int, list[str]]:
    """``rtchat-server check`` on ./ca with ./data and a free port: exit code and lines."""
    done = run(
        [
            *("rtchat-server", "check", "--pki", "ca", "--data", "data"),
            *("--host", "127.0.0.1", "--port", str(port or free_port()), *extra),
        ],
        cwd,
    )
    assert done.stderr == ""
    return done.returncode, done.stdout.splitlines()


def only_problem(lines: list[str]) -> str:
    """The one line that is not OK; every check is there, in order."""
    assert [line.split(":", 1)[0].split()[1] for line in lines] == EVERY_CHECK, lines
    (problem,) = [line for line in lines if not line.startswith("OK   ")]
    return problem


def test_a_folder_made_by_rtchat_certs_is_all_ok(folder: Path) -> None:
    """init + issue: one OK line per check, in order, exit 0; it names what clients give as --cn."""
    port = free_port()
    code, lines = check(folder, port=port)
    assert code == 0, lines
    assert [line.split(":", 1)[0] for line in lines] == [f"OK   {name}" for name in EVERY_CHECK]
    assert (
        "OK   names: clients give --cn chatserver or 127.0.0.1 (DNS chatserver, IP 127.0.0.1;"
        " CN 'chatserver')"
    ) in lines
    assert f"OK   port: {port} is free on 127.0.0.1" in lines
    assert "OK   data: data does not exist yet: the server will create it (mode 0700)" in lines
    assert not (folder / "data").exists()  # checked, not created


def test_quiet_prints_only_the_problems(folder: Path) -> None:
    """--quiet: nothing for a healthy folder (exit 0), only the WARN line for a loose key."""
    assert check(folder, "--quiet") == (0, [])
    (folder / "ca" / "server.key").chmod(0o644)
    code, lines = check(folder, "-q")
    assert code == 1
    assert [line.split(":", 1)[0] for line in lines] == ["WARN modes"]


def test_a_key_that_is_not_the_certificates_fails(folder: Path) -> None:
    """server.key replaced by alice's key: FAIL key, in the server's own words, exit 2."""
    shutil.copy(folder / "ca" / "clients" / "alice.key", folder / "ca" / "server.key")
    code, lines = check(folder)
    assert code == 2
    assert lines[:2] == [
        "OK   files: certificate ca/server.crt, key ca/server.key, CA ca/ca.crt, CRL ca/crl.pem",
        "FAIL key: key ca/server.key does not belong to certificate ca/server.crt",
    ]
    assert [line.split(":", 1)[0].split()[1] for line in lines[2:]] == EVERY_CHECK[-5:]


def sign_crl(root: Path, last_update: dt.datetime, next_update: dt.datetime, number: int) -> None:
    """Write root/crl.pem, an empty CRL the CA signs with the given dates and number."""
    folder = CaFolder(root)
    ca_cert = load_certificate(folder.ca_cert)
    ca_key = load_private_key(folder.ca_key)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(last_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    folder.crl.write_bytes(crl.public_bytes(serialization.Encoding.PEM))


def test_a_crl_past_its_next_update_fails_and_the_server_does_not_start(folder: Path) -> None:
    """next update yesterday: FAIL crl with the date and what to run; rtchat-server exits 1."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    yesterday = now - dt.timedelta(days=1)
    sign_crl(folder / "ca", now - dt.timedelta(days=31), yesterday, number=7)
    code, lines = check(folder)
    assert code == 2
    when = yesterday.strftime("%Y-%m-%d %H:%M UTC")
    assert only_problem(lines) == (
        f"FAIL crl: the CRL is past its next-update ({when}): re-sign it (rtchat-certs crl)"
    )
    done = run(["rtchat-server", "--pki", "ca", "--port", "0", "--ephemeral"], folder)
    assert done.returncode == 1
    assert done.stderr == (
        f"rtchat-server: the CRL is past its next-update ({when}): re-sign it (rtchat-certs crl)"
        " (rtchat-server check lists every finding)\n"
    )


def test_a_crl_older_than_the_index_warns(folder: Path) -> None:
    """crl.pem from before `revoke alice` put back: WARN crl naming alice's serial, exit 1."""
    shutil.copy(folder / "ca" / "crl.pem", folder / "old-crl.pem")
    certs(folder, "revoke", "alice", "--dir", "ca")
    shutil.copy(folder / "old-crl.pem", folder / "ca" / "crl.pem")
    serial = f"{load_certificate(folder / 'ca' / 'clients' / 'alice.crt').serial_number:x}"
    code, lines = check(folder)
    assert code == 1
    assert only_problem(lines) == (
        f"WARN crl: ca/crl.pem is older than ca/index.json: it lacks 1 revocation the index"
        f" records ('alice', serial {serial}): they are still let in; copy the CA folder's"
        " current crl.pem (or re-sign it: rtchat-certs crl)"
    )


def test_a_key_readable_by_everyone_warns(folder: Path) -> None:
    """server.key mode 0644: WARN modes with the chmod to run, exit 1 (why not FAIL: checks.py)."""
    (folder / "ca" / "server.key").chmod(0o644)
    code, lines = check(folder)
    assert code == 1
    assert only_problem(lines) == (
        "WARN modes: the server's key ca/server.key is open to other users (mode 0644): whoever"
        " can read it can pose as this server to every client; run `chmod 600 ca/server.key`"
    )


def test_a_port_in_use_fails(folder: Path) -> None:
    """Another program listens on the port: FAIL port, in the server's words, exit 2."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, lines = check(folder, port=port)
    assert code == 2
    assert only_problem(lines) == (
        f"FAIL port: cannot listen on port {port}: it is already in use"
        " (another rtchat-server running?): stop that one or choose another --port"
    )


def test_a_metrics_port_in_use_fails_as_the_server_would(folder: Path) -> None:
    """--metrics on a port another program holds: FAIL metrics, the words the server stops
    with, exit 2 (the server binds it before the chat port and would not start)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, lines = check(folder, "--metrics", str(port))
    assert code == 2
    assert only_problem(lines) == (
        f"FAIL metrics: cannot serve --metrics on 127.0.0.1:{port}: Address already in use"
    )


def test_an_invalid_room_file_fails(folder: Path) -> None:
    """--rooms with an allow list that is not one: FAIL rooms naming the file and room, exit 2."""
    (folder / "rooms.toml").write_text('[rooms."#ops"]\nallow = "group:ops"\n')
    code, lines = check(folder, "--rooms", "rooms.toml")
    assert code == 2
    assert only_problem(lines) == (
        "FAIL rooms: rooms.toml: room '#ops': 'allow' must be a list of names, 'group:NAME' or '*'"
    )
    (folder / "rooms.toml").write_text('[rooms."#ops"]\nallow = ["group:ops"]\n')
    code, lines = check(folder, "--rooms", "rooms.toml")
    assert code == 0
    assert "OK   rooms: 1 rooms in rooms.toml (1 private)" in lines


def test_a_server_certificate_expiring_in_ten_days_warns(folder: Path) -> None:
    """`rtchat-certs init --server-days 10`: WARN expiry with the date, exit 1."""
    shutil.rmtree(folder / "ca")
    certs(folder, "init", "--dir", "ca", "--san", "127.0.0.1", "--server-days", "10")
    end = load_certificate(folder / "ca" / "server.crt").not_valid_after_utc
    code, lines = check(folder)
    assert code == 1
    assert only_problem(lines) == (
        f"WARN expiry: the server certificate expires in 9 days (on"
        f" {end.strftime('%Y-%m-%d %H:%M UTC')})"
    )


def test_options_before_check_and_from_the_environment_count(folder: Path) -> None:
    """`rtchat-server --pki ca check` and RTCHAT_SERVER_PORT: as the server would read them."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                str(BIN / "rtchat-server"),
                "--pki",
                "ca",
                "check",
                "--ephemeral",
                "--host",
                "127.0.0.1",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=folder,
            env={"RTCHAT_SERVER_PORT": str(port), "PATH": "/usr/bin:/bin", "HOME": str(folder)},
        )
    assert done.returncode == 2, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("OK   files: certificate ca/server.crt")
    assert f"FAIL port: cannot listen on port {port}: it is already in use" in done.stdout
    assert "OK   data: --ephemeral: nothing is kept on disk" in lines


def test_a_bad_command_line_is_a_usage_error(folder: Path) -> None:
    """An option the server does not take: click's usage error, exit 2, nothing on stdout."""
    done = run(["rtchat-server", "check", "--no-such-option"], folder)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Error: No such option '--no-such-option'." in done.stderr


def test_a_folder_that_is_not_a_server_folder_fails_at_files(folder: Path) -> None:
    """--pki at a folder without server.crt: FAIL files in the server's words; the data, store,
    port, metrics and rooms checks still run, the certificate checks cannot."""
    (folder / "empty").mkdir()
    done = run(["rtchat-server", "check", "--pki", "empty", "--port", "0", "--ephemeral"], folder)
    assert done.returncode == 2
    lines = done.stdout.splitlines()
    assert lines[0] == (
        "FAIL files: empty is not a server folder: server.crt is missing (on the admin's"
        " machine, `rtchat-certs server-bundle --out DIR` makes the folder: copy its contents"
        " into empty)"
    )
    assert [line.split(":", 1)[0] for line in lines[1:]] == [
        "OK   data",
        "OK   store",
        "OK   port",
        "OK   metrics",
        "OK   rooms",
    ]
