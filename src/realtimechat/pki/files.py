"""Writing files safely: every write is planned (and refused) first, then done atomically.

Files are written atomically (write, fsync, rename) and never overwritten
unless the caller passes ``force``: private keys 0600, certificates 0644,
folders 0700. Each operation returns what it did to each file as
:class:`Written` records, so the command can report every file.
"""

from __future__ import annotations

import os
import secrets
import shlex
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from realtimechat.errors import PKIError

KEY_MODE: Final = 0o600
CERT_MODE: Final = 0o644
DIR_MODE: Final = 0o700

#: What an operation did to a file: a new file, one it replaced (``force``,
#: or the certificate of a revoked user), a record it updated (index, CRL),
#: a file that already held exactly this, or one it removed.
Action = Literal["wrote", "replaced", "updated", "unchanged", "removed"]


@dataclass(frozen=True)
class Written:
    """One file an operation wrote, replaced, left unchanged or removed."""

    path: Path
    action: Action
    note: str = ""


@dataclass(frozen=True)
class _Put:
    """A file to write: decided (and refused) before any file is written."""

    path: Path
    data: bytes
    mode: int
    action: Action
    note: str = ""


def _same_file(path: Path, data: bytes, mode: int) -> bool:
    """Whether ``path`` is a regular file holding exactly ``data`` with ``mode``."""
    try:
        info = os.lstat(path)
        return (
            stat.S_ISREG(info.st_mode)
            and stat.S_IMODE(info.st_mode) == mode
            and Path(path).read_bytes() == data
        )
    except OSError:
        return False


def _plan(
    path: Path,
    data: bytes,
    mode: int,
    *,
    force: bool = False,
    replaceable: bool = False,
    hint: str = " (pass --force to replace it)",
    note: str = "",
) -> _Put:
    """Decide what writing ``data`` to ``path`` means, or raise PKIError if it may not.

    A new file is written; a file with the same bytes and mode is left
    unchanged; any other existing file is replaced only with ``force`` (or
    when ``replaceable``, which callers set for a revoked user's files).
    """
    if not os.path.lexists(path):
        return _Put(path, data, mode, "wrote", note)
    if _same_file(path, data, mode):
        return _Put(path, data, mode, "unchanged", note)
    if os.path.isdir(path) and not os.path.islink(path):
        raise PKIError(f"{path} is a folder")
    if force or replaceable:
        return _Put(path, data, mode, "replaced", note)
    raise PKIError(f"{path} already exists; refusing to overwrite it{hint}")


def _check_writable(
    path: Path,
    *,
    force: bool = False,
    replaceable: bool = False,
    hint: str = " (pass --force to replace it)",
) -> None:
    """Raise PKIError now if writing ``path`` would overwrite a file it may not.

    The same rule as :func:`_plan`, checked before keys are generated, so a
    refusal is quick and leaves everything as it was.
    """
    if os.path.lexists(path) and not (force or replaceable):
        raise PKIError(f"{path} already exists; refusing to overwrite it{hint}")
    if os.path.isdir(path) and not os.path.islink(path):
        raise PKIError(f"{path} is a folder")


def _carry_out(
    puts: Sequence[_Put], folders: Sequence[Path] = (), removals: Sequence[Path] = ()
) -> list[Written]:
    """Create ``folders`` (0700), write ``puts`` in order, remove ``removals``.

    If a write fails, the files and folders created so far are removed again
    (a replaced file cannot be put back, so callers write new files first).
    """
    with _undo_on_error() as created:
        for folder in folders:
            _make_dir(folder, created)
        for put in puts:
            if put.action == "unchanged":
                continue
            _write_file(put.path, put.data, put.mode, replace=put.action != "wrote")
            if put.action == "wrote":
                created.append(put.path)
    done = [Written(put.path, put.action, put.note) for put in puts]
    for path in removals:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise PKIError(f"cannot remove {path}: {exc.strerror or exc}") from exc
        done.append(Written(path, "removed"))
    return done


def _check_private_folder(folder: Path) -> None:
    """Refuse to put a private key in an existing folder that others may open.

    Folders we create are 0700; an existing one with group or other access
    (``--out .`` in a shared folder, say) would expose the key's name and, on
    some systems, let others replace it.
    """
    try:
        info = os.stat(folder)
    except FileNotFoundError:
        return  # it will be created 0700
    except OSError as exc:
        raise PKIError(f"cannot use the folder {folder}: {exc.strerror or exc}") from exc
    if not stat.S_ISDIR(info.st_mode):
        raise PKIError(f"{folder} exists and is not a folder")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise PKIError(
            f"{folder} can be opened by other users (mode {mode:04o}): private keys go in a "
            f"folder only you can open; choose a new folder (it is created with mode 0700) "
            f"or run `chmod 700 {shlex.quote(str(folder))}`"
        )


def _fsync_dir(folder: Path) -> None:
    """Make a new directory entry durable: fsync of the file alone does not."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes, mode: int, *, replace: bool = False) -> None:
    """Write ``data`` to ``path`` atomically with exactly ``mode``.

    The data goes to a fresh temporary file in the same folder (O_EXCL, so
    never someone else's file), is fsynced, and then gets its final name:
    with ``os.link``, which fails if ``path`` exists (even as a dangling
    symlink), so a file is never overwritten even by a race; or, for
    ``replace=True`` (the index), with ``os.replace``.
    """
    if not replace and os.path.lexists(path):
        raise PKIError(f"{path} already exists; refusing to overwrite it")
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    except OSError as exc:
        raise PKIError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)  # the umask must not change what we promise
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    except FileExistsError as exc:
        raise PKIError(f"{path} already exists; refusing to overwrite it") from exc
    except OSError as exc:
        raise PKIError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    try:
        _fsync_dir(path.parent)
    except OSError as exc:
        if not replace:
            path.unlink(missing_ok=True)  # ours: linked just above; do not leave it half-durable
        raise PKIError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _make_dir(path: Path, created: list[Path]) -> None:
    """Create ``path`` (and parents) if missing, with mode 0700; record it in ``created``."""
    if path.is_dir():
        return
    if os.path.lexists(path):
        raise PKIError(f"{path} exists and is not a folder")
    try:
        path.mkdir(mode=DIR_MODE, parents=True)
        os.chmod(path, DIR_MODE)  # mkdir's mode is filtered by the umask
    except OSError as exc:
        raise PKIError(f"cannot create the folder {path}: {exc.strerror or exc}") from exc
    created.append(path)


@contextmanager
def _undo_on_error() -> Iterator[list[Path]]:
    """Yield a list of created paths; if the block fails, remove them again.

    So a failed ``init`` or ``issue`` leaves no half-made CA or client behind
    that would block the next attempt.
    """
    created: list[Path] = []
    try:
        yield created
    except BaseException:
        for path in reversed(created):
            try:
                if path.is_dir():
                    path.rmdir()
                else:
                    path.unlink(missing_ok=True)
            except OSError:
                pass  # best effort: the original error is the one to report
        raise


def same_folder(one: Path, other: Path) -> bool:
    """Whether two paths name the same place once resolved (False if either cannot be)."""
    try:
        return one.resolve() == other.resolve()
    except OSError:
        return False


def _refuse_existing(paths: Sequence[Path]) -> None:
    """Raise PKIError naming the first of ``paths`` that already exists."""
    for path in paths:
        if os.path.lexists(path):
            raise PKIError(f"{path} already exists; refusing to overwrite it")
