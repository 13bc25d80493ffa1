"""What the console commands share: error reporting and exit codes."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn

import click

from .. import __version__
from ..errors import ConfigError, ExitCode, RtchatError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

#: The one variable both tools read a key's passphrase from (scripts, tests):
#: rtchat to open a key, rtchat-certs to protect a new one.
PASSPHRASE_ENV = "RTCHAT_PASSPHRASE"  # noqa: S105 (a variable name, not a secret)
#: rtchat-certs' older name for it, still read after PASSPHRASE_ENV.
OLD_PASSPHRASE_ENV = "RTCHAT_CERTS_PASSPHRASE"  # noqa: S105


def passphrase_from_env(*names: str) -> tuple[str, str] | None:
    """The first of ``names`` (default: PASSPHRASE_ENV) set to a non-empty value, and that value."""
    for name in names or (PASSPHRASE_ENV,):
        value = os.environ.get(name)
        if value:
            return name, value
    return None


def version_option(program: str) -> Callable[[click.decorators.FC], click.decorators.FC]:
    """``--version``: the same words and the one version (realtimechat.__version__) everywhere."""
    return click.version_option(__version__, prog_name=program, message="%(prog)s %(version)s")


def fail(program: str, error: RtchatError | str, code: int | None = None) -> NoReturn:
    """One line on stderr, then exit with the error's code."""
    message = str(error)
    exit_code = (
        code
        if code is not None
        else (error.exit_code if isinstance(error, RtchatError) else ExitCode.ERROR)
    )
    click.echo(f"{program}: {message}", err=True)
    sys.exit(int(exit_code))


LOOPS = ("auto", "asyncio", "uvloop")


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop to run on: uvloop when asked (or, for "auto", when installed)."""
    if name == "asyncio":
        return None
    try:
        import uvloop  # noqa: PLC0415 - optional: not on every platform
    except ImportError:
        if name == "uvloop":
            raise ConfigError("--loop uvloop: uvloop is not installed") from None
        return None
    return uvloop.new_event_loop


def run_async(
    program: str, main: Callable[[], Coroutine[Any, Any, None]], *, loop: str = "asyncio"
) -> None:
    """Run ``main`` on a fresh event loop; our errors become one line + exit code."""
    try:
        with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
            runner.run(main())
    except RtchatError as exc:
        fail(program, exc)
    except (KeyboardInterrupt, EOFError):  # Ctrl-C or Ctrl-D at a question
        sys.exit(130)
