"""An SSLContext's own ``SSL_CTX``, for the two settings Python 3.11 lacks.

``tls.py`` needs OpenSSL's ``SSL_CTX_set1_groups_list`` (Python has
``set_groups`` only from 3.15) and ``SSL_CTX_set_session_cache_mode`` (no
Python at all). Both take the context's ``SSL_CTX*``, which Python keeps
inside the ``SSLContext`` object and never shows.

Guessing where it sits is how a process dies: the pointer follows the
object header, 16 bytes on a normal build but 32 on free-threaded and
trace-refs builds, and a 16 assumed there reads a reference count that
OpenSSL then dereferences (SIGSEGV). So nothing is assumed, and nothing is
handed to OpenSSL until it is proven to be this context's own ``SSL_CTX``:

1. The context is created here, while an OpenSSL ex-data "new" callback is
   registered for the ``SSL_CTX`` class: OpenSSL itself calls it with the
   address of every ``SSL_CTX`` it creates meanwhile (``births``).
2. The candidate word is read from the object's own memory only, at the
   header size the interpreter reports (``object.__basicsize__``), and only
   if the word just before it is the object's type pointer (the last field
   of every build's header) and the word lies inside the C object.
3. The word is used only if OpenSSL reported it in step 1. A word from the
   wrong offset (a reference count, a type, another field) never was.

Any other outcome (``_ssl`` built into the interpreter, a symbol missing, a
word that is not proven) yields no ``NativeContext``, and ``tls.py`` falls
back to what plain Python can do. Nothing here dereferences a guess; the
only memory read is inside the live Python object.
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
        return f"{sys.implementation.name} keeps no SSL_CTX pointer in its SSLContext objects"
    path = getattr(_ssl, "__file__", None)
    if path is None:
        return "_ssl is built into this interpreter: no separate library to load"
    try:
        return _LibSSL(ctypes.CDLL(path))  # the libssl this Python's ssl module uses
    except (OSError, AttributeError) as exc:
        return f"OpenSSL's functions cannot be loaded from {path}: {exc}"


def _word(obj: object, offset: int) -> int:
    """The pointer-sized word at ``offset`` inside ``obj`` (CPython: ``id`` is its address)."""
    return ctypes.c_size_t.from_address(id(obj) + offset).value


def ssl_ctx_address(
    context: ssl.SSLContext, births: Collection[int], *, header: int | None = None
) -> int | None:
    """The address of ``context``'s ``SSL_CTX``, only if OpenSSL reported it in ``births``.

    ``header`` is the object header's size, the interpreter's own
    (``object.__basicsize__``) unless a test passes a wrong one. Nothing is
    dereferenced: the words read are inside the context object, and the
    candidate is only compared with what OpenSSL reported.
    """
    size = object.__basicsize__ if header is None else header
    if size < _POINTER or size + _POINTER > _ssl._SSLContext.__basicsize__:
        return None  # the word would not lie inside the C object
    if _word(context, size - _POINTER) != id(type(context)):
        return None  # the header does not end there: not this build's layout
    candidate = _word(context, size)
    return candidate if candidate in births else None


def create(protocol: ssl._SSLMethod) -> tuple[ssl.SSLContext, NativeContext | str]:
    """A new ``SSLContext`` and its proven ``SSL_CTX``, or the reason it is not available."""
    libssl = _libssl()
    if isinstance(libssl, str):
        return ssl.SSLContext(protocol), libssl
    context, births = libssl.create(protocol)
    address = ssl_ctx_address(context, births)
    if address is None:
        return context, "this interpreter's SSLContext layout is not the one expected"
    return context, NativeContext(address, libssl.ctrl)
