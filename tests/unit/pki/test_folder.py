"""Tests for realtimechat.pki.folder: the CA folder and client names.

The layout of a CA folder, which client names are accepted, and what a
folder without a CA, without its key or with the wrong key says.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from realtimechat import pki
from realtimechat.errors import PKIError

from ...support import cn_of


def test_issue_without_a_ca_says_how_to_make_one(tmp_path: Path) -> None:
    """issue_client in a folder without a CA raises PKIError naming `rtchat-certs init`."""
    root = tmp_path / "empty"

    with pytest.raises(PKIError, match="rtchat-certs init") as caught:
        pki.issue_client(root, "alice")

    assert f"--dir {root}" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert not root.exists()


def test_issue_without_the_ca_key_explains(ca_root: Path) -> None:
    """A folder with ca.crt but no ca.key (a server's copy) raises PKIError naming ca.key."""
    pki.CaFolder(ca_root).ca_key.unlink()

    with pytest.raises(PKIError, match=r"ca\.key is missing"):
        pki.issue_client(ca_root, "alice")


def test_issue_refuses_a_ca_key_that_does_not_match(ca_root: Path, tmp_path: Path) -> None:
    """A ca.key that is not the key of ca.crt raises PKIError instead of issuing useless certs."""
    folder = pki.CaFolder(ca_root)
    other = tmp_path / "other"
    pki.init_ca(other, "chatserver")
    folder.ca_key.unlink()
    shutil.copy(pki.CaFolder(other).ca_key, folder.ca_key)

    with pytest.raises(PKIError, match="is not the key of"):
        pki.issue_client(ca_root, "alice")


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a" * 65,
        "é" * 33,
        "a/b",
        "a\\b",
        "a\x00b",
        "a\nb",
        "tab\there",
        ".",
        "..",
        ".hidden",
        " alice",
        "alice ",
        "al\u202eice",
        "zero\u200bwidth",
        "\ud800",
    ],
)
def test_issue_rejects_bad_names(ca_root: Path, name: str) -> None:
    """Empty, too long, path-like, hidden names or names with invisible characters are refused."""
    with pytest.raises(PKIError, match="name"):
        pki.issue_client(ca_root, name)

    assert list(pki.CaFolder(ca_root).clients_dir.iterdir()) == []
    assert [e.name for e in pki.read_index(ca_root)] == ["chatserver"]


@pytest.mark.parametrize("name", ["alice", "Bob Smith", "émilie", "a" * 64, "x.y", "o'neil"])
def test_issue_accepts_ordinary_names(ca_root: Path, name: str) -> None:
    """Ordinary names, with spaces inside, dots after the first character or accents, are issued."""
    pki.issue_client(ca_root, name)

    cert = pki.load_certificate(pki.CaFolder(ca_root).client_cert(name))
    assert cn_of(cert) == name


@given(st.text(max_size=70))
def test_accepted_names_stay_inside_clients_and_fit_a_cn(name: str) -> None:
    """Any name validate_client_name accepts maps to clients/NAME.crt and is a valid CN."""
    folder = pki.CaFolder(Path("/ca"))
    try:
        pki.validate_client_name(name)
    except PKIError:
        return
    path = folder.client_cert(name)
    assert path.parent == folder.clients_dir
    assert path.name == f"{name}.crt"
    x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])  # raises if not a valid CN


def test_ca_folder_layout() -> None:
    """CaFolder names the documented files, and client paths refuse names that escape clients/."""
    folder = pki.CaFolder(Path("/x"))

    assert [
        folder.ca_cert,
        folder.ca_key,
        folder.server_cert,
        folder.server_key,
        folder.crl,
        folder.clients_dir,
        folder.index,
        folder.client_cert("a"),
        folder.client_key("a"),
    ] == [
        Path("/x/ca.crt"),
        Path("/x/ca.key"),
        Path("/x/server.crt"),
        Path("/x/server.key"),
        Path("/x/crl.pem"),
        Path("/x/clients"),
        Path("/x/index.json"),
        Path("/x/clients/a.crt"),
        Path("/x/clients/a.key"),
    ]
    with pytest.raises(PKIError):
        folder.client_key("../ca")
