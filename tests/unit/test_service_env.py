"""contrib/systemd: every RTCHAT_SERVER_ variable the unit and its env file set is an option."""

from __future__ import annotations

import re

import click

from realtimechat.cli.server import main

from ..support import REPO

UNITS = REPO / "contrib" / "systemd"


def variables_of(option: click.Option) -> list[str]:
    """The variables click reads for ``option``: its own, else the parameter's name."""
    if option.envvar:
        return [option.envvar] if isinstance(option.envvar, str) else list(option.envvar)
    return [f"RTCHAT_SERVER_{(option.name or '').upper()}"]


def option_variables() -> set[str]:
    return {
        variable
        for param in main.params
        if isinstance(param, click.Option)
        for variable in variables_of(param)
    }


def test_each_option_is_read_from_rtchat_server_and_its_flag() -> None:
    """As --help says: RTCHAT_SERVER_<OPTION>, the long flag upper-cased (--host: HOST)."""
    for param in main.params:
        if isinstance(param, click.Option) and param.name not in {"version", "help"}:
            flag = max(param.opts, key=len).removeprefix("--").replace("-", "_").upper()
            assert f"RTCHAT_SERVER_{flag}" == variables_of(param)[0], param.opts


def test_every_variable_set_is_an_option() -> None:
    """The env file's lines, commented or not, and the unit's Environment= name real options."""
    text = (UNITS / "rtchat-server.env").read_text() + (UNITS / "rtchat-server.service").read_text()
    used = re.findall(r"^(?:#|Environment=)?(RTCHAT_SERVER_\w+)=", text, re.MULTILINE)
    assert len(used) >= 7
    assert set(used) <= option_variables()
