"""``rtchat-server check``: the preflight, a thin shell over server/preflight.py."""

from __future__ import annotations

from typing import Any

import click
from click.core import ParameterSource

from ..server import preflight
from ..server.checks import Level, worst
from ..server.config import Limits
from .common import CONTEXT

HELP = """Check what the server would load, change nothing, and say what is wrong.

Takes the options of rtchat-server itself: give it the server's command line
with `check` after `rtchat-server` (options before `check` count too; those
it has no check for, such as the limits, are taken and ignored). It loads
what the server would: the certificate and its key, the trust files and the CRL, the
data folder and the store (read-only), the port and the --metrics one (bound and
closed at once) and the --rooms file. One line per finding, `OK`, `WARN` or `FAIL`, then the check's
name: files, key, chain, names, crl, expiry, modes, tls, data, store, port,
metrics, rooms (docs/operations.md, "Preflight", says what each
looks at).

The server runs the certificate checks at start too: it refuses to start on a
FAIL and logs each WARN.
"""

EPILOG = (
    "Exit status: 0 every check OK, 1 a WARN and no FAIL, 2 a FAIL (as Nagios plugins"
    " do). A bad command line is also 2, with click's usage message on stderr instead of"
    " check lines."
)

_NOT_SHARED = frozenset({"version"})  # rtchat-server --version is the group's own


def check_command(server: click.Command) -> click.Command:
    """``check``, taking ``server``'s own options: one definition, whatever options it gains.

    The click options of rtchat-server are shared, not copied, so that an
    option added to the server is accepted by ``check`` at once; ``check``
    uses those it has a check for and ignores the rest (the limits, say).
    """
    shared = [param for param in server.params if param.name not in _NOT_SHARED]
    quiet = click.Option(["--quiet", "-q"], is_flag=True, help="Print only WARN and FAIL lines.")
    return click.Command(
        "check",
        callback=click.pass_context(_check),
        params=[*shared, quiet],
        help=HELP,
        epilog=EPILOG,
        short_help="Check the server's files, data folder, port and rooms, and say what is wrong.",
        # RTCHAT_SERVER_PORT, not RTCHAT_SERVER_CHECK_PORT: the server's environment as it is.
        context_settings={**CONTEXT, "auto_envvar_prefix": "RTCHAT_SERVER"},
    )


def _check(ctx: click.Context, /, *, quiet: bool, **options: Any) -> None:
    options = _with_parent_options(ctx, options)
    plan = preflight.Plan(
        cert=options["cert"],
        key=options["key"],
        ca=options["ca"],
        pins=options["pins"],
        crl=options["crl"],
        pki=options["pki"],
        hosts=options["hosts"],
        port=options["port"],
        data=options["data"],
        ephemeral=options["ephemeral"],
        rooms_file=options["rooms_file"],
        max_topic_chars=options.get("max_topic_chars", Limits().max_topic_chars),
        tls13_only=bool(options.get("tls13_only", False)),
        metrics=options.get("metrics"),
    )
    findings = preflight.run(plan)
    for finding in findings:
        if not quiet or finding.level is not Level.OK:
            click.echo(finding.line())
    ctx.exit(worst(findings).exit_code)


def _with_parent_options(ctx: click.Context, options: dict[str, Any]) -> dict[str, Any]:
    """Options given before ``check`` (``rtchat-server --pki DIR check``) count too."""
    parent = ctx.parent
    if parent is None:
        return options
    unset = (None, ParameterSource.DEFAULT)
    merged = dict(options)
    for name in options:
        if (
            ctx.get_parameter_source(name) in unset
            and parent.get_parameter_source(name) not in unset
        ):
            merged[name] = parent.params[name]
    return merged
