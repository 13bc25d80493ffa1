"""Revocation across servers on one Redis: loaded on A, it ends the session on B.

B reads a copy of the CA files made before the revocation and looks at it
only once an hour: what ends bob's session on B is A's revocation, carried
by Redis (docs/scaling.md, "Revocation"). Redis can add refusals, never
admit anyone.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import trustme

from realtimechat.errors import SessionRefused
from realtimechat.pki import CaFolder, init_ca, issue_client, revoke
from realtimechat.protocol import Bye, Leave, Msg, SendMsg, Welcome
from realtimechat.server.app import ChatServer
from realtimechat.server.config import ServerSettings
from realtimechat.tls import ServerFiles

from ..support import Pki, RawPeer, ServerFactory, connect, join, receive_until

SETTINGS = ServerSettings(watch_interval=3600.0, presence_grace=1.0)


@pytest.fixture
def engine() -> str:
    """Every server of this module runs on the Redis engine."""
    return "redis"


def fresh_ca(folder: Path, *users: str) -> Pki:
    """A CA of this test's own, so that revoking someone harms no other test."""
    root = folder / "ca"
    init_ca(root, "chatserver", ["127.0.0.1"])
    for user in users:
        issue_client(root, user)
    return Pki(folder=CaFolder(root), rogue=trustme.CA(), rogue_dir=folder)


def stale_copy(files: ServerFiles, folder: Path) -> ServerFiles:
    """The server's files copied to ``folder`` now: later revocations do not reach them."""
    folder.mkdir()
    copies = []
    for path in (files.cert, files.key, files.ca, files.crl):
        assert path is not None
        copies.append(Path(shutil.copy2(path, folder / path.name)))
    return ServerFiles(copies[0], copies[1], copies[2], crl=copies[3])


async def two_servers(start_server: ServerFactory, ca: Pki, tmp_path: Path) -> list[ChatServer]:
    a = await start_server(files=ca.server, settings=SETTINGS)
    b = await start_server(files=stale_copy(ca.server, tmp_path / "b"), settings=SETTINGS)
    return [a, b]


@pytest.mark.protocol("12.2")
async def test_a_revocation_loaded_on_a_ends_the_session_on_b_and_b_refuses_it(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    """bob is on B only; revoked and reloaded on A: B ends him (bye revoked), alice on B
    sees him leave, revoked, and B refuses his next hello, though its own CRL is old."""
    ca = fresh_ca(tmp_path, "alice", "bob")
    a, b = await two_servers(start_server, ca, tmp_path)
    alice = await join(b, ca, "alice")
    bob = await RawPeer.open(b, ca.client("bob"))
    await bob.send(b'{"type":"hello","v":1}\n')

    revoke(ca.folder.root, "bob")
    a.reload_tls()
    seen = await bob.closed()
    assert seen[-1] == Bye(reason="revoked")
    left = await receive_until(alice, Leave)
    assert (left.name, left.reason) == ("bob", "revoked")
    assert b.trust.revocations is not None
    assert not b.trust.revocations.serials  # B's own files still revoke nobody

    again = await connect(b, ca.client("bob"))
    with pytest.raises(SessionRefused) as refused:
        await again.hello()
    assert refused.value.reason == "revoked"
    await alice.send(SendMsg(text="same session as before", ref="s"))
    assert (await receive_until(alice, Msg)).text == "same session as before"
    await alice.close()


async def test_a_server_started_with_a_newer_crl_shares_it(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    """B starts on old files; bob is revoked, and A starts afterwards on the new CRL: B
    refuses bob from then on."""
    ca = fresh_ca(tmp_path, "bob")
    stale = stale_copy(ca.server, tmp_path / "b")
    b = await start_server(files=stale, settings=SETTINGS)
    bob = await RawPeer.open(b, ca.client("bob"))  # admitted before anyone knew
    await bob.send(b'{"type":"hello","v":1}\n')
    assert await bob.until(Welcome) is not None
    revoke(ca.folder.root, "bob")
    await start_server(files=ca.server, settings=SETTINGS)
    seen = await bob.closed()
    assert seen[-1] == Bye(reason="revoked")
    again = await connect(b, ca.client("bob"))
    with pytest.raises(SessionRefused) as refused:
        await again.hello()
    assert refused.value.reason == "revoked"
