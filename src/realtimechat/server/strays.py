"""A newer crl.pem one folder too deep: the copy that fails open in silence.

`scp -rp server-folder host:.config/rtchat/server` makes the server's
folder the first time; run again after a revoke, it puts the folder
*inside* the old one (server/server-folder/crl.pem), the server keeps
reading its own, older crl.pem, and the revoked user keeps getting in.
The server cannot know which CRL the admin meant, so it keeps its own and
warns, naming both and the command that puts the newer one in place: at
start, and on each look of the file watch, once for each change of those
files (not at every look).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from ..errors import PKIError
from ..pki import load_crl

# inode, size, mtime, ctime of each crl.pem looked at: a change in any is a change.
_State = tuple[tuple[str, int, int, int, int], ...]


@dataclass(frozen=True, slots=True)
class _Crl:
    path: Path
    number: int | None
    revoked: int
    crl: x509.CertificateRevocationList

    def newer_than(self, other: _Crl) -> bool:
        """The same CA's, and signed later: a higher CRL number (or last update, without one)."""
        if self.crl.issuer != other.crl.issuer:
            return False
        if self.number is not None and other.number is not None:
            return self.number > other.number
        return self.crl.last_update_utc > other.crl.last_update_utc


class StrayCrlWatch:
    """Warns when a subfolder of the CRL's folder holds a newer CRL of the same CA."""

    def __init__(self, crl: Path | None, log: logging.Logger) -> None:
        self.crl = crl
        self.log = log
        self._seen: _State | None = None

    def check(self) -> None:
        """Look (cheaply: stat only, unless something changed) and warn once per change."""
        if self.crl is None:
            return
        candidates = [self.crl, *sorted(self.crl.parent.glob("*/crl.pem"))]
        state = _state(candidates)
        if state == self._seen:
            return
        self._seen = state
        ours = _read(self.crl)
        if ours is None:
            return  # no usable CRL of its own: loading it says so
        for path in candidates[1:]:
            other = _read(path)
            if other is not None and other.newer_than(ours):
                self.log.warning("%s", _warning(other, ours))


def _state(paths: list[Path]) -> _State:
    found = []
    for path in paths:
        try:
            status = path.stat()
        except OSError:
            continue
        found.append(
            (str(path), status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)
        )
    return tuple(found)


def _read(path: Path) -> _Crl | None:
    try:
        crl = load_crl(path)
    except PKIError:
        return None
    try:
        number: int | None = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        number = None
    return _Crl(path, number, len(crl), crl)


def _warning(newer: _Crl, ours: _Crl) -> str:
    def described(item: _Crl) -> str:
        number = f"number {item.number}, " if item.number is not None else ""
        return f"({number}{item.revoked} revoked)"

    return (
        f"{newer.path} is a newer CRL {described(newer)} than the one in use, {ours.path} "
        f"{described(ours)}: a copy went into a subfolder? The server reads {ours.path} only: "
        f"`cp -p {newer.path} {ours.path}` (and copy a server folder's contents, "
        "`scp -p DIR/* HOST:.config/rtchat/server/`)"
    )
