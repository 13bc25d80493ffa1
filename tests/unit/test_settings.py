"""The settings' fields as the one source of rtchat-server's options and of operations.md.

Every option of ``rtchat-server`` that sets a field of ``Limits`` or
``ServerSettings`` is made from that field (cli/settings.py); these tests
hold the command line, the environment and docs/operations.md to the fields.
Nothing here starts a server: ``main.make_context`` parses as the command
would, then the values go through the functions ``main`` calls.
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing
from enum import StrEnum
from typing import Any

import click
import pytest

from realtimechat.cli.server import PROGRAM, main, server_limits
from realtimechat.cli.settings import from_options, option_name, options_of
from realtimechat.server.config import Limits, Option, ServerSettings, option_of

from ..support import REPO

DOC = REPO / "docs" / "operations.md"
CLASSES: tuple[type[Any], ...] = (Limits, ServerSettings)
OPTION_FIELDS = [
    pytest.param(cls, field, spec, id=option_name(field))
    for cls in CLASSES
    for field, spec in options_of(cls)
]


# -- the command line and the environment ------------------------------------------


def parsed(args: list[str]) -> tuple[Limits, ServerSettings]:
    """What ``rtchat-server ARGS`` would run with, built as ``main`` builds it."""
    ctx = main.make_context(PROGRAM, [*args])  # click consumes the list it parses
    return server_limits(ctx.params), from_options(ServerSettings, ctx.params)


@pytest.fixture(autouse=True)
def no_server_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No RTCHAT_SERVER_* variable of the machine running the tests may change a default."""
    for name in os.environ:
        if name.startswith("RTCHAT_SERVER_"):
            monkeypatch.delenv(name)


def sample(default: object, spec: Option) -> tuple[str, object]:
    """A valid value other than the default: as typed, and as the field should hold it.

    A number is typed without a decimal point, so that a float field shows
    it gets a float all the same.
    """
    if isinstance(default, StrEnum):
        other = next(member for member in type(default) if member != default)
        return other.value, other
    if isinstance(default, bool):  # a flag: given (the environment says 1) is the other value
        return "1", not default
    assert isinstance(default, int | float)
    step = 1 if spec.high is None or default + 1 <= spec.high else -1
    whole = int(default) + step
    return str(whole), type(default)(whole)


def test_the_option_names_stay_what_users_know() -> None:
    """Renaming a field must not rename an option (or its RTCHAT_SERVER_* variable) unseen."""
    assert [opt for param in main.params for opt in param.opts] == [
        *("--host", "--port", "--pki", "--cert", "--key", "--ca", "--pins", "--crl"),
        *("--watch-interval", "--tls13-only", "--names", "--presence-limit"),
        *("--presence-interval", "--presence-grace", "--history-lines", "--motd"),
        *("--operator-group", "--rooms"),
        *("--no-room-create", "--proxy-protocol"),
        *("--data", "--ephemeral", "--durability", "--redis", "--server-id"),
        *("--redis-durability", "--retention", "--max-line-bytes"),
        *("--handshake-timeout", "--first-byte-timeout", "--hello-timeout", "--max-handshakes"),
        *("--max-handshakes-per-source", "--max-connections", "--queue-frames"),
        *("--queue-bytes", "--queue-total-bytes", "--write-timeout", "--ping-interval"),
        *("--idle-timeout", "--rate", "--burst", "--identity-rate", "--identity-burst"),
        *("--identity-text-rate", "--identity-text-burst", "--max-per-address"),
        *("--max-per-identity", "--ipv4-prefix", "--ipv6-prefix", "--max-names-per-identity"),
        *("--max-rooms", "--max-rooms-per-identity", "--max-topic-chars"),
        *("--metrics", "--log-format", "--loop", "--log-level", "--version"),
    ]


