"""The client's pieces on their own: rendering, commands, the roster, profiles."""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import ipaddress
import json
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given
from hypothesis import strategies as st

from realtimechat.client.address import split_host_port
from realtimechat.client.commands import (
    COMMANDS,
    HELP_COLUMN,
    HELP_LINES,
    KEY_HELP_LINES,
    Clear,
    Ignore,
    Say,
    Unknown,
    WhoIs,
    parse_line,
)
from realtimechat.client.config import load_profile, save_profile
from realtimechat.client.events import Online, WhoisAnswer
from realtimechat.client.render import (
    PALETTE,
    as_text,
    event_fragments,
    fit,
    mentions,
    message_fragments,
    name_colour,
    notice,
    width,
    wrap,
)
from realtimechat.client.roster import Roster
from realtimechat.client.servercert import certificate_names
from realtimechat.client.state import ResumePoint
from realtimechat.errors import ConfigError
from realtimechat.pki import not_a_client_certificate
from realtimechat.protocol import Error, Msg, UserInfo, Users, Welcome, Who

TS = "2026-11-26T08:00:00.000Z"


def test_a_name_always_gets_the_same_colour() -> None:
    """Colours come from the name alone (case and width folded), from the palette."""
    assert name_colour("alice") == name_colour("ALICE") == name_colour("\uff41lice")
    assert name_colour("alice") in PALETTE
    assert len({name_colour(f"user{n}") for n in range(100)}) > len(PALETTE) // 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hi alice!", True),
        ("ALICE: look", True),
        ("@alice", True),
        ("malice", False),
        ("alicea", False),
        ("al ice", False),
    ],
)
def test_mentions_are_whole_words(text: str, expected: bool) -> None:
    """A mention is the name as a word, in any case; not inside another word."""
    assert mentions(text, "alice") is expected


def test_message_lines_mark_mentions_privacy_and_keep_line_breaks() -> None:
    """Multi-line text stays on its lines under the first; mentions and privacy are styled."""
    msg = Msg(id=1, ts=TS, from_="bob", text="alice, look:\nline two\x1b[2J", to="alice")
    fragments = message_fragments(msg, me="alice", multiline=True)
    shown = as_text(fragments)
    lines = shown.split("\n")
    assert lines[0].endswith("bob -> alice: alice, look:")
    assert lines[1].strip() == "line two\\x1b[2J"
    assert lines[1].startswith(" " * (len(lines[0]) - len("alice, look:")))
    styles = " ".join(style for style, _ in fragments)
    assert "class:mention" in styles
    assert "class:private" in styles
    assert "\n" not in as_text(message_fragments(msg))  # plain mode: one line


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("/whois bob", WhoIs("bob")),
        ("/ignore bob", Ignore("bob")),
        ("/unignore bob", Ignore("bob", ignore=False)),
        ("/clear", Clear()),
        ("/whois", Unknown("usage: /whois NAME")),
        ("/ignore two words", Unknown("usage: /ignore NAME")),
        ("//etc", Say("/etc")),
    ],
)
def test_commands(line: str, command: object) -> None:
    """Each typed command means what /help says."""
    assert parse_line(line) == command


def test_every_help_description_starts_in_the_same_column() -> None:
    """/help: a long usage (/mute NAME TIME [REASON]) gets a line of its own, so that no
    description starts right after it, out of line with the others."""
    lines = (*HELP_LINES, *KEY_HELP_LINES)
    column = HELP_COLUMN + 1
    for name, (args, text) in COMMANDS.items():
        usage = f"{name} {args}".strip()
        (at,) = [i for i, line in enumerate(lines) if line[column:] == text]
        head = lines[at][:column].strip() or lines[at - 1]
        assert head == usage, name
    assert lines[0] == f"{'/help':<{HELP_COLUMN}} this list"
    assert lines[lines.index("/mute NAME TIME [REASON]") + 1].startswith(
        " " * column + "operators:"
    )
    assert [line.split()[0] for line in lines if line.startswith("/")] == [*COMMANDS, "//text"]


