"""The documentation points at what exists, and protocol.md's sections are held by tests.

Links: every relative link in README.md and docs/*.md leads to a file of the
repository, and a ``#fragment`` to a heading of that file (GitHub's anchors).
Every test, test file and source file the docs name in backticks exists.

Markers: a test that holds a rule of docs/protocol.md says so with
``@pytest.mark.protocol("6.3")`` (one or more section numbers). Every section
a marker names is a numbered heading of protocol.md, and every section that
protocol.md lists under "Held by tests" has at least one marked test. The
markers are read from the source (no collection of the whole suite), so they
must be where pytest sees them: on a test function or class, in a module's
``pytestmark``, or in ``marks=`` of a parameter.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..support import REPO

ROOT = REPO
TESTS = ROOT / "tests"
PACKAGE = ROOT / "src" / "realtimechat"
PROTOCOL = ROOT / "docs" / "protocol.md"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
HELD = "Held by tests"  # the heading of protocol.md's list of sections tests hold

FENCE = re.compile(r"^(```|~~~)")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
LINK = re.compile(r"\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
SECTION = re.compile(r"^(\d+(?:\.\d+)*)\.?\s")


# -- reading markdown -------------------------------------------------------------------


def prose_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The lines of ``path`` outside fenced code blocks, numbered from 1."""
    fenced = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation gone, spaces to dashes."""
    text = INLINE_CODE.sub(lambda m: m.group(2), heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link in a heading: its text
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def headings(path: Path) -> list[str]:
    """The text of every heading of ``path``, in order."""
    return [m.group(2) for _, line in prose_lines(path) if (m := HEADING.match(line))]


def anchors(path: Path) -> set[str]:
    """Every anchor GitHub makes for ``path``: a repeated heading gets -1, -2, ..."""
    seen: dict[str, int] = {}
    found = set()
    for heading in headings(path):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> Iterator[tuple[int, str]]:
    """Every link target in ``path``'s prose (not in code), with its line number."""
    for number, line in prose_lines(path):
        for match in LINK.finditer(INLINE_CODE.sub("", line)):
            yield number, match.group(1)


def code_spans(path: Path) -> Iterator[tuple[int, str]]:
    """Every inline code span of ``path``'s prose, with its line number."""
    for number, line in prose_lines(path):
        for match in INLINE_CODE.finditer(line):
            yield number, match.group(2).strip()


def shown(path: Path) -> str:
    return str(path.relative_to(ROOT))


# -- links ------------------------------------------------------------------------------


def test_the_docs_are_found() -> None:
    assert len(DOCS) >= 8
    assert all(doc.is_file() for doc in DOCS)


def test_slugs_are_githubs() -> None:
    assert slug("4.1 Client to server") == "41-client-to-server"
    assert slug("`msg` (client)") == "msg-client"
    assert slug("rtchat-bench: measure your own server") == "rtchat-bench-measure-your-own-server"
    assert slug("Limits") == "limits"


@pytest.mark.parametrize("doc", DOCS, ids=shown)
def test_every_relative_link_leads_somewhere(doc: Path) -> None:
    """A relative link names a file of the repository, and its #fragment a heading there."""
    broken = []
    for number, target in links(doc):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, fragment = target.partition("#")
        destination = (doc.parent / path).resolve() if path else doc
        where = f"{shown(doc)}:{number}: {target}"
        if not destination.exists():
            broken.append(f"{where}: no such file")
        elif not destination.is_relative_to(ROOT):
            broken.append(f"{where}: outside the repository")
        elif fragment and destination.suffix == ".md" and fragment not in anchors(destination):
            broken.append(f"{where}: no heading #{fragment} in {shown(destination)}")
    assert broken == []


TEST_REFERENCE = re.compile(r"^(tests/[\w/]+\.py)(?:::(\w+))?$")
SOURCE_REFERENCE = re.compile(r"^(?:src/realtimechat/)?([\w/]+\.py)$")


@pytest.mark.parametrize("doc", DOCS, ids=shown)
def test_every_test_and_source_file_named_exists(doc: Path) -> None:
    """`tests/FILE.py::test_name`, `tests/FILE.py`, `server/hub.py`: each one is there."""
    missing = []
    for number, span in code_spans(doc):
        where = f"{shown(doc)}:{number}: {span}"
        if test := TEST_REFERENCE.match(span):
            path = ROOT / test.group(1)
            if not path.is_file():
                missing.append(f"{where}: no such file")
            elif test.group(2) and not re.search(
                rf"^\s*(async )?def {test.group(2)}\(", path.read_text(), re.MULTILINE
            ):
                missing.append(f"{where}: no such test")
        elif (
            (source := SOURCE_REFERENCE.match(span))
            and "/" in span
            and not (ROOT / span).is_file()
            and not (PACKAGE / source.group(1)).is_file()
        ):
            missing.append(f"{where}: no such file")
    assert missing == []


# -- protocol.md's sections and the tests that hold them ----------------------------------


def numbered_sections() -> set[str]:
    """Every section number of protocol.md's headings: ``1``, ``4.1``, ``12.3``."""
    return {m.group(1) for heading in headings(PROTOCOL) if (m := SECTION.match(heading))}


