"""What the server trusts: CAs and pins apart, CRLs that never go backwards, loose key files.

Trust.load reads the files; identify and refusal decide, for a verified
certificate, who it is and whether it may chat. The attacks themselves run
against a live server in tests/integration/test_faults.py (the witness table).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from realtimechat import locations
from realtimechat.errors import ConfigError, PKIError
from realtimechat.pki import CaFolder, init_ca, issue_client, load_certificate, revoke
from realtimechat.server.trust import UNTRUSTED, Trust, revocation_keys, revoked_keys
from realtimechat.tls import ClientFiles, ServerFiles

from ..support import Pki, signed_with, users_own_signer


def der(files: ClientFiles) -> bytes:
    return load_certificate(files.cert).public_bytes(Encoding.DER)


def bundle(path: Path, *certs: Path) -> Path:
    path.write_bytes(b"".join(cert.read_bytes() for cert in certs))
    return path


@pytest.fixture
def users(tmp_path: Path) -> tuple[ClientFiles, ClientFiles]:
    """pia's own certificate can sign others; quinn's is another user's own."""
    return users_own_signer(tmp_path, "pia"), users_own_signer(tmp_path, "quinn")


def test_a_bundle_of_users_certificates_is_read_as_pins_even_if_they_can_sign(
    pki: Pki, tmp_path: Path, users: tuple[ClientFiles, ClientFiles]
) -> None:
    """--ca users.pem, every certificate able to sign: not one of them is a CA.

    Before: the log said "trusting CA 'pia', CA 'quinn'", and a certificate
    pia signed for any name was let in.
    """
    pia, quinn = users
    trust = Trust.load(
        ServerFiles(
            cert=pki.folder.server_cert,
            key=pki.folder.server_key,
            ca=bundle(tmp_path / "users.pem", pia.cert, quinn.cert),
        )
    )
    assert trust.ca_certificates == ()
    assert trust.describe() == (
        "server certificate for chatserver, localhost, 127.0.0.1, ::1; trusting no CA,"
        " 2 pinned certificates ('pia', 'quinn'); no CRL"
    )
    assert trust.refusal(trust.identify(der(pia))) is None
    minted = signed_with(pia, tmp_path, "minted", "bob")
    identity = trust.identify(der(minted))
    assert (identity.pinned, identity.authority) == (False, None)
    assert trust.refusal(identity) == UNTRUSTED
    (note,) = [w for w in trust.warnings() if "was given alone" in w]
    assert "'pia', 'quinn' are each pinned (it lets in its holder, and nobody it signs)" in note
    assert "'pia', 'quinn' can sign certificates, but neither issued this server's" in note
    assert "give CA certificates with --ca and users' certificates with --pins FILE" in note


def test_given_with_pins_ca_must_hold_cas_only(
    pki: Pki, tmp_path: Path, users: tuple[ClientFiles, ClientFiles]
) -> None:
    """With --pins the operator has said which is which: a user's certificate in --ca fails."""
    pia, _ = users
    files = ServerFiles(
        cert=pki.folder.server_cert,
        key=pki.folder.server_key,
        ca=bundle(tmp_path / "cas.pem", pki.folder.ca_cert, pki.folder.client_cert("alice")),
        pins=bundle(tmp_path / "pins.pem", pia.cert),
    )
    with pytest.raises(PKIError, match=r"'alice' cannot sign certificates .* so it is no CA"):
        Trust.load(files)
    both = dataclasses.replace(
        files,
        ca=pki.folder.ca_cert,
        pins=bundle(tmp_path / "both.pem", pia.cert, pki.folder.ca_cert),
    )
    with pytest.raises(PKIError, match="is in both"):
        Trust.load(both)


def test_pins_alone_need_no_ca(
    pki: Pki, tmp_path: Path, users: tuple[ClientFiles, ClientFiles]
) -> None:
    """--cert, --key and --pins: a server for pinned users only, said so in the log."""
    pia, quinn = users
    trust = Trust.load(
        ServerFiles(
            cert=pki.folder.server_cert,
            key=pki.folder.server_key,
            ca=None,
            pins=bundle(tmp_path / "pins.pem", pia.cert, quinn.cert),
        )
    )
    assert "trusting no CA, 2 pinned certificates ('pia', 'quinn')" in trust.describe()
    assert not [w for w in trust.warnings() if "given alone" in w or "CRL" in w]
    assert trust.refusal(trust.identify(der(quinn))) is None


