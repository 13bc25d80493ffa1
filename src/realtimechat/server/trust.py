"""Whom the server trusts right now, and whether a peer still qualifies.

A ``Trust`` is loaded from the server's files at start and again on each
reload (SIGHUP, or the files changing). It holds the SSLContext new
connections get, the trust anchors, split by what they may vouch for, and
the revoked serials from the CRL:

* a **CA** (``--ca``) admits every certificate it issued; it must be able
  to sign certificates (CA:TRUE with keyCertSign);
* a **pinned** certificate (``--pins``) admits its holder, and nobody else:
  pinned means the leaf itself, a chain of one. A certificate signed by a
  pinned one is refused, whatever the pinned one says it may do
  (``untrusted``).

OpenSSL gets every anchor and checks the chain; it cannot be told that an
anchor may stand for itself only, so what each one may vouch for is decided
here, right after the handshake (``identify`` and ``refusal``), before the
peer can send a frame. A client certificate that says CA:TRUE is refused
too, unless it is itself pinned: a CA's certificate is nobody's identity.

A ``--ca`` file given without ``--pins`` may be an old-style bundle of
users' own certificates (docs/certificates.md, 9): ``_read_anchors`` says how
it is read, and the log says what came of it.

Revocation is checked here, by the server, right after the handshake and
again for every live session on reload -- never with OpenSSL's CRL flags,
which would reject every pinned self-signed client (no CRL exists for its
issuer) and every client once the CRL's next-update has passed:

* a pinned certificate is revoked by removing it from the pin file;
* a CA-issued certificate is revoked when its serial is on the CRL of its
  CA, or when its CA is no longer trusted;
* any certificate is expired once its not-after has passed (OpenSSL checks
  that at the handshake; sessions outlive handshakes, so we check again).

A CRL never goes backwards: on reload, a CRL of the same CA that is older
than the one in force (lower CRL number, or older thisUpdate) is refused
and the newer one stays in force; the log says so.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ssl
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ..errors import PKIError
from ..pki import (
    can_sign_certificates,
    certificate_names,
    common_name,
    is_ca_certificate,
    load_crl,
    read_index,
    refuse_unusable_key,
    signed_by,
)
from ..pki.groups import groups_of
from ..rooms import group_key
from ..sanitize import visible
from ..tls import ServerFiles, server_context
from . import checks
from .checks import Check, CrlFacts, Finding, Level
from .identity import PeerIdentity

REVOKED: Final = "revoked"
EXPIRED: Final = "expired"
UNTRUSTED: Final = "untrusted"  # no CA of ours vouches for it, or it is a CA's certificate
NAMES_LOGGED: Final = 10  # pinned certificates named in the log line, then "and N more"
_SIGNING_KEYS: Final = (
    rsa.RSAPublicKey,
    ec.EllipticCurvePublicKey,
    ed25519.Ed25519PublicKey,
    ed448.Ed448PublicKey,
)


@dataclass(frozen=True, slots=True)
class Revocations:
    """The serials one CA has revoked, from its CRL."""

    issuer: str  # RFC 4514 name of the CA that signed the CRL
    serials: frozenset[int]
    next_update: dt.datetime | None
    authority: str = ""  # SHA-256 of the signing CA's public key (``_key_id``)
    number: int | None = None  # the CRL number, if it has one
    this_update: dt.datetime | None = None
    signer: str = ""  # the CN of the CA that signed it, for people

    def facts(self) -> CrlFacts:
        return CrlFacts(self.signer, self.serials, self.next_update, self.number)

    def is_older_than(self, other: Revocations) -> bool:
        """Whether this is a CRL of ``other``'s CA issued before it: taking it would go back.

        By CRL number when both have one (rtchat-certs raises it at every
        signing); else, or when the numbers are equal, by thisUpdate.
        """
        if self.authority != other.authority:
            return False  # another CA (or the same name with a new key): a new series
        if self.number is not None and other.number is not None and self.number != other.number:
            return self.number < other.number
        if self.this_update is None or other.this_update is None:
            return False
        return self.this_update < other.this_update


@dataclass(frozen=True, slots=True)
class Trust:
    """Everything the server needs to admit, identify and re-check peers."""

    context: ssl.SSLContext
    pinned: frozenset[str]  # SHA-256 fingerprints of the pinned certificates
    ca_subjects: frozenset[str]  # RFC 4514 subjects of the CA certificates
    revocations: Revocations | None
    server_certificate: x509.Certificate
    ca_certificates: tuple[x509.Certificate, ...]
    pin_certificates: tuple[x509.Certificate, ...] = ()
    ca_keys: frozenset[str] = frozenset()  # ``_key_id`` of each CA certificate
    notes: tuple[Finding, ...] = ()  # found while loading: logged with the warnings
    key_mode: Finding | None = None  # of the server's key file, when loaded
    tls13_only: bool = False

    @classmethod
    def load(
        cls, files: ServerFiles, *, previous: Trust | None = None, tls13_only: bool = False
    ) -> Trust:
        """Build the context and read trust files and CRL; PKIError if unusable.

        ``previous`` is the trust in force (on a reload): its CRL stays in
        force if the one on disk is older.
        """
        context = server_context(files, tls13_only=tls13_only)
        server_certificate = _read_certificates(files.cert, "server certificate")[0]
        crl = load_crl(files.crl) if files.crl is not None and files.crl.exists() else None
        cas, pins, said = _read_anchors(files, server_certificate, crl)
        notes = [checks.warn(Check.CHAIN, note) for note in said]
        revocations = _revocations(files.crl, crl, cas)
        kept = previous.revocations if previous is not None else None
        if revocations is not None and kept is not None and revocations.is_older_than(kept):
            notes.append(checks.warn(Check.CRL, _went_backwards(files.crl, revocations, kept)))
            revocations = kept
        behind = behind_index(files, revocations)
        if behind is not None:
            notes.append(behind)
        return cls(
            context=context,
            pinned=frozenset(_fingerprint(cert) for cert in pins),
            ca_subjects=frozenset(cert.subject.rfc4514_string() for cert in cas),
            revocations=revocations,
            server_certificate=server_certificate,
            ca_certificates=cas,
            pin_certificates=pins,
            ca_keys=frozenset(_key_id(cert) for cert in cas),
            notes=tuple(notes),
            key_mode=checks.key_mode(files.key),
            tls13_only=tls13_only,
        )

    def identify(self, der: bytes) -> PeerIdentity:
        """The identity of the peer whose verified certificate is ``der``.

        A pinned certificate is identified by its fingerprint; one issued by
        a CA by issuer and CN, so that a renewed certificate is the same
        user. ``authority`` names the CA whose signature it carries, if any.
        """
        certificate = x509.load_der_x509_certificate(der)
        fingerprint = hashlib.sha256(der).hexdigest()
        with warnings.catch_warnings():
            # cryptography warns about a CN that is empty or over 64 characters,
            # in free text, for each connection of such a certificate: the
            # session judges the CN itself (bad_name) and logs it clipped.
            warnings.simplefilter("ignore", UserWarning)
            cn = common_name(certificate)
            issuer = certificate.issuer.rfc4514_string()
            pinned = fingerprint in self.pinned
            authority = None
            if not pinned:  # which CA's key signed it (its issuer's name is read here too)
                signer = next(
                    (ca for ca in self.ca_certificates if signed_by(certificate, ca)), None
                )
                authority = _key_id(signer) if signer is not None else None
        return PeerIdentity(
            key=f"pin:{fingerprint}" if pinned else f"ca:{issuer}/{cn}",
            cn=cn,
            fingerprint=fingerprint,
            serial=certificate.serial_number,
            issuer=issuer,
            not_after=certificate.not_valid_after_utc,
            pinned=pinned,
            authority=authority,
            is_ca=is_ca_certificate(certificate),
            der=der,
            # Only a CA vouches for groups: a pinned certificate's SANs are its holder's word,
            # and one no CA of ours signed carries none either.
            groups=(
                frozenset()
                if pinned or authority is None
                else frozenset(map(group_key, groups_of(certificate)))
            ),
        )

    def refusal(self, identity: PeerIdentity, now: dt.datetime | None = None) -> str | None:
        """Why ``identity`` may not chat (``revoked``/``expired``/``untrusted``), or None."""
        if identity.not_after <= (now or dt.datetime.now(dt.UTC)):
            return EXPIRED
        if identity.pinned:
            return None if identity.fingerprint in self.pinned else REVOKED
        if identity.is_ca or identity.authority is None:
            # A CA's certificate, or one no CA of ours signed (signed by a
            # pinned certificate, say): OpenSSL's chain is no vouching here.
            return UNTRUSTED
        if identity.authority not in self.ca_keys:  # its CA is no longer trusted
            return REVOKED
        revocations = self.revocations
        if (
            revocations is not None
            and revocations.authority == identity.authority
            and identity.serial in revocations.serials
        ):
            return REVOKED
        return None

    def describe(self) -> str:
        """Whom this server is and whom it admits, in one line for the log."""
        names = ", ".join(certificate_names(self.server_certificate))
        trusted = [f"CA {_cn(ca)!r}" for ca in self.ca_certificates] or ["no CA"]
        pins = self.pin_certificates
        if pins:
            shown = ", ".join(repr(_cn(cert)) for cert in pins[:NAMES_LOGGED])
            more = f" and {len(pins) - NAMES_LOGGED} more" if len(pins) > NAMES_LOGGED else ""
            plural = "s" if len(pins) != 1 else ""
            trusted.append(f"{len(pins)} pinned certificate{plural} ({shown}{more})")
        revocations = self.revocations
        crl = f"{len(revocations.serials)} revoked in the CRL" if revocations else "no CRL"
        tls = "; TLS 1.3 only" if self.tls13_only else ""
        return f"server certificate for {names}; trusting {', '.join(trusted)}; {crl}{tls}"

    def findings(self, now: dt.datetime | None = None) -> list[Finding]:
        """What ``rtchat-server check`` says of this trust (server/checks.py), in check order.

        The chain and names of the server certificate, the CRL's freshness,
        expiries, the key file's mode, and what loading noted.
        """
        now = now or dt.datetime.now(dt.UTC)
        named = [("server certificate", self.server_certificate)] + [
            (f"CA certificate {_cn(cert)!r}", cert) for cert in self.ca_certificates
        ]
        revocations = self.revocations
        found = [
            *checks.chain(self.server_certificate, self.ca_certificates, self.pin_certificates),
            checks.names(self.server_certificate),
            *checks.crl(
                revocations.facts() if revocations else None,
                now,
                trusts_ca=bool(self.ca_certificates),
            ),
            *checks.expiry(named, now),
            *self.notes,
        ]
        if revocations is not None:
            found += [
                checks.warn(
                    Check.CRL,
                    f"no CRL for CA {_cn(ca)!r}: certificates it revoked are still let in"
                    " (the CRL is that of another CA)",
                )
                for ca in self.ca_certificates
                if _key_id(ca) != revocations.authority
            ]
        if self.key_mode is not None:
            found.append(self.key_mode)
        return checks.in_check_order(found)

    def warnings(self, now: dt.datetime | None = None) -> list[str]:
        """What an operator should act on: expiring certificates, a stale CRL, loose files."""
        return [f.detail for f in self.findings(now) if f.level is not Level.OK]


# What one server revokes, as every server on one Redis can match it: the
# revoked set there only grows, and can only refuse (docs/scaling.md, "Revocation").


def revocation_keys(identity: PeerIdentity) -> tuple[str, ...]:
    """The keys under which a revocation of ``identity``'s certificate is shared."""
    if identity.pinned:
        return (f"pin:{identity.fingerprint}",)
    return (f"crl:{identity.authority}:{identity.serial}",)


