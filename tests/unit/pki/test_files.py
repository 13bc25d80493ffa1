"""Tests for realtimechat.pki.files: how certificates and keys are written.

Modes whatever the umask, no file overwritten (not even in a race), no
temporary files left behind, no key in a folder others can open.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from realtimechat import pki
from realtimechat.errors import PKIError

from ...support import mode_of


def test_modes_do_not_depend_on_the_umask(tmp_path: Path) -> None:
    """Keys are 0600, certificates 0644 and folders 0700 whatever the umask."""
    for umask in (0o000, 0o077, 0o277):
        old = os.umask(umask)
        try:
            root = tmp_path / f"ca-{umask:03o}"
            pki.init_ca(root, "chatserver")
            pki.issue_client(root, "alice")
        finally:
            os.umask(old)
        folder = pki.CaFolder(root)
        assert mode_of(folder.ca_key) == 0o600
        assert mode_of(folder.client_key("alice")) == 0o600
        assert mode_of(folder.ca_cert) == 0o644
        assert mode_of(folder.client_cert("alice")) == 0o644
        assert mode_of(root) == 0o700
        assert mode_of(folder.clients_dir) == 0o700


def test_issue_refuses_a_leftover_certificate_or_symlink(ca_root: Path, tmp_path: Path) -> None:
    """A dangling symlink at clients/NAME.crt is refused and its target never created."""
    folder = pki.CaFolder(ca_root)
    target = tmp_path / "elsewhere.crt"
    folder.client_cert("bob").symlink_to(target)

    with pytest.raises(PKIError, match=r"bob\.crt already exists"):
        pki.issue_client(ca_root, "bob")

    assert not target.exists()
    assert not folder.client_key("bob").exists()


def test_a_file_that_appears_after_the_check_is_not_overwritten(
    ca_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If another process creates NAME.crt after the existence check, it is kept, not replaced.

    The check is bypassed to stand in for the race; the final link must refuse,
    and the key written just before is removed again.
    """
    folder = pki.CaFolder(ca_root)
    folder.client_cert("alice").write_text("theirs\n")
    real_lexists = os.path.lexists
    monkeypatch.setattr(
        os.path,
        "lexists",
        lambda path: Path(path).parent != folder.clients_dir and real_lexists(path),
    )

    with pytest.raises(PKIError, match=r"alice\.crt already exists"):
        pki.issue_client(ca_root, "alice")

    monkeypatch.undo()
    assert folder.client_cert("alice").read_text() == "theirs\n"
    assert sorted(p.name for p in folder.clients_dir.iterdir()) == ["alice.crt"]
    assert [e.name for e in pki.read_index(ca_root)] == ["chatserver"]


def test_no_temporary_files_are_left_behind(ca_root: Path) -> None:
    """After init and issue the CA folder holds only the files they name."""
    pki.issue_client(ca_root, "alice")

    hidden = [p for p in ca_root.rglob(".*")]
    assert hidden == []


def test_request_refuses_a_folder_others_can_open(tmp_path: Path) -> None:
    """A key is never written into an existing folder with group or other access."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)

    with pytest.raises(PKIError, match=r"mode 0755.*chmod 700"):
        pki.create_request(shared, "alice")

    assert list(shared.iterdir()) == []
