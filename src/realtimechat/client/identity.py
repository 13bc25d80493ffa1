"""Whether the certificate we are about to present can be a client certificate.

A CA's or a server's certificate picked by mistake (``--identity`` pointed
at the admin's CA folder, say) is sent, refused by the server's OpenSSL as
"unsupported certificate purpose", and all the user hears is the alert:
"the server did not accept our certificate: sslv3 alert unsupported
certificate", exit 5, as if the server had refused *them*. So the client
looks first and says what the file is (``pki.not_a_client_certificate``).

Caught: a certificate made to issue others (CA:TRUE with keyCertSign, as
``rtchat-certs init`` makes ca.crt: it is nobody's identity), and what
OpenSSL's TLS-client purpose check itself refuses: an extended key usage
without clientAuth (nor anyExtendedKeyUsage), or a key usage with neither
digitalSignature nor keyAgreement. Nothing else, so no certificate that
works today is turned away: ``openssl req -x509`` certificates are CA:TRUE
but carry neither extension, and pass as they pass the server.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..errors import ConfigError, PKIError
from ..pki import load_certificate, not_a_client_certificate

_USE_YOURS = "use your own: --identity DIR, --pki DIR --name NAME, or --cert/--key/--ca"


def check_client_certificate(path: Path) -> None:
    """ConfigError saying what ``path`` is instead, if the server must refuse it as ours."""
    try:
        cert = load_certificate(path)
    except (PKIError, OSError):
        return  # loading it for TLS says what is wrong with the file itself
    what = not_a_client_certificate(cert)
    if what is not None:
        raise ConfigError(f"{path} is {what}, not a client certificate: {_USE_YOURS}")


def certificate_expiry(path: Path) -> dt.datetime | None:
    """When the certificate in ``path`` expires (UTC), or None if it cannot be read here."""
    try:
        return load_certificate(path).not_valid_after_utc
    except (PKIError, OSError):
        return None  # loading it for TLS says what is wrong with the file itself
