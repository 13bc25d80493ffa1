"""Tests for the rtchat-certs command line (realtimechat.cli.certs)."""

from __future__ import annotations

import datetime as dt
import glob
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from realtimechat import locations, pki, tls
from realtimechat.cli.certs import main
from realtimechat.errors import ExitCode, PKIError

from ..support import REPO

SCRIPT = Path(sys.executable).parent / "rtchat-certs"
FINGERPRINT_LINE = re.compile(r"^public key SHA-256: ((?:[0-9a-f]{4} ){15}[0-9a-f]{4})$")


def _run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    """Invoke rtchat-certs in-process, with stdout and stderr kept apart."""
    return CliRunner().invoke(main, list(args), env=env, input=input, prog_name="rtchat-certs")


def _console(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed rtchat-certs console script as its own process."""
    assert SCRIPT.exists(), f"{SCRIPT} is missing: install the package (pip install -e .)"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RTCHAT_CERTS")}
    environment["HOME"] = str(cwd)
    environment["XDG_CONFIG_HOME"] = str(cwd / ".config")
    environment.update(env or {})
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=cwd,
        env=environment,
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _one_error(stderr: str) -> str:
    """The single `rtchat-certs: error: ...` line of ``stderr`` (fails if there are others)."""
    lines = stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("rtchat-certs: error: "), lines
    return lines[0].removeprefix("rtchat-certs: error: ")


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def ca(tmp_path: Path) -> Path:
    """A CA folder made by `init` for chatserver, localhost and 127.0.0.1."""
    root = tmp_path / "ca"
    pki.init_ca(root, "chatserver", ["localhost", "127.0.0.1"])
    return root


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


# --------------------------------------------------------------------------- console script


def test_console_init_and_issue(tmp_path: Path) -> None:
    """As a real process, init and issue exit 0 and print their files; a second issue exits 1."""
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
    assert _one_error(again.stderr).startswith("'alice' already has a certificate")
    assert _mode(root / "clients" / "alice.key") == 0o600


def test_console_request_with_a_passphrase(tmp_path: Path) -> None:
    """request --passphrase (from the environment) writes an encrypted 0600 key and a CSR."""
    user = tmp_path / "user"

    done = _console(
        "request",
        "alice",
        "--out",
        str(user),
        "--passphrase",
        cwd=tmp_path,
        env={"RTCHAT_CERTS_PASSPHRASE": "correct horse"},
    )

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == [
        f"wrote {user / 'alice.key'} (private key, mode 0600, passphrase-protected)",
        f"wrote {user / 'alice.csr'}",
    ]
    match = FINGERPRINT_LINE.match(lines[2])
    assert match is not None, lines[2]
    assert f"`rtchat join alice.invite --identity {user}`" in lines[3]
    assert _mode(user) == 0o700
    assert _mode(user / "alice.key") == 0o600
    with pytest.raises(PKIError, match="wrong passphrase"):
        pki.load_private_key(user / "alice.key", b"nope")
    key = pki.load_private_key(user / "alice.key", b"correct horse")
    shown = match.group(1).replace(" ", "")
    assert shown == pki.public_key_fingerprint(key.public_key())


def test_console_sign_completes_a_user_folder(tmp_path: Path, ca: Path) -> None:
    """sign --yes --out as a process writes the certificate twice and ca.crt; a repeat fails."""
    user = tmp_path / "user"
    made = pki.create_request(user, "bob")
    folder = pki.CaFolder(ca)

    signed = _console(
        "sign", str(made.csr), "--dir", str(ca), "--out", str(user), "--yes", cwd=tmp_path
    )
    again = _console("sign", str(made.csr), "--dir", str(ca), "--yes", cwd=tmp_path)

    assert signed.returncode == 0, signed.stderr
    lines = signed.stdout.splitlines()
    assert lines[:4] == [
        f"request {made.csr}",
        "  name (CN)           bob",
        "  key                 ECDSA P-256",
        f"  public key SHA-256  {pki.format_fingerprint(made.fingerprint)}",
    ]
    assert lines[4:8] == [
        f"wrote {folder.client_cert('bob')}",
        f"wrote {user / 'bob.crt'}",
        f"wrote {user / 'ca.crt'}",
        f"updated {folder.index}",
    ]
    assert sorted(p.name for p in user.iterdir()) == ["bob.crt", "bob.csr", "bob.key", "ca.crt"]
    assert not folder.client_key("bob").exists()
    assert again.returncode == 1
    assert _one_error(again.stderr).startswith(
        f"{made.csr} is already signed: {folder.client_cert('bob')} (serial "
    )


def test_console_revoke_by_short_fingerprint(tmp_path: Path, ca: Path) -> None:
    """revoke as a process by a short fingerprint prints what it revoked and wrote."""
    pki.issue_client(ca, "alice")
    alice = pki.read_index(ca)[1]
    folder = pki.CaFolder(ca)

    done = _console("revoke", alice.fingerprint[:16], "--dir", str(ca), cwd=tmp_path)
    unknown = _console("revoke", "nobody", "--dir", str(ca), cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (
        f"revoked alice (client, serial {alice.serial}, fingerprint {alice.fingerprint[:16]})"
    )
    assert lines[1].startswith(f"updated {folder.crl} (1 revoked, next update ")
    assert lines[2] == f"updated {folder.index}"
    assert lines[3].startswith(
        f"Next: copy the new CRL to each server host, `scp -p {folder.crl} "
        "chatserver:.config/rtchat/server/crl.pem`"
    )
    assert "kill -HUP" in lines[3]
    assert [e.serial_number for e in pki.load_crl(folder.crl)] == [alice.serial_number]
    assert unknown.returncode == 1
    assert _one_error(unknown.stderr).startswith("no certificate named 'nobody'")


def test_console_crl_renews_the_next_update(tmp_path: Path, ca: Path) -> None:
    """crl as a process re-signs crl.pem with the asked next update and says so."""
    folder = pki.CaFolder(ca)

    done = _console("crl", "--dir", str(ca), "--days", "45", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    crl = pki.load_crl(folder.crl)
    assert crl.next_update_utc is not None
    assert crl.next_update_utc - crl.last_update_utc == dt.timedelta(days=45)
    when = crl.next_update_utc.strftime("%Y-%m-%d %H:%M UTC")
    lines = done.stdout.splitlines()
    assert lines[0] == f"updated {folder.crl} (0 revoked, next update {when})"
    assert lines[1].startswith(
        f"Next: copy the new CRL to each server host, `scp -p {folder.crl} chatserver:"
    )
    assert "kill -HUP" in lines[1]
    assert len(lines) == 2


def _four_clients(root: Path) -> None:
    """A valid, an expiring-soon, an expired and a revoked client in the CA folder ``root``."""
    now = dt.datetime.now(dt.UTC)
    pki.issue_client(root, "alice")
    pki.issue_client(root, "bob", days=12)
    pki.issue_client(
        root, "carol", not_before=now - dt.timedelta(days=30), not_after=now - dt.timedelta(days=2)
    )
    pki.issue_client(root, "dave")
    pki.revoke(root, "dave", reason="keyCompromise")


def test_console_list_shows_every_status(tmp_path: Path, ca: Path) -> None:
    """list as a process shows name, serial, short fingerprint, expiry and each status."""
    _four_clients(ca)
    entries = sorted(pki.read_index(ca), key=lambda entry: entry.not_after_utc)  # soonest first

    done = _console("list", "--dir", str(ca), cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "SERIAL", "FINGERPRINT", "NOT", "AFTER", "STATUS"]
    rows = lines[1:6]
    statuses = ["expired", "expiring soon", "valid", "valid", "revoked"]
    for row, entry, status in zip(rows, entries, statuses, strict=True):
        assert row.split()[:4] == [entry.name, entry.kind, entry.serial, entry.fingerprint[:16]]
        assert entry.not_after_utc.strftime("%Y-%m-%d %H:%M UTC") in row
        assert row.endswith(f"  {status}")
    assert lines[6].startswith(f"{pki.CaFolder(ca).crl}: 1 revoked, next update ")
    assert len(lines) == 7


@pytest.fixture
def seed_cert(tmp_path: Path) -> Path:
    """alice.crt made with the seed's exact openssl recipe."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    out = tmp_path / "seed"
    out.mkdir()
    subprocess.run(
        [
            openssl,
            "req",
            "-newkey",
            "rsa:4096",
            "-x509",
            "-sha256",
            "-days",
            "365",
            "-nodes",
            "-subj",
            "/CN=alice",
            "-out",
            str(out / "alice.crt"),
            "-keyout",
            str(out / "alice.key"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out / "alice.crt"


def test_console_show_explains_the_seed_certificate(tmp_path: Path, seed_cert: Path) -> None:
    """show as a process explains the seed's certificate: self-signed, pinnable, no warnings."""
    done = _console("show", str(seed_cert), cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"{seed_cert}: a self-signed certificate"
    assert "  subject             CN=alice" in lines
    assert "  SANs                none" in lines
    assert "  EKUs                none (any purpose)" in lines
    assert not [line for line in lines if line.startswith("warning:")]
    assert lines[-1] == "no warnings"
    assert any(
        line.startswith("note: no CA vouches for it, so it is trusted by pinning") for line in lines
    )


def test_console_server_cert_and_bundle(tmp_path: Path, ca: Path) -> None:
    """server-cert needs --force to renew in place; --out and server-bundle make server folders."""
    folder = pki.CaFolder(ca)
    host2, bundle = tmp_path / "host2", tmp_path / "server"

    refused = _console("server-cert", "--dir", str(ca), "--cn", "chatserver", cwd=tmp_path)
    other = _console(
        "server-cert", "--dir", str(ca), "--cn", "chat2.example", "--out", str(host2), cwd=tmp_path
    )
    copied = _console("server-bundle", "--dir", str(ca), "--out", str(bundle), cwd=tmp_path)

    assert refused.returncode == 1
    assert _one_error(refused.stderr) == (
        f"{folder.server_key} already exists; refusing to overwrite it "
        "(pass --force to replace it: a renewal)"
    )
    assert other.returncode == 0, other.stderr
    assert other.stdout.splitlines() == [
        f"wrote {host2 / 'server.key'} (private key, mode 0600)",
        f"wrote {host2 / 'server.crt'} (names: chat2.example)",
        f"wrote {host2 / 'ca.crt'}",
        f"wrote {host2 / 'crl.pem'}",
        f"updated {folder.index}",
    ]
    assert copied.returncode == 0, copied.stderr
    assert copied.stdout.splitlines()[:4] == [
        f"wrote {bundle / 'ca.crt'}",
        f"wrote {bundle / 'server.crt'}",
        f"wrote {bundle / 'server.key'} (private key, mode 0600)",
        f"wrote {bundle / 'crl.pem'}",
    ]
    for made in (host2, bundle):
        assert _mode(made) == 0o700
        assert _mode(made / "server.key") == 0o600
        assert sorted(p.name for p in made.iterdir()) == [
            "ca.crt",
            "crl.pem",
            "server.crt",
            "server.key",
        ]


# --------------------------------------------------------------------------- CliRunner


def test_issue_force_gives_a_second_certificate(ca: Path) -> None:
    """issue --force replaces NAME's files and records a second valid certificate."""
    assert _run("issue", "alice", "--dir", str(ca)).exit_code == 0
    folder = pki.CaFolder(ca)

    result = _run("issue", "alice", "--dir", str(ca), "--force")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"replaced {folder.client_key('alice')} (private key, mode 0600)",
        f"replaced {folder.client_cert('alice')}",
        f"updated {folder.index}",
    ]
    assert [e.status for e in pki.read_index(ca) if e.name == "alice"] == ["valid", "valid"]


def test_request_asks_for_the_passphrase_twice(tmp_path: Path) -> None:
    """request --passphrase asks twice on stderr and encrypts the key with what was typed."""
    user = tmp_path / "user"

    result = _run("request", "alice", "--out", str(user), "--passphrase", input="pw1\npw1\n")

    assert result.exit_code == 0, result.output
    assert result.stderr.count("Passphrase for") == 1
    assert "Repeat for confirmation" in result.stderr
    assert "pw1" not in result.stdout + result.stderr
    assert result.stdout.splitlines()[0].endswith("(private key, mode 0600, passphrase-protected)")
    assert pki.load_private_key(user / "alice.key", b"pw1") is not None
    with pytest.raises(PKIError, match="wrong passphrase"):
        pki.load_private_key(user / "alice.key", b"pw2")


def test_request_without_a_matching_passphrase_writes_nothing(tmp_path: Path) -> None:
    """Two different answers, then no more input: one error line, no folder, no key."""
    user = tmp_path / "user"

    result = _run("request", "alice", "--out", str(user), "--passphrase", input="one\ntwo\n")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert "The two entered values do not match" in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "rtchat-certs: error: no passphrase given: nothing was written"
    )
    assert not user.exists()


def test_request_refusals(tmp_path: Path) -> None:
    """request refuses a bad name (before asking) and existing files; --force replaces them."""
    user = tmp_path / "user"
    assert _run("request", "alice", "--out", str(user)).exit_code == 0
    before = _snapshot(user)

    bad = _run("request", "../alice", "--out", str(user), "--passphrase")
    again = _run("request", "alice", "--out", str(user))
    forced = _run("request", "alice", "--out", str(user), "--force")

    assert bad.exit_code == 1
    assert "Passphrase" not in bad.stderr
    assert _one_error(bad.stderr).startswith("client name '../alice' cannot contain")
    assert again.exit_code == 1
    assert _one_error(again.stderr) == (
        f"{user / 'alice.key'} already exists; refusing to overwrite it "
        "(pass --force to replace it)"
    )
    assert forced.exit_code == 0, forced.output
    assert forced.stdout.splitlines()[:2] == [
        f"replaced {user / 'alice.key'} (private key, mode 0600)",
        f"replaced {user / 'alice.csr'}",
    ]
    assert _snapshot(user) != before


def test_sign_shows_the_fingerprint_and_asks(ca: Path, tmp_path: Path) -> None:
    """sign prints the CSR's name and fingerprint, asks, and signs on yes."""
    request = _run("request", "alice", "--out", str(tmp_path / "user"))
    printed = next(
        m.group(1) for m in map(FINGERPRINT_LINE.match, request.stdout.splitlines()) if m
    )
    csr = tmp_path / "user" / "alice.csr"

    result = _run("sign", str(csr), "--dir", str(ca), input="y\n")

    assert result.exit_code == 0, result.output
    assert f"  public key SHA-256  {printed}" in result.stdout.splitlines()
    assert "Sign a client certificate for 'alice', valid 365 days?" in result.stderr
    cert = pki.load_certificate(pki.CaFolder(ca).client_cert("alice"))
    assert pki.format_fingerprint(pki.public_key_fingerprint(cert)) == printed


@pytest.mark.parametrize("answer", ["n\n", "", "\n"])
def test_sign_without_a_yes_writes_nothing(ca: Path, tmp_path: Path, answer: str) -> None:
    """No, no answer at all, or just Enter: nothing is signed and the exit status is 1."""
    csr = pki.create_request(tmp_path / "user", "alice").csr
    before = _snapshot(ca)

    result = _run("sign", str(csr), "--dir", str(ca), input=answer)

    assert result.exit_code == 1
    question, error = result.stderr.splitlines()
    assert question.startswith("Sign a client certificate for 'alice'")
    assert _one_error(error).startswith("not signed: ")
    assert _snapshot(ca) == before


def test_sign_errors_for_bad_input(ca: Path, tmp_path: Path) -> None:
    """A certificate, a missing file, or no CA: each one error line and exit 1."""
    csr = pki.create_request(tmp_path / "user", "alice").csr

    not_csr = _run("sign", str(pki.CaFolder(ca).server_cert), "--dir", str(ca), "--yes")
    missing = _run("sign", str(tmp_path / "nothere.csr"), "--dir", str(ca), "--yes")
    no_ca = _run("sign", str(csr), "--dir", str(tmp_path / "none"), "--yes")

    assert not_csr.exit_code == 1
    assert _one_error(not_csr.stderr).endswith(
        "is not a certificate signing request (CSR) (it holds a certificate)"
    )
    assert missing.exit_code == 1
    assert _one_error(missing.stderr).startswith(f"cannot read {tmp_path / 'nothere.csr'}")
    assert no_ca.exit_code == 1
    assert _one_error(no_ca.stderr).startswith(f"no CA in {tmp_path / 'none'} (no ca.crt)")


def test_sign_refuses_a_duplicate_name_with_a_way_out(ca: Path, tmp_path: Path) -> None:
    """Signing a name issued and not revoked exits 1 and says to revoke first or use --force."""
    assert _run("issue", "alice", "--dir", str(ca)).exit_code == 0
    csr = pki.create_request(tmp_path / "user", "alice").csr

    result = _run("sign", str(csr), "--dir", str(ca), "--yes")

    assert result.exit_code == 1
    message = _one_error(result.stderr)
    assert f"`rtchat-certs revoke alice --dir {ca}`" in message
    assert "--force" in message


def test_revoke_ambiguous_name_lists_candidates(ca: Path) -> None:
    """A name with two valid certificates is refused, naming both serials; nothing changes."""
    assert _run("issue", "alice", "--dir", str(ca)).exit_code == 0
    assert _run("issue", "alice", "--dir", str(ca), "--force").exit_code == 0
    serials = [e.serial for e in pki.read_index(ca) if e.name == "alice"]
    before = _snapshot(ca)

    result = _run("revoke", "alice", "--dir", str(ca))
    by_serial = _run("revoke", serials[0], "--dir", str(ca), "--reason", "superseded")

    assert result.exit_code == 1
    message = _one_error(result.stderr)
    assert "'alice' matches 2 certificates" in message
    assert all(serial in message for serial in serials)
    assert by_serial.exit_code == 0, by_serial.output
    assert [e.status for e in pki.read_index(ca) if e.name == "alice"] == ["revoked", "valid"]
    assert before != _snapshot(ca)


def test_revoke_bad_reason_is_a_usage_error(ca: Path) -> None:
    """An unknown --reason is a usage error (exit 2) and revokes nothing."""
    pki.issue_client(ca, "alice")

    result = _run("revoke", "alice", "--dir", str(ca), "--reason", "bored")

    assert result.exit_code == 2
    assert "--reason" in result.stderr
    assert pki.read_index(ca)[1].status == "valid"


def test_crl_refuses_a_damaged_crl_then_rebuilds_it(ca: Path, tmp_path: Path) -> None:
    """crl stops at a damaged crl.pem with one line; moved aside, crl writes a new one."""
    pki.issue_client(ca, "alice")
    pki.revoke(ca, "alice")
    folder = pki.CaFolder(ca)
    folder.crl.write_text("damaged\n")

    damaged = _run("crl", "--dir", str(ca))
    folder.crl.rename(tmp_path / "crl.pem.damaged")
    rebuilt = _run("crl", "--dir", str(ca), "--days", "7")
    no_ca = _run("crl", "--dir", str(tmp_path / "none"))

    assert damaged.exit_code == 1
    assert _one_error(damaged.stderr).endswith(
        f"move it aside, then run `rtchat-certs crl --dir {ca}` to make a new one from index.json"
    )
    assert rebuilt.exit_code == 0, rebuilt.output
    assert rebuilt.stdout.splitlines()[0].startswith(f"wrote {folder.crl} (1 revoked, next update ")
    crl = pki.load_crl(folder.crl)
    assert [e.serial_number for e in crl] == [pki.read_index(ca)[1].serial_number]
    assert crl.next_update_utc is not None
    assert crl.next_update_utc - crl.last_update_utc == dt.timedelta(days=7)
    assert no_ca.exit_code == 1
    assert _one_error(no_ca.stderr).startswith(f"no CA in {tmp_path / 'none'}")


def test_list_without_a_ca_is_an_error(tmp_path: Path) -> None:
    """list in a folder without a CA exits 1 with the init command to run."""
    result = _run("list", "--dir", str(tmp_path / "none"))

    assert result.exit_code == 1
    assert "rtchat-certs init --dir" in _one_error(result.stderr)


def test_list_shows_each_status(ca: Path) -> None:
    """list pairs each certificate with valid, expiring soon, expired or revoked."""
    _four_clients(ca)

    result = _run("list", "--dir", str(ca))

    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()[1:6]
    assert [(row.split()[0], row.split("  ")[-1].strip()) for row in rows] == [
        ("carol", "expired"),  # the soonest to expire first
        ("bob", "expiring soon"),
        ("chatserver", "valid"),
        ("alice", "valid"),
        ("dave", "revoked"),
    ]


def test_show_a_csr_a_crl_and_a_mismatched_server_name(ca: Path, tmp_path: Path) -> None:
    """show explains a CSR and a CRL, and warns when the server certificate is not for --cn."""
    csr = pki.create_request(tmp_path / "user", "alice").csr
    folder = pki.CaFolder(ca)

    of_csr = _run("show", str(csr))
    of_crl = _run("show", str(folder.crl))
    mismatch = _run("show", str(folder.server_cert), "--cn", "chat.example")

    assert of_csr.exit_code == 0, of_csr.output
    assert of_csr.stdout.splitlines()[0] == f"{csr}: a certificate signing request for CN=alice"
    assert "  signature           valid" in of_csr.stdout.splitlines()
    assert of_crl.exit_code == 0, of_crl.output
    assert "CRL number   1" in of_crl.stdout
    assert f"checked against {ca.resolve()}" in of_crl.stdout.splitlines()
    assert of_crl.stdout.splitlines()[-1] == "no warnings"
    assert mismatch.exit_code == 0
    warnings = [line for line in mismatch.stdout.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: it is not valid for 'chat.example' (its names: DNS:chatserver, DNS:localhost, "
        "IP:127.0.0.1): clients connecting with --cn chat.example refuse it"
    ]


def test_show_refuses_keys_and_missing_files(ca: Path, tmp_path: Path) -> None:
    """show of a private key or a missing file is one error line and exit 1."""
    key = _run("show", str(pki.CaFolder(ca).ca_key))
    missing = _run("show", str(tmp_path / "nothere.crt"))

    assert key.exit_code == 1
    assert _one_error(key.stderr).endswith("(it holds a private key)")
    assert missing.exit_code == 1
    assert _one_error(missing.stderr).startswith(f"cannot read {tmp_path / 'nothere.crt'}")


def test_show_reads_der_with_for_client(ca: Path, tmp_path: Path) -> None:
    """show --for client on the DER server certificate warns that it has no clientAuth."""
    der = tmp_path / "server.der"
    cert = x509.load_pem_x509_certificate(pki.CaFolder(ca).server_cert.read_bytes())
    der.write_bytes(cert.public_bytes(serialization.Encoding.DER))

    result = _run("show", str(der), "--for", "client")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == (
        "warning: no clientAuth in its extended key usage: the server refuses it as a client "
        "certificate"
    )


def test_server_cert_force_renews_in_place(ca: Path) -> None:
    """server-cert --force replaces server.key (0600) and server.crt, keeping the SANs."""
    folder = pki.CaFolder(ca)
    old = folder.server_cert.read_bytes()

    result = _run("server-cert", "--dir", str(ca), "--cn", "chatserver", "--force")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"replaced {folder.server_key} (private key, mode 0600)",
        f"replaced {folder.server_cert} (names: chatserver, localhost, 127.0.0.1)",
        f"updated {folder.index}",
    ]
    assert folder.server_cert.read_bytes() != old
    assert _mode(folder.server_key) == 0o600


def test_server_cert_without_cn_renews_the_same_names(ca: Path, tmp_path: Path) -> None:
    """server-cert --force alone renews under the current CN and names, without a warning;
    where there is no certificate to renew, it asks for --cn."""
    folder = pki.CaFolder(ca)

    renewed = _run("server-cert", "--dir", str(ca), "--force")
    elsewhere = _run("server-cert", "--dir", str(ca), "--out", str(tmp_path / "host2"))

    assert renewed.exit_code == 0, renewed.output
    assert renewed.stderr == ""
    assert renewed.stdout.splitlines()[1] == (
        f"replaced {folder.server_cert} (names: chatserver, localhost, 127.0.0.1)"
    )
    assert len(renewed.stdout.splitlines()) == 3  # no "names: ... -> ..." line
    assert elsewhere.exit_code == 1
    assert _one_error(elsewhere.stderr) == (
        "give --cn: the name clients pass as --cn (there is no "
        f"{tmp_path / 'host2' / 'server.crt'} with a CN to renew)"
    )
    assert not (tmp_path / "host2").exists()


def test_server_cert_says_when_it_drops_names(ca: Path) -> None:
    """A typo in --cn drops the old names: the names line and a warning say so, with a fix."""
    folder = pki.CaFolder(ca)

    typo = _run("server-cert", "--dir", str(ca), "--cn", "chat.exmaple.com", "--force")

    assert typo.exit_code == 0, typo.output
    assert typo.stdout.splitlines()[1:] == [
        f"replaced {folder.server_cert} (names: chat.exmaple.com)",
        f"updated {folder.index}",
        "names: chatserver, localhost, 127.0.0.1 -> chat.exmaple.com",
    ]
    warning = typo.stderr.splitlines()
    assert len(warning) == 1
    assert warning[0].startswith(
        "rtchat-certs: warning: the new certificate drops chatserver, localhost, 127.0.0.1: "
        "clients that use those names will be refused"
    )
    fix = re.findall(r"`(rtchat-certs [^`]*)`", warning[0])
    assert fix == [
        f"rtchat-certs server-cert --dir {ca} --cn chatserver --san localhost --san 127.0.0.1 "
        "--force"
    ]
    restored = _run(*fix[0].split()[1:])
    assert restored.exit_code == 0, restored.output
    assert pki.server_names(folder.server_cert) == ["chatserver", "localhost", "127.0.0.1"]


def test_server_cert_out_restore_hint_renews_that_folder(ca: Path, tmp_path: Path) -> None:
    """With --out, the hint's command restores that folder's certificate, not the CA folder's."""
    host2 = tmp_path / "host2"
    folder = pki.CaFolder(ca)
    made = _run(
        "server-cert", "--dir", str(ca), "--cn", "chat2", "--san", "10.0.0.9", "--out", str(host2)
    )
    assert made.exit_code == 0, made.output
    ca_folders_own = folder.server_cert.read_bytes()

    typo = _run("server-cert", "--dir", str(ca), "--cn", "chat3", "--out", str(host2), "--force")

    assert typo.exit_code == 0, typo.output
    fix = re.findall(r"`(rtchat-certs [^`]*)`", typo.stderr)
    assert fix == [
        f"rtchat-certs server-cert --dir {ca} --out {host2} --cn chat2 --san 10.0.0.9 --force"
    ]
    restored = _run(*fix[0].split()[1:])
    assert restored.exit_code == 0, restored.output
    assert pki.server_names(host2 / "server.crt") == ["chat2", "10.0.0.9"]
    assert folder.server_cert.read_bytes() == ca_folders_own


def test_server_cert_with_an_added_name_says_so_without_a_warning(ca: Path) -> None:
    """Names only added: the names line shows the change, and nothing is dropped."""
    result = _run(
        "server-cert",
        "--dir",
        str(ca),
        "--san",
        "localhost",
        "--san",
        "127.0.0.1",
        "--san",
        "chat.example.com",
        "--force",
    )

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.splitlines()[-1] == (
        "names: chatserver, localhost, 127.0.0.1 -> chatserver, localhost, chat.example.com, "
        "127.0.0.1"
    )


def test_server_bundle_again_and_with_force(ca: Path, tmp_path: Path) -> None:
    """A repeated bundle leaves identical files; after a revoke it needs --force for crl.pem."""
    out = tmp_path / "server"
    assert _run("server-bundle", "--dir", str(ca), "--out", str(out)).exit_code == 0
    pki.issue_client(ca, "alice")
    pki.revoke(ca, "alice")

    refused = _run("server-bundle", "--dir", str(ca), "--out", str(out))
    forced = _run("server-bundle", "--dir", str(ca), "--out", str(out), "--force")

    assert refused.exit_code == 1
    assert _one_error(refused.stderr) == (
        f"{out / 'crl.pem'} already exists; refusing to overwrite it: it is an older CRL of this "
        f"CA (number 1, 0 revoked) than {pki.CaFolder(ca).crl} (number 2, 1 revoked), after a "
        "revoke or a crl renewal: pass --force to replace it"
    )
    assert forced.exit_code == 0, forced.output
    assert forced.stdout.splitlines() == [
        f"unchanged {out / 'ca.crt'} (already the same)",
        f"unchanged {out / 'server.crt'} (already the same)",
        f"unchanged {out / 'server.key'} (private key, mode 0600, already the same)",
        f"replaced {out / 'crl.pem'}",
        f"Next: only crl.pem changed: `scp -p {out / 'crl.pem'} chatserver:.config/rtchat/"
        "server/`: the running server applies it within seconds "
        "(or at once on `kill -HUP <pid of rtchat-server>`; no restart needed).",
    ]
    assert (out / "crl.pem").read_bytes() == pki.CaFolder(ca).crl.read_bytes()


def test_server_bundle_points_to_the_folder_rtchat_server_uses(tmp_path: Path, ca: Path) -> None:
    """The bundle's hint copies into the folder rtchat-server really uses by default."""
    bundle = tmp_path / "server-folder"

    done = _console("server-bundle", "--dir", str(ca), "--out", str(bundle), cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    hint = done.stdout.splitlines()[-1]
    assert hint == (
        "Next: copy the folder's contents to the server host, `ssh chatserver mkdir -p -m 700 "
        f".config/rtchat/server` and `scp -p {bundle}/* chatserver:.config/rtchat/server/`, "
        "where rtchat-server looks by default; then run `rtchat-server` there."
    )
    _copy_like_scp(_hinted(done.stdout), tmp_path, tmp_path)  # the host's home is tmp_path
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            "from realtimechat import locations; "
            "print(locations.server_files(cert=None, key=None, ca=None, pki=None).cert)",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / ".config")},
    )
    assert found.stdout.strip() == str(tmp_path / ".config" / "rtchat" / "server" / "server.crt")


def test_server_bundle_says_when_nothing_changed(ca: Path, tmp_path: Path) -> None:
    """A second bundle with nothing new says so instead of repeating the setup steps."""
    out = tmp_path / "server"
    assert _run("server-bundle", "--dir", str(ca), "--out", str(out)).exit_code == 0

    again = _run("server-bundle", "--dir", str(ca), "--out", str(out))

    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines()[-1] == f"Nothing changed: {out} already matches the CA folder."


def test_server_bundle_never_into_a_folder_with_a_ca_key(ca: Path) -> None:
    """server-bundle --out the CA folder itself is refused with one line."""
    result = _run("server-bundle", "--dir", str(ca), "--out", str(ca))

    assert result.exit_code == 1
    assert (
        _one_error(result.stderr) == f"{ca} is the CA folder itself: give the server folder to make"
    )


# --------------------------------------------------------------------------- names the tool uses


@pytest.mark.parametrize("name", ["ca", "CA", "server", "Server"])
def test_issue_refuses_names_of_the_tools_own_files(ca: Path, name: str) -> None:
    """issue ca would write clients/ca.crt, which clashes with the CA's ca.crt: refused."""
    before = _snapshot(ca)

    result = _run("issue", name, "--dir", str(ca))

    assert result.exit_code == 1
    message = _one_error(result.stderr)
    assert message.startswith(f"client name {name!r} cannot be used: its files would clash with ")
    assert message.endswith("pick another name")
    assert _snapshot(ca) == before


def test_request_and_sign_refuse_the_name_ca(ca: Path, tmp_path: Path) -> None:
    """request ca is refused before writing; a CSR for CN=ca made elsewhere is not signed."""
    user = tmp_path / "user"
    forged = tmp_path / "ca.csr"
    key = pki.generate_key("ec-p256")
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "ca")]))
        .sign(key, hashes.SHA256())
    )
    forged.write_bytes(csr.public_bytes(serialization.Encoding.PEM))

    requested = _run("request", "ca", "--out", str(user))
    signed = _run("sign", str(forged), "--dir", str(ca), "--yes")

    assert requested.exit_code == 1
    assert "its files would clash with ca.crt and ca.key" in _one_error(requested.stderr)
    assert not user.exists()
    assert signed.exit_code == 1
    assert "its files would clash with ca.crt and ca.key" in _one_error(signed.stderr)
    assert not (pki.CaFolder(ca).clients_dir / "ca.crt").exists()


