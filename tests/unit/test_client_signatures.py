"""What the bundled client believes of a signed message (client/signatures.py), offline."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from realtimechat import pki
from realtimechat.client.signatures import SEQ_FILE, SIGNERS_FILE, Signatures, signed_fields
from realtimechat.pki.folder import CaFolder
from realtimechat.pki.issue import init_ca, issue_client
from realtimechat.pki.revoke import revoke
from realtimechat.protocol import Msg, SendMsg, format_ts
from realtimechat.signing import SIGNING_KEYS, STREAM_MAX, sign, split_seq, stream_seq

pytestmark = pytest.mark.protocol("6.8")

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)  # each test's own: fresh_now


@pytest.fixture(autouse=True)
def fresh_now() -> None:
    """NOW is taken as each test starts, not when the module was imported: the certificates
    a test makes are valid from five minutes before they were made, and a test that runs
    later than that after the import (a long suite, xdist) must still send within that."""
    global NOW  # noqa: PLW0603 (one moment per test, read by every helper of the module)
    NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def signatures(root: Path, name: str, folder: Path | None, *, ca: bool = True) -> Signatures:
    """``name``'s Signatures from the CA folder ``root`` (pinned mode: trusting no CA)."""
    files = CaFolder(root)
    key = pki.load_private_key(files.client_key(name))
    assert isinstance(key, SIGNING_KEYS)
    anchors = [pki.load_certificate(files.ca_cert)] if ca else []
    crls = [x509.load_pem_x509_crl(files.crl.read_bytes())] if files.crl.exists() else []
    return Signatures(key, pki.load_certificate(files.client_cert(name)), anchors, folder, crls)


def delivered(frame: SendMsg, sender: str, msg_id: int, *, ts: dt.datetime | None = None) -> Msg:
    """The msg a server delivers for ``frame`` from ``sender`` (docs/protocol.md 4.2), at
    ``ts`` (NOW if None)."""
    return Msg(
        id=msg_id,
        ts=format_ts(ts or NOW),
        from_=sender,
        text=frame.text,
        to=frame.to,
        action=frame.action,
        room=frame.room if frame.room != "lobby" else None,
        sig=frame.sig,
        ref=frame.ref,
        fp=frame.fp,
        sent=frame.sent,
        seq=frame.seq,
    )


@pytest.fixture
def ca(tmp_path: Path) -> Path:
    root = tmp_path / "ca"
    init_ca(root, "chatserver", ["127.0.0.1"])
    for name in ("alice", "bob", "mallory"):
        issue_client(root, name)
    return root


def reader_of(ca: Path, tmp_path: Path, alice: Signatures) -> Signatures:
    bob = signatures(ca, "bob", tmp_path / "bob")
    bob.learn(alice.fp, pem(alice))
    return bob


def pem(of: Signatures) -> str:
    """The certificate ``of`` signs with, as the server's ``cert`` answer carries it."""
    return of.cert.public_bytes(Encoding.PEM).decode()


def test_a_signed_message_verifies_and_any_change_by_the_server_does_not(
    ca: Path, tmp_path: Path
) -> None:
    """bob verifies alice's message; changed text, sender, room or recipient, never."""
    alice = signatures(ca, "alice", tmp_path / "alice")
    bob = reader_of(ca, tmp_path, alice)
    frame = alice.sign(SendMsg(text="hi", ref="r1", room="#ops"), "alice", NOW)
    assert bob.judge(delivered(frame, "alice", 1)).verified
    tampered = [
        dataclasses.replace(frame, text="hi!", ref="r2"),
        dataclasses.replace(frame, room="#other", ref="r3"),
        dataclasses.replace(frame, room=None, to="bob", ref="r4"),
    ]
    for n, changed in enumerate(tampered, 2):
        verdict = bob.judge(delivered(changed, "alice", n))
        assert (verdict.verified, verdict.reason) == (
            False,
            "the signature does not match: altered or forged",
        )
    renamed = bob.judge(delivered(dataclasses.replace(frame, ref="r5"), "mallory", 9))
    assert not renamed.verified


