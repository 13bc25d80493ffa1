"""One meaning for every failed connect: rtchat's ``connect_error`` and the bench's use of it.

The errors here are made by hand, as OpenSSL and the kernel would raise
them; tests/integration/test_refusals.py and tests/system/test_bench.py
check that real handshakes raise them, and the real commands' exit codes.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from realtimechat.bench.clients import connect_error as bench_connect_error
from realtimechat.bench.clients import failure_code
from realtimechat.bench.errors import ConnectTimedOut
from realtimechat.client.connection import Endpoint, connect_error
from realtimechat.errors import (
    CannotConnect,
    CertificateRejected,
    ExitCode,
    ServerNameMismatch,
    ServerNotTrusted,
)

ENDPOINT = Endpoint(host="127.0.0.1", port=8443, cn="chatserver")
TRUST = Path("/home/alice/.config/rtchat/ca.crt")


def ssl_error(reason: str) -> ssl.SSLError:
    """An SSLError with OpenSSL's ``reason``, as the ssl module raises it."""
    exc = ssl.SSLError(1, f"[SSL: {reason}] {reason.lower().replace('_', ' ')}")
    exc.reason = reason
    return exc


def verify_error(code: int, message: str) -> ssl.SSLCertVerificationError:
    """A failed check of the server's certificate (X509_V_ERR_* ``code``)."""
    exc = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] verify failed")
    exc.reason = "CERTIFICATE_VERIFY_FAILED"
    exc.verify_code = code
    exc.verify_message = message
    return exc


@pytest.mark.parametrize(
    ("exc", "kind", "message", "code"),
    [
        (
            ConnectionRefusedError(111, "Connection refused"),
            CannotConnect,
            "cannot connect to 127.0.0.1:8443: connection refused (is the server running?)",
            "cannot_connect",
        ),
        (
            OSError(113, "No route to host"),
            CannotConnect,
            "cannot connect to 127.0.0.1:8443: No route to host",
            "cannot_connect",
        ),
        (
            ssl_error("WRONG_VERSION_NUMBER"),
            CannotConnect,
            "cannot connect to 127.0.0.1:8443: the server did not answer in TLS "
            "(is 8443 the chat server's port?)",
            "cannot_connect",
        ),
        (
            verify_error(62, "Hostname mismatch, certificate is not valid for 'chatserver'."),
            ServerNameMismatch,
            "the server's certificate is not for 'chatserver' (--cn must match the "
            "certificate's name): Hostname mismatch, certificate is not valid for 'chatserver'.",
            "server_name_mismatch",
        ),
        (
            verify_error(10, "certificate has expired"),
            ServerNotTrusted,
            "the server's certificate is not trusted: certificate has expired",
            "server_not_trusted",
        ),
        (
            ssl_error("TLSV13_ALERT_CERTIFICATE_REQUIRED"),
            CertificateRejected,
            "TLS handshake with 127.0.0.1:8443 failed: ",
            "certificate_rejected",
        ),
    ],
)
def test_rtchat_and_the_bench_say_the_same(
    exc: OSError, kind: type[Exception], message: str, code: str
) -> None:
    """Each failure gets one error class and one sentence, whichever tool connected."""
    ours = connect_error(exc, ENDPOINT)
    bench = bench_connect_error(exc, ENDPOINT, timeout=5.0)
    assert type(ours) is type(bench) is kind
    assert str(ours) == str(bench)
    assert str(ours).startswith(message)
    assert failure_code(bench) == code  # the bench's counting key, from the same class


def test_another_ca_names_the_file_we_trust() -> None:
    """A chain from a CA we do not have: rtchat names its ca.crt rather than OpenSSL's words."""
    exc = verify_error(20, "unable to get local issuer certificate")
    error = connect_error(exc, ENDPOINT, TRUST)
    assert isinstance(error, ServerNotTrusted)
    assert str(error) == (
        f"the server's certificate is not signed by the CA in {TRUST}: "
        "ask your admin for the server's ca.crt"
    )
    assert error.exit_code == ExitCode.TLS_FAILED
    assert "unable to get local issuer" in str(connect_error(exc, ENDPOINT))  # no file to name


def test_a_timeout_is_the_connect_for_rtchat_and_the_welcome_for_the_bench() -> None:
    """rtchat's timeout covers TCP and TLS; the bench's, the welcome and replay too."""
    ours = connect_error(TimeoutError(), ENDPOINT)
    assert isinstance(ours, CannotConnect)
    assert str(ours) == "cannot connect to 127.0.0.1:8443: timed out"
    bench = bench_connect_error(TimeoutError(), ENDPOINT, timeout=5.0)
    assert isinstance(bench, ConnectTimedOut)
    assert str(bench) == "cannot connect to 127.0.0.1:8443: no welcome within 5 s"
    assert failure_code(bench) == "connect_timeout"
    assert bench.exit_code == ours.exit_code == ExitCode.CANNOT_CONNECT


def test_an_error_without_words_is_named_by_its_class() -> None:
    """An OSError with no text still says something after the colon."""
    error = connect_error(ConnectionAbortedError(), ENDPOINT)
    assert str(error) == "cannot connect to 127.0.0.1:8443: ConnectionAbortedError"
