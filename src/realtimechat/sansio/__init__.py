"""Protocol v1's rules as state machines, with no I/O (h11 and websockets style).

``server`` is the server's side of one connection; ``ratelimit`` its
token bucket. The asyncio code in ``server/session.py`` is a thin adapter
that feeds bytes and time in and writes what comes out.

``client`` is the client's side of one connection (hello, welcome or
refusal, keepalive); ``client/connection.py`` and the bench's connection
adapt it.

``sender`` is the client's outgoing messages: in the order typed, one at a
time, a refused one resent first. ``client/chat.py`` runs it.
"""
