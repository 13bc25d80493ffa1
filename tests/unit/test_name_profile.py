"""The name profile (names.py, docs/protocol.md 5.3), with the strings of issue 16's finding 4.

Also holds the Unicode tables the profile ships (nametables.py, made by
tools/gen_name_tables.py) to the running Python's own ``unicodedata``, as
tests/unit/test_sanitize.py does for sanitize's table of format characters.
"""

from __future__ import annotations

import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realtimechat import names
from realtimechat.names import (
    MAX_NAME_CHARS,
    check_name,
    default_ignorable,
    lookalike_keys,
    name_key,
    name_problem,
    names_look_alike,
    scripts_of,
    shown,
    skeleton,
)
from realtimechat.nametables import PROTOTYPES, SCRIPT_VALUES, SCRIPTS_VERSION

pytestmark = pytest.mark.protocol("5.3")

# What a real client showed as someone else's name (issue 16, finding 4).
FINDING_4 = [
    pytest.param("alice\u034f", "invisible", id="combining-grapheme-joiner"),
    pytest.param("alice\ufe0f", "invisible", id="variation-selector-16"),
    pytest.param("alice\ufe00", "invisible", id="variation-selector-1"),
    pytest.param("\u3164alice", "invisible", id="hangul-filler"),
    pytest.param("alice\u1160", "invisible", id="hangul-jungseong-filler"),
    pytest.param("alice\u115f", "invisible", id="hangul-choseong-filler"),
    pytest.param("alice\uffa0", "invisible", id="halfwidth-hangul-filler"),
    pytest.param("alice\u17b4", "invisible", id="khmer-inherent-vowel"),
    pytest.param("alice\u2800->\u2800bob", "only letters, digits", id="braille-blank-arrow"),
    pytest.param("\u0430lice", "mix scripts", id="cyrillic-a"),
    pytest.param("alic\u0435", "mix scripts", id="cyrillic-ie"),
    pytest.param("\u0391lice", "mix scripts", id="greek-alpha"),
    pytest.param("alice\U000e0100", "invisible", id="variation-selector-17"),
    pytest.param("alice\U000e0041", "invisible", id="tag-letter"),
]


@pytest.mark.parametrize(("name", "why"), FINDING_4)
def test_the_names_that_passed_for_alice_are_refused(name: str, why: str) -> None:
    """Each look-alike of issue 16 is no name now, and the reason says what is wrong."""
    problem = name_problem(name)
    assert problem is not None, name
    assert why in problem


@pytest.mark.parametrize(
    "name",
    [
        "alice",
        "Zoë",
        "李雷",
        "o'brien",
        "x" * MAX_NAME_CHARS,
        "bob_2",
        "Mary-Jane",
        "j.doe",
        "Иван",  # one script: Cyrillic
        "Ελένη",  # Greek
        "田中Taro",  # Han + Latin, a UTS #39 "highly restrictive" combination
        "たなか太郎",  # Hiragana + Han: Japanese
        "김민수",  # Hangul
        "नमस्ते",  # Devanagari, with its combining signs
        "José",  # decomposed in NFD, composed after NFKC
        "Jose\u0301",  # the same, typed with a combining acute
        "ユーザー",  # Katakana with U+30FC, a Common character of Hiragana and Katakana
        "שלום",  # Hebrew
        "user42",
        "٣٤عمر",  # Arabic letters with Arabic-Indic digits
    ],
)
def test_names_of_one_script_are_valid(name: str) -> None:
    """Letters of one script (or a usual CJK combination), digits and _ - . ' make names."""
    assert name_problem(name) is None, name_problem(name)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        ("x" * (MAX_NAME_CHARS + 1), f"at most {MAX_NAME_CHARS}"),
        ("two words", "spaces"),
        ("no\u3000space", "spaces"),
        ("evil\u202eman", "invisible"),
        ("zero\u200bwidth", "invisible"),
        ("zero\u200dwidth", "invisible"),
        ("bell\x07", "invisible"),
        ("\ue000private", "invisible"),
        ("alice@example", "only letters, digits"),
        ("alice:", "only letters, digits"),
        ("a->b", "only letters, digits"),
        ("smile\u263a", "only letters, digits"),
        ("_alice", "starts with a letter or a digit"),
        ("'quote", "starts with a letter or a digit"),
        ("\u0301accent", "starts with a letter or a digit"),
        ("mixedИ", "mix scripts"),
        ("Δelta", "mix scripts"),
        ("ab\u0308\u0308", "repeat a combining mark"),
        ("a\u0300\u0301\u0302\u0303\u0304", "at most 4 combining marks"),
        ("x1\u0661", "numbering systems"),
        ("\u13a0\u13a1", "recommended scripts"),  # Cherokee: not a Recommended script
        ("\u16a0\u16a1", "recommended scripts"),  # Runic
        ("a\u20dd", "enclosing marks"),
    ],
)
def test_invalid_names_say_why(name: str, why: str) -> None:
    """Each rejected name comes with a reason a person can act on."""
    problem = name_problem(name)
    assert problem is not None, name
    assert why in problem


