"""Reaching an SSLContext's SSL_CTX: the address OpenSSL reported, never read from memory.

A guessed offset into the ``SSLContext`` object once handed OpenSSL a
reference count (SIGSEGV on a 32-byte-header build). Now the address is the
one OpenSSL reports creating while the context is made, taken only when it
reported no other (sslctx.py). These tests check that the address is the
context's own by its effect through Python's own API, also while other
threads make contexts at the same time.
"""

from __future__ import annotations

import _ssl
import ctypes
import ssl
import subprocess
import sys
import textwrap
import threading
from typing import Final

import pytest

from realtimechat import sslctx, tls
from realtimechat.sslctx import NativeContext, own_ssl_ctx

from ..support import MemoryTLS, Pki, needs_ssl_ctx

# OpenSSL's default SSL_CTX session cache mode (SSL_SESS_CACHE_SERVER).
SESS_CACHE_SERVER: Final = 2


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (this venv's)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def set_option(native: NativeContext, option: int) -> None:
    """``SSL_CTX_set_options`` on ``native``'s address (a function, not a ctrl, in OpenSSL 3)."""
    set_options = ctypes.CDLL(_ssl.__file__).SSL_CTX_set_options
    set_options.restype = ctypes.c_uint64
    set_options.argtypes = [ctypes.c_void_p, ctypes.c_uint64]
    set_options(native.address, option)


def is_its_own(context: ssl.SSLContext, native: NativeContext) -> bool:
    """Whether ``native`` is ``context``'s SSL_CTX: an option set through it shows in Python."""
    if context.options & ssl.OP_NO_TICKET:
        return False  # the proof needs a fresh context, where this option is off
    set_option(native, ssl.OP_NO_TICKET)
    return bool(context.options & ssl.OP_NO_TICKET)


@needs_ssl_ctx
def test_the_ssl_ctx_is_the_contexts_own() -> None:
    """The address OpenSSL reported is the context's: a setting made there shows in Python."""
    context, native = sslctx.create(ssl.PROTOCOL_TLS_SERVER)
    assert isinstance(native, NativeContext)
    assert native.control(tls._SSL_CTRL_GET_SESS_CACHE_MODE, 0, None) == SESS_CACHE_SERVER
    assert is_its_own(context, native)
    assert context.protocol is ssl.PROTOCOL_TLS_SERVER


@needs_ssl_ctx
def test_every_context_gets_its_own_ssl_ctx() -> None:
    """Two contexts, two SSL_CTX: a setting made through one shows in its context only."""
    first, first_native = sslctx.create(ssl.PROTOCOL_TLS_SERVER)
    second, second_native = sslctx.create(ssl.PROTOCOL_TLS_CLIENT)
    assert isinstance(first_native, NativeContext)
    assert isinstance(second_native, NativeContext)
    assert first_native.address != second_native.address
    assert is_its_own(second, second_native)
    assert not first.options & ssl.OP_NO_TICKET


def test_only_a_lone_birth_is_taken() -> None:
    """One SSL_CTX reported: ours. None, or two (another thread's too): no address at all."""
    assert own_ssl_ctx([0x5000]) == 0x5000
    assert own_ssl_ctx([]) is None
    assert own_ssl_ctx([0x5000, 0x6000]) is None


@needs_ssl_ctx
def test_contexts_made_in_other_threads_meanwhile_are_never_taken() -> None:
    """While two threads make contexts without stopping, every NativeContext sslctx gives
    is its own context's; a window shared with another thread's context gives none."""
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)

    threads = [threading.Thread(target=churn) for _ in range(2)]
    for thread in threads:
        thread.start()
    proven = 0
    try:
        for _ in range(300):
            context, native = sslctx.create(ssl.PROTOCOL_TLS_SERVER)
            if isinstance(native, NativeContext):
                assert is_its_own(context, native)
                proven += 1
            else:
                assert "not one" in native
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    assert proven > 0  # most windows see no other thread's context


def test_the_fallback_is_logged_once_per_process(pki: Pki) -> None:
    """Where _ssl is built in, contexts fall back to P-256 and say so once, with the reason."""
    done = run_python(
        """
        import _ssl, logging, sys
        from pathlib import Path
        del _ssl.__file__  # what a Python with _ssl built in looks like
        from realtimechat import tls

        logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
        cert, key, ca = map(Path, sys.argv[1:4])
        for _ in range(3):
            server = tls.server_context(tls.ServerFiles(cert, key, ca))
            tls.client_context(tls.ClientFiles(cert, key, ca))
            print(server.num_tickets)
        """,
        str(pki.server.cert),
        str(pki.server.key),
        str(pki.server.ca),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "0\n" * 3  # no ticket: the session cache could not be turned off
    (warning,) = done.stderr.splitlines()
    assert warning.startswith("WARNING realtimechat.tls: TLS: key exchange on prime256v1 only")
    assert "_ssl is built into this interpreter" in warning


def test_no_lone_birth_falls_back(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    """When OpenSSL never reports a lone SSL_CTX, the context is built without one, and says why."""
    monkeypatch.setattr(sslctx, "own_ssl_ctx", lambda births: None)
    context, native = sslctx.create(ssl.PROTOCOL_TLS_SERVER)
    assert isinstance(native, str)
    assert f"{sslctx.ATTEMPTS} times in a row" in native
    assert context.protocol is ssl.PROTOCOL_TLS_SERVER


def test_the_fallback_contexts_still_connect(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    """Contexts that fell back to P-256 alone complete a handshake with each other."""
    monkeypatch.setattr(sslctx, "_libssl", lambda: "no libssl in this test")
    monkeypatch.setattr(tls, "_NATIVE_FALLBACK", tls._OncePerProcess())
    server = tls.server_context(pki.server)
    client = tls.client_context(pki.client("alice"))
    assert server.num_tickets == 0
    pair = MemoryTLS.joining(server, client)
    pair.handshake()
    assert pair.client.version() == pair.server.version() == "TLSv1.3"