def revoked_keys(trust: Trust, previous: Trust | None = None) -> frozenset[str]:
    """What ``trust`` revokes: each serial its CRL lists, and each pin ``previous`` had
    that it no longer has. (A CA no longer trusted is not shared: see scaling.md.)"""
    keys: set[str] = set()
    revocations = trust.revocations
    if revocations is not None:
        keys.update(f"crl:{revocations.authority}:{serial}" for serial in revocations.serials)
    if previous is not None:
        keys.update(f"pin:{fp}" for fp in previous.pinned - trust.pinned)
    return frozenset(keys)


def behind_index(files: ServerFiles, revocations: Revocations | None) -> Finding | None:
    """A WARN if the CRL lacks revocations its CA folder's index.json records, else None.

    Only when the trust file is a CA folder's ca.crt (ca.key and index.json
    beside it, as ``--pki CA-FOLDER`` gives) and the CRL is that CA's.
    """
    if files.ca is None or files.crl is None or revocations is None:
        return None
    folder = files.ca.parent
    index = folder / "index.json"
    if not (folder / "ca.key").is_file() or not index.is_file():
        return None
    try:
        entries = read_index(folder)
    except PKIError as exc:
        return checks.warn(Check.CRL, f"cannot compare the CRL with {index}: {exc}")
    return checks.crl_behind_index(files.crl, revocations.serials, entries, index)