def test_only_length_is_told_apart() -> None:
    """A CN that is only too long can pass for nobody: rtchat-certs issues it with a warning."""
    long = check_name("a" * 40)
    assert long is not None
    assert long.too_long
    mixed = check_name("\u0430" + "a" * 40)
    assert mixed is not None
    assert not mixed.too_long


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("alice", "\u0430lice"),  # a Cyrillic a (refused anyway: mixed scripts)
        ("alice", "aIice"),  # a capital I for the l
        ("Alice", "AIice"),
        ("alice", "ALlCE"),  # ALICE, a case of alice, with a small l for the I
        ("ian", "lan"),  # Ian, a case of ian, with a small l for the capital I
        ("alice", "a1ice"),  # a digit one
        ("mary", "rnary"),  # r and n for the m
        ("bob1", "bobl"),
        ("B0B", "bob"),  # a zero for the O, and any case
        ("cop", "\u0441\u043e\u0440"),  # Latin cop, Cyrillic cop: both single-script
        ("dave", "\u0501\u0430\u0475\u0435"),  # dave in Cyrillic letters
        ("xo", "\u03c7\u03bf"),  # Greek χο
        ("o'brien", "o\u02bcbrien"),  # MODIFIER LETTER APOSTROPHE for the '
    ],
)
def test_names_that_look_alike_share_a_skeleton(one: str, other: str) -> None:
    """UTS #39 skeletons, compared case-folded as name keys are."""
    assert names_look_alike(one, other)
    assert names_look_alike(other, one)


@pytest.mark.parametrize(
    ("one", "other"), [("alice", "alicia"), ("bob", "rob"), ("anna", "anne"), ("sam", "pam")]
)
def test_names_that_look_different_do_not(one: str, other: str) -> None:
    assert not names_look_alike(one, other)


def test_the_same_name_always_looks_alike() -> None:
    """Case and width variants share their key, and so a skeleton."""
    assert names_look_alike("Alice", "ALICE")
    assert names_look_alike("alice", "\uff41lice")
    assert name_key("\uff21lice") == name_key("alice")


def test_a_valid_name_is_shown_as_it_is_and_an_invalid_one_escaped() -> None:
    """The client shows names through ``shown``: a look-alike can never show as the real one."""
    assert shown("alice") == "alice"
    assert shown("李雷") == "李雷"
    assert shown("\u0430lice") == "\\u0430lice"
    assert shown("alice\u034f") == "alice\\u034f"
    assert shown("alice\u2800->\u2800bob") == "alice\\u2800-\\x3e\\u2800bob"
    assert shown("evil\u202eman") == "evil\\u202eman"
    assert shown("x" * 40) == "x" * 40  # only too long: nothing hides in it