def test_a_ca_issued_certificate_that_says_ca_true_is_untrusted(pki: Pki, tmp_path: Path) -> None:
    """Our CA's own certificate, or one it issued with CA:TRUE, is nobody's identity."""
    trust = Trust.load(pki.server)
    ca = ClientFiles(cert=pki.folder.ca_cert, key=pki.folder.ca_key, ca=pki.folder.ca_cert)
    sub_ca = signed_with(ca, tmp_path, "subca", "frank", ca=True)
    user = signed_with(ca, tmp_path, "frank", "frank")
    assert trust.refusal(trust.identify(der(ca))) == UNTRUSTED
    assert trust.refusal(trust.identify(der(sub_ca))) == UNTRUSTED
    assert trust.refusal(trust.identify(der(user))) is None


def test_the_operators_ca_bundled_with_pins_stays_a_ca(
    pki: Pki, tmp_path: Path, users: tuple[ClientFiles, ClientFiles]
) -> None:
    """An old-style --ca bundle of the CA that issued the server's certificate plus users:
    the CA stays a CA (it vouches for this server), the users are pinned, pia can sign no one."""
    pia, _ = users
    trust = Trust.load(
        ServerFiles(
            cert=pki.folder.server_cert,
            key=pki.folder.server_key,
            ca=bundle(tmp_path / "trust.pem", pki.folder.ca_cert, pia.cert),
            crl=pki.folder.crl,
        )
    )
    assert [cert.subject for cert in trust.ca_certificates] == [
        load_certificate(pki.folder.ca_cert).subject
    ]
    assert "trusting CA 'realtimechat CA (chatserver)', 1 pinned certificate ('pia')" in (
        trust.describe()
    )
    alice = trust.identify(der(ClientFiles(pki.folder.client_cert("alice"), Path(), Path())))
    assert trust.refusal(alice) is None
    minted = signed_with(pia, tmp_path, "minted", "bob")
    assert trust.refusal(trust.identify(der(minted))) == UNTRUSTED


def test_a_crl_never_goes_backwards(tmp_path: Path) -> None:
    """An older CRL of the same CA on reload: the newer one stays, a warning says why."""
    root = tmp_path / "ca"
    init_ca(root, "chatserver", ["127.0.0.1"])
    issue_client(root, "rita")
    folder = CaFolder(root)
    files = ServerFiles(
        cert=folder.server_cert, key=folder.server_key, ca=folder.ca_cert, crl=folder.crl
    )
    older = folder.crl.read_bytes()
    revoke(root, "rita")
    newer = Trust.load(files)
    assert newer.revocations is not None
    assert len(newer.revocations.serials) == 1
    folder.crl.write_bytes(older)
    kept = Trust.load(files, previous=newer)
    assert kept.revocations == newer.revocations
    (warning,) = [w for w in kept.warnings() if "older than the CRL in force" in w]
    assert "number 1" in warning
    assert "number 2" in warning
    again = Trust.load(files, previous=kept)  # still the old file on disk: still refused
    assert again.revocations == newer.revocations
    fresh = Trust.load(files)  # a restart has no CRL in force to compare with
    assert fresh.revocations is not None
    assert fresh.revocations.serials == frozenset()


def test_a_server_key_open_to_others_is_warned_about(pki: Pki, tmp_path: Path) -> None:
    """server.key readable by the group or others: the server runs, and says what to do."""
    key = tmp_path / "server.key"
    shutil.copy(pki.folder.server_key, key)
    files = dataclasses.replace(pki.server, key=key)
    for mode, who in ((0o600, None), (0o640, "its group"), (0o644, "other users")):
        key.chmod(mode)
        found = [w for w in Trust.load(files).warnings() if "server's key" in w]
        if who is None:
            assert found == []
        else:
            assert found == [
                f"the server's key {key} is open to {who} (mode {mode:04o}): whoever can read"
                f" it can pose as this server to every client; run `chmod 600 {key}`"
            ]


