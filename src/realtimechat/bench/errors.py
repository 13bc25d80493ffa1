"""The benchmark's own error: one line for the user, with the exit code it means."""

from __future__ import annotations

from ..errors import CannotConnect, ExitCode, RtchatError

#: What the user reads when a run hits its hard deadline (coordinator and workers alike).
DEADLINE_PASSED = "the run did not finish in time (see --timeout)"


class BenchError(RtchatError):
    """A run that could not be carried out (the target, a worker, the deadline)."""

    def __init__(self, message: str, exit_code: int = int(ExitCode.ERROR)) -> None:
        super().__init__(message)
        self.exit_code = ExitCode(exit_code)


class Interrupted(Exception):
    """Ctrl-C: the run was cut short; everything it started has been stopped."""

    def __init__(self, *, server_stopped: bool) -> None:
        super().__init__(
            "interrupted; the spawned server was stopped" if server_stopped else "interrupted"
        )
        self.server_stopped = server_stopped


class ConnectTimedOut(CannotConnect):
    """No welcome within --connect-timeout (its own kind: a loaded server, not a wrong port)."""