def test_unsigned_unknown_and_foreign_certificates_are_not_verified(
    ca: Path, tmp_path: Path
) -> None:
    """No signature, a certificate the server withheld, or one of another CA: not verified."""
    alice = signatures(ca, "alice", tmp_path / "alice")
    bob = reader_of(ca, tmp_path, alice)
    assert bob.judge(Msg(id=1, ts=format_ts(NOW), from_="alice", text="x")).reason == "unsigned"
    other = tmp_path / "other"
    init_ca(other, "chatserver", ["127.0.0.1"])
    issue_client(other, "alice")
    forger = signatures(other, "alice", None)
    forged = delivered(forger.sign(SendMsg(text="x", ref="f"), "alice", NOW), "alice", 2)
    assert bob.needs(forged) == forger.fp
    assert bob.judge(forged).reason == "the server does not give the signer's certificate"
    bob.learn(forger.fp, pem(forger))
    assert bob.judge(forged).reason == "its certificate is not from your CA"


def test_a_certificate_under_the_wrong_fingerprint_is_not_learnt(ca: Path, tmp_path: Path) -> None:
    """A server answering cert {fp} with another certificate teaches nothing."""
    alice = signatures(ca, "alice", None)
    bob = signatures(ca, "bob", None)
    assert not bob.learn(alice.fp, pem(bob))
    assert alice.fp not in bob.certs


def test_a_name_the_certificate_does_not_give_is_not_verified(ca: Path, tmp_path: Path) -> None:
    """mallory's own valid signature under the name alice (claim mode) is flagged."""
    mallory = signatures(ca, "mallory", None)
    bob = reader_of(ca, tmp_path, mallory)
    msg = delivered(mallory.sign(SendMsg(text="I am alice", ref="m"), "alice", NOW), "alice", 1)
    assert bob.judge(msg).reason == "the certificate is 'mallory''s, not 'alice''s"


def test_a_replay_and_a_withheld_message_are_told(ca: Path, tmp_path: Path) -> None:
    """The same message under a new id is a replay; a skipped sequence number is counted."""
    alice = signatures(ca, "alice", tmp_path / "alice")
    bob = reader_of(ca, tmp_path, alice)
    first, second, third = (
        alice.sign(SendMsg(text=f"m{n}", ref=f"r{n}"), "alice", NOW) for n in range(3)
    )
    assert [split_seq(m.seq or 0) for m in (first, second, third)] == [
        (alice.stream, n) for n in (1, 2, 3)
    ]
    assert bob.judge(delivered(first, "alice", 1)).missing == 0
    later = bob.judge(delivered(third, "alice", 3))  # second withheld
    assert (later.verified, later.missing) == (True, 1)
    replayed = bob.judge(delivered(first, "alice", 4))
    assert (replayed.verified, replayed.reason) == (
        False,
        "replayed: the same message came before as #1",
    )
    old = alice.sign(SendMsg(text="old", ref="r9"), "alice", NOW)
    stored_late = delivered(old, "alice", 5, ts=NOW + dt.timedelta(hours=1))
    assert (bob.judge(stored_late).reason or "").startswith("replayed? sent at")


def test_sequence_numbers_count_per_conversation_and_survive_a_restart(
    ca: Path, tmp_path: Path
) -> None:
    """Each room, the lobby and each private pair count apart, kept in the state folder."""
    folder = tmp_path / "alice"
    alice = signatures(ca, "alice", folder)
    seqs = [
        alice.sign(SendMsg(text="x", room=room, to=to), "alice", NOW).seq or 0
        for room, to in ((None, None), ("#ops", None), (None, "bob"), ("lobby", None))
    ]
    assert [split_seq(seq) for seq in seqs] == [(alice.stream, n) for n in (1, 1, 1, 2)]
    alice.close()
    again = signatures(ca, "alice", folder)
    assert split_seq(again.sign(SendMsg(text="x"), "alice", NOW).seq or 0) == (alice.stream, 3)
    assert (folder / SEQ_FILE).stat().st_mode & 0o777 == 0o600


