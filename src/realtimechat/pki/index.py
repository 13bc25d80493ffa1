"""``index.json``: every certificate a CA issued, its status, and finding one again."""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, get_args

from cryptography import x509

from realtimechat.errors import PKIError
from realtimechat.names import name_from_cn, name_key, names_look_alike
from realtimechat.sanitize import visible

from .files import CERT_MODE, Action, _Put
from .folder import CaFolder
from .keys import fingerprint_sha256
from .load import _read, load_certificate
from .validity import EXPIRING_SOON, _now, _rfc3339, _when

CertKind = Literal["client", "server"]

#: What ``list`` shows for a certificate of the index.
Status = Literal["valid", "expiring soon", "expired", "revoked"]

INDEX_VERSION: Final = 1


@dataclass(frozen=True)
class IndexEntry:
    """One certificate the CA issued, as recorded in ``index.json``.

    ``index.json`` is ``{"version": 1, "entries": [ ... ]}`` with one object
    per entry. Readers ignore fields they do not know and writers keep them.
    ``revoke`` sets ``status`` to ``"revoked"`` and adds ``revoked_at`` and
    ``reason``.
    """

    name: str
    serial: str  # lowercase hex, as openssl and CRLs show serial numbers
    fingerprint: str  # fingerprint_sha256
    not_after: str  # RFC 3339, UTC
    kind: CertKind
    status: str = "valid"
    revoked_at: str | None = None  # RFC 3339, UTC
    reason: str | None = None  # one of REVOCATION_REASONS
    groups: tuple[str, ...] = ()  # chat groups written into a client certificate

    @classmethod
    def for_certificate(
        cls, cert: x509.Certificate, name: str, kind: CertKind, *, groups: Sequence[str] = ()
    ) -> IndexEntry:
        """The entry of a certificate that was just issued."""
        return cls(
            name=name,
            serial=f"{cert.serial_number:x}",
            fingerprint=fingerprint_sha256(cert),
            not_after=_rfc3339(cert.not_valid_after_utc),
            kind=kind,
            groups=tuple(groups),
        )

    @property
    def serial_number(self) -> int:
        """The serial as a number."""
        return int(self.serial, 16)

    @property
    def not_after_utc(self) -> dt.datetime:
        """``not_after`` as an aware datetime."""
        return dt.datetime.fromisoformat(self.not_after)

    def to_json(self) -> dict[str, Any]:
        """The entry as a JSON object (revocation fields only once revoked, groups if any)."""
        obj: dict[str, Any] = {
            "name": self.name,
            "serial": self.serial,
            "fingerprint": self.fingerprint,
            "not_after": self.not_after,
            "kind": self.kind,
            "status": self.status,
        }
        if self.revoked_at is not None:
            obj["revoked_at"] = self.revoked_at
        if self.reason is not None:
            obj["reason"] = self.reason
        if self.groups:
            obj["groups"] = list(self.groups)
        return obj

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> IndexEntry:
        """Parse one entry; a missing or malformed field raises KeyError/TypeError/ValueError."""
        fields = {key: obj[key] for key in ("name", "serial", "fingerprint", "not_after", "kind")}
        fields["status"] = obj.get("status", "valid")
        if not all(isinstance(value, str) for value in fields.values()):
            raise TypeError("index fields must be strings")
        if fields["kind"] not in get_args(CertKind):
            raise TypeError(f"unknown kind {fields['kind']!r}")
        int(fields["serial"], 16)  # ValueError if it is not hex
        dt.datetime.fromisoformat(fields["not_after"])
        revoked_at, reason = obj.get("revoked_at"), obj.get("reason")
        if not all(value is None or isinstance(value, str) for value in (revoked_at, reason)):
            raise TypeError("revoked_at and reason must be strings")
        if revoked_at is not None:
            dt.datetime.fromisoformat(revoked_at)
        groups = obj.get("groups", [])
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise TypeError("groups must be a list of strings")
        return cls(**fields, revoked_at=revoked_at, reason=reason, groups=tuple(groups))


def certificate_status(entry: IndexEntry, now: dt.datetime | None = None) -> Status:
    """``revoked``, ``expired``, ``expiring soon`` (within 30 days) or ``valid``."""
    if entry.status == "revoked":
        return "revoked"
    now = now or dt.datetime.now(dt.UTC)
    left = entry.not_after_utc - now
    if left <= dt.timedelta(0):
        return "expired"
    if left <= EXPIRING_SOON:
        return "expiring soon"
    return "valid"


