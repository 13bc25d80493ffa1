"""Profiles: what a person types every day, kept in ``config.toml``.

The file lives in the per-user config folder (``~/.config/rtchat/config.toml``)::

    [defaults]              # used when no --profile is given
    host = "chat.example.com"
    port = 8443
    cn = "chat.example.com"

    [profiles.work]         # rtchat --profile work
    host = "10.0.0.5"
    port = 9443
    cn = "chatserver"
    identity = "/home/alice/.config/rtchat/work"
    name = "alice"

A profile's values are laid over ``[defaults]``. The command line beats the
environment (``RTCHAT_HOST``...), which beats the file, which beats the
built-in defaults. ``rtchat --save-profile NAME`` writes what was given
(``--save-profile`` alone, or NAME ``defaults``: the ``[defaults]`` table).
With no ``[defaults]``, a file that holds exactly one profile is used as if
``--profile`` named it.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Final

import tomli_w

from ..errors import ConfigError
from ..locations import app_dir

# What a profile may hold: the command-line options that say where and who.
PROFILE_KEYS: Final = ("host", "port", "cn", "name", "identity", "pki", "cert", "key", "ca")
_TYPES: Final = {"port": int}


def config_path() -> Path:
    return app_dir() / "config.toml"


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None


#: The profile name that means the ``[defaults]`` table (``--save-profile defaults``).
DEFAULTS: Final = "defaults"


def load_profile(profile: str | None, path: Path | None = None) -> dict[str, Any]:
    """``[defaults]``, with ``[profiles.PROFILE]`` laid over it, checked.

    With no ``profile`` and no ``[defaults]``, the one profile the file has,
    if it has exactly one: a user who saved one server means that one.
    """
    path = path or config_path()
    document = _read(path)
    if profile is None and DEFAULTS not in document:
        profile = _only_profile(document)
    values = dict(_section(document.get(DEFAULTS, {}), path, DEFAULTS))
    if profile is not None:
        profiles = document.get("profiles", {})
        if not isinstance(profiles, dict) or profile not in profiles:
            known = ", ".join(sorted(profiles)) if isinstance(profiles, dict) else ""
            raise ConfigError(
                f"no profile {profile!r} in {path}" + (f" (there are: {known})" if known else "")
            )
        values.update(_section(profiles[profile], path, f"profiles.{profile}"))
    return values


def _only_profile(document: dict[str, Any]) -> str | None:
    profiles = document.get("profiles")
    if isinstance(profiles, dict) and len(profiles) == 1:
        return str(next(iter(profiles)))
    return None


def _section(section: object, path: Path, where: str) -> dict[str, Any]:
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [{where}] must be a table")
    unknown = sorted(set(section) - set(PROFILE_KEYS))
    if unknown:
        raise ConfigError(
            f"{path}: [{where}] has unknown keys {', '.join(unknown)} "
            f"(known: {', '.join(PROFILE_KEYS)})"
        )
    for key, value in section.items():
        wanted = _TYPES.get(key, str)
        if not isinstance(value, wanted) or isinstance(value, bool):
            what = "a whole number" if wanted is int else "a string"
            raise ConfigError(f"{path}: {where}.{key} must be {what}")
    return dict(section)


def save_profile(name: str, values: dict[str, Any], path: Path | None = None) -> Path:
    """Write ``values`` as ``[profiles.NAME]`` (``[defaults]`` for NAME defaults), keeping
    the rest of the file."""
    path = path or config_path()
    document = _read(path)
    table = {
        key: str(value) if isinstance(value, Path) else value
        for key, value in values.items()
        if key in PROFILE_KEYS and value is not None
    }
    if name == DEFAULTS:
        document[DEFAULTS] = table
    else:
        document.setdefault("profiles", {})[name] = table
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    with temporary.open("wb") as file:
        tomli_w.dump(document, file)
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(path)
    return path
