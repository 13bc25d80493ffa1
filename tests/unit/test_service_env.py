"""contrib/systemd: every RTCHAT_SERVER_ variable the unit and its env file set is an option."""

from __future__ import annotations

import re

import click

from realtimechat.cli.server import main

from ..support import REPO

UNITS = REPO / "contrib" / "systemd"


def option_variables() -> set[str]:
    """RTCHAT_SERVER_<NAME> for each option: click names it after the parameter, not the flag."""
    return {
        f"RTCHAT_SERVER_{param.name.upper()}"
        for param in main.params
        if isinstance(param, click.Option) and param.name
    }


def test_the_variables_click_reads_are_named_after_parameters() -> None:
    """--host is HOSTS and --rooms is ROOMS_FILE, which the env file says."""
    names = option_variables()
    assert {"RTCHAT_SERVER_PORT", "RTCHAT_SERVER_HOSTS", "RTCHAT_SERVER_ROOMS_FILE"} <= names
    assert "RTCHAT_SERVER_HOST" not in names


def test_every_variable_set_is_an_option() -> None:
    """The env file's lines, commented or not, and the unit's Environment= name real options."""
    text = (UNITS / "rtchat-server.env").read_text() + (UNITS / "rtchat-server.service").read_text()
    used = re.findall(r"^(?:#|Environment=)?(RTCHAT_SERVER_\w+)=", text, re.MULTILINE)
    assert len(used) >= 7
    assert set(used) <= option_variables()
