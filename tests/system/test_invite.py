"""In with one file: ``rtchat-certs invite`` (or ``sign --invite``) and ``rtchat join``.

Real processes on loopback: the admin's rtchat-certs makes the invite, a new
user with a fresh home folder joins with it, then with a bare ``rtchat``.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from realtimechat import pki
from realtimechat.pki import CaFolder

from ..support import Pki, ServerProcess
from .test_terminal import Tmux, at_shell

BIN = Path(sys.executable).parent
CLOCK = r"\d\d:\d\d"
PASSPHRASE = "tulip-orbit-7"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def run(*args: str, home: Path, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    """One of our console scripts, as someone whose home folder is ``home``."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("RTCHAT")}
    clean.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    clean.update(XDG_DATA_HOME=str(home / ".local" / "share"), **env)
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]],
        input=stdin,
        capture_output=True,
        text=True,
        env=clean,
        cwd=home,
        timeout=60,
        check=False,
    )


@pytest.fixture
def admin(tmp_path: Path) -> Path:
    """The admin's home folder, with a CA in its default place (chatserver, 127.0.0.1)."""
    home = tmp_path / "admin"
    home.mkdir()
    made = run("rtchat-certs", "init", "--cn", "chatserver", "--san", "127.0.0.1", home=home)
    assert made.returncode == 0, made.stderr
    return home


def ca_of(admin: Path) -> Path:
    return admin / ".config" / "rtchat" / "ca"


@pytest.fixture
def server(admin: Path, pki: Pki, tmp_path: Path) -> Iterator[ServerProcess]:
    """rtchat-server on the admin's CA folder, on 127.0.0.1."""
    ours = Pki(folder=CaFolder(ca_of(admin)), rogue=pki.rogue, rogue_dir=pki.rogue_dir)
    process = ServerProcess(ours, tmp_path)
    yield process
    process.stop()


def invite(admin: Path, name: str, port: int, *extra: str) -> subprocess.CompletedProcess[str]:
    """``rtchat-certs invite NAME --host 127.0.0.1:PORT`` in the admin's home folder."""
    return run(
        "rtchat-certs",
        "invite",
        name,
        "--host",
        f"127.0.0.1:{port}",
        *extra,
        home=admin,
        RTCHAT_PASSPHRASE=PASSPHRASE,
    )


def new_user(tmp_path: Path, name: str) -> Path:
    home = tmp_path / name
    home.mkdir()
    return home


# -- the admin's side ---------------------------------------------------------------


def test_invite_writes_one_file_with_everything_and_says_the_one_command(admin: Path) -> None:
    """invite NAME: one 0600 file with certificate, encrypted key, ca.crt and the server's address.

    The CA folder keeps the certificate (and its index entry), never the key.
    """
    done = invite(admin, "carol", 9443)
    assert done.returncode == 0, done.stderr
    file = admin / "carol.invite"
    assert mode(file) == 0o600
    assert "wrote carol.invite (private key, passphrase-protected, mode 0600)" in done.stdout
    assert "Next: send carol.invite to carol" in done.stdout
    assert "`rtchat join carol.invite`" in done.stdout
    assert "by another channel" in done.stdout
    invited = tomllib.loads(file.read_text())
    assert invited["format"] == "rtchat-invite"
    assert invited["version"] == 1
    assert (invited["name"], invited["host"], invited["port"]) == ("carol", "127.0.0.1", 9443)
    assert invited["cn"] == "127.0.0.1"  # the host, as the server's certificate carries it
    assert invited["key"].startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert invited["ca"] == (ca_of(admin) / "ca.crt").read_text()
    ca = CaFolder(ca_of(admin))
    assert invited["certificate"] == ca.client_cert("carol").read_text()
    assert not ca.client_key("carol").exists()
    assert [e.name for e in pki.read_index(ca.root) if e.kind == "client"] == ["carol"]


