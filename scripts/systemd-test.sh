#!/usr/bin/env bash
# systemd-test.sh [--probe-sandbox] [--keep]
#
# The real systemd test of `lwtoken-helperd install` and friends. It boots a minimal Debian
# tree with systemd-nspawn (a real systemd as PID 1, a real per-user manager with its
# session bus, a real gnome-keyring Secret Service), and as an ordinary user there: setup,
# install, start, get a token from the fake LINE WORKS endpoint (running on the host's
# loopback, which the container shares), read the STATUS= line, kill -9 the daemon and see
# systemd restart it with the same token, the same after SIGQUIT (exit 2, like a panic), see
# an invalid config (exit 78) fail without a restart loop, check the journal for logs and
# for secrets, run doctor, stop, uninstall. It ends with "N passed, N failed" and exits non-zero on a failure.
#
# Needs root (nspawn, nsenter, cgroups); installs systemd-container, debootstrap and zstd
# when missing. The Debian tree is built once with debootstrap from this machine's
# configured mirror (about 2 minutes) and cached as a tar.zst in $LWTOKEN_CI_CACHE
# (default /var/cache/lwtoken-helper-ci); later runs unpack it in seconds.
#
#   --probe-sandbox  also try systemd sandboxing directives one by one against the running
#                    service and print what works (informational; see docs/service.md)
#   --keep           leave the container running and the work directory in place on exit
#                    (prints how to enter and how to clean up)
# shellcheck disable=SC2015 # `cond && pass NAME || fail NAME ...`: pass never fails
set -euo pipefail
cd "$(dirname "$0")/.."

readonly SUITE=bookworm
readonly PACKAGES=systemd,systemd-sysv,dbus,dbus-user-session,libpam-systemd,gnome-keyring,libsecret-tools,procps
readonly TESTER=tester TESTER_UID=1000
readonly UNIT=lwtoken-helperd

probe=0 keep=0
for arg; do
	case $arg in
	--probe-sandbox) probe=1 ;;
	--keep) keep=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "systemd-test: unknown argument $arg (see --help)" >&2
		exit 2
		;;
	esac
done

NS_PROG=systemd-test
# shellcheck source=scripts/systemd/nspawn.sh
. scripts/systemd/nspawn.sh
t_start=$(now_ms)

[[ $(id -u) -eq 0 ]] || die "needs root (systemd-nspawn, nsenter and cgroups); run it with sudo"

# ---- host packages
ns_host_packages

# ---- state and cleanup
work=$(mktemp -d /var/tmp/lwtoken-systemd-test.XXXXXX)
chmod 700 "$work"
machine=lwci-$$
tree=$work/tree
NS_WORK=$work
fake_pid=""

