"""``rtchat-server check``: load what the server would, say what is wrong, change nothing.

The checks run in the order of ``checks.Check``, each giving one line or
more (a check with a problem gives a line per problem and no OK line). A
check that cannot run because an earlier one failed (no key check without
the files) gives none. Nothing is created, opened for writing or changed:
the data folder and the store are looked at, the store is opened read-only,
and the port is bound and closed at once.

The server itself runs the certificate checks (``Trust.findings``) at start
and refuses to start on a FAIL; the data folder, store, port and room file
it checks by using them, with the same errors.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import sqlite3
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509

from .. import locations
from ..errors import ConfigError
from ..pki import load_crl
from ..tls import ServerFiles, check_key_pair
from . import checks, metrics
from .checks import Check, Finding, Level
from .folderlock import LOCK_FILE, _holder
from .listener import cannot_listen, listening_sockets
from .roomfile import RoomFile
from .store import FOLDER_MODE, SCHEMA_VERSION

# Trust.load's steps, one at a time, so that each failure is named by its check.
from .trust import Trust, _read_anchors, _read_certificates, _revocations


@dataclass(frozen=True, slots=True)
class Plan:
    """What ``rtchat-server`` was told: the options ``check`` looks at."""

    cert: Path | None = None
    key: Path | None = None
    ca: Path | None = None
    pins: Path | None = None
    crl: Path | None = None
    pki: Path | None = None
    hosts: tuple[str, ...] = ()
    port: int | None = None
    data: Path | None = None  # None: the per-user data folder
    ephemeral: bool = False
    rooms_file: Path | None = None
    max_topic_chars: int = 200
    tls13_only: bool = False
    metrics: tuple[str, int] | None = None  # --metrics, parsed


def run(plan: Plan, now: dt.datetime | None = None) -> list[Finding]:
    """Every finding, in check order."""
    now = now or dt.datetime.now(dt.UTC)
    found = certificates(plan, now)
    found += storage(plan)
    found.append(port(plan.hosts, plan.port))
    found.append(
        metrics_port(*plan.metrics) if plan.metrics else checks.ok(Check.METRICS, NO_METRICS)
    )
    found.append(rooms(plan.rooms_file, plan.max_topic_chars))
    return checks.in_check_order(found)


# ----------------------------------------------------------------------
# Certificates, trust and CRL


def certificates(plan: Plan, now: dt.datetime) -> list[Finding]:
    """files, key, chain, names, crl, expiry, modes and tls: as Trust.load would find them."""
    try:
        files = locations.server_files(
            cert=plan.cert, key=plan.key, ca=plan.ca, pki=plan.pki, crl=plan.crl, pins=plan.pins
        )
    except ConfigError as exc:
        return [checks.fail(Check.FILES, str(exc))]
    found = [checks.ok(Check.FILES, _files(files))]
    try:
        check_key_pair(files.cert, files.key)
        server = _read_certificates(files.cert, "server certificate")[0]
    except ConfigError as exc:
        return [*found, checks.fail(Check.KEY, str(exc))]
    found.append(checks.ok(Check.KEY, f"{files.key} is the key of {files.cert}"))
    found += _parts(files, server, now)
    if any(f.level is Level.FAIL and f.check in (Check.CHAIN, Check.CRL) for f in found):
        return found  # Trust.load would stop at the same problem: said once is enough
    try:
        trust = Trust.load(files, tls13_only=plan.tls13_only)
    except ConfigError as exc:
        return [*found, checks.fail(Check.TLS, str(exc))]
    versions = "TLS 1.3 only" if plan.tls13_only else "TLS 1.2 and 1.3"
    return [
        *found[:2],
        *trust.findings(now),
        checks.ok(Check.TLS, f"the server's TLS context loads ({versions}, client certificates)"),
    ]


def _files(files: ServerFiles) -> str:
    named = [("certificate", files.cert), ("key", files.key), ("CA", files.ca)]
    named += [("pins", files.pins), ("CRL", files.crl)]
    return ", ".join(f"{what} {path}" for what, path in named if path is not None)


def _parts(files: ServerFiles, server: x509.Certificate, now: dt.datetime) -> list[Finding]:
    """What Trust.load reads, a step at a time, so that a failure is named by its check.

    Only the FAILs and what the loaded trust cannot say are kept when it
    loads: ``Trust.findings`` then says the rest.
    """
    found = [checks.names(server), checks.key_mode(files.key)]
    crl = None
    if files.crl is not None and files.crl.exists():
        try:
            crl = load_crl(files.crl)
        except ConfigError as exc:
            return [*found, checks.fail(Check.CRL, str(exc))]
    try:
        cas, pins, _ = _read_anchors(files, server, crl)
    except ConfigError as exc:
        return [*found, checks.fail(Check.CHAIN, str(exc))]
    found += checks.chain(server, cas, pins)
    named = [("server certificate", server)] + [
        (f"CA certificate {checks.cn_of(ca)!r}", ca) for ca in cas
    ]
    found += checks.expiry(named, now)
    try:
        _revocations(files.crl, crl, cas)
    except ConfigError as exc:
        found.append(checks.fail(Check.CRL, str(exc)))
    return found


# ----------------------------------------------------------------------
# The data folder and the store


def storage(plan: Plan) -> list[Finding]:
    """The data folder and the message store, as ``SqliteStore.open`` would find them."""
    if plan.ephemeral:
        said = "--ephemeral: nothing is kept on disk"
        return [checks.ok(Check.DATA, said), checks.ok(Check.STORE, f"{said}, history in memory")]
    folder = plan.data or locations.data_dir()
    found = data_folder(folder)
    if found.level is Level.FAIL:
        return [found]
    return [found, store(folder / "messages.db")]


def data_folder(folder: Path) -> Finding:
    """There (or can be made), writable, and private; never created here."""
    if not folder.exists():
        return _to_be_made(folder)
    if not folder.is_dir():
        return checks.fail(Check.DATA, f"{folder} is not a folder (give --data DIR)")
    if not os.access(folder, os.W_OK | os.X_OK):
        return checks.fail(Check.DATA, f"{folder} is not writable by this user")
    mode = stat.S_IMODE(folder.stat().st_mode)
    if mode & 0o077:
        return checks.warn(
            Check.DATA,
            f"{folder} is open to {'other users' if mode & 0o007 else 'its group'}"
            f" (mode {mode:04o}): the server keeps its files in it private (0600), but"
            f" others see their names and sizes; run `chmod 700 {folder}`",
        )
    holder = _in_use_by(folder)
    if holder is not None:
        return checks.warn(
            Check.DATA,
            f"a server{holder} is using {folder} now: another one would not start beside it"
            " (stop it first, or restart it)",
        )
    return checks.ok(Check.DATA, f"{folder} is writable and private (mode {mode:04o})")


def _to_be_made(folder: Path) -> Finding:
    """A missing data folder: the server makes it if it can (mode 0700)."""
    parent = next((p for p in folder.parents if p.exists()), None)
    if parent is None or not os.access(parent, os.W_OK | os.X_OK):
        return checks.fail(
            Check.DATA,
            f"{folder} does not exist and cannot be created: {parent} is not"
            " writable by this user (give --data DIR)",
        )
    return checks.ok(
        Check.DATA,
        f"{folder} does not exist yet: the server will create it (mode {FOLDER_MODE:04o})",
    )


def _in_use_by(folder: Path) -> str | None:
    """`` (pid N)`` (or ``""``) if a server holds the folder's lock (folderlock.py), else None.

    Probed with a non-blocking lock, let go at once; a missing lock file means
    no server ever ran here, and is not created.
    """
    try:
        fd = os.open(folder / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _holder(fd)  # read before the finally closes it
    except OSError:  # no flock here: cannot tell, so say nothing
        return None
    finally:
        os.close(fd)  # drops our lock, if we got it
    return None


def store(database: Path) -> Finding:
    """Opens read-only, and holds a schema this version reads (or upgrades)."""
    if not database.exists():
        return checks.ok(
            Check.STORE,
            f"{database} does not exist yet: the server will create it (schema {SCHEMA_VERSION})",
        )
    try:
        inspected = _inspect(database)
    except (sqlite3.Error, OSError, ValueError) as exc:
        return checks.fail(Check.STORE, f"cannot use the message store {database}: {exc}")
    if inspected is None:
        return checks.ok(
            Check.STORE,
            f"{database} holds no tables yet: the server will create them"
            f" (schema {SCHEMA_VERSION})",
        )
    version, last = inspected
    if version > SCHEMA_VERSION:
        return checks.fail(
            Check.STORE,
            f"cannot use the message store {database}: schema version {version} is newer than"
            f" this rtchat-server reads ({SCHEMA_VERSION})",
        )
    upgrade = (
        f" (the server will upgrade it to {SCHEMA_VERSION})" if version < SCHEMA_VERSION else ""
    )
    mode = stat.S_IMODE(database.stat().st_mode)
    if mode & 0o077:
        return checks.warn(
            Check.STORE,
            f"{database} is open to other users (mode {mode:04o}): the server makes it 0600 at"
            " start",
        )
    return checks.ok(Check.STORE, f"{database}: schema {version}{upgrade}, last message id {last}")


def _inspect(database: Path) -> tuple[int, int] | None:
    """The schema version and the last message id, read without writing anything.

    None for a database with no tables (an empty file, as the server leaves
    one it created and did not get to fill): the server sets it up.
    """
    db = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
    try:
        if db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is None:
            return None
        row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None:
            raise ValueError("it has no schema version")
        last = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").fetchone()
        return int(row[0]), (last[0] if last else 0)
    finally:
        db.close()


# ----------------------------------------------------------------------
# The port and the room file


def port(hosts: Iterable[str], number: int | None) -> Finding:
    """Bind ``number`` on each host (every interface if none) and close at once."""
    if number is None:
        return checks.warn(
            Check.PORT,
            "no --port (or RTCHAT_SERVER_PORT): the server asks for one on a terminal,"
            " and refuses to start without one",
        )
    try:
        sockets = listening_sockets(list(hosts) or None, number, backlog=1)
    except OSError as exc:
        return checks.fail(Check.PORT, cannot_listen(number, exc))
    try:
        where = ", ".join(_address(sock.getsockname()) for sock in sockets)
    finally:
        for sock in sockets:
            sock.close()
    if number == 0:
        return checks.ok(Check.PORT, f"port 0: the server will take any free port ({where})")
    return checks.ok(Check.PORT, f"{number} is free on {where}")


NO_METRICS: Final = "no --metrics: no HTTP endpoint to check"


def metrics_port(host: str, number: int) -> Finding:
    """--metrics: bound and closed at once, as ``port``; every interface is a WARN.

    The server binds it before the chat port and stops if it cannot, so a
    metrics port in use is as fatal as a chat port in use.
    """
    try:
        sockets = listening_sockets([host], number, backlog=1)
    except OSError as exc:
        return checks.fail(Check.METRICS, metrics.cannot_serve(host, number, exc))
    for sock in sockets:
        sock.close()
    exposed = metrics.exposure(host)
    if exposed is not None:
        return checks.warn(Check.METRICS, exposed)
    return checks.ok(Check.METRICS, f"{metrics.where(host, number)} is free")


def _address(name: tuple[str, int] | tuple[str, int, int, int]) -> str:
    host = name[0]
    return f"[{host}]" if ":" in host else host


def rooms(path: Path | None, max_topic_chars: int) -> Finding:
    """The --rooms file parses and every room, name and group in it is valid."""
    if path is None:
        return checks.ok(Check.ROOMS, "no --rooms file: rooms are public and made by joining")
    try:
        room_file = RoomFile.load(path, max_topic_chars)
    except ConfigError as exc:
        return checks.fail(Check.ROOMS, str(exc))
    return checks.ok(Check.ROOMS, room_file.describe())