def test_show_checks_clients_against_the_ca_even_beside_a_users_ca_crt(ca: Path) -> None:
    """A clients/ca.crt left by an older version does not make show doubt the real CA."""
    pki.issue_client(ca, "alice")
    pki.issue_client(ca, "bob")
    folder = pki.CaFolder(ca)
    shutil.copyfile(folder.client_cert("bob"), folder.clients_dir / "ca.crt")

    result = _run("show", str(folder.client_cert("alice")))

    assert result.exit_code == 0, result.output
    assert f"checked against {ca.resolve()}" in result.stdout.splitlines()
    assert f"note: issued by the CA of {ca.resolve()}" in result.stdout.splitlines()
    assert result.stdout.splitlines()[-1] == "no warnings"


# --------------------------------------------------------------------------- folded names


@pytest.mark.parametrize("other", ["Bob", "BOB", "\uff42ob"])  # the last: full-width b
def test_issue_refuses_a_name_that_folds_to_a_valid_users(ca: Path, other: str) -> None:
    """Bob while bob has a valid certificate: the server would refuse Bob as name_taken."""
    assert _run("issue", "bob", "--dir", str(ca)).exit_code == 0
    bob = pki.read_index(ca)[-1]
    before = _snapshot(ca)

    plain = _run("issue", other, "--dir", str(ca))
    forced = _run("issue", other, "--dir", str(ca), "--force")

    for result in (plain, forced):
        assert result.exit_code == 1
        message = _one_error(result.stderr)
        assert message.startswith(
            f"{other!r} is the same chat name as 'bob', who has a certificate that is not "
            f"revoked (serial {bob.serial}, valid until "
        )
        assert f"the server would refuse {other!r} as name_taken" in message
        assert (
            f"pick another name, or revoke 'bob' first (`rtchat-certs revoke bob --dir {ca}`"
            in (message)
        )
        assert "`rtchat-server names release bob`" in message
    assert _snapshot(ca) == before