def test_a_renewed_certificate_verifies_and_so_do_the_old_ones_messages(
    ca: Path, tmp_path: Path
) -> None:
    """alice renewed (new key): new messages verify, and the old one still does."""
    alice = signatures(ca, "alice", None)
    old = alice.sign(SendMsg(text="before", ref="a"), "alice", NOW)
    issue_client(ca, "alice", force=True)
    renewed = signatures(ca, "alice", None)
    assert renewed.fp != alice.fp
    new = renewed.sign(SendMsg(text="after", ref="b"), "alice", NOW)
    bob = reader_of(ca, tmp_path, alice)
    bob.learn(renewed.fp, pem(renewed))
    assert [bob.judge(delivered(m, "alice", n)).verified for n, m in ((1, old), (2, new))] == [
        True,
        True,
    ]


def test_a_revoked_certificates_later_messages_fail(ca: Path, tmp_path: Path) -> None:
    """With the CRL, alice's message from before the revocation verifies; one after fails."""
    alice = signatures(ca, "alice", None)
    before = alice.sign(SendMsg(text="before", ref="a"), "alice", NOW - dt.timedelta(minutes=2))
    revoke(ca, "alice")
    after = alice.sign(
        SendMsg(text="after", ref="b"), "alice", dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    )
    bob = reader_of(ca, tmp_path, alice)
    assert bob.crls
    verdicts = [
        bob.judge(delivered(before, "alice", 1, ts=NOW - dt.timedelta(minutes=2))),
        bob.judge(delivered(after, "alice", 2, ts=dt.datetime.now(dt.UTC))),
    ]
    assert [(v.verified, v.reason) for v in verdicts] == [
        (True, None),
        (False, "its certificate was revoked before it was sent"),
    ]


def test_pinned_mode_remembers_the_first_certificate_and_warns_at_a_change(
    ca: Path, tmp_path: Path
) -> None:
    """Without a CA, the first certificate seen for alice is kept; another one is a warning."""
    alice = signatures(ca, "alice", None, ca=False)
    folder = tmp_path / "bob"
    bob = signatures(ca, "bob", folder, ca=False)
    assert bob.mode == "pinned"
    bob.learn(alice.fp, pem(alice))
    first = delivered(alice.sign(SendMsg(text="hi", ref="a"), "alice", NOW), "alice", 1)
    assert bob.judge(first).verified
    assert json.loads((folder / SIGNERS_FILE).read_text()) == {"alice": alice.fp}
    mallory = signatures(ca, "mallory", None, ca=False)
    again = signatures(ca, "bob", folder, ca=False)  # the pin survives a restart
    again.learn(mallory.fp, pem(mallory))
    forged = delivered(mallory.sign(SendMsg(text="hi", ref="b"), "alice", NOW), "alice", 2)
    verdict = again.judge(forged)
    assert (verdict.verified, verdict.pin_changed) == (False, True)
    assert (verdict.reason or "").startswith("CERTIFICATE CHANGED")


def test_two_devices_of_one_certificate_interleave_without_a_false_gap(
    ca: Path, tmp_path: Path
) -> None:
    """alice's laptop and phone (one certificate, two state folders) take apart: nothing missing."""
    laptop = signatures(ca, "alice", tmp_path / "laptop")
    phone = signatures(ca, "alice", tmp_path / "phone")
    assert (laptop.fp, laptop.stream != phone.stream) == (phone.fp, True)
    bob = reader_of(ca, tmp_path, laptop)
    order = (laptop, laptop, phone, laptop, phone, phone, laptop)  # one count: 1 2 1 3 ...
    sent = [
        device.sign(SendMsg(text=f"m{n}", ref=f"r{n}"), "alice", NOW)
        for n, device in enumerate(order)
    ]
    verdicts = [bob.judge(delivered(m, "alice", n)) for n, m in enumerate(sent, 1)]
    assert [(v.verified, v.missing) for v in verdicts] == [(True, 0)] * len(order)