cleanup() {
	local status=$?
	trap - EXIT INT TERM
	set +e
	if ((keep)) && [[ -n $pid1 ]]; then
		log "--keep: container $machine runs as PID $pid1 (enter: nsenter -t $pid1 -a -- su -l $TESTER)"
		log "--keep: clean up with: kill $fake_pid; kill -TERM ${ns_nspawn[$machine]:-}; sleep 1; rm -rf $work /run/systemd/nspawn/propagate/$machine; find ${ns_cgroups[$machine]:-} -depth -type d -exec rmdir {} +"
		exit "$status"
	fi
	[[ -n $fake_pid ]] && kill "$fake_pid" 2>/dev/null && wait "$fake_pid" 2>/dev/null
	ns_cleanup
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- build
log "building the binaries (CGO_ENABLED=0)"
CGO_ENABLED=0 go build -trimpath -o "$work/bin/" ./cmd/lwtoken-helper ./cmd/lwtoken-helperd ./cmd/lwfake

# ---- the Debian tree, cached
ns_unpack "$(ns_tree "$SUITE" "$PACKAGES")" "$tree"

# ---- prepare the tree: the user, the binaries, the credentials
chroot "$tree" useradd -m -u "$TESTER_UID" -s /bin/bash "$TESTER"
echo "$machine" >"$tree/etc/hostname"
install -m 755 "$work/bin/lwtoken-helper" "$work/bin/lwtoken-helperd" "$tree/usr/local/bin/"
home=$tree/home/$TESTER
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/private.key" 2>/dev/null
head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$work/secret.txt"
head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$home/.keyring-password"
install -m 600 "$work/private.key" "$work/secret.txt" "$home/"
chown "$TESTER_UID:$TESTER_UID" "$home/private.key" "$home/secret.txt" "$home/.keyring-password"
chmod 600 "$home/.keyring-password"
client_secret=$(cat "$work/secret.txt")
key_line=$(sed -n 2p "$work/private.key") # a line of key material, to look for in logs

# ---- the fake token endpoint, on the host's loopback
"$work/bin/lwfake" -addr 127.0.0.1:0 -client-id ci-client -client-secret-file "$work/secret.txt" \
	-service-account ci.serviceaccount@example.com -public-key-file "$work/private.key" \
	-scopes "bot user.read" -url-file "$work/url" >"$work/fake.log" 2>&1 </dev/null &
fake_pid=$!
wait_for 10 test -s "$work/url" || die "the fake endpoint did not start: $(cat "$work/fake.log")"
auth_url=$(cat "$work/url")
minted() { grep -c ' issued token ' "$work/fake.log" || true; }

# ---- boot
log "booting $machine (systemd-nspawn -b)"
t_boot=$(now_ms)
ns_boot "$machine" "$tree"
in_ct loginctl enable-linger "$TESTER"
wait_for 30 in_ct test -S "/run/user/$TESTER_UID/bus" || die "no user manager for $TESTER"
log "booted in $(($(now_ms) - t_boot)) ms: $(in_ct systemctl --version | head -n1)"

# as_user CMD...: runs CMD as the test user in the user's session environment, with nothing
# of this host's environment.
session_env=("HOME=/home/$TESTER" "USER=$TESTER" "LOGNAME=$TESTER" "PATH=/usr/local/bin:/usr/bin:/bin"
	"XDG_RUNTIME_DIR=/run/user/$TESTER_UID" "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/$TESTER_UID/bus")
as_user() { nsenter -t "$pid1" -a -- runuser -u "$TESTER" -- env -i "${session_env[@]}" "$@"; }
# as_cron CMD...: like cron: no XDG_RUNTIME_DIR, no bus address.
as_cron() { nsenter -t "$pid1" -a -- runuser -u "$TESTER" -- env -i HOME=/home/$TESTER PATH=/usr/local/bin:/usr/bin:/bin "$@"; }
sysu() { as_user systemctl --user --no-pager "$@"; }
prop() { sysu show -p "$1" --value "$UNIT"; }

# ---- the Secret Service in the user's session
# shellcheck disable=SC2016 # expanded by the user's shell
as_user sh -c 'gnome-keyring-daemon --unlock --components=secrets <"$HOME/.keyring-password" >/dev/null'
secrets_up() {
	as_user dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets
}
check "gnome-keyring owns org.freedesktop.secrets on $TESTER's session bus" wait_for 15 secrets_up

# ---- setup and install
check "setup stores the profile (secret on stdin, key from a file)" as_user sh -c "cd && lwtoken-helperd setup --profile default \
	--client-id ci-client --service-account ci.serviceaccount@example.com --scope 'bot user.read' \
	--private-key-file private.key --auth-url '$auth_url' <secret.txt"
check "the keyring holds the client secret" test "$(as_user secret-tool lookup service lwtoken-helper username profile/default/client-secret)" = "$client_secret"

unit_file=/home/$TESTER/.config/systemd/user/$UNIT.service
out=$(as_user lwtoken-helperd install 2>&1) && [[ $out == *"installed the systemd user unit $unit_file"* ]] &&
	pass "install writes and enables the user unit" || fail "install writes and enables the user unit" "$out"
check "the unit is enabled for default.target" test "$(sysu is-enabled "$UNIT")" = enabled
out=$(as_user lwtoken-helperd install 2>&1) && [[ $out == *"already installed and up to date: nothing changed"* ]] &&
	pass "install is idempotent" || fail "install is idempotent" "$out"
out=$(as_user systemd-analyze --user verify --man=no "$unit_file" 2>&1) && [[ -z $out ]] &&
	pass "systemd-analyze --user verify prints nothing" || fail "systemd-analyze --user verify prints nothing" "$out"
unit_has() { grep -q "$1" "$tree$unit_file"; }
if unit_has '^Type=notify$' && unit_has '^Restart=on-failure$' && unit_has '^RestartSec=1$' && unit_has '^StartLimitIntervalSec=0$' &&
	unit_has '^WantedBy=default.target$' && unit_has '^ExecStart=/usr/local/bin/lwtoken-helperd "run" "--socket" "%t/lwtoken-helper/sock" "--log-level" "info"$'; then
	pass "the unit: Type=notify, Restart=on-failure, RestartSec=1, no start limit, default.target, explicit socket"
else
	fail "the unit: Type=notify, Restart=on-failure, RestartSec=1, no start limit, default.target, explicit socket" "$(cat "$tree$unit_file")"
fi

# ---- start and get
out=$(as_user lwtoken-helperd start 2>&1) && [[ $out == *"answers on /run/user/$TESTER_UID/lwtoken-helper/sock"* ]] &&
	pass "start waits for READY=1 and the daemon answers" || fail "start waits for READY=1 and the daemon answers" "$out" "$(sysu status "$UNIT" 2>&1 | tail -n 15)"
check "the service is active (Type=notify)" test "$(prop ActiveState)" = active
token=$(as_user lwtoken-helper get 2>"$work/get.err") || true
if [[ -n $token ]] && curl -fsS -H "Authorization: Bearer $token" "${auth_url%/oauth2/v2.0}/v1.0/users/me" >/dev/null; then
	pass "get returns a token the fake endpoint accepts"
else
	fail "get returns a token the fake endpoint accepts" "$(cat "$work/get.err")"
fi
check "one token was minted" test "$(minted)" = 1
sandboxed() { # the unit's NoNewPrivileges= and seccomp filters are in force
	local st
	st=$(in_ct cat "/proc/$(prop MainPID)/status")
	grep -q '^NoNewPrivs:[[:space:]]*1$' <<<"$st" && grep -q '^Seccomp:[[:space:]]*2$' <<<"$st"
}
check "the daemon runs with no_new_privs and a seccomp filter" sandboxed
status_line() { sysu status "$UNIT" 2>&1 | grep -E '^ +Status: "1 token valid, next renewal '; }
check "systemctl --user status shows the STATUS= line" wait_for 5 status_line

# ---- the same socket from every context
# gets_token CMD...: CMD prints the token seen so far.
gets_token() { [[ $("$@" 2>&1) == "$token" ]]; }
check "get from a cron-like context (no XDG_RUNTIME_DIR, no bus)" gets_token as_cron lwtoken-helper get
check "get from a login shell (su -l)" gets_token in_ct su -l "$TESTER" -c "lwtoken-helper get"
check "get from another user unit (systemd-run --user)" gets_token as_user systemd-run --user --wait --pipe --quiet lwtoken-helper get
check "no new token was minted" test "$(minted)" = 1

# ---- crash and restart
old_pid=$(prop MainPID)
in_ct kill -KILL "$old_pid"
restarted() { [[ $(prop NRestarts) == 1 && $(prop ActiveState) == active && $(prop MainPID) != "$old_pid" && $(prop MainPID) != 0 ]]; }
check "kill -9: systemd restarts the daemon (NRestarts=1, new MainPID)" wait_for 10 restarted
check "get after the restart: the same token" wait_for 5 gets_token as_user lwtoken-helper get
check "the restart minted nothing (token loaded from the keyring)" test "$(minted)" = 1
check "STATUS= is current after the restart" wait_for 5 status_line
# A crash of the Go runtime (a panic, SIGQUIT or SIGABRT: exit 2) is restarted too.
old_pid=$(prop MainPID)
sysu kill -s QUIT "$UNIT"
restarted_quit() { [[ $(prop NRestarts) == 2 && $(prop ActiveState) == active && $(prop MainPID) != "$old_pid" && $(prop MainPID) != 0 ]]; }
check "SIGQUIT (exit 2, like a panic): systemd restarts the daemon (NRestarts 1 -> 2, new MainPID)" wait_for 10 restarted_quit
check "get after the SIGQUIT restart: the same token" wait_for 5 gets_token as_user lwtoken-helper get

# ---- status, doctor, journal
out=$(as_user lwtoken-helperd status 2>&1) && [[ $out == *"service: running"* && $out == *"2 automatic restarts"* ]] &&
	pass "lwtoken-helperd status: running, exit 0" || fail "lwtoken-helperd status: running, exit 0" "$out"
out=$(as_user lwtoken-helperd doctor 2>&1) && [[ $out == *" 0 failed"* ]] &&
	pass "doctor: no failed check" || fail "doctor: no failed check" "$out"
out=$(as_cron lwtoken-helperd doctor 2>&1) && [[ $out == *"ok    daemon"* ]] &&
	pass "doctor from a cron-like context finds the daemon" || fail "doctor from a cron-like context finds the daemon" "$out"
journal=$(as_user journalctl --user --no-pager -o cat -u "$UNIT")
if [[ $journal == *"msg=listening socket=/run/user/$TESTER_UID/lwtoken-helper/sock"* && $journal == *'msg="token minted"'* &&
	$journal == *'msg="token loaded from keyring"'* ]]; then
	pass "journalctl --user -u $UNIT shows the daemon's logs"
else
	fail "journalctl --user -u $UNIT shows the daemon's logs" "$journal"
fi
if [[ $journal == *"process hardening incomplete"* || $journal == *level=ERROR* ]]; then
	fail "the sandboxed daemon logs no hardening warning or error" "$journal"
else
	pass "the sandboxed daemon logs no hardening warning or error"
fi
all_logs=$(in_ct journalctl --no-pager -o cat; as_user lwtoken-helperd status 2>&1; as_user lwtoken-helper status 2>&1; echo "$out")
leaks=()
[[ $all_logs == *"$client_secret"* ]] && leaks+=("the client secret")
[[ $all_logs == *"$key_line"* || $all_logs == *"PRIVATE KEY"* ]] && leaks+=("private key material")
[[ $all_logs == *"$token"* ]] && leaks+=("the access token")
((${#leaks[@]} == 0)) && pass "no secret in the journal or in status and doctor output" ||
	fail "no secret in the journal or in status and doctor output" "found: ${leaks[*]}"

# ---- sandboxing probe (informational)
if ((probe)); then
	log "probing sandboxing directives (informational)"
	"$(dirname "$0")/systemd/probe-sandbox.sh" "$pid1" "$TESTER" "$tree" "$work/fake.log" || fail "the sandbox probe ran"
	wait_for 10 as_user lwtoken-helper status || fail "the service is back after the sandbox probe"
	token=$(as_user lwtoken-helper get) # the probe minted new ones
fi

# ---- reload
since=$(in_ct date +%s)
sleep 1
reloaded() { as_user journalctl --user --no-pager -o cat -u "$UNIT" --since "@$since" | grep -q 'msg="config reloaded"'; }
out=$(sysu reload "$UNIT" 2>&1) && wait_for 5 reloaded && pass "systemctl --user reload: the daemon re-reads its config (SIGHUP)" ||
	fail "systemctl --user reload: the daemon re-reads its config (SIGHUP)" "$out"

# ---- a broken config: no restart loop, and doctor says what is wrong
cfg_file=$home/.config/lwtoken-helper/config.toml
cp -p "$cfg_file" "$work/config.toml"
echo 'this is = not [toml' >>"$cfg_file"
as_user lwtoken-helperd restart >/dev/null 2>&1 || true
restarts=$(prop NRestarts)
sleep 2.5 # more than RestartSec
if [[ $(prop ActiveState) == failed && $(prop NRestarts) == "$restarts" && $(prop ExecMainStatus) == 78 ]]; then
	pass "an invalid config (exit 78, EX_CONFIG) fails the unit without a restart loop"
else
	fail "an invalid config (exit 78, EX_CONFIG) fails the unit without a restart loop" "$(sysu status "$UNIT" 2>&1 | tail -n 8)"
fi
out=$(as_user lwtoken-helperd doctor 2>&1) && code=0 || code=$?
[[ $code == 1 && $out == *"FAIL  config "* && $out == *"FAIL  service   failed"* ]] &&
	pass "doctor: exit 1, the config and the failed service, each with a fix" || fail "doctor: exit 1, the config and the failed service, each with a fix" "$out"
cp -p "$work/config.toml" "$cfg_file"
out=$(as_user lwtoken-helperd restart 2>&1) && [[ $(prop ActiveState) == active ]] &&
	pass "restart after the config is fixed" || fail "restart after the config is fixed" "$out"

# ---- stop, restart, uninstall
out=$(as_user lwtoken-helperd stop 2>&1) && [[ $(prop ActiveState) == inactive ]] &&
	pass "stop" || fail "stop" "$out"
as_user lwtoken-helperd status >/dev/null 2>&1 && code=0 || code=$?
check "status of a stopped service exits 3" test "$code" = 3
as_user lwtoken-helper get >/dev/null 2>&1 && code=0 || code=$?
check "get with the service stopped: daemon not running (exit 3)" test "$code" = 3
out=$(as_user lwtoken-helperd restart 2>&1) && [[ $out == *"restarted"* ]] && gets_token as_user lwtoken-helper get &&
	pass "restart brings it back with the same token" || fail "restart brings it back with the same token" "$out"
out=$(as_user lwtoken-helperd uninstall 2>&1) && [[ $out == *"stopped and removed the systemd user unit $unit_file"* ]] &&
	[[ ! -e $tree$unit_file ]] && pass "uninstall stops and removes the unit" || fail "uninstall stops and removes the unit" "$out"
check "the unit is gone from the user manager" test "$(prop LoadState)" = not-found
check "uninstall kept the secrets in the keyring" test "$(as_user secret-tool lookup service lwtoken-helper username profile/default/client-secret)" = "$client_secret"
out=$(as_user lwtoken-helperd uninstall 2>&1) && [[ $out == *"nothing to remove"* ]] &&
	pass "uninstall is idempotent" || fail "uninstall is idempotent" "$out"
as_user lwtoken-helperd uninstall --purge </dev/null >/dev/null 2>&1 && code=0 || code=$?
check "uninstall --purge without a terminal asks for --yes (exit 2)" test "$code" = 2
# On a terminal (script(1) gives it one), it asks; "n" changes nothing.
out=$(as_user script -qec "lwtoken-helperd uninstall --purge" /dev/null <<<n 2>&1) && code=0 || code=$?
[[ $code == 1 && $out == *"continue? [y/N]"* && $out == *"not confirmed: nothing was changed"* ]] &&
	[[ -n $(as_user secret-tool lookup service lwtoken-helper username profile/default/client-secret) ]] &&
	pass "uninstall --purge on a terminal asks, and \"n\" keeps everything" ||
	fail "uninstall --purge on a terminal asks, and \"n\" keeps everything" "exit $code" "$out"
out=$(as_user lwtoken-helperd uninstall --purge --yes 2>&1) && [[ -z $(as_user secret-tool search --all service lwtoken-helper 2>&1) ]] &&
	[[ ! -e $home/.config/lwtoken-helper/config.toml ]] && pass "uninstall --purge --yes deletes the keyring items and the config" ||
	fail "uninstall --purge --yes deletes the keyring items and the config" "$out" "$(as_user secret-tool search --all service lwtoken-helper 2>&1)"
if [[ $out == *"revoked 1 token(s) of profile \"default\" at line works"* ]] &&
	! curl -fsS -H "Authorization: Bearer $token" "${auth_url%/oauth2/v2.0}/v1.0/users/me" >/dev/null 2>&1; then
	pass "uninstall --purge revoked the token at the endpoint"
else
	fail "uninstall --purge revoked the token at the endpoint" "$out"
fi

log "under $(in_ct systemctl --version | head -n1)"
ns_summary "$t_start"
