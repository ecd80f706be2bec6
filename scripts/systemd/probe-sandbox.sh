#!/usr/bin/env bash
# probe-sandbox.sh PID1 USER TREE FAKE_LOG
#
# Called by ../systemd-test.sh --probe-sandbox with the container's PID 1, the test user,
# the container's root directory and the fake endpoint's log, while the lwtoken-helperd user service is installed and
# running. For each candidate sandboxing directive (or group) it adds a drop-in, restarts
# the service and records: does it start, does `get` work (after forcing a fresh mint, so
# the network path is used too), did the daemon read its stored token from the Secret
# Service over the session bus, does the service run in its own user, mount and network
# namespace (else a namespace directive was silently ignored). Then it repeats the decisive
# cases with user namespaces forbidden to the user manager (RestrictNamespaces=~user on
# user@UID.service), as on systems where unprivileged user namespaces are disabled or
# restricted. Prints one line per case; exits 0 unless the probe itself broke.
set -euo pipefail

pid1=$1 user=$2 tree=$3 fake_log=$4
uid=$(nsenter -t "$pid1" -a -- id -u "$user")
unit=lwtoken-helperd
home=/home/$user
dropdir=$home/.config/systemd/user/$unit.service.d
env_=("HOME=$home" "USER=$user" "PATH=/usr/local/bin:/usr/bin:/bin" "XDG_RUNTIME_DIR=/run/user/$uid"
	"DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/$uid/bus")
as_user() { nsenter -t "$pid1" -a -- runuser -u "$user" -- env -i "${env_[@]}" "$@"; }
in_ct() { nsenter -t "$pid1" -a -- "$@"; }

probe() { # probe "Directive=value;Directive=value"
	local spec=$1 d since pid res get kr ns mnt net warn before
	mkdir -p "$tree$dropdir"
	{
		echo "[Service]"
		tr ';' '\n' <<<"$spec"
	} >"$tree$dropdir/probe.conf"
	in_ct chown -R "$user:" "$home/.config/systemd"
	as_user systemctl --user daemon-reload
	since=$(in_ct date +%s.%N)
	sleep 0.01
	if ! as_user timeout 20 systemctl --user restart "$unit" >/dev/null 2>&1; then
		res=$(as_user systemctl --user show -p Result,ExecMainStatus --value "$unit" | tr '\n' ' ')
		d=$(as_user journalctl --user --no-pager -o cat -u "$unit" --since "@$since" |
			grep -Ei 'failed to|read-only|error:' | grep -v '^Failed to start' | head -n 1 | cut -c1-110)
		printf '%-58s FAILS TO START (%s) %s\n' "$spec" "${res% }" "$d"
		return
	fi
	pid=$(as_user systemctl --user show -p MainPID --value "$unit")
	# 23h59m59s: more than a cached token more than a second old has left, so the daemon
	# mints over the network.
	sleep 1.1
	before=$(grep -c ' issued token ' "$fake_log" || true)
	if as_user lwtoken-helper get --min-ttl 86399s >/dev/null 2>&1; then get="get-ok"; else get="GET-FAILS"; fi
	(($(grep -c ' issued token ' "$fake_log" || true) > before)) && get+="+minted" || get+="+NOT-MINTED"
	kr=$(as_user journalctl --user --no-pager -o cat -u "$unit" --since "@$since" | grep -c 'token loaded from keyring' || true)
	((kr > 0)) && kr=keyring-ok || kr=KEYRING-NOT-READ
	# shellcheck disable=SC2016 # awk's own $1
	ns=$(in_ct awk '{print ($1 == 0 && $3 == 4294967295) ? "host-userns" : "own-userns"}' "/proc/$pid/uid_map")
	if [[ $(in_ct readlink "/proc/$pid/ns/mnt") == "$(in_ct readlink /proc/1/ns/mnt)" ]]; then mnt=host-mntns; else mnt=own-mntns; fi
	warn=$(as_user journalctl --user --no-pager -o cat -u "$unit" --since "@$since" | grep -E 'level=(WARN|ERROR)' | head -n 1 | cut -c1-80 || true)
	if [[ $(in_ct readlink "/proc/$pid/ns/net") == "$(in_ct readlink /proc/1/ns/net)" ]]; then net=host-netns; else net=own-netns; fi
	printf '%-58s starts, %s, %s, %s, %s, %s%s\n' "$spec" "$get" "$kr" "$ns" "$mnt" "$net" "${warn:+, $warn}"
}

