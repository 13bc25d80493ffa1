"""No library warning reaches a user: every console command's main paths, warnings as errors.

Each command runs as a real subprocess with ``PYTHONWARNINGS=error``, so a
warning any library emits (a deprecation in a new ``cryptography``, say)
becomes an exception and a non-zero exit, and none may appear on stderr.
``make test-latest`` runs this against the newest releases: what
``pipx install realtimechat`` would give a user today.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from realtimechat import __version__
from realtimechat.errors import PKIError
from realtimechat.pki import load_private_key
from realtimechat.server.checks import Check
from realtimechat.server.store import SqliteStore

from ..support import LISTENING, wait_for_log

BIN = Path(sys.executable).parent
COMMANDS = ("rtchat", "rtchat-server", "rtchat-certs", "rtchat-bench")
TIMEOUT = 60.0
# Any warning category by its name (DeprecationWarning, CryptographyDeprecationWarning, ...).
WARNING = re.compile(r"\b\w*Warning\b")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Warnings as errors, in this process's children and theirs; an empty home."""
    home = tmp_path_factory.mktemp("quiet-home")
    clean = {key: value for key, value in os.environ.items() if not key.startswith("RTCHAT")}
    clean.update(
        PYTHONWARNINGS="error",
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
    )
    return clean


def quietly(env: dict[str, str], *args: str, stdin: str = "") -> str:
    """Run a command to its end: it must exit 0 with no warning on stderr; its stdout."""
    done = subprocess.run(
        args, input=stdin, capture_output=True, text=True, env=env, timeout=TIMEOUT, check=False
    )
    assert done.returncode == 0, (args, done.stderr)
    assert WARNING.search(done.stderr) is None, (args, done.stderr)
    return done.stdout


def command(name: str) -> str:
    return str(BIN / name)


@pytest.mark.parametrize("name", COMMANDS)
def test_help_and_version_are_quiet(env: dict[str, str], name: str) -> None:
    """--help and --version of every command: exit 0, no warning, the one version."""
    assert "Usage:" in quietly(env, command(name), "--help")
    assert quietly(env, command(name), "--version") == f"{name} {__version__}\n"


def test_python_m_realtimechat_is_the_client(env: dict[str, str]) -> None:
    """``python -m realtimechat`` runs rtchat, under that name."""
    assert quietly(env, sys.executable, "-m", "realtimechat", "--version") == (
        f"rtchat {__version__}\n"
    )
    assert "Usage: rtchat [OPTIONS]" in quietly(env, sys.executable, "-m", "realtimechat", "--help")


@pytest.mark.parametrize("name", COMMANDS)
def test_shell_completion_scripts_are_what_the_readme_says(env: dict[str, str], name: str) -> None:
    """``_RTCHAT_CERTS_COMPLETE=bash_source rtchat-certs`` (as README.md shows) prints the
    bash completion script for that command."""
    variable = "_" + name.upper().replace("-", "_") + "_COMPLETE"
    script = quietly({**env, variable: "bash_source"}, command(name))
    assert f"complete -o nosort -F _{name.replace('-', '_')}_completion {name}" in script


@pytest.fixture(scope="module")
def folders(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA made by every rtchat-certs command that writes, each of them run quietly."""
    root = tmp_path_factory.mktemp("quiet-pki")
    ca, carol, server = root / "ca", root / "carol", root / "server"
    certs = command("rtchat-certs")
    quietly(env, certs, "init", "--dir", str(ca), "--cn", "chatserver", "--san", "127.0.0.1")
    quietly(env, certs, "issue", "alice", "--dir", str(ca))
    quietly(env, certs, "issue", "bob", "--dir", str(ca))
    quietly(env, certs, "request", "carol", "--out", str(carol))
    quietly(
        env, certs, "sign", str(carol / "carol.csr"), "--yes", "--dir", str(ca), "--out", str(carol)
    )
    quietly(env, certs, "revoke", "bob", "--dir", str(ca))
    quietly(env, certs, "crl", "--dir", str(ca))
    quietly(env, certs, "server-bundle", "--dir", str(ca), "--out", str(server))
    return root


def test_certs_reading_commands_are_quiet(env: dict[str, str], folders: Path) -> None:
    """list and show, on what the writing commands made: no warning on stderr."""
    certs = command("rtchat-certs")
    listed = quietly(env, certs, "list", "--dir", str(folders / "ca"))
    assert "alice" in listed
    assert "revoked" in listed
    for shown in (
        "ca/ca.crt",
        "ca/clients/alice.crt",
        "ca/crl.pem",
        "carol/carol.csr",
        "carol/carol.crt",
    ):
        assert quietly(env, certs, "show", str(folders / shown)) != ""


def test_server_and_plain_client_are_quiet(env: dict[str, str], folders: Path) -> None:
    """A server start, a --plain client's join, message and quit, and SIGTERM: no warning."""
    log = folders / "server.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [
                command("rtchat-server"),
                *("--host", "127.0.0.1", "--port", "0", "--ephemeral"),
                *("--pki", str(folders / "server")),
            ],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
            env=env,
        )
    try:
        port = wait_for_log(server, log, LISTENING).group(1)
        said = quietly(
            env,
            command("rtchat"),
            *("--host", "127.0.0.1", "--port", port, "--cn", "chatserver", "--plain"),
            *("--pki", str(folders / "ca"), "--name", "alice", "--wait", "5"),
            stdin="nothing to warn about\n",
        )
        assert "alice: nothing to warn about" in said
        server.send_signal(signal.SIGTERM)
        assert server.wait(TIMEOUT) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(TIMEOUT)
    assert WARNING.search(log.read_text()) is None, log.read_text()