# -- hypothesis: the profile's promises for any string ---------------------------------


@given(st.text(max_size=40))
def test_any_string_is_valid_shown_as_is_or_shown_in_plain_ascii(text: str) -> None:
    """A valid name holds nothing invisible and no backslash; an invalid one shows escaped."""
    problem = check_name(text)
    if problem is None:
        normal = unicodedata.normalize("NFKC", text)
        assert 1 <= len(normal) <= MAX_NAME_CHARS
        assert "\\" not in text
        for char in normal:
            category = unicodedata.category(char)
            assert category[0] not in "CZ", (char, category)
            assert not default_ignorable(char)
        assert shown(text) == text
        assert name_key(name_key(text)) == name_key(text)
        assert lookalike_keys(text) & lookalike_keys(name_key(text))
    elif not problem.too_long:
        assert all(char.isascii() and char.isprintable() for char in shown(text))


INVISIBLE = st.sampled_from(
    [
        *("\u034f", "\ufe0f", "\ufe00", "\u3164", "\u1160", "\u115f", "\uffa0", "\u200b"),
        *("\u200d", "\u2060", "\u00ad", "\u180e", "\U000e0100", "\U000e0020", "\u2800"),
        "\u3000",
    ]
)


@given(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=20),
    INVISIBLE,
    st.integers(min_value=0, max_value=20),
)
def test_nothing_invisible_hides_anywhere_in_a_name(name: str, hidden: str, at: int) -> None:
    """Put any of the invisible characters anywhere in a valid name: it is no name any more."""
    at = min(at, len(name))
    assert name_problem(name) is None
    assert name_problem(name[:at] + hidden + name[at:]) is not None


LATIN_LOOKALIKES = {
    "\u0430": "a",  # Cyrillic
    "\u0435": "e",
    "\u043e": "o",
    "\u0440": "p",
    "\u0441": "c",
    "\u0443": "y",
    "\u0445": "x",
    "\u0456": "i",
    "\u0458": "j",
    "\u0455": "s",
    "\u04bb": "h",
    "\u03bf": "o",  # Greek
    "\u03bd": "v",
    "\u03b9": "i",
    "\u0391": "A",
    "\u0392": "B",
    "\u0395": "E",
    "\u039f": "O",
    "\u0410": "A",  # Cyrillic capitals
    "\u0412": "B",
    "\u041c": "M",
    "\u0422": "T",
}


@given(
    st.text(alphabet="acehijopsvxy", min_size=1, max_size=16),
    st.data(),
)
def test_a_latin_name_with_a_cyrillic_or_greek_letter_is_refused_or_looks_alike(
    name: str, data: st.DataObject
) -> None:
    """Swap any letter for its Cyrillic or Greek look-alike: refused as mixed, or taken."""
    swaps = [(fake, real) for fake, real in LATIN_LOOKALIKES.items() if real in name]
    if not swaps:
        return
    fake, real = data.draw(st.sampled_from(swaps))
    forged = name.replace(real, fake, 1)
    assert name_problem(forged) is not None or names_look_alike(name, forged)
    assert names_look_alike(name, forged)  # the skeleton alone catches it as well


# -- the tables, against the running Python --------------------------------------------


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_the_script_table_is_not_older_than_this_python() -> None:
    """Unassigned code points of the table take their neighbour's script: only safe if every
    character this Python knows was assigned when the table was made."""
    assert _version(SCRIPTS_VERSION) >= _version(unicodedata.unidata_version)