def test_invite_makes_a_passphrase_when_none_is_given(admin: Path) -> None:
    """Without RTCHAT_PASSPHRASE, invite makes a strong passphrase and prints it once."""
    done = run("rtchat-certs", "invite", "dan", "--host", "127.0.0.1", home=admin)
    assert done.returncode == 0, done.stderr
    found = re.search(r"^passphrase: ((?:[a-z2-9]{4}-){4}[a-z2-9]{4})$", done.stdout, re.M)
    assert found, done.stdout
    key = tomllib.loads((admin / "dan.invite").read_text())["key"].encode()
    (admin / "dan.key").write_bytes(key)
    assert pki.load_private_key(admin / "dan.key", found.group(1).encode())


def test_invite_refuses_a_cn_the_server_certificate_lacks(admin: Path) -> None:
    """--cn (or a --host) that the server's certificate does not carry: refused, with its names."""
    done = run("rtchat-certs", "invite", "erin", "--cn", "chat.example.com", home=admin)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "rtchat-certs: error: the server's certificate is not for 'chat.example.com' "
        "(it is for: chatserver, 127.0.0.1): give --cn one of those, or add the name to the "
        f"server's certificate (`rtchat-certs server-cert --dir {ca_of(admin)} --cn chatserver "
        "--san 127.0.0.1 --san chat.example.com --force`)"
    )
    assert not (admin / "erin.invite").exists()
    named = run("rtchat-certs", "invite", "erin", "--host", "chat.example.com", home=admin)
    assert named.returncode == 0, named.stderr
    invited = tomllib.loads((admin / "erin.invite").read_text())
    assert (invited["host"], invited["cn"]) == ("chat.example.com", "chatserver")


def test_sign_invite_writes_the_same_file_without_a_key(admin: Path, tmp_path: Path) -> None:
    """sign NAME.csr --invite FILE: certificate, ca.crt and the server's address; no key."""
    user = new_user(tmp_path, "dave")
    assert run("rtchat-certs", "request", "dave", home=user).returncode == 0
    csr = user / ".config" / "rtchat" / "identity" / "dave.csr"
    done = run("rtchat-certs", "sign", str(csr), "--yes", "--invite", "dave.invite", home=admin)
    assert done.returncode == 0, done.stderr
    assert "Next: send dave.invite to dave" in done.stdout
    assert "`rtchat join dave.invite`" in done.stdout
    file = admin / "dave.invite"
    invited = tomllib.loads(file.read_text())
    assert "key" not in invited
    assert (invited["host"], invited["port"], invited["cn"]) == ("chatserver", 8443, "chatserver")


# -- the new user's side ------------------------------------------------------------


def test_join_installs_the_identity_saves_the_defaults_and_chats(
    admin: Path, server: ServerProcess, tmp_path: Path
) -> None:
    """rtchat join FILE: 0700 folder, 0600 key, [defaults]; then a bare rtchat chats too."""
    assert invite(admin, "carol", server.port).returncode == 0
    home = new_user(tmp_path, "carol")
    file = shutil.copy(admin / "carol.invite", home / "carol.invite")
    joined = run(
        "rtchat",
        "join",
        str(file),
        home=home,
        stdin="hello from the invite\n",
        RTCHAT_PASSPHRASE=PASSPHRASE,
    )
    assert joined.returncode == 0, joined.stderr
    assert re.search(rf"{CLOCK} carol: hello from the invite", joined.stdout)
    identity = home / ".config" / "rtchat" / "identity"
    assert mode(identity) == 0o700
    assert mode(identity / "carol.key") == 0o600
    assert not pki.private_key_is_encrypted(identity / "carol.key")  # as `request` makes keys
    assert {p.name for p in identity.iterdir()} == {"carol.key", "carol.crt", "ca.crt"}
    config = tomllib.loads((home / ".config" / "rtchat" / "config.toml").read_text())
    assert config["defaults"]["host"] == "127.0.0.1"
    assert config["defaults"]["port"] == server.port

    bare = run("rtchat", "--plain", home=home, stdin="and now bare\n")
    assert bare.returncode == 0, bare.stderr
    assert re.search(rf"{CLOCK} carol: and now bare", bare.stdout)

    again = run(
        "rtchat", "join", str(file), home=home, stdin="again\n", RTCHAT_PASSPHRASE=PASSPHRASE
    )
    assert again.returncode == 0, again.stderr  # the same files: nothing to ask


