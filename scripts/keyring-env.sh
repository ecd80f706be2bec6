#!/usr/bin/env bash
# keyring-env.sh CMD [ARGS...]
#
# Runs CMD inside a fresh, isolated D-Bus session bus with an unlocked gnome-keyring Secret
# Service on it, then stops both and removes their temporary directory. Exits with CMD's
# status. The user's own bus and keyring are never touched: DBUS_SESSION_BUS_ADDRESS,
# XDG_RUNTIME_DIR and XDG_DATA_HOME point into the temporary directory for CMD.
#
# Needs dbus-daemon and gnome-keyring-daemon (Debian packages dbus and gnome-keyring); as root
# it installs them when missing. The keyring's password is random and never printed.
set -euo pipefail

readonly START_TIMEOUT_TENTHS=150 # 15 s
readonly PACKAGES=(dbus gnome-keyring)

log() { printf 'keyring-env: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

if [[ $# -eq 0 ]]; then
	printf 'usage: %s CMD [ARGS...]\n' "${0##*/}" >&2
	exit 2
fi

missing=()
for bin in dbus-daemon dbus-send gnome-keyring-daemon; do
	command -v "$bin" >/dev/null 2>&1 || missing+=("$bin")
done
if ((${#missing[@]} > 0)); then
	if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
		log "installing ${PACKAGES[*]} (missing: ${missing[*]})"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update >&2
		apt-get install -y --no-install-recommends "${PACKAGES[@]}" >&2
	else
		die "missing ${missing[*]}: install them with: sudo apt-get install -y --no-install-recommends ${PACKAGES[*]}"
	fi
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/keyring-env.XXXXXX")
bus_pid=""
keyring_pid=""

# shellcheck disable=SC2317 # reached through the EXIT trap
stop() { # stop PID: TERM, then KILL after 3 s; reap it
	local pid=$1 i
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 30; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
	local status=$?
	trap - EXIT INT TERM HUP
	stop "$keyring_pid"
	stop "$bus_pid"
	rm -rf -- "$tmp"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -m 700 "$tmp/run" "$tmp/data"
sock="$tmp/run/bus"
# A session bus without service directories: nothing gets auto-activated (a stopped keyring
# stays stopped, no prompter appears) and nothing of the host's session leaks in.
cat >"$tmp/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:path=$sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF

export XDG_RUNTIME_DIR="$tmp/run"
export XDG_DATA_HOME="$tmp/data"

# --nofork keeps the daemons our children, so we can stop and reap them by PID.
dbus-daemon --config-file="$tmp/bus.conf" --nofork --print-address=3 3>"$tmp/address" 2>"$tmp/dbus-daemon.log" &
bus_pid=$!
for ((i = 0; ; i++)); do
	[[ -s $tmp/address ]] && break
	kill -0 "$bus_pid" 2>/dev/null || die "dbus-daemon exited: $(cat "$tmp/dbus-daemon.log")"
	((i < START_TIMEOUT_TENTHS)) || die "dbus-daemon did not start"
	sleep 0.1
done
DBUS_SESSION_BUS_ADDRESS=$(head -n 1 "$tmp/address")
export DBUS_SESSION_BUS_ADDRESS

# A non-empty password, or gnome-keyring creates no default collection. It goes to the
# daemon's stdin only; it is not exported and not printed.
password=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf %s "$password" |
	gnome-keyring-daemon --foreground --unlock --components=secrets >"$tmp/gnome-keyring.log" 2>&1 &
keyring_pid=$! # the pipeline's last command: the daemon
unset password

# --unlock returns before the daemon owns org.freedesktop.secrets: wait for the name.
for ((i = 0; ; i++)); do
	if reply=$(dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets 2>/dev/null); then
		read -r _ owner <<<"$reply" # "uint32 PID"
		[[ $owner == "$keyring_pid" ]] || die "org.freedesktop.secrets is owned by pid $owner, not our gnome-keyring-daemon ($keyring_pid)"
		break
	fi
	kill -0 "$keyring_pid" 2>/dev/null || die "gnome-keyring-daemon exited: $(cat "$tmp/gnome-keyring.log")"
	((i < START_TIMEOUT_TENTHS)) || die "org.freedesktop.secrets did not appear on the bus"
	sleep 0.1
done

# CMD runs in the background (stdin passed on explicitly) so that a TERM, INT or HUP sent to
# this script reaches it at once and the cleanup still runs after it ends.
"$@" <&0 &
cmd_pid=$!
trap 'kill -TERM "$cmd_pid" 2>/dev/null || true' TERM
trap 'kill -INT "$cmd_pid" 2>/dev/null || true' INT
trap 'kill -HUP "$cmd_pid" 2>/dev/null || true' HUP
set +e
while :; do
	wait "$cmd_pid"
	status=$?
	kill -0 "$cmd_pid" 2>/dev/null || break # else wait was interrupted by a trapped signal
done
set -e
exit "$status"
