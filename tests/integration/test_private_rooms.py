"""Private rooms whose door is the certificate: groups, the room file, reloads, revocation."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from realtimechat.client.connection import Endpoint, ServerConnection
from realtimechat.errors import SessionRefused
from realtimechat.pki import CaFolder, issue_client, load_certificate, revoke
from realtimechat.pki.groups import GROUP_URN
from realtimechat.protocol import (
    Error,
    Frame,
    HistoryEnd,
    Joined,
    JoinRoom,
    Leave,
    ListRooms,
    Msg,
    Parted,
    RoomList,
    SendMsg,
)
from realtimechat.server.app import ChatServer
from realtimechat.server.config import ServerSettings
from realtimechat.server.store import MemoryStore
from realtimechat.tls import ClientFiles, ServerFiles, client_context

from ..support import (
    WAIT,
    Pki,
    ServerFactory,
    ServerProcess,
    endpoint,
    eventually,
    receive_until,
)

pytestmark = pytest.mark.protocol("6.5", "6.5.7")

ROOMS = """
[rooms."#ops"]
allow = ["group:ops", "alice"]
topic = "on call"

[rooms."#dev"]
allow = ["group:dev"]
"""

Arrive = Callable[[str], Awaitable[ServerConnection]]


@pytest.fixture
def team(ca_root: Path) -> CaFolder:
    """A CA whose users carry groups: bob (ops, dev), carol (dev), alice and dave (none)."""
    issue_client(ca_root, "alice")
    issue_client(ca_root, "bob", groups=["ops", "dev"])
    issue_client(ca_root, "carol", groups=["dev"])
    issue_client(ca_root, "dave")
    return CaFolder(ca_root)


def files_of(team: CaFolder) -> ServerFiles:
    return ServerFiles(cert=team.server_cert, key=team.server_key, ca=team.ca_cert, crl=team.crl)


@pytest.fixture
def rooms_file(tmp_path: Path) -> Path:
    path = tmp_path / "rooms.toml"
    path.write_text(ROOMS)
    return path


@pytest.fixture
async def server(start_server: ServerFactory, team: CaFolder, rooms_file: Path) -> ChatServer:
    """A server of ``team``'s CA with the room file, looking at its files every 0.1 s."""
    settings = ServerSettings(rooms_file=rooms_file, watch_interval=0.1)
    return await start_server(settings=settings, files=files_of(team), store=MemoryStore())


@pytest.fixture
async def arrive(server: ChatServer, team: CaFolder) -> AsyncIterator[Arrive]:
    """Connect as a user of ``team``, past the replay after welcome; all closed after."""
    connections: list[ServerConnection] = []

    async def come(user: str) -> ServerConnection:
        files = ClientFiles(team.client_cert(user), team.client_key(user), team.ca_cert)
        connection = await ServerConnection.open(
            endpoint(server), client_context(files), timeout=WAIT
        )
        await connection.hello()
        connections.append(connection)
        await until(connection, HistoryEnd)
        return connection

    yield come
    for connection in connections:
        await connection.close()


def rewrite(path: Path, text: str) -> None:
    """Change the room file as an operator would (the server notices by itself)."""
    path.write_text(text)


async def until(connection: ServerConnection, kind: type[Frame]) -> list[Frame]:
    seen: list[Frame] = []
    async with asyncio.timeout(WAIT):
        while not seen or not isinstance(seen[-1], kind):
            seen.append(await connection.receive())
    return seen


async def listed(connection: ServerConnection) -> list[str]:
    await connection.send(ListRooms())
    return [room.name for room in (await receive_until(connection, RoomList)).rooms]


async def test_a_group_in_the_certificate_opens_the_door(arrive: Arrive) -> None:
    """group:ops enters #ops; a name in allow does too; anyone else gets no_such_room."""
    bob, alice, carol = await arrive("bob"), await arrive("alice"), await arrive("carol")
    await bob.send(JoinRoom(room="#ops"))
    joined = await receive_until(bob, Joined)
    assert (joined.room, joined.topic) == ("#ops", "on call")
    await alice.send(JoinRoom(room="#OPS"))
    assert (await receive_until(alice, Joined)).room == "#ops"
    await carol.send(JoinRoom(room="#ops"))
    error = await receive_until(carol, Error)
    assert error.code == "no_such_room"
    await carol.send(SendMsg(text="peek", room="#ops", ref="p"))
    assert (await receive_until(carol, Error)).code == "no_such_room"
    assert await listed(carol) == ["#dev"]  # #ops is not even named to carol
    assert await listed(bob) == ["#dev", "#ops"]
    await bob.send(JoinRoom(room="#lounge"))  # not in the room file: anyone may enter
    await receive_until(bob, Joined)
    await bob.send(ListRooms())
    entries = (await receive_until(bob, RoomList)).rooms
    assert [(room.name, room.private) for room in entries] == [
        ("#dev", True),
        ("#lounge", False),
        ("#ops", True),
    ]