def test_a_name_with_spaces_clashes_with_its_underscored_chat_name(ca: Path) -> None:
    """'bob smith' is chat name bob_smith: refused while bob_smith has a valid certificate."""
    assert _run("issue", "bob_smith", "--dir", str(ca)).exit_code == 0

    result = _run("issue", "Bob Smith", "--dir", str(ca))

    assert result.exit_code == 1
    assert _one_error(result.stderr).startswith(
        "'Bob Smith' is the same chat name as 'bob_smith', who has a certificate"
    )


def test_sign_refuses_a_folded_name_and_renewal_still_works(ca: Path, tmp_path: Path) -> None:
    """A CSR for Bob is refused while bob is valid (before asking); bob's own renewal is not."""
    assert _run("issue", "bob", "--dir", str(ca)).exit_code == 0
    other = pki.create_request(tmp_path / "other", "Bob").csr
    own = pki.create_request(tmp_path / "own", "bob").csr

    refused = _run("sign", str(other), "--dir", str(ca), input="y\n")
    renewed = _run("sign", str(own), "--dir", str(ca), "--force", "--yes")
    reissued = _run("issue", "bob", "--dir", str(ca), "--force")

    assert refused.exit_code == 1
    assert "Sign a client certificate" not in refused.stderr
    assert _one_error(refused.stderr).startswith("'Bob' is the same chat name as 'bob'")
    assert renewed.exit_code == 0, renewed.output
    assert reissued.exit_code == 0, reissued.output
    assert [e.name for e in pki.read_index(ca)] == ["chatserver", "bob", "bob", "bob"]