cases=(
	"NoNewPrivileges=yes" # a no-op case: the shipped unit as is
	"ProtectSystem=strict"
	"PrivateTmp=yes"
	"ProtectHome=read-only"
	"PrivateUsers=yes"
	"PrivateUsers=yes;ProtectSystem=strict"
	"PrivateUsers=yes;PrivateTmp=yes"
	"PrivateUsers=yes;ProtectHome=read-only"
	"PrivateUsers=yes;ProtectHome=read-only;RuntimeDirectory=lwtoken-helper"
	"PrivateUsers=yes;PrivateDevices=yes"
	"PrivateUsers=yes;ProtectKernelTunables=yes"
	"PrivateUsers=yes;ProtectKernelModules=yes"
	"PrivateUsers=yes;ProtectKernelLogs=yes"
	"PrivateUsers=yes;ProtectControlGroups=yes"
	"PrivateUsers=yes;ProtectClock=yes"
	"PrivateUsers=yes;ProtectHostname=yes"
	"PrivateUsers=yes;ProtectProc=invisible"
	"PrivateUsers=yes;ProcSubset=pid"
	"PrivateUsers=yes;PrivateIPC=yes"
	"PrivateUsers=yes;PrivateNetwork=yes"
	"CapabilityBoundingSet="
	"RemoveIPC=yes"
	"KeyringMode=private"
	# The opt-in drop-in of docs/service.md, as a whole.
	"PrivateUsers=yes;ProtectSystem=strict;ProtectHome=read-only;RuntimeDirectory=lwtoken-helper;RuntimeDirectoryMode=0700;PrivateTmp=yes;PrivateDevices=yes;ProtectKernelTunables=yes;ProtectKernelModules=yes;ProtectControlGroups=yes"
)
echo "--- sandbox probe: systemd $(in_ct systemctl --version | head -n1 | cut -d' ' -f2), kernel $(uname -r)"
for c in "${cases[@]}"; do probe "$c"; done

echo "--- the same with user namespaces forbidden to the user manager (RestrictNamespaces=~user)"
mkdir -p "$tree/etc/systemd/system/user@$uid.service.d"
printf '[Service]\nRestrictNamespaces=~user\n' >"$tree/etc/systemd/system/user@$uid.service.d/probe-nouserns.conf"
restart_user_manager() {
	in_ct systemctl daemon-reload
	in_ct systemctl restart "user@$uid.service"
	for _ in $(seq 100); do in_ct test -S "/run/user/$uid/bus" && break; sleep 0.1; done
	# The session bus was restarted: bring the Secret Service back onto it.
	in_ct pkill -u "$user" -x gnome-keyring-d || true
	# shellcheck disable=SC2016 # expanded by the user's shell
	as_user sh -c 'gnome-keyring-daemon --unlock --components=secrets <"$HOME/.keyring-password" >/dev/null'
	for _ in $(seq 100); do
		as_user dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
			org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets >/dev/null 2>&1 && break
		sleep 0.1
	done
}
restart_user_manager
for c in "NoNewPrivileges=yes" "ProtectSystem=strict" "PrivateUsers=yes" "PrivateUsers=yes;ProtectSystem=strict"; do probe "$c"; done

rm -f "$tree/etc/systemd/system/user@$uid.service.d/probe-nouserns.conf" "$tree$dropdir/probe.conf"
rmdir "$tree$dropdir" "$tree/etc/systemd/system/user@$uid.service.d" 2>/dev/null || true
restart_user_manager
as_user systemctl --user start "$unit"
echo "--- end of the sandbox probe"
