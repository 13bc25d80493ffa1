"""Chat names: the one name profile, and when two names are the same or look the same.

The server (``hub.choose_name``, both naming modes), the client (how a
name is shown: ``shown``) and ``rtchat-certs`` (``issue``, ``request``,
``sign``) all use this module, so a name one of them accepts is a name
all of them accept (docs/protocol.md 5.3 states the profile):

* After NFKC a name has 1 to 32 characters: letters and combining marks of
  one script (the Recommended scripts of UTS #31, with the usual Han +
  Hiragana/Katakana, Han + Hangul and Han + Bopomofo combinations and
  Latin beside any of those), decimal digits of one numbering system, and
  ``_ - . '``. It starts with a letter or digit.
* Nothing invisible: no control, format, private-use, unassigned or space
  character, and no other *default-ignorable* code point either (U+034F,
  the variation selectors, the Hangul fillers...), and no run of more
  than four combining marks or the same mark twice in a row.

Two names are *the same name* when their keys are equal (``name_key``:
NFKC, then case folded): ``Alice``, ``ALICE`` and ``\uff21lice`` (full width).
Two names *look alike* when they share a confusable skeleton (UTS #39,
``lookalike_keys``), compared case-folded like the key: ``alice`` and
``aIice`` (a capital I), ``mary`` and ``rnary``, Latin ``cop`` and
Cyrillic ``\u0441\u043e\u0440``. A name that looks like another identity's is refused
as ``name_taken``, as the same name is.

Names are stricter than message text (``sanitize``): text may hold any
visible character and will keep joiners inside emoji and words; a name
holds none of that.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from .nametables import PROTOTYPES, SCRIPT_STARTS, SCRIPT_VALUES

MAX_NAME_CHARS: Final = 32
#: The punctuation a name may hold besides letters, marks and digits.
NAME_PUNCTUATION: Final = "_-.'"
#: UTS #39 5.4: more combining marks than this in a row is refused.
MAX_MARKS_IN_A_ROW: Final = 4
_PLAIN_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.'-]*")

# Default_Ignorable_Code_Point (Unicode's DerivedCoreProperties.txt) is
#   Other_Default_Ignorable_Code_Point + Cf + Variation_Selector
#   - White_Space - FFF9..FFFB - 13430..1343F - Prepended_Concatenation_Mark.
# Python's unicodedata gives the categories (so Cf follows the running
# Python's Unicode), not the two lists below, which come from PropList.txt
# (unchanged from Unicode 14 to 16; tests/unit/test_name_profile.py checks
# them against the running Python's categories). Of these only U+034F,
# U+115F, U+1160, U+17B4, U+17B5, U+3164, U+FFA0 and the variation
# selectors are assigned, as letters (Lo) or marks (Mn): the characters
# that passed a category check and hid in names.
_OTHER_DEFAULT_IGNORABLE: Final = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x2065, 0x2065),
    (0x3164, 0x3164),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0xE0000, 0xE0000),
    (0xE0002, 0xE001F),
    (0xE0080, 0xE00FF),
    (0xE01F0, 0xE0FFF),
)
_VARIATION_SELECTORS: Final = (
    (0x180B, 0x180D),
    (0x180F, 0x180F),
    (0xFE00, 0xFE0F),
    (0xE0100, 0xE01EF),
)
# Format characters that are not default-ignorable: they are meant to be seen.
_VISIBLE_FORMAT: Final = (
    (0x0600, 0x0605),  # Prepended_Concatenation_Mark ...
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),  # ... up to here
    (0xFFF9, 0xFFFB),  # interlinear annotation
    (0x13430, 0x1343F),  # Egyptian hieroglyph format controls
)

# The script combinations UTS #39 "highly restrictive" allows beside single
# scripts: Han with the scripts written with it, each also with Latin.
_AUGMENTED: Final = {
    "Hani": frozenset({"Hanb", "Jpan", "Kore"}),
    "Hira": frozenset({"Jpan"}),
    "Kana": frozenset({"Jpan"}),
    "Hang": frozenset({"Kore"}),
    "Bopo": frozenset({"Hanb"}),
}
_COMBINATIONS: Final = (
    frozenset({"Latn", "Hani", "Hira", "Kana", "Jpan"}),
    frozenset({"Latn", "Hani", "Bopo", "Hanb"}),
    frozenset({"Latn", "Hani", "Hang", "Kore"}),
)
_NO_SCRIPT: Final = frozenset({"Zyyy", "Zinh"})  # Common, Inherited: go with any script
_SCRIPT_NAMES: Final = {
    "Arab": "Arabic",
    "Armn": "Armenian",
    "Beng": "Bengali",
    "Bopo": "Bopomofo",
    "Cyrl": "Cyrillic",
    "Deva": "Devanagari",
    "Ethi": "Ethiopic",
    "Geor": "Georgian",
    "Grek": "Greek",
    "Gujr": "Gujarati",
    "Guru": "Gurmukhi",
    "Hang": "Hangul",
    "Hani": "Han",
    "Hebr": "Hebrew",
    "Hira": "Hiragana",
    "Kana": "Katakana",
    "Knda": "Kannada",
    "Khmr": "Khmer",
    "Laoo": "Lao",
    "Latn": "Latin",
    "Mlym": "Malayalam",
    "Mymr": "Myanmar",
    "Orya": "Oriya",
    "Sinh": "Sinhala",
    "Taml": "Tamil",
    "Telu": "Telugu",
    "Thaa": "Thaana",
    "Thai": "Thai",
    "Tibt": "Tibetan",
}


def _in(code: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(first <= code <= last for first, last in ranges)


def _codes(*lists: tuple[tuple[int, int], ...]) -> frozenset[int]:
    return frozenset(
        code for ranges in lists for first, last in ranges for code in range(first, last + 1)
    )


_IGNORABLE_CODES: Final = _codes(_OTHER_DEFAULT_IGNORABLE, _VARIATION_SELECTORS)
_VISIBLE_FORMAT_CODES: Final = _codes(_VISIBLE_FORMAT)


def default_ignorable(char: str) -> bool:
    """Whether ``char`` is a Default_Ignorable_Code_Point: shown as nothing at all."""
    code = ord(char)
    if code in _IGNORABLE_CODES:
        return True
    return unicodedata.category(char) == "Cf" and code not in _VISIBLE_FORMAT_CODES


@lru_cache(maxsize=8192)
def scripts_of(char: str) -> frozenset[str]:
    """``char``'s Script_Extensions among the scripts names may use (empty: another script).

    ``Zyyy`` (Common: digits, ``_ - . '``) and ``Zinh`` (Inherited: most
    combining marks) go with every script.
    """
    value = SCRIPT_VALUES[bisect.bisect_right(SCRIPT_STARTS, ord(char)) - 1]
    return frozenset(value.split())


@dataclass(frozen=True, slots=True)
class NameProblem:
    """Why a string is no chat name. ``too_long`` is the only problem a long CN has."""

    reason: str
    too_long: bool = False


def _u(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


@lru_cache(maxsize=4096)  # the client asks for every name it shows
def check_name(name: str) -> NameProblem | None:
    """Why ``name`` cannot be a chat name under the profile, or None if it can."""
    if len(name) <= MAX_NAME_CHARS and _PLAIN_NAME.fullmatch(name):
        return None  # ASCII letters (Latin), digits and _ - . ': the common case, quickly
    return _check(name)


def _check(name: str) -> NameProblem | None:
    if not name:
        return NameProblem("a name cannot be empty")
    normal = unicodedata.normalize("NFKC", name)
    # Each character as typed, named as typed (U+3164, not U+1160, its NFKC);
    # then the whole NFKC form, which composition may change.
    pairs = [(char, typed) for typed in name for char in unicodedata.normalize("NFKC", typed)]
    for char, typed in [*pairs, *((char, char) for char in normal)]:
        problem = _character_problem(char, typed)
        if problem is not None:
            return NameProblem(problem)
    if unicodedata.category(normal[0])[0] not in "LN":
        return NameProblem(f"a name starts with a letter or a digit, not {normal[0]!r}")
    problem = _marks_problem(normal) or _digits_problem(normal) or _scripts_problem(normal)
    if problem is not None:
        return NameProblem(problem)
    if len(normal) > MAX_NAME_CHARS:
        return NameProblem(f"a name has at most {MAX_NAME_CHARS} characters", too_long=True)
    return None


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a chat name, or None if it can (``check_name``'s reason)."""
    problem = check_name(name)
    return problem.reason if problem is not None else None


