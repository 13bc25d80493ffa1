"""Reaching an SSLContext's SSL_CTX: proven before it is used, never guessed (sslctx.py).

The failure this guards against killed the process: a fixed 16-byte header
assumed on a build whose header is 32 bytes read a reference count and
passed it to OpenSSL as an ``SSL_CTX*`` (SIGSEGV). The crash tests run in a
subprocess, so a crash shows as exit -11 instead of killing pytest.
"""

from __future__ import annotations

import ctypes
import signal
import ssl
import subprocess
import sys
import textwrap
from typing import Final

import pytest

from realtimechat import sslctx, tls
from realtimechat.sslctx import NativeContext, ssl_ctx_address

from ..support import MemoryTLS, Pki, needs_ssl_ctx

POINTER: Final = ctypes.sizeof(ctypes.c_void_p)
HEADER: Final = object.__basicsize__
# OpenSSL's default SSL_CTX session cache mode (SSL_SESS_CACHE_SERVER).
SESS_CACHE_SERVER: Final = 2
# Every other place a fixed guess could put the pointer: inside the header
# (the reference count at 0, the type), past the real header (the sizes
# of free-threaded and trace-refs builds, 32), and past the object's end.
WRONG_HEADERS: Final = sorted(
    {0, POINTER, HEADER - POINTER, HEADER + POINTER, 32, 48, 4096} - {HEADER}
)


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (this venv's), so that a crash cannot take pytest."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@needs_ssl_ctx
def test_the_ssl_ctx_is_proven_on_this_interpreter() -> None:
    """On this build the context's SSL_CTX is found, and answers as a fresh context does."""
    context, native = sslctx.create(ssl.PROTOCOL_TLS_SERVER)
    assert isinstance(native, NativeContext)
    assert native.control(tls._SSL_CTRL_GET_SESS_CACHE_MODE, 0, None) == SESS_CACHE_SERVER
    assert context.protocol is ssl.PROTOCOL_TLS_SERVER


@needs_ssl_ctx
def test_every_context_gets_its_own_ssl_ctx() -> None:
    """Two contexts are proven to two different SSL_CTX, each its own."""
    first, first_native = sslctx.create(ssl.PROTOCOL_TLS_SERVER)
    second, second_native = sslctx.create(ssl.PROTOCOL_TLS_CLIENT)
    assert isinstance(first_native, NativeContext)
    assert isinstance(second_native, NativeContext)
    assert first_native.address != second_native.address
    assert ssl_ctx_address(first, [second_native.address]) is None
    assert ssl_ctx_address(second, [second_native.address]) == second_native.address


@needs_ssl_ctx
@pytest.mark.parametrize("header", WRONG_HEADERS)
def test_a_wrong_header_size_is_rejected(header: int) -> None:
    """The word at any offset but the interpreter's header size is refused, before any use."""
    context, native = sslctx.create(ssl.PROTOCOL_TLS_SERVER)
    assert isinstance(native, NativeContext)
    births = [native.address]
    assert ssl_ctx_address(context, births, header=HEADER) == native.address  # control
    assert ssl_ctx_address(context, births, header=header) is None


def test_a_word_openssl_did_not_report_is_rejected() -> None:
    """At the right offset too, a word is used only if OpenSSL reported creating it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)  # created outside any window
    word = ctypes.c_size_t.from_address(id(context) + HEADER).value
    assert word != 0
    assert ssl_ctx_address(context, []) is None
    assert ssl_ctx_address(context, [word + 1, word - 1]) is None


@needs_ssl_ctx
def test_the_wrong_word_would_have_crashed() -> None:
    """Control: handing OpenSSL the reference count as an SSL_CTX* kills the process (SIGSEGV).

    This is what the old fixed offset did on a 32-byte header; here, on a
    16-byte one, the reference count sits at offset 0.
    """
    done = run_python(
        """
        import _ssl, ctypes, resource, ssl
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        refcount = ctypes.c_size_t.from_address(id(context)).value
        get_options = ctypes.CDLL(_ssl.__file__).SSL_CTX_get_options
        get_options.argtypes = [ctypes.c_void_p]
        get_options(refcount)
        print("survived")
        """
    )
    assert done.returncode == -signal.SIGSEGV, (done.returncode, done.stdout, done.stderr)
    assert "survived" not in done.stdout


@needs_ssl_ctx
def test_a_wrong_header_size_cannot_crash_the_process(pki: Pki) -> None:
    """With every wrong header size forced, contexts are built, fall back, and nothing crashes."""
    done = run_python(
        """
        import functools, ssl, sys
        from pathlib import Path
        from realtimechat import sslctx, tls

        files = tls.ServerFiles(*map(Path, sys.argv[1:4]))
        real = sslctx.ssl_ctx_address
        for header in map(int, sys.argv[4:]):
            sslctx.ssl_ctx_address = functools.partial(real, header=header)
            context = tls.server_context(files)
            print(header, context.num_tickets)
        """,
        str(pki.server.cert),
        str(pki.server.key),
        str(pki.server.ca),
        *map(str, WRONG_HEADERS),
    )
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    # num_tickets 0: the session cache could not be turned off, so no ticket is sent.
    assert done.stdout.split("\n") == [f"{header} 0" for header in WRONG_HEADERS] + [""]


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
