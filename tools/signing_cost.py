"""What signed messages cost a client: CPU per signature and per judged message, and bytes.

Run: .venv/bin/python tools/signing_cost.py [KEY_TYPE] (ec-p256, ed25519, rsa-3072, rsa-4096).
Makes a throwaway CA in a temporary folder; prints one line per figure
(docs/performance.md, "Signed messages").
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

from realtimechat import pki
from realtimechat.client.signatures import Signatures
from realtimechat.pki.folder import CaFolder
from realtimechat.pki.issue import init_ca, issue_client
from realtimechat.pki.keys import KEY_TYPES
from realtimechat.protocol import Msg, SendMsg, encode, format_ts
from realtimechat.signing import SIGNING_KEYS

COUNT = 2000


def signatures(folder: CaFolder, name: str) -> Signatures:
    key = pki.load_private_key(folder.client_key(name))
    assert isinstance(key, SIGNING_KEYS)
    anchors = [pki.load_certificate(folder.ca_cert)]
    return Signatures(key, pki.load_certificate(folder.client_cert(name)), anchors, None)


def main(key_type: str) -> None:
    if key_type not in KEY_TYPES:
        sys.exit(f"signing_cost: unknown key type {key_type!r} (one of {', '.join(KEY_TYPES)})")
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary) / "ca"
        init_ca(root, "chatserver", ["127.0.0.1"])
        issue_client(root, "alice", key_type=key_type)  # type: ignore[arg-type]
        issue_client(root, "bob")
        folder = CaFolder(root)
        alice, bob = signatures(folder, "alice"), signatures(folder, "bob")
    bob.certs[alice.fp] = alice.cert
    now = dt.datetime.now(dt.UTC)
    start = time.process_time()
    frames = [
        alice.sign(SendMsg(text=f"message {n} of an ordinary length", ref=f"r{n}"), "alice", now)
        for n in range(COUNT)
    ]
    signed = (time.process_time() - start) / COUNT
    msgs = [
        Msg(
            n + 1,
            format_ts(now),
            "alice",
            f.text,
            sig=f.sig,
            ref=f.ref,
            fp=f.fp,
            sent=f.sent,
            seq=f.seq,
        )
        for n, f in enumerate(frames)
    ]
    start = time.process_time()
    verified = sum(bob.judge(msg).verified for msg in msgs)
    judged = (time.process_time() - start) / COUNT
    plain = len(encode(SendMsg(text="message 1 of an ordinary length", ref="r1")))
    print(f"key: {key_type}; messages: {COUNT}, verified: {verified}")
    print(f"sign: {signed * 1e6:.0f} us CPU per message")
    print(f"judge (signature, CA, validity, name, replay): {judged * 1e6:.0f} us CPU per message")
    print(f"msg frame: {plain} bytes unsigned, {len(encode(frames[1]))} signed")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "ec-p256")
