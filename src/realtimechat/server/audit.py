"""The server's log: one line per event an operator cares about.

Every line is an *event* word followed by ``key=value`` fields: who
(``peer``, ``cn``, ``fp``), and what (``reason``, ``name``, ``code``...).
Message text is never logged. Values are escaped (``sanitize.visible``)
and quoted when they hold spaces, quotes, ``=`` or backslashes, so nothing
a client sends -- a certificate CN, a requested name -- can forge a line or
a field (see ``quote``). A ``cn`` is cut to CN_LOG_CHARS characters, marked
(``clip``): a certificate's CN can be of any length. Python warnings (such
as cryptography's about a CN's length) are logged as events too, one line
each (``configure``), never as raw text.

``--log-format json`` writes the same events as one JSON object per line:
``{"ts": ..., "level": ..., "event": ..., "peer": ..., ...}``.
docs/operations.md lists every event.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import warnings
from collections.abc import Mapping
from typing import Any, Final, TextIO

from ..sanitize import visible

LOGGER_NAME: Final = "realtimechat.server"
_NEEDS_QUOTES: Final = frozenset(" \"='\\")
CN_LOG_CHARS: Final = 64  # the longest CN RFC 5280 allows (ub-common-name)
_CLIPPED: Final = frozenset({"cn"})  # fields cut to CN_LOG_CHARS


def quote(value: str) -> str:
    """A field value that cannot forge a line or split a field.

    Control and format characters become visible escapes (``\\n``); a
    value with a space, quote, ``=`` or backslash is put in double quotes,
    inside which ``\\`` and ``"`` are escaped. So every line splits into its
    fields with ``shlex.split`` (or any logfmt reader), whatever the values.
    """
    safe = visible(value.replace("\\", "\\\\"))  # before visible adds its own escapes
    if not safe or any(char in safe for char in _NEEDS_QUOTES):
        return '"' + safe.replace('"', '\\"') + '"'
    return safe


def render(event: str, fields: dict[str, Any]) -> str:
    """``event key=value ...``, leaving out fields that are None."""
    parts = [event]
    parts += [f"{key}={quote(str(value))}" for key, value in fields.items() if value is not None]
    return " ".join(parts)


def clip(value: str, limit: int = CN_LOG_CHARS) -> str:
    """``value`` cut to ``limit`` characters, saying how many more there were."""
    if len(value) <= limit:
        return value
    return f"{value[:limit]}...(+{len(value) - limit} chars)"


def log_event(
    logger: logging.Logger, level: int, event: str, *, exc_info: bool = False, **fields: Any
) -> None:
    """Log one event; the JSON formatter reads the fields from the record."""
    if logger.isEnabledFor(level):
        clean = {
            key: clip(str(value)) if key in _CLIPPED else value
            for key, value in fields.items()
            if value is not None
        }
        logger.log(
            level,
            "%s",
            render(event, clean),
            exc_info=exc_info,
            extra={"event": event, "fields": clean},
        )


class JsonFormatter(logging.Formatter):
    """One JSON object per line (``--log-format json``)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "event": getattr(record, "event", "message"),
        }
        fields = getattr(record, "fields", None)
        if fields is None:
            line["message"] = record.getMessage()
        else:
            line.update({key: _jsonable(value) for key, value in fields.items()})
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=True)  # ASCII: control characters come out escaped


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, int | float | bool) else str(value)


def log_warning(  # noqa: PLR0917 - the signature of warnings.showwarning
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """``warnings.showwarning`` for the server: one ``python_warning`` event, not two raw lines.

    cryptography warns (UserWarning) about a certificate whose CN is empty
    or longer than 64 characters; Python's own display is two lines of
    free text, which a log reader cannot split into fields.
    """
    log_event(
        logging.getLogger(LOGGER_NAME),
        logging.WARNING,
        "python_warning",
        category=category.__name__,
        message=str(message),
        where=f"{filename}:{lineno}",
    )


class JournalFormatter(logging.Formatter):
    """Text lines for journald: ``<6>INFO event ...``, with no time of our own.

    journald stamps every line itself (``journalctl`` shows it), and reads
    the ``<N>`` in front as the line's syslog priority, so that ``journalctl
    -p warning`` finds warnings (sd-daemon(3)).
    """

    PRIORITIES: Final = {"DEBUG": 7, "INFO": 6, "WARNING": 4, "ERROR": 3, "CRITICAL": 2}

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return f"<{self.PRIORITIES.get(record.levelname, 6)}>{super().format(record)}"


def stderr_is_journal(environ: Mapping[str, str]) -> bool:
    """Whether stderr is systemd's journal stream: ``JOURNAL_STREAM`` names its device and inode.

    The variable alone is not enough: it is inherited by processes whose
    stderr was redirected elsewhere (systemd.exec(5)).
    """
    device, _, inode = environ.get("JOURNAL_STREAM", "").partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        status = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError):  # no real stderr (closed, or a stream in memory)
        return False
    return (status.st_dev, status.st_ino) == (int(device), int(inode))


def configure(level: str, log_format: str) -> None:
    """Send the server's log to stderr as text or JSON lines, Python's warnings included.

    Text lines into the journal (run by systemd) carry no time of their own.
    """
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    elif stderr_is_journal(os.environ):
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S%z")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    warnings.showwarning = log_warning
