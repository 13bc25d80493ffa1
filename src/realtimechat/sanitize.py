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
* variation selectors;
* line and paragraph separators.

Each is replaced by a visible escape such as ``\\x1b`` or ``\\u202e``: what
was an escape sequence is still readable as text; it just does nothing.

That is ``visible``, for names, reasons, codes: anything that is no prose.
What people *write* (message text, the message of the day) goes through
``visible_text`` and ``visible_lines``, which keep three things where
they belong, because there they change how their neighbours are drawn and
hide nothing:

* a zero-width joiner (U+200D) or non-joiner (U+200C) right after a
  virama (Devanagari, Bengali, Sinhala, ... in any plane: conjunct
  control, as IDNA's ContextJ rule), or between two letters or marks of a
  script that joins letters (Arabic, Persian, Syriac, N'Ko, Mongolian, the
  Indic scripts, Myanmar, Khmer, ...: ``_JOINER_SCRIPTS``), and a ZWJ
  between two pictographs, after the first one's skin tone or VS16 (emoji
  ZWJ sequences: 👩‍💻, 👨‍👩‍👧, 🏳️‍🌈, 🏃🏽‍♀️);
* a variation selector right after a character it can vary, one per
  character: VS15/VS16 after a symbol, punctuation or digit (☺︎ ☺️, keycaps),
  VS1-VS14 after a non-ASCII letter or a math symbol, VS17-VS256 after a
  CJK ideograph (ideographic variation sequences);
* tag characters only in the three RGI subdivision flags (England,
  Scotland, Wales): the other tag sequences render as a black flag with
  their text hidden.

Bidi controls, C0/C1 and everything else above stay escaped in text too,
and so does a joiner anywhere else: between Latin letters, at either end,
next to another joiner, a run of selectors. Skin tones and country flags
are ordinary symbols and always pass.
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
_SELECTORS: Final = "\ufe00-\ufe0f\U000e0100-\U000e01ef"  # VS1-VS16, VS17-VS256
_UNSAFE: Final = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{_FORMAT_CLASS}{_SELECTORS}]")
_NAMED: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

# Blocks of the scripts whose letters ZWJ and ZWNJ join or keep apart: the
# cursive scripts and the Brahmic scripts of the BMP (the others are reached
# by the virama rule). Blocks do not move between Unicode versions; a script
# added later is not listed, and its joiners stay escaped: that fails safe.
_JOINER_SCRIPTS: Final[_Ranges] = (
    (0x0600, 0x06FF),  # Arabic (Persian, Urdu, ...)
    (0x0700, 0x074F),  # Syriac
    (0x0750, 0x077F),  # Arabic Supplement
    (0x07C0, 0x07FF),  # NKo
    (0x0840, 0x085F),  # Mandaic
    (0x0860, 0x086F),  # Syriac Supplement
    (0x0870, 0x089F),  # Arabic Extended-B
    (0x08A0, 0x08FF),  # Arabic Extended-A
    (0x0900, 0x0DFF),  # Devanagari ... Malayalam, Sinhala
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x1800, 0x18AF),  # Mongolian
    (0xA840, 0xA87F),  # Phags-pa
    (0xA8E0, 0xA8FF),  # Devanagari Extended
    (0xFB50, 0xFDFF),  # Arabic Presentation Forms-A
    (0xFE70, 0xFEFE),  # Arabic Presentation Forms-B (not the BOM)
    (0x10AC0, 0x10AFF),  # Manichaean
    (0x10B80, 0x10BAF),  # Psalter Pahlavi
    (0x10D00, 0x10D3F),  # Hanifi Rohingya
    (0x10EC0, 0x10EFF),  # Arabic Extended-C
    (0x10F30, 0x10FDF),  # Sogdian, Old Uyghur, Chorasmian
    (0x11660, 0x1167F),  # Mongolian Supplement
    (0x1E900, 0x1E95F),  # Adlam
)
_CJK_IDEOGRAPHS: Final[_Ranges] = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x3FFFF),
)
# Emoji code points a Python with an older Unicode does not know yet (Cn):
# reserved for pictographs (Unicode's Extended_Pictographic takes them in).
_FUTURE_EMOJI: Final[_Ranges] = ((0x1F000, 0x1FAFF), (0x1FC00, 0x1FFFD))
_ZWJ: Final = "\u200d"
_ZWNJ: Final = "\u200c"
_VS15: Final = "\ufe0e"
_VS16: Final = "\ufe0f"
_VIRAMA: Final = 9  # the canonical combining class of every virama
_TAG: Final = "\U000e0000"  # plus an ASCII code point: that letter as a tag
_BLACK_FLAG: Final = "\U0001f3f4"
# The RGI emoji tag sequences: 🏴 + gbeng / gbsct / gbwls as tags + CANCEL TAG.
_FLAGS: Final = "|".join(
    re.escape(_BLACK_FLAG + "".join(chr(0xE0000 + ord(c)) for c in region) + "\U000e007f")
    for region in ("gbeng", "gbsct", "gbwls")
)
_TEXT: Final = re.compile(f"({_FLAGS})|{_UNSAFE.pattern}")


