#!/usr/bin/env bash
# compare.sh: measures two versions of lwtoken-helper side by side in one invocation: did a
# change make `get` or the daemon's token path slower?
#
#   ./scripts/bench/compare.sh OLD [NEW]        # revisions; NEW defaults to this work tree
#   ./scripts/bench/compare.sh -n 2000 --rounds 8 --go 10 -o FILE OLD
#
# It builds both versions' release binaries (OLD and NEW from `git archive`, or this work tree
# as it is), starts for each its own fake token endpoint, isolated keyring
# (scripts/keyring-env.sh), `lwtoken-helperd setup` and daemon, then measures, alternating
# old and new all the way so that other work on a shared machine hits both alike:
#   1. whole processes (scripts/bench/interleave, -n runs of each, default 1000): `get` and
#      `prompt` of each version against its own daemon through the default socket lookup
#      ($XDG_RUNTIME_DIR), `get` with no daemon, and the floor program against each daemon;
#      wall time and the client's own CPU time; each program from --copies fresh copies of
#      its file in turn (default 3), since the same binary's speed here depends on its file;
#   2. each daemon under loadgen (--rounds rounds, default 6, of 1, 10 and 100 clients in a
#      closed loop for --seconds each, default 2): req/s, latency and the daemon's CPU time
#      per request;
#   3. the Go benchmarks of ./client/ and ./daemon/ (--go N alternations, default 5; 0 skips
#      them), compared with benchstat when it is on PATH
#      (go install golang.org/x/perf/cmd/benchstat@latest).
# The report (Markdown, default /tmp/lwtoken-helper-compare.md) gives every ratio as new/old
# with its spread, the load average and the Go toolchain. As root on Debian it installs what
# it needs (openssl, and through keyring-env.sh dbus and gnome-keyring).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD

log() { printf 'compare: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---- the world of one version (run inside keyring-env.sh) -----------------------------------
if [ "${1:-}" = --world ]; then
	bin=$2 dir=$3
	mkdir -m 700 "$dir/xdg"
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/private.key" 2>/dev/null
	head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$dir/secret.txt"
	chmod 600 "$dir/private.key" "$dir/secret.txt"
	client_id=bench-client sa=bench.serviceaccount@example.com
	"$bin/lwfake" -client-id $client_id -client-secret-file "$dir/secret.txt" -service-account $sa \
		-public-key-file "$dir/private.key" -scopes "bot user.read" -url-file "$dir/url" 2>"$dir/fake.log" &
	fpid=$!
	for ((i = 0; i < 200; i++)); do [ -s "$dir/url" ] && break; sleep 0.05; done
	[ -s "$dir/url" ] || { kill $fpid; die "lwfake did not come up: $(cat "$dir/fake.log")"; }
	export LWTOKEN_HELPER_SOCKET="$dir/xdg/lwtoken-helper/sock" LWTOKEN_HELPER_CONFIG="$dir/config.toml"
	"$bin/lwtoken-helperd" setup --profile default --client-id $client_id --service-account $sa --domain-id 1 \
		--scope "bot user.read" --private-key-file "$dir/private.key" --auth-url "$(cat "$dir/url")" \
		<"$dir/secret.txt" >"$dir/setup.log" 2>&1 || { kill $fpid; die "setup failed: $(cat "$dir/setup.log")"; }
	"$bin/lwtoken-helperd" run 2>"$dir/daemon.log" &
	dpid=$!
	trap 'kill $dpid $fpid 2>/dev/null || true' TERM INT HUP
	echo $dpid >"$dir/dpid"
	wait $dpid || true
	kill $fpid 2>/dev/null || true
	wait $fpid 2>/dev/null || true
	exit 0
fi

out=${TMPDIR:-/tmp}/lwtoken-helper-compare.md
iters=1000 rounds=6 seconds=2 gocount=5 copies=3
revs=()
while (($#)); do
	case $1 in
	-o) out=$2; shift 2 ;;
	-n) iters=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--go) gocount=$2; shift 2 ;;
	--copies) copies=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option $1 (see --help)" ;;
	*) revs+=("$1"); shift ;;
	esac
