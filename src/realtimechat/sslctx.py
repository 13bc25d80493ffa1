"""An SSLContext's own ``SSL_CTX``, for the two settings Python 3.11 lacks.

``tls.py`` needs OpenSSL's ``SSL_CTX_set1_groups_list`` (Python has
``set_groups`` only from 3.15) and ``SSL_CTX_set_session_cache_mode`` (no
Python at all). Both take the context's ``SSL_CTX*``, which Python keeps
inside the ``SSLContext`` object and never shows.

Reading it out of the object's memory is how a process dies: its offset
depends on the interpreter's build (16 bytes on a normal one, 32 on
free-threaded and trace-refs builds), and a wrong guess hands OpenSSL a
reference count (SIGSEGV). So the object's memory is never read. OpenSSL
itself says where the ``SSL_CTX`` is:

1. The context is created here, while an OpenSSL ex-data "new" callback is
   registered for the ``SSL_CTX`` class: OpenSSL calls it with the address
   of every ``SSL_CTX`` it creates meanwhile, in any thread (``births``).
2. Ours is certainly among them. When it is the only one, it is ours; when
   another thread created a context at the same moment, neither is taken
   and the context is made again (``ATTEMPTS`` times at most).

Any other outcome (``_ssl`` built into the interpreter, a symbol missing, no
lone birth) yields no ``NativeContext``, and ``tls.py`` falls back to what
plain Python can do. OpenSSL is only ever handed an address it reported.
"""

from __future__ import annotations

import _ssl
import ctypes
import functools
import itertools
import ssl
import sys
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any, Final

# From OpenSSL's crypto.h: the ex-data class of SSL_CTX (1 in 1.1.1 and 3.x).
_CRYPTO_EX_INDEX_SSL_CTX: Final = 1
_POINTER: Final = ctypes.sizeof(ctypes.c_void_p)

# crypto.h (OpenSSL 1.1.1 and 3.x): void CRYPTO_EX_new(void *parent, void *ptr,
# CRYPTO_EX_DATA *ad, int idx, long argl, void *argp). ``parent`` is the new
# SSL_CTX; ``argl`` is what we registered, here the window's number.
_ExNew = ctypes.CFUNCTYPE(
    None,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_int,
    ctypes.c_long,
    ctypes.c_void_p,
)


@dataclass(frozen=True, slots=True)
class NativeContext:
    """A context's own ``SSL_CTX`` (proven, see the module docstring) and ``SSL_CTX_ctrl``.

    Valid only while its context lives: use it while building the context,
    never keep it.
    """

    address: int
    _ctrl: Callable[..., int]

    def control(self, command: int, larg: int, parg: bytes | None) -> int:
        """``SSL_CTX_ctrl(ctx, command, larg, parg)``, OpenSSL's setter and getter behind macros."""
        return int(self._ctrl(self.address, command, larg, parg))


class _LibSSL:
    """The OpenSSL of Python's own ``_ssl`` module, through ctypes: one per process."""

    def __init__(self, library: ctypes.CDLL) -> None:
        self.ctrl = library.SSL_CTX_ctrl
        self.ctrl.restype = ctypes.c_long
        self.ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_char_p]
        self._new_index = library.CRYPTO_get_ex_new_index
        self._new_index.restype = ctypes.c_int
        self._new_index.argtypes = [
            ctypes.c_int,
            ctypes.c_long,
            ctypes.c_void_p,
            _ExNew,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        self._free_index = library.CRYPTO_free_ex_index
        self._free_index.restype = ctypes.c_int
        self._free_index.argtypes = [ctypes.c_int, ctypes.c_int]
        # Births by window. Only the window that created a list reads or
        # removes it; OpenSSL's threads only append.
        self._births: dict[int, list[int]] = {}
        self._windows: Iterator[int] = itertools.count(1)
        # One callback for the process, never freed: OpenSSL may still hold a
        # copy of its address just after a window has closed.
        self._callback = _ExNew(self._born)

    def _born(
        self, parent: int | None, _ptr: Any, _ad: Any, _idx: int, window: int, _a: Any
    ) -> None:
        births = self._births.get(window)
        if births is not None and parent:
            births.append(parent)

    def create(self, protocol: ssl._SSLMethod) -> tuple[ssl.SSLContext, list[int]]:
        """``ssl.SSLContext(protocol)``, and the SSL_CTX addresses OpenSSL reported meanwhile."""
        window = next(self._windows)
        births: list[int] = []
        self._births[window] = births
        index = self._new_index(_CRYPTO_EX_INDEX_SSL_CTX, window, None, self._callback, None, None)
        try:
            context = ssl.SSLContext(protocol)
        finally:
            if index >= 0:
                # Nothing calls back into Python after this: a callback into a
                # finalizing interpreter could crash it. OpenSSL keeps the slot
                # as a no-op, one per context built (a few per server process).
                self._free_index(_CRYPTO_EX_INDEX_SSL_CTX, index)
            del self._births[window]
        return context, births if index >= 0 else []


@functools.cache
def _libssl() -> _LibSSL | str:
    """The bindings, or why there are none (the same answer for the whole process)."""
    if sys.implementation.name != "cpython":
        return f"{sys.implementation.name}'s ssl module is not OpenSSL through a C library"
    path = getattr(_ssl, "__file__", None)
    if path is None:
        return "_ssl is built into this interpreter: no separate library to load"
    try:
        return _LibSSL(ctypes.CDLL(path))  # the libssl this Python's ssl module uses
    except (OSError, AttributeError) as exc:
        return f"OpenSSL's functions cannot be loaded from {path}: {exc}"


ATTEMPTS: Final = 3  # contexts made, at most, before giving up on a lone birth


def own_ssl_ctx(births: Collection[int]) -> int | None:
    """The ``SSL_CTX`` OpenSSL reported while our context was made, if it reported just one.

    Our context's is always among ``births``: with one birth, that is it; with
    more, another thread made a context meanwhile, and which is ours is not
    known.
    """
    return next(iter(births)) if len(births) == 1 else None


def create(protocol: ssl._SSLMethod) -> tuple[ssl.SSLContext, NativeContext | str]:
    """A new ``SSLContext`` and its own ``SSL_CTX``, or the reason it is not available."""
    libssl = _libssl()
    if isinstance(libssl, str):
        return ssl.SSLContext(protocol), libssl
    for _ in range(ATTEMPTS):
        context, births = libssl.create(protocol)
        address = own_ssl_ctx(births)
        if address is not None:
            return context, NativeContext(address, libssl.ctrl)
    return context, (
        f"OpenSSL reported {len(births)} SSL_CTX created while this context was made, "
        f"{ATTEMPTS} times in a row, not one"
    )
