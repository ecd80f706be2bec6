# shellcheck shell=bash
# nspawn.sh: what the real-systemd tests share (sourced, not run): host packages, checks
# and their tally, Debian trees cached as tar.zst, and booting, driving and powering off
# systemd-nspawn containers (several per run, each in its own cgroup).
#
# The sourcing script sets NS_PROG (its name in messages) and NS_WORK (a private work
# directory that ns_cleanup removes), and calls ns_cleanup from its EXIT trap.
#
#   ns_tree SUITE PACKAGES      prints the cached tarball of a minbase SUITE tree with PACKAGES,
#                               building it with debootstrap once (atomic: temp file + rename)
#   ns_unpack TARBALL DIR       a fresh tree
#   ns_boot NAME DIR [ARGS...]  boots DIR as machine NAME (extra systemd-nspawn ARGS) and waits
#                               until it runs; sets pid1 (the container's systemd) for in_ct
#   ns_poweroff NAME            clean poweroff, waits for nspawn to exit
#   in_ct CMD...                runs CMD in the current container (nsenter into pid1)

readonly NS_CACHE_DIR=${LWTOKEN_CI_CACHE:-/var/cache/lwtoken-helper-ci}

log() { printf '%s: %s\n' "$NS_PROG" "$*"; }
die() {
	printf '%s: error: %s\n' "$NS_PROG" "$*" >&2
	exit 1
}
now_ms() { date +%s%3N; }

# ---- checks
passed=0 failed=0 failures=()
pass() {
	passed=$((passed + 1))
	printf 'ok    %s\n' "$1"
}
fail() {
	failed=$((failed + 1))
	failures+=("$1")
	printf 'FAIL  %s\n' "$1"
	shift
	local line
	for line in "$@"; do printf '      %s\n' "$line"; done
}
# check NAME CMD...: passes when CMD succeeds; on failure prints CMD's output.
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		pass "$name"
	else
		fail "$name" "${out:0:2000}"
	fi
}
# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds or SECONDS have passed.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}
# ns_summary START_MS: prints the tally; returns non-zero when a check failed.
ns_summary() {
	echo
	local f
	for f in "${failures[@]}"; do printf '%s: failed: %s\n' "$NS_PROG" "$f"; done
	echo "$NS_PROG: took $((($(now_ms) - $1) / 1000)) s"
	echo "$NS_PROG: $passed passed, $failed failed"
	((failed == 0))
}