def test_join_never_overwrites_without_asking(
    admin: Path, server: ServerProcess, tmp_path: Path
) -> None:
    """Another key or certificate of the same name in the folder: refused without --force."""
    assert invite(admin, "carol", server.port).returncode == 0
    home = new_user(tmp_path, "carol")
    identity = home / ".config" / "rtchat" / "identity"
    identity.mkdir(parents=True, mode=0o700)
    (identity / "carol.crt").write_text("an older certificate\n")
    before = (identity / "carol.crt").read_bytes()
    done = run(
        "rtchat", "join", str(admin / "carol.invite"), home=home, RTCHAT_PASSPHRASE=PASSPHRASE
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"rtchat: {identity / 'carol.crt'} already exists and differs from the invite's: "
        "nothing was installed; pass --force to replace it, or --identity DIR for another folder"
    )
    assert (identity / "carol.crt").read_bytes() == before
    assert not (identity / "carol.key").exists()
    forced = run(
        "rtchat",
        "join",
        str(admin / "carol.invite"),
        "--force",
        home=home,
        stdin="replaced\n",
        RTCHAT_PASSPHRASE=PASSPHRASE,
    )
    assert forced.returncode == 0, forced.stderr


def test_join_with_a_wrong_passphrase_installs_nothing(
    admin: Path, server: ServerProcess, tmp_path: Path
) -> None:
    """A passphrase that does not open the invite's key: exit 1, nothing written."""
    assert invite(admin, "carol", server.port).returncode == 0
    home = new_user(tmp_path, "carol")
    done = run("rtchat", "join", str(admin / "carol.invite"), home=home, RTCHAT_PASSPHRASE="not it")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"rtchat: wrong passphrase for the key in {admin / 'carol.invite'} (from RTCHAT_PASSPHRASE)"
    )
    assert not (home / ".config").exists()


def test_join_refuses_what_is_not_an_invite(tmp_path: Path) -> None:
    """A certificate, or a TOML file of something else, given to join: one line says so."""
    home = new_user(tmp_path, "x")
    (home / "a.crt").write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    (home / "b.invite").write_text('format = "something else"\n')
    for file in ("a.crt", "b.invite"):
        done = run("rtchat", "join", str(home / file), home=home)
        assert done.returncode == 1, done.stderr
        assert done.stderr.startswith(f"rtchat: {home / file} is not a realtimechat invite"), file


def test_the_csr_route_ends_the_same_way(
    admin: Path, server: ServerProcess, tmp_path: Path
) -> None:
    """request on the user's machine, sign --invite on the admin's, join: the key never moved."""
    home = new_user(tmp_path, "dave")
    assert run("rtchat-certs", "request", "dave", home=home).returncode == 0
    identity = home / ".config" / "rtchat" / "identity"
    key_before = (identity / "dave.key").read_bytes()
    signed = run(
        "rtchat-certs",
        "sign",
        str(identity / "dave.csr"),
        "--yes",
        "--invite",
        "dave.invite",
        "--host",
        f"127.0.0.1:{server.port}",
        home=admin,
    )
    assert signed.returncode == 0, signed.stderr
    shutil.copy(admin / "dave.invite", home / "dave.invite")
    joined = run("rtchat", "join", "dave.invite", home=home, stdin="my own key\n")
    assert joined.returncode == 0, joined.stderr
    assert re.search(rf"{CLOCK} dave: my own key", joined.stdout)
    assert (identity / "dave.key").read_bytes() == key_before
    bare = run("rtchat", "--plain", home=home, stdin="bare\n")
    assert bare.returncode == 0, bare.stderr


