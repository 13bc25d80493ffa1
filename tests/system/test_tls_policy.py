"""The TLS policy, checked from outside: sslyze against a real server, and legacy clients.

sslyze pins an old ``cryptography``, so it never goes into the project's
venv: ``make test`` builds ``build/sslyze-venv`` (git-ignored) from
requirements/sslyze.txt, pinned with hashes, before the tests start; the
tests never install anything. A missing sslyze is an error, never a skip:
this check must run in CI.

What is asserted, and why each fact matters, is in docs/security.md
("TLS configuration and findings").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest
from cryptography import x509

from realtimechat import sslctx
from realtimechat.pki import init_ca, issue_client
from realtimechat.protocol import Hello, Welcome
from realtimechat.server.app import ChatServer
from realtimechat.tls import (
    KEY_EXCHANGE_GROUPS,
    ClientFiles,
    _set_groups,
    client_context,
    server_context,
)

from ..support import (
    ACCEPTED_GROUPS,
    LISTENING,
    NO_SSL_CTX,
    REPO,
    WAIT,
    MemoryTLS,
    Pki,
    RawPeer,
    ServerFactory,
    eventually,
    needs_ssl_ctx,
    port_of,
    wait_for_log,
)

# requirements/sslyze.in names the one version; sslyze.txt pins it and its dependencies.
SSLYZE_VERSION: Final = (
    (REPO / "requirements" / "sslyze.in").read_text().strip().removeprefix("sslyze==")
)
SSLYZE_VENV: Final = REPO / "build" / "sslyze-venv"
BIN: Final = Path(sys.executable).parent

# Mozilla "intermediate" allows a server certificate of at most this many
# days. A longer-lived one is known deviation 1 in docs/security.md, the
# only finding the scan may report.
MOZILLA_MAX_LIFESPAN_DAYS: Final = 366

# The AEAD suites, by IANA name, that the policy allows.
TLS13_SUITES: Final = frozenset(
    {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}
)
TLS12_SUITE: Final = re.compile(
    r"TLS_ECDHE_(ECDSA|RSA)_WITH_(AES_128_GCM_SHA256|AES_256_GCM_SHA384|CHACHA20_POLY1305_SHA256)"
)

# Bounds for every subprocess (seconds).
SSLYZE_TIMEOUT: Final = 180
STOP_TIMEOUT: Final = 10


# -- sslyze in its own virtualenv ---------------------------------------------------------


def _clean_env() -> dict[str, str]:
    """The environment without anything that would make a venv see another one."""
    return {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}
    }


@pytest.fixture(scope="session")
def sslyze() -> Path:
    """The sslyze command of build/sslyze-venv, which ``make test`` builds first."""
    command = SSLYZE_VENV / "bin" / "sslyze"
    if not command.is_file():
        pytest.fail(f"{command} is missing: 'make sslyze' builds it (make test does)")
    shown = subprocess.run(
        [str(command), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_clean_env(),
        check=False,
    )
    assert f"SSLyze version {SSLYZE_VERSION}" in shown.stdout, shown.stdout + shown.stderr
    return command


# -- a real rtchat-server subprocess --------------------------------------------------------


@contextlib.contextmanager
def rtchat_server(pki_root: Path, folder: Path) -> Iterator[tuple[int, Path]]:
    """Run rtchat-server on 127.0.0.1, port 0; yield its port and its log file."""
    log = folder / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                str(BIN / "rtchat-server"),
                *("--host", "127.0.0.1", "--port", "0"),
                *("--pki", str(pki_root), "--data", str(folder / "data")),
            ],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
        )
    try:
        yield int(wait_for_log(process, log, LISTENING).group(1)), log
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)


@dataclass(frozen=True)
class Scan:
    """What one sslyze run said about one server."""

    returncode: int
    stdout: str
    result: dict[str, Any]  # server_scan_results[0] of the JSON output
    findings: dict[str, str]  # Mozilla "intermediate" issues, by sslyze's key
    compliant: bool
    server_log: str

    def command(self, name: str) -> dict[str, Any]:
        """The result of one scan command, which must have completed."""
        attempt = self.result["scan_result"][name]
        assert attempt["status"] == "COMPLETED", (name, attempt)
        outcome: dict[str, Any] = attempt["result"]
        return outcome


def _mozilla_verdict(stdout: str, target: str) -> tuple[bool, dict[str, str]]:
    """Read sslyze's compliance section (it is printed, not in the JSON)."""
    lines = stdout.splitlines()
    verdicts = [i for i, line in enumerate(lines) if line.strip().startswith(f"{target}: ")]
    assert len(verdicts) == 1, f"no compliance verdict for {target} in:\n{stdout}"
    verdict = lines[verdicts[0]].strip()
    if verdict == f"{target}: OK - Compliant.":
        return True, {}
    assert verdict == f"{target}: FAILED - Not compliant.", verdict
    findings = {}
    for line in lines[verdicts[0] + 1 :]:
        found = re.fullmatch(r"\s+\* (\w+): (.*)", line)
        if found is None:
            break
        findings[found.group(1)] = found.group(2)
    assert findings, f"not compliant, yet no finding listed:\n{stdout}"
    return False, findings


