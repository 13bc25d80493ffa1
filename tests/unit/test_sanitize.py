"""The one sanitiser every client mode shows network text through."""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realtimechat import sanitize
from realtimechat.sanitize import FORMAT_RANGES, visible, visible_lines, visible_text

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
    """Whatever the input, visible's output holds no ESC, BEL, C0/C1, bidi or zero-width character.

    (Message text, shown by visible_text and visible_lines, keeps joiners where
    they belong: test_property_no_escape_sequence_or_bidi_control_reaches_the_screen.)
    """
    assert not FORBIDDEN.search(visible(text))
    for line in visible_lines(text):
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


# -- what people write: every script shown as written (issue 15, item 4) -------------------

ZWJ, ZWNJ = "\u200d", "\u200c"
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Never on screen raw, in any text: C0, DEL, C1, line and paragraph separators, bidi controls.
NEVER = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{BIDI_CONTROLS}]")

WRITTEN = [
    ("Persian, ZWNJ between letters", "می\u200cخواهم"),  # noqa: RUF001 - real Persian
    ("Persian, ZWNJ after a vowel mark", "بِ\u200cگیرید"),
    ("Hindi half form, ZWJ after the virama", "क्\u200dष"),
    ("Hindi, ZWNJ after the virama", "क्\u200cष"),
    ("Bengali ya-phala, ZWJ before the virama", "র\u200d্য"),
    ("Malayalam chillu at the end of a word", "അവന്\u200d വന്നു"),
    ("Sinhala 'shri'", "ශ්\u200dරී"),
    ("technologist", "👩\u200d💻"),
    ("family", "👨\u200d👩\u200d👧"),
    ("rainbow flag", "🏳️\u200d🌈"),
    ("skin tone", "👍🏽"),
    ("skin tone in a ZWJ sequence", "🧑🏽\u200d🚀"),
    ("woman running, skin tone and VS16", "🏃🏽\u200d♀️"),
    ("heart on fire", "❤️\u200d🔥"),
    ("handshake, two skin tones", "🫱🏻\u200d🫲🏼"),
    ("country flags", "🇮🇷 🇮🇳 🇺🇦"),
    ("England", "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"),
    ("Scotland", "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"),
    ("Wales", "🏴\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f"),
    ("keycap", "1\ufe0f\u20e3 #\ufe0f\u20e3"),
    ("text and emoji presentation", "\u263a\ufe0e \u263a\ufe0f"),
    ("ideographic variation sequence", "\u845b\U000e0100"),
    ("Hebrew", "שלום עולם"),
    ("Arabic", "مرحبا بالعالم"),
    ("mixed", "salam: می\u200cخواهم 👩\u200d💻 ok"),  # noqa: RUF001 - real Persian
]


@pytest.mark.parametrize(("what", "text"), WRITTEN, ids=[w[0] for w in WRITTEN])
def test_text_people_write_is_shown_as_written(what: str, text: str) -> None:
    """Joiners, variation selectors and emoji tag sequences where they belong pass untouched."""
    assert visible_text(text) == text, what
    assert visible_lines(f"{text}\n{text}") == [text, text], what


HIDING = [
    ("ZWJ between Latin letters", "ad\u200dmin", "ad\\u200dmin"),
    ("ZWNJ between Latin letters", "ad\u200cmin", "ad\\u200cmin"),
    ("joiner at the start", "\u200dhi", "\\u200dhi"),
    ("joiner at the end", "hi\u200c", "hi\\u200c"),
    ("joiner after an emoji, before a letter", "👩\u200dx", "👩\\u200dx"),
    ("joiners in a row", "👩\u200d\u200d💻", "👩\\u200d\\u200d💻"),
    ("ZWNJ between emoji", "👩\u200c💻", "👩\\u200c💻"),
    ("joiner between Arabic and Latin", "ب\u200cb", "ب\\u200cb"),
    ("joiner between Persian words", "می \u200c خواهم", "می \\u200c خواهم"),
    ("a run of variation selectors", "😀\ufe00\ufe01\ufe02", "😀\\ufe00\\ufe01\\ufe02"),
    ("variation selector after a letter", "a\ufe0fb", "a\\ufe0fb"),
    ("variation selector alone", "\ufe0f", "\\ufe0f"),
    ("ideographic selector after Latin", "a\U000e0100", "a\\U000e0100"),
    ("tag characters", "hi\U000e0041\U000e007f", "hi\\U000e0041\\U000e007f"),
    (
        "a black flag carrying other tags",
        "🏴\U000e0078\U000e0079\U000e007f",
        "🏴\\U000e0078\\U000e0079\\U000e007f",
    ),
    ("tags without their flag", "\U000e0067\U000e0062\U000e007f", None),
    ("RTL override in Hebrew", "שלום\u202eabc", "שלום\\u202eabc"),
    ("RLM in Arabic", "مرحبا\u200f!", "مرحبا\\u200f!"),
    ("isolates", "\u2067אבג\u2069", "\\u2067אבג\\u2069"),
    ("zero-width space", "ad\u200bmin", "ad\\u200bmin"),
    ("escape sequence next to an emoji", "👩\u200d\x1b[2J", "👩\\u200d\\x1b[2J"),
]