@pytest.mark.parametrize("given_by", ["command line", "environment"])
@pytest.mark.parametrize(("cls", "field", "spec"), OPTION_FIELDS)
def test_every_option_lands_in_its_field_with_its_type(
    cls: type[Any],
    field: dataclasses.Field[Any],
    spec: Option,
    given_by: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A value given as --option or RTCHAT_SERVER_OPTION sets that one field, as its type."""
    typed, value = sample(field.default, spec)
    if given_by == "command line":
        flag = isinstance(field.default, bool)  # a flag takes no value
        limits, settings = parsed([option_name(field)] if flag else [option_name(field), typed])
    else:
        monkeypatch.setenv(f"RTCHAT_SERVER_{field.name.upper()}", typed)
        limits, settings = parsed([])
    built = {Limits: limits, ServerSettings: settings}
    for each in CLASSES:
        changes = {field.name: value} if each is cls else {}
        assert built[each] == dataclasses.replace(each(), **changes)
    landed = getattr(built[cls], field.name)
    assert type(landed) is typing.get_type_hints(cls)[field.name], landed


def test_nothing_given_is_every_default() -> None:
    """With no option and no environment, the server runs with the dataclasses' defaults."""
    assert parsed([]) == (Limits(), ServerSettings())


def test_idle_timeout_is_raised_to_the_ping_interval() -> None:
    """An idle timeout below the ping interval would drop clients before their first ping."""
    limits, _ = parsed(["--ping-interval", "40", "--idle-timeout", "5"])
    assert (limits.ping_interval, limits.idle_timeout) == (40.0, 40.0)


@pytest.mark.parametrize(("cls", "field", "spec"), OPTION_FIELDS)
def test_an_option_field_is_of_its_defaults_type(
    cls: type[Any], field: dataclasses.Field[Any], spec: Option
) -> None:
    """from_options converts through the default's type: it must be the field's own."""
    assert type(field.default) is typing.get_type_hints(cls)[field.name]
    if spec.off is not None:
        assert isinstance(field.default, float)


def out_of_range() -> list[Any]:
    """For every number option, the values just past its bounds."""
    cases = []
    for cls in CLASSES:
        for field, spec in options_of(cls):
            name = option_name(field)
            if spec.low is not None:
                below = spec.low - (1 if isinstance(field.default, int) else 0.05)
                cases.append(pytest.param(name, f"{below:g}", id=f"{name}-below"))
            if spec.high is not None:
                cases.append(pytest.param(name, f"{spec.high + 1:g}", id=f"{name}-above"))
    return cases


@pytest.mark.parametrize(("name", "value"), out_of_range())
def test_a_value_out_of_range_is_a_usage_error(name: str, value: str) -> None:
    """Past either bound an option is refused as click refuses it: exit 2, naming the option."""
    with pytest.raises(click.BadParameter) as refused:
        parsed([name, value])
    assert refused.value.exit_code == 2
    assert refused.value.format_message().startswith(f"Invalid value for '{name}': ")


def float_options() -> list[str]:
    return [
        option_name(field)
        for cls in CLASSES
        for field, spec in options_of(cls)
        if isinstance(field.default, float) and spec.off is None
    ]


@pytest.mark.parametrize("name", float_options())
def test_a_float_option_refuses_what_is_no_number(name: str) -> None:
    """nan passes every range check (it compares false) and would turn a limit off: refused,
    and so is inf (caught by the range where the option has an upper bound)."""
    with pytest.raises(click.BadParameter) as refused:
        parsed([name, "nan"])
    assert refused.value.format_message() == (
        f"Invalid value for '{name}': 'nan' is not a finite number."
    )
    with pytest.raises(click.BadParameter) as refused:
        parsed([name, "inf"])
    assert refused.value.format_message().startswith(f"Invalid value for '{name}': ")


@pytest.mark.parametrize(
    ("args", "environment", "message"),
    [
        (["--max-per-address", "0"], {}, "0 is not in the range x>=1."),
        (["--history-lines", "1001"], {}, "1001 is not in the range 0<=x<=1000."),
        (["--rate", "-1"], {}, "-1.0 is not in the range x>=0."),
        (["--names", "x"], {}, "'x' is not one of 'cn', 'claim'."),
        (["--watch-interval", "nan"], {}, "0 (reload only on SIGHUP) or 0.1 to 86400 seconds"),
        ([], {"RTCHAT_SERVER_QUEUE_BYTES": "10"}, "10 is not in the range x>=1024."),
    ],
    ids=["int-range", "int-range-both", "float-range", "choice", "zero-or-range", "environment"],
)
def test_refusals_say_what_they_said_before(
    args: list[str], environment: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The usage errors read word for word as when each option was written by hand."""
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(click.BadParameter) as refused:
        parsed(args)
    name = args[0] if args else "--queue-bytes"
    assert refused.value.format_message() == f"Invalid value for '{name}': {message}"


def test_zero_needs_two_bounds_to_be_a_way_out() -> None:
    """A setting that 0 turns off says which range the other values keep to."""
    with pytest.raises(ValueError, match="both bounds"):
        Option("help", low=0.1, off="never")


# -- docs/operations.md ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DocRow:
    """One row of an ``| option | default | ...`` table of docs/operations.md."""

    first: str  # the first cell as written: `--name ARG` or (fixed: `field`)
    cells: dict[str, str]  # by column title, backticks removed

    @property
    def option(self) -> str | None:
        match = re.match(r"`(--[a-z0-9-]+)", self.first)
        return match.group(1) if match else None

    @property
    def fixed(self) -> str | None:
        match = re.fullmatch(r"\(fixed: `(\w+)`\)", self.first)
        return match.group(1) if match else None


def doc_rows() -> list[DocRow]:
    """The body rows of every table of operations.md whose columns start option, default."""
    rows: list[DocRow] = []
    header: list[str] | None = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if header is None:
            header = cells
        elif header[:2] == ["option", "default"] and not set(line) <= set("|- "):
            plain = [cell.replace("`", "") for cell in cells]
            rows.append(DocRow(cells[0], dict(zip(header, plain, strict=True))))
    return rows


def doc_default(value: object, unit: str) -> str:
    """A default as operations.md writes it: ``10 s``, ``20/s``, ``65536 bytes``, ``cn``."""
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, bool):
        return "on" if value else "off"
    number = str(value) if isinstance(value, int) else f"{value:g}"
    return {
        "": number,
        "s": f"{number} s",
        "/s": f"{number}/s",
        "bytes": f"{number} bytes",
        "bytes/s": f"{number} bytes/s",
    }[unit]


def doc_allowed(default: object, spec: Option) -> str:
    """A range as operations.md writes it: ``1 or more``, ``0 to 1000``, ``0, or 0.1 to 86400``."""
    if isinstance(default, StrEnum):
        return ", ".join(member.value for member in type(default))
    if isinstance(default, bool):
        return "flag"
    assert spec.low is not None
    if spec.high is None:
        return f"{spec.low:g} or more"
    span = f"{spec.low:g} to {spec.high:g}"
    return span if spec.off is None else f"0, or {span}"


def without_gloss(cell: str) -> str:
    """``4194304 bytes (4 MiB)``: the value, without the reader's aid in parentheses."""
    return re.sub(r" \([^)]*\)$", "", cell)


@pytest.mark.parametrize(("cls", "field", "spec"), OPTION_FIELDS)
def test_operations_md_has_each_option_with_its_default_and_range(
    cls: type[Any], field: dataclasses.Field[Any], spec: Option
) -> None:
    """Each option made from a field has one row in operations.md, with the field's numbers."""
    rows = [row for row in doc_rows() if row.option == option_name(field)]
    assert len(rows) == 1, f"{option_name(field)}: {len(rows)} rows in {DOC.name}"
    (row,) = rows
    assert without_gloss(row.cells["default"]) == doc_default(field.default, spec.unit)
    assert row.cells.get("allowed") == doc_allowed(field.default, spec)


def test_operations_md_fixed_rows_have_the_fields_defaults() -> None:
    """A row for a setting that is no option names its field and gives its default."""
    fields = {field.name: field for cls in CLASSES for field in dataclasses.fields(cls)}
    fixed = [row for row in doc_rows() if row.fixed is not None]
    assert fixed
    for row in fixed:
        assert row.fixed in fields, row.first
        field = fields[row.fixed]
        assert option_of(field) is None, f"{row.first}: it is an option"
        number = re.match(r"[\d.]+", row.cells["default"])
        assert number is not None, row.cells
        assert float(number.group()) == field.default, row.first
        assert row.cells["allowed"] == "—", row.first


def test_operations_md_lists_every_limit() -> None:
    """The Limits table says it has every limit: every field of Limits has a row."""
    named = {row.fixed or row.option for row in doc_rows()}
    missing = [
        field.name
        for field in dataclasses.fields(Limits)
        if field.name not in named and option_name(field) not in named
    ]
    assert missing == []


def test_operations_md_names_only_real_options() -> None:
    """No row of its option tables names an option rtchat-server does not have."""
    options = {opt for param in main.params for opt in param.opts}
    rows = [row for row in doc_rows() if row.fixed is None]
    assert rows
    for row in rows:
        assert row.option in options, row.first