done
((${#revs[@]} == 1 || ${#revs[@]} == 2)) || die "usage: compare.sh [options] OLD [NEW] (see --help)"
case $out in /*) ;; *) out=$repo/$out ;; esac
command -v go >/dev/null || die "go is not on PATH"
if ! command -v openssl >/dev/null; then
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then die "missing openssl: sudo apt-get install openssl"; fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssl >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/lwcompare.XXXXXX")
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/meta" "$work/load" "$work/go"
kv() { printf '%s\n' "$2" >"$work/meta/$1"; }

# ---- build -----------------------------------------------------------------------------------
# src VERSION REV: the source tree of REV ("" for this work tree), printed.
src() {
	if [ -z "$2" ]; then echo "$repo"; return; fi
	mkdir "$work/src-$1"
	git -C "$repo" archive "$2" | tar -x -C "$work/src-$1" || die "cannot export $2"
	echo "$work/src-$1"
}
old_rev=$(git -C "$repo" rev-parse --short "${revs[0]}^{commit}") || die "no revision ${revs[0]}"
new_rev=""
[ ${#revs[@]} = 2 ] && { new_rev=$(git -C "$repo" rev-parse --short "${revs[1]}^{commit}") || die "no revision ${revs[1]}"; }
declare -A tree
tree[old]=$(src old "$old_rev") || exit 1
tree[new]=$(src new "$new_rev") || exit 1
kv old_desc "$old_rev ($(git -C "$repo" log -1 --format=%s "$old_rev" | cut -c1-70))"
if [ -n "$new_rev" ]; then
	kv new_desc "$new_rev ($(git -C "$repo" log -1 --format=%s "$new_rev" | cut -c1-70))"
else
	dirty=""; [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ] && dirty=", with uncommitted changes"
	kv new_desc "this work tree at $(git -C "$repo" rev-parse --short HEAD)$dirty"
fi
export CGO_ENABLED=0
for v in old new; do
	s=${tree[$v]}
	log "building $v from $s"
	fake=./cmd/lwfake
	[ -d "$s/cmd/lwfake" ] || fake=./internal/lwauth/lwauthtest/lwfake
	if [ ! -d "$s/scripts/bench/floor" ] || [ ! -d "$s/scripts/bench/loadgen" ]; then die "$v has no scripts/bench/floor and loadgen"; fi
	(cd "$s" && go build -trimpath -ldflags='-s -w' -o "$work/bin-$v/" ./cmd/lwtoken-helper ./cmd/lwtoken-helperd "$fake" \
		./scripts/bench/floor ./scripts/bench/loadgen) || die "building $v failed"
	if ((gocount > 0)); then
		for p in client daemon; do
			(cd "$s" && go test -c -o "$work/go/$v-$p.test" ./$p/) || die "building $v's $p benchmarks failed"
		done
	fi
done
go build -o "$work/interleave" ./scripts/bench/interleave

# ---- the two worlds --------------------------------------------------------------------------
unset LWTOKEN_HELPER_SOCKET LWTOKEN_HELPER_CONFIG LWTOKEN_HELPER_PROFILE
for v in old new; do
	mkdir "$work/w-$v"
	./scripts/keyring-env.sh "$0" --world "$work/bin-$v" "$work/w-$v" >"$work/w-$v.log" 2>&1 &
	pids+=("$!")
done
for v in old new; do
	for ((i = 0; i < 300; i++)); do
		XDG_RUNTIME_DIR=$work/w-$v/xdg "$work/bin-$v/lwtoken-helper" get >/dev/null 2>&1 && break
		sleep 0.1
	done
	XDG_RUNTIME_DIR=$work/w-$v/xdg "$work/bin-$v/lwtoken-helper" get >/dev/null ||
		die "the $v daemon does not serve a token: $(cat "$work/w-$v.log" "$work/w-$v/daemon.log" 2>/dev/null | tail -5)"
done
mkdir -m 700 "$work/nodaemon"

# ---- 1. whole processes ------------------------------------------------------------------------
kv load_interleave_start "$(cut -d' ' -f1-3 /proc/loadavg)"
log "whole processes: $iters interleaved iterations"
X=XDG_RUNTIME_DIR
# (help's output is read whole first: grep -q would stop reading early, and under pipefail a
# writer killed by SIGPIPE fails the test)
has_prompt() { local h; h=$("$1" help 2>&1) || true; grep -qE '^ +prompt ' <<<"$h"; }
prompt=""
if has_prompt "$work/bin-old/lwtoken-helper" && has_prompt "$work/bin-new/lwtoken-helper"; then prompt=1; fi
# Each program runs from $copies fresh copies of its file, in turn: here the same binary runs
# up to 15% faster or slower as one file than as another (the page cache's state of each file),
# which would otherwise pass for a difference between old and new. NAME~K is copy K.
cmds=()
for ((k = 1; k <= copies; k++)); do
	for v in old new; do
		b=$work/copy$k-$v
		mkdir "$b"
		cp "$work/bin-$v/lwtoken-helper" "$work/bin-$v/floor" "$b/"
		cmds+=("get.$v~$k=$X=$work/w-$v/xdg|$b/lwtoken-helper get"
			"floor.$v~$k=LWTOKEN_HELPER_SOCKET=$work/w-$v/xdg/lwtoken-helper/sock|$b/floor"
			"nodaemon.$v~$k=$X=$work/nodaemon|$b/lwtoken-helper get")
		[ -n "$prompt" ] && cmds+=("prompt.$v~$k=$X=$work/w-$v/xdg|$b/lwtoken-helper prompt")
	done
done
"$work/interleave" -n $(((iters + copies - 1) / copies)) "${cmds[@]}" >"$work/interleave.txt"
kv load_interleave_end "$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- 2. the daemons under load ---------------------------------------------------------------------
hz=$(getconf CLK_TCK)
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
kv load_seconds "$seconds"
log "daemons under load: $rounds rounds of 1, 10 and 100 clients, ${seconds}s each"
for ((r = 1; r <= rounds; r++)); do
	if ((r % 2)); then order="old new"; else order="new old"; fi
	for c in 1 10 100; do
		for v in $order; do
			dpid=$(cat "$work/w-$v/dpid")
			c0=$(cpu_ticks "$dpid")
			LWTOKEN_HELPER_SOCKET=$work/w-$v/xdg/lwtoken-helper/sock "$work/bin-$v/loadgen" -clients $c -duration "${seconds}s" >"$work/load/raw" ||
				die "loadgen against the $v daemon: $(cat "$work/load/raw")"
			c1=$(cpu_ticks "$dpid")
			python3 - "$work/load/raw" $((c1 - c0)) "$hz" >"$work/load/$v.c$c.$r.json" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
r["server_cpu_us_per_request"] = int(sys.argv[2]) * 1e6 / int(sys.argv[3]) / max(r["requests"], 1)
print(json.dumps(r))
PYEOF
		done
	done
done
rm -f "$work/load/raw"

# ---- 3. Go benchmarks ------------------------------------------------------------------------------
if ((gocount > 0)); then
	log "Go benchmarks: $gocount alternations of ./client/ and ./daemon/"
	for ((r = 1; r <= gocount; r++)); do
		if ((r % 2)); then order="old new"; else order="new old"; fi
		for v in $order; do
			for p in client daemon; do
				(cd "${tree[$v]}/$p" && "$work/go/$v-$p.test" -test.run '^$' -test.bench . -test.benchmem -test.count 1) >>"$work/go/$v.txt" 2>&1 ||
					die "the $v $p benchmarks failed: $(tail -5 "$work/go/$v.txt")"
			done
		done
	done
fi

# ---- report -------------------------------------------------------------------------------------------
kv load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
kv date "$(date -u '+%Y-%m-%d %H:%M UTC')"
kv machine "$(nproc) CPUs ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), $(uname -sr)"
kv go "$(go version | awk '{print $3, $4}')"
{
	python3 "$repo/scripts/bench/compare.py" "$work" old new
	if ((gocount > 0)); then
		printf '## Go benchmarks (%s alternations)\n\n```\n' "$gocount"
		if command -v benchstat >/dev/null; then
			(cd "$work/go" && benchstat old.txt new.txt)
		else
			echo "benchstat is not on PATH (go install golang.org/x/perf/cmd/benchstat@latest); the raw results:"
			grep -h '^Benchmark' "$work/go/old.txt" | sed 's/^/old /'
			grep -h '^Benchmark' "$work/go/new.txt" | sed 's/^/new /'
		fi
		printf '```\n'
	fi
} >"$out"
cat "$out"
log "report written to $out"
