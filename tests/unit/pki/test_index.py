"""Tests for realtimechat.pki.index: index.json, finding a certificate, its status."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from realtimechat import pki
from realtimechat.errors import PKIError

from ...support import mode_of
from .helpers import snapshot


def test_index_records_server_and_clients(ca_root: Path) -> None:
    """index.json lists server and clients with serial, fingerprint, not_after, kind, status."""
    pki.issue_client(ca_root, "alice")
    folder = pki.CaFolder(ca_root)

    entries = pki.read_index(ca_root)

    assert [(e.name, e.kind, e.status) for e in entries] == [
        ("chatserver", "server", "valid"),
        ("alice", "client", "valid"),
    ]
    for entry, path in zip(entries, [folder.server_cert, folder.client_cert("alice")], strict=True):
        cert = pki.load_certificate(path)
        assert entry.serial == f"{cert.serial_number:x}"
        assert entry.fingerprint == pki.fingerprint_sha256(cert)
        assert dt.datetime.fromisoformat(entry.not_after) == cert.not_valid_after_utc
        assert entry.not_after.endswith("Z")
    document = json.loads(folder.index.read_text())
    assert document["version"] == 1
    assert document["entries"][1] == entries[1].to_json()
    assert mode_of(folder.index) == 0o644


def test_index_keeps_fields_it_does_not_know(ca_root: Path) -> None:
    """Appending to index.json keeps fields a later version wrote; read_index sees status."""
    folder = pki.CaFolder(ca_root)
    document = json.loads(folder.index.read_text())
    document["entries"][0]["status"] = "revoked"
    document["entries"][0]["revoked_at"] = "2030-01-01T00:00:00Z"
    folder.index.write_text(json.dumps(document))

    pki.issue_client(ca_root, "alice")

    entries = json.loads(folder.index.read_text())["entries"]
    assert entries[0]["revoked_at"] == "2030-01-01T00:00:00Z"
    assert [e["name"] for e in entries] == ["chatserver", "alice"]
    assert [e.status for e in pki.read_index(ca_root)] == ["revoked", "valid"]


def test_damaged_index_stops_issue_before_writing(ca_root: Path) -> None:
    """A damaged index.json raises PKIError naming it, and no key or certificate is written."""
    folder = pki.CaFolder(ca_root)
    folder.index.write_text('{"entries": "nope"}')

    with pytest.raises(PKIError, match=r"index\.json is damaged"):
        pki.issue_client(ca_root, "alice")

    assert list(folder.clients_dir.iterdir()) == []


def test_issue_refuses_an_existing_name(ca_root: Path) -> None:
    """Issuing a name twice raises PKIError saying how to go on, and changes nothing."""
    pki.issue_client(ca_root, "alice")
    before = snapshot(ca_root)

    with pytest.raises(PKIError, match="'alice' already has a certificate") as caught:
        pki.issue_client(ca_root, "alice")

    assert f"`rtchat-certs revoke alice --dir {ca_root}`" in str(caught.value)
    assert "--force" in str(caught.value)
    assert snapshot(ca_root) == before


def _colons(hex_digits: str) -> str:
    """Hex digits in colon-separated pairs, as openssl prints serials and fingerprints."""
    even = hex_digits.zfill(len(hex_digits) + len(hex_digits) % 2)
    return ":".join(even[i : i + 2] for i in range(0, len(even), 2))


@pytest.mark.parametrize(
    "form",
    ["name", "hex", "HEX:WITH:COLONS", "decimal", "fingerprint", "FP:COLONS", "short"],
)
def test_find_certificate_by_every_form(ca_root: Path, form: str) -> None:
    """A name, a serial (hex, colons, decimal) or a fingerprint (full, colons, short) finds it."""
    pki.issue_client(ca_root, "alice")
    pki.issue_client(ca_root, "bob")
    alice = pki.read_index(ca_root)[1]
    serial = alice.serial
    fingerprint = alice.fingerprint
    which = {
        "name": "alice",
        "hex": serial,
        "HEX:WITH:COLONS": _colons(serial).upper(),
        "decimal": str(int(serial, 16)),
        "fingerprint": fingerprint,
        "FP:COLONS": _colons(fingerprint).upper(),
        "short": fingerprint[:16],
    }[form]

    assert pki.find_certificate(ca_root, which) == alice


def test_a_name_means_its_current_certificate(ca_root: Path) -> None:
    """Of an expired and a current certificate of one name, the name finds the current one."""
    now = dt.datetime.now(dt.UTC)
    pki.issue_client(
        ca_root,
        "alice",
        not_before=now - dt.timedelta(days=9),
        not_after=now - dt.timedelta(days=1),
    )
    pki.issue_client(ca_root, "alice", force=True)
    old, current = pki.read_index(ca_root)[1:]

    assert pki.find_certificate(ca_root, "alice") == current
    assert pki.find_certificate(ca_root, old.serial) == old


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("nobody", "no certificate named 'nobody'"),
        ("", "say which certificate"),
        ("0123456789abcdef", "no certificate named"),
    ],
)
def test_revoke_of_an_unknown_certificate_changes_nothing(
    ca_root: Path, which: str, message: str
) -> None:
    """An unknown name, serial or fingerprint raises PKIError and leaves index and CRL alone."""
    pki.issue_client(ca_root, "alice")
    before = snapshot(ca_root)

    with pytest.raises(PKIError, match=message):
        pki.revoke(ca_root, which)

    assert snapshot(ca_root) == before


def _entry(not_after: dt.datetime, status: str = "valid") -> pki.IndexEntry:
    return pki.IndexEntry(
        name="x",
        serial="1",
        fingerprint="0" * 64,
        not_after=not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
        kind="client",
        status=status,
    )


@pytest.mark.parametrize(
    ("left", "status", "expected"),
    [
        (dt.timedelta(days=31), "valid", "valid"),
        (dt.timedelta(days=30), "valid", "expiring soon"),
        (dt.timedelta(hours=1), "valid", "expiring soon"),
        (dt.timedelta(0), "valid", "expired"),
        (dt.timedelta(days=-1), "valid", "expired"),
        (dt.timedelta(days=300), "revoked", "revoked"),
        (dt.timedelta(days=-1), "revoked", "revoked"),
    ],
)
def test_certificate_status(left: dt.timedelta, status: str, expected: pki.Status) -> None:
    """Status is revoked, expired, expiring soon (30 days or less) or valid."""
    now = dt.datetime(2030, 6, 1, 12, 0, tzinfo=dt.UTC)

    assert pki.certificate_status(_entry(now + left, status), now) == expected