def test_store_tools_are_quiet(env: dict[str, str], tmp_path: Path) -> None:
    """import, backup, restore and export, each to its end: no warning (an unclosed
    database would be a ResourceWarning)."""
    server = command("rtchat-server")
    lines = tmp_path / "in.jsonl"
    lines.write_text(
        '{"type":"msg","id":1,"ts":"2026-12-07T10:00:00.000Z","from":"a","text":"t",'
        '"sender":"ca:x/a"}\n',
        encoding="utf-8",
    )
    quietly(env, server, "import", str(lines), "--data", str(tmp_path / "one"))
    quietly(env, server, "backup", str(tmp_path / "copy.db"), "--data", str(tmp_path / "one"))
    quietly(env, server, "restore", str(tmp_path / "copy.db"), "--data", str(tmp_path / "two"))
    out = quietly(env, server, "export", "--data", str(tmp_path / "two"))
    assert out == lines.read_text(encoding="utf-8")


def test_check_is_quiet(env: dict[str, str], folders: Path, tmp_path: Path) -> None:
    """rtchat-server check on the server folder and a store the server made: every line OK,
    no warning (the store it opens read-only is closed)."""

    async def make_store() -> None:
        store = SqliteStore(tmp_path / "data" / "messages.db")
        await store.open()
        await store.close()

    asyncio.run(make_store())
    said = quietly(
        env,
        command("rtchat-server"),
        *("check", "--pki", str(folders / "server"), "--data", str(tmp_path / "data")),
        *("--host", "127.0.0.1", "--port", "0"),
    )
    assert [line[:4] for line in said.splitlines()] == ["OK  "] * len(Check), said


def test_bench_spawn_is_quiet(env: dict[str, str]) -> None:
    """A short ``rtchat-bench connect --spawn`` (its own server too, which inherits the setting)."""
    report = quietly(env, command("rtchat-bench"), "connect", "--spawn", "--clients", "3")
    assert report != ""


@pytest.mark.parametrize("name", COMMANDS)
def test_on_windows_each_command_says_so_in_one_line(env: dict[str, str], name: str) -> None:
    """Where sys.platform is win32, a command prints one line naming WSL and exits 1."""
    module = {
        "rtchat": "client",
        "rtchat-server": "server",
        "rtchat-certs": "certs",
        "rtchat-bench": "bench",
    }[name]
    as_on_windows = (
        f"import sys; sys.platform = 'win32'; sys.argv = [{name + '.exe'!r}]; "
        f"from realtimechat.cli.{module} import main; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", as_on_windows],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == (
        f"{name}: realtimechat runs on Linux and macOS; on Windows, run it inside WSL.\n"
    )


@pytest.fixture(scope="module")
def dsa(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DSA key, a self-signed certificate and a request for it, made by openssl."""
    folder = tmp_path_factory.mktemp("dsa")
    params = ["genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt", "dsa_paramgen_bits:2048"]
    subject = ["-subj", "/CN=old", "-nodes"]
    for command_line in [
        [*params, "-out", "params.pem"],
        [
            "req",
            "-x509",
            "-newkey",
            "dsa:params.pem",
            "-keyout",
            "dsa.key",
            *subject,
            "-days",
            "1",
            "-out",
            "dsa.crt",
        ],
        ["req", "-new", "-key", "dsa.key", *subject, "-out", "dsa.csr"],
    ]:
        subprocess.run(
            ["openssl", *command_line], cwd=folder, check=True, capture_output=True, timeout=TIMEOUT
        )
    return folder


def refused(env: dict[str, str], *args: str) -> str:
    """Run a command that must refuse: exit 1, one line on stderr and no warning; that line."""
    done = subprocess.run(
        args, capture_output=True, text=True, env=env, timeout=TIMEOUT, check=False
    )
    assert done.returncode == 1, (args, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1, (args, done.stderr)
    return lines[0]


def test_a_dsa_certificate_is_refused_by_name_without_a_warning(
    env: dict[str, str], dsa: Path, folders: Path
) -> None:
    """DSA (deprecated by cryptography 51) is named in one line, never used, never warned about."""
    certs = command("rtchat-certs")
    line = refused(env, certs, "show", str(dsa / "dsa.crt"))
    assert line.endswith(
        "dsa.crt holds a certificate for a DSA key, which realtimechat cannot use"
        " (TLS 1.3 cannot sign with it): keys here are RSA, ECDSA, Ed25519 or Ed448"
    )
    assert "holds a request for a DSA key" in refused(env, certs, "show", str(dsa / "dsa.csr"))
    signed = refused(
        env, certs, "sign", str(dsa / "dsa.csr"), "--yes", "--dir", str(folders / "ca")
    )
    assert "holds a request for a DSA key" in signed
    server = refused(
        env,
        command("rtchat-server"),
        *("--host", "127.0.0.1", "--port", "0", "--ephemeral"),
        *("--cert", str(dsa / "dsa.crt"), "--key", str(dsa / "dsa.key")),
        *("--ca", str(dsa / "dsa.crt")),
    )
    assert "holds a certificate for a DSA key" in server


def test_a_dsa_private_key_is_refused_by_name(dsa: Path) -> None:
    """Loading a DSA key (as a CA or server key) is a PKIError naming DSA, and warns nothing."""
    with pytest.raises(PKIError, match=r"holds a key of type DSA 2048 bits, which realtimechat"):
        load_private_key(dsa / "dsa.key")
