#!/usr/bin/env bash
# systemd-server-test.sh [--keep]
#
# The real-systemd test of lwtoken-helper on servers (issue 10), in systemd-nspawn
# containers booted from cached Debian trees (scripts/systemd/nspawn.sh). The fake LINE WORKS
# endpoint runs on the host's loopback, which the containers share.
#
#   Debian 12 (systemd 252), the system service, as root for a service user lwbot:
#     boot 1 (keyctl allowed: --system-call-filter=@keyring): setup --system-user with the
#       secret on stdin, install --system-user (systemd-analyze verify), get as lwbot from
#       a cron-like context (env -i + runuser), su -l and systemd-run; another user
#       refused; systemctl restart mints nothing (kernel keyring); doctor as root and as
#       lwbot; setup rerun restarts the instance.
#     poweroff, then every file of the tree is scanned for the client secret, the key and
#       the token: none.
#     boot 2 (nspawn's default seccomp filter: keyctl blocked): the unit comes up with no
#       human action, measured from boot to the first token; the token cache falls back to
#       memory with one log line; the files mode from a real unit (LoadCredential= of
#       root-owned 0400 files into $CREDENTIALS_DIRECTORY); uninstall and --purge.
#     a second tree (a fresh host key) with lwbot's encrypted credentials copied in: the
#       unit fails closed with 243, is not restarted (NRestarts=0), doctor says why.
#   Debian 13 (systemd 257), a per-user service without root: setup with no Secret
#     Service stores user-scoped credentials (Varlink io.systemd.Credentials), install,
#     get, doctor, then a reboot: get works again with no human action (linger).
#
# Needs root. Ends with "N passed, N failed" and exits non-zero on a failure.
# shellcheck disable=SC2015 # `cond && pass NAME || fail NAME ...`: pass never fails
set -euo pipefail
cd "$(dirname "$0")/.."

readonly BOOKWORM_PACKAGES=systemd,systemd-sysv,dbus,dbus-user-session,libpam-systemd,gnome-keyring,libsecret-tools,procps
readonly TRIXIE_PACKAGES=systemd,systemd-sysv,dbus,dbus-user-session,libpam-systemd,procps
readonly SVC=lwbot SVC_UID=990 OTHER=intruder OTHER_UID=1001 FILES=filesbot FILES_UID=1002 TESTER=tester TESTER_UID=1000
readonly PATH_CT=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin

keep=0
for arg; do
	case $arg in
	--keep) keep=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "systemd-server-test: unknown argument $arg (see --help)" >&2
		exit 2
		;;
	esac
done

NS_PROG=systemd-server-test
# shellcheck source=scripts/systemd/nspawn.sh
. scripts/systemd/nspawn.sh
t_start=$(now_ms)
[[ $(id -u) -eq 0 ]] || die "needs root (systemd-nspawn, nsenter and cgroups); run it with sudo"
ns_host_packages

