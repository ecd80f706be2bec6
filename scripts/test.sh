#!/usr/bin/env bash
# Runs every test of lwtoken-helper, the way CI does:
#   gofmt, go mod tidy -diff, go vet (linux, darwin, windows), staticcheck, govulncheck,
#   go test -race (unit, real Secret Service, real processes, real sockets),
#   and CGO_ENABLED=0 builds for linux, darwin and windows.
# It installs what the tests need first (Debian packages via apt-get when run as root).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v dbus-daemon >/dev/null || need+=(dbus)
command -v gnome-keyring-daemon >/dev/null || need+=(gnome-keyring)
command -v runuser >/dev/null || need+=(util-linux)
# systemd-creds and systemd-analyze for the --system-user tests (internal/sdcreds, internal/daemoncli)
command -v systemd-creds >/dev/null || need+=(systemd)
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

echo "== go mod tidy -diff"
go mod tidy -diff

echo "== go vet (linux; darwin and windows too: their build-tagged files are only checked there)"
go vet ./...
go vet -tags testhooks ./...
for target in darwin/arm64 windows/amd64; do
	GOOS=${target%/*} GOARCH=${target#*/} CGO_ENABLED=0 go vet ./...
	GOOS=${target%/*} GOARCH=${target#*/} CGO_ENABLED=0 go vet -tags testhooks ./...
done

# Linters at pinned versions, installed with `go install` into a per-version directory.
STATICCHECK_VERSION=v0.8.2 # staticcheck 2026.2.2
GOVULNCHECK_VERSION=v1.9.0
tools="$(go env GOPATH)/lwtoken-helper-ci-tools"
install_tool() { # install_tool NAME PACKAGE VERSION
	if [ ! -x "$tools/$1-$3/$1" ]; then
		GOBIN="$tools/$1-$3" go install "$2@$3"
	fi
}

echo "== staticcheck $STATICCHECK_VERSION"
install_tool staticcheck honnef.co/go/tools/cmd/staticcheck "$STATICCHECK_VERSION"
"$tools/staticcheck-$STATICCHECK_VERSION/staticcheck" ./...
"$tools/staticcheck-$STATICCHECK_VERSION/staticcheck" -tags testhooks ./...

# govulncheck needs the Go vulnerability database (vuln.go.dev, or a copy named by
# GOVULNDB). Where it cannot be reached the check is reported as not run, never as passed.
echo "== govulncheck $GOVULNCHECK_VERSION"
install_tool govulncheck golang.org/x/vuln/cmd/govulncheck "$GOVULNCHECK_VERSION"
vulnout=$(mktemp)
if "$tools/govulncheck-$GOVULNCHECK_VERSION/govulncheck" ${GOVULNDB:+-db "$GOVULNDB"} ./... >"$vulnout" 2>&1; then
	cat "$vulnout"
elif grep -q "fetching vulnerabilities" "$vulnout"; then
	echo "govulncheck: NOT RUN: the vulnerability database is not reachable from here ($(grep -m1 -o 'Get "[^"]*"' "$vulnout" || echo "${GOVULNDB:-https://vuln.go.dev}")); set GOVULNDB to a local copy to run it"
else
	cat "$vulnout" >&2
	rm -f "$vulnout"
	exit 1
fi
rm -f "$vulnout"

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

# The server test (issue 10) boots Debian 12 and 13 containers: the system service with
# systemd credentials, reboots, a second machine, and the per-user user-credentials mode.
echo "== servers: system service and user credentials, under a real systemd (scripts/systemd-server-test.sh)"
if [ "$(id -u)" = 0 ]; then
	./scripts/systemd-server-test.sh
else
	echo "systemd-server-test: not run: it needs root to boot containers; run: sudo ./scripts/systemd-server-test.sh" >&2
fi
