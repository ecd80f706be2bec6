#!/usr/bin/env bash
# scripts/bench/run.sh [-o FILE] [--quick]
#
# The benchmark suite of lwtoken-helper, in one command, with everything it compares against:
#
#   ./scripts/bench/run.sh                 # 2-3 minutes; prints a Markdown report and writes it to FILE
#
# FILE defaults to ${TMPDIR:-/tmp}/lwtoken-helper-bench.md. --quick shortens every phase (for
# checking the script, not for numbers). As root on Debian it installs what it needs
# (apt-get install hyperfine python3-jwt python3-requests python3-cryptography openssh-client
# openssl dbus gnome-keyring; apt-get update first when the package lists are missing).
#
# What it does, all on loopback, every loop bounded, everything under one temporary directory
# (removed at the end, with the daemon's ~250 MB audit log of the million requests):
#   1. builds release binaries (CGO_ENABLED=0, -trimpath -ldflags='-s -w') of lwtoken-helper,
#      lwtoken-helperd and the fake token endpoint lwfake, plus the benchmark's own programs
#      (main packages under scripts/bench/): floor (the least a Go client can do: dial the
#      socket, send one short request, print the reply), loadgen (concurrent socket clients),
#      minserver (the least a Go server can do per connection) and a Go hello world;
#   2. starts an isolated keyring (scripts/keyring-env.sh), lwfake, `lwtoken-helperd setup`,
#      the daemon (logging to a file, as to a journal), and an ssh-agent holding one key;
#   3. whole-process timings with hyperfine, 10 interleaved rounds, medians and ratios to the
#      floor: `lwtoken-helper get` with a warm daemon, the floor, `ssh-add -l`, the seed
#      approach (Python with PyJWT and requests: sign a fresh JWT and post it to the fake
#      endpoint on every call), `get` with no daemon, and `lwtoken-helper prompt` with and
#      without a daemon when that subcommand exists;
#   4. the daemon over its real socket (loadgen: one connection per request, like `get`): a
#      cold herd of 1,000 clients (must cause exactly one upstream token request); 1, 10, 100
#      and 1,000 clients in a closed loop (req/s, p50/p90/p99, CPU per request of the daemon
#      and of loadgen); minserver under the same load, for scale; 100 clients in an open loop
#      at 1,000, 10,000 and 20,000 req/s (latency counted from when each request was due);
#      then requests at 100 clients until 1,000,000 were served in all;
#   5. footprint: RSS idle after start, after the load levels and after the million requests;
#      context switches of all the daemon's threads over 10 idle seconds; binary sizes.
# The report starts with the targets of issue 7, each marked met or missed, and records the
# machine (CPUs, CPU model, kernel, Go), the date and the load average. Other work on the
# machine skews absolute numbers: compare the ratios within one run. BENCHMARKS.md holds the
# latest report and what stands behind each missed target.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD

out=${TMPDIR:-/tmp}/lwtoken-helper-bench.md
quick=""
while (($#)); do
	case $1 in
	-o) out=$2; shift 2 ;;
	--quick) quick=1; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
