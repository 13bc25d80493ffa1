"""Where rtchat-server finds its certificates when told nothing, and what it says when it cannot."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from ..support import Pki, ServerProcess, wait_for_log

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
    assert "`rtchat-certs server-bundle --out DIR` makes the folder" in done.stderr
    assert f"copy its contents into {server_dir}" in done.stderr
    assert "pass --pki DIR" in done.stderr


def test_the_start_says_where_certificates_and_messages_are(pki: Pki, tmp_path: Path) -> None:
    """The log names the folder the certificates came from and where messages are kept."""
    server = ServerProcess(pki, tmp_path)
    try:
        line = wait_for_log(server.process, tmp_path / "server-1.log", "certificates from .*")
        root = os.path.abspath(pki.folder.root)
        database = tmp_path / "data" / "messages.db"
        assert line.group(0) == (
            f"certificates from {root}; messages in {database} (SQLite, durability full)"
        )
    finally:
        server.stop()


def test_a_port_in_use_is_named_with_what_to_do(pki: Pki) -> None:
    """Another program on the port: one line that says so and what to do, exit 1."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                *(str(BIN / "rtchat-server"), "--host", "127.0.0.1", "--port", str(port)),
                *("--pki", str(pki.folder.root), "--ephemeral"),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().endswith(
        f"cannot listen on port {port}: it is already in use"
        " (another rtchat-server running?): stop that one or choose another --port"
    )