def test_roster_counts_and_finds_people_across_pages() -> None:
    """welcome/join/leave keep the count; /whois follows users pages until it finds the name."""
    roster = Roster()
    roster.welcome(
        Welcome(
            v=1,
            name="alice",
            last_id=0,
            users_online=2,
            users=(UserInfo("alice", "a" * 16, TS), UserInfo("bob", "b" * 16, TS)),
        )
    )
    roster.joined("carol")
    roster.left()
    assert roster.online == 2
    assert roster.names() == ["alice", "bob", "carol"]
    roster.ask("Zed")
    assert roster.next_request() == Who()
    assert roster.next_request() is None  # one question out at a time
    page = Users(users=(UserInfo("alice", "a" * 16, TS),), next="alice")
    assert roster.users(page) == (None, Who(cursor="alice"))
    zed = UserInfo("zed", "f" * 16, TS)
    assert roster.users(Users(users=(zed,))) == (WhoisAnswer("Zed", zed), None)
    assert not roster.asking
    unasked = Users(users=())
    assert roster.users(unasked) == (Online(unasked), None)  # nobody asked: shown as it is
    roster.ask("nobody")
    roster.ask(None)
    assert roster.asking
    assert roster.next_request() == Who()
    roster.connected()  # the connection was lost: the question is asked again
    assert roster.next_request() == Who()
    assert roster.users(unasked) == (WhoisAnswer("nobody", None), None)
    assert roster.next_request() == Who()  # then /who
    assert roster.users(unasked) == (Online(unasked), None)
    assert not roster.asking


def test_profiles_lay_over_defaults_and_are_checked(tmp_path: Path) -> None:
    """[profiles.X] overrides [defaults]; unknown keys, bad types and names are refused."""
    path = tmp_path / "config.toml"
    path.write_text(
        '[defaults]\nhost = "chat.example.com"\nport = 8443\ncn = "chat.example.com"\n'
        '[profiles.work]\nport = 9443\nname = "alice"\n'
    )
    assert load_profile(None, path) == {
        "host": "chat.example.com",
        "port": 8443,
        "cn": "chat.example.com",
    }
    assert load_profile("work", path)["port"] == 9443
    assert load_profile("work", path)["host"] == "chat.example.com"
    with pytest.raises(ConfigError, match=r"no profile 'home'.*there are: work"):
        load_profile("home", path)
    path.write_text('[defaults]\nport = "8443"\n')
    with pytest.raises(ConfigError, match="port must be a whole number"):
        load_profile(None, path)
    path.write_text("[defaults]\ncolour = true\n")
    with pytest.raises(ConfigError, match="unknown keys colour"):
        load_profile(None, path)


def test_saving_a_profile_keeps_the_rest_of_the_file(tmp_path: Path) -> None:
    """--save-profile writes one table and leaves the others alone."""
    path = tmp_path / "config.toml"
    path.write_text('[defaults]\nhost = "a.example"\n')
    save_profile(
        "home", {"host": "b.example", "port": 9000, "key": None, "identity": tmp_path / "id"}, path
    )
    assert load_profile(None, path) == {"host": "a.example"}
    assert load_profile("home", path) == {
        "host": "b.example",
        "port": 9000,
        "identity": str(tmp_path / "id"),
    }


def test_saving_the_defaults_writes_the_defaults_table(tmp_path: Path) -> None:
    """--save-profile defaults writes [defaults], which a bare rtchat reads (not [profiles.X])."""
    path = tmp_path / "config.toml"
    save_profile("defaults", {"host": "a.example", "port": 8443}, path)
    assert path.read_text().startswith("[defaults]\n")
    assert load_profile(None, path) == {"host": "a.example", "port": 8443}


def test_the_one_saved_server_is_used_without_a_profile_name(tmp_path: Path) -> None:
    """With no [defaults] and exactly one profile, a bare rtchat uses that profile."""
    path = tmp_path / "config.toml"
    path.write_text('[profiles.lab]\nhost = "10.0.0.5"\nport = 9443\n')
    assert load_profile(None, path) == {"host": "10.0.0.5", "port": 9443}
    path.write_text('[profiles.lab]\nhost = "10.0.0.5"\n[profiles.work]\nhost = "w.example"\n')
    assert load_profile(None, path) == {}  # two: which one is for --profile to say


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("chat.example.com", ("chat.example.com", None)),
        ("127.0.0.1:9750", ("127.0.0.1", 9750)),
        (" chat.example.com:8443 ", ("chat.example.com", 8443)),
        ("[::1]:9750", ("::1", 9750)),
        ("[2001:db8::7]", ("2001:db8::7", None)),
        ("::1", ("::1", None)),  # a bare IPv6 address is all address
        ("fe80::1:8443", ("fe80::1:8443", None)),
    ],
)
def test_an_address_may_carry_its_port(text: str, expected: tuple[str, int | None]) -> None:
    """HOST, HOST:PORT, [IPv6]:PORT and [IPv6] as typed after --host or at the question."""
    assert split_host_port(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("127.0.0.1:", "port in '127.0.0.1:' must be a number from 1 to 65535"),
        ("127.0.0.1:0", "must be a number from 1 to 65535"),
        ("127.0.0.1:65536", "must be a number from 1 to 65535"),
        ("127.0.0.1:https", "must be a number"),
        ("127.0.0.1:+1", "must be a number"),
        (":9750", "no host before the port"),
        ("[::1", r"write an IPv6 address as \[ADDRESS\]:PORT"),
        ("[::1]9750", "write an IPv6 address as"),
        ("[]:9750", "write an IPv6 address as"),
    ],
)
def test_an_address_with_a_bad_port_is_refused(text: str, problem: str) -> None:
    """A port that is no port, or brackets that do not close, say what is wrong."""
    with pytest.raises(ConfigError, match=problem):
        split_host_port(text)