def _within(code: int, ranges: _Ranges) -> bool:
    return any(first <= code <= last for first, last in ranges)


def _escape(match: re.Match[str]) -> str:
    return _escaped(match.group())


def _escaped(char: str) -> str:
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _joining_letter(char: str) -> bool:
    """A letter or mark of a script that ZWJ and ZWNJ act on."""
    return unicodedata.category(char)[0] in "LM" and _within(ord(char), _JOINER_SCRIPTS)


def _pictograph(char: str) -> bool:
    code = ord(char)
    category = unicodedata.category(char)
    return category == "So" or (category == "Cn" and _within(code, _FUTURE_EMOJI))


def _emoji_before(text: str, at: int) -> bool:
    """Whether an emoji ends right before ``at``: a pictograph, then a skin tone or VS16."""
    at -= 1
    if at >= 0 and (text[at] == _VS16 or 0x1F3FB <= ord(text[at]) <= 0x1F3FF):
        at -= 1
    return at >= 0 and _pictograph(text[at])


def _joiner_belongs(text: str, at: int) -> bool:
    """Whether the ZWJ or ZWNJ at ``at`` joins (or parts) its neighbours, hiding nothing."""
    if at == 0:
        return False
    before = text[at - 1]
    if unicodedata.combining(before) == _VIRAMA:
        return True  # conjunct control in a Brahmic script
    if at + 1 >= len(text):
        return False
    after = text[at + 1]
    if _joining_letter(before) and _joining_letter(after):
        return True
    return text[at] == _ZWJ and _pictograph(after) and _emoji_before(text, at)


def _selector_belongs(text: str, at: int) -> bool:
    """Whether the variation selector at ``at`` follows a character it can vary."""
    if at == 0:
        return False
    before = text[at - 1]
    category = unicodedata.category(before)
    selector = text[at]
    if selector in (_VS15, _VS16):  # text or emoji presentation; keycaps
        return category[0] in "SP" or category == "Nd"
    if selector < _VS15:  # VS1-VS14: standardized variants
        return (category[0] == "L" and not before.isascii()) or category == "Sm"
    return category[0] == "L" and _within(ord(before), _CJK_IDEOGRAPHS)  # VS17-VS256


def _escape_in_text(match: re.Match[str]) -> str:
    if match.group(1) is not None:
        return match.group(1)  # a subdivision flag
    char = match.group()
    text, at = match.string, match.start()
    if char in (_ZWJ, _ZWNJ):
        keep = _joiner_belongs(text, at)
    elif "\ufe00" <= char <= _VS16 or "\U000e0100" <= char <= "\U000e01ef":
        keep = _selector_belongs(text, at)
    else:
        keep = False
    return char if keep else _escaped(char)


def _encodable(text: str) -> str:
    # A lone surrogate cannot be printed at all: show it escaped too.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def visible(text: str) -> str:
    """``text`` with every character that could act on a terminal or hide text escaped.

    For names, reasons, codes, fingerprints: nothing that is prose (names
    have their own stricter rules on the server). Line breaks become the two
    characters ``\\n``, so one value is one line.
    """
    if text.isascii() and text.isprintable():
        return text  # the common case, checked in C
    return _encodable(_UNSAFE.sub(_escape, text))


def visible_text(text: str) -> str:
    """What someone wrote, made harmless as by ``visible``, but shown as written.

    Joiners, variation selectors and emoji tag sequences stay where they
    belong (module docstring); line breaks become ``\\n``.
    """
    if text.isascii() and text.isprintable():
        return text
    return _encodable(_TEXT.sub(_escape_in_text, text))


def visible_lines(text: str) -> list[str]:
    """``text`` split at its line breaks, each line shown as by ``visible_text``.

    For showing a multi-line message with its line breaks (interactive mode).
    """
    lines = text.replace("\r\n", "\n").split("\n")
    return [_encodable(_TEXT.sub(_escape_in_text, line)) for line in lines]