def test_a_gap_within_one_devices_stream_is_told_among_the_others(ca: Path, tmp_path: Path) -> None:
    """The laptop's second message withheld while the phone talks: told once, as one."""
    laptop = signatures(ca, "alice", tmp_path / "laptop")
    phone = signatures(ca, "alice", tmp_path / "phone")
    bob = reader_of(ca, tmp_path, laptop)
    l1, p1, _l2, p2, l3 = (
        device.sign(SendMsg(text=text, ref=text), "alice", NOW)
        for device, text in (
            (laptop, "l1"),
            (phone, "p1"),
            (laptop, "l2"),
            (phone, "p2"),
            (laptop, "l3"),
        )
    )
    verdicts = [bob.judge(delivered(m, "alice", n)) for n, m in enumerate((l1, p1, p2, l3), 1)]
    assert [(v.verified, v.missing) for v in verdicts] == [
        (True, 0),
        (True, 0),
        (True, 0),
        (True, 1),
    ]


def test_a_stream_that_starts_again_is_followed_from_where_it_is(ca: Path, tmp_path: Path) -> None:
    """Within one stream a count back at 1 (its file lost) is no replay and no gap; the next
    gap after it is told. A sender without streams (seq below 2**32) counts as stream 0."""
    alice = signatures(ca, "alice", None)
    bob = reader_of(ca, tmp_path, alice)

    def signed(stream: int, count: int, n: int) -> Msg:
        frame = alice.sign(SendMsg(text=f"m{n}", ref=f"r{n}"), "alice", NOW)
        fields = signed_fields(delivered(frame, "alice", n))
        assert fields is not None
        again = dataclasses.replace(fields, seq=stream_seq(stream, count))
        return dataclasses.replace(
            delivered(frame, "alice", n), seq=again.seq, sig=sign(alice.key, again)
        )

    steps = [(STREAM_MAX, 1), (STREAM_MAX, 2), (STREAM_MAX, 1), (STREAM_MAX, 3), (0, 5), (0, 7)]
    verdicts = [bob.judge(signed(stream, count, n)) for n, (stream, count) in enumerate(steps, 1)]
    assert [(v.verified, v.missing) for v in verdicts] == [
        (True, 0),
        (True, 0),
        (True, 0),  # started again: followed from 1
        (True, 1),  # so 2 of the new start is missing
        (True, 0),  # stream 0, an old client: first seen
        (True, 1),
    ]


def test_a_second_client_on_one_folder_takes_a_stream_of_its_own(ca: Path, tmp_path: Path) -> None:
    """A bot and a terminal on one state folder: the second signs on another stream, unsaved."""
    folder = tmp_path / "alice"
    terminal = signatures(ca, "alice", folder)
    bot = signatures(ca, "alice", folder)
    assert terminal.stream != bot.stream
    terminal.sign(SendMsg(text="t"), "alice", NOW)
    bot.sign(SendMsg(text="b"), "alice", NOW)
    kept = json.loads((folder / SEQ_FILE).read_text())
    assert kept["stream"] == terminal.stream
    bot.close()
    terminal.close()
    assert signatures(ca, "alice", folder).stream == terminal.stream


def test_a_seq_file_from_before_streams_starts_a_new_stream_at_one(
    ca: Path, tmp_path: Path
) -> None:
    """Its counts were stream 0's: the upgraded client counts a stream of its own from 1."""
    folder = tmp_path / "alice"
    alice = signatures(ca, "alice", None)
    folder.mkdir()
    (folder / SEQ_FILE).write_text(json.dumps({alice.fp: {"room:lobby": 41}}))
    upgraded = signatures(ca, "alice", folder)
    stream, count = split_seq(upgraded.sign(SendMsg(text="x"), "alice", NOW).seq or 0)
    assert (stream >= 1, count) == (True, 1)