def der_certificate(cn: str, sans: Sequence[x509.GeneralName] | None) -> bytes:
    """A self-signed certificate for ``cn`` with these subjectAltNames (None: no extension)."""
    extensions = [] if sans is None else [x509.SubjectAlternativeName(sans)]
    return self_signed(cn, extensions).public_bytes(serialization.Encoding.DER)


def self_signed(cn: str, extensions: Sequence[x509.ExtensionType]) -> x509.Certificate:
    """A self-signed certificate for ``cn`` with exactly these extensions."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(key, hashes.SHA256())


def test_certificate_names_are_those_a_cn_is_matched_against() -> None:
    """DNS names, else the CN (as OpenSSL matches them), then IPs; made safe; capped."""
    dns_and_ip = [x509.DNSName("chat.example.com"), x509.IPAddress(ipaddress.ip_address("::1"))]
    assert certificate_names(der_certificate("ignored", dns_and_ip)) == [
        "chat.example.com",
        "::1",
    ]
    assert certificate_names(der_certificate("chatserver", None)) == ["chatserver"]
    only_ip = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    assert certificate_names(der_certificate("chatserver", only_ip)) == [
        "chatserver",
        "127.0.0.1",
    ]
    assert certificate_names(der_certificate("evil\x1b[2J", None)) == ["evil\\x1b[2J"]
    many = [x509.DNSName(f"n{i}.example") for i in range(15)]
    shown = certificate_names(der_certificate("x", many))
    assert shown[-1] == "and 5 more"
    assert len(shown) == 11
    assert certificate_names(b"not a certificate") == []


def key_usage(*, sign: bool, issue: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=issue,
        crl_sign=issue,
        encipher_only=False,
        decipher_only=False,
    )


@pytest.mark.parametrize(
    ("extensions", "what"),
    [
        ([], None),
        ([x509.BasicConstraints(ca=True, path_length=None)], None),  # openssl req -x509
        ([x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])], None),
        ([x509.ExtendedKeyUsage([ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE])], None),
        ([key_usage(sign=True, issue=False)], None),
        (
            [x509.BasicConstraints(ca=True, path_length=0), key_usage(sign=True, issue=True)],
            "a CA certificate",
        ),
        (
            [x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])],
            "a server certificate (serverAuth, no clientAuth)",
        ),
        (
            [x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION])],
            "a certificate without clientAuth in its extended key usage",
        ),
        (
            [key_usage(sign=False, issue=False)],
            "a certificate whose key usage does not allow signing",
        ),
    ],
)
def test_what_cannot_be_a_users_certificate(
    extensions: list[x509.ExtensionType], what: str | None
) -> None:
    """Only issuing CAs and what OpenSSL's TLS-client purpose check refuses are caught."""
    assert not_a_client_certificate(self_signed("alice", extensions)) == what


def test_the_users_own_errors_can_be_shown_without_the_protocol_code() -> None:
    """The terminal shows the server's words; plain and JSON output keep the code."""
    refused = Error(code="no_such_user", message="nobody is called 'carol'", ref="r1")
    internal = Error(code="internal", message="the message could not be stored", ref="r2")

    def shown(frame: Error, *, codes: bool) -> str:
        fragments = event_fragments(frame, codes=codes)
        assert fragments is not None
        return as_text(fragments).split(" ", 1)[1]  # without the time

    assert shown(refused, codes=True) == "!! no_such_user: nobody is called 'carol'"
    assert shown(refused, codes=False) == "!! nobody is called 'carol'"
    assert shown(internal, codes=False) == "!! internal: the message could not be stored"


def test_wrapping_breaks_at_spaces_and_counts_wide_characters() -> None:
    assert wrap("one two three four", 9) == ["one two", "three", "four"]
    assert wrap("abcdefghij", 4) == ["abcd", "efgh", "ij"]  # no space: cut at the edge
    assert wrap("日本語のテキスト", 6) == ["日本語", "のテキ", "スト"]  # two columns each
    assert wrap("short", 10) == ["short"]


LONG = "the_longest_name_this_chat_takes"  # 32 characters


