"""Make text from the network safe to put on a terminal.

Everything a peer sends -- message text, names, reasons -- is shown
through ``visible`` in every client mode. Nothing that could drive the
terminal survives: C0 and C1 control characters (so every ESC/CSI/OSC/DCS
sequence loses its introducer), DEL, bidirectional overrides and
zero-width characters are replaced by a visible escape such as ``\\x1b``
or ``\\u202e``. What was an escape sequence is still readable as text; it
just does nothing.
"""

from __future__ import annotations

import re
from typing import Final

# Bidi embeddings/overrides/isolates and marks, zero-width characters and
# the BOM: invisible, and able to reorder or hide what is shown.
_INVISIBLE: Final = (
    "\u061c\u180e\u200b\u200c\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064"
    "\u2066\u2067\u2068\u2069\ufeff"
)
_UNSAFE: Final = re.compile(f"[\x00-\x1f\x7f-\x9f{_INVISIBLE}\u2028\u2029]")
_NAMED: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """``text`` with every character that could act on a terminal escaped.

    Line breaks become the two characters ``\\n`` so one message is one
    line; a lone surrogate (which cannot be printed) becomes ``\\udXXX``.
    """
    if text.isascii() and text.isprintable():
        return text  # the common case, checked in C
    escaped = _UNSAFE.sub(_escape, text)
    return escaped.encode("utf-8", "backslashreplace").decode("utf-8")