@pytest.mark.parametrize(("what", "hiding", "shown"), HIDING, ids=[h[0] for h in HIDING])
def test_lone_joiners_selectors_tags_and_bidi_controls_stay_escaped(
    what: str, hiding: str, shown: str | None
) -> None:
    """What would hide text or reorder it is shown as an escape, in text as in names."""
    out = visible_text(hiding)
    assert not NEVER.search(out), what
    if shown is not None:
        assert out == shown, what
    assert not _STRICT_FORBIDDEN.search(visible(hiding)), what


# Names and everything else that is no prose (visible): every format character and
# every variation selector escaped, wherever it is.
_STRICT_FORBIDDEN = re.compile(
    f"[\x00-\x1f\x7f-\x9f\u2028\u2029{sanitize._character_class(FORMAT_RANGES)}"
    "\ufe00-\ufe0f\U000e0100-\U000e01ef]"
)


@pytest.mark.parametrize(("what", "text"), WRITTEN, ids=[w[0] for w in WRITTEN])
def test_names_keep_the_strict_rules(what: str, text: str) -> None:
    """``visible`` (names, reasons, codes) escapes joiners and selectors wherever they are."""
    assert not _STRICT_FORBIDDEN.search(visible(text)), what


def _is_format(char: str) -> bool:
    return unicodedata.category(char) == "Cf"


def _is_selector(char: str) -> bool:
    code = ord(char)
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF


def _kept_characters_belong(out: str) -> None:
    """Every format character or selector in ``out`` sits where it belongs."""
    for at, char in enumerate(out):
        before = out[at - 1] if at else ""
        after = out[at + 1] if at + 1 < len(out) else ""
        if char in (ZWJ, ZWNJ):
            assert before not in ("", ZWJ, ZWNJ), ascii(out)
            if unicodedata.combining(before) != 9:  # after a virama: conjunct control
                assert after not in ("", ZWJ, ZWNJ), ascii(out)
                assert not (before.isascii() and after.isascii()), ascii(out)
        elif 0xE0020 <= ord(char) <= 0xE007F:
            flag = out.rfind("\U0001f3f4", 0, at)
            assert flag >= 0, ascii(out)
            assert at - flag <= 6, ascii(out)
        elif _is_format(char):
            pytest.fail(f"format character {char!r} on screen raw in {out!a}")
        elif _is_selector(char):
            assert before, ascii(out)
            assert not _is_selector(before), ascii(out)
            assert unicodedata.category(before)[0] in "LNPS", ascii(out)


# Text made of what the sanitiser has to judge: joiners, selectors, tags, bidi
# controls, escapes, emoji, Arabic and Devanagari letters, viramas, Latin.
_PIECES = st.sampled_from(
    [
        ZWJ,
        ZWNJ,
        "\ufe0f",
        "\ufe0e",
        "\ufe00",
        "\U000e0100",
        "\U000e0067",
        "\U000e0062",
        "\U000e007f",
        "\U0001f3f4",
        "\U0001f469",
        "\U0001f3fd",
        "\u2640",
        "\u0645",
        "\u06cc",
        "\u0650",
        "\u0915",
        "\u094d",
        "\u845b",
        "a",
        " ",
        "1",
        "\x1b",
        "[",
        "\x9b",
        "\n",
        "\u2028",
        *BIDI_CONTROLS,
    ]
)
_TRICKY = st.lists(st.one_of(_PIECES, st.characters()), max_size=40).map("".join)


@given(st.one_of(st.text(), _TRICKY))
def test_property_no_escape_sequence_or_bidi_control_reaches_the_screen(text: str) -> None:
    """Whatever the input, text shows no control, no bidi control, no lone joiner or selector."""
    out = visible_text(text)
    assert not NEVER.search(out)
    _kept_characters_belong(out)
    for line in visible_lines(text):
        assert not NEVER.search(line)
        _kept_characters_belong(line)
    assert not _STRICT_FORBIDDEN.search(visible(text))


@given(_TRICKY)
def test_property_only_escapes_are_added(text: str) -> None:
    """Text shown differs from the input only by escapes: nothing is dropped or reordered."""
    out = visible_text(text)
    unescaped = re.sub(
        r"\\(x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}|[nrt])",
        lambda m: {"n": "\n", "r": "\r", "t": "\t"}.get(m.group(1)) or chr(int(m.group(1)[1:], 16)),
        out,
    )
    if "\\" not in text:  # a backslash typed is shown as it is, and reads like an escape
        assert unescaped == text
