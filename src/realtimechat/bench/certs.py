"""Client certificates for the benchmark's connections.

Two sources: throwaway certificates issued from a CA (``--ca-dir``, or the
CA that ``--spawn`` makes) into the run's temporary folder, or the existing
client certificates of a folder (``--pki``), used round-robin.

Throwaway certificates are issued with ``pki.issue_client`` into copies of
the CA (``ca.crt`` and ``ca.key``) inside the temporary folder, a few dozen
per copy: the CA folder the user named is only read, its ``index.json``
stays as it was, and the copies vanish with the temporary folder. They are
valid for one day.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from .. import pki
from ..errors import PKIError
from ..tls import ClientFiles

#: Certificates per CA copy: ``issue_client`` rereads the whole index each time.
_PER_COPY: Final = 64
_DAYS: Final = 1
_NOT_CLIENTS: Final = frozenset({"ca.crt", "server.crt"})


@dataclass(frozen=True, slots=True)
class IssueFrom:
    """Issue throwaway certificates ``PREFIX0``, ``PREFIX1``, ... from a CA folder."""

    ca_dir: Path
    folder: Path  # where the copies of the CA go (inside the run's temporary folder)
    prefix: str


@dataclass(frozen=True, slots=True)
class Existing:
    """Use the client certificates already in a folder, round-robin."""

    ca_cert: Path
    pairs: tuple[tuple[Path, Path], ...]  # (certificate, key)


CertSource = IssueFrom | Existing


def existing_clients(root: Path) -> Existing:
    """The usable client certificates of ``root``, trusting ``root/ca.crt``.

    They are ``root/clients/NAME.crt`` (a CA folder), or else ``root/NAME.crt``
    (a user folder; ``ca.crt`` and ``server.crt`` are not clients), each with
    ``NAME.key`` beside it. Expired ones are skipped. Raises PKIError when
    nothing usable is left.
    """
    check_pki_dir(root)
    folder = pki.CaFolder(root)
    where = folder.clients_dir if folder.clients_dir.is_dir() else root
    now = dt.datetime.now(dt.UTC)
    pairs = []
    for cert in sorted(where.glob("*.crt")):
        key = cert.with_suffix(".key")
        if cert.name in _NOT_CLIENTS or not key.is_file():
            continue
        if pki.load_certificate(cert).not_valid_after_utc > now:
            pairs.append((cert, key))
    if not pairs:
        raise PKIError(
            f"no client certificate with its key in {where} (NAME.crt and NAME.key, not expired)"
        )
    return Existing(ca_cert=folder.ca_cert, pairs=tuple(pairs))


def check_pki_dir(root: Path) -> None:
    """Raise PKIError unless ``root`` holds the CA certificate that ``--pki`` trusts."""
    ca_cert = pki.CaFolder(root).ca_cert
    if not ca_cert.is_file():
        raise PKIError(f"{ca_cert} does not exist: --pki needs a folder with ca.crt")


def check_ca_dir(root: Path) -> None:
    """Raise PKIError unless ``root`` holds a CA certificate and its key."""
    folder = pki.CaFolder(root)
    for path in (folder.ca_cert, folder.ca_key):
        if not path.is_file():
            raise PKIError(
                f"{path} does not exist: --ca-dir needs the CA folder that "
                "`rtchat-certs init` made (with ca.crt and ca.key)"
            )


def trust_file(source: CertSource) -> Path:
    """The CA certificate the clients check the server against."""
    if isinstance(source, IssueFrom):
        return pki.CaFolder(source.ca_dir).ca_cert
    return source.ca_cert


def client_files(source: CertSource, worker: int, indices: Sequence[int]) -> dict[int, ClientFiles]:
    """Certificate, key and trust file for each client index of one worker.

    For ``IssueFrom`` this issues the certificates (into copies of the CA
    private to ``worker``, so that workers never write the same index).
    """
    if isinstance(source, Existing):
        return {
            index: ClientFiles(
                cert=source.pairs[index % len(source.pairs)][0],
                key=source.pairs[index % len(source.pairs)][1],
                ca=source.ca_cert,
            )
            for index in indices
        }
    files = {}
    ca = pki.CaFolder(source.ca_dir)
    for position, index in enumerate(indices):
        copy = source.folder / f"w{worker}-{position // _PER_COPY}"
        if position % _PER_COPY == 0:
            _copy_ca(ca, copy)
        name = f"{source.prefix}{index}"
        pki.issue_client(copy, name, days=_DAYS)
        folder = pki.CaFolder(copy)
        files[index] = ClientFiles(
            cert=folder.client_cert(name), key=folder.client_key(name), ca=ca.ca_cert
        )
    return files


def _copy_ca(ca: pki.CaFolder, root: Path) -> None:
    """A private folder holding copies of the CA certificate and key, to issue from."""
    root.mkdir(mode=0o700, parents=True)
    copy = pki.CaFolder(root)
    shutil.copyfile(ca.ca_cert, copy.ca_cert)
    shutil.copyfile(ca.ca_key, copy.ca_key)
    os.chmod(copy.ca_key, pki.KEY_MODE)
