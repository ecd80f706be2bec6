//go:build unix

package clientcli

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

// The error-code table of docs/protocol.md is what the daemon and the CLI do: for each
// row, the HTTP status is wire.HTTPStatus's (which the daemon answers with), and a daemon
// reply with that code makes the Go client return the named sentinel and the CLI exit with
// the given code. Every code of the protocol has a row.
func TestProtocolDocErrorTable(t *testing.T) {
	doc, err := os.ReadFile("../../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| (\\d{3}) \\| `(Err[A-Za-z]+)` \\| (\\d) \\|")
	rows := row.FindAllStringSubmatch(string(doc), -1)
	sentinels := map[string]error{"ErrBadRequest": client.ErrBadRequest, "ErrForbidden": client.ErrForbidden,
		"ErrNotConfigured": client.ErrNotConfigured, "ErrRejected": client.ErrRejected, "ErrUnavailable": client.ErrUnavailable,
		"ErrKeyring": client.ErrKeyring, "ErrProtocol": client.ErrProtocol, "ErrDaemonNotRunning": client.ErrDaemonNotRunning}

	sock := errorDaemon(t)
	c := client.Client{SocketPath: sock}
	var documented []string
	for _, r := range rows {
		code, sentinel := r[1], r[3]
		status, _ := strconv.Atoi(r[2])
		exit, _ := strconv.Atoi(r[4])
		documented = append(documented, code)
		if !slices.Contains(wire.Codes, code) {
			t.Errorf("the table documents %q, which is not a code of the protocol (wire.Codes)", code)
			continue
		}
		if got := wire.HTTPStatus(code); got != status {
			t.Errorf("%s: the daemon answers %d, the table says %d", code, got, status)
		}
		_, err := c.Token(context.Background(), client.TokenRequest{Profile: code})
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Code != code {
			t.Errorf("%s: the client returned %v", code, err)
			continue
		}
		if want, ok := sentinels[sentinel]; !ok || !errors.Is(err, want) {
			t.Errorf("%s: the client's error %v does not match %s", code, err, sentinel)
		}
		if got := exitCode(err); got != exit {
			t.Errorf("%s: the CLI exits %d, the table says %d", code, got, exit)
		}
	}
	for _, code := range wire.Codes {
		if !slices.Contains(documented, code) {
			t.Errorf("error code %q has no row in docs/protocol.md's table", code)
		}
	}
}

// errorDaemon serves a socket that answers every token request with the error whose code
// is the profile asked for, with the HTTP status the daemon uses for it.
func errorDaemon(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "lwpd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := r.URL.Query().Get(wire.ParamProfile)
		b, _ := json.Marshal(wire.Error{Error: "failed with " + code, Code: code, Hint: "a hint"})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(wire.HTTPStatus(code))
		w.Write(b)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sock
}
