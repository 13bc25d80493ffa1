"""The preflight's checks (server/checks.py, server/preflight.py) on real certificates and files.

Certificates come from a CA folder made by ``init_ca`` (the ``ca_root``
fixture) and the rogue trustme CA; times are given, not waited for.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import errno
import ipaddress
import os
import socket
import sqlite3
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from realtimechat import locations
from realtimechat.errors import PKIError
from realtimechat.pki import CaFolder, load_certificate, read_index, revoke
from realtimechat.server import checks, folderlock, metrics, preflight
from realtimechat.server.app import ChatServer
from realtimechat.server.checks import Check, CrlFacts, Finding, Level
from realtimechat.server.store import SCHEMA_VERSION, SqliteStore
from realtimechat.server.trust import Trust

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def cn_only(cn: str, *ips: str) -> x509.Certificate:
    """A self-signed certificate with a CN and no DNS name (as `openssl req -x509` makes), and
    ``ips`` as IP subjectAltNames."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=1))
    )
    if ips:
        sans = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key, hashes.SHA256())


def test_a_finding_is_one_line_with_a_padded_level() -> None:
    """``OK   names: ...``: the level in four columns, then the check's name."""
    assert checks.ok(Check.NAMES, "x").line() == "OK   names: x"
    assert checks.warn(Check.CRL, "y").line() == "WARN crl: y"
    assert checks.fail(Check.PORT, "z").line() == "FAIL port: z"


def test_the_worst_level_decides_the_exit_code() -> None:
    """0 all OK (or nothing), 1 a WARN, 2 a FAIL whatever else there is."""
    ok, warn, fail = (Finding(level, Check.KEY, "") for level in Level)
    cases: tuple[list[Finding], ...] = ([], [ok], [ok, warn], [warn, fail, ok])
    assert [checks.worst(found).exit_code for found in cases] == [0, 0, 1, 2]


def test_a_fail_refuses_to_start_with_its_detail() -> None:
    """refuse_failures: PKIError with the first FAIL; WARNs alone pass."""
    checks.refuse_failures([checks.warn(Check.EXPIRY, "soon")])
    with pytest.raises(PKIError, match=r"^gone \(rtchat-server check lists every finding\)$"):
        checks.refuse_failures([checks.warn(Check.EXPIRY, "soon"), checks.fail(Check.CRL, "gone")])


def test_names_are_the_sans_clients_give_as_cn(ca_root: Path) -> None:
    """An init_ca server certificate: its DNS names and IPs, in order, and its CN."""
    server = load_certificate(CaFolder(ca_root).server_cert)
    assert checks.names(server) == checks.ok(
        Check.NAMES,
        "clients give --cn chatserver or localhost or 127.0.0.1 or ::1"
        " (DNS chatserver, DNS localhost, IP 127.0.0.1, IP ::1; CN 'chatserver')",
    )


def test_a_certificate_without_sans_warns() -> None:
    """CN only: clients match the CN, which strict clients refuse: WARN, and how to fix it."""
    finding = checks.names(cn_only("oldserver"))
    assert finding.level is Level.WARN
    assert finding.detail.startswith(
        "no DNS or IP subjectAltName: clients match the CN 'oldserver' (--cn oldserver)"
    )


def test_with_ip_names_only_the_cn_still_counts() -> None:
    """No DNS name, an IP: clients may give the CN or the IP, as OpenSSL matches them."""
    assert checks.names(cn_only("chat.lan", "10.0.0.7")) == checks.ok(
        Check.NAMES, "clients give --cn chat.lan or 10.0.0.7 (IP 10.0.0.7; CN 'chat.lan')"
    )


def test_expiry_warns_within_30_days_and_fails_after(ca_root: Path) -> None:
    """The same certificate seen 31, 10 and 1 days and 1 hour before its end, and at it."""
    server = load_certificate(CaFolder(ca_root).server_cert)
    end = server.not_valid_after_utc
    named = [("server certificate", server)]
    when = end.strftime("%Y-%m-%d %H:%M UTC")
    assert [f.level for f in checks.expiry(named, end - dt.timedelta(days=31))] == [Level.OK]
    assert checks.expiry(named, end - dt.timedelta(days=10)) == [
        checks.warn(Check.EXPIRY, f"the server certificate expires in 10 days (on {when})")
    ]
    assert checks.expiry(named, end - dt.timedelta(days=1, hours=1)) == [
        checks.warn(Check.EXPIRY, f"the server certificate expires in 1 day (on {when})")
    ]
    assert checks.expiry(named, end - dt.timedelta(hours=1)) == [
        checks.warn(Check.EXPIRY, f"the server certificate expires in less than a day (on {when})")
    ]
    assert checks.expiry(named, end) == [
        checks.fail(Check.EXPIRY, f"the server certificate has expired (on {when})")
    ]