def test_a_revoked_users_folded_name_can_be_issued(ca: Path) -> None:
    """Once bob is revoked, Bob may be issued (the hint told about the server's name release)."""
    assert _run("issue", "bob", "--dir", str(ca)).exit_code == 0
    assert _run("revoke", "bob", "--dir", str(ca)).exit_code == 0

    result = _run("issue", "Bob", "--dir", str(ca))

    assert result.exit_code == 0, result.output
    assert [(e.name, e.status) for e in pki.read_index(ca)][1:] == [
        ("bob", "revoked"),
        ("Bob", "valid"),
    ]


def test_show_warns_about_a_csr_whose_name_folds_to_a_valid_users(ca: Path, tmp_path: Path) -> None:
    """show of Bob's CSR against the CA folder says sign would refuse it."""
    pki.issue_client(ca, "bob")
    csr = pki.create_request(tmp_path / "user", "Bob").csr

    result = _run("show", str(csr), "--dir", str(ca))

    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stdout.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert warnings[0].startswith("warning: 'Bob' is the same chat name as 'bob'")


# --------------------------------------------------------------------------- hints that work


def _hinted_commands(message: str) -> list[list[str]]:
    """The `rtchat-certs ...` commands quoted in an error message, as argument lists."""
    return [command.split()[1:] for command in re.findall(r"`(rtchat-certs [^`]*)`", message)]


