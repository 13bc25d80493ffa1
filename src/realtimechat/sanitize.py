"""Make text from the network safe to put on a terminal.

Everything a peer sends -- message text, names, reasons -- is shown
through this module in every client mode. Nothing that could drive the
terminal or hide what is shown survives:

* C0 and C1 control characters and DEL, so every ESC/CSI/OSC/DCS sequence
  (clipboard writes, title changes, cursor moves, screen clears) loses its
  introducer, 8-bit CSI (0x9B) included;
* every Unicode *format* character: bidi embeddings, overrides and
  isolates, zero-width spaces and joiners, the BOM, tag characters, soft
  hyphens;
* line and paragraph separators.

Each is replaced by a visible escape such as ``\\x1b`` or ``\\u202e``: what
was an escape sequence is still readable as text; it just does nothing.
"""

from __future__ import annotations

import re
from typing import Final

# Every Unicode format character (category Cf) as of the Unicode 14 tables
# of Python 3.11, as code point ranges: computing them at import would cost
# 0.1 s at every start. tests/test_sanitize.py checks the table against the
# running Python's own tables.
FORMAT_RANGES: Final = (
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x13438),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)
_FORMAT_CLASS: Final = "".join(
    re.escape(chr(first)) + ("-" + re.escape(chr(last)) if last > first else "")
    for first, last in FORMAT_RANGES
)
_UNSAFE: Final = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{_FORMAT_CLASS}]")
_NAMED: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _encodable(text: str) -> str:
    # A lone surrogate cannot be printed at all: show it escaped too.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def visible(text: str) -> str:
    """``text`` with every character that could act on a terminal escaped.

    Line breaks become the two characters ``\\n``, so one message is one
    line (plain mode, names, reasons).
    """
    if text.isascii() and text.isprintable():
        return text  # the common case, checked in C
    return _encodable(_UNSAFE.sub(_escape, text))


def visible_lines(text: str) -> list[str]:
    """``text`` split at its line breaks, each line made harmless as by ``visible``.

    For showing a multi-line message with its line breaks (interactive mode).
    """
    lines = text.replace("\r\n", "\n").split("\n")
    return [_encodable(_UNSAFE.sub(_escape, line)) for line in lines]