def run_sslyze(sslyze: Path, pki_root: Path, client: ClientFiles, folder: Path) -> Scan:
    """Start a real server from the CA folder ``pki_root`` and scan it, as ``client``."""
    folder.mkdir(parents=True, exist_ok=True)
    json_out = folder / "sslyze.json"
    with rtchat_server(pki_root, folder) as (port, log):
        target = f"127.0.0.1:{port}"
        done = subprocess.run(
            [
                str(sslyze),
                "--quiet",
                *("--cert", str(client.cert), "--key", str(client.key)),
                # Our clients trust our CA, not the public roots: validate against it.
                *("--certinfo_ca_file", str(client.ca)),
                "--mozilla_config=intermediate",
                *("--json_out", str(json_out)),
                target,
            ],
            capture_output=True,
            text=True,
            timeout=SSLYZE_TIMEOUT,
            env=_clean_env(),
            check=False,
            cwd=folder,
        )
        server_log = log.read_text()
    assert json_out.is_file(), f"sslyze wrote no JSON:\n{done.stdout}\n{done.stderr}"
    document = json.loads(json_out.read_text())
    (result,) = document["server_scan_results"]
    # sslyze exits 0 when it could not connect at all: never trust the status alone.
    assert result["connectivity_status"] == "COMPLETED", result["connectivity_error_trace"]
    assert result["scan_status"] == "COMPLETED", result
    compliant, findings = _mozilla_verdict(done.stdout, target)
    return Scan(done.returncode, done.stdout, result, findings, compliant, server_log)


@pytest.fixture(scope="module")
def scan(sslyze: Path, tmp_path_factory: pytest.TempPathFactory) -> Scan:
    """sslyze against a server whose certificate follows Mozilla's lifespan (365 days)."""
    folder = tmp_path_factory.mktemp("sslyze-365")
    root = folder / "ca"
    init_ca(root, "chatserver", ["localhost", "127.0.0.1"], server_days=365)
    issue_client(root, "scanner")
    client = ClientFiles(
        cert=root / "clients" / "scanner.crt",
        key=root / "clients" / "scanner.key",
        ca=root / "ca.crt",
    )
    return run_sslyze(sslyze, root, client, folder / "scan")