def _character_problem(char: str, typed: str) -> str | None:
    """Why ``char`` (NFKC of ``typed``, or part of it) cannot be in a name; None if it can."""
    category = unicodedata.category(char)
    what = None
    if category.startswith("Z"):
        what = "a name cannot contain spaces"
    elif category.startswith("C") or default_ignorable(char):
        what = "a name cannot contain control or invisible characters"
    elif char in NAME_PUNCTUATION:
        return None
    elif category[0] not in "LM" and category != "Nd":
        what = f"a name holds only letters, digits and {' '.join(NAME_PUNCTUATION)}"
    elif category == "Me":
        what = "a name cannot contain enclosing marks"
    elif not scripts_of(char):
        return f"a name cannot use this script ({_u(typed)}): UTS #31's recommended scripts only"
    return f"{what} ({_u(typed)})" if what is not None else None


def _marks_problem(normal: str) -> str | None:
    run, previous = 0, ""
    for char in unicodedata.normalize("NFD", normal):
        if unicodedata.category(char) != "Mn":
            run, previous = 0, ""
            continue
        run += 1
        if char == previous:
            return f"a name cannot repeat a combining mark ({_u(char)})"
        if run > MAX_MARKS_IN_A_ROW:
            return f"a name has at most {MAX_MARKS_IN_A_ROW} combining marks in a row"
        previous = char
    return None


