"""The one sanitiser every client mode shows network text through."""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realtimechat import sanitize
from realtimechat.sanitize import FORMAT_RANGES, visible, visible_lines

# Nothing in the output may be any of these: escape, bell, every other C0
# control, DEL, C1 controls (8-bit CSI included), bidi and zero-width
# format characters, line/paragraph separators.
FORBIDDEN = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]"
)

HOSTILE = [
    ("osc 52 clipboard write", "\x1b]52;c;ZXZpbA==\x07", "\\x1b]52;c;ZXZpbA==\\x07"),
    ("osc 0 window title", "\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
    ("osc 8 hyperlink", "\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\", None),
    ("csi 2J clear screen", "\x1b[2J", "\\x1b[2J"),
    ("csi H cursor home", "\x1b[H", "\\x1b[H"),
    ("cursor up and erase line", "\x1b[1A\x1b[2K", "\\x1b[1A\\x1b[2K"),
    ("save and restore cursor", "\x1b7fake\x1b8", "\\x1b7fake\\x1b8"),
    ("colour change", "\x1b[31mred", "\\x1b[31mred"),
    ("lone escape", "\x1b", "\\x1b"),
    ("8-bit CSI", "\x9b2J", "\\x9b2J"),
    ("8-bit OSC", "\x9d0;title\x9c", "\\x9d0;title\\x9c"),
    ("DCS", "\x1bPq#0;2;0;0;0\x1b\\", None),
    ("bell flood", "\x07" * 5, "\\x07" * 5),
    ("backspace over text", "safe\x08\x08\x08\x08evil", "safe\\x08\\x08\\x08\\x08evil"),
    ("carriage return overwrite", "I agree\rI refuse", "I agree\\rI refuse"),
    ("NUL byte", "a\x00b", "a\\x00b"),
    ("DEL", "a\x7fb", "a\\x7fb"),
    ("RTL override in a name", "alice\u202egnp.exe", "alice\\u202egnp.exe"),
    ("LTR/RTL isolates", "\u2066x\u2069\u2067y\u2069", "\\u2066x\\u2069\\u2067y\\u2069"),
    ("zero-width joiner", "ad\u200dmin", "ad\\u200dmin"),
    ("zero-width space", "ad\u200bmin", "ad\\u200bmin"),
    ("byte order mark", "\ufeffhi", "\\ufeffhi"),
    ("soft hyphen", "pay\xadpal", "pay\\xadpal"),
    ("tag characters", "hi\U000e0041\U000e007f", "hi\\U000e0041\\U000e007f"),
    ("line separator", "one\u2028two", "one\\u2028two"),
    ("newline in one-line mode", "one\ntwo", "one\\ntwo"),
    ("lone surrogate", "\ud800", "\\ud800"),
]


@pytest.mark.parametrize(("what", "hostile", "shown"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_inputs_are_made_visible_and_harmless(
    what: str, hostile: str, shown: str | None
) -> None:
    """Each hostile input comes out without any control, and readable."""
    out = visible(hostile)
    assert not FORBIDDEN.search(out), what
    if shown is not None:
        assert out == shown


def test_ordinary_text_is_untouched() -> None:
    """Letters of any script, emoji and punctuation pass as they are."""
    for text in ("hello", "Grüße, 李雷!", "שלום", "👍🏽 ok", "tab-free text: a=b"):
        assert visible(text) == text


def test_multi_line_text_keeps_its_lines_and_nothing_else() -> None:
    """visible_lines splits at line breaks and escapes everything else."""
    assert visible_lines("first\nsecond\x1b[2J\r\nthird") == ["first", "second\\x1b[2J", "third"]


@given(st.text())
def test_property_no_control_survives(text: str) -> None:
    """Whatever the input, the output holds no ESC, BEL, C0/C1, bidi or zero-width character."""
    assert not FORBIDDEN.search(visible(text))
    for line in visible_lines(text):
        assert not FORBIDDEN.search(line)
        assert "\n" not in line


@given(st.binary())
def test_property_decoded_bytes_are_safe_too(data: bytes) -> None:
    """Bytes decoded any which way still come out harmless."""
    assert not FORBIDDEN.search(visible(data.decode("latin-1")))
    assert not FORBIDDEN.search(visible(data.decode("utf-8", "surrogateescape")))


def _this_pythons_format_characters() -> set[int]:
    return {
        code
        for code in range(sys.maxunicode + 1)
        if not 0xD800 <= code <= 0xDFFF and unicodedata.category(chr(code)) == "Cf"
    }


def test_format_table_matches_this_pythons_unicode_tables() -> None:
    """FORMAT_RANGES lists exactly the Cf characters this Python knows."""
    table = {code for first, last in FORMAT_RANGES for code in range(first, last + 1)}
    assert table == _this_pythons_format_characters()


def test_an_unknown_unicode_version_gets_its_table_computed() -> None:
    """For a Unicode version it has no table of, the module computes this Python's own."""
    computed = sanitize._format_ranges("99.0.0")
    table = {code for first, last in computed for code in range(first, last + 1)}
    assert table == _this_pythons_format_characters()
    assert computed == FORMAT_RANGES  # the same ranges, merged the same way


def test_egyptian_format_controls_are_escaped_where_python_knows_them() -> None:
    """U+13439-U+1343F (Unicode 15) are escaped on every Python that calls them Cf."""
    text = "".join(chr(code) for code in range(0x13439, 0x13440))
    if unicodedata.category(text[0]) == "Cf":
        assert visible(text) == "".join(f"\\U{code:08x}" for code in range(0x13439, 0x13440))
    else:
        assert visible(text) == text  # unassigned before Unicode 15: printed as they are