def replaced_serials(entries: Sequence[IndexEntry], now: dt.datetime | None = None) -> set[str]:
    """The serials of certificates still in force that a later one of the same name replaced.

    After a renewal both certificates of a name work until the old one
    expires or is revoked; ``list`` marks the old one so the admin sees
    which is current. "In force" is valid or expiring soon; the latest such
    certificate of each kind and name (in index order: issue order) is current.
    """
    now = now or dt.datetime.now(dt.UTC)
    latest: dict[tuple[str, str], str] = {}
    in_force = [e for e in entries if certificate_status(e, now) in ("valid", "expiring soon")]
    for entry in in_force:
        latest[(entry.kind, entry.name)] = entry.serial
    return {e.serial for e in in_force if latest[(e.kind, e.name)] != e.serial}


def _load_index_raw(path: Path) -> list[dict[str, Any]]:
    """The raw entries of ``index.json`` (all fields kept); an absent file is an empty index."""
    if not os.path.lexists(path):
        return []
    try:
        entries = _index_entries(json.loads(_read(path)))
    except (ValueError, KeyError, TypeError) as exc:
        raise PKIError(f"{path} is damaged ({exc}); fix it or restore it from a backup") from exc
    return entries


def _index_entries(doc: Any) -> list[dict[str, Any]]:
    """Check the shape of a parsed index; KeyError, TypeError or ValueError if it is not one."""
    if not isinstance(doc, dict):
        raise TypeError("not a JSON object")
    entries = doc["entries"]
    if not isinstance(entries, list):
        raise TypeError("'entries' is not a list")
    for entry in entries:
        if not isinstance(entry, dict):
            raise TypeError("an entry is not a JSON object")
        IndexEntry.from_json(entry)
    return entries


def read_index(root: Path) -> list[IndexEntry]:
    """The certificates recorded in the CA folder ``root``, oldest first."""
    return [IndexEntry.from_json(entry) for entry in _load_index_raw(CaFolder(root).index)]


def _index_bytes(entries: list[dict[str, Any]]) -> bytes:
    return (json.dumps({"version": INDEX_VERSION, "entries": entries}, indent=2) + "\n").encode()


def _plan_index_append(path: Path, entry: IndexEntry) -> _Put:
    """The index with ``entry`` added, to write (replacing the file) with the other files."""
    entries = _load_index_raw(path)
    entries.append(entry.to_json())
    action: Action = "updated" if os.path.lexists(path) else "wrote"
    return _Put(path, _index_bytes(entries), CERT_MODE, action)


def _live_entries(entries: Sequence[IndexEntry], name: str) -> list[IndexEntry]:
    """The client certificates of ``name`` that are not revoked (expired ones included)."""
    return [e for e in entries if e.kind == "client" and e.name == name and e.status != "revoked"]


def _refuse_duplicate_name(root: Path, name: str) -> None:
    """Raise PKIError if ``name`` already has a client certificate that is not revoked.

    The hint names revoke commands that work: by serial once a renewal has
    given the name several certificates (``revoke NAME`` would be ambiguous).
    """
    live = _live_entries(read_index(root), name)
    if not live:
        return
    if len(live) == 1:
        what, them = f"a certificate that is not revoked ({_serial_and_end(live[0])})", "it"
    else:
        serials = ", ".join(e.serial for e in live)
        what, them = f"{len(live)} certificates that are not revoked (serials {serials})", "them"
    raise PKIError(
        f"{name!r} already has {what}: revoke {them} first ({_revoke_commands(root, live)}), "
        "or pass --force to issue another one for the same user"
    )


def _chat_key(name: str) -> str:
    """The key the server compares chat names by, for the certificate CN ``name``."""
    return name_key(name_from_cn(name))


def _name_clash(entries: Sequence[IndexEntry], name: str) -> IndexEntry | None:
    """Another user's live client certificate whose chat name is, or looks like, ``name``'s.

    The server folds names (``Bob`` is ``bob``, ``bob smith`` is ``bob_smith``)
    and gives a name to the first identity that uses it, or one that looks
    like it (a shared confusable skeleton: Cyrillic ``\u0441\u043e\u0440`` and
    Latin ``cop``), so such a certificate would be refused at join with
    ``name_taken``.
    """
    key = _chat_key(name)
    live = [e for e in entries if e.kind == "client" and e.status != "revoked" and e.name != name]
    same = next((e for e in live if _chat_key(e.name) == key), None)
    if same is not None:
        return same
    chat = name_from_cn(name)
    return next((e for e in live if names_look_alike(name_from_cn(e.name), chat)), None)


