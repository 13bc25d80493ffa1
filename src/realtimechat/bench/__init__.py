"""``rtchat-bench``: a load tool to run against your own realtimechat server.

Usage (``rtchat-bench SCENARIO --help`` lists every option)::

    rtchat-bench fanout --spawn --clients 50 --publishers 5 --duration 10
    rtchat-bench rate --spawn --clients 50 --rate 10
    rtchat-bench connect --spawn --clients 500 --concurrency 50
    rtchat-bench rate --host chat.example.org --port 8443 --cn chat.example.org \\
        --ca-dir ~/.config/rtchat/ca --clients 20 --rate 5 --json

``fanout``: every client receives, P publishers send as fast as a window of
in-flight messages allows (their own echoes free it), one message per write.
``rate``: every client sends R messages a second on a fixed schedule;
latency counts from the scheduled send time (no coordinated omission).
``connect``: N mutual-TLS connections, C handshakes at a time; handshakes/s,
ready/s (welcome received), then one broadcast to all of them.

The target is a running server (``--host --port --cn`` with ``--ca-dir``,
a CA folder to issue throwaway client certificates from, or ``--pki``,
a folder with existing client certificates), or ``--spawn``: a throwaway
``rtchat-server`` on 127.0.0.1 with a throwaway PKI, whose CPU % and memory
are reported too. Clients are spread over ``--workers`` processes, each an
asyncio loop. Every run has a hard deadline (``--timeout``). Output: a table,
or ``--json``; a progress line on stderr when it is a terminal.

Counting is exact: every message text carries a marker with a token of the
run, the sender and its send time (``wire``); receivers count markers in
the raw bytes, and a run reports delivered/expected, where expected is
messages sent times clients connected. Latency is the receiving client's
``time.monotonic_ns()`` minus the sender's stamp, both taken by this tool on
one machine, so it is valid against a remote server as well.

A run exits 0 only when it was clean: every client connected, every
expected message arrived and nothing went wrong. A run that finished but
not cleanly (clients refused or lost, errors such as ``rate_limited``, or
delivered != expected) still prints its results, and exits 7.

Modules: ``wire`` (marker and messages), ``certs`` (client certificates),
``clients`` (one connection), ``worker`` (a worker process), ``messages``
(what coordinator and workers say), ``pool`` (the coordinator's side),
``spawn`` (``--spawn`` and /proc), ``scenarios`` (the runs), ``report``
(table and JSON), ``progress`` (the stderr line), ``errors``; ``storm``
(the failover storm's reconnecting clients, run by tools/storm.py).
"""
