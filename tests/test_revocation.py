"""Revocation and expiry end live sessions; nobody else notices a thing."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest

from realtimechat.errors import CertificateRejected
from realtimechat.pki import issue_client
from realtimechat.protocol import Bye, Join, Leave, Msg, SendMsg
from realtimechat.tls import ClientFiles, ServerFiles

from .support import Pki, RawPeer, ServerFactory, connect, join, receive_until


def self_signed(folder: Path, name: str) -> ClientFiles:
    """A pinned-style certificate, made the way the seed made them (but EC, for speed)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={name}",
            "-out",
            str(cert),
            "-keyout",
            str(key),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return ClientFiles(cert=cert, key=key, ca=Path())


async def test_certificate_expiring_mid_session_ends_it(
    start_server: ServerFactory, pki: Pki, server_log: pytest.LogCaptureFixture
) -> None:
    """A certificate valid for a few more seconds: its session ends with bye expired."""
    now = dt.datetime.now(dt.UTC)
    issue_client(pki.folder.root, "brief", not_after=now + dt.timedelta(seconds=3))
    server = await start_server()
    alice = await join(server, pki, "alice")
    brief = await RawPeer.open(server, pki.client("brief"))
    await brief.send(b'{"type":"hello","v":1}\n')
    seen = await brief.closed(timeout=20)
    assert seen[-1] == Bye(reason="expired")
    left = await receive_until(alice, Leave, timeout=20)
    assert (left.name, left.reason) == ("brief", "expired")
    await alice.send(SendMsg(text="unaffected"))
    assert (await receive_until(alice, Msg)).text == "unaffected"
    await alice.close()


async def test_pinned_certificate_removed_from_the_bundle_is_revoked_live(
    start_server: ServerFactory, pki: Pki, tmp_path: Path
) -> None:
    """Reload without a pinned certificate ends its session (revoked) and refuses it after."""
    pinned = self_signed(tmp_path, "pat")
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
