"""The bundled client's side of signed messages: sign what we send, judge what we read.

docs/protocol.md 6.8 is the wire; docs/security.md ("Signed messages")
says what a verdict promises. ``Signatures`` holds our key and certificate,
the certificates learnt from the server (by fingerprint: the bytes hash to
it, so the server can withhold one but not swap it), the trust anchors we
already hold for the server, and two small files in the client's state
folder: the sequence numbers we signed (``signing-seq.json``) and, for
pinned deployments, the first certificate seen for each name
(``signers.json``, like ssh's known_hosts).

A verdict is ``verified`` only if every one of these holds: the message is
signed; the certificate is known; the signature is over exactly what was
delivered; the certificate chains to one of our CA certificates (CA mode:
we trust the server through a CA) or is the one first seen for that name
(pinned mode: we trust the server's own certificate); it was valid at the
send time and not revoked then by a CRL we were given; the name shown is
the certificate's (CA mode); the send time is near the server's ``ts``;
and its ``ref`` was not seen before under another id (the sequence number
only tells what is missing). Anything else is not verified, with one short reason.

No I/O but the two small files (read at start, written as they change);
no clock but the one passed in, so tests/unit/test_client_signatures.py
runs without a loop.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from ..names import name_from_cn, name_key
from ..pki.keys import fingerprint_sha256
from ..protocol import DEFAULT_ROOM, Msg, SendMsg, format_ts, parse_ts
from ..signing import SignatureError, Signed, SigningKey, sign, verify

SEQ_FILE: Final = "signing-seq.json"
SIGNERS_FILE: Final = "signers.json"
CLOCK_SKEW: Final = dt.timedelta(minutes=10)  # send time vs the server's ts: beyond, a replay
REFS_KEPT: Final = 50_000  # (fingerprint, ref) pairs remembered, to spot a replay


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a reader may believe of one message."""

    verified: bool
    reason: str | None = None  # why not, in a few words (None when verified)
    signer: str | None = None  # the certificate's subject CN, when the certificate was known
    missing: int = 0  # messages of this sender, in this conversation, skipped just before it
    pin_changed: bool = False  # pinned mode: a new certificate for a name (a loud warning)


UNSIGNED: Final = Verdict(False, "unsigned")


def conversation(msg: Msg | SendMsg, sender: str) -> str:
    """What a sequence number counts in: a room, the lobby, or one private pair."""
    if msg.to is not None:
        pair = sorted((name_key(sender), name_key(msg.to)))
        return "pm:" + "\n".join(pair)
    room = msg.room
    return "room:" + (room if room not in (None, DEFAULT_ROOM) else DEFAULT_ROOM)


def signed_fields(msg: Msg) -> Signed | None:
    """What the signature of a delivered ``msg`` must cover, or None if it carries none."""
    if msg.sig is None or msg.fp is None or msg.sent is None or msg.seq is None:
        return None
    return Signed(
        fp=msg.fp,
        from_=msg.from_,
        room=msg.room,
        to=msg.to,
        text=msg.text,
        action=msg.action,
        ref=msg.ref,
        sent=msg.sent,
        seq=msg.seq,
    )


@dataclass(slots=True)
class _Seen:
    """Per (fingerprint, conversation): the last sequence number read live."""

    top: int = 0


