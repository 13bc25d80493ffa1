"""The pure parts of --metrics: the address, the label vocabularies, buckets, HTTP parsing."""

from __future__ import annotations

import pytest

from realtimechat.errors import ConfigError
from realtimechat.protocol import ByeReason
from realtimechat.server.metrics import Answer, parse_address, request_target, response
from realtimechat.server.stats import (
    CLOSE_LABELS,
    HANDSHAKE_LABELS,
    Histogram,
    close_label,
    handshake_label,
)
from realtimechat.server.tlsconn import NOTHING_SENT, TIMED_OUT, Progress, shed_reason


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("9100", ("127.0.0.1", 9100)),
        ("192.0.2.7:9100", ("192.0.2.7", 9100)),
        ("[::1]:9100", ("::1", 9100)),
        ("metrics.internal:0", ("metrics.internal", 0)),
    ],
)
def test_metrics_addresses_as_people_write_them(text: str, address: tuple[str, int]) -> None:
    """A bare port is loopback; ADDR:PORT and [IPv6]:PORT as in URLs; 0 picks a free port."""
    assert parse_address(text) == address


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("::1", "give PORT, ADDRESS:PORT or [IPv6]:PORT"),
        (":9100", "give PORT, ADDRESS:PORT or [IPv6]:PORT"),
        ("[::1]", "write an IPv6 address as [ADDRESS]:PORT"),
        ("host:http", "the port must be a number from 0 to 65535"),
        ("host:65536", "the port must be a number from 0 to 65535"),
        ("host:+1", "the port must be a number from 0 to 65535"),
    ],
)
def test_a_bad_metrics_address_says_what_to_write(text: str, words: str) -> None:
    """Each bad value is one ConfigError that names it and the forms that work."""
    with pytest.raises(ConfigError) as caught:
        parse_address(text)
    assert repr(text) in str(caught.value)
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("reason", "label"),
    [
        ("no client certificate", "no_client_certificate"),
        (
            "certificate verify failed: unable to get local issuer certificate",
            "unknown_issuer",
        ),
        ("certificate verify failed: certificate has expired", "certificate_expired"),
        ("certificate verify failed: certificate signature failure", "certificate_invalid"),
        (TIMED_OUT, "handshake_timeout"),
        (NOTHING_SENT, "first_byte_timeout"),
        (shed_reason(Progress.HELLO), "shed"),
        ("not a TLS handshake (plaintext to the TLS port?)", "not_tls"),
        ("TLS version too old (1.3 required)", "tls_version"),
        ("too many handshakes in progress", "too_many_handshakes"),
        ("too many handshakes in progress from this source", "too_many_handshakes_per_source"),
        ("too many connections from this source", "too_many_connections_per_source"),
        ("bad record mac", "other"),
    ],
)
def test_handshake_refusals_map_to_a_bounded_vocabulary(reason: str, label: str) -> None:
    """The log's words (some OpenSSL's) become one of a fixed set of labels, else other."""
    assert handshake_label(reason) == label
    assert label in HANDSHAKE_LABELS


def test_close_reasons_are_the_leave_reasons_or_other() -> None:
    """Every ByeReason is its own label; any other word is other, so none can add a series."""
    assert [close_label(reason.value) for reason in ByeReason] == list(CLOSE_LABELS[:-1])
    assert close_label("anything a bug may pass") == "other"


def test_a_histogram_counts_into_cumulative_buckets() -> None:
    """Values on a bound count in its bucket; above the last, only in +Inf; sum and count."""
    histogram = Histogram((0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 3.0):
        histogram.observe(value)
    assert histogram.cumulative() == [("0.1", 2), ("1.0", 3), ("+Inf", 4)]
    assert histogram.count == 4
    assert histogram.total == pytest.approx(3.65)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", ("GET", "/metrics")),
        (b"HEAD /readyz?verbose=1 HTTP/1.0\r\n\r\n", ("HEAD", "/readyz")),
        (b"POST /metrics HTTP/1.1\r\n\r\n", 405),
        (b"GET /metrics\r\n\r\n", 400),
        (b"GET /metrics HTTP/2.0\r\n\r\n", 400),
        (b"\x16\x03\x01\x02\x00\r\n\r\n", 400),
    ],
)
def test_request_lines(head: bytes, expected: tuple[str, str] | int) -> None:
    """GET and HEAD of a path (the query ignored); other methods 405, other lines 400."""
    target = request_target(head)
    if isinstance(expected, int):
        assert isinstance(target, Answer)
        assert target.status == expected
    else:
        assert target == expected


def test_a_response_is_whole_and_closes() -> None:
    """Status line, length, Connection: close, Allow when given; HEAD gets the head alone."""
    answer = Answer(405, b"only GET and HEAD\n", allow="GET, HEAD")
    whole = response(answer)
    head, body = whole.split(b"\r\n\r\n", 1)
    assert head.split(b"\r\n") == [
        b"HTTP/1.1 405 Method Not Allowed",
        b"Content-Type: text/plain; charset=utf-8",
        b"Content-Length: 18",
        b"Connection: close",
        b"Cache-Control: no-store",
        b"Allow: GET, HEAD",
    ]
    assert body == b"only GET and HEAD\n"
    assert response(answer, head_only=True) == head + b"\r\n\r\n"
