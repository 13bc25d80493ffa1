"""server/audit.py under systemd: lines into the journal carry a priority and no time of ours."""

from __future__ import annotations

import io
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import pytest

from realtimechat.server import audit
from realtimechat.server.audit import JournalFormatter, log_event, stderr_is_journal


@pytest.fixture
def stderr_file(tmp_path: Path) -> Iterator[TextIO]:
    """A real file to be stderr (as the journal's stream is a real socket).

    Each test puts it in place itself: pytest's capture sets sys.stderr again
    between a fixture's setup and the test.
    """
    with (tmp_path / "stderr").open("w", encoding="utf-8") as file:
        yield file


def stream_of(file: TextIO) -> str:
    """The JOURNAL_STREAM systemd would set for ``file``: its device and inode."""
    status = os.fstat(file.fileno())
    return f"{status.st_dev}:{status.st_ino}"


def test_journal_stream_naming_stderr_is_the_journal(
    stderr_file: TextIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stderr", stderr_file)
    assert stderr_is_journal({"JOURNAL_STREAM": stream_of(stderr_file)})


def test_journal_stream_naming_another_file_is_not(
    stderr_file: TextIO, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inherited by a process whose stderr went elsewhere: that stderr is not the journal."""
    monkeypatch.setattr(sys, "stderr", stderr_file)
    with (tmp_path / "other").open("w", encoding="utf-8") as other:
        assert not stderr_is_journal({"JOURNAL_STREAM": stream_of(other)})


@pytest.mark.parametrize("value", ["", "12", "a:b", "12:"])
def test_no_or_a_malformed_journal_stream_is_not(
    stderr_file: TextIO, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stderr", stderr_file)
    assert not stderr_is_journal({"JOURNAL_STREAM": value})


def test_a_stderr_without_a_descriptor_is_not(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stream in memory (no fileno) is never the journal."""
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not stderr_is_journal({"JOURNAL_STREAM": "1:1"})


@pytest.mark.parametrize(
    ("level", "prefix"),
    [
        (logging.DEBUG, "<7>DEBUG"),
        (logging.INFO, "<6>INFO"),
        (logging.WARNING, "<4>WARNING"),
        (logging.ERROR, "<3>ERROR"),
        (logging.CRITICAL, "<2>CRITICAL"),
    ],
)
def test_each_level_has_its_syslog_priority(level: int, prefix: str) -> None:
    record = logging.LogRecord("realtimechat.server", level, __file__, 1, "stopped", None, None)
    assert JournalFormatter().format(record) == f"{prefix} stopped"


def test_configure_writes_journal_lines_when_stderr_is_the_journal(
    stderr_file: TextIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The whole line is the priority, the level and the event: journald adds the time."""
    monkeypatch.setattr(sys, "stderr", stderr_file)
    monkeypatch.setenv("JOURNAL_STREAM", stream_of(stderr_file))
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        audit.configure("info", "text")
        log_event(logging.getLogger("realtimechat.server"), logging.WARNING, "limited", limit="x")
        stderr_file.flush()
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    assert (tmp_path / "stderr").read_text(encoding="utf-8") == "<4>WARNING limited limit=x\n"
