"""Chat names: what a valid name is and when two names are the same.

Names compare after NFKC normalisation and case folding, so ``Alice``,
``ALICE`` and full-width ``\uff21lice`` are one name. A name may not hold
control, format (bidi overrides, zero-width), separator or unassigned
characters: what one user sees as a name, everyone sees the same way.
"""

from __future__ import annotations

import unicodedata
from typing import Final

MAX_NAME_CHARS: Final = 32

# Unicode general categories a name may not contain: controls (Cc), format
# characters such as bidi overrides and zero-width joiners (Cf), surrogates
# (Cs), private use (Co), unassigned (Cn), and every kind of space (Z*).
_FORBIDDEN_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a chat name, or None if it can."""
    if not name:
        return "a name cannot be empty"
    normal = unicodedata.normalize("NFKC", name)
    if len(normal) > MAX_NAME_CHARS:
        return f"a name has at most {MAX_NAME_CHARS} characters"
    for char in normal:
        category = unicodedata.category(char)
        if category in _FORBIDDEN_CATEGORIES:
            what = "spaces" if category.startswith("Z") else "control or invisible characters"
            return f"a name cannot contain {what} (U+{ord(char):04X})"
    return None


def name_key(name: str) -> str:
    """The form two names are compared in: NFKC, then case-folded."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def name_from_cn(common_name: str) -> str:
    """The chat name for a certificate CN under ``--names cn``.

    Spaces become underscores, so ``Alice Smith`` (a CN people do type at
    openssl's prompt) is usable as ``Alice_Smith``; anything else that
    makes a bad name is left for ``name_problem`` to report.
    """
    return "_".join(common_name.split())
