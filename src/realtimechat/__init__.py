"""realtimechat: a secure group chat for the terminal.

Mutual TLS on every connection, names that come from certificates, and a
server that fans every message out to everyone in real time. The console
commands are ``rtchat-server``, ``rtchat`` and ``rtchat-certs``; the
library underneath is ``protocol`` (sans-I/O wire format), ``tls`` (every
SSLContext), ``pki`` (certificates), ``server`` and ``client``.
"""

__version__ = "0.1.0"
