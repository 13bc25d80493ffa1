"""Tests for the rtchat-certs command line (realtimechat.cli.certs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from realtimechat import pki
from realtimechat.cli.certs import main

SRC = Path(__file__).resolve().parents[1] / "src"


def _run(*args: str, env: dict[str, str] | None = None) -> Result:
    """Invoke rtchat-certs in-process, with stdout and stderr kept apart."""
    return CliRunner().invoke(main, list(args), env=env, prog_name="rtchat-certs")


def test_init_prints_one_line_per_file(tmp_path: Path) -> None:
    """init writes the CA folder and prints each file, keys with their 0600 mode."""
    root = tmp_path / "ca"
    folder = pki.CaFolder(root)

    result = _run("init", "--dir", str(root), "--san", "127.0.0.1", "--san", "localhost")

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        f"wrote {folder.ca_key} (private key, mode 0600)",
        f"wrote {folder.ca_cert}",
        f"wrote {folder.server_key} (private key, mode 0600)",
        f"wrote {folder.server_cert}",
        f"wrote {folder.crl}",
        f"wrote {folder.index}",
    ]
    server = pki.load_certificate(folder.server_cert)
    assert server.subject.rfc4514_string() == "CN=chatserver"


def test_init_options_reach_the_certificates(tmp_path: Path) -> None:
    """--cn, --key-type and --days shape the CA and server certificates."""
    root = tmp_path / "ca"

    result = _run(
        "init", "--dir", str(root), "--cn", "chat.example", "--key-type", "ed25519", "--days", "10"
    )

    assert result.exit_code == 0, result.output
    folder = pki.CaFolder(root)
    ca = pki.load_certificate(folder.ca_cert)
    server = pki.load_certificate(folder.server_cert)
    assert server.subject.rfc4514_string() == "CN=chat.example"
    assert ca.signature_algorithm_oid.dotted_string == "1.3.101.112"  # Ed25519
    assert (ca.not_valid_after_utc - ca.not_valid_before_utc).days == 10


def test_issue_prints_key_certificate_and_index(tmp_path: Path) -> None:
    """issue writes clients/NAME.key and .crt, prints them, and says the index was updated."""
    root = tmp_path / "ca"
    assert _run("init", "--dir", str(root)).exit_code == 0
    folder = pki.CaFolder(root)

    result = _run("issue", "alice", "--dir", str(root), "--days", "30")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"wrote {folder.client_key('alice')} (private key, mode 0600)",
        f"wrote {folder.client_cert('alice')}",
        f"updated {folder.index}",
    ]
    cert = pki.load_certificate(folder.client_cert("alice"))
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 30
    assert [e.name for e in pki.read_index(root)] == ["chatserver", "alice"]


def test_dir_comes_from_the_environment(tmp_path: Path) -> None:
    """RTCHAT_CERTS_DIR sets the CA folder when --dir is not given."""
    root = tmp_path / "from-env"

    result = _run("init", env={"RTCHAT_CERTS_DIR": str(root)})

    assert result.exit_code == 0, result.output
    assert pki.CaFolder(root).ca_key.exists()


def test_init_twice_is_one_error_line(tmp_path: Path) -> None:
    """A second init exits 1 with one `rtchat-certs: error:` line on stderr, none on stdout."""
    root = tmp_path / "ca"
    assert _run("init", "--dir", str(root)).exit_code == 0

    result = _run("init", "--dir", str(root))

    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("rtchat-certs: error: ")
    assert "already exists" in lines[0]


def test_issue_without_a_ca_tells_what_to_run(tmp_path: Path) -> None:
    """issue in a folder without a CA exits 1 and names the init command to run."""
    root = tmp_path / "none"

    result = _run("issue", "alice", "--dir", str(root))

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"rtchat-certs: error: no CA in {root} (no ca.crt): create one first with "
        f"`rtchat-certs init --dir {root} --cn chatserver`"
    ]


@pytest.mark.parametrize("name", ["../escape", ".hidden", "a" * 65])
def test_issue_bad_name_is_an_error(tmp_path: Path, name: str) -> None:
    """A bad client name exits 1 with one error line and writes nothing."""
    root = tmp_path / "ca"
    assert _run("init", "--dir", str(root)).exit_code == 0

    result = _run("issue", name, "--dir", str(root))

    assert result.exit_code == 1
    assert result.stderr.startswith("rtchat-certs: error: client name ")
    assert len(result.stderr.splitlines()) == 1
    assert list(pki.CaFolder(root).clients_dir.iterdir()) == []


def test_bad_key_type_is_a_usage_error(tmp_path: Path) -> None:
    """An unknown --key-type is a usage error (exit 2) and creates nothing."""
    root = tmp_path / "ca"

    result = _run("init", "--dir", str(root), "--key-type", "dsa")

    assert result.exit_code == 2
    assert "--key-type" in result.stderr
    assert not root.exists()


def test_help_explains_the_ca_folder_and_key_safety() -> None:
    """--help and -h explain the CA folder, 0600 keys and never overwriting."""
    group = _run("--help")
    short = _run("-h")

    assert group.exit_code == 0
    assert short.stdout == group.stdout
    text = " ".join(group.stdout.split())
    assert "A CA folder is" in text
    assert "mode 0600" in text
    assert "never overwritten" in text


def test_subcommand_help_shows_the_default_folder() -> None:
    """init --help shows the default --dir (the per-user app folder) and its variable."""
    result = _run("init", "--help")

    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert str(Path("rtchat") / "ca") in text
    assert "RTCHAT_CERTS_DIR" in text
    assert "default: chatserver" in text


def _console(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run rtchat-certs as its own process (the module, as the package may not be installed)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "realtimechat.cli.certs", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=cwd,
        env=env,
    )


def test_console_script_as_a_process(tmp_path: Path) -> None:
    """As a real process, init and issue exit 0 and print their files; a refusal exits 1."""
    root = tmp_path / "ca"

    init = _console("init", "--dir", str(root), "--san", "127.0.0.1", cwd=tmp_path)
    issue = _console("issue", "alice", "--dir", str(root), cwd=tmp_path)
    again = _console("issue", "alice", "--dir", str(root), cwd=tmp_path)

    assert init.returncode == 0, init.stderr
    assert len(init.stdout.splitlines()) == 6
    assert f"wrote {root / 'ca.key'} (private key, mode 0600)" in init.stdout.splitlines()
    assert issue.returncode == 0, issue.stderr
    assert issue.stdout.splitlines()[0] == (
        f"wrote {root / 'clients' / 'alice.key'} (private key, mode 0600)"
    )
    assert again.returncode == 1
    assert again.stdout == ""
    assert again.stderr == (
        f"rtchat-certs: error: {root / 'clients' / 'alice.key'} already exists; "
        "refusing to overwrite it\n"
    )
