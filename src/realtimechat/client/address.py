"""The server's address as people write it: ``HOST``, ``HOST:PORT`` or ``[IPv6]:PORT``.

``--host 127.0.0.1:9750`` (or the same typed at the "Server address"
question) carries the port, as an address copied from a browser or a log
line does. An IPv6 address takes a port only inside brackets, as in URLs:
``[::1]:9750``; a bare ``::1`` is all address, no port.
"""

from __future__ import annotations

from ..errors import ConfigError

_MAX_PORT = 65535


def split_host_port(text: str) -> tuple[str, int | None]:
    """The host and, when ``text`` gives one, the port; ConfigError if it is no address."""
    text = text.strip()
    if text.startswith("["):
        return _bracketed(text)
    if text.count(":") != 1:  # a name, an IPv4 address, or a bare IPv6 address
        return text, None
    host, _, port = text.partition(":")
    if not host:
        raise ConfigError(f"{text!r} has no host before the port")
    return host, _port(text, port)


def _bracketed(text: str) -> tuple[str, int | None]:
    host, bracket, rest = text[1:].partition("]")
    if not bracket or not host or (rest and not rest.startswith(":")):
        raise ConfigError(f"{text!r} is not an address: write an IPv6 address as [ADDRESS]:PORT")
    return host, _port(text, rest[1:]) if rest else None


def _port(text: str, port: str) -> int:
    # isdecimal, not int(): int() would take " 1", "+1" and "1_0" too.
    if port.isascii() and port.isdecimal() and 0 < int(port) <= _MAX_PORT:
        return int(port)
    raise ConfigError(f"the port in {text!r} must be a number from 1 to {_MAX_PORT}")
