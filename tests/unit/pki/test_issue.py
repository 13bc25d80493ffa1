"""Tests for realtimechat.pki.issue: init_ca, issue_client, the server certificate and folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509

from realtimechat import pki
from realtimechat.errors import PKIError

from ...support import mode_of, openssl_verify
from .helpers import snapshot


def test_init_writes_files_with_modes(tmp_path: Path) -> None:
    """init_ca returns every file it wrote: keys 0600, certificates 0644, folders 0700."""
    root = tmp_path / "deep" / "ca"
    folder = pki.CaFolder(root)

    written = [item.path for item in pki.init_ca(root, "chatserver")]

    assert written == [
        folder.ca_key,
        folder.ca_cert,
        folder.server_key,
        folder.server_cert,
        folder.crl,
        folder.index,
    ]
    assert {mode_of(path) for path in written if path.suffix == ".key"} == {0o600}
    assert {mode_of(path) for path in written if path.suffix != ".key"} == {0o644}
    assert mode_of(root) == 0o700
    assert mode_of(folder.clients_dir) == 0o700
    assert sorted(p.name for p in root.iterdir()) == sorted([*(p.name for p in written), "clients"])


def test_init_refuses_an_existing_ca_and_changes_nothing(ca_root: Path) -> None:
    """A second init_ca in a folder raises PKIError naming a file and changes nothing."""
    before = snapshot(ca_root)

    with pytest.raises(PKIError, match=r"ca\.key already exists"):
        pki.init_ca(ca_root, "chatserver")

    assert snapshot(ca_root) == before


def test_init_refuses_if_any_single_target_exists(tmp_path: Path) -> None:
    """One leftover target file (here crl.pem) stops init_ca before it writes anything."""
    root = tmp_path / "ca"
    root.mkdir()
    (root / "crl.pem").write_text("keep me\n")

    with pytest.raises(PKIError, match=r"crl\.pem"):
        pki.init_ca(root, "chatserver")

    assert [p.name for p in root.iterdir()] == ["crl.pem"]
    assert (root / "crl.pem").read_text() == "keep me\n"


@pytest.mark.parametrize(
    ("cn", "sans"),
    [
        ("", ()),
        (" chatserver", ()),
        ("chat\nserver", ()),
        ("chatserver", ("",)),
        ("chatserver", ("bücher.example",)),
        ("x" * 65, ()),
    ],
)
def test_init_rejects_bad_names_without_writing(
    tmp_path: Path, cn: str, sans: tuple[str, ...]
) -> None:
    """A bad server name or SAN raises PKIError and creates no folder."""
    root = tmp_path / "ca"

    with pytest.raises(PKIError):
        pki.init_ca(root, cn, sans)

    assert not root.exists()


def test_a_revoked_name_can_be_issued_again(ca_root: Path) -> None:
    """After revoke, issue replaces the revoked files without force and the index keeps both."""
    pki.issue_client(ca_root, "alice")
    old = pki.load_certificate(pki.CaFolder(ca_root).client_cert("alice"))
    pki.revoke(ca_root, "alice")

    written = pki.issue_client(ca_root, "alice")

    assert [w.action for w in written] == ["replaced", "replaced", "updated"]
    assert written[0].note == "the previous certificate was revoked"
    new = pki.load_certificate(pki.CaFolder(ca_root).client_cert("alice"))
    assert new.serial_number != old.serial_number
    assert [(e.name, e.status) for e in pki.read_index(ca_root)][1:] == [
        ("alice", "revoked"),
        ("alice", "valid"),
    ]
    assert mode_of(pki.CaFolder(ca_root).client_key("alice")) == 0o600


def test_server_bundle_again_needs_force_only_for_what_changed(
    ca_root: Path, tmp_path: Path
) -> None:
    """A rerun leaves identical files; a new crl.pem is refused without force, replaced with it."""
    out = tmp_path / "server"
    pki.server_bundle(ca_root, out)

    again = pki.server_bundle(ca_root, out)
    pki.renew_crl(ca_root)
    with pytest.raises(PKIError, match=r"crl\.pem already exists; refusing to overwrite it"):
        pki.server_bundle(ca_root, out)
    forced = pki.server_bundle(ca_root, out, force=True)

    assert [w.action for w in again] == ["unchanged"] * 4
    assert [w.action for w in forced] == ["unchanged", "unchanged", "unchanged", "replaced"]
    assert (out / "crl.pem").read_bytes() == pki.CaFolder(ca_root).crl.read_bytes()


def test_server_bundle_refusals(ca_root: Path, tmp_path: Path) -> None:
    """No bundle into the CA folder, into a folder with a ca.key, or from a mismatched pair."""
    holder = tmp_path / "holder"
    holder.mkdir(mode=0o700)
    (holder / "ca.key").write_text("someone's key\n")
    folder = pki.CaFolder(ca_root)

    with pytest.raises(PKIError, match="is the CA folder itself"):
        pki.server_bundle(ca_root, ca_root)
    with pytest.raises(PKIError, match=r"holds a ca\.key"):
        pki.server_bundle(ca_root, holder)
    folder.server_key.unlink()
    folder.server_key.write_bytes(folder.ca_key.read_bytes())
    with pytest.raises(PKIError, match=r"server\.key is not the key of"):
        pki.server_bundle(ca_root, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in holder.iterdir()) == ["ca.key"]


def test_server_bundle_without_a_crl_says_how_to_make_one(ca_root: Path, tmp_path: Path) -> None:
    """A CA folder without crl.pem gets an error naming `rtchat-certs crl`."""
    pki.CaFolder(ca_root).crl.unlink()

    with pytest.raises(PKIError, match="make one with `rtchat-certs crl --dir"):
        pki.server_bundle(ca_root, tmp_path / "out")

    assert not (tmp_path / "out").exists()


def test_server_certificate_renewal_needs_force_and_keeps_names(
    ca_root: Path, openssl: str
) -> None:
    """Renewing server.crt in the CA folder needs force and keeps the old SANs."""
    folder = pki.CaFolder(ca_root)
    old = pki.load_certificate(folder.server_cert)
    before = snapshot(ca_root)

    with pytest.raises(PKIError, match="pass --force to replace it: a renewal"):
        pki.issue_server_certificate(ca_root, "chatserver")
    assert snapshot(ca_root) == before
    written = pki.issue_server_certificate(ca_root, "chatserver", force=True)

    assert [(w.path, w.action) for w in written] == [
        (folder.server_key, "replaced"),
        (folder.server_cert, "replaced"),
        (folder.index, "updated"),
    ]
    assert written[1].note == "names: chatserver, localhost, 127.0.0.1, ::1"
    new = pki.load_certificate(folder.server_cert)
    assert new.serial_number != old.serial_number
    san = new.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san == old.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert mode_of(folder.server_key) == 0o600
    assert [e.kind for e in pki.read_index(ca_root)] == ["server", "server"]
    assert openssl_verify(openssl, ca_root, folder.server_cert, "sslserver").returncode == 0


# No IPv6 address here: ':' is no name character, so the name profile refuses
# those first (tests/unit/test_name_profile.py).
@pytest.mark.parametrize("name", ["localhost", "LocalHost", "chatserver", "127.0.0.1", "10.1.2.3"])
def test_a_user_cannot_be_named_like_the_server(ca_root: Path, tmp_path: Path, name: str) -> None:
    """issue and sign refuse the server's own names and IP addresses, and write nothing.

    Before: `rtchat-certs issue localhost` issued a client certificate without a word,
    and its holder's lines read as if the server spoke.
    """
    before = snapshot(ca_root)
    with pytest.raises(PKIError, match="would look like"):
        pki.issue_client(ca_root, name)
    made = pki.create_request(tmp_path / "user", name)
    with pytest.raises(PKIError, match="would look like"):
        pki.sign_request(ca_root, pki.read_csr(made.csr))
    assert snapshot(ca_root) == before


@pytest.mark.parametrize(("mode", "who"), [(0o640, "its group"), (0o644, "other users")])
def test_a_ca_key_others_can_open_is_refused(ca_root: Path, mode: int, who: str) -> None:
    """ca.key open to the group or everyone: no certificate is signed with it until chmod 600."""
    key = pki.CaFolder(ca_root).ca_key
    key.chmod(mode)
    with pytest.raises(PKIError) as refused:
        pki.issue_client(ca_root, "alice")
    assert str(refused.value).startswith(f"{key} is open to {who} (mode {mode:04o})")
    assert f"chmod 600 {key}" in str(refused.value)
    key.chmod(0o600)
    pki.issue_client(ca_root, "alice")
