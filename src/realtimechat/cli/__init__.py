"""The console commands: thin click layers over the library.

realtimechat needs POSIX (fcntl, resource, signals, a Unix terminal): it
runs on Linux and macOS, and on Windows inside WSL. The check below runs
before any command module is imported, so that on Windows every command
says so in one line instead of an ImportError traceback.
"""

from __future__ import annotations

import os
import sys

if sys.platform == "win32":  # pragma: no cover - checked by a test that sets sys.platform
    program = os.path.basename(sys.argv[0]).removesuffix(".exe") or "realtimechat"
    sys.exit(f"{program}: realtimechat runs on Linux and macOS; on Windows, run it inside WSL.")