class Signatures:
    """Our key for signing, and what we know for judging others' signatures."""

    def __init__(
        self,
        key: SigningKey,
        cert: x509.Certificate,
        anchors: list[x509.Certificate],
        folder: Path | None,
        crls: list[x509.CertificateRevocationList] | None = None,
    ) -> None:
        self.key = key
        self.cert = cert
        self.fp = fingerprint_sha256(cert)
        self.authorities = [c for c in anchors if _is_ca(c)]
        self.mode = "ca" if self.authorities else "pinned"
        self.crls = crls or []
        self.folder = folder
        self.certs: dict[str, x509.Certificate] = {self.fp: cert}
        self.unknown: set[str] = set()  # fingerprints the server said it does not have
        self._seq: dict[str, dict[str, int]] = {
            fp: {k: v for k, v in counters.items() if isinstance(v, int)}
            for fp, counters in _load(folder / SEQ_FILE if folder else None).items()
            if isinstance(counters, dict)
        }
        self._pins = _load(folder / SIGNERS_FILE if folder else None)
        self._seen: dict[tuple[str, str], _Seen] = {}
        self._refs: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._issuers: dict[str, x509.Certificate | None] = {}  # fp -> our CA that issued it
        self._last: dict[str, tuple[str, Verdict]] = {}  # name key -> (fp, verdict) last judged

    # -- sending --------------------------------------------------------------

    def sign(self, frame: SendMsg, name: str, now: dt.datetime) -> SendMsg:
        """``frame`` with its signature, the next sequence number of its conversation."""
        where = conversation(frame, name)
        counters = self._seq.setdefault(self.fp, {})
        seq = counters.get(where, 0) + 1
        counters[where] = seq
        _save(self.folder / SEQ_FILE if self.folder else None, dict(self._seq))
        fields = Signed(
            fp=self.fp,
            from_=name,
            room=frame.room,
            to=frame.to,
            text=frame.text,
            action=frame.action,
            ref=frame.ref,
            sent=format_ts(now),
            seq=seq,
        )
        sig = sign(self.key, fields)
        return replace(frame, sig=sig, fp=self.fp, sent=fields.sent, seq=seq)

    # -- certificates ---------------------------------------------------------

    def needs(self, msg: Msg) -> str | None:
        """The fingerprint to ask the server for before ``msg`` can be judged, or None."""
        fp = msg.fp
        if msg.sig is None or fp is None or fp in self.certs or fp in self.unknown:
            return None
        return fp

    def learn(self, fp: str, pem: str) -> bool:
        """Keep a certificate the server sent, if it is the one ``fp`` names."""
        try:
            cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            self.unknown.add(fp)
            return False
        if fingerprint_sha256(cert) != fp:  # not the certificate asked for: a lying server
            self.unknown.add(fp)
            return False
        self.certs[fp] = cert
        return True

    # -- reading --------------------------------------------------------------

    def judge(self, msg: Msg) -> Verdict:
        """The verdict on ``msg`` (see the module docstring), remembering what it teaches."""
        verdict = self._judge(msg)
        self._last[name_key(msg.from_)] = (msg.fp or "", verdict)
        return verdict

    def _judge(self, msg: Msg) -> Verdict:
        fields = signed_fields(msg)
        if fields is None or msg.sig is None:
            return UNSIGNED
        cert = self.certs.get(fields.fp)
        if cert is None:
            return Verdict(False, "the server does not give the signer's certificate")
        signer = _cn(cert)
        try:
            verify(cert, fields, msg.sig)
        except SignatureError:
            return Verdict(False, "the signature does not match: altered or forged", signer)
        problem, pin_changed = self._trust(cert, fields)
        missing, replayed = self._sequence(msg, fields)
        if problem is None:
            problem = replayed or self._timing(msg, fields)
        if problem is not None:
            return Verdict(False, problem, signer, missing, pin_changed)
        return Verdict(True, None, signer, missing)

    def recipient_problem(self, cert: x509.Certificate, name: str, now: dt.datetime) -> str | None:
        """Why we must not seal to ``cert`` as ``name``'s (the server chose it), or None."""
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            return f"the certificate the server gives for {name} is not valid now"
        if self.mode == "pinned":
            fields = Signed(fingerprint_sha256(cert), name, None, None, "", None, None, "", 1)
            return self._pinned(cert, fields)[0]
        issuer = next((ca for ca in self.authorities if _issued_by(cert, ca)), None)
        if issuer is None or self._revoked(cert, issuer, now) is not None:
            return f"the certificate the server gives for {name} is not from your CA, or revoked"
        if name_key(name_from_cn(_cn(cert))) != name_key(name):
            return f"the certificate the server gives for {name} is {_cn(cert)!r}'s"
        return None

    def describe(self, name: str) -> str:
        """For ``/whois``: the certificate ``name`` last signed with here, and its state."""
        fp, verdict = self._last.get(name_key(name), ("", None))
        cert = self.certs.get(fp)
        if verdict is None:
            return f"-- {name}: no message of theirs read yet, so no signature checked"
        if cert is None:
            return f"-- {name}'s last message: {verdict.reason}"
        until = cert.not_valid_after_utc.strftime("%Y-%m-%d")
        where = "issued by your CA" if self.mode == "ca" else "pinned: first seen for the name"
        state = "verified" if verdict.verified else f"NOT verified: {verdict.reason}"
        return (
            f"-- {name} signs with CN={_cn(cert)}, SHA-256 {fp[:16]}, {where}, "
            f"valid until {until}; last message {state}"
        )

    def _trust(self, cert: x509.Certificate, fields: Signed) -> tuple[str | None, bool]:
        """Why ``cert`` may not speak for ``fields.from_`` at the send time (or None), and
        whether that is a pinned name's new certificate."""
        sent = parse_ts(fields.sent)
        if sent is None:
            return "its send time is no timestamp", False
        if not cert.not_valid_before_utc <= sent <= cert.not_valid_after_utc:
            return "its certificate was not valid when it was sent", False
        if self.mode == "pinned":
            return self._pinned(cert, fields)
        return self._authorised(cert, fields, sent), False

    def _authorised(self, cert: x509.Certificate, fields: Signed, sent: dt.datetime) -> str | None:
        """CA mode: why ``cert`` is not our CA's, in force, for ``fields.from_``; or None."""
        issuer = self._issuer(cert)
        if issuer is None:
            return "its certificate is not from your CA"
        revoked = self._revoked(cert, issuer, sent)
        if revoked is not None:
            return revoked
        if name_key(name_from_cn(_cn(cert))) != name_key(fields.from_):
            return f"the certificate is {_cn(cert)!r}'s, not {fields.from_!r}'s"
        return None

    def _issuer(self, cert: x509.Certificate) -> x509.Certificate | None:
        """Which of our CAs issued ``cert`` (one signature check per certificate, then kept)."""
        fp = fingerprint_sha256(cert)
        if fp not in self._issuers:
            self._issuers[fp] = next((ca for ca in self.authorities if _issued_by(cert, ca)), None)
        return self._issuers[fp]

    def _pinned(self, cert: x509.Certificate, fields: Signed) -> tuple[str | None, bool]:
        key = name_key(fields.from_)
        fp = fingerprint_sha256(cert)
        pinned = self._pins.get(key)
        if pinned is None:
            self._pins[key] = fp
            _save(self.folder / SIGNERS_FILE if self.folder else None, self._pins)
            return None, False
        if pinned != fp:
            return f"CERTIFICATE CHANGED: not the one first seen for {fields.from_!r}", True
        return None, False

    def _revoked(
        self, cert: x509.Certificate, issuer: x509.Certificate, sent: dt.datetime
    ) -> str | None:
        for crl in self.crls:
            if crl.issuer != issuer.subject:
                continue
            entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
            if entry is not None and sent >= entry.revocation_date_utc:
                return "its certificate was revoked before it was sent"
        return None

    def _sequence(self, msg: Msg, fields: Signed) -> tuple[int, str | None]:
        """(messages skipped before it, why it is a replay or None)."""
        if fields.ref is not None:
            key = (fields.fp, fields.ref)
            first = self._refs.setdefault(key, msg.id)
            if first != msg.id:
                return 0, f"replayed: the same message came before as #{first}"
            if len(self._refs) > REFS_KEPT:
                self._refs.popitem(last=False)
        # Sequence numbers tell what is missing, not what is replayed (the ref does):
        # a count that starts again is another device or state folder of the same
        # certificate, or a reinstall, and is followed from where it is.
        seen = self._seen.setdefault((fields.fp, conversation(msg, msg.from_)), _Seen())
        missing = 0
        if seen.top and fields.seq > seen.top + 1 and not msg.replay:
            missing = fields.seq - seen.top - 1
        if not msg.replay or fields.seq > seen.top:
            seen.top = fields.seq
        return missing, None

    def _timing(self, msg: Msg, fields: Signed) -> str | None:
        sent, stored = parse_ts(fields.sent), parse_ts(msg.ts)
        if sent is None or stored is None:
            return "its times are no timestamps"
        if abs(stored - sent) > CLOCK_SKEW:
            return f"replayed? sent at {fields.sent}, stored at {msg.ts}"
        return None


def _cn(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    value = names[0].value if names else ""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    # A self-signed server certificate pinned by the client says CA:TRUE too
    # (openssl req -x509): a CA here is one that is not the server's own leaf.
    return constraints.ca and cert.issuer == cert.subject and _has_cert_sign(cert)


def _has_cert_sign(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    except x509.ExtensionNotFound:
        return False


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _load(path: Path | None) -> dict[str, object]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save(path: Path | None, data: dict[str, object]) -> None:
    """Replace ``path`` atomically (0600): a crash leaves the old file or the new one."""
    if path is None:
        return
    with contextlib.suppress(OSError):  # not kept across runs, but the chat goes on
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out)
        os.replace(temporary, path)


def public_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