def test_a_csr_invite_for_another_key_is_refused(
    admin: Path, server: ServerProcess, tmp_path: Path
) -> None:
    """An invite without a key, where NAME.key is not the certificate's: nothing installed."""
    home = new_user(tmp_path, "dave")
    assert run("rtchat-certs", "request", "dave", home=home).returncode == 0
    identity = home / ".config" / "rtchat" / "identity"
    signed = run(
        "rtchat-certs",
        "sign",
        str(identity / "dave.csr"),
        "--yes",
        "--invite",
        "dave.invite",
        home=admin,
    )
    assert signed.returncode == 0, signed.stderr
    assert run("rtchat-certs", "request", "dave", "--force", home=home).returncode == 0
    done = run("rtchat", "join", str(admin / "dave.invite"), home=home)
    assert done.returncode == 1
    assert "is not the key of the certificate in" in done.stderr
    assert not (identity / "dave.crt").exists()


# -- as a new user sees it -----------------------------------------------------------


needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


@needs_tmux
def test_a_new_user_chats_with_one_command_then_with_a_bare_rtchat(
    admin: Path, server: ServerProcess, tmp_path: Path
) -> None:
    """From a fresh home: `rtchat join FILE` and the passphrase; later `rtchat` alone."""
    assert invite(admin, "carol", server.port).returncode == 0
    tmux = Tmux(tmp_path)  # its panes' home is tmp_path/home, with nothing in it
    try:
        home = tmp_path / "home"
        home.mkdir()
        shutil.copy(admin / "carol.invite", home / "carol.invite")
        tmux.new_pane("carol", width=100)
        tmux.type("carol", "cd && export PATH=" + str(BIN) + ":$PATH && clear", enter=True)
        tmux.type("carol", "rtchat join carol.invite", enter=True)
        tmux.wait_output("carol", "Passphrase for carol.invite:")
        tmux.type("carol", PASSPHRASE, enter=True)
        tmux.wait_output("carol", "joined as carol")
        tmux.type("carol", "hello, I am in", enter=True)
        tmux.wait_output("carol", "carol: hello, I am in")
        first = tmux.screen("carol")
        tmux.keys("carol", "C-d")
        at_shell(tmux, "carol")
        tmux.type("carol", "clear && rtchat", enter=True)
        screen = tmux.wait_output("carol", "joined as carol")
        assert "Server address" not in screen
        assert "Passphrase" not in screen
        tmux.type("carol", "and bare", enter=True)
        tmux.wait_output("carol", "carol: and bare")
        second = tmux.screen("carol")
        (tmp_path / "screens.txt").write_text(first + "\n----\n" + second)
        print(first, second, sep="\n----\n")  # the capture, for the record (pytest -s)
    finally:
        tmux.kill()


@needs_tmux
def test_on_a_terminal_join_asks_before_replacing_a_file(
    admin: Path, server: ServerProcess, tmp_path: Path
) -> None:
    """A different carol.crt in the folder: join asks; no keeps it, yes replaces it and joins."""
    assert invite(admin, "carol", server.port).returncode == 0
    tmux = Tmux(tmp_path)
    try:
        home = tmp_path / "home"
        identity = home / ".config" / "rtchat" / "identity"
        identity.mkdir(parents=True, mode=0o700)
        (identity / "carol.crt").write_text("an older certificate\n")
        shutil.copy(admin / "carol.invite", home / "carol.invite")
        tmux.new_pane("carol", width=200)
        tmux.type("carol", f"cd && export PATH={BIN}:$PATH && clear", enter=True)
        for answer, code in (("n", 1), ("y", 0)):
            tmux.type("carol", "rtchat join carol.invite", enter=True)
            tmux.wait_for("carol", lambda s: s.rstrip().endswith("Passphrase for carol.invite:"))
            tmux.type("carol", PASSPHRASE, enter=True)
            tmux.wait_output("carol", "Replace it with the invite's (y/n) [n]:")
            assert f"{identity / 'carol.crt'} already exists and differs" in tmux.output("carol")
            tmux.type("carol", answer, enter=True)
            if code == 1:
                tmux.wait_output("carol", "rtchat: nothing was installed")
                at_shell(tmux, "carol", 1)
                assert (identity / "carol.crt").read_text() == "an older certificate\n"
                tmux.type("carol", "clear", enter=True)
        tmux.wait_output("carol", "joined as carol")
        assert (identity / "carol.crt").read_bytes() == (
            CaFolder(ca_of(admin)).client_cert("carol").read_bytes()
        )
    finally:
        tmux.kill()
