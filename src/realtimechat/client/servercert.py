"""Which names the server's certificate is for, to tell a user with a wrong ``--cn``.

When the name check fails, OpenSSL says only that the name did not match.
To say which ``--cn`` would do, the client makes one more handshake that
still verifies the certificate's chain against our trust anchors but skips
the name check, reads the certificate's names, and closes the connection
without sending a byte of protocol: nothing is ever said over it, so
skipping the name check there trusts the server with nothing. A
certificate whose chain does not verify fails that handshake too, and its
names are not repeated.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Final

from cryptography import x509

from ..pki import certificate_names as pki_certificate_names
from ..sanitize import visible

MOST_NAMES: Final = 10  # a certificate for hundreds of names makes no useful hint


async def server_certificate_names(
    host: str, port: int, cn: str, context: ssl.SSLContext, *, timeout: float = 10.0
) -> list[str]:
    """The names the certificate of the server at ``host``:``port`` is for.

    ``context`` must verify the chain (``CERT_REQUIRED``) and not the name;
    ``cn`` is sent as the SNI, as in the attempt that failed. [] when the
    names cannot be read safely.
    """
    if context.verify_mode is not ssl.CERT_REQUIRED or context.check_hostname:
        return []
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(
                host, port, ssl=context, server_hostname=cn, ssl_handshake_timeout=timeout
            )
    except (OSError, TimeoutError):  # ssl.SSLError included: the chain failed, or the server
        return []
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    finally:
        writer.transport.abort()  # no bye: this connection never said hello
    return certificate_names(der) if der else []


def certificate_names(der: bytes) -> list[str]:
    """The names a client may give as ``--cn`` for this certificate, safe to print.

    Its DNS names, or its subject CN when it has none (as OpenSSL matches
    them, ``hostname_checks_common_name``), then its IP addresses.
    """
    try:
        names = pki_certificate_names(x509.load_der_x509_certificate(der))
    except ValueError:  # a certificate OpenSSL accepted but cryptography cannot read
        return []
    unique = list(dict.fromkeys(visible(name) for name in names if name))
    if len(unique) > MOST_NAMES:
        return [*unique[:MOST_NAMES], f"and {len(unique) - MOST_NAMES} more"]
    return unique
