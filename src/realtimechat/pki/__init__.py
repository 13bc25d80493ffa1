"""Certificates for realtimechat: a small CA, server and client certificates.

Everything here uses ``cryptography``; nothing shells out to ``openssl``. The
functions raise :class:`~realtimechat.errors.PKIError` for every certificate,
key or folder problem, and never print or exit: ``cli/certs.py`` does that.

A *CA folder* is the admin's certificate authority on disk (:class:`CaFolder`)::

    ca.crt  ca.key          the CA: what servers and clients trust, and its key
    server.crt  server.key  the chat server's certificate (issued by the CA)
    crl.pem                 the CA's revocation list (empty after ``init_ca``)
    clients/NAME.crt        client certificates (``issue_client``, ``sign_request``)
    clients/NAME.key        client keys, only for ``issue_client``
    index.json              every certificate the CA issued (see ``IndexEntry``)

A *server folder* holds ``ca.crt``, ``server.crt``, ``server.key`` and
``crl.pem``, never ``ca.key``. A *user folder* holds ``NAME.key`` and
``NAME.csr`` (``create_request``), then ``NAME.crt`` and ``ca.crt``
(``sign_request``). Files are written atomically and never overwritten
without ``force``; operations return :class:`Written` records.

The submodules, lowest layer first: ``validity``, ``keys``, ``load``,
``folder``, ``files``, ``index``, ``build`` and ``facts``; then the operations
``issue``, ``csr``, ``invite``, ``revoke`` and ``describe``. Everything public is
re-exported here: import from ``realtimechat.pki``.
"""

from __future__ import annotations

from .build import REVOCATION_REASONS, RevocationReason
from .csr import Request, SigningRequest, create_request, read_csr, sign_request
from .describe import CRL_RENEW_BEFORE, Description, Role, describe_file, list_certificates
from .facts import can_sign_certificates, is_ca_certificate, not_a_client_certificate
from .files import CERT_MODE, DIR_MODE, KEY_MODE, Action, Written, same_folder
from .folder import MAX_NAME_BYTES, CaFolder, validate_client_name
from .index import (
    INDEX_VERSION,
    CertKind,
    IndexEntry,
    Status,
    certificate_status,
    find_certificate,
    read_index,
    replaced_serials,
)
from .invite import SUFFIX as INVITE_SUFFIX
from .invite import (
    Installed,
    Invite,
    ServerAddress,
    check_invite_target,
    install_invite,
    issue_invite,
    new_passphrase,
    open_key,
    read_invite,
    reencode_key,
    server_address,
    write_invite,
)
from .issue import (
    init_ca,
    issue_client,
    issue_server_certificate,
    server_bundle,
    server_names,
)
from .keys import (
    DEFAULT_KEY_TYPE,
    KEY_TYPES,
    MIN_RSA_BITS,
    KeyType,
    PrivateKey,
    describe_key,
    fingerprint_sha256,
    format_fingerprint,
    generate_key,
    public_key_fingerprint,
    short_fingerprint,
)
from .load import (
    certificate_names,
    common_name,
    load_certificate,
    load_certificates,
    load_crl,
    load_csr,
    load_private_key,
    pem_kind,
    private_key_is_encrypted,
    refuse_unusable_key,
    signed_by,
)
from .revoke import Revocation, renew_crl, revoke
from .validity import CA_DAYS, CLIENT_DAYS, CLOCK_SKEW, CRL_DAYS, EXPIRING_SOON, SERVER_DAYS

__all__ = [
    "CA_DAYS",
    "CERT_MODE",
    "CLIENT_DAYS",
    "CLOCK_SKEW",
    "CRL_DAYS",
    "CRL_RENEW_BEFORE",
    "DEFAULT_KEY_TYPE",
    "DIR_MODE",
    "EXPIRING_SOON",
    "INDEX_VERSION",
    "INVITE_SUFFIX",
    "KEY_MODE",
    "KEY_TYPES",
    "MAX_NAME_BYTES",
    "MIN_RSA_BITS",
    "REVOCATION_REASONS",
    "SERVER_DAYS",
    "Action",
    "CaFolder",
    "CertKind",
    "Description",
    "IndexEntry",
    "Installed",
    "Invite",
    "KeyType",
    "PrivateKey",
    "Request",
    "Revocation",
    "RevocationReason",
    "Role",
    "ServerAddress",
    "SigningRequest",
    "Status",
    "Written",
    "can_sign_certificates",
    "certificate_names",
    "certificate_status",
    "check_invite_target",
    "common_name",
    "create_request",
    "describe_file",
    "describe_key",
    "find_certificate",
    "fingerprint_sha256",
    "format_fingerprint",
    "generate_key",
    "init_ca",
    "install_invite",
    "is_ca_certificate",
    "issue_client",
    "issue_invite",
    "issue_server_certificate",
    "list_certificates",
    "load_certificate",
    "load_certificates",
    "load_crl",
    "load_csr",
    "load_private_key",
    "new_passphrase",
    "not_a_client_certificate",
    "open_key",
    "pem_kind",
    "private_key_is_encrypted",
    "public_key_fingerprint",
    "read_csr",
    "read_index",
    "read_invite",
    "reencode_key",
    "refuse_unusable_key",
    "renew_crl",
    "replaced_serials",
    "revoke",
    "same_folder",
    "server_address",
    "server_bundle",
    "server_names",
    "short_fingerprint",
    "sign_request",
    "signed_by",
    "validate_client_name",
    "write_invite",
]