def _fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def _key_id(cert: x509.Certificate) -> str:
    """SHA-256 of the certificate's public key: a CA renewed with the same key is the same CA."""
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def _cn(cert: x509.Certificate) -> str:
    """The CN, safe for the log (it comes from a file, but a file from anyone)."""
    return visible(common_name(cert)) or cert.subject.rfc4514_string()


def _names(certs: Sequence[x509.Certificate]) -> str:
    return ", ".join(repr(_cn(cert)) for cert in certs)


def _read_certificates(path: Path, what: str, *, empty_ok: bool = False) -> list[x509.Certificate]:
    try:
        data = path.read_bytes()
        if empty_ok and not data.strip():
            return []  # an empty --pins file: nobody pinned, and --ca read as CAs only
        certificates = x509.load_pem_x509_certificates(data)
    except (OSError, ValueError) as exc:
        raise PKIError(f"cannot read {what} from {path}: {exc}") from None
    return [refuse_unusable_key(certificate, path) for certificate in certificates]


def _read_anchors(
    files: ServerFiles,
    server_certificate: x509.Certificate,
    crl: x509.CertificateRevocationList | None,
) -> tuple[tuple[x509.Certificate, ...], tuple[x509.Certificate, ...], list[str]]:
    """The CAs and the pinned certificates, and notes on how a --ca given alone was read.

    With ``--pins`` (even an empty file), the operator has said which is
    which: every certificate of ``--ca`` must be able to sign certificates,
    and none may be in both.

    ``--ca`` alone is what older versions took for either a CA or a bundle
    of users' own certificates, and a certificate cannot say which: its
    holder wrote it (tools mark self-signed certificates CA:TRUE, some with
    keyCertSign, and a user can ask for both on purpose). Only what the
    operator did can tell, so a certificate of it is a CA if it can sign
    certificates *and* vouches for this server: it issued the server's
    certificate, or signed its CRL (or issued a CA that did: an
    intermediate). Every other certificate is pinned. A user's certificate
    never vouches for the server, so no user can become a CA by making hers
    able to sign; an rtchat-certs CA folder or server folder reads as
    before.
    """
    in_ca = _read_certificates(files.ca, "CA certificates") if files.ca is not None else []
    in_pins = (
        _read_certificates(files.pins, "pinned certificates", empty_ok=True)
        if files.pins is not None
        else []
    )
    if files.pins is not None:
        for cert in in_ca:
            if not can_sign_certificates(cert):
                raise PKIError(
                    f"{files.ca}: {_cn(cert)!r} cannot sign certificates (it is not CA:TRUE"
                    f" with keyCertSign), so it is no CA: put it in {files.pins} (--pins) to let"
                    " its holder in"
                )
        both = {_fingerprint(cert) for cert in in_ca} & {_fingerprint(cert) for cert in in_pins}
        if both:
            twice = [cert for cert in in_pins if _fingerprint(cert) in both]
            raise PKIError(
                f"{_names(twice)} is in both {files.ca} (--ca) and {files.pins} (--pins):"
                " a certificate is either a CA or pinned"
            )
        if not in_ca and not in_pins:
            raise PKIError(
                f"{files.pins} holds no certificate, and there is no --ca: nobody could join"
            )
        return tuple(in_ca), tuple(in_pins), []

    signers = [cert for cert in in_ca if can_sign_certificates(cert)]
    vouching = [
        cert
        for cert in signers
        if signed_by(server_certificate, cert) or (crl is not None and signed_by(crl, cert))
    ]
    grown = True
    while grown:  # the CA that issued a vouching CA vouches too
        more = [
            cert
            for cert in signers
            if cert not in vouching and any(signed_by(ca, cert) for ca in vouching)
        ]
        vouching += more
        grown = bool(more)
    cas = tuple(cert for cert in in_ca if cert in vouching)
    pins = tuple(cert for cert in in_ca if cert not in vouching)
    if not pins:
        return cas, (), []  # a CA file, read as always
    pinned_signers = [cert for cert in pins if can_sign_certificates(cert)]
    note = (
        f"--ca {files.ca} was given alone and holds certificates that no CA here vouches for:"
        f" {_names(pins)} {'is' if len(pins) == 1 else 'are each'} pinned (it lets in its"
        " holder, and nobody it signs)"
    )
    if cas:
        note += f"; {_names(cas)} is a CA (it issued this server's certificate or signed its CRL)"
    if pinned_signers:
        note += (
            f"; {_names(pinned_signers)} can sign certificates, but neither issued this server's"
            " certificate nor signed its CRL, so it is pinned too: if it is a CA, give --pins"
            " (your pinned certificates, or an empty file) and --ca is then read as CAs only"
        )
    note += (
        ". To say which is which and silence this warning, give CA certificates with --ca and"
        " users' certificates with --pins FILE"
    )
    return cas, pins, [note]


