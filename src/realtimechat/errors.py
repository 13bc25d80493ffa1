"""Every exception realtimechat raises on purpose.

The library never exits the process; the CLIs translate these into one line
on stderr and an exit code (``exit_code``) at the edge. ::

    RtchatError                     root: catch this to catch all of ours
    ├── ConfigError                 bad option, missing or unreadable file
    │   └── PKIError                a certificate, key or CA folder problem
    │       └── WrongPassphrase     the passphrase does not open the key
    ├── ProtocolError               a peer's frame is answered with an ``error``
    │   │                           (``code`` is the stable wire error code)
    │   ├── ProtocolViolation       the peer broke protocol v1 (counted toward
    │   │                           the server's error limit)
    │   └── Refusal                 a well-formed request was refused (not
    │                               counted: a typo in /msg is no misbehaviour)
    └── ClientError                 the client could not (keep) chatting
        ├── CannotConnect           TCP connect failed or timed out
        ├── ServerNotTrusted        the server's certificate chain failed
        ├── ServerNameMismatch      the server's certificate is not for --cn
        ├── CertificateRejected     the server did not accept our certificate
        ├── SessionRefused          the server said no after TLS (name taken,
        │                           version, bye before welcome, an operator's
        │                           kick or ban)
        ├── ConnectionLost          the connection ended after welcome
        ├── MessagesNotDelivered    some of our messages never came back
        └── MessagesNotSent         a message was refused or could not be sent

Exit codes are part of the CLI contract (README.md, "Exit codes").
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of the console commands."""

    OK = 0
    ERROR = 1  # anything not listed below, and ConfigError
    USAGE = 2  # click's own code for a bad command line
    CANNOT_CONNECT = 3
    TLS_FAILED = 4  # server certificate not trusted / not matching --cn
    REFUSED = 5  # the server refused us: certificate, name, version, bye
    CONNECTION_LOST = 6
    NOT_DELIVERED = 7  # --plain: some messages never echoed; rtchat-bench: the run was not clean
    NOT_SENT = 8  # --plain: a message refused by the server or not sendable, a line no command


class RtchatError(Exception):
    """Root of the realtimechat exception tree."""

    exit_code: ExitCode = ExitCode.ERROR


class StoreClosed(RtchatError):
    """The message store was used after it was closed (at shutdown)."""


class ConfigError(RtchatError):
    """A bad option value, or a file that is missing or unreadable."""


class PKIError(ConfigError):
    """A certificate, key, CSR or CA folder cannot be used."""


class WrongPassphrase(PKIError):
    """The passphrase given does not open the private key (asked again where it can be)."""


class ProtocolError(RtchatError):
    """A peer's frame that is answered with an ``error`` frame.

    ``code`` is the stable error code sent in the ``error`` frame
    (``protocol.ErrorCode``; docs/protocol.md 12.1 lists them); ``fatal``
    says whether the connection cannot continue (the framing itself is
    broken); ``ref`` is the ``ref`` of the ``msg`` it concerns, when one
    could be read. Raise one of the two subclasses: which one it is decides
    whether it counts as misbehaviour.
    """

    def __init__(
        self, code: str, message: str, *, fatal: bool = False, ref: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fatal = fatal
        self.ref = ref

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r}, fatal={self.fatal})"


class ProtocolViolation(ProtocolError):
    """The peer broke protocol v1: bad framing, JSON, fields, or frame order."""


class Refusal(ProtocolError):
    """A well-formed request was refused: no such user or room, rate limited, ..."""


class ClientError(RtchatError):
    """The client could not start or keep chatting."""


class CannotConnect(ClientError):
    exit_code = ExitCode.CANNOT_CONNECT


class ServerNotTrusted(ClientError):
    exit_code = ExitCode.TLS_FAILED


class ServerNameMismatch(ClientError):
    """The server's certificate is not for the name we checked; ``names`` are those it is for.

    ``names`` is empty when they could not be read safely (the chain failed too).
    """

    exit_code = ExitCode.TLS_FAILED

    def __init__(self, message: str, names: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.names = list(names)


class CertificateRejected(ClientError):
    exit_code = ExitCode.REFUSED


class SessionRefused(ClientError):
    """The server ended the session before or instead of ``welcome``.

    ``reason`` is the ``error.code`` or ``bye.reason`` the server gave.
    """

    exit_code = ExitCode.REFUSED

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ConnectionLost(ClientError):
    exit_code = ExitCode.CONNECTION_LOST


class MessagesNotDelivered(ClientError):
    exit_code = ExitCode.NOT_DELIVERED


class MessagesNotSent(ClientError):
    """A line was not carried out: the server refused a message, or it could not be sent."""

    exit_code = ExitCode.NOT_SENT