# ---- host packages
ns_host_packages() {
	local need=()
	command -v systemd-nspawn >/dev/null || need+=(systemd-container)
	command -v debootstrap >/dev/null || need+=(debootstrap)
	command -v zstd >/dev/null || need+=(zstd)
	command -v openssl >/dev/null || need+=(openssl)
	command -v curl >/dev/null || need+=(curl)
	if ((${#need[@]})); then
		log "installing ${need[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
			{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
	fi
}

# ---- Debian trees, cached
ns_mirror() {
	local f uri
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[[ -r $f ]] || continue
		# deb822 "URIs:" lines and one-line "deb URI suite ..." entries; skip security mirrors.
		uri=$(awk '/^[[:space:]]*URIs:/ {for (i = 2; i <= NF; i++) print $i}
			/^[[:space:]]*deb[[:space:]]/ {for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) {print $i; break}}' "$f" |
			grep -v -- '-security' | head -n1 || true)
		[[ -n $uri ]] && { echo "$uri"; return; }
	done
	echo http://deb.debian.org/debian
}

ns_tree() {
	local suite=$1 packages=$2 key tarball src t0 build
	key=$(printf '%s %s' "$suite" "$packages" | sha256sum | cut -c1-12)
	tarball=$NS_CACHE_DIR/$suite-systemd-$key.tar.zst
	mkdir -p "$NS_CACHE_DIR"
	(
		flock 9 # one builder at a time; others wait and then find the tarball
		if [[ ! -s $tarball ]]; then
			src=$(ns_mirror)
			log "no cached $suite tree: debootstrap from $src (about a minute, once)" >&2
			t0=$(now_ms)
			build=$(mktemp -d "$NS_CACHE_DIR/build.XXXXXX")
			if ! debootstrap --variant=minbase --include="$packages" "$suite" "$build" "$src" >"$NS_WORK/debootstrap-$suite.log" 2>&1; then
				tail -n 20 "$NS_WORK/debootstrap-$suite.log" >&2
				rm -rf "$build"
				exit 1
			fi
			chmod 755 "$build" # mktemp made it 0700: it becomes the container's /
			rm -rf "$build"/usr/share/{doc,man,info,locale,icons} "$build"/var/cache/apt/*.bin "$build"/var/lib/apt/lists/* "$build"/var/cache/debconf/*-old
			tar --zstd -cf "$tarball.tmp.$$" -C "$build" . && mv "$tarball.tmp.$$" "$tarball"
			rm -rf "$build"
			log "cached $(du -h "$tarball" | cut -f1) $suite tree in $tarball ($((($(now_ms) - t0) / 1000)) s)" >&2
		fi
	) 9>"$NS_CACHE_DIR/.lock" || die "debootstrap $suite failed (log above)"
	echo "$tarball"
}

ns_unpack() {
	mkdir "$2"
	tar --zstd -xf "$1" -C "$2"
	chmod 755 "$2"
}

# ---- containers
declare -A ns_nspawn=() ns_cgroups=()
pid1=""

ns_boot() {
	local name=$1 dir=$2 cg cgs=()
	shift 2
	if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
		cgs=("/sys/fs/cgroup/ci-$name") # unified hierarchy
	else
		cgs=("/sys/fs/cgroup/systemd/ci-$name")
		[[ -d /sys/fs/cgroup/unified ]] && cgs+=("/sys/fs/cgroup/unified/ci-$name") # hybrid
	fi
	for cg in "${cgs[@]}"; do mkdir -p "$cg"; done
	ns_cgroups[$name]="${cgs[*]}"
	(
		for cg in "${cgs[@]}"; do echo "$BASHPID" >"$cg/cgroup.procs"; done
		exec systemd-nspawn -q -b -D "$dir" -M "$name" --register=no --keep-unit --console=read-only "$@"
	) >"$NS_WORK/console-$name.log" 2>&1 </dev/null &
	ns_nspawn[$name]=$!
	pid1=""
	local np=$! c children=() state=""
	find_pid1() {
		read -ra children <"/proc/$np/task/$np/children" 2>/dev/null || true # no final newline
		for c in "${children[@]}"; do
			[[ $(cat "/proc/$c/comm" 2>/dev/null) == systemd ]] && { pid1=$c; return 0; }
		done
		return 1
	}
	wait_for 30 find_pid1 || die "$name: the container's systemd did not start: $(tail -n 20 "$NS_WORK/console-$name.log")"
	booted() { # the system bus may not be up yet: retry until systemctl gets an answer
		state=$(timeout 20 nsenter -t "$pid1" -a -- systemctl is-system-running --wait 2>&1) || true
		[[ $state == running || $state == degraded ]]
	}
	wait_for 60 booted || die "$name: the container did not finish booting: $state"
}

in_ct() { nsenter -t "$pid1" -a -- "$@"; }

ns_poweroff() {
	local name=$1 np=${ns_nspawn[$1]:-} cg i
	if [[ -n $np ]] && kill -0 "$np" 2>/dev/null; then
		kill -TERM "$np" 2>/dev/null # nspawn asks the container's systemd to power off
		for ((i = 0; i < 100; i++)); do kill -0 "$np" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$np" 2>/dev/null || true
		wait "$np" 2>/dev/null || true
	fi
	unset "ns_nspawn[$name]"
	rm -rf "/run/systemd/nspawn/propagate/$name"
	for cg in ${ns_cgroups[$name]:-}; do
		[[ -d $cg ]] && { find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true; }
		[[ -d $cg ]] && log "warning: could not remove cgroup $cg"
	done
	unset "ns_cgroups[$name]"
	return 0
}

# ns_cleanup: powers off every container still running and removes the work directory.
ns_cleanup() {
	local name
	for name in "${!ns_nspawn[@]}"; do ns_poweroff "$name"; done
	for name in "${!ns_cgroups[@]}"; do ns_poweroff "$name"; done
	rm -rf "$NS_WORK"
}