async def test_leaving_the_room_file_parts_the_member_within_seconds(
    arrive: Arrive, rooms_file: Path
) -> None:
    """Removing group:ops from the file parts bob (not_allowed); alice, by name, stays."""
    bob, alice = await arrive("bob"), await arrive("alice")
    for each in (bob, alice):
        await each.send(JoinRoom(room="#ops"))
        await receive_until(each, Joined)
    rewrite(rooms_file, ROOMS.replace('"group:ops", ', ""))
    parted = await receive_until(bob, Parted, timeout=5)
    assert (parted.room, parted.reason) == ("#ops", "not_allowed")
    leave = await receive_until(alice, Leave, timeout=5)
    assert (leave.name, leave.room, leave.reason) == ("bob", "#ops", "not_allowed")
    await bob.send(SendMsg(text="still?", room="#ops", ref="s"))
    assert (await receive_until(bob, Error)).code == "no_such_room"
    await bob.send(JoinRoom(room="#dev"))  # his other group still works
    assert (await receive_until(bob, Joined)).room == "#dev"


async def test_a_revoked_member_loses_every_room(
    server: ChatServer, arrive: Arrive, team: CaFolder
) -> None:
    """Revoking bob's certificate ends his session and parts him from all his rooms."""
    bob, alice, carol = await arrive("bob"), await arrive("alice"), await arrive("carol")
    for each, room in ((bob, "#ops"), (bob, "#dev"), (alice, "#ops"), (carol, "#dev")):
        await each.send(JoinRoom(room=room))
        await receive_until(each, Joined)
    revoke(team.root, "bob")
    with pytest.raises(SessionRefused) as ended:
        await until(bob, Msg)
    assert ended.value.reason == "revoked"
    for each, room in ((alice, "#ops"), (carol, "#dev")):
        leave = await receive_until(each, Leave, timeout=5)
        assert (leave.name, leave.room, leave.reason) == ("bob", room, "revoked")
    assert server.hub.rooms.rooms_of(bob_key(team)) == []


def bob_key(team: CaFolder) -> str:
    issuer = load_certificate(team.ca_cert).subject.rfc4514_string()
    return f"ca:{issuer}/bob"


async def test_an_offline_member_the_file_no_longer_admits_is_parted_when_it_comes(
    server: ChatServer, arrive: Arrive, rooms_file: Path
) -> None:
    """The door closed while carol was away: her welcome lists no #dev; the room is told."""
    carol, bob = await arrive("carol"), await arrive("bob")
    for each in (carol, bob):
        await each.send(JoinRoom(room="#dev"))
        await receive_until(each, Joined)
    await carol.close()
    before = server.room_file
    rewrite(rooms_file, ROOMS.replace('allow = ["group:dev"]', 'allow = ["bob"]'))
    await eventually(lambda: server.room_file is not before)  # reloaded by itself
    carol = await arrive("carol")
    assert carol.welcome is not None
    assert carol.welcome.rooms is None
    leave = await receive_until(bob, Leave)
    while leave.room is None:  # carol left the lobby (quit) and came back first
        leave = await receive_until(bob, Leave)
    assert (leave.name, leave.room, leave.reason) == ("carol", "#dev", "not_allowed")


async def test_a_pinned_certificate_brings_no_group(
    start_server: ServerFactory, team: CaFolder, rooms_file: Path, tmp_path: Path
) -> None:
    """A self-signed certificate claiming urn:rtchat:group:ops is let in, but not into #ops."""
    pinned = self_signed_with_group(tmp_path, "mallory", "ops", team.ca_cert)
    pins = tmp_path / "pins.pem"
    pins.write_bytes(pinned.cert.read_bytes())
    files = ServerFiles(cert=team.server_cert, key=team.server_key, ca=team.ca_cert, pins=pins)
    server = await start_server(
        settings=ServerSettings(rooms_file=rooms_file), files=files, store=MemoryStore()
    )
    connection = await ServerConnection.open(endpoint(server), client_context(pinned), timeout=WAIT)
    await connection.hello()
    assert server.hub.sessions[0].identity is not None
    assert server.hub.sessions[0].identity.pinned
    await connection.send(JoinRoom(room="#ops"))
    assert (await receive_until(connection, Error)).code == "no_such_room"
    await connection.close()


def self_signed_with_group(folder: Path, cn: str, group: str, ca: Path) -> ClientFiles:
    """A self-signed client certificate whose SAN claims ``group`` (as only a CA may)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(GROUP_URN + group)]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{cn}.crt", folder / f"{cn}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ClientFiles(cert=cert_path, key=key_path, ca=ca)


@pytest.mark.system  # a real rtchat-server process, signalled
async def test_sighup_reloads_the_room_file(pki: Pki, tmp_path: Path) -> None:
    """With no file watch, SIGHUP alone applies a changed room file: bob is parted."""
    rooms = tmp_path / "rooms.toml"
    rewrite(rooms, '[rooms."#ops"]\nallow = ["alice", "bob"]\n')
    server = ServerProcess(
        pki, tmp_path, extra=["--rooms", str(rooms), "--watch-interval", "0", "--no-room-create"]
    )
    bob = await ServerConnection.open(
        Endpoint(host="127.0.0.1", port=server.port, cn="chatserver"),
        client_context(pki.client("bob")),
        timeout=WAIT,
    )
    try:
        await bob.hello()
        await bob.send(JoinRoom(room="#new"))
        assert (await receive_until(bob, Error)).code == "no_such_room"
        await bob.send(JoinRoom(room="#ops"))
        await receive_until(bob, Joined)
        rewrite(rooms, '[rooms."#ops"]\nallow = ["alice"]\n')
        server.process.send_signal(signal.SIGHUP)
        parted = await receive_until(bob, Parted)
        assert (parted.room, parted.reason) == ("#ops", "not_allowed")
        assert "rooms reloaded: 1 rooms" in server.log_text()
    finally:
        await bob.close()
        server.stop()