work=$(mktemp -d /var/tmp/lwtoken-server-test.XXXXXX)
chmod 700 "$work"
NS_WORK=$work
fake_pid=""
cleanup() {
	local status=$?
	trap - EXIT INT TERM
	set +e
	if ((keep)) && [[ -n $pid1 ]]; then
		log "--keep: a container runs as PID $pid1 (enter: nsenter -t $pid1 -a); work directory $work"
		exit "$status"
	fi
	[[ -n $fake_pid ]] && kill "$fake_pid" 2>/dev/null && wait "$fake_pid" 2>/dev/null
	ns_cleanup
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "building the binaries (CGO_ENABLED=0)"
CGO_ENABLED=0 go build -trimpath -o "$work/bin/" ./cmd/lwtoken-helper ./cmd/lwtoken-helperd ./cmd/lwfake
bookworm=$(ns_tree bookworm "$BOOKWORM_PACKAGES")
trixie=$(ns_tree trixie "$TRIXIE_PACKAGES")

# ---- secrets and the fake token endpoint, on the host's loopback
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/private.key" 2>/dev/null
head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$work/secret.txt"
client_secret=$(cat "$work/secret.txt")
key_line=$(sed -n 2p "$work/private.key") # a line of key material, to look for
"$work/bin/lwfake" -addr 127.0.0.1:0 -client-id ci-client -client-secret-file "$work/secret.txt" \
	-service-account ci.serviceaccount@example.com -public-key-file "$work/private.key" \
	-scopes "bot user.read" -url-file "$work/url" >"$work/fake.log" 2>&1 </dev/null &
fake_pid=$!
wait_for 10 test -s "$work/url" || die "the fake endpoint did not start: $(cat "$work/fake.log")"
auth_url=$(cat "$work/url")
minted() { grep -c ' issued token ' "$work/fake.log" || true; }
accepted() { curl -fsS -H "Authorization: Bearer $1" "${auth_url%/oauth2/v2.0}/v1.0/users/me" >/dev/null; }

# prepare_tree DIR NAME: users, binaries, hostname.
prepare_tree() {
	ns_unpack "$bookworm" "$1"
	echo "$2" >"$1/etc/hostname"
	chroot "$1" useradd --system --create-home -u "$SVC_UID" -s /bin/bash "$SVC"
	chroot "$1" useradd -m -u "$OTHER_UID" -s /bin/bash "$OTHER"
	chroot "$1" useradd --system -u "$FILES_UID" -s /bin/bash "$FILES"
	install -m 755 "$work/bin/lwtoken-helper" "$work/bin/lwtoken-helperd" "$1/usr/local/bin/"
}

unit=lwtoken-helperd@$SVC.service
sprop() { in_ct systemctl show -p "$1" --value "$unit"; }
# as_cron USER CMD...: like cron: nothing of a session, no XDG_RUNTIME_DIR.
as_cron() {
	local u=$1
	shift
	in_ct runuser -u "$u" -- env -i "HOME=$(in_ct getent passwd "$u" | cut -d: -f6)" "PATH=$PATH_CT" "$@"
}
gets_token() { [[ $("$@" 2>&1) == "$token" ]]; }

# ===================== Debian 12: the system service
treeA=$work/bookworm-a
prepare_tree "$treeA" lwci-a-$$
install -m 600 "$work/private.key" "$work/secret.txt" "$treeA/root/"

log "boot 1 of Debian 12 (keyctl allowed: --system-call-filter=@keyring)"
ns_boot "lwci-a-$$" "$treeA" --system-call-filter=@keyring
log "booted: $(in_ct systemctl --version | head -n1)"

out=$(in_ct sh -c "cd /root && lwtoken-helperd setup --system-user $SVC --profile default --client-id ci-client \
	--service-account ci.serviceaccount@example.com --domain-id 12345 --scope 'bot user.read' \
	--private-key-file private.key --auth-url '$auth_url' <secret.txt" 2>&1) && code=0 || code=$?
echo "$out" | sed 's/^/      | /'
[[ $code == 0 && $out == *"sealed with the host key"* && $out == *"not on encrypted media"* && $out == *"install --system-user $SVC"* ]] &&
	pass "setup --system-user: secret on stdin, sealed with the host key (said so, with the warning)" ||
	fail "setup --system-user: secret on stdin, sealed with the host key (said so, with the warning)" "exit $code"
check "the credential files are root's, 0600, in a 0700 directory" \
	test "$(stat -c %U:%a "$treeA/etc/lwtoken-helper/$SVC/credentials" "$treeA/etc/lwtoken-helper/$SVC/credentials/"*)" = \
	"$(printf 'root:700\nroot:600\nroot:600')"
check "the config is root's and readable (0644)" test "$(stat -c %U:%a "$treeA/etc/lwtoken-helper/$SVC/config.toml")" = root:644
in_ct shred -u /root/private.key /root/secret.txt

out=$(in_ct lwtoken-helperd install --system-user "$SVC" 2>&1) && code=0 || code=$?
echo "$out" | sed 's/^/      | /'
[[ $code == 0 && $out == *"installed and started $unit"* && $out == *"/run/lwtoken-helper/$SVC_UID/sock"* ]] &&
	pass "install --system-user: installed, enabled and started (waited for READY)" ||
	fail "install --system-user: installed, enabled and started (waited for READY)" "exit $code" "$(in_ct systemctl status "$unit" 2>&1 | tail -n 15)"
out=$(in_ct systemd-analyze verify --man=no "$unit" 2>&1) && [[ -z $out ]] &&
	pass "systemd-analyze verify $unit prints nothing" || fail "systemd-analyze verify $unit prints nothing" "$out"
check "enabled for multi-user.target" test "$(in_ct systemctl is-enabled "$unit")" = enabled
check "active, Type=notify, runs as $SVC" test "$(sprop ActiveState) $(sprop Type) $(sprop User)" = "active notify $SVC"
check "socket directory: $SVC's, 0700" test "$(in_ct stat -c %U:%a "/run/lwtoken-helper/$SVC_UID")" = "$SVC:700"

token=$(as_cron "$SVC" lwtoken-helper get 2>"$work/get.err") || true
[[ -n $token ]] && accepted "$token" && pass "get as $SVC from a cron-like context (env -i, no variables)" ||
	fail "get as $SVC from a cron-like context (env -i, no variables)" "$(cat "$work/get.err")" "$(in_ct journalctl -u "$unit" --no-pager -o cat | tail -n 20)"
check "one token minted" test "$(minted)" = 1
check "get from a login shell (su -l $SVC)" gets_token in_ct su -l "$SVC" -c "lwtoken-helper get"
check "get from systemd-run --uid=$SVC" gets_token in_ct systemd-run --uid="$SVC" --wait --pipe --quiet lwtoken-helper get
as_cron "$OTHER" lwtoken-helper get >/dev/null 2>&1 && code=0 || code=$?
check "another user finds no daemon (exit 3)" test "$code" = 3
out=$(as_cron "$OTHER" env "LWTOKEN_HELPER_SOCKET=/run/lwtoken-helper/$SVC_UID/sock" lwtoken-helper get 2>&1) && code=0 || code=$?
[[ -n $token && $code != 0 && $out != *"$token"* ]] && pass "another user pointing at $SVC's socket is refused (exit $code)" ||
	fail "another user pointing at $SVC's socket is refused" "$out"

minted_before=$(minted)
in_ct systemctl restart "$unit"
check "systemctl restart: the same token" gets_token as_cron "$SVC" lwtoken-helper get
check "systemctl restart minted nothing (kernel keyring, KeyringMode=shared)" test "$(minted):${token:+set}" = "$minted_before:set"

out=$(in_ct lwtoken-helperd doctor --system-user "$SVC" 2>&1) && code=0 || code=$?
echo "$out" | sed 's/^/      | /'
[[ $code == 0 && $out == *"sealed with the host key"* && $out == *"decrypt on this machine"* ]] &&
	pass "doctor --system-user as root: no failure; host key; credentials decrypt" || fail "doctor --system-user as root" "exit $code"
out=$(as_cron "$SVC" lwtoken-helperd doctor 2>&1) && code=0 || code=$?
echo "$out" | sed 's/^/      | /'
[[ $code == 0 && $out == *"$unit"* ]] && pass "doctor as $SVC (cron-like): no failure, finds the system service" ||
	fail "doctor as $SVC (cron-like)" "exit $code"

out=$(in_ct lwtoken-helperd setup --system-user "$SVC" --profile default --scope bot 2>&1) && code=0 || code=$?
[[ $code == 0 && $out == *"restarted $unit"* ]] && pass "setup rerun updates the profile and restarts the instance" ||
	fail "setup rerun updates the profile and restarts the instance" "exit $code" "$out"
check "after the rerun: get works" wait_for 10 as_cron "$SVC" lwtoken-helper get
# A second profile on the running service: its credentials join the unit, which restarts.
install -m 600 "$work/private.key" "$work/secret.txt" "$treeA/root/"
out=$(in_ct sh -c "cd /root && lwtoken-helperd setup --system-user $SVC --profile second --client-id ci-client \
	--service-account ci.serviceaccount@example.com --scope bot --private-key-file private.key --auth-url '$auth_url' <secret.txt" 2>&1) && code=0 || code=$?
in_ct shred -u /root/private.key /root/secret.txt
n=$(grep -c '^LoadCredentialEncrypted=second\.' "$treeA/etc/systemd/system/$unit.d/20-credentials.conf" || true)
[[ $code == 0 && $out == *"restarted $unit"* && $n == 2 ]] && wait_for 10 as_cron "$SVC" lwtoken-helper get --profile second &&
	pass "a second profile: setup adds its credentials to the unit, restarts it, and get --profile second works" ||
	fail "a second profile: setup adds its credentials to the unit, restarts it, and get --profile second works" "exit $code, $n credential lines" "$out"

journal=$(in_ct journalctl --no-pager -o cat)
leaks=()
[[ $journal == *"$client_secret"* ]] && leaks+=("the client secret")
[[ $journal == *"$key_line"* || $journal == *"PRIVATE KEY"* ]] && leaks+=("private key material")
[[ -n $token && $journal == *"$token"* ]] && leaks+=("the access token")
((${#leaks[@]} == 0)) && pass "no secret in the journal" || fail "no secret in the journal" "found: ${leaks[*]}"
ns_poweroff "lwci-a-$$"

# ---- the tree at rest: nothing plaintext anywhere
scan=$(grep -rlaF -e "$client_secret" -e "$key_line" ${token:+-e "$token"} "$treeA" 2>/dev/null || true)
[[ -n $token && -z $scan ]] && pass "powered off: no file of the whole tree holds the client secret, key material or a token" ||
	fail "powered off: no file of the whole tree holds the client secret, key material or a token" "$scan"

# ---- a second machine: the credentials copied into a tree with its own host key
treeB=$work/bookworm-b
prepare_tree "$treeB" lwci-b-$$
cp -a "$treeA/etc/lwtoken-helper" "$treeB/etc/"
cp -a "$treeA/etc/systemd/system/lwtoken-helperd@.service" "$treeA/etc/systemd/system/$unit.d" "$treeB/etc/systemd/system/"
mkdir -p "$treeB/etc/systemd/system/multi-user.target.wants"
ln -s /etc/systemd/system/lwtoken-helperd@.service "$treeB/etc/systemd/system/multi-user.target.wants/$unit"

# ---- the files mode (issue 11) from a real unit: LoadCredential= of root-owned 0400 files
mkdir -p "$treeA/etc/lwtest"
install -m 400 "$work/private.key" "$treeA/etc/lwtest/default.private-key"
install -m 400 "$work/secret.txt" "$treeA/etc/lwtest/default.client-secret"
cat >"$treeA/etc/lwtest/config.toml" <<TOML
default_profile = "default"
[profiles.default]
client_id = "ci-client"
service_account = "ci.serviceaccount@example.com"
scopes = ["bot", "user.read"]
auth_url = "$auth_url"
TOML
cat >"$treeA/etc/systemd/system/lwtest-files.service" <<UNIT
[Unit]
Description=lwtoken-helperd in the files mode, secrets from LoadCredential=
[Service]
Type=notify
User=$FILES
LoadCredential=default.private-key:/etc/lwtest/default.private-key
LoadCredential=default.client-secret:/etc/lwtest/default.client-secret
RuntimeDirectory=lwtest-files
RuntimeDirectoryMode=0700
ExecStart=/usr/local/bin/lwtoken-helperd run --socket /run/lwtest-files/sock --config /etc/lwtest/config.toml
UNIT

# ===================== Debian 12, boot 2: no human action
log "boot 2 of Debian 12 (nspawn's default seccomp filter: keyctl blocked)"
t_boot=$(now_ms)
ns_boot "lwci-a-$$" "$treeA"
first_token() { token2=$(as_cron "$SVC" lwtoken-helper get 2>/dev/null) && [[ -n $token2 ]]; }
token2=""
if wait_for 30 first_token; then
	boot_ms=$(($(now_ms) - t_boot))
	pass "after a reboot, get works with no human action (boot to first token: $boot_ms ms)"
	echo "boot_to_first_token_ms=$boot_ms" >>"$work/measurements"
else
	fail "after a reboot, get works with no human action" "$(in_ct systemctl status "$unit" 2>&1 | tail -n 15)"
fi
lines=$(in_ct journalctl -b --no-pager -o cat -u "$unit" | grep -F 'msg="token cache: kernel keyring' || true)
[[ $(grep -c . <<<"$lines") == 1 && $lines == *"kernel keyring unavailable, keeping tokens in memory"* ]] &&
	pass "keyctl blocked: the token cache falls back to memory with one log line" ||
	fail "keyctl blocked: the token cache falls back to memory with one log line" "$lines" "$(in_ct journalctl -b --no-pager -o cat -u "$unit" | tail -n 12)"

out=$(in_ct systemctl start lwtest-files.service 2>&1) && code=0 || code=$?
token_files=$(as_cron "$FILES" env LWTOKEN_HELPER_SOCKET=/run/lwtest-files/sock lwtoken-helper get 2>"$work/get.err") || true
[[ $code == 0 && -n $token_files ]] && accepted "$token_files" &&
	pass "files mode: a unit with LoadCredential= of root-owned 0400 files; run reads \$CREDENTIALS_DIRECTORY" ||
	fail "files mode: a unit with LoadCredential= of root-owned 0400 files; run reads \$CREDENTIALS_DIRECTORY" "$out" "$(cat "$work/get.err")" \
		"$(in_ct journalctl -b --no-pager -o cat -u lwtest-files.service | tail -n 15)"
in_ct systemctl stop lwtest-files.service

# ---- uninstall
out=$(in_ct lwtoken-helperd uninstall --system-user "$SVC" 2>&1) && code=0 || code=$?
[[ $code == 0 && $out == *"removed $unit"* && $out == *"kept the encrypted credentials"* ]] &&
	pass "uninstall --system-user: stopped, disabled, removed; credentials kept" || fail "uninstall --system-user" "exit $code" "$out"
check "the unit is gone" test "$(sprop LoadState)" = not-found
check "the template went with the last instance" test ! -e "$treeA/etc/systemd/system/lwtoken-helperd@.service"
as_cron "$SVC" lwtoken-helper get >/dev/null 2>&1 && code=0 || code=$?
check "get after uninstall: daemon not running (exit 3)" test "$code" = 3
in_ct lwtoken-helperd uninstall --system-user "$SVC" --purge </dev/null >/dev/null 2>&1 && code=0 || code=$?
check "uninstall --purge without a terminal asks for --yes (exit 2)" test "$code" = 2
out=$(in_ct lwtoken-helperd uninstall --system-user "$SVC" --purge --yes 2>&1) && [[ ! -e $treeA/etc/lwtoken-helper/$SVC ]] &&
	pass "uninstall --purge --yes removes the credentials and config" || fail "uninstall --purge --yes removes the credentials and config" "$out"
ns_poweroff "lwci-a-$$"

# ===================== Debian 12, another machine: fails closed, no restart loop
log "booting the second machine with the copied credentials"
ns_boot "lwci-b-$$" "$treeB"
failed_closed() { [[ $(sprop ActiveState) == failed ]]; }
wait_for 15 failed_closed || true
sleep 3 # several RestartSec= periods
st="$(sprop ActiveState) $(sprop ExecMainStatus) $(sprop NRestarts)"
[[ $st == "failed 243 0" ]] && pass "copied credentials: the unit failed with 243 and was not restarted (NRestarts=0)" ||
	fail "copied credentials: the unit failed with 243 and was not restarted" "state/status/restarts: $st" "$(in_ct systemctl status "$unit" 2>&1 | tail -n 10)"
out=$(in_ct lwtoken-helperd doctor --system-user "$SVC" 2>&1) && code=0 || code=$?
echo "$out" | sed 's/^/      | /'
[[ $code == 1 && $out == *"does not decrypt on this machine"* ]] &&
	pass "doctor on the other machine: the credentials do not decrypt here (exit 1)" || fail "doctor on the other machine" "exit $code"
ns_poweroff "lwci-b-$$"

# ===================== Debian 13: a per-user service without root, user-scoped credentials
treeC=$work/trixie
ns_unpack "$trixie" "$treeC"
echo "lwci-c-$$" >"$treeC/etc/hostname"
chroot "$treeC" useradd -m -u "$TESTER_UID" -s /bin/bash "$TESTER"
chroot "$treeC" useradd -m -u "$OTHER_UID" -s /bin/bash "$OTHER"
install -m 755 "$work/bin/lwtoken-helper" "$work/bin/lwtoken-helperd" "$treeC/usr/local/bin/"
install -m 600 -o "$TESTER_UID" -g "$TESTER_UID" "$work/private.key" "$work/secret.txt" "$treeC/home/$TESTER/"
log "booting Debian 13"
ns_boot "lwci-c-$$" "$treeC"
log "booted: $(in_ct systemctl --version | head -n1)"
# On 257 entered through nsenter, loginctl needs to run inside a unit (headless.md).
in_ct systemd-run --wait --pipe -q loginctl enable-linger "$TESTER"
wait_for 30 in_ct test -S "/run/user/$TESTER_UID/bus" || die "no user manager for $TESTER"
as_tester() {
	in_ct runuser -u "$TESTER" -- env -i "HOME=/home/$TESTER" "USER=$TESTER" "LOGNAME=$TESTER" "PATH=$PATH_CT" \
		"XDG_RUNTIME_DIR=/run/user/$TESTER_UID" "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/$TESTER_UID/bus" "$@"
}
out=$(as_tester sh -c "cd && lwtoken-helperd setup --profile default --client-id ci-client \
	--service-account ci.serviceaccount@example.com --scope 'bot user.read' --private-key-file private.key --auth-url '$auth_url' <secret.txt" 2>&1) && code=0 || code=$?
echo "$out" | sed 's/^/      | /'
[[ $code == 0 && $out == *"no keyring is reachable"* && $out == *"systemd user credentials"* ]] &&
	pass "setup without a Secret Service: the secrets become user-scoped systemd credentials" ||
	fail "setup without a Secret Service: the secrets become user-scoped systemd credentials" "exit $code"
cdir=/home/$TESTER/.config/lwtoken-helper/credentials
check "the user credentials are the user's, 0600, in a 0700 directory" \
	test "$(stat -c %u:%a "$treeC$cdir" "$treeC$cdir/"*.cred)" = "$(printf '%s:700\n%s:600\n%s:600' "$TESTER_UID" "$TESTER_UID" "$TESTER_UID")"
in_ct shred -u "/home/$TESTER/private.key" "/home/$TESTER/secret.txt"
out=$(as_tester lwtoken-helperd install 2>&1) && out=$(as_tester lwtoken-helperd start 2>&1) &&
	pass "install and start the per-user unit" || fail "install and start the per-user unit" "$out"
token3=$(as_cron "$TESTER" lwtoken-helper get 2>"$work/get.err") || true
[[ -n $token3 ]] && accepted "$token3" && pass "get (cron-like): the daemon decrypted the user credentials through Varlink" ||
	fail "get (cron-like): the daemon decrypted the user credentials through Varlink" "$(cat "$work/get.err")" \
		"$(as_tester journalctl --user --no-pager -o cat -u lwtoken-helperd | tail -n 15)"
out=$(as_tester lwtoken-helperd doctor 2>&1) && code=0 || code=$?
echo "$out" | sed 's/^/      | /'
[[ $code == 0 && $out == *"usercreds"* ]] && pass "doctor in the user-credentials mode: no failure" || fail "doctor in the user-credentials mode" "exit $code"
# Another user with a copy of the files: systemd refuses to decrypt them for that uid.
cp -a "$treeC/home/$TESTER/.config" "$treeC/home/$OTHER/"
chown -R "$OTHER_UID:$OTHER_UID" "$treeC/home/$OTHER/.config"
rm -rf "$treeC/home/$OTHER/.config/systemd"
out=$(as_cron "$OTHER" lwtoken-helperd doctor 2>&1) && code=0 || code=$?
grep -E '^(FAIL|warn) +(secrets|usercreds)' <<<"$out" | sed 's/^/      | /' || true
[[ $code == 1 && $out == *"FAIL  secrets"*"does not decrypt for this user on this machine"* ]] &&
	pass "another user with a copy of the user credentials: they do not decrypt for that user (fail closed)" ||
	fail "another user with a copy of the user credentials: they do not decrypt for that user (fail closed)" "exit $code" "$out"
rm -rf "$treeC/home/$OTHER/.config"
ns_poweroff "lwci-c-$$"
scan=$(grep -rlaF -e "$client_secret" -e "$key_line" ${token3:+-e "$token3"} "$treeC" 2>/dev/null || true)
[[ -n $token3 && -z $scan ]] && pass "Debian 13 powered off: no file holds the client secret, key material or the token" ||
	fail "Debian 13 powered off: no file holds the client secret, key material or the token" "$scan"
log "rebooting Debian 13"
t_boot=$(now_ms)
ns_boot "lwci-c-$$" "$treeC"
first_token3() { as_cron "$TESTER" lwtoken-helper get >/dev/null 2>&1; }
if wait_for 60 first_token3; then
	boot_ms=$(($(now_ms) - t_boot))
	pass "Debian 13 after a reboot: get works with no human action, linger (boot to first token: $boot_ms ms)"
	echo "debian13_boot_to_first_token_ms=$boot_ms" >>"$work/measurements"
else
	fail "Debian 13 after a reboot: get works with no human action" "$(as_tester systemctl --user status lwtoken-helperd 2>&1 | tail -n 15)"
fi
out=$(as_tester lwtoken-helperd uninstall --purge --yes 2>&1) && code=0 || code=$?
left=$(find "$treeC$cdir" "$treeC/home/$TESTER/.config/lwtoken-helper/config.toml" -type f 2>/dev/null || true)
[[ $code == 0 && $out == *"from systemd user credentials"* && -z $left ]] &&
	pass "uninstall --purge in the user-credentials mode: unit, credentials and config removed" ||
	fail "uninstall --purge in the user-credentials mode: unit, credentials and config removed" "exit $code" "$out" "left: $left"
ns_poweroff "lwci-c-$$"

cat "$work/measurements" 2>/dev/null || true
ns_summary "$t_start"