def test_duplicate_name_hint_gives_revoke_commands_that_work(ca: Path, tmp_path: Path) -> None:
    """After a renewal, revoke NAME is ambiguous: the hint names each serial, and they work."""
    assert _run("issue", "alice", "--dir", str(ca)).exit_code == 0
    assert _run("issue", "alice", "--dir", str(ca), "--force").exit_code == 0
    serials = [e.serial for e in pki.read_index(ca) if e.name == "alice"]
    csr = pki.create_request(tmp_path / "user", "alice").csr

    refused = _run("sign", str(csr), "--dir", str(ca), "--yes")

    assert refused.exit_code == 1
    message = _one_error(refused.stderr)
    assert message.startswith(
        f"'alice' already has 2 certificates that are not revoked (serials {', '.join(serials)}): "
        f"revoke them first (`rtchat-certs revoke {serials[0]} --dir {ca}` and "
        f"`rtchat-certs revoke {serials[1]} --dir {ca}`), or pass --force"
    )
    for command in _hinted_commands(message):
        done = _run(*command)
        assert done.exit_code == 0, done.output
    signed = _run("sign", str(csr), "--dir", str(ca), "--yes")
    assert signed.exit_code == 0, signed.output


def test_duplicate_name_hint_uses_the_name_when_it_is_unambiguous(ca: Path) -> None:
    """With one certificate, the hint is `revoke NAME`, which works."""
    assert _run("issue", "alice", "--dir", str(ca)).exit_code == 0

    refused = _run("issue", "alice", "--dir", str(ca))

    commands = _hinted_commands(_one_error(refused.stderr))
    assert commands == [["revoke", "alice", "--dir", str(ca)]]
    assert _run(*commands[0]).exit_code == 0
    assert _run("issue", "alice", "--dir", str(ca)).exit_code == 0


