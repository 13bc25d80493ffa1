"""server/audit.py: clipped CNs, and Python warnings as one event line each."""

from __future__ import annotations

import json
import logging
import shlex
import warnings
from collections.abc import Iterator

import pytest

from realtimechat.server import audit
from realtimechat.server.audit import CN_LOG_CHARS, clip, log_event


@pytest.fixture
def restored() -> Iterator[None]:
    """Put back what ``audit.configure`` changes: the root handlers and level, showwarning."""
    root = logging.getLogger()
    handlers, level, shown = root.handlers[:], root.level, warnings.showwarning
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    warnings.showwarning = shown


def test_a_long_cn_is_clipped_and_marked(caplog: pytest.LogCaptureFixture) -> None:
    """A 1,000-character CN is logged as its first 64 characters and how many more there were."""
    caplog.set_level(logging.INFO, logger="realtimechat.server")
    log_event(logging.getLogger("realtimechat.server"), logging.INFO, "joined", cn="a" * 1000)
    (record,) = caplog.records
    assert record.fields["cn"] == "a" * CN_LOG_CHARS + "...(+936 chars)"  # type: ignore[attr-defined]
    assert record.getMessage() == f'joined cn="{"a" * 64}...(+936 chars)"'


def test_a_cn_of_64_is_whole() -> None:
    """Up to 64 characters a CN is logged as it is."""
    assert clip("b" * 64) == "b" * 64


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_warning_is_one_event_line(
    log_format: str, restored: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A warning raised in the server is one line of fields, in either format, not two raw lines."""
    audit.configure("info", log_format)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = audit.log_warning  # catch_warnings saved and restores it
        warnings.warn("Attribute's length must be >= 1 and <= 64, but it was 0", stacklevel=1)
    (line,) = capsys.readouterr().err.splitlines()
    if log_format == "json":
        fields = json.loads(line)
        assert (fields["event"], fields["category"]) == ("python_warning", "UserWarning")
        assert fields["message"].startswith("Attribute's length")
    else:
        words = shlex.split(line)
        assert words[1:4] == ["WARNING", "python_warning", "category=UserWarning"]
        assert words[4] == "message=Attribute's length must be >= 1 and <= 64, but it was 0"
        assert words[5].startswith("where=")


def test_configure_routes_warnings(restored: None) -> None:
    """rtchat-server's logging setup sends Python's warnings to the log as events."""
    audit.configure("info", "text")
    assert warnings.showwarning is audit.log_warning
