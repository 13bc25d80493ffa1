"""Fixtures of the system tests that run rtchat clients as processes (test_bots, test_time)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .test_cli import Spawned


@pytest.fixture
def client_env(tmp_path: Path) -> dict[str, str]:
    """No RTCHAT_* settings, a home of its own (the resume point starts empty)."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("RTCHAT")}
    home = tmp_path / "home"
    clean.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
    )
    return clean


@pytest.fixture
def clients() -> Iterator[list[Spawned]]:
    """Every client a test starts; killed after it if still running."""
    started: list[Spawned] = []
    yield started
    for client in started:
        client.stop()