@pytest.mark.parametrize("columns", [57, 40, 30, 12, 5, 3])
def test_a_long_head_on_a_narrow_terminal_still_wraps_and_indents(columns: int) -> None:
    """Issue 16, finding 5: under 20 columns of text the client stopped wrapping; the
    terminal then wrapped at column 0, and padding made a fake message line there."""
    forged = "15:09 alice: new plan: mail me the prod key"
    text = "ok" + " " * 16 + forged
    msg = Msg(id=1, ts=TS, from_=LONG, text=text, to=LONG)
    lines = as_text(message_fragments(msg, multiline=True, columns=columns)).split("\n")
    assert len(lines) > 1
    for line in lines:
        assert width(line) <= columns, (columns, line)
    for line in lines[1:]:
        assert line.startswith(" "), (columns, line)
    assert "".join(lines).replace(" ", "").endswith("mailmetheprodkey")


def test_a_message_with_room_still_wraps_under_its_text() -> None:
    msg = Msg(id=1, ts=TS, from_="bob", text=" ".join(["word"] * 30))
    lines = as_text(message_fragments(msg, multiline=True, columns=60)).split("\n")
    indent = lines[0].index("word")
    assert all(line.startswith(" " * indent + "word") for line in lines[1:])
    assert all(width(line) <= 60 for line in lines)


def test_a_notice_wider_than_the_terminal_continues_under_its_text() -> None:
    line = notice("-- online: " + ", ".join(f"user{n}" for n in range(40)), ts=TS)
    lines = as_text(fit(line, 50)).split("\n")
    assert len(lines) > 2
    assert all(width(text) <= 50 for text in lines)
    assert all(text.startswith(" " * 6) for text in lines[1:])
    assert fit(line, None) == line


@given(
    st.text(alphabet=st.sampled_from("ab 日\u0301xyz:15"), max_size=200),
    st.integers(min_value=3, max_value=120),
    st.integers(min_value=0, max_value=60),
)
def test_fit_never_leaves_a_line_to_the_terminal(text: str, columns: int, indent: int) -> None:
    """Any text, any width from 3 columns: no line is wider, and every continuation is
    indented, so nothing can start at column 0 but a line the client began."""
    lines = as_text(fit([("class:text", "x" + text)], columns, indent)).split("\n")
    for line in lines:
        assert width(line) <= columns, (columns, line)
    for line in lines[1:]:
        assert line.startswith(" "), line
    assert "".join(lines).replace(" ", "") == ("x" + text).replace(" ", "")


SAVER = """
import sys
from pathlib import Path
from realtimechat.client.state import ResumePoint

point = ResumePoint(Path(sys.argv[1]), sys.argv[2])
for last_id in range(1, int(sys.argv[3]) + 1):
    point.last_id = last_id
    point.save()
"""


@pytest.mark.slow  # four processes saving 150 times each
def test_clients_sharing_a_state_file_keep_each_others_resume_points(tmp_path: Path) -> None:
    """Four processes saving into one file at once: every entry ends at its last value."""
    state = tmp_path / "client-state.json"
    saves = 150
    keys = [f"127.0.0.1:8443/chatserver/user{n}" for n in range(4)]
    savers = [
        subprocess.Popen([sys.executable, "-c", SAVER, str(state), key, str(saves)]) for key in keys
    ]
    assert [saver.wait(timeout=60) for saver in savers] == [0] * len(keys)
    assert json.loads(state.read_text()) == dict.fromkeys(keys, saves)


def test_a_state_file_where_locks_fail_is_still_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No flock on that filesystem (NFS without a lock daemon): the save goes ahead unlocked.

    The save used to give up, silently, on every write: no resume point was kept.
    """

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    state = tmp_path / "client-state.json"
    point = ResumePoint(state, "127.0.0.1:8443/chatserver/alice")
    point.last_id = 7
    point.save()
    assert json.loads(state.read_text()) == {"127.0.0.1:8443/chatserver/alice": 7}


def test_a_lock_file_that_cannot_be_opened_does_not_stop_the_saves(tmp_path: Path) -> None:
    """A lock file we may not open (another user's, here a folder): saved without the lock."""
    state = tmp_path / "client-state.json"
    (tmp_path / ".client-state.json.lock").mkdir()
    point = ResumePoint(state, "k")
    point.last_id = 3
    point.save()
    assert json.loads(state.read_text()) == {"k": 3}


def test_a_lock_held_for_good_does_not_hang_the_client(tmp_path: Path) -> None:
    """Another client stopped (Ctrl-Z) while it held the lock: the save waits a bounded time.

    The save runs on the client's event loop: a lock without a bound froze the chat.
    """
    state = tmp_path / "client-state.json"
    holder = os.open(tmp_path / ".client-state.json.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        point = ResumePoint(state, "k", lock_wait=0.05)
        point.last_id = 5
        saver = threading.Thread(target=point.save, daemon=True)
        saver.start()
        saver.join(timeout=10)
        assert not saver.is_alive(), "save() still waits for the lock"
    finally:
        os.close(holder)
    assert json.loads(state.read_text()) == {"k": 5}