@pytest.fixture(scope="module")
def default_scan(sslyze: Path, pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Scan:
    """sslyze against a server with the test PKI, made with init_ca's defaults."""
    folder = tmp_path_factory.mktemp("sslyze-default")
    return run_sslyze(sslyze, pki.folder.root, pki.client("alice"), folder)


def lifespan_days(certificate: Path) -> int:
    cert = x509.load_pem_x509_certificate(certificate.read_bytes())
    return (cert.not_valid_after_utc - cert.not_valid_before_utc).days


# -- the sslyze checks ------------------------------------------------------------------------

# The first test also builds the venv (pip) and runs a scan.
slow_sslyze = pytest.mark.timeout(2 * SSLYZE_TIMEOUT)


@slow_sslyze
def test_mozilla_intermediate_passes(scan: Scan) -> None:
    """With a certificate of at most 366 days, sslyze finds the server Mozilla-intermediate."""
    assert scan.findings == {}
    assert scan.compliant, scan.stdout
    assert scan.returncode == 0, scan.stdout


@slow_sslyze
def test_default_certificates_deviate_only_in_lifespan(default_scan: Scan, pki: Pki) -> None:
    """With init_ca's default certificates, the only Mozilla finding is the known lifespan one."""
    days = lifespan_days(pki.folder.server_cert)
    expected = (
        {
            "maximum_certificate_lifespan": (
                f"Certificate life span is {days} days,"
                f" should be less than {MOZILLA_MAX_LIFESPAN_DAYS}."
            )
        }
        if days > MOZILLA_MAX_LIFESPAN_DAYS
        else {}
    )
    assert default_scan.findings == expected, (
        "Mozilla findings changed: fix them, or record a deviation in docs/security.md and here"
    )
    assert default_scan.returncode == (1 if expected else 0), default_scan.stdout


@slow_sslyze
def test_scan_presented_the_client_certificate(scan: Scan) -> None:
    """The scan ran as a trusted client: TLS 1.2 handshakes, which need it, succeeded."""
    credentials = scan.result["network_configuration"]["tls_client_auth_credentials"]
    assert credentials is not None
    assert credentials["certificate_chain_path"].endswith("scanner.crt")
    assert scan.command("tls_1_2_cipher_suites")["accepted_cipher_suites"]
    # The scan's refused probes reached the server and were logged with reasons.
    assert 'reason="TLS version too old (1.2 or newer required)"' in scan.server_log


@slow_sslyze
@pytest.mark.parametrize(
    "command",
    [
        "ssl_2_0_cipher_suites",
        "ssl_3_0_cipher_suites",
        "tls_1_0_cipher_suites",
        "tls_1_1_cipher_suites",
    ],
)
@pytest.mark.protocol("1")
def test_no_ssl_or_tls_below_1_2(scan: Scan, command: str) -> None:
    """SSL 2/3 and TLS 1.0/1.1 are not offered: sslyze has no suite accepted."""
    outcome = scan.command(command)
    assert outcome["is_tls_version_supported"] is False
    assert outcome["accepted_cipher_suites"] == []


@slow_sslyze
@pytest.mark.protocol("1")
def test_tls_1_3_is_supported_with_aead_suites(scan: Scan) -> None:
    """TLS 1.3 is offered, with the three AEAD suites."""
    outcome = scan.command("tls_1_3_cipher_suites")
    assert outcome["is_tls_version_supported"] is True
    names = {accepted["cipher_suite"]["name"] for accepted in outcome["accepted_cipher_suites"]}
    assert names == TLS13_SUITES


@slow_sslyze
@pytest.mark.protocol("1")
def test_tls_1_2_offers_only_ecdhe_with_aead(scan: Scan) -> None:
    """TLS 1.2 accepts only ECDHE with AES-GCM or ChaCha20-Poly1305, on X25519 or P-256."""
    outcome = scan.command("tls_1_2_cipher_suites")
    assert outcome["is_tls_version_supported"] is True
    accepted = outcome["accepted_cipher_suites"]
    names = [suite["cipher_suite"]["name"] for suite in accepted]
    assert names
    assert [name for name in names if not TLS12_SUITE.fullmatch(name)] == []
    assert {suite["ephemeral_key"]["curve_name"] for suite in accepted} <= {"X25519", "secp256r1"}


@slow_sslyze
def test_only_the_chosen_key_exchange_groups_are_accepted(scan: Scan) -> None:
    """The server accepts exactly X25519 and P-256 (KEY_EXCHANGE_GROUPS), or P-256 on a fallback."""
    assert KEY_EXCHANGE_GROUPS == "X25519:P-256"  # sslyze calls P-256 secp256r1
    outcome = scan.command("elliptic_curves")
    assert {curve["name"] for curve in outcome["supported_curves"]} == ACCEPTED_GROUPS
    rejected = {curve["name"] for curve in outcome["rejected_curves"]}
    assert {"X448", "secp384r1", "secp521r1"} <= rejected


@needs_ssl_ctx
def test_groups_are_set_through_openssl_itself() -> None:
    """The groups reach the context's own SSL_CTX; a bad list is refused (no fallback hides)."""
    context, native = sslctx.create(ssl.PROTOCOL_TLS_SERVER)
    assert isinstance(native, sslctx.NativeContext)
    assert _set_groups(context, native, "X25519:P-256")
    assert not _set_groups(context, native, "no-such-group")


@needs_ssl_ctx
@pytest.mark.parametrize(
    ("client_group", "accepted"),
    [("X25519", True), ("prime256v1", True), ("X448", False), ("secp384r1", False)],
)
def test_the_server_context_accepts_only_its_groups(
    pki: Pki, client_group: str, accepted: bool
) -> None:
    """In memory, without sslyze: a client offering only one group connects iff it is ours."""
    files = pki.client("alice")
    client, native = sslctx.create(ssl.PROTOCOL_TLS_CLIENT)
    assert _set_groups(client, native, client_group)  # 3.11.2 set_ecdh_curve refuses X25519
    client.load_verify_locations(files.ca)
    client.load_cert_chain(files.cert, files.key)
    pair = MemoryTLS.joining(server_context(pki.server), client)
    if accepted:
        pair.handshake()
        assert pair.server.version() == "TLSv1.3"
    else:
        with pytest.raises(ssl.SSLError, match=r"NO_SUITABLE_KEY_SHARE|HANDSHAKE_FAILURE"):
            pair.handshake()


@needs_ssl_ctx
@pytest.mark.parametrize("cache_off", [True, False], ids=["server_context", "control"])
def test_the_session_cache_is_turned_off(pki: Pki, cache_off: bool) -> None:
    """server_context keeps no TLS 1.2 session that ended with close_notify (a control does).

    ``session_stats()["number"]`` is OpenSSL's count of sessions in the
    context's cache: what a client could resume by session ID.
    """
    server = server_context(pki.server)
    if not cache_off:
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(pki.server.cert, pki.server.key)
        server.options |= ssl.OP_NO_TICKET
    client = client_context(pki.client("alice"))
    client.maximum_version = ssl.TLSVersion.TLSv1_2
    pair = MemoryTLS.joining(server, client)
    pair.handshake()
    pair.close()
    assert server.session_stats()["number"] == (0 if cache_off else 1)
    if cache_off:
        assert server.num_tickets == 1  # the one bare TLS 1.3 ticket (tls._refuse_resumption)
        assert server.options & ssl.OP_NO_TICKET


@slow_sslyze
def test_no_compression(scan: Scan) -> None:
    """TLS compression (CRIME) is off."""
    assert scan.command("tls_compression")["supports_compression"] is False


@slow_sslyze
def test_no_insecure_renegotiation(scan: Scan) -> None:
    """Renegotiation is secure (RFC 5746) and a client cannot trigger it at all."""
    outcome = scan.command("session_renegotiation")
    assert outcome["supports_secure_renegotiation"] is True
    assert outcome["is_vulnerable_to_client_renegotiation_dos"] is False
    assert outcome["client_renegotiations_success_count"] == 0


@slow_sslyze
def test_no_known_tls_vulnerabilities(scan: Scan) -> None:
    """Heartbleed, CCS injection and ROBOT are absent; downgrade protection and EMS are on."""
    assert scan.command("heartbleed")["is_vulnerable_to_heartbleed"] is False
    assert scan.command("openssl_ccs_injection")["is_vulnerable_to_ccs_injection"] is False
    assert scan.command("robot")["robot_result"] == "NOT_VULNERABLE_RSA_NOT_SUPPORTED"
    assert scan.command("tls_fallback_scsv")["supports_fallback_scsv"] is True
    assert scan.command("tls_extended_master_secret")["supports_ems_extension"] is True


# -- what the wire cannot show on OpenSSL 3.0 -------------------------------------------------


@pytest.mark.parametrize("side", ["server", "client"])
@pytest.mark.protocol("1")
def test_contexts_carry_the_policy_flags(pki: Pki, side: str) -> None:
    """Both contexts pin no compression and no renegotiation, which the wire cannot show here."""
    # OpenSSL 3.0 refuses client-initiated renegotiation unless asked to, and
    # Python sets OP_NO_COMPRESSION by default: the sslyze scan would pass
    # without our flags. Pin them here, with the rest of the policy.
    context = (
        server_context(pki.server) if side == "server" else client_context(pki.client("alice"))
    )
    assert context.options & ssl.OP_NO_COMPRESSION
    assert context.options & ssl.OP_NO_RENEGOTIATION
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_REQUIRED
    ciphers = context.get_ciphers()
    assert ciphers
    assert [
        c["name"]
        for c in ciphers
        if not (c["protocol"] == "TLSv1.3" or (c["kea"] == "kx-ecdhe" and c["aead"]))
    ] == []


# -- legacy clients ---------------------------------------------------------------------------

LEGACY = [
    pytest.param(ssl.TLSVersion.TLSv1, "TLSv1", id="TLS1.0"),
    pytest.param(ssl.TLSVersion.TLSv1_1, "TLSv1.1", id="TLS1.1"),
]


def legacy_context(version: ssl.TLSVersion, purpose: int) -> ssl.SSLContext:
    """A context that speaks only ``version``, with OpenSSL's security level at 0."""
    context = ssl.SSLContext(purpose)
    with warnings.catch_warnings():
        # Python deprecates these versions; using them is the point here.
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = version
        context.maximum_version = version
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def legacy_client(version: ssl.TLSVersion, files: ClientFiles) -> ssl.SSLContext:
    context = legacy_context(version, ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=files.ca)
    context.load_cert_chain(files.cert, files.key)
    return context


@pytest.mark.parametrize(("version", "name"), LEGACY)
async def test_legacy_client_can_speak_its_version(
    pki: Pki, version: ssl.TLSVersion, name: str
) -> None:
    """Control: on this stack the legacy client really handshakes with its old version."""
    server_context = legacy_context(version, ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(pki.server.cert, pki.server.key)

    async def greet(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    listener = await asyncio.start_server(greet, "127.0.0.1", 0, ssl=server_context)
    try:
        async with asyncio.timeout(WAIT):
            _, writer = await asyncio.open_connection(
                "127.0.0.1",
                listener.sockets[0].getsockname()[1],
                ssl=legacy_client(version, pki.client("alice")),
                server_hostname="chatserver",
            )
        ssl_object = writer.get_extra_info("ssl_object")
        assert ssl_object.version() == name
        writer.transport.abort()
    finally:
        listener.close()
        await listener.wait_closed()


@pytest.mark.parametrize(("version", "name"), LEGACY)
async def test_legacy_client_is_refused_and_logged(
    start_server: ServerFactory,
    pki: Pki,
    server_log: pytest.LogCaptureFixture,
    version: ssl.TLSVersion,
    name: str,
) -> None:
    """A TLS 1.0 or 1.1 client with a valid certificate is refused, with a log line saying why."""
    server = await start_server()
    with pytest.raises((ssl.SSLError, ConnectionError)):
        async with asyncio.timeout(WAIT):
            await asyncio.open_connection(
                "127.0.0.1",
                port_of(server),
                ssl=legacy_client(version, pki.client("alice")),
                server_hostname="chatserver",
            )

    def refusals() -> list[str]:
        return [r.getMessage() for r in server_log.records if r.getMessage().startswith("refused ")]

    await eventually(lambda: bool(refusals()))
    (line,) = refusals()
    assert line.startswith("refused peer=127.0.0.1:")
    assert line.endswith('reason="TLS version too old (1.2 or newer required)"')


# -- who can still connect ------------------------------------------------------------------


async def welcomed(server: ChatServer, context: ssl.SSLContext) -> tuple[str, Welcome]:
    """Connect with ``context``, say hello; the TLS version used and the welcome."""
    async with asyncio.timeout(WAIT):
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port_of(server), ssl=context, server_hostname="chatserver"
        )
    peer = RawPeer(reader, writer)
    try:
        version = writer.get_extra_info("ssl_object").version()
        await peer.send(Hello(v=1))
        return version, await peer.until(Welcome)
    finally:
        peer.close()


def openssl_default_client(files: ClientFiles, version: ssl.TLSVersion) -> ssl.SSLContext:
    """A client with OpenSSL's default groups (X25519 first), like most third-party clients."""
    context = ssl.create_default_context(cafile=str(files.ca))
    context.load_cert_chain(files.cert, files.key)
    context.minimum_version = context.maximum_version = version
    return context


@pytest.mark.parametrize(
    ("version", "name"),
    [(ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")],
)
async def test_our_client_connects_over_tls_1_2_and_1_3(
    server: ChatServer, pki: Pki, version: ssl.TLSVersion, name: str
) -> None:
    """Our own client context, with the default ECDSA P-256 certificates, works over both."""
    context = client_context(pki.client("alice"))
    context.minimum_version = context.maximum_version = version
    used, welcome = await welcomed(server, context)
    assert used == name
    assert welcome.name == "alice"


@pytest.mark.parametrize(
    ("version", "name"),
    [(ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")],
)
async def test_a_client_with_openssl_defaults_connects(
    server: ChatServer, pki: Pki, version: ssl.TLSVersion, name: str
) -> None:
    """A client with OpenSSL's default groups still gets welcome over TLS 1.2 and 1.3."""
    used, welcome = await welcomed(server, openssl_default_client(pki.client("bob"), version))
    assert used == name
    assert welcome.name == "bob"


def test_openssl_s_client_connects_over_tls_1_2_and_1_3(
    cli_server: tuple[int, Path], pki: Pki
) -> None:
    """openssl s_client (the documented way to talk by hand) completes TLS 1.2 and 1.3."""
    port, _ = cli_server
    files = pki.client("carol")
    for option, name in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
        done = subprocess.run(
            [
                "openssl",
                "s_client",
                *("-connect", f"127.0.0.1:{port}", option),
                *("-cert", str(files.cert), "-key", str(files.key), "-CAfile", str(files.ca)),
                *("-verify_return_error", "-verify_hostname", "chatserver", "-ign_eof"),
            ],
            # -ign_eof: read on after our input ends, until the server closes after bye.
            input='{"type":"hello","v":1}\n{"type":"bye"}\n',
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=False,
        )
        assert f"New, {name}," in done.stdout, done.stdout + done.stderr
        assert '"type":"welcome"' in done.stdout.replace(" ", ""), done.stdout + done.stderr


def talk_until_closed(
    context: ssl.SSLContext, port: int, session: ssl.SSLSession | None
) -> ssl.SSLSocket:
    """Handshake (offering ``session``), say hello and bye, read until the server's close_notify."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    tls = context.wrap_socket(raw, server_hostname="chatserver", session=session)
    tls.sendall(b'{"type":"hello","v":1}\n{"type":"bye"}\n')
    received = b""
    while chunk := tls.recv(65536):  # b"" once the server's close_notify has arrived
        received += chunk
    assert b'"type":"welcome"' in received.replace(b" ", b"")
    return tls


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_sessions_are_never_resumed(
    cli_server: tuple[int, Path], pki: Pki, version: ssl.TLSVersion
) -> None:
    """A client offering its last session gets a full handshake, over TLS 1.2 and 1.3 alike.

    The server ends a session with close_notify, which is what keeps an
    OpenSSL session resumable: the first connection here ends that way.
    Over TLS 1.3 the client does get one session ticket (tls.py says why it
    is sent), but the server keeps no session it could resume from.
    """
    if NO_SSL_CTX is not None and version is ssl.TLSVersion.TLSv1_2:
        pytest.skip(f"the session cache cannot be turned off here, TLS 1.2 resumes: {NO_SSL_CTX}")
    port, _ = cli_server
    context = client_context(pki.client("dave"))
    context.minimum_version = context.maximum_version = version
    first = talk_until_closed(context, port, None)
    session = first.session
    first.close()
    assert session is not None
    # The bare TLS 1.3 ticket is sent only where the cache is off (tls._refuse_resumption).
    expected_ticket = version is ssl.TLSVersion.TLSv1_3 and NO_SSL_CTX is None
    assert session.has_ticket is expected_ticket
    again = talk_until_closed(context, port, session)
    try:
        assert again.session_reused is False
    finally:
        again.close()


@pytest.fixture(scope="module")
def cli_server(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """A real rtchat-server with the test PKI, for command-line clients."""
    with rtchat_server(pki.folder.root, tmp_path_factory.mktemp("s_client")) as running:
        yield running
