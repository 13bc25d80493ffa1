"""The progress line on stderr: one carriage-return line, rewritten about once a second."""

from __future__ import annotations

from typing import TextIO


class ProgressLine:
    """Shows one line of progress, only when ``stream`` is a terminal."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream if stream is not None and stream.isatty() else None
        self._width = 0

    @property
    def enabled(self) -> bool:
        """Whether anything is shown at all."""
        return self._stream is not None

    def show(self, text: str) -> None:
        """Replace the line with ``text``."""
        if self._stream is None:
            return
        padding = " " * max(0, self._width - len(text))
        self._stream.write(f"\r{text}{padding}")
        self._stream.flush()
        self._width = len(text)

    def clear(self) -> None:
        """Remove the line (before the results are printed)."""
        if self._stream is None or not self._width:
            return
        self._stream.write("\r" + " " * self._width + "\r")
        self._stream.flush()
        self._width = 0
