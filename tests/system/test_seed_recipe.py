"""The seed's hand-made certificates keep working (docs/certificates.md, 9).

Made exactly as the seed's README says, with the real ``openssl`` binary:
``openssl req -newkey rsa:4096 -x509 -sha256 -days 365 -nodes``. The server
trusts a bundle of the known clients' own self-signed certificates; each
client trusts the server's self-signed certificate, checked against --cn.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from realtimechat.client.connection import ServerConnection
from realtimechat.errors import CertificateRejected, ServerNameMismatch, ServerNotTrusted
from realtimechat.protocol import Msg, SendMsg
from realtimechat.server.app import ChatServer
from realtimechat.tls import ClientFiles, ServerFiles

from ..support import WAIT, ServerFactory, connect, eventually, receive_until

BIN = Path(sys.executable).parent
SEED_CERTS = {"server": "chatserver", "alice": "alice", "bob": "bob", "mallory": "mallory"}


@dataclass(frozen=True)
class SeedCerts:
    """``NAME.crt`` / ``NAME.key`` pairs from the seed's recipe, and the server's bundle."""

    root: Path

    def crt(self, name: str) -> Path:
        return self.root / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.root / f"{name}.key"

    @property
    def bundle(self) -> Path:
        """alice.crt and bob.crt, concatenated: the clients the server knows."""
        return self.root / "bundle.pem"

    @property
    def server(self) -> ServerFiles:
        return ServerFiles(cert=self.crt("server"), key=self.key("server"), ca=self.bundle)

    def client(self, name: str, *, trust: str = "server") -> ClientFiles:
        return ClientFiles(cert=self.crt(name), key=self.key(name), ca=self.crt(trust))


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> SeedCerts:
    """The seed's four certificates, made once (RSA-4096 keys, generated in parallel)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the seed's recipe needs the openssl binary")
    certs = SeedCerts(tmp_path_factory.mktemp("seed"))
    running = [
        subprocess.Popen(
            [
                openssl,
                *("req", "-newkey", "rsa:4096", "-x509", "-sha256", "-days", "365", "-nodes"),
                *("-out", str(certs.crt(name)), "-keyout", str(certs.key(name))),
                *("-subj", f"/CN={cn}"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for name, cn in SEED_CERTS.items()
    ]
    try:
        for process in running:
            _, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
    finally:
        for process in running:
            if process.poll() is None:
                process.kill()
                process.wait()
    certs.bundle.write_bytes(certs.crt("alice").read_bytes() + certs.crt("bob").read_bytes())
    return certs


def openssl_fingerprint(path: Path) -> str:
    """The SHA-256 fingerprint as the openssl binary computes it, lowercase hex."""
    out = subprocess.run(
        ["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    return out.strip().partition("=")[2].replace(":", "").lower()


async def join_seed(server: ChatServer, seed: SeedCerts, name: str) -> ServerConnection:
    connection = await connect(server, seed.client(name))
    welcome = await connection.hello()
    assert welcome.name == name  # the name is the certificate's CN
    return connection


def refusals(log: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in log.records if r.getMessage().startswith("refused ")]


# -- in process ------------------------------------------------------------------


@pytest.mark.protocol("1", "6.3")
async def test_seed_clients_join_and_exchange_a_message(
    start_server: ServerFactory, seed: SeedCerts
) -> None:
    """Alice and bob, pinned in the server's bundle, join under their CNs and chat."""
    server = await start_server(files=seed.server)
    alice = await join_seed(server, seed, "alice")
    bob = await join_seed(server, seed, "bob")

    await alice.send(SendMsg(text="made with openssl req -x509", ref="r1"))
    for connection in (bob, alice):
        msg = await receive_until(connection, Msg)
        assert (msg.from_, msg.text) == ("alice", "made with openssl req -x509")
    await bob.send(SendMsg(text="me too", ref="r1"))
    for connection in (alice, bob):
        msg = await receive_until(connection, Msg)
        assert (msg.from_, msg.text) == ("bob", "me too")
    await alice.close()
    await bob.close()


@pytest.mark.protocol("1")
async def test_a_pinned_certificate_is_identified_by_its_fingerprint(
    start_server: ServerFactory, seed: SeedCerts
) -> None:
    """The server knows a seed client as pinned, keyed by its certificate's SHA-256."""
    server = await start_server(files=seed.server)
    alice = await join_seed(server, seed, "alice")
    bob = await join_seed(server, seed, "bob")
    await eventually(lambda: len(server.hub.sessions) == 2)

    identities = {session.name: session.identity for session in server.hub.sessions}
    for name in ("alice", "bob"):
        identity = identities[name]
        assert identity is not None
        assert identity.pinned is True
        assert identity.cn == name
        assert identity.fingerprint == openssl_fingerprint(seed.crt(name))
        assert identity.key == f"pin:{identity.fingerprint}"
    await alice.close()
    await bob.close()


@pytest.mark.protocol("1")
async def test_an_unlisted_self_signed_client_is_refused(
    start_server: ServerFactory, seed: SeedCerts, server_log: pytest.LogCaptureFixture
) -> None:
    """Mallory's self-signed certificate is not in the bundle: refused, and the log says why."""
    server = await start_server(files=seed.server)
    mallory = await connect(server, seed.client("mallory"))
    with pytest.raises(CertificateRejected, match="did not accept our certificate"):
        await mallory.hello()
    await eventually(lambda: bool(refusals(server_log)))
    (line,) = refusals(server_log)
    assert re.search(r'reason="certificate verify failed: self.signed certificate"', line), line
    assert server.hub.sessions == []


@pytest.mark.protocol("1")
async def test_the_server_certificate_is_checked_against_cn(
    start_server: ServerFactory, seed: SeedCerts
) -> None:
    """The right server certificate under another --cn fails the name check."""
    server = await start_server(files=seed.server)
    with pytest.raises(ServerNameMismatch, match="not for 'otherserver'"):
        await connect(server, seed.client("alice"), cn="otherserver")


async def test_a_client_trusting_another_certificate_refuses_the_server(
    start_server: ServerFactory, seed: SeedCerts
) -> None:
    """A client whose --ca is some other self-signed certificate does not trust the server."""
    server = await start_server(files=seed.server)
    with pytest.raises(ServerNotTrusted, match="not trusted"):
        await connect(server, seed.client("alice", trust="bob"))


# -- the console commands ----------------------------------------------------------


def wait_for_line(path: Path, pattern: str, *, timeout: float = WAIT) -> re.Match[str]:
    """Poll a process's output file until a line matches ``pattern``."""
    deadline = time.monotonic() + timeout
    while True:
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        match = re.search(pattern, text, re.MULTILINE)
        if match is not None:
            return match
        if time.monotonic() > deadline:
            pytest.fail(
                f"no line matching {pattern!r} in {path.name} within {timeout:g} s:\n{text}"
            )
        time.sleep(0.02)  # polling a file for a condition, bounded by the deadline


Popen = Callable[..., "subprocess.Popen[bytes]"]


@pytest.fixture
def popen() -> Iterator[Popen]:
    """Start processes (``subprocess.Popen``); all still running after the test are killed."""
    started: list[subprocess.Popen[bytes]] = []

    def start(args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(args, **kwargs)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(WAIT)
        if process.stdin is not None:
            process.stdin.close()


@pytest.mark.parametrize("trust_option", ["--pins", "--ca"])
def test_seed_certificates_with_the_console_commands(
    seed: SeedCerts, tmp_path: Path, popen: Popen, trust_option: str
) -> None:
    """rtchat-server --cert/--key/--pins bundle and rtchat --plain with seed files exchange a
    line; the bundle given as --ca, as before --pins existed, is read as pins, and the log
    says so."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("RTCHAT")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    server_err = tmp_path / "server.err"
    bob_out = tmp_path / "bob.out"
    with server_err.open("wb") as err:
        popen(
            [
                str(BIN / "rtchat-server"),
                *("--host", "127.0.0.1", "--port", "0"),
                *("--cert", str(seed.crt("server")), "--key", str(seed.key("server"))),
                *(trust_option, str(seed.bundle)),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
        )
    port = wait_for_line(server_err, r"listening on 127\.0\.0\.1:(\d+)").group(1)

    def client(name: str) -> list[str]:
        return [
            str(BIN / "rtchat"),
            *("--host", "127.0.0.1", "--port", port, "--cn", "chatserver"),
            *("--cert", str(seed.crt(name)), "--key", str(seed.key(name))),
            *("--ca", str(seed.crt("server")), "--plain", "--wait", "5"),
        ]

    with bob_out.open("wb") as out:
        bob = popen(client("bob"), stdin=subprocess.PIPE, stdout=out, stderr=out, env=env)
    wait_for_line(bob_out, r"^\d\d:\d\d -- joined as bob\b")

    alice = subprocess.run(
        client("alice"),
        input="hello from the seed\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert alice.returncode == 0, alice.stderr
    assert re.search(r"^\d\d:\d\d alice: hello from the seed$", alice.stdout, re.MULTILINE)
    wait_for_line(bob_out, r"^\d\d:\d\d alice: hello from the seed$")

    assert bob.stdin is not None
    bob.stdin.close()
    assert bob.wait(WAIT) == 0
    wait_for_line(server_err, r"joined peer=127\.0\.0\.1:\d+ cn=alice .*name=alice")
    wait_for_line(server_err, r"trusting no CA, 2 pinned certificates \('alice', 'bob'\); no CRL")
    given_alone = "was given alone and holds certificates that no CA here vouches for"
    assert (given_alone in server_err.read_text()) == (trust_option == "--ca")