def test_signing_the_same_request_twice_is_refused_before_asking(ca: Path, tmp_path: Path) -> None:
    """The second sign of one CSR names the certificate it already has, and never asks."""
    csr = pki.create_request(tmp_path / "user", "alice").csr
    assert _run("sign", str(csr), "--dir", str(ca), "--yes").exit_code == 0
    before = _snapshot(ca)

    again = _run("sign", str(csr), "--dir", str(ca), input="y\n")

    assert again.exit_code == 1
    assert "Sign a client certificate" not in again.stderr
    assert _one_error(again.stderr).startswith(
        f"{csr} is already signed: {pki.CaFolder(ca).client_cert('alice')} (serial "
    )
    assert _snapshot(ca) == before


def test_a_reply_folder_with_another_cas_ca_crt_is_refused_before_asking(
    ca: Path, tmp_path: Path
) -> None:
    """--out holding a different ca.crt: refused before the question, nothing signed."""
    reply = tmp_path / "reply"
    reply.mkdir()
    other = tmp_path / "other-ca"
    pki.init_ca(other, "elsewhere")
    shutil.copyfile(pki.CaFolder(other).ca_cert, reply / "ca.crt")
    csr = pki.create_request(tmp_path / "user", "alice").csr
    before = _snapshot(ca)

    result = _run("sign", str(csr), "--dir", str(ca), "--out", str(reply), input="y\n")

    assert result.exit_code == 1
    assert "Sign a client certificate" not in result.stderr
    assert _one_error(result.stderr).startswith(f"{reply / 'ca.crt'} already exists")
    assert _snapshot(ca) == before
    assert sorted(p.name for p in reply.iterdir()) == ["ca.crt"]


# --------------------------------------------------------------------------- renewing a user


def _rtchat_loads(folder: Path) -> None:
    """Load the user folder exactly as rtchat does (raises PKIError if the pair is broken)."""
    tls.client_context(locations.user_folder(folder, None, None))


def test_request_force_keeps_a_working_key_until_the_new_certificate(
    ca: Path, tmp_path: Path
) -> None:
    """request --force beside a working NAME.crt writes NAME.new.key; rtchat keeps working,
    and after the printed mv with the new certificate it works again."""
    user, reply = tmp_path / "user", tmp_path / "reply"
    assert _run("request", "alice", "--out", str(user)).exit_code == 0
    first = _run("sign", str(user / "alice.csr"), "--dir", str(ca), "--out", str(user), "-y")
    assert first.exit_code == 0, first.output
    old_key = (user / "alice.key").read_bytes()

    refused = _run("request", "alice", "--out", str(user))
    renewed = _run("request", "alice", "--out", str(user), "--force")

    assert refused.exit_code == 1
    assert _one_error(refused.stderr) == (
        f"{user / 'alice.key'} already exists and {user / 'alice.crt'} is its certificate: "
        "pass --force to make a new key and request for a renewal (this key stays in use "
        "until the new certificate arrives)"
    )
    assert renewed.exit_code == 0, renewed.output
    lines = renewed.stdout.splitlines()
    assert lines[:2] == [
        f"wrote {user / 'alice.new.key'} (private key, mode 0600, the new key; alice.key stays "
        "in use for now)",
        f"replaced {user / 'alice.csr'}",
    ]
    assert (user / "alice.key").read_bytes() == old_key
    _rtchat_loads(user)  # still chatting with the old pair
    move = re.findall(r"`mv ([^`]*)`", lines[3])
    assert move == [f"{user / 'alice.new.key'} {user / 'alice.key'}"]

    signed = _run("sign", str(user / "alice.csr"), "--dir", str(ca), "--out", str(reply))
    assert signed.exit_code == 1  # alice has a valid certificate: a renewal needs --force
    signed = _run(
        "sign", str(user / "alice.csr"), "--dir", str(ca), "--out", str(reply), "-y", "--force"
    )
    assert signed.exit_code == 0, signed.output
    shutil.copyfile(reply / "alice.crt", user / "alice.crt")
    forgot = _run("show", str(user / "alice.crt"))
    assert "warning: alice.key beside it is not its key, alice.new.key is (a renewal): " in (
        forgot.stdout
    )
    source, target = move[0].split()
    os.replace(source, target)
    _rtchat_loads(user)
    new = pki.load_certificate(user / "alice.crt")
    assert new.serial_number == int(pki.read_index(ca)[-1].serial, 16)


def test_show_warns_about_a_key_beside_that_is_not_the_certificates(ca: Path) -> None:
    """Another key as NAME.key (no NAME.new.key): the plain warning; its own key: none."""
    pki.issue_client(ca, "alice")
    pki.issue_client(ca, "bob")
    folder = pki.CaFolder(ca)

    matching = _run("show", str(folder.client_cert("alice")))
    shutil.copyfile(folder.client_key("bob"), folder.client_key("alice"))
    swapped = _run("show", str(folder.client_cert("alice")))

    assert matching.stdout.splitlines()[-1] == "no warnings"
    assert [line for line in swapped.stdout.splitlines() if line.startswith("warning:")] == [
        "warning: alice.key beside it is not its key: rtchat and rtchat-server refuse the pair"
    ]


def test_request_force_with_a_passphrase_key_in_use_keeps_it(tmp_path: Path, ca: Path) -> None:
    """A passphrase-protected key cannot be compared: with its certificate beside it, it stays."""
    user = tmp_path / "user"
    env = {"RTCHAT_CERTS_PASSPHRASE": "pw"}
    assert _run("request", "bob", "--out", str(user), "--passphrase", env=env).exit_code == 0
    pki.sign_request(ca, pki.read_csr(user / "bob.csr"), out_dir=user)
    old_key = (user / "bob.key").read_bytes()

    renewed = _run("request", "bob", "--out", str(user), "--force")

    assert renewed.exit_code == 0, renewed.output
    assert (user / "bob.key").read_bytes() == old_key
    assert (user / "bob.new.key").exists()


def test_request_force_without_a_working_certificate_replaces_in_place(tmp_path: Path) -> None:
    """No certificate yet (a request not signed): --force replaces key and request as before."""
    user = tmp_path / "user"
    assert _run("request", "alice", "--out", str(user)).exit_code == 0

    forced = _run("request", "alice", "--out", str(user), "--force")

    assert forced.exit_code == 0, forced.output
    assert forced.stdout.splitlines()[0] == (
        f"replaced {user / 'alice.key'} (private key, mode 0600)"
    )
    assert not (user / "alice.new.key").exists()
    assert "`mv" not in forced.stdout


# --------------------------------------------------------------------------- what the docs say

DOCS = REPO
SUBCOMMANDS = ("init", "issue", "request", "sign", "revoke", "crl", "list", "show", "server-")


def _documented_commands(path: Path) -> list[str]:
    """Every rtchat-certs command line in ``path``: in `code spans` and in ```sh blocks."""
    text = path.read_text()
    spans = [" ".join(span.split()) for span in re.findall(r"(?<!`)`([^`]+)`(?!`)", text)]
    blocks = re.findall(r"```sh\n(.*?)```", text, re.DOTALL)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    commands = []
    for candidate in spans + lines:
        # The docs' shorthand, as in "(or `server-bundle --out DIR --force` again)".
        shorthand = candidate.startswith(SUBCOMMANDS) and " " in candidate
        command = f"rtchat-certs {candidate}" if shorthand else candidate
        if command.startswith("rtchat-certs "):
            commands.append(command)
    return commands