def test_crl_freshness_fails_past_its_next_update_and_warns_a_week_before() -> None:
    """next update in 8 days OK, in 7 days WARN, a second ago FAIL."""
    facts = CrlFacts("CA", frozenset({5}), NOW + dt.timedelta(days=7), 3)
    assert checks.crl(facts, NOW - dt.timedelta(days=1), trusts_ca=True) == [
        checks.ok(
            Check.CRL, "signed by CA 'CA', number 3, 1 revoked, next update 2026-12-08 12:00 UTC"
        )
    ]
    assert [f.level for f in checks.crl(facts, NOW, trusts_ca=True)] == [Level.WARN]
    assert checks.crl(facts, NOW + dt.timedelta(days=7, seconds=1), trusts_ca=True) == [
        checks.fail(
            Check.CRL,
            "the CRL is past its next-update (2026-12-08 12:00 UTC): re-sign it (rtchat-certs crl)",
        )
    ]


def test_no_crl_warns_beside_a_ca_only() -> None:
    """Without a CRL, a CA's revocations go unseen (WARN); pinned certificates need none (OK)."""
    assert [f.level for f in checks.crl(None, NOW, trusts_ca=True)] == [Level.WARN]
    assert [f.level for f in checks.crl(None, NOW, trusts_ca=False)] == [Level.OK]


def test_a_crl_lacking_a_revocation_of_the_index_is_behind_it(ca_root: Path) -> None:
    """After `revoke`, a CRL without that serial is older than index.json; with it, not."""
    revoked = revoke(ca_root, "chatserver").entry
    entries = read_index(ca_root)
    crl, index = ca_root / "crl.pem", ca_root / "index.json"
    behind = checks.crl_behind_index(crl, frozenset(), entries, index)
    assert behind == checks.warn(
        Check.CRL,
        f"{crl} is older than {index}: it lacks 1 revocation the index records ('chatserver',"
        f" serial {revoked.serial}): they are still let in; copy the CA folder's current"
        " crl.pem (or re-sign it: rtchat-certs crl)",
    )
    assert checks.crl_behind_index(crl, frozenset({revoked.serial_number}), entries, index) is None


def test_key_modes_warn_for_group_and_others(tmp_path: Path) -> None:
    """0600 OK; 0640 and 0644 WARN (never FAIL: checks.key_mode says why); none is a FAIL."""
    key = tmp_path / "server.key"
    key.write_text("x")
    found = []
    for mode in (0o600, 0o640, 0o644):
        key.chmod(mode)
        found.append(checks.key_mode(key))
    assert [f.level for f in found] == [Level.OK, Level.WARN, Level.WARN]
    assert "is open to its group (mode 0640)" in found[1].detail
    assert "is open to other users (mode 0644)" in found[2].detail


def test_chain_names_the_issuer_or_says_clients_need_it(ca_root: Path) -> None:
    """Issued by a CA of --ca: OK; by a CA not trusted here: WARN; self-signed: OK."""
    folder = CaFolder(ca_root)
    server, ca = load_certificate(folder.server_cert), load_certificate(folder.ca_cert)
    assert checks.chain(server, [ca], []) == [
        checks.ok(
            Check.CHAIN,
            "server certificate issued by CA 'realtimechat CA (chatserver)';"
            " trusting CA 'realtimechat CA (chatserver)'",
        )
    ]
    rogue = trustme.CA().issue_cert("chatserver")
    stranger = x509.load_pem_x509_certificate(rogue.cert_chain_pems[0].bytes())
    assert [f.level for f in checks.chain(stranger, [ca], [])] == [Level.WARN]
    assert [f.level for f in checks.chain(cn_only("seed"), [], [ca])] == [Level.OK]


def test_trust_findings_come_in_check_order_and_feed_the_log(ca_root: Path) -> None:
    """Trust.findings: one per check, vocabulary order; warnings() is its non-OK details."""
    files = locations.server_files(cert=None, key=None, ca=None, pki=ca_root)
    trust = Trust.load(files)
    found = trust.findings(NOW)
    assert [f.check for f in found] == [
        Check.CHAIN,
        Check.NAMES,
        Check.CRL,
        Check.EXPIRY,
        Check.MODES,
    ]
    assert {f.level for f in found} == {Level.OK}
    later = trust.server_certificate.not_valid_after_utc - dt.timedelta(days=3)
    assert trust.warnings(later)[0].startswith("the CRL is past its next-update")
    assert trust.warnings(later)[1].startswith("the server certificate expires in 3 days")


def test_the_server_refuses_to_start_on_a_lapsed_crl(ca_root: Path) -> None:
    """A ChatServer whose clock is past the CRL's next update stops before listening."""
    files = locations.server_files(cert=None, key=None, ca=None, pki=ca_root)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=40)
    with pytest.raises(PKIError, match=r"^the CRL is past its next-update"):
        ChatServer(files, clock=lambda: later)


def test_the_data_folder_is_checked_never_made(tmp_path: Path) -> None:
    """Missing: OK, the server makes it; open to others: WARN; a file: FAIL. Nothing created."""
    data = tmp_path / "data"
    assert preflight.data_folder(data).level is Level.OK
    assert not data.exists()
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    assert preflight.data_folder(data).detail.startswith(f"{data} is open to other users")
    data.chmod(0o700)
    assert preflight.data_folder(data).level is Level.OK
    (tmp_path / "file").write_text("")
    assert preflight.data_folder(tmp_path / "file").level is Level.FAIL


