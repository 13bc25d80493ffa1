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
import sys
import unicodedata
from typing import Final

_Ranges = tuple[tuple[int, int], ...]

# Every Unicode format character (category Cf), as code point ranges, for
# the Unicode versions of the Pythons we support. Computing them costs
# 0.15-0.2 s at every start, so they are written out. tests/unit/test_sanitize.py
# checks the table in use against the running Python's own tables.
_UNICODE_14_FORMAT: Final[_Ranges] = (
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
# Unicode 15.0 adds the Egyptian hieroglyph format controls U+13439-U+1343F
# (extending U+13430-U+13438); 15.1 adds no format character.
_UNICODE_15_FORMAT: Final[_Ranges] = tuple(
    (first, 0x1343F if first == 0x13430 else last) for first, last in _UNICODE_14_FORMAT
)
_KNOWN_FORMAT_RANGES: Final[dict[str, _Ranges]] = {
    "14.0.0": _UNICODE_14_FORMAT,  # Python 3.11
    "15.0.0": _UNICODE_15_FORMAT,  # Python 3.12
    "15.1.0": _UNICODE_15_FORMAT,  # Python 3.13
}


def _computed_format_ranges() -> _Ranges:
    """The Cf ranges of this Python's ``unicodedata``, the slow way."""
    ranges: list[tuple[int, int]] = []
    for code in range(sys.maxunicode + 1):
        if unicodedata.category(chr(code)) != "Cf":
            continue
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    return tuple(ranges)


def _format_ranges(unicode_version: str) -> _Ranges:
    """The Cf ranges of this Python, whose Unicode is ``unicode_version``.

    Written out for a version we know; computed otherwise, as a newer
    Unicode may add format characters: such a Python pays for it once, at
    import, rather than escaping too little. (The version is an argument
    so that a test can name one we do not know.)
    """
    known = _KNOWN_FORMAT_RANGES.get(unicode_version)
    return known if known is not None else _computed_format_ranges()


def _character_class(ranges: _Ranges) -> str:
    """The inside of a regex ``[...]`` matching every code point of ``ranges``."""
    return "".join(
        re.escape(chr(first)) + ("-" + re.escape(chr(last)) if last > first else "")
        for first, last in ranges
    )


FORMAT_RANGES: Final = _format_ranges(unicodedata.unidata_version)
_FORMAT_CLASS: Final = _character_class(FORMAT_RANGES)
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
