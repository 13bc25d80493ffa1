"""The coordinator's side of the worker processes: start them, ask, collect, stop.

Every wait is bounded by the run's deadline; a worker that dies or fails
ends the run with one clear error. While waiting, a ``ticker`` callback
runs at least once a second (progress line, CPU samples).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from time import monotonic_ns
from types import TracebackType
from typing import Final, TypeVar

from .errors import DEADLINE_PASSED, BenchError
from .messages import Close, Closed, Command, Failed, Progress, Reply
from .worker import WorkerPlan, worker_main

R = TypeVar("R", bound=Reply)
Ticker = Callable[[], float]
"""Called while waiting; returns how many seconds it may sleep before it is called again."""

_CLOSE_WAIT_NS: Final = 5_000_000_000
_JOIN_TIMEOUT: Final = 2.0


@contextlib.contextmanager
def _interrupt_deferred() -> Iterator[None]:
    """Hold back SIGINT until the block has run, then deliver it as it would have been."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread gets signals (and may set handlers)
        return
    held: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if held:
            signal.raise_signal(signal.SIGINT)


class WorkerPool:
    """Worker processes (``spawn``: a fresh interpreter each), one pipe per worker."""

    def __init__(self, plans: Sequence[WorkerPlan], deadline: int) -> None:
        self.deadline = deadline
        self.progress: dict[int, Progress] = {}
        self._processes: list[BaseProcess] = []
        self._pipes: list[Connection] = []
        context = multiprocessing.get_context("spawn")
        try:
            for plan in plans:
                parent, child = context.Pipe()
                process = context.Process(
                    target=worker_main,
                    args=(plan, child),
                    name=f"rtchat-bench-worker-{plan.worker}",
                    daemon=True,
                )
                # start() writes the worker its pickled plan: cut short by a
                # Ctrl-C, the worker reads half of it and dies with a traceback.
                with _interrupt_deferred():
                    process.start()
                    child.close()
                    self._processes.append(process)
                    self._pipes.append(parent)
        except BaseException:
            self.close()  # Ctrl-C while starting: the workers started so far stop too
            raise

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def pids(self) -> list[int]:
        """The workers' process ids."""
        return [process.pid for process in self._processes if process.pid is not None]

    def ask(self, command: Command, reply: type[R], ticker: Ticker | None = None) -> list[R]:
        """Send ``command`` to every worker; their replies of type ``reply``, by worker."""
        for pipe in self._pipes:
            pipe.send(command)
        return self.collect(reply, ticker)

    def collect(self, reply: type[R], ticker: Ticker | None = None) -> list[R]:
        """One reply of type ``reply`` from every worker (``Progress`` is kept on the way)."""
        waiting = dict(enumerate(self._pipes))
        replies: dict[int, R] = {}
        while waiting:
            nap = ticker() if ticker is not None else 1.0
            left = (self.deadline - monotonic_ns()) / 1e9
            if left <= 0:
                raise BenchError(DEADLINE_PASSED)
            ready = multiprocessing.connection.wait(
                list(waiting.values()), timeout=max(0.0, min(nap, left, 1.0))
            )
            for worker, pipe in list(waiting.items()):
                if pipe not in ready:
                    continue
                message = self._receive(worker, pipe)
                if isinstance(message, Progress):
                    self.progress[worker] = message
                elif isinstance(message, Failed):
                    raise BenchError(message.message, message.exit_code)
                elif isinstance(message, reply):
                    replies[worker] = message
                    del waiting[worker]
        return [replies[worker] for worker in range(len(self._pipes))]

    def _receive(self, worker: int, pipe: Connection) -> Reply:
        try:
            message: Reply = pipe.recv()
        except (EOFError, OSError):
            code = self._processes[worker].exitcode
            raise BenchError(
                f"worker process {worker} ended unexpectedly (exit code {code})"
            ) from None
        return message

    def close(self) -> None:
        """Ask every worker to close its connections; stop those that do not exit in time."""
        if not self._processes:
            return
        self.deadline = monotonic_ns() + _CLOSE_WAIT_NS  # a bound of its own, even past the run's
        try:
            for pipe in self._pipes:
                pipe.send(Close())
            self.collect(Closed)
        except (BenchError, OSError):
            pass  # they are stopped below either way
        for process in self._processes:
            process.join(_JOIN_TIMEOUT)
            if process.is_alive():
                process.terminate()
                process.join(_JOIN_TIMEOUT)
            if process.is_alive():
                process.kill()
                process.join(_JOIN_TIMEOUT)
        for pipe in self._pipes:
            pipe.close()
        self._processes.clear()
        self._pipes.clear()