# Character names that say the script, for a check of the table against this Python.
NAMED_SCRIPTS = {
    "LATIN SMALL LETTER ": "Latn",
    "LATIN CAPITAL LETTER ": "Latn",
    "CYRILLIC SMALL LETTER ": "Cyrl",
    "CYRILLIC CAPITAL LETTER ": "Cyrl",
    "GREEK SMALL LETTER ": "Grek",
    "GREEK CAPITAL LETTER ": "Grek",
    "ARMENIAN SMALL LETTER ": "Armn",
    "HEBREW LETTER ": "Hebr",
    "ARABIC LETTER ": "Arab",
    "DEVANAGARI LETTER ": "Deva",
    "BENGALI LETTER ": "Beng",
    "TAMIL LETTER ": "Taml",
    "THAI CHARACTER ": "Thai",
    "GEORGIAN LETTER ": "Geor",
    "HANGUL SYLLABLE ": "Hang",
    "HIRAGANA LETTER ": "Hira",
    "KATAKANA LETTER ": "Kana",
    "CJK UNIFIED IDEOGRAPH-": "Hani",
    "CHEROKEE LETTER ": "",
    "RUNIC LETTER ": "",
    "OLD ITALIC LETTER ": "",
}


def test_the_script_table_agrees_with_this_pythons_character_names() -> None:
    """Every letter whose name says its script has that script in the table (or none, for a
    script names do not use); letters and digits this Python knows all have a value."""
    checked = 0
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        category = unicodedata.category(char)
        if category[0] != "L":
            continue
        name = unicodedata.name(char, "")
        for prefix, script in NAMED_SCRIPTS.items():
            if name.startswith(prefix):
                found = scripts_of(char)
                assert (script in found) if script else not found, (hex(code), name, found)
                checked += 1
                break
    assert checked > 90_000  # the CJK ideographs alone


def test_common_and_inherited_characters_go_with_every_script() -> None:
    assert scripts_of("0") == {"Zyyy"}
    assert scripts_of("_") == {"Zyyy"}
    # COMBINING ACUTE ACCENT: Inherited, and since Unicode 17 (or so) extended to the
    # scripts that use it: still one script with any of them.
    assert {"Latn", "Grek", "Cyrl"} <= scripts_of("\u0301") or scripts_of("\u0301") == {"Zinh"}
    assert any(value == "Zinh" for value in SCRIPT_VALUES)
    assert {"Hira", "Kana"} <= scripts_of("\u30fc")  # KATAKANA-HIRAGANA PROLONGED SOUND MARK


def test_the_default_ignorable_lists_fit_this_pythons_categories() -> None:
    """Other_Default_Ignorable_Code_Point and Variation_Selector (from PropList.txt) are
    letters (Lo), marks (Mn), format characters or unassigned here; every format character
    but the visible ones is default-ignorable."""
    lists = names._OTHER_DEFAULT_IGNORABLE + names._VARIATION_SELECTORS
    for first, last in lists:
        for code in range(first, last + 1):
            category = unicodedata.category(chr(code))
            assert category in {"Lo", "Mn", "Cf", "Cn"}, (hex(code), category)
            assert default_ignorable(chr(code))
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if unicodedata.category(char) == "Cf" and not names._in(code, names._VISIBLE_FORMAT):
            assert default_ignorable(char), hex(code)
    for char in "\u034f\ufe0f\u3164\u1160\u115f\uffa0\u17b4\u17b5\u180b\u200b\u2060\u00ad":
        assert default_ignorable(char), hex(ord(char))
    for char in "a\u2800\u0600\ufff9 ":
        assert not default_ignorable(char), hex(ord(char))


def test_the_confusables_hold_the_latin_cyrillic_greek_look_alikes() -> None:
    """Each Cyrillic or Greek letter that looks Latin maps to the Latin letter."""
    for fake, real in LATIN_LOOKALIKES.items():
        assert name_key(skeleton(fake)) == name_key(skeleton(real)), (hex(ord(fake)), real)


def test_every_confusable_source_can_occur_in_a_skeletons_input() -> None:
    """The table keeps only sources that survive NFKC and NFD here: others never match."""
    for source in PROTOTYPES:
        assert unicodedata.normalize("NFKC", source) == source, hex(ord(source))
        assert unicodedata.normalize("NFD", source) == source, hex(ord(source))