def _digits_problem(normal: str) -> str | None:
    zeros = {ord(char) - unicodedata.decimal(char) for char in normal if char.isdecimal()}
    if len(zeros) > 1:
        return "a name cannot mix digits of different numbering systems"
    return None


def _scripts_problem(normal: str) -> str | None:
    """None if ``normal`` is single-script (UTS #39 'highly restrictive'), else why not."""
    sets: list[tuple[str, frozenset[str]]] = []
    for char in normal:
        scripts = scripts_of(char)
        if scripts <= _NO_SCRIPT:
            continue
        augmented = scripts.union(*(_AUGMENTED.get(script, frozenset()) for script in scripts))
        sets.append((char, augmented))
    if not sets:
        return None
    resolved = frozenset.intersection(*(scripts for _, scripts in sets))
    if resolved:
        return None
    if any(all(scripts & combination for _, scripts in sets) for combination in _COMBINATIONS):
        return None
    first_char, first = sets[0]
    clash_char = next(char for char, scripts in sets if not scripts & first)
    return (
        f"a name cannot mix scripts ({_script_name(first_char)} {first_char!r} and "
        f"{_script_name(clash_char)} {clash_char!r}, {_u(clash_char)})"
    )


def _script_name(char: str) -> str:
    codes = sorted(scripts_of(char) - _NO_SCRIPT)
    return "/".join(_SCRIPT_NAMES.get(code, code) for code in codes)


def name_key(name: str) -> str:
    """The form two names are compared in: NFKC, then case-folded."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


_TO_PROTOTYPES: Final[dict[int, str | None]] = {
    **{ord(source): target for source, target in PROTOTYPES.items()},
    **dict.fromkeys(_IGNORABLE_CODES),  # None: removed
}


def skeleton(text: str) -> str:
    """The UTS #39 skeleton of ``text``: NFD, default-ignorables out, prototypes, NFD again."""
    decomposed = unicodedata.normalize("NFD", text)
    if not decomposed.isascii():  # format characters are default-ignorable too
        decomposed = "".join(char for char in decomposed if not default_ignorable(char))
    return unicodedata.normalize("NFD", decomposed.translate(_TO_PROTOTYPES))


@lru_cache(maxsize=4096)
def lookalike_keys(name: str) -> frozenset[str]:
    """The forms two names that look alike share at least one of.

    The skeleton of the name as shown (NFKC), of its key and of its upper
    case, each case folded the way ``name_key`` folds. Names are the same
    in any case, so a name looks like another when it looks like any case
    of it: ``aIice`` (capital I) shows like ``alice`` with its I read as
    l, and ``ALlCE`` like ``ALICE``; neither is ``alice``'s key.
    """
    normal = unicodedata.normalize("NFKC", name)
    forms = (normal, name_key(normal), normal.upper())
    return frozenset(name_key(skeleton(form)) for form in forms)


def names_look_alike(one: str, other: str) -> bool:
    """Whether ``one`` and ``other`` look alike (share a skeleton), the same name or not."""
    return bool(lookalike_keys(one) & lookalike_keys(other))


_PLAIN: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" + NAME_PUNCTUATION
)


def shown(name: str) -> str:
    """``name`` as a terminal shows it: itself if the profile allows it, else escaped.

    A name that fails the profile (a server that does not check it, a name
    owned before it existed) has every character outside ASCII letters,
    digits and ``_ - . '`` written as ``\\uXXXX`` or ``\\xXX``: ``alice``
    with a Cyrillic a (U+0430) shows as ``\\u0430lice``, never as ``alice``. No valid
    name holds a backslash, so an escaped one cannot pass for a valid one.
    A name whose only fault is its length is shown as it is.
    """
    problem = check_name(name)
    if problem is None or problem.too_long:
        return name
    return "".join(char if char in _PLAIN else _escape(char) for char in name)


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def name_from_cn(common_name: str) -> str:
    """The chat name for a certificate CN under ``--names cn``.

    Spaces become underscores, so ``Alice Smith`` (a CN people do type at
    openssl's prompt) is usable as ``Alice_Smith``; anything else that
    makes a bad name is left for ``name_problem`` to report.
    """
    return "_".join(common_name.split())
