"""Click options made from the fields of a settings dataclass, and the dataclass made back.

A field declared with ``server.config.option`` becomes one ``--dashed-name``
option whose default, help, unit and range come from the field alone, so
``rtchat-server --help``, the environment variables and the dataclass cannot
disagree. The values click returns are handed back to the dataclass by
field name; nothing copies them one by one.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping
from enum import StrEnum
from typing import Any, TypeVar

import click

from ..server.config import Option, option_of

D = TypeVar("D")
F = TypeVar("F", bound=Callable[..., Any])

# How a range error names the unit: "0 (...) or 0.1 to 86400 seconds".
_UNIT_WORDS = {
    "s": " seconds",
    "/s": " per second",
    "bytes": " bytes",
    "bytes/s": " bytes per second",
}


def options_of(cls: type[Any]) -> Iterator[tuple[dataclasses.Field[Any], Option]]:
    """The fields of dataclass ``cls`` that are command-line options, in field order."""
    for field in dataclasses.fields(cls):
        spec = option_of(field)
        if spec is not None:
            yield field, spec


def option_name(field: dataclasses.Field[Any]) -> str:
    """``max_line_bytes`` is ``--max-line-bytes`` (and RTCHAT_SERVER_MAX_LINE_BYTES)."""
    return "--" + field.name.replace("_", "-")


def settings_options(cls: type[Any]) -> Callable[[F], F]:
    """Decorate a click command with one option per option field of ``cls``, in field order."""

    def decorate(command: F) -> F:
        # click lists options in the order of their decorators, which run
        # bottom-up: apply the last field first.
        for field, spec in reversed(list(options_of(cls))):
            command = _click_option(field, spec)(command)
        return command

    return decorate


def from_options(cls: type[D], params: Mapping[str, object], **others: object) -> D:
    """An instance of dataclass ``cls``: its option fields from ``params``, then ``others``.

    Each value goes through the type of the field's default, which turns a
    --names string back into its NamesMode (and leaves a number as it is).
    Fields in neither keep their default.
    """
    values = {field.name: _as_field(field, params[field.name]) for field, _ in options_of(cls)}
    return cls(**values, **others)


def _as_field(field: dataclasses.Field[Any], value: object) -> object:
    """``value`` as the type of the field's default (every option field has one)."""
    default: Any = field.default
    return type(default)(value)


def _click_option(field: dataclasses.Field[Any], spec: Option) -> Callable[[F], F]:
    """The click option of one field: its name, type, default and help, all from the field."""
    default = field.default
    if isinstance(default, bool):  # a flag: given or not (RTCHAT_SERVER_...=1 in the environment)
        return click.option(
            option_name(field), field.name, is_flag=True, default=default, help=spec.help
        )
    return click.option(
        option_name(field),
        field.name,
        type=(
            click.Choice([member.value for member in type(default)])
            if isinstance(default, StrEnum)
            else _number_type(default, spec)
        ),
        default=default.value if isinstance(default, StrEnum) else default,
        show_default=True,
        metavar=spec.metavar,
        help=spec.help if spec.off is None else f"{spec.help} 0: {spec.off}; else {_span(spec)}.",
        callback=None if spec.off is None else _zero_or_in_range(spec),
    )


class FiniteFloatRange(click.FloatRange):
    """click's FloatRange, refusing nan and inf.

    NaN compares false with everything, so it passes any range check, and
    ``--idle-timeout nan`` would turn the idle timeout off unseen; inf is
    no number a limit should be either.
    """

    name = "finite float range"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


def _number_type(default: object, spec: Option) -> click.IntRange | click.FloatRange | type[float]:
    """The range click checks; a plain float when 0 is allowed apart (our callback checks it)."""
    if spec.off is not None:
        return float
    if isinstance(default, int):
        return click.IntRange(_whole(spec.low), _whole(spec.high))
    return FiniteFloatRange(spec.low, spec.high)


def _zero_or_in_range(spec: Option) -> Callable[[click.Context, click.Parameter, float], float]:
    """Accept 0 (off) or low..high: not a busy loop, not NaN (which would turn it off unseen)."""
    assert spec.low is not None
    assert spec.high is not None
    low, high = spec.low, spec.high
    refusal = f"0 ({spec.off}) or {_span(spec)}{_UNIT_WORDS.get(spec.unit, '')}"

    def check(_ctx: click.Context, _param: click.Parameter, value: float) -> float:
        if value != 0 and not low <= value <= high:  # NaN fails every comparison
            raise click.BadParameter(refusal)
        return value

    return check


def _whole(bound: float | None) -> int | None:
    """An int field's bound, as IntRange takes it."""
    if bound is None:
        return None
    assert bound == int(bound), bound
    return int(bound)


def _span(spec: Option) -> str:
    """``0.1 to 86400``: the bounds as a user would type them (86400.0 without its .0)."""
    return f"{spec.low:g} to {spec.high:g}"