case $out in /*) ;; *) out=$repo/$out ;; esac

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

PY=/usr/bin/python3 # Debian's python, where python3-jwt and python3-requests go

# ---- 0. what we need from Debian ----------------------------------------------------------
if [ -z "${LWBENCH_INSIDE:-}" ]; then
	need=()
	command -v hyperfine >/dev/null || need+=(hyperfine)
	command -v ssh-agent >/dev/null && command -v ssh-add >/dev/null && command -v ssh-keygen >/dev/null || need+=(openssh-client)
	command -v openssl >/dev/null || need+=(openssl)
	command -v dbus-daemon >/dev/null || need+=(dbus)
	command -v gnome-keyring-daemon >/dev/null || need+=(gnome-keyring)
	[ -x $PY ] && $PY -c 'import jwt' 2>/dev/null || need+=(python3-jwt)
	[ -x $PY ] && $PY -c 'import requests' 2>/dev/null || need+=(python3-requests)
	[ -x $PY ] && $PY -c 'import cryptography' 2>/dev/null || need+=(python3-cryptography)
	command -v go >/dev/null || die "go is not on PATH"
	if ((${#need[@]})); then
		if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
			die "missing: ${need[*]}; install them with: sudo apt-get install --no-install-recommends ${need[*]}"
		fi
		log "installing ${need[*]}"
		export DEBIAN_FRONTEND=noninteractive
		if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then apt-get update -qq; fi
		apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
			{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
	fi
	export LWBENCH_INSIDE=1
	args=(-o "$out")
	[ -n "$quick" ] && args+=(--quick)
	exec ./scripts/keyring-env.sh "$0" "${args[@]}"
fi

# ---- knobs ---------------------------------------------------------------------------------
if [ -n "$quick" ]; then
	ROUNDS=2 RUNS=15 SEED_RUNS=2 SECONDS_PER_LEVEL=1 TOTAL_REQUESTS=100000 IDLE_SECONDS=2
else
	# Many short rounds: a burst of other work on the machine then hits every command alike.
	ROUNDS=10 RUNS=30 SEED_RUNS=3 SECONDS_PER_LEVEL=3 TOTAL_REQUESTS=1000000 IDLE_SECONDS=10
fi
OPEN_RATES="1000 10000 20000"

work=$(mktemp -d "${TMPDIR:-/tmp}/lwbench.XXXXXX")
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/bin" "$work/res" "$work/hf"
bin=$work/bin
res=$work/res
kv() { printf '%s\n' "$2" >"$res/$1"; } # one scalar result per file

# wait_for WHAT CMD...: retries CMD for up to 10 s.
wait_for() {
	local what=$1 i
	shift
	for ((i = 0; i < 200; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	die "$what did not come up"
}

kv loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- 1. build ------------------------------------------------------------------------------
log "building release binaries"
export CGO_ENABLED=0
gobuild() { go build -trimpath -ldflags='-s -w' "$@"; }
gobuild -o "$bin/" ./cmd/lwtoken-helper ./cmd/lwtoken-helperd ./cmd/lwfake \
	./scripts/bench/floor ./scripts/bench/loadgen ./scripts/bench/minserver
mkdir "$work/hello"
cat >"$work/hello/main.go" <<'EOF'
package main

import "os"

func main() { os.Stdout.WriteString("hello\n") }
EOF
(cd "$work/hello" && GOFLAGS='' GO111MODULE=off gobuild -o "$bin/hello" .)
for b in lwtoken-helper lwtoken-helperd floor hello; do kv "size_$b" "$(stat -c %s "$bin/$b")"; done
export PATH="$bin:$PATH"

# ---- 2. the world: fake endpoint, setup, daemon, ssh-agent, the seed script ------------------
log "starting lwfake, setup, the daemon and ssh-agent"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/private.key" 2>/dev/null
head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$work/secret.txt"
chmod 600 "$work/private.key" "$work/secret.txt"
client_id=bench-client sa=bench.serviceaccount@example.com
lwfake -client-id $client_id -client-secret-file "$work/secret.txt" -service-account $sa \
	-public-key-file "$work/private.key" -scopes "bot user.read" -url-file "$work/url" 2>"$work/fake.log" &
pids+=("$!")
wait_for lwfake test -s "$work/url"
auth_url=$(cat "$work/url")

export LWTOKEN_HELPER_SOCKET="$work/run/sock" LWTOKEN_HELPER_CONFIG="$work/config.toml"
lwtoken-helperd setup --profile default --client-id $client_id --service-account $sa --domain-id 1 \
	--scope "bot user.read" --private-key-file "$work/private.key" --auth-url "$auth_url" \
	<"$work/secret.txt" >"$work/setup.log" 2>&1 || die "setup failed: $(cat "$work/setup.log")"

# The daemon logs one audit line per served token, as it does under a service manager; the
# log goes to a file here (a journal in real life).
lwtoken-helperd run 2>"$work/daemon.log" &
dpid=$!
pids+=("$dpid")
wait_for "the daemon" lwtoken-helper status
upstream() { lwtoken-helper status --json | $PY -c 'import json,sys; print(sum(e["upstream_requests"] for e in json.load(sys.stdin)["entries"] or []))'; }
# RSS and context switches of the whole process (every thread, not just the main one).
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$dpid/status"; }
# cpu_ticks PID: user + system CPU time in clock ticks (fields 14 and 15 of /proc/PID/stat).
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
hz=$(getconf CLK_TCK)
# load NAME PID LOADGEN-ARGS...: runs loadgen, adds the CPU time PID used per request.
load() {
	local name=$1 pid=$2 c0 c1
	shift 2
	c0=$(cpu_ticks "$pid")
	loadgen "$@" >"$res/$name.raw" || die "loadgen $*: $(cat "$res/$name.raw")"
	c1=$(cpu_ticks "$pid")
	$PY - "$res/$name.raw" $((c1 - c0)) "$hz" >"$res/$name.json" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
r["server_cpu_us_per_request"] = int(sys.argv[2]) * 1e6 / int(sys.argv[3]) / max(r["requests"], 1)
print(json.dumps(r))
PYEOF
}
requests_of() { $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"])' "$res/$1.json"; }
ctxsw() { cat /proc/"$dpid"/task/*/status 2>/dev/null | awk '/^(non)?voluntary_ctxt_switches:/ {n += $2} END {print n}'; }
threads() { find /proc/"$dpid"/task -mindepth 1 -maxdepth 1 | wc -l; }