def _refuse_name_clash(root: Path, name: str) -> None:
    """Raise PKIError if ``name`` folds to (or looks like) the chat name of another user's live
    certificate."""
    entries = read_index(root)
    other = _name_clash(entries, name)
    if other is None:
        return
    theirs = _live_entries(entries, other.name)
    same = _chat_key(other.name) == _chat_key(name)
    how = "is the same chat name as" if same else "looks like the chat name of"
    raise PKIError(
        f"{name!r} {how} {other.name!r}, who has a certificate that is not "
        f"revoked ({_serial_and_end(other)}): the server would refuse {name!r} as name_taken; "
        f"pick another name, or revoke {other.name!r} first ({_revoke_commands(root, theirs)}; "
        f"if {other.name!r} has joined, also run `rtchat-server names release "
        f"{shlex.quote(name_from_cn(other.name))}` on the server)"
    )


def _serial_and_end(entry: IndexEntry) -> str:
    until = entry.not_after_utc
    when = f"expired {_when(until)}" if until <= _now() else f"valid until {_when(until)}"
    return f"serial {entry.serial}, {when}"


def _revoke_commands(root: Path, entries: Sequence[IndexEntry]) -> str:
    """The revoke commands that revoke exactly ``entries``: by name if that is unambiguous."""
    commands = []
    for entry in entries:
        which = entry.serial
        if len(entries) == 1 and _names_only(root, entry):
            which = entry.name
        commands.append(
            f"`rtchat-certs revoke {shlex.quote(which)} --dir {shlex.quote(str(root))}`"
        )
    return " and ".join(commands)


def _names_only(root: Path, entry: IndexEntry) -> bool:
    """Whether ``revoke NAME`` picks exactly ``entry`` (a renewal makes a name ambiguous)."""
    try:
        return find_certificate(root, entry.name).serial == entry.serial
    except PKIError:
        return False


def _revoked_file(root: Path, path: Path) -> bool:
    """Whether ``path`` holds a certificate the index of ``root`` marks revoked."""
    try:
        cert = load_certificate(path)
        revoked = {e.serial_number for e in read_index(root) if e.status == "revoked"}
    except PKIError:
        return False
    return cert.serial_number in revoked


def _describe_entry(entry: IndexEntry) -> str:
    return (
        f"{visible(entry.name)} ({entry.kind}, serial {entry.serial}, fingerprint "
        f"{entry.fingerprint[:16]}, until {_when(entry.not_after_utc)}, {entry.status})"
    )


def find_certificate(root: Path, which: str, now: dt.datetime | None = None) -> IndexEntry:
    """The index entry ``which`` names: a name, a serial or a fingerprint.

    * a name means that name's current certificate: not revoked, and not
      expired if it has one that is not;
    * a serial is hex as ``list`` shows it (colons allowed) or decimal;
    * a fingerprint is the SHA-256 of the certificate (64 hex digits, colons
      allowed) or its first 16 digits.

    Raises PKIError if nothing matches or if several certificates do (naming
    each, so the admin can pick one by serial).
    """
    text = which.strip()
    if not text:
        raise PKIError("say which certificate: a name, a serial or a fingerprint")
    entries = read_index(root)
    now = now or _now()
    matches: dict[str, IndexEntry] = {}
    named = [e for e in entries if e.name == text]
    live = [e for e in named if e.status != "revoked"]
    current = [e for e in live if e.not_after_utc > now]
    for entry in current or live:
        matches[entry.serial] = entry
    compact = text.lower().replace(":", "")
    if compact and all(c in "0123456789abcdef" for c in compact):
        number = int(compact, 16)
        for entry in entries:
            if entry.serial_number == number or (
                len(compact) in (16, 64) and entry.fingerprint.startswith(compact)
            ):
                matches[entry.serial] = entry
    if text.isdigit() and text.isascii():
        for entry in entries:
            if entry.serial_number == int(text):
                matches[entry.serial] = entry
    if not matches:
        if named:
            raise PKIError(f"{_describe_entry(named[-1])} is already revoked")
        raise PKIError(
            f"no certificate named {text!r}, nor with that serial or fingerprint, in "
            f"{CaFolder(root).index} (`rtchat-certs list` shows them)"
        )
    if len(matches) > 1:
        listed = "; ".join(_describe_entry(e) for e in matches.values())
        raise PKIError(f"{text!r} matches {len(matches)} certificates: {listed}; give a serial")
    return next(iter(matches.values()))
