"""Revocation and expiry end live sessions; nobody else notices a thing."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import trustme

from realtimechat import locations
from realtimechat.client.connection import ServerConnection
from realtimechat.errors import CertificateRejected, PKIError, SessionRefused
from realtimechat.locations import user_folder as user_folder_files
from realtimechat.pki import (
    CaFolder,
    KeyType,
    create_request,
    init_ca,
    issue_client,
    read_csr,
    revoke,
    sign_request,
)
from realtimechat.protocol import Bye, Join, Leave, Msg, Ping, Pong, SendMsg, Welcome
from realtimechat.server.config import NamesMode, ServerSettings
from realtimechat.server.trust import Trust
from realtimechat.tls import ClientFiles, ServerFiles, client_context

from ..support import (
    Pki,
    RawPeer,
    ServerFactory,
    connect,
    endpoint,
    eventually,
    join,
    port_of,
    receive_until,
    seed_style,
)

BIN = Path(sys.executable).parent


@pytest.mark.protocol("1", "12.2")
async def test_certificate_expiring_mid_session_ends_it(
    start_server: ServerFactory, pki: Pki, server_log: pytest.LogCaptureFixture
) -> None:
    """A certificate that expires during the session: it ends with bye expired.

    The server's clock runs an hour ahead, less a moment: a certificate valid
    for an hour passes the handshake (OpenSSL's clock) and expires for the
    session a moment later, with no test waiting for seconds of real time.
    """
    ahead = dt.timedelta(hours=1) - dt.timedelta(seconds=0.3)
    server = await start_server(clock=lambda: dt.datetime.now(dt.UTC) + ahead)
    alice = await join(server, pki, "alice")
    now = dt.datetime.now(dt.UTC)
    issue_client(pki.folder.root, "brief", not_after=now + dt.timedelta(hours=1))
    brief = await RawPeer.open(server, pki.client("brief"))
    await brief.send(b'{"type":"hello","v":1}\n')
    seen = await brief.closed(timeout=20)
    assert seen[-1] == Bye(reason="expired")
    left = await receive_until(alice, Leave, timeout=20)
    assert (left.name, left.reason) == ("brief", "expired")
    await alice.send(SendMsg(text="unaffected"))
    assert (await receive_until(alice, Msg)).text == "unaffected"
    await alice.close()


@pytest.mark.protocol("1", "12.2")
async def test_pinned_certificate_removed_from_the_bundle_is_revoked_live(
    start_server: ServerFactory, pki: Pki, tmp_path: Path
) -> None:
    """Reload without a pinned certificate ends its session (revoked) and refuses it after."""
    pinned = seed_style(tmp_path, "pat")
    pinned = ClientFiles(cert=pinned.cert, key=pinned.key, ca=pki.folder.ca_cert)
    trust = tmp_path / "trust.pem"
    trust.write_bytes(pki.folder.ca_cert.read_bytes() + pinned.cert.read_bytes())
    files = ServerFiles(cert=pki.folder.server_cert, key=pki.folder.server_key, ca=trust)
    server = await start_server(files=files)
    alice = await join(server, pki, "alice")
    pat = await RawPeer.open(server, pinned)
    await pat.send(b'{"type":"hello","v":1}\n')
    assert (await receive_until(alice, Join)).name == "pat"

    trust.write_bytes(pki.folder.ca_cert.read_bytes())
    server.reload_tls()
    seen = await pat.closed()
    assert seen[-1] == Bye(reason="revoked")
    left = await receive_until(alice, Leave)
    assert (left.name, left.reason) == ("pat", "revoked")
    again = await connect(server, pinned)
    with pytest.raises(CertificateRejected):
        await again.hello()
    await alice.send(SendMsg(text="alice never reconnected"))
    assert (await receive_until(alice, Msg)).text == "alice never reconnected"
    await alice.close()


def fresh_ca(folder: Path, *users: str, key_type: KeyType = "ec-p256") -> Pki:
    """A CA of this test's own, so that revoking someone harms no other test."""
    root = folder / "ca"
    init_ca(root, "chatserver", ["127.0.0.1"], key_type=key_type)
    for user in users:
        issue_client(root, user, key_type=key_type)
    return Pki(folder=CaFolder(root), rogue=trustme.CA(), rogue_dir=folder)


@pytest.mark.protocol("1", "12.2")
async def test_revoked_user_is_ended_live_and_refused_after(
    start_server: ServerFactory, tmp_path: Path, server_log: pytest.LogCaptureFixture
) -> None:
    """revoke + reload: bob's session ends 'revoked', he cannot come back, alice never notices."""
    ca = fresh_ca(tmp_path, "alice", "bob")
    server = await start_server(files=ca.server)
    alice = await join(server, ca, "alice")
    bob = await RawPeer.open(server, ca.client("bob"))
    await bob.send(b'{"type":"hello","v":1}\n')
    assert (await receive_until(alice, Join)).name == "bob"

    revoke(ca.folder.root, "bob")
    server.reload_tls()
    seen = await bob.closed()
    assert seen[-1] == Bye(reason="revoked")
    left = await receive_until(alice, Leave)
    assert (left.name, left.reason) == ("bob", "revoked")

    again = await connect(server, ca.client("bob"))
    with pytest.raises(SessionRefused) as refused:
        await again.hello()
    assert refused.value.reason == "revoked"
    assert "revoked" in str(refused.value)
    assert any(
        "refused" in r.getMessage() and "reason=revoked" in r.getMessage()
        for r in server_log.records
    )
    await alice.send(SendMsg(text="same session as before"))
    assert (await receive_until(alice, Msg)).text == "same session as before"
    await alice.close()


@pytest.mark.protocol("1")
async def test_a_reload_ends_a_session_that_has_not_said_hello_yet(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    """Revoked between the handshake and hello: the reload ends it; hello never admits it."""
    ca = fresh_ca(tmp_path, "dave")
    server = await start_server(files=ca.server)
    dave = await RawPeer.open(server, ca.client("dave"))
    await dave.send(Ping(t=1.0))
    await dave.until(Pong)  # the server has a session for dave, before hello
    revoke(ca.folder.root, "dave")
    server.reload_tls()
    await dave.send(b'{"type":"hello","v":1}\n')
    seen = await dave.closed()
    assert seen[-1] == Bye(reason="revoked")
    assert not [frame for frame in seen if isinstance(frame, Welcome)]


@pytest.mark.protocol("1")
async def test_a_handshake_under_way_during_a_reload_meets_the_new_revocations(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    """Admitted before the reload, handshaking after it: the new CRL decides."""
    ca = fresh_ca(tmp_path, "dave")
    server = await start_server(files=ca.server)
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
    await eventually(lambda: server.connection_count == 1)  # admitted under the old trust
    revoke(ca.folder.root, "dave")
    server.reload_tls()
    await writer.start_tls(client_context(ca.client("dave")), server_hostname="chatserver")
    dave = RawPeer(reader, writer)
    await dave.send(b'{"type":"hello","v":1}\n')
    seen = await dave.closed()
    assert seen[-1] == Bye(reason="revoked")
    assert not [frame for frame in seen if isinstance(frame, Welcome)]


@pytest.mark.protocol("1", "5.3")
async def test_renewed_certificate_keeps_its_name(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    """A new certificate for the same CN from the same CA is the same user: the name stays."""
    ca = fresh_ca(tmp_path, "alice")
    server = await start_server(files=ca.server, settings=ServerSettings(names=NamesMode.CLAIM))
    first = await join(server, ca, "alice", name="Wonder")
    await first.close()
    revoke(ca.folder.root, "alice")
    issue_client(ca.folder.root, "alice")  # the renewal: new key, new serial
    server.reload_tls()
    renewed = await join(server, ca, "alice", name="Wonder")
    assert renewed.welcome is not None
    assert renewed.welcome.name == "Wonder"
    await renewed.close()


async def test_request_sign_and_a_passphrase_key_join(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    """The user's own key (with a passphrase) and the admin's signature make a working folder."""
    ca = fresh_ca(tmp_path)
    user_folder = tmp_path / "alice-home" / "identity"
    request = create_request(user_folder, "alice", passphrase=b"correct horse")
    sign_request(ca.folder.root, read_csr(request.csr), out_dir=user_folder)
    assert not (ca.folder.clients_dir / "alice.key").exists(), "the key never left its owner"
    files = user_folder_files(user_folder, None, None)
    server = await start_server(files=ca.server)
    with pytest.raises(PKIError, match="protected by a passphrase"):
        client_context(files)
    with pytest.raises(PKIError, match="wrong passphrase"):
        client_context(files, passphrase=lambda: "battery staple")
    connection = await ServerConnection.open(
        endpoint(server), client_context(files, passphrase=lambda: "correct horse")
    )
    welcome = await connection.hello()
    assert welcome.name == "alice"
    await connection.close()


@pytest.mark.parametrize("key_type", ["ec-p256", "ed25519", "rsa-3072", "rsa-4096"])
async def test_every_key_type_connects(
    start_server: ServerFactory, tmp_path: Path, key_type: KeyType
) -> None:
    """CA, server and client keys of each supported type make a working chat."""
    ca = fresh_ca(tmp_path, "alice", key_type=key_type)
    server = await start_server(files=ca.server)
    alice = await join(server, ca, "alice")
    await alice.send(SendMsg(text=f"hello over {key_type}"))
    assert (await receive_until(alice, Msg)).text == f"hello over {key_type}"
    await alice.close()


async def test_server_warns_about_what_runs_out_soon(
    start_server: ServerFactory, tmp_path: Path, server_log: pytest.LogCaptureFixture
) -> None:
    """At start the log says when the server certificate expires within 30 days."""
    root = tmp_path / "ca"
    init_ca(root, "chatserver", ["127.0.0.1"], server_days=10)
    ca = Pki(folder=CaFolder(root), rogue=trustme.CA(), rogue_dir=tmp_path)
    server = await start_server(files=ca.server)
    assert any("server certificate expires in" in r.getMessage() for r in server_log.records)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=28)
    warnings = server.trust.warnings(now=later)
    assert any("server certificate has expired" in w for w in warnings)
    assert any("CRL must be re-signed soon" in w for w in warnings)
    assert any(
        "CRL is past its next-update" in w
        for w in server.trust.warnings(now=later + dt.timedelta(days=5))
    )


def test_a_server_folder_without_its_crl_does_not_start(tmp_path: Path) -> None:
    """A CA-trusting folder missing crl.pem is refused (exit 1), not run with nothing revoked."""
    ca = fresh_ca(tmp_path, "bob")
    revoke(ca.folder.root, "bob")
    folder = tmp_path / "server"
    folder.mkdir()
    for name in ("ca.crt", "server.crt", "server.key"):
        shutil.copy(ca.folder.root / name, folder / name)
    done = subprocess.run(
        [str(BIN / "rtchat-server"), "--pki", str(folder), "--port", "0", "--ephemeral"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert f"{folder / 'crl.pem'} is missing" in done.stderr
    assert "revoked would be let in" in done.stderr
    shutil.copy(ca.folder.root / "crl.pem", folder / "crl.pem")
    trust = Trust.load(locations.server_files(cert=None, key=None, ca=None, pki=folder))
    assert trust.revocations is not None
    assert len(trust.revocations.serials) == 1  # bob


async def test_the_log_says_whom_the_server_trusts_and_how_many_are_revoked(
    start_server: ServerFactory, tmp_path: Path, server_log: pytest.LogCaptureFixture
) -> None:
    """At start and on each reload: the server's names, the CA, the CRL's count."""
    ca = fresh_ca(tmp_path, "bob")
    server = await start_server(files=ca.server)
    lines = [r.getMessage() for r in server_log.records]
    assert (
        "server certificate for chatserver, 127.0.0.1; trusting CA"
        " 'realtimechat CA (chatserver)'; 0 revoked in the CRL"
    ) in lines
    revoke(ca.folder.root, "bob")
    server.reload_tls()
    reloaded = [r.getMessage() for r in server_log.records if "TLS reloaded" in r.getMessage()]
    assert reloaded
    assert reloaded[-1].endswith("; 1 revoked in the CRL)")


async def test_a_ca_trusted_without_any_crl_is_warned_about(
    start_server: ServerFactory, pki: Pki, server_log: pytest.LogCaptureFixture
) -> None:
    """--cert/--key/--ca with a CA and no --crl: allowed, with a warning that says what it means."""
    files = ServerFiles(cert=pki.server.cert, key=pki.server.key, ca=pki.server.ca)
    await start_server(files=files)
    warned = [(r.levelname, r.getMessage()) for r in server_log.records]
    assert [entry for entry in warned if entry[1].startswith("no CRL")] == [
        (
            "WARNING",
            "no CRL: certificates revoked by the CA are still let in (give --crl FILE with the "
            "CA's crl.pem, or --pki with a server folder)",
        )
    ]
