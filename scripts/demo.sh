#!/usr/bin/env bash
# A demo of the whole flow with no LINE WORKS account: a throwaway RSA key, the project's
# fake token endpoint on loopback, an isolated keyring (gnome-keyring in a private D-Bus
# session), then setup, the daemon, get, status and a restart that mints nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${LWDEMO_INSIDE:-}" ]; then
	export LWDEMO_INSIDE=1
	exec ./scripts/keyring-env.sh "$0" "$@"
fi

bold=$(tput bold 2>/dev/null || true) plain=$(tput sgr0 2>/dev/null || true)
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
show() { printf '$ %s\n' "$*"; "$@"; }

work=$(mktemp -d /tmp/lwdemo.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

step "build"
show go build -o "$work/bin/" ./cmd/lwtoken-helper ./cmd/lwtoken-helperd ./cmd/lwfake
export PATH="$work/bin:$PATH"

step "a throwaway service-account key and client secret (what the Developer Console would give you)"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/private.key" 2>/dev/null
head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$work/secret.txt"
chmod 600 "$work/private.key" "$work/secret.txt"
echo "key: $work/private.key, secret: $work/secret.txt"

step "the fake LINE WORKS token endpoint on loopback (checks signatures and claims like the real one)"
lwfake -client-id demo-client -client-secret-file "$work/secret.txt" \
	-service-account demo.serviceaccount@example.com -public-key-file "$work/private.key" \
	-scopes "bot user.read" -url-file "$work/url" 2>"$work/fake.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.05; done
auth_url=$(cat "$work/url")
echo "auth url: $auth_url"

export LWTOKEN_HELPER_SOCKET="$work/run/sock" LWTOKEN_HELPER_CONFIG="$work/config.toml"

step "setup: secrets go to the keyring, settings to the config file (the secret comes on stdin)"
show lwtoken-helperd setup --profile default --client-id demo-client \
	--service-account demo.serviceaccount@example.com --domain-id 12345 --scope "bot user.read" \
	--private-key-file "$work/private.key" --auth-url "$auth_url" <"$work/secret.txt"
show cat "$work/config.toml"
if command -v secret-tool >/dev/null; then
	echo "keyring items (service lwtoken-helper):"
	secret-tool search --all service lwtoken-helper 2>&1 | sed -n 's/^attribute.username = /  /p'
fi

step "run the daemon (in the foreground under a service manager; here in the background)"
lwtoken-helperd run 2>"$work/daemon.log" &
pids+=($!)
for _ in $(seq 100); do lwtoken-helper status >/dev/null 2>&1 && break; sleep 0.05; done
echo "daemon pid $!"

step "get: the first call mints a token, the next ones are served from the cache"
start=$(date +%s%N)
tok=$(lwtoken-helper get)
echo "first get:  ${tok:0:10}... ($(( ($(date +%s%N) - start) / 1000000 )) ms, one request to the endpoint)"
start=$(date +%s%N)
tok2=$(lwtoken-helper get)
echo "second get: ${tok2:0:10}... ($(( ($(date +%s%N) - start) / 1000000 )) ms, from the cache)"
[ "$tok" = "$tok2" ]

step "use it: curl against the fake resource API"
show curl -sS -H "Authorization: Bearer $(lwtoken-helper get)" "${auth_url%/oauth2/v2.0}/v1.0/users/me"
echo

step "status"
show lwtoken-helper status

step "restart the daemon: the token comes back from the keyring, no new request"
kill "${pids[1]}"; wait "${pids[1]}" 2>/dev/null || true
lwtoken-helperd run 2>>"$work/daemon.log" &
pids[1]=$!
for _ in $(seq 100); do lwtoken-helper status >/dev/null 2>&1 && break; sleep 0.05; done
tok3=$(lwtoken-helper get)
if [ "$tok3" != "$tok" ]; then echo "FAIL: the restarted daemon minted a new token" >&2; exit 1; fi
echo "same token after the restart; token requests the endpoint saw so far: $(grep -c ' issued token ' "$work/fake.log" || true)"

step "errors are one line plus a hint, with an exit code"
set +e
LWTOKEN_HELPER_SOCKET="$work/nowhere/sock" lwtoken-helper get; echo "exit code $?"
lwtoken-helper get --profile nope; echo "exit code $?"
set -e

step "the daemon's log (audit lines name tokens by fingerprint, never the token)"
cat "$work/daemon.log"
if grep -qF "$tok" "$work/daemon.log" || grep -qF "$(cat "$work/secret.txt")" "$work/daemon.log"; then
	echo "LEAK: a secret is in the log" >&2; exit 1
fi
kill "${pids[0]}" 2>/dev/null; wait "${pids[0]}" 2>/dev/null || true
echo; echo "fake endpoint: $(tail -n1 "$work/fake.log")"
echo "${bold}demo finished${plain}"
