"""Where rtchat-server finds its certificates when told nothing, and what it says when it cannot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def test_no_server_folder_names_both_places_and_the_bundle(tmp_path: Path) -> None:
    """Nothing in either default folder: the error names both and says how to fill the first."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path)}
    done = subprocess.run(
        [str(BIN / "rtchat-server"), "--port", "0", "--ephemeral"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=env,
    )
    assert done.returncode == 1, done.stderr
    server_dir = tmp_path / "config" / "rtchat" / "server"
    ca_dir = tmp_path / "config" / "rtchat" / "ca"
    assert f"no server certificate in {server_dir} or {ca_dir}" in done.stderr
    assert f"`rtchat-certs server-bundle --out DIR` made to {server_dir}" in done.stderr
    assert "pass --pki DIR" in done.stderr
