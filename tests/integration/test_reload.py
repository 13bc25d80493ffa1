"""SIGHUP's job: new trust and certificates for new connections, live sessions untouched."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from realtimechat.client.connection import ServerConnection
from realtimechat.errors import CertificateRejected
from realtimechat.pki import issue_client, revoke, server_bundle
from realtimechat.protocol import Msg, SendMsg
from realtimechat.server.app import ChatServer
from realtimechat.server.config import ServerSettings
from realtimechat.tls import ServerFiles

from ..support import Pki, ServerFactory, connect, eventually, join, receive_until


def files_with_own_trust(pki: Pki, trust: Path) -> ServerFiles:
    """The test PKI's server files, trusting a copy of its CA that a test may rewrite.

    An empty --pins file says that --ca holds CAs only: a second CA added to
    it (one that neither issued the server's certificate nor signed its CRL)
    is then a CA, not read as a pinned certificate.
    """
    shutil.copy(pki.folder.ca_cert, trust)
    pins = trust.with_name("pins.pem")
    pins.write_bytes(b"")
    return ServerFiles(cert=pki.folder.server_cert, key=pki.folder.server_key, ca=trust, pins=pins)


async def newly_trusted_user_is_heard(
    server: ChatServer, pki: Pki, listener: ServerConnection, text: str
) -> None:
    """mallory, from the CA just added to the trust file, joins and ``listener`` hears her."""
    mallory = await connect(server, pki.rogue_client())
    assert (await mallory.hello()).name == "mallory"
    await mallory.send(SendMsg(text=text))
    assert (await receive_until(listener, Msg)).text == text
    await mallory.close()


async def test_reload_swaps_trust_for_new_connections_only(
    start_server: ServerFactory, pki: Pki, tmp_path: Path, server_log: pytest.LogCaptureFixture
) -> None:
    """After reload, a newly trusted CA's client gets in; a session from before keeps going."""
    trust = tmp_path / "trust.pem"
    server = await start_server(files=files_with_own_trust(pki, trust))
    alice = await join(server, pki, "alice")

    stranger = await connect(server, pki.rogue_client())
    with pytest.raises(CertificateRejected):
        await stranger.hello()

    trust.write_bytes(pki.folder.ca_cert.read_bytes() + pki.rogue.cert_pem.bytes())
    server.reload_tls()
    assert any("TLS reloaded" in r.getMessage() for r in server_log.records)

    await newly_trusted_user_is_heard(server, pki, alice, "hello from the new CA")
    await alice.close()


async def test_failed_reload_keeps_the_old_certificates(
    start_server: ServerFactory, pki: Pki, tmp_path: Path, server_log: pytest.LogCaptureFixture
) -> None:
    """A broken trust file on reload is logged, and the server goes on with the old one."""
    trust = tmp_path / "trust.pem"
    server = await start_server(files=files_with_own_trust(pki, trust))
    trust.write_text("not a certificate\n")
    server.reload_tls()
    assert any("TLS reload failed" in r.getMessage() for r in server_log.records)
    alice = await join(server, pki, "alice")
    assert alice.welcome is not None
    await alice.close()


async def test_changed_files_are_reloaded_without_a_signal(
    start_server: ServerFactory, pki: Pki, tmp_path: Path, server_log: pytest.LogCaptureFixture
) -> None:
    """Watching the files: a broken write fails once (not at every look), the fix is loaded."""
    trust = tmp_path / "trust.pem"
    server = await start_server(
        files=files_with_own_trust(pki, trust), settings=ServerSettings(watch_interval=0.02)
    )

    def logged(text: str) -> int:
        return sum(text in r.getMessage() for r in server_log.records)

    trust.write_text("not a certificate\n")
    await eventually(lambda: logged("TLS reload failed") == 1)
    assert logged("(read again when they change)") == 1
    await asyncio.sleep(0.3)  # some fifteen more looks at the same broken file
    assert logged("TLS reload failed") == 1
    alice = await join(server, pki, "alice")  # the old trust is still in force

    trust.write_bytes(pki.folder.ca_cert.read_bytes() + pki.rogue.cert_pem.bytes())
    await eventually(lambda: logged("TLS reloaded") == 1)
    assert logged("certificate files changed on disk") == 2
    await newly_trusted_user_is_heard(server, pki, alice, "let in without a SIGHUP")
    await alice.close()


async def test_a_sighup_reload_is_not_repeated_by_the_watch(
    start_server: ServerFactory, pki: Pki, tmp_path: Path, server_log: pytest.LogCaptureFixture
) -> None:
    """Files already reloaded by a signal are not reloaded again when the watch looks."""
    trust = tmp_path / "trust.pem"
    server = await start_server(
        files=files_with_own_trust(pki, trust), settings=ServerSettings(watch_interval=0.02)
    )
    trust.write_bytes(pki.folder.ca_cert.read_bytes() + pki.rogue.cert_pem.bytes())
    server.reload_tls()
    await asyncio.sleep(0.3)  # some fifteen looks
    assert not any("changed on disk" in r.getMessage() for r in server_log.records)
    assert sum("TLS reloaded" in r.getMessage() for r in server_log.records) == 1


async def test_files_still_changing_are_not_read_until_they_stay_put(
    start_server: ServerFactory, pki: Pki, tmp_path: Path, server_log: pytest.LogCaptureFixture
) -> None:
    """A file rewritten between every two looks (a slow copy) is left alone until it settles.

    Deterministic on a loaded machine too: the writer's timers are due
    before the watch's next look, and one loop runs both in deadline order.
    """
    trust = tmp_path / "trust.pem"
    server = await start_server(
        files=files_with_own_trust(pki, trust), settings=ServerSettings(watch_interval=0.1)
    )
    contents = [
        pki.folder.ca_cert.read_bytes() + pki.rogue.cert_pem.bytes(),
        pki.folder.ca_cert.read_bytes() + pki.rogue.cert_pem.bytes() + b"\n",
    ]
    loop = asyncio.get_running_loop()
    until = loop.time() + 0.6  # six looks
    writes = 0
    while loop.time() < until:
        trust.write_bytes(contents[writes % 2])  # a different size at every write
        writes += 1
        await asyncio.sleep(0.01)
    assert not any(
        "changed on disk" in r.getMessage() or "TLS reload" in r.getMessage()
        for r in server_log.records
    )

    def reloaded() -> int:
        return sum("TLS reloaded" in r.getMessage() for r in server_log.records)

    await eventually(lambda: reloaded() == 1)
    alice = await join(server, pki, "alice")
    await newly_trusted_user_is_heard(server, pki, alice, "read once it stayed put")
    await alice.close()
    assert reloaded() == 1


async def test_a_newer_crl_in_a_subfolder_is_warned_about_once_per_change(
    start_server: ServerFactory, ca_root: Path, tmp_path: Path, server_log: pytest.LogCaptureFixture
) -> None:
    """`scp -r` run twice nests the folder: the newer crl.pem there is named, once per change.

    The server cannot know which CRL is meant, so it keeps its own and says
    where the newer one is and how to put it in place.
    """
    issue_client(ca_root, "carol")
    folder = tmp_path / "server"
    server_bundle(ca_root, folder)
    files = ServerFiles(
        cert=folder / "server.crt",
        key=folder / "server.key",
        ca=folder / "ca.crt",
        crl=folder / "crl.pem",
    )
    await start_server(files=files, settings=ServerSettings(watch_interval=0.02))

    def warned() -> list[str]:
        return [r.getMessage() for r in server_log.records if "newer CRL" in r.getMessage()]

    await asyncio.sleep(0.1)
    assert warned() == []  # nothing nested yet
    revoke(ca_root, "carol")
    server_bundle(ca_root, folder / "server-folder")  # the second `scp -rp server-folder ...`
    nested = folder / "server-folder" / "crl.pem"
    await eventually(lambda: len(warned()) == 1)
    assert warned()[0] == (
        f"{nested} is a newer CRL (number 2, 1 revoked) than the one in use, "
        f"{folder / 'crl.pem'} (number 1, 0 revoked): a copy went into a subfolder? The "
        f"server reads {folder / 'crl.pem'} only: `cp -p {nested} {folder / 'crl.pem'}` "
        "(and copy a server folder's contents, `scp -p DIR/* HOST:.config/rtchat/server/`)"
    )
    await asyncio.sleep(0.3)  # some fifteen more looks at the same files
    assert len(warned()) == 1
    issue_client(ca_root, "dave")
    revoke(ca_root, "dave")
    server_bundle(ca_root, folder / "server-folder", force=True)
    await eventually(lambda: len(warned()) == 2)
    shutil.copy2(nested, folder / "crl.pem")  # put in place: it is the one in use, no warning
    await eventually(lambda: any("TLS reloaded" in r.getMessage() for r in server_log.records))
    await asyncio.sleep(0.3)
    assert len(warned()) == 2