def test_the_store_is_read_without_being_written(tmp_path: Path) -> None:
    """A missing store: OK; not a database: FAIL with the server's words; the file unchanged."""
    database = tmp_path / "messages.db"
    assert preflight.store(database).level is Level.OK
    assert not database.exists()
    database.touch(mode=0o600)  # as the server creates it, before SQLite fills it
    assert preflight.store(database).detail.endswith(
        "holds no tables yet: the server will create them (schema 3)"
    )
    database.write_bytes(b"not a database at all" * 100)
    database.chmod(0o600)
    finding = preflight.store(database)
    assert finding.level is Level.FAIL
    assert finding.detail.startswith(f"cannot use the message store {database}:")
    assert database.read_bytes() == b"not a database at all" * 100


def test_a_taken_port_fails_and_a_free_one_is_left_free() -> None:
    """Bound by another socket: FAIL; free: OK, and free again afterwards."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert preflight.port(["127.0.0.1"], port).level is Level.FAIL
    assert preflight.port(["127.0.0.1"], port) == checks.ok(
        Check.PORT, f"{port} is free on 127.0.0.1"
    )
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))  # the check closed its socket
    assert preflight.port([], None).level is Level.WARN


def test_the_metrics_port_is_checked_as_the_server_binds_it() -> None:
    """--metrics taken: FAIL in the server's words; free: OK; every interface: WARN; no
    --metrics: an OK line saying so, after port."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert preflight.metrics_port("127.0.0.1", port) == checks.fail(
            Check.METRICS,
            f"cannot serve --metrics on 127.0.0.1:{port}: {os.strerror(errno.EADDRINUSE)}",
        )
    assert preflight.metrics_port("127.0.0.1", port) == checks.ok(
        Check.METRICS, f"127.0.0.1:{port} is free"
    )
    everywhere = preflight.metrics_port("0.0.0.0", 0)  # noqa: S104 - the case checked
    assert everywhere.level is Level.WARN
    assert everywhere.detail.startswith("--metrics on 0.0.0.0 serves every interface")
    assert metrics.exposure("::") is not None
    assert metrics.exposure("127.0.0.1") is metrics.exposure("192.0.2.7") is None
    plan = preflight.Plan(port=0, data=Path("/nonexistent/data"))
    (alone,) = [found for found in preflight.run(plan) if found.check is Check.METRICS]
    assert alone == checks.ok(Check.METRICS, "no --metrics: no HTTP endpoint to check")
    with_metrics = preflight.run(dataclasses.replace(plan, metrics=("127.0.0.1", 0)))
    checked = [found.check for found in with_metrics]
    assert checked[checked.index(Check.PORT) :][:3] == [Check.PORT, Check.METRICS, Check.ROOMS]


def test_a_store_the_server_made_is_read_and_a_newer_one_refused(tmp_path: Path) -> None:
    """SqliteStore's own file: schema and last id, OK; a schema from the future: FAIL."""
    database = tmp_path / "data" / "messages.db"

    async def make() -> None:
        made = SqliteStore(database)
        await made.open()
        await made.close()

    asyncio.run(make())
    assert preflight.store(database) == checks.ok(
        Check.STORE, f"{database}: schema {SCHEMA_VERSION}, last message id 0"
    )
    with sqlite3.connect(database) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    db.close()
    assert preflight.store(database) == checks.fail(
        Check.STORE,
        f"cannot use the message store {database}: schema version 99 is newer than this"
        f" rtchat-server reads ({SCHEMA_VERSION})",
    )


def test_findings_come_in_check_order_without_the_ok_of_a_flagged_check() -> None:
    """Sorted by the vocabulary, stable within a check; an OK beside a WARN of its check goes."""
    found = [
        checks.ok(Check.PORT, "free"),
        checks.warn(Check.CRL, "second"),
        checks.ok(Check.CRL, "fine"),
        checks.fail(Check.CRL, "third"),
        checks.warn(Check.CHAIN, "first"),
    ]
    assert checks.in_check_order(found) == [
        checks.warn(Check.CHAIN, "first"),
        checks.warn(Check.CRL, "second"),
        checks.fail(Check.CRL, "third"),
        checks.ok(Check.PORT, "free"),
    ]


def test_a_data_folder_a_server_holds_is_named_with_its_pid(tmp_path: Path) -> None:
    """The server's folder lock held: WARN with the holder's pid; let go: OK; never taken."""
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    with folderlock.hold(data, "serve"):
        assert preflight.data_folder(data) == checks.warn(
            Check.DATA,
            f"a server (pid {os.getpid()}) is using {data} now: another one would not start"
            " beside it (stop it first, or restart it)",
        )
    assert preflight.data_folder(data).level is Level.OK
    with folderlock.hold(data, "serve"):  # the check let go of its probe
        pass