ssh-keygen -q -t ed25519 -N '' -C bench -f "$work/id_ed25519"
ssh-agent -D -a "$work/agent.sock" >/dev/null 2>&1 &
pids+=("$!")
export SSH_AUTH_SOCK="$work/agent.sock"
wait_for ssh-agent test -S "$work/agent.sock"
ssh-add -q "$work/id_ed25519" 2>/dev/null
[ "$(ssh-add -l | wc -l)" = 1 ] || die "ssh-agent does not hold the key"

cat >"$work/seed.py" <<'EOF'
# The seed approach: every call signs a fresh JWT assertion and posts it to the token endpoint.
import sys, time
import jwt, requests

key_file, client_id, sa, secret_file, url = sys.argv[1:6]
with open(key_file, "rb") as f:
    key = f.read()
with open(secret_file) as f:
    secret = f.read().strip()
now = int(time.time())
assertion = jwt.encode({"iss": client_id, "sub": sa, "iat": now - 10, "exp": now + 600}, key, algorithm="RS256")
r = requests.post(url + "/token", data={"assertion": assertion, "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "client_id": client_id, "client_secret": secret, "scope": "bot user.read"}, timeout=30)
r.raise_for_status()
print(r.json()["access_token"])
EOF
seed=("$PY" "$work/seed.py" "$work/private.key" "$client_id" "$sa" "$work/secret.txt" "$auth_url")
"${seed[@]}" >"$work/seed.out" || die "the seed script failed"

has_prompt=""
help_out=$(lwtoken-helper help 2>/dev/null) || true # read whole: grep -q on a pipe may kill the writer (SIGPIPE, pipefail)
if grep -qE '^ +prompt ' <<<"$help_out"; then has_prompt=1; fi

# ---- 3. footprint at rest, then the cold herd ------------------------------------------------
sleep 1
kv rss_idle_start "$(rss_kb)"
kv threads_start "$(threads)"
log "cold start: 1,000 clients at once against a daemon with no token"
load cold $dpid -clients 1000 -requests 1000
kv upstream_cold "$(upstream)"

# ---- 4. whole-process timings -----------------------------------------------------------------
tok=$(lwtoken-helper get)
floor | grep -qF "\"access_token\":\"$tok\"" || die "the floor program does not get the daemon's token"
log "whole-process timings: $ROUNDS rounds of hyperfine"
hf() { # hf NAME ROUND RUNS WARMUP [hyperfine flags] -- CMD...
	local name=$1 round=$2 runs=$3 warmup=$4
	shift 4
	local flags=()
	while [ "$1" != -- ]; do flags+=("$1"); shift; done
	shift
	hyperfine -N --style none --warmup "$warmup" --runs "$runs" "${flags[@]}" \
		--export-json "$work/hf/$name.$round.json" -- "$*" >/dev/null 2>"$work/hf/$name.$round.err" ||
		die "hyperfine $name: $(cat "$work/hf/$name.$round.err")"
}
nowhere=$work/nowhere/sock
measure() { # measure NAME ROUND
	case $1 in
	hello) hf hello "$2" "$RUNS" 3 -- "$bin/hello" ;;
	floor) hf floor "$2" "$RUNS" 3 -- "$bin/floor" ;;
	get) hf get "$2" "$RUNS" 3 -- "$bin/lwtoken-helper get" ;;
	ssh-add) hf ssh-add "$2" "$RUNS" 3 -- "$(command -v ssh-add) -l" ;;
	prompt) hf prompt "$2" "$RUNS" 3 -- "$bin/lwtoken-helper prompt" ;;
	prompt-nodaemon) LWTOKEN_HELPER_SOCKET=$nowhere hf prompt-nodaemon "$2" "$RUNS" 3 -i -- "$bin/lwtoken-helper prompt" ;;
	get-nodaemon) LWTOKEN_HELPER_SOCKET=$nowhere hf get-nodaemon "$2" "$RUNS" 3 -i -- "$bin/lwtoken-helper get" ;;
	seed) hf seed "$2" "$SEED_RUNS" 1 -- "${seed[*]}" ;;
	esac
}
order=(hello floor get ssh-add get-nodaemon seed)
[ -n "$has_prompt" ] && order+=(prompt prompt-nodaemon)
for ((r = 1; r <= ROUNDS; r++)); do
	# Alternate the order from round to round, so that no command always follows another.
	if ((r % 2)); then names=("${order[@]}"); else names=(); for ((i = ${#order[@]} - 1; i >= 0; i--)); do names+=("${order[i]}"); done; fi
	for n in "${names[@]}"; do measure "$n" "$r"; done
done
if [ -n "$has_prompt" ]; then
	lwtoken-helper prompt >"$work/prompt.out" 2>&1 || true
	LWTOKEN_HELPER_SOCKET=$nowhere lwtoken-helper prompt >"$work/prompt-nodaemon.out" 2>&1 || true
fi

# ---- 5. throughput and latency ----------------------------------------------------------------
# Closed loop (each client asks again as soon as it is answered): the most the daemon serves
# while sharing the CPUs with its clients. minserver, the least a Go server can do per
# connection, gets the same load once, for scale.
total=1000
for c in 1 10 100 1000; do
	log "load: $c concurrent clients for ${SECONDS_PER_LEVEL}s"
	before=$(upstream)
	load "load.$c" $dpid -clients $c -duration "${SECONDS_PER_LEVEL}s"
	kv "upstream_load.$c" $(($(upstream) - before))
	total=$((total + $(requests_of "load.$c")))
done
minserver -socket "$work/min.sock" &
mpid=$!
pids+=("$mpid")
wait_for minserver test -S "$work/min.sock"
log "load: minserver, 100 concurrent clients for ${SECONDS_PER_LEVEL}s"
load min.100 $mpid -socket "$work/min.sock" -clients 100 -duration "${SECONDS_PER_LEVEL}s"
kill $mpid
# Open loop (100 clients together send a fixed rate, latency counted from when each request
# was due): latency at a given load.
for rate in $OPEN_RATES; do
	log "load: 100 clients sending $rate requests/s for ${SECONDS_PER_LEVEL}s"
	before=$(upstream)
	load "open.$rate" $dpid -clients 100 -rate "$rate" -duration "${SECONDS_PER_LEVEL}s"
	kv "upstream_open.$rate" $(($(upstream) - before))
	total=$((total + $(requests_of "open.$rate")))
done
kv rss_after_load "$(rss_kb)"
kv requests_after_load "$total"
if ((total < TOTAL_REQUESTS)); then
	log "soak: $((TOTAL_REQUESTS - total)) more requests at 100 clients (to $TOTAL_REQUESTS in all)"
	load soak $dpid -clients 100 -requests $((TOTAL_REQUESTS - total))
	total=$((total + $(requests_of soak)))
fi
kv requests_total "$total"
kv rss_after_total "$(rss_kb)"
kv upstream_total "$(upstream)"

# ---- 6. idle wake-ups --------------------------------------------------------------------------
# Counted second by second: a poll wakes the daemon in every second, while a one-off event (a
# timer, the Go runtime's sysmon backing off after a wake-up) shows in one.
log "idle: counting the daemon's context switches over ${IDLE_SECONDS}s"
sleep 2
s0=$(ctxsw)
prev=$s0 busy=0
for ((i = 0; i < IDLE_SECONDS; i++)); do
	sleep 1
	now=$(ctxsw)
	((now > prev)) && busy=$((busy + 1))
	prev=$now
done
kv idle_seconds "$IDLE_SECONDS"
kv idle_ctxsw $((prev - s0))
kv idle_busy_seconds "$busy"
kv threads_end "$(threads)"
kv rss_idle_end "$(rss_kb)"
kv log_lines "$(wc -l <"$work/daemon.log")"

# ---- 7. report ----------------------------------------------------------------------------------
kv loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"
kv machine_nproc "$(nproc)"
kv machine_cpu "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
kv machine_kernel "$(uname -sr)"
kv machine_go "$(go version | awk '{print $3, $4}')"
kv machine_os "$(. /etc/os-release && echo "$PRETTY_NAME")"
kv machine_date "$(date -u '+%Y-%m-%d %H:%M UTC')"
kv tool_hyperfine "$(hyperfine --version | awk '{print $2}')"
kv tool_ssh "$(ssh -V 2>&1 | awk '{print $1}' | tr -d ,)"
kv tool_python "$($PY -c 'import sys, jwt, requests; print("Python %d.%d.%d" % sys.version_info[:3], "PyJWT", jwt.__version__, "requests", requests.__version__)')"
kv has_prompt "${has_prompt:-0}"
kv quick "${quick:-0}"
kv rounds "$ROUNDS"
kv runs "$RUNS"
kv seed_runs "$SEED_RUNS"
kv seconds_per_level "$SECONDS_PER_LEVEL"
if [ -n "$has_prompt" ]; then
	kv prompt_out "$(head -c 200 "$work/prompt.out" | tr '\n' ' ')"
	kv prompt_nodaemon_out "$(head -c 200 "$work/prompt-nodaemon.out" | tr '\n' ' ')"
fi
$PY "$repo/scripts/bench/report.py" "$work/hf" "$res" >"$out"
cat "$out"
log "report written to $out"
