#!/usr/bin/env bash
# Runs every test of lwtoken-helper, the way CI does:
#   gofmt, go vet, go test -race (unit, real Secret Service, real processes, real sockets),
#   and CGO_ENABLED=0 builds for linux, darwin and windows.
# It installs what the tests need first (Debian packages via apt-get when run as root).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v dbus-daemon >/dev/null || need+=(dbus)
command -v gnome-keyring-daemon >/dev/null || need+=(gnome-keyring)
command -v runuser >/dev/null || need+=(util-linux)
# the real consumers e2e/consumers_test.go feeds tokens to (shells, prompts, completions, curl, jq, ...)
for tool in curl jq tmux zsh fish python3; do command -v "$tool" >/dev/null || need+=("$tool"); done
command -v node >/dev/null || need+=(nodejs)
if ((${#need[@]})); then
	if [ "$(id -u)" = 0 ]; then
		echo "test.sh: installing ${need[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
	else
		echo "test.sh: missing packages: ${need[*]}; run: sudo apt-get install --no-install-recommends ${need[*]}" >&2
		exit 1
	fi
fi

echo "== go mod download"
go mod download

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi

echo "== go vet"
go vet ./...
go vet -tags testhooks ./...

echo "== cross builds (CGO_ENABLED=0)"
for target in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64; do
	GOOS=${target%/*} GOARCH=${target#*/} CGO_ENABLED=0 go build -o /dev/null ./cmd/... && echo "ok   $target"
done

echo "== go test -race"
go test -race -count=1 "$@" ./...

# The service test boots a real systemd (with a per-user manager) in a container, which
# needs root (systemd-nspawn). CI runs as root; elsewhere it says so instead of passing.
echo "== systemd user service, under a real systemd (scripts/systemd-test.sh)"
if [ "$(id -u)" = 0 ]; then
	./scripts/systemd-test.sh
else
	echo "systemd-test: not run: it needs root to boot a container; run: sudo ./scripts/systemd-test.sh" >&2
fi