@pytest.mark.parametrize("doc", ["README.md", "docs/usage.md", "docs/certificates.md"])
def test_documented_rtchat_certs_commands_parse(doc: str) -> None:
    """Each rtchat-certs command the docs show is complete: no missing option, no unknown one.

    README once said "(or `server-bundle --force` again)", which stops with
    "Missing option '--out'".
    """
    commands = _documented_commands(DOCS / doc)
    assert commands, doc
    for command in commands:
        args = shlex.split(command)[1:]
        try:
            with main.make_context("rtchat-certs", list(args)) as context:
                name, sub, rest = main.resolve_command(context, list(args))
                assert sub is not None, command
                sub.make_context(name or "", rest, parent=context).close()
        except click.ClickException as exc:
            pytest.fail(f"{doc}: `{command}`: {exc.format_message()}")


def test_readme_lists_every_exit_code_of_rtchat() -> None:
    """README's exit codes name every ExitCode (1 and 6 were missing)."""
    text = " ".join((DOCS / "README.md").read_text().split())
    listed = re.search(r"Exit codes: (.*?)\.", text)
    assert listed is not None
    for code in ExitCode:
        assert re.search(rf"(^|, ){int(code)} ", listed.group(1)), (code, listed.group(1))


def test_certificates_md_gives_the_server_certificates_real_lifetime() -> None:
    """The renewal section states the default --days of server-cert (365, not 825)."""
    text = " ".join((DOCS / "docs" / "certificates.md").read_text().split())

    stated = re.findall(r"\*\*The server certificate\*\* \((\d+) days", text)

    assert stated == [str(pki.SERVER_DAYS)]


def test_readme_creates_the_parent_before_copying_the_server_folder() -> None:
    """scp -r into .config/rtchat/server fails on a fresh host unless .config/rtchat exists."""
    text = (DOCS / "README.md").read_text()
    block = next(b for b in re.findall(r"```sh\n(.*?)```", text, re.DOTALL) if "scp" in b)
    lines = block.splitlines()
    copy = next(i for i, line in enumerate(lines) if line.startswith("scp"))
    assert ".config/rtchat/server" in lines[copy]
    assert any(re.search(r"mkdir -p (-m 700 )?\.config/rtchat", line) for line in lines[:copy])


# ------------------------------------------------------- copy commands that can be run twice


def _copy_like_scp(lines: list[str], local: Path, remote: Path) -> None:
    """Run ``ssh HOST CMD`` and ``scp [-r]p SRC... HOST:DEST`` lines, with the host a folder.

    scp puts a folder copied with -r *into* a folder that exists, as cp -r
    does: so cp is what runs, with HOST:PATH made REMOTE/PATH.
    """
    for line in lines:
        argv = shlex.split(line)
        if argv[0] == "ssh":
            subprocess.run(argv[2:], cwd=remote, check=True)
            continue
        flags = [arg for arg in argv[1:] if arg.startswith("-")]
        *sources, dest = [arg for arg in argv[1:] if not arg.startswith("-")]
        target = str(remote / dest.partition(":")[2]) + ("/" if dest.endswith("/") else "")
        expanded = [
            match
            for source in sources
            for match in sorted(glob.glob(source.removeprefix("~/"), root_dir=local))
        ]
        assert expanded, line
        recursive = ["-r"] if any("r" in flag for flag in flags) else []
        subprocess.run(["cp", *recursive, "-p", *expanded, target], cwd=local, check=True)


def _twice_is_once(lines: list[str], tmp_path: Path, local: Path) -> dict[str, bytes]:
    """The host's files after the copy lines ran once, checked to be the same after twice."""
    remote = tmp_path / "host"
    remote.mkdir(parents=True, exist_ok=True)
    _copy_like_scp(lines, local, remote)
    once = _snapshot(remote)
    _copy_like_scp(lines, local, remote)
    assert _snapshot(remote) == once, lines
    return once


def _admin_folders(tmp_path: Path, ca: Path) -> Path:
    """The admin's home, with the CA folder and the server folders the docs copy from."""
    local = tmp_path / "admin"
    for name in ("server-folder", "rtchat-server"):
        pki.server_bundle(ca, local / name)
    shutil.copytree(ca, local / ".config" / "rtchat" / "ca")
    return local


@pytest.mark.parametrize("doc", ["README.md", "docs/usage.md", "docs/certificates.md"])
def test_documented_copy_commands_can_be_run_twice(doc: str, tmp_path: Path, ca: Path) -> None:
    """Each block's ssh/scp lines, run twice, leave the host as once: no nested folder.

    `scp -rp server-folder host:.config/rtchat/server` run again (after a
    revoke) nested the folder, and the server kept its old CRL.
    """
    local = _admin_folders(tmp_path, ca)
    blocks = re.findall(r"```sh\n(.*?)```", (DOCS / doc).read_text(), re.DOTALL)
    copies = [
        [line.split("  #")[0] for line in block.splitlines() if line.startswith(("ssh ", "scp "))]
        for block in blocks
    ]
    for n, lines in enumerate(block for block in copies if block):
        server = tmp_path / str(n) / "host" / ".config" / "rtchat" / "server"
        server.mkdir(parents=True)  # step 2 has made it by the time any later step copies
        host = _twice_is_once(lines, tmp_path / str(n), local)
        assert all(name.startswith(".config/rtchat/server/") for name in host), host
        assert all(name.count("/") == 3 for name in host), host  # files, not a folder, inside


def _hinted(stdout: str) -> list[str]:
    """The ssh and scp commands a Next: line gives, in order."""
    hint = next(line for line in stdout.splitlines() if line.startswith("Next:"))
    return [cmd for cmd in re.findall(r"`([^`]+)`", hint) if cmd.startswith(("ssh ", "scp "))]


def test_next_hints_copy_commands_can_be_run_twice(tmp_path: Path, ca: Path) -> None:
    """server-bundle's and revoke's Next: give exact copy commands; running them twice is once."""
    local = tmp_path / "admin"
    local.mkdir()
    bundled = _console("server-bundle", "--dir", str(ca), "--out", "server-folder", cwd=local)
    assert bundled.returncode == 0, bundled.stderr
    setup = _hinted(bundled.stdout)
    assert setup == [
        "ssh chatserver mkdir -p -m 700 .config/rtchat/server",
        "scp -p server-folder/* chatserver:.config/rtchat/server/",
    ]
    host = _twice_is_once(setup, tmp_path / "setup", local)
    assert sorted(host) == [
        f".config/rtchat/server/{name}"
        for name in ("ca.crt", "crl.pem", "server.crt", "server.key")
    ]

    pki.issue_client(ca, "carol")
    revoked = _console("revoke", "carol", "--dir", str(ca), cwd=local)
    assert revoked.returncode == 0, revoked.stderr
    crl_copy = _hinted(revoked.stdout)
    assert crl_copy == [f"scp -p {ca / 'crl.pem'} chatserver:.config/rtchat/server/crl.pem"]
    host = _twice_is_once(setup + crl_copy, tmp_path / "revoked", local)
    assert host[".config/rtchat/server/crl.pem"] == (ca / "crl.pem").read_bytes()


# --------------------------------------------------------------------------- small things


@pytest.mark.parametrize(
    ("san", "kind"),
    [("999.1.1.1", "IPv4"), ("10.0.0.256", "IPv4"), ("1.2.3", "IPv4"), ("fe80::zz", "IPv6")],
)
def test_init_refuses_a_san_that_looks_like_an_ip_but_is_not(
    tmp_path: Path, san: str, kind: str
) -> None:
    """--san 999.1.1.1 was silently a DNS name nobody can match: now one error, nothing written."""
    root = tmp_path / "ca"

    result = _run("init", "--dir", str(root), "--san", san)

    assert result.exit_code == 1
    assert _one_error(result.stderr).startswith(
        f"{san!r} looks like an {kind} address but is not one"
    )
    assert not root.exists()