def held_sections() -> list[str]:
    """The section numbers listed under protocol.md's "Held by tests" heading."""
    listed: list[str] = []
    inside = False
    for _, line in prose_lines(PROTOCOL):
        if heading := HEADING.match(line):
            inside = heading.group(2).endswith(HELD)
        elif inside and (item := re.match(r"^- (\d+(?:\.\d+)*)\s", line)):
            listed.append(item.group(1))
    return listed


def is_protocol_mark(node: ast.AST) -> bool:
    """``pytest.mark.protocol(...)`` (or ``mark.protocol(...)``)."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "protocol"
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr == "mark"
    )


def visible_marks(tree: ast.Module) -> set[int]:
    """The ids of the marker calls pytest applies: decorators, pytestmark, marks=."""
    places: list[ast.AST] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name.startswith("test")
        ) or (isinstance(node, ast.ClassDef) and node.name.startswith("Test")):
            places += node.decorator_list
        elif isinstance(node, ast.keyword) and node.arg == "marks":
            places.append(node.value)
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "pytestmark"
            for target in statement.targets
        ):
            places.append(statement.value)
    return {id(call) for place in places for call in ast.walk(place) if is_protocol_mark(call)}


def protocol_marks() -> list[tuple[str, tuple[str, ...]]]:
    """Every ``mark.protocol(...)`` in tests/: where it is, and the sections it names.

    A marker pytest would not apply, or one whose arguments are not section
    numbers written out, fails here rather than being silently skipped.
    """
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        applied = visible_marks(tree)
        for node in ast.walk(tree):
            if not is_protocol_mark(node):
                continue
            assert isinstance(node, ast.Call)
            where = f"{shown(path)}:{node.lineno}"
            assert id(node) in applied, f"{where}: not on a test, pytestmark or marks="
            sections = [arg.value for arg in node.args if isinstance(arg, ast.Constant)]
            assert node.args, f"{where}: names no section"
            assert not node.keywords, f"{where}: sections are positional strings"
            assert len(sections) == len(node.args), f"{where}: sections are written out"
            assert all(isinstance(section, str) for section in sections), where
            found.append((where, tuple(str(section) for section in sections)))
    return found


def test_protocol_marker_is_registered() -> None:
    """--strict-markers refuses an unregistered marker; this one is in pyproject.toml."""
    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^\s*"protocol\(', text, re.MULTILINE)


def test_every_marked_section_is_a_heading_of_protocol_md() -> None:
    """A marker names sections that exist: renumbering protocol.md fails here."""
    sections = numbered_sections()
    assert {"1", "4.1", "12.3"} <= sections
    marks = protocol_marks()
    assert marks
    unknown = [(where, s) for where, named in marks for s in named if s not in sections]
    assert unknown == []


def test_every_section_held_by_tests_has_a_marked_test() -> None:
    """Each section listed under "Held by tests" is named by at least one marker."""
    listed = held_sections()
    assert listed, f"no list under a heading ending {HELD!r} in protocol.md"
    assert len(listed) == len(set(listed)), listed
    assert set(listed) <= numbered_sections()
    marked = {section for _, named in protocol_marks() for section in named}
    assert [section for section in listed if section not in marked] == []


def test_no_marked_section_is_left_off_the_held_list() -> None:
    """A section some test holds is listed as held, so the list says what is covered."""
    listed = set(held_sections())
    marked = {section for _, named in protocol_marks() for section in named}
    assert sorted(marked - listed) == []


# -- citations in the code and the docs ---------------------------------------------------

CITING = [*sorted(PACKAGE.rglob("*.py")), *sorted(TESTS.rglob("*.py")), *DOCS]
SECTION_CITATION = re.compile(r"protocol\.md,? (\d+(?:\.\d+)*)\b")
TITLE_CITATION = re.compile(r"\b([\w-]+\.md),? \(?\"([^\"]+)\"")


def doc_named(name: str) -> Path | None:
    """``protocol.md`` or ``README.md``: the file of the docs with that name."""
    return next((doc for doc in DOCS if doc.name == name), None)


def test_every_cited_section_of_protocol_md_exists() -> None:
    """ "docs/protocol.md 6.2" in a comment or a doc names a numbered heading."""
    sections = numbered_sections()
    unknown = []
    for path in CITING:
        text = " ".join(path.read_text(encoding="utf-8").split())
        unknown += [
            f"{shown(path)}: protocol.md {cited}"
            for cited in SECTION_CITATION.findall(text)
            if cited not in sections
        ]
    assert unknown == []


def titles(doc: Path) -> set[str]:
    """The headings of ``doc`` as cited: without code marks, with or without their number."""
    plain = [INLINE_CODE.sub(r"\2", heading) for heading in headings(doc)]
    return {*plain, *(SECTION.sub("", heading) for heading in plain)}


def test_every_cited_heading_exists() -> None:
    """design.md, "Client" (or README.md ("Exit codes")) names a heading of that file."""
    unknown = []
    for path in CITING:
        text = " ".join(path.read_text(encoding="utf-8").split())
        for name, title in TITLE_CITATION.findall(text):
            doc = doc_named(name)
            if doc is None:
                unknown.append(f"{shown(path)}: {name} is not one of the docs")
            elif title not in titles(doc):
                unknown.append(f'{shown(path)}: {name}, "{title}" is no heading there')
    assert unknown == []
