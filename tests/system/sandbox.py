"""The sandbox of contrib/systemd/rtchat-server.service, put on a child process without systemd.

systemd is not the init of every machine the tests run on (a container's is
not), so the settings that could break CPython, uvloop or OpenSSL through
ctypes are applied the way systemd applies them, from the unit file itself:

* ``SystemCallFilter=``: a seccomp filter allowing the syscalls of the
  groups named, less those of the ``~`` groups (``systemd-analyze
  syscall-filter`` lists them), made with libseccomp through ctypes;
* ``RestrictAddressFamilies=``: ``socket()`` of another family fails with
  EAFNOSUPPORT, as systemd makes it;
* ``MemoryDenyWriteExecute=yes``: the kernel's own equivalent,
  ``prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN)`` (Linux 6.3): no mapping
  both writable and executable, none made executable later.

Stricter than the unit in one way: a syscall outside the filter kills the
process (the unit's ``SystemCallErrorNumber=EPERM`` would let it fail
quietly), so a test sees any the server needs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import re
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

SCMP_ACT_KILL_PROCESS: Final = 0x80000000
SCMP_ACT_ALLOW: Final = 0x7FFF0000
SCMP_CMP_EQ: Final = 4
SCMP_CMP_GT: Final = 6
PR_SET_MDWE: Final = 65
PR_MDWE_REFUSE_EXEC_GAIN: Final = 1
# SQLite, run as root, chowns its -wal and -shm files to the database's owner;
# the unit runs as rtchat, where it does not (and EPERM would be ignored).
AS_ROOT_ONLY: Final = frozenset({"fchown"})


def scmp_act_errno(number: int) -> int:
    return 0x00050000 | (number & 0xFFFF)


class ArgCmp(ctypes.Structure):
    """libseccomp's ``struct scmp_arg_cmp``."""

    _fields_ = (
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    )


def unit_settings(unit: Path) -> dict[str, list[str]]:
    """Each ``Key=value`` of the unit, every value of a key repeated, in order."""
    settings: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        found = re.match(r"(\w+)=(.*)", line)
        if found:
            settings.setdefault(found.group(1), []).append(found.group(2))
    return settings


def syscall_groups() -> dict[str, list[str]]:
    """``systemd-analyze syscall-filter``: each @group and its members (syscalls or @groups)."""
    listing = subprocess.run(
        ["systemd-analyze", "syscall-filter"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    groups: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in listing.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), [])
        elif not line.strip():
            current = None
        elif current is not None and not line.strip().startswith("#"):
            current.append(line.strip())
    return groups


def members(name: str, groups: dict[str, list[str]]) -> set[str]:
    """The syscalls of ``name`` (a syscall, or a @group with its groups expanded)."""
    if not name.startswith("@"):
        return {name}
    found: set[str] = set()
    for member in groups[name]:
        found |= members(member, groups)
    return found


def allowed_syscalls(filters: list[str], groups: dict[str, list[str]]) -> set[str]:
    """What ``SystemCallFilter=`` lines allow: the allow-list, less each ``~`` line's."""
    allowed: set[str] = set()
    for line in filters:
        if line.startswith("~"):
            for name in line[1:].split():
                allowed -= members(name, groups)
        else:
            for name in line.split():
                allowed |= members(name, groups)
    return allowed


@dataclass(frozen=True)
class Sandbox:
    """A ``preexec_fn``: the unit's syscall filter, address families and MDWE, then exec."""

    syscalls: frozenset[str]
    families: frozenset[int]
    deny_write_execute: bool

    @classmethod
    def of(cls, unit: Path) -> Sandbox:
        settings = unit_settings(unit)
        syscalls = allowed_syscalls(settings.get("SystemCallFilter", []), syscall_groups())
        if os.geteuid() == 0:
            syscalls |= AS_ROOT_ONLY
        (families,) = settings["RestrictAddressFamilies"]
        return cls(
            syscalls=frozenset(syscalls),
            families=frozenset(getattr(socket, name) for name in families.split()),
            deny_write_execute=settings.get("MemoryDenyWriteExecute") == ["yes"],
        )

    def __call__(self) -> None:
        """In the child, between fork and exec."""
        lib = _libseccomp()
        context = lib.seccomp_init(SCMP_ACT_KILL_PROCESS)
        if not context:
            raise OSError("seccomp_init failed")
        for name in sorted(self.syscalls - {"socket"}):
            number = lib.seccomp_syscall_resolve_name(name.encode())
            if number >= 0:  # not a syscall of this architecture otherwise
                _add(lib, context, SCMP_ACT_ALLOW, number)
        number = lib.seccomp_syscall_resolve_name(b"socket")
        refused = scmp_act_errno(errno.EAFNOSUPPORT)
        highest = max(self.families)
        for family in range(highest + 1):
            action = SCMP_ACT_ALLOW if family in self.families else refused
            _add(lib, context, action, number, ArgCmp(0, SCMP_CMP_EQ, family, 0))
        _add(lib, context, refused, number, ArgCmp(0, SCMP_CMP_GT, highest, 0))
        if self.deny_write_execute:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_SET_MDWE)")
        if lib.seccomp_load(context) != 0:
            raise OSError("seccomp_load failed")


def _libseccomp() -> ctypes.CDLL:
    lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2")
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(ArgCmp),
    ]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    return lib


def _add(
    lib: ctypes.CDLL, context: int, action: int, number: int, compare: ArgCmp | None = None
) -> None:
    count, array = (0, None) if compare is None else (1, ctypes.pointer(compare))
    result = lib.seccomp_rule_add_array(context, action, number, count, array)
    if result != 0:
        raise OSError(-result, f"seccomp_rule_add_array({number})")


def why_not() -> str | None:
    """Why the sandbox cannot be put on a process here, or None."""
    if shutil.which("systemd-analyze") is None:
        return "no systemd-analyze (to list the syscall groups)"
    if ctypes.util.find_library("seccomp") is None:
        return "no libseccomp"
    probe = subprocess.run(  # in a child: MDWE cannot be undone
        [
            sys.executable,
            "-c",
            "import ctypes, sys; sys.exit(ctypes.CDLL(None).prctl(65, 1, 0, 0, 0) != 0)",
        ],
        check=False,
        timeout=30,
    )
    if probe.returncode != 0:
        return "no prctl(PR_SET_MDWE) (Linux 6.3 or later)"
    return None