def _revocations(
    path: Path | None,
    crl: x509.CertificateRevocationList | None,
    cas: tuple[x509.Certificate, ...],
) -> Revocations | None:
    """The CRL read from ``path``; a CRL missing beside a CA is an error, not "nothing revoked"."""
    if path is None:
        return None  # none configured: warnings() says so when a CA is trusted
    if crl is None:
        if not cas:
            return None  # pinned certificates only: revoked by removal
        raise PKIError(
            f"{path} is missing: without it, certificates the CA has revoked would be let"
            " in. Copy crl.pem from the CA folder (rtchat-certs server-bundle --out DIR"
            " makes a complete server folder), or give --crl FILE"
        )
    issuer = crl.issuer.rfc4514_string()
    signer = next((ca for ca in cas if ca.subject == crl.issuer), None)
    if signer is None:
        raise PKIError(f"{path} was issued by {issuer}, which is not a CA in the trust file")
    public_key = signer.public_key()
    if not isinstance(public_key, _SIGNING_KEYS) or not crl.is_signature_valid(public_key):
        raise PKIError(f"{path} is not signed by the CA {issuer}")
    return Revocations(
        signer=_cn(signer),
        issuer=issuer,
        serials=frozenset(entry.serial_number for entry in crl),
        next_update=crl.next_update_utc,
        authority=_key_id(signer),
        number=_crl_number(crl),
        this_update=crl.last_update_utc,
    )


def _crl_number(crl: x509.CertificateRevocationList) -> int | None:
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return None


def _went_backwards(path: Path | None, older: Revocations, newer: Revocations) -> str:
    """The log line for a CRL on disk older than the one in force."""

    def which(revocations: Revocations) -> str:
        number = f"number {revocations.number}, " if revocations.number is not None else ""
        issued = (
            revocations.this_update.strftime("%Y-%m-%d %H:%M:%S UTC")
            if revocations.this_update
            else "?"
        )
        return f"{number}issued {issued}, {len(revocations.serials)} revoked"

    return (
        f"{path} is older than the CRL in force ({which(older)}; in force: {which(newer)}):"
        " refused, the newer CRL stays in force. A CRL never goes backwards: an older one"
        " would let certificates revoked since back in. Copy the CA folder's current crl.pem"
    )
