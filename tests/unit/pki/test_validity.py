"""Tests for realtimechat.pki.validity: explicit validity periods and bad ones."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from realtimechat import pki
from realtimechat.errors import PKIError

from ...support import openssl_verify


def test_expired_certificate_is_expired_for_openssl(ca_root: Path, openssl: str) -> None:
    """not_before/not_after in the past give a certificate `openssl verify` calls expired."""
    now = dt.datetime.now(dt.UTC)
    pki.issue_client(
        ca_root, "old", not_before=now - dt.timedelta(days=2), not_after=now - dt.timedelta(days=1)
    )
    cert_path = pki.CaFolder(ca_root).client_cert("old")

    result = openssl_verify(openssl, ca_root, cert_path, "sslclient")

    assert result.returncode != 0
    assert "certificate has expired" in result.stdout + result.stderr
    cert = pki.load_certificate(cert_path)
    assert cert.not_valid_after_utc == (now - dt.timedelta(days=1)).replace(microsecond=0)


@pytest.mark.parametrize(
    ("not_before", "not_after"),
    [
        (dt.datetime(2030, 1, 2, tzinfo=dt.UTC), dt.datetime(2030, 1, 1, tzinfo=dt.UTC)),
        (None, dt.datetime(2030, 1, 1)),  # naive: local time or UTC? refused
    ],
)
def test_issue_rejects_bad_validity(
    ca_root: Path, not_before: dt.datetime | None, not_after: dt.datetime
) -> None:
    """A validity that ends before it starts, or a naive datetime, raises PKIError."""
    with pytest.raises(PKIError, match="not_"):
        pki.issue_client(ca_root, "alice", not_before=not_before, not_after=not_after)

    assert not pki.CaFolder(ca_root).client_key("alice").exists()