def test_server_cert_refuses_a_bad_ip_san_and_keeps_the_old_certificate(ca: Path) -> None:
    """The same check for server-cert: the certificate in place is left alone."""
    before = _snapshot(ca)

    result = _run("server-cert", "--dir", str(ca), "--san", "127.0.0.1.1", "--force")

    assert result.exit_code == 1
    assert "looks like an IPv4 address but is not one" in _one_error(result.stderr)
    assert _snapshot(ca) == before


def test_list_of_a_server_folder_says_it_is_not_a_ca_folder(ca: Path, tmp_path: Path) -> None:
    """list --dir SERVER-FOLDER printed "no certificates recorded" and exit 0: now an error."""
    out = tmp_path / "server-folder"
    assert _run("server-bundle", "--dir", str(ca), "--out", str(out)).exit_code == 0

    result = _run("list", "--dir", str(out))

    assert result.exit_code == 1
    assert result.stdout == ""
    assert _one_error(result.stderr) == (
        f"{out} is not a CA folder: it has no index.json and no ca.key (it looks like a server "
        "folder); give the CA folder that `rtchat-certs init` made with --dir"
    )


def test_list_marks_certificates_a_renewal_replaced(ca: Path, tmp_path: Path) -> None:
    """After renewals, the older certificates still in force say "replaced"; columns stay."""
    pki.issue_client(ca, "alice", days=20)
    pki.issue_client(ca, "alice", force=True)
    pki.issue_client(ca, "bob")
    pki.issue_client(ca, "bob", force=True)
    pki.revoke(ca, pki.read_index(ca)[3].serial)
    pki.issue_server_certificate(ca, None, force=True)
    entries = pki.read_index(ca)

    done = _console("list", "--dir", str(ca), cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "SERIAL", "FINGERPRINT", "NOT", "AFTER", "STATUS"]
    statuses = [
        "valid, replaced",  # chatserver, renewed last
        "expiring soon, replaced",  # alice's first
        "valid",
        "revoked",  # bob's first: revoked, so not "replaced"
        "valid",
        "valid",  # the new chatserver
    ]
    listed = sorted(zip(entries, statuses, strict=True), key=lambda row: row[0].not_after_utc)
    for row, (entry, status) in zip(lines[1:7], listed, strict=True):
        assert row.split()[:4] == [entry.name, entry.kind, entry.serial, entry.fingerprint[:16]]
        assert row.endswith(f"  {status}"), row


def test_issue_says_the_chat_name_of_a_name_with_spaces(ca: Path) -> None:
    """issue 'bob smith' silently made chat name bob_smith: now it says so."""
    result = _run("issue", "bob smith", "--dir", str(ca))

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == (
        "chat name: bob_smith (the server turns spaces into '_')"
    )
    assert result.stderr == ""


def test_request_and_sign_say_the_chat_name_too(ca: Path, tmp_path: Path) -> None:
    """The user sees it at request time, the admin before answering the question."""
    user = tmp_path / "user"

    requested = _run("request", "bob smith", "--out", str(user))
    signed = _run("sign", str(user / "bob smith.csr"), "--dir", str(ca), "--yes")

    assert requested.exit_code == 0, requested.output
    assert "chat name: bob_smith (the server turns spaces into '_')" in requested.stdout
    assert signed.exit_code == 0, signed.output
    assert signed.stdout.splitlines()[1:3] == [
        "  name (CN)           bob smith",
        "  chat name           bob_smith (spaces become _)",
    ]


def test_issue_warns_about_a_name_that_makes_no_chat_name(ca: Path) -> None:
    """A 40-character name is a valid CN but no chat name: issued, with a warning."""
    name = "a" * 40

    result = _run("issue", name, "--dir", str(ca))

    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"rtchat-certs: warning: {name!r} cannot be a chat name (a name has at most 32 "
        "characters): the server refuses this certificate unless it runs with --names claim"
    ]
    assert "chat name:" not in result.stdout


def test_signing_a_renewal_into_the_users_own_folder_says_why_not(ca: Path, tmp_path: Path) -> None:
    """--out the user's folder mid-renewal: its NAME.key is still the one in use; say so."""
    user = tmp_path / "user"
    pki.create_request(user, "alice")
    pki.sign_request(ca, pki.read_csr(user / "alice.csr"), out_dir=user)
    assert _run("request", "alice", "--out", str(user), "--force").exit_code == 0

    result = _run(
        "sign", str(user / "alice.csr"), "--dir", str(ca), "--out", str(user), "--force", "--yes"
    )

    assert result.exit_code == 1
    assert _one_error(result.stderr) == (
        f"{user / 'alice.key'} is the key still in use and alice.new.key waits for this "
        "certificate (a renewal): give --out another folder; the user puts the certificate in "
        "and moves alice.new.key to alice.key together"
    )
    _rtchat_loads(user)


# -- issue 16, finding 4: names that pass for someone else's ---------------------------

LOOK_ALIKES = [
    pytest.param("alice\u034f", "U+034F COMBINING GRAPHEME JOINER", id="grapheme-joiner"),
    pytest.param("alice\ufe0f", "U+FE0F VARIATION SELECTOR-16", id="variation-selector"),
    pytest.param("\u3164alice", "U+3164 HANGUL FILLER", id="hangul-filler"),
    pytest.param("alice\u2800->\u2800bob", "U+2800 BRAILLE PATTERN BLANK", id="braille-blank"),
    pytest.param("\u0430lice", "cannot mix scripts", id="cyrillic-a"),
]


def _forged_csr(tmp_path: Path, cn: str) -> Path:
    """A CSR for ``cn`` made without rtchat-certs (which would refuse to make it)."""
    key = pki.generate_key("ec-p256")
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, cn)]))
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "forged.csr"
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.mark.parametrize(("name", "why"), LOOK_ALIKES)
def test_issue_request_and_sign_refuse_a_name_that_passes_for_another(
    ca: Path, tmp_path: Path, name: str, why: str
) -> None:
    """rtchat-certs issued such names without a word, and sign asked "Sign a client
    certificate for 'alice͏'?": now each command refuses, before any file or question."""
    before = _snapshot(ca)
    user = tmp_path / "user"

    issued = _console("issue", name, "--dir", str(ca), cwd=tmp_path)
    requested = _console("request", name, "--out", str(user), cwd=tmp_path)
    signed = _console("sign", str(_forged_csr(tmp_path, name)), "--dir", str(ca), cwd=tmp_path)

    for result in (issued, requested, signed):
        assert result.returncode == 1, result
        message = _one_error(result.stderr)
        assert "cannot be a chat name" in message
        assert why in message
        assert "\\u" in message or "\u0430" in message  # the hidden character is written out
        assert "Sign a client certificate" not in result.stdout + result.stderr
    assert _snapshot(ca) == before
    assert not user.exists()


def test_issue_refuses_a_name_that_looks_like_another_users(ca: Path, tmp_path: Path) -> None:
    """Single-script look-alikes pass the profile; the skeleton finds them among live names."""
    assert _console("issue", "dave", "--dir", str(ca), cwd=tmp_path).returncode == 0
    assert _console("issue", "alice", "--dir", str(ca), cwd=tmp_path).returncode == 0

    cyrillic = _console("issue", "\u0501\u0430\u0475\u0435", "--dir", str(ca), cwd=tmp_path)
    capital_i = _console("issue", "aIice", "--dir", str(ca), cwd=tmp_path)

    assert cyrillic.returncode == 1
    assert _one_error(cyrillic.stderr).startswith(
        "'\u0501\u0430\u0475\u0435' looks like the chat name of 'dave', who has a certificate"
    )
    assert capital_i.returncode == 1
    assert "'aIice' looks like the chat name of 'alice'" in _one_error(capital_i.stderr)
    assert _console("issue", "alicia", "--dir", str(ca), cwd=tmp_path).returncode == 0
