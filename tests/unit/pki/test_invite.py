"""Invites (realtimechat.pki.invite): what one holds, what reading one refuses, installing one."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest
import tomli_w

from realtimechat import pki
from realtimechat.errors import PKIError, WrongPassphrase

SERVER = pki.ServerAddress(host="127.0.0.1", port=9443, cn="127.0.0.1")


def made(ca_root: Path, tmp_path: Path, name: str = "carol") -> pki.Invite:
    out = tmp_path / f"{name}.invite"
    pki.issue_invite(ca_root, name, out, SERVER, b"pass phrase")
    return pki.read_invite(out)


def test_the_server_address_defaults_and_checks(ca_root: Path) -> None:
    """host defaults to the certificate's name, cn to the host it carries; others are refused."""
    assert pki.server_address(ca_root, None, 8443, None) == pki.ServerAddress(
        "chatserver", 8443, "chatserver"
    )
    assert pki.server_address(ca_root, "127.0.0.1", 1, None).cn == "127.0.0.1"
    assert pki.server_address(ca_root, "chat.example.com", 1, None).cn == "chatserver"
    with pytest.raises(PKIError, match=r"not for 'nope' \(it is for: chatserver, localhost"):
        pki.server_address(ca_root, None, 1, "nope")


def test_a_passphrase_is_long_and_readable() -> None:
    """Made passphrases: 5 groups of 4 from 32 letters and digits without look-alikes."""
    made = {pki.new_passphrase() for _ in range(50)}
    assert len(made) == 50
    for phrase in made:
        groups = phrase.split("-")
        assert [len(group) for group in groups] == [4] * 5
        assert not set(phrase) & set("lo01")


def test_reading_an_invite_checks_its_key_and_certificates(ca_root: Path, tmp_path: Path) -> None:
    """A damaged or foreign invite is refused, naming what is wrong; the key opens only with it."""
    invite = made(ca_root, tmp_path)
    with pytest.raises(WrongPassphrase):
        pki.open_key(invite, "wrong")
    assert pki.open_key(invite, "pass phrase")
    document = tomllib.loads(invite.path.read_text())
    cases = {
        "version": ({**document, "version": 2}, "version 2, which this realtimechat cannot"),
        "port": ({**document, "port": 0}, "port must be a number from 1 to 65535"),
        "plain key": (
            {**document, "key": document["key"].replace("ENCRYPTED ", "")},
            "its key is not encrypted",
        ),
        "foreign ca": (
            {**document, "ca": pki.CaFolder(ca_root).server_cert.read_text()},
            "not issued by its ca",
        ),
        "name": ({**document, "name": "mallory"}, "its certificate is for 'carol', not 'mallory'"),
    }
    for case, (changed, problem) in cases.items():
        bad = tmp_path / f"{case}.invite"
        bad.write_text(tomli_w.dumps(changed, multiline_strings=True))
        with pytest.raises(PKIError, match=problem):
            pki.read_invite(bad)


def test_installing_a_signed_request_moves_a_renewals_new_key_into_place(
    ca_root: Path, tmp_path: Path
) -> None:
    """A renewal's new key waits as NAME.new.key: it goes to NAME.key with the new certificate."""
    folder = tmp_path / "identity"
    first = pki.create_request(folder, "dave")
    pki.sign_request(ca_root, pki.read_csr(first.csr), out_dir=folder)
    renewal = pki.create_request(folder, "dave", force=True)
    assert renewal.key.name == "dave.new.key"
    request = pki.read_csr(renewal.csr)
    pki.sign_request(ca_root, request, force=True)
    out = tmp_path / "dave.invite"
    pki.write_invite(ca_root, request, out, SERVER)
    new_key = renewal.key.read_bytes()

    installed = pki.install_invite(pki.read_invite(out), folder, key=None)

    assert (folder / "dave.key").read_bytes() == new_key
    assert not renewal.key.exists()
    assert stat.S_IMODE((folder / "dave.key").stat().st_mode) == 0o600
    assert [(w.path.name, w.action) for w in installed.written] == [
        ("dave.key", "replaced"),
        ("dave.crt", "replaced"),
        ("ca.crt", "unchanged"),
        ("dave.new.key", "removed"),
    ]
