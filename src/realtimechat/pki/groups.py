"""Certificate groups: who belongs to ``group:ops`` in a room file (docs/certificates.md).

A client certificate carries its groups as subjectAltName URIs,
``urn:rtchat:group:NAME``, one per group. A URI in the SAN rather than an
OU in the subject: a SAN URI in our own ``urn:rtchat:`` namespace cannot be
mistaken for anything else a CA already writes (a company CA's
``OU=Sales`` is not a chat group), a certificate may carry any number of
them, and the subject -- where the CN the chat name comes from lives --
stays as it was. docs/certificates.md, "Groups: the door of a private
room", has the whole argument.

Only the CA that issues a certificate writes its groups: ``issue --group``
and ``sign --group``. ``sign`` never copies groups from a request, so a
user cannot ask for a group the admin did not give.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from cryptography import x509

from realtimechat.errors import PKIError
from realtimechat.rooms import group_key, group_problem

GROUP_URN: Final = "urn:rtchat:group:"


def group_names(groups: Iterable[str]) -> list[str]:
    """``groups`` checked (PKIError for a bad one), in order, each once (``Ops`` = ``ops``)."""
    out: dict[str, str] = {}
    for group in groups:
        problem = group_problem(group)
        if problem is not None:
            raise PKIError(f"--group {group!r}: {problem}")
        out.setdefault(group_key(group), group)
    return list(out.values())


def group_uris(groups: Sequence[str]) -> list[x509.UniformResourceIdentifier]:
    """The SAN entries that carry ``groups``."""
    return [x509.UniformResourceIdentifier(GROUP_URN + group) for group in group_names(groups)]


def groups_of(cert: x509.Certificate) -> list[str]:
    """The groups ``cert`` carries, as written (none: no SAN, or no group URI in it).

    A URI with our prefix whose name breaks the rules is not a group (and not
    an error: a certificate from another tool may carry anything).
    """
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    out = []
    for uri in san.get_values_for_type(x509.UniformResourceIdentifier):
        if uri.startswith(GROUP_URN):
            group = uri[len(GROUP_URN) :]
            if group_problem(group) is None:
                out.append(group)
    return out