def test_a_second_ca_given_alone_is_pinned_until_said_otherwise(pki: Pki, tmp_path: Path) -> None:
    """--ca with a CA that vouches for nothing here: pinned (it could be a user's own);
    an empty --pins file says --ca holds CAs only, and then it is one."""
    second = tmp_path / "second"
    init_ca(second, "second-ca", ["127.0.0.1"])
    issue_client(second, "rita")
    rita = ClientFiles(CaFolder(second).client_cert("rita"), Path(), Path())
    cas = bundle(tmp_path / "cas.pem", pki.folder.ca_cert, CaFolder(second).ca_cert)
    files = ServerFiles(cert=pki.folder.server_cert, key=pki.folder.server_key, ca=cas)
    alone = Trust.load(files)
    assert len(alone.ca_certificates) == 1
    assert alone.refusal(alone.identify(der(rita))) == UNTRUSTED
    (note,) = [w for w in alone.warnings() if "was given alone" in w]
    assert "give --pins (your pinned certificates, or an empty file)" in note
    empty = tmp_path / "pins.pem"
    empty.write_bytes(b"")
    said = Trust.load(dataclasses.replace(files, pins=empty))
    assert len(said.ca_certificates) == 2
    assert said.refusal(said.identify(der(rita))) is None
    assert "trusting CA 'realtimechat CA (chatserver)', CA 'realtimechat CA (second-ca)';" in (
        said.describe()
    )


def test_an_intermediate_that_issued_the_server_certificate_and_its_root_are_cas(
    tmp_path: Path,
) -> None:
    """A root and the intermediate that issued the server's certificate, given alone: both CAs."""
    root = users_own_signer(tmp_path, "root")
    intermediate = signed_with(root, tmp_path, "intermediate", "intermediate", ca=True)
    server = signed_with(intermediate, tmp_path, "server", "chatserver")
    trust = Trust.load(
        ServerFiles(
            cert=server.cert,
            key=server.key,
            ca=bundle(tmp_path / "cas.pem", root.cert, intermediate.cert),
        )
    )
    assert trust.describe().split("; ")[1] == "trusting CA 'root', CA 'intermediate'"
    assert not [w for w in trust.warnings() if "given alone" in w]


def test_pins_go_with_every_way_of_giving_the_files(pki: Pki, tmp_path: Path) -> None:
    """--pins with --cert/--key (no --ca needed) or with --pki; neither trust file is an error."""
    pins = bundle(tmp_path / "pins.pem", users_own_signer(tmp_path, "pia").cert)
    cert, key = pki.folder.server_cert, pki.folder.server_key
    alone = locations.server_files(cert=cert, key=key, ca=None, pki=None, pins=pins)
    assert (alone.ca, alone.pins) == (None, pins)
    folder = locations.server_files(cert=None, key=None, ca=None, pki=pki.folder.root, pins=pins)
    assert (folder.ca, folder.crl, folder.pins) == (pki.folder.ca_cert, pki.folder.crl, pins)
    with pytest.raises(ConfigError, match=r"^also give --ca \(or --pins\) \(or use --pki DIR\)$"):
        locations.server_files(cert=cert, key=key, ca=None, pki=None)
    with pytest.raises(ConfigError, match=r"pinned certificates file .* does not exist"):
        locations.server_files(cert=cert, key=key, ca=None, pki=None, pins=tmp_path / "none")


def test_what_a_crl_revokes_is_shared_under_the_key_of_the_revoked_certificate(
    tmp_path: Path,
) -> None:
    """revoked_keys holds rita's revocation key after her revocation, and not sam's."""
    root = tmp_path / "ca"
    init_ca(root, "chatserver", ["127.0.0.1"])
    issue_client(root, "rita")
    issue_client(root, "sam")
    folder = CaFolder(root)
    files = ServerFiles(
        cert=folder.server_cert, key=folder.server_key, ca=folder.ca_cert, crl=folder.crl
    )
    trust = Trust.load(files)
    rita, sam = (
        trust.identify(der(ClientFiles(folder.client_cert(u), folder.client_key(u), root)))
        for u in ("rita", "sam")
    )
    assert revoked_keys(Trust.load(files)) == frozenset()
    revoke(root, "rita")
    keys = revoked_keys(Trust.load(files))
    assert set(revocation_keys(rita)) <= keys
    assert not set(revocation_keys(sam)) & keys


def test_a_pin_removed_by_a_reload_is_shared_as_revoked(
    tmp_path: Path, users: tuple[ClientFiles, ClientFiles]
) -> None:
    """Two pins, then one: the one removed is revoked under its fingerprint's key."""
    root = tmp_path / "ca"
    init_ca(root, "chatserver", ["127.0.0.1"])
    folder = CaFolder(root)
    pia, quinn = users
    pins = bundle(tmp_path / "pins.pem", pia.cert, quinn.cert)
    files = ServerFiles(cert=folder.server_cert, key=folder.server_key, ca=None, pins=pins)
    before = Trust.load(files)
    identity = before.identify(der(quinn))
    bundle(pins, pia.cert)
    after = Trust.load(files, previous=before)
    assert revoked_keys(after, before) == frozenset(revocation_keys(identity))
    assert revoked_keys(after) == frozenset()
