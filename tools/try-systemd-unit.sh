#!/usr/bin/env bash
# Try contrib/systemd/ under a real systemd, on a machine where systemd is not
# (or is) running: systemd becomes PID 1 of private PID, mount, UTS and IPC
# namespaces, with /etc and /var as overlays on a tmpfs, so that nothing on
# the machine changes. realtimechat is installed in /opt/realtimechat with pip,
# as docs/operations.md says (from this checkout; pip needs its registry).
# The network is the machine's: the server listens on port 9644.
#
#   sudo tools/try-systemd-unit.sh     # each check on a line; exit 0 if all passed
#
# docs/operations.md, "The sandbox", says what it showed. Needs root, unshare,
# nsenter, overlayfs, openssl and /usr/bin/python3 with venv.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PORT=9644

if [ "${1:-}" = "--inside" ]; then
  # PID 1 to be: set the stage, then become systemd.
  pki=$2
  mount --make-rprivate /
  mount -t tmpfs tmpfs /run
  mkdir -p /run/ovl/etc/upper /run/ovl/etc/work /run/ovl/var/upper /run/ovl/var/work /run/trial
  mount -t overlay overlay -o lowerdir=/etc,upperdir=/run/ovl/etc/upper,workdir=/run/ovl/etc/work /etc
  mount -t overlay overlay -o lowerdir=/var,upperdir=/run/ovl/var/upper,workdir=/run/ovl/var/work /var
  cp -r "$pki" /run/trial/pki
  for dir in /tmp /var/tmp /var/log /opt; do mount -t tmpfs tmpfs "$dir"; done
  mount -t proc proc /proc
  # docs/operations.md, Install
  systemd-sysusers "$REPO/contrib/systemd/rtchat.sysusers.conf"
  install -m 0644 "$REPO"/contrib/systemd/*.service "$REPO"/contrib/systemd/*.timer /etc/systemd/system/
  install -d -m 0755 /etc/rtchat
  install -o rtchat -g rtchat -m 0600 /run/trial/pki/server/* /etc/rtchat/
  echo "RTCHAT_SERVER_PORT=$PORT" > /etc/rtchat/rtchat-server.env
  cp -r /run/trial/pki/ca /var/lib/rtchat-ca
  printf '[Unit]\nDefaultDependencies=no\nWants=systemd-journald.socket systemd-journald.service\n' \
    > /etc/systemd/system/rtchat-trial.target
  export container=other
  exec /lib/systemd/systemd --system --unit=rtchat-trial.target --show-status=no
fi

[ "$(id -u)" -eq 0 ] || { echo "$0: run as root (namespaces, mounts)" >&2; exit 2; }
work=$(mktemp -d)
certs() { "$REPO/.venv/bin/rtchat-certs" "$@" >/dev/null; }
certs init --dir "$work/ca" --cn chatserver --san 127.0.0.1
certs issue alice --dir "$work/ca"
certs server-bundle --dir "$work/ca" --out "$work/server"
setsid unshare --pid --fork --mount --uts --ipc "$0" --inside "$work" >"$work/boot.log" 2>&1 &
outer=$!
pid=""
stop() {  # end the private systemd (and with it everything in its namespace)
  if [ -n "$pid" ]; then
    nsenter -t "$pid" -m -p systemctl exit >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
  else
    kill "$outer" 2>/dev/null || true
  fi
  wait "$outer" 2>/dev/null || true
  rm -rf "$work"
}
trap stop EXIT
for _ in $(seq 100); do
  pid=$(pgrep -P "$outer" -x systemd || true)
  [ -n "$pid" ] && nsenter -t "$pid" -m -p systemctl is-system-running --wait >/dev/null 2>&1 && break
  sleep 0.1
done
[ -n "$pid" ] || { echo "systemd did not start:"; cat "$work/boot.log"; exit 1; }
ns() { nsenter -t "$pid" -m -p -u -i "$@"; }
show() { ns systemctl show -p "$2" --value "$1"; }
failed=0
check() {  # check WHAT COMMAND...: OK or FAIL, and go on
  local what=$1; shift
  if "$@" >"$work/last.log" 2>&1; then echo "OK   $what"; else echo "FAIL $what"; sed 's/^/     /' "$work/last.log"; failed=1; fi
}
welcome() {  # one TLS connection as alice, inside: the welcome's name
  ns /opt/realtimechat/bin/python - <<EOF
import socket
from pathlib import Path
from realtimechat.protocol import PROTOCOL_VERSION, FrameDecoder, Hello, Welcome, encode
from realtimechat.tls import ClientFiles, client_context
ca = Path("/run/trial/pki/ca")
files = ClientFiles(cert=ca / "clients/alice.crt", key=ca / "clients/alice.key", ca=ca / "ca.crt")
with socket.create_connection(("127.0.0.1", $PORT), timeout=10) as raw:
    with client_context(files).wrap_socket(raw, server_hostname="chatserver") as tls:
        tls.sendall(encode(Hello(v=PROTOCOL_VERSION)))
        decoder = FrameDecoder.for_client()
        for _ in range(100):
            welcomes = [f for f in decoder.feed(tls.recv(65536)) if isinstance(f, Welcome)]
            if welcomes:
                assert welcomes[0].name == "alice"
                break
        else:
            raise SystemExit("no welcome")
EOF
}
journal_has() { ns journalctl --no-pager -u "$1" | grep -q -- "$2"; }
restarted() {  # the watchdog restarts a server that stopped answering
  for _ in $(seq 100); do [ "$(show rtchat-server NRestarts)" = 1 ] && return 0; sleep 0.1; done
  return 1
}

check "pip install into /opt/realtimechat" \
  ns sh -c "/usr/bin/python3 -m venv /opt/realtimechat && /opt/realtimechat/bin/pip install -q '$REPO'"
check "systemd-analyze verify" ns systemd-analyze verify /etc/systemd/system/rtchat-server.service \
  /etc/systemd/system/rtchat-certs-renew.service /etc/systemd/system/rtchat-certs-renew.timer
check "systemctl start (returns on READY=1)" ns systemctl start rtchat-server
check "STATUS= says where it listens" bash -c "[[ \"\$(nsenter -t $pid -m -p systemctl show -p StatusText --value rtchat-server)\" == 'listening on '* ]]"
main=$(show rtchat-server MainPID)
check "runs as rtchat, no capabilities, NoNewPrivs, seccomp" ns sh -c \
  "grep -q '^Uid:.*$(ns id -u rtchat)' /proc/$main/status && grep -q '^CapEff:.*0000000000000000' /proc/$main/status && grep -q '^NoNewPrivs:.*1' /proc/$main/status && grep -q '^Seccomp:.*2' /proc/$main/status"
check "a client is welcomed" welcome
check "systemctl reload" ns systemctl reload rtchat-server
check "the journal has the reload" journal_has rtchat-server "INFO TLS reloaded"
check "journalctl -p warning has no info line" sh -c "! nsenter -t $pid -m -p journalctl --no-pager -q -u rtchat-server -p warning | grep -q INFO"
check "a server certificate with 10 days left, in the CA folder" \
  ns /opt/realtimechat/bin/rtchat-certs server-cert --dir /var/lib/rtchat-ca --force --days 10
check "renewal: a certificate with 10 days left is renewed and installed" ns sh -c \
  "systemctl start rtchat-certs-renew.service && openssl x509 -checkend 2592000 -noout -in /etc/rtchat/server.crt"
check "renewal: the server reloaded it" sh -c "[ \$(nsenter -t $pid -m -p journalctl --no-pager -u rtchat-server | grep -c 'TLS reloaded') -ge 2 ]"
check "a client is welcomed after the renewal" welcome
check "systemctl stop: exit 0" sh -c "nsenter -t $pid -m -p systemctl stop rtchat-server && [ \"\$(nsenter -t $pid -m -p systemctl show -p Result --value rtchat-server)\" = success ]"
check "start again with WatchdogSec=2s (a drop-in)" ns sh -c 'mkdir -p /etc/systemd/system/rtchat-server.service.d && printf "[Service]\nWatchdogSec=2s\n" > /etc/systemd/system/rtchat-server.service.d/watchdog.conf && systemctl daemon-reload && systemctl start rtchat-server'
sleep 3  # more than the watchdog's 2 s, pinged all along: no restart
check "the watchdog is pinged" sh -c "[ \"\$(nsenter -t $pid -m -p systemctl show -p NRestarts --value rtchat-server)\" = 0 ]"
ns kill -STOP "$(show rtchat-server MainPID)" || true
check "a server that stops answering is restarted by the watchdog" restarted
exit "$failed"
