package daemon

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

// routeReply sends method path with no body on a new connection and parses the reply.
func routeReply(t *testing.T, sock, method, path string) (*http.Response, wire.Error, []byte) {
	t.Helper()
	raw := rawReply(t, sock, method+" "+path+" HTTP/1.1\r\nHost: "+wire.Host+"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("%s %s: %v in %q", method, path, err, raw)
	}
	body, _ := io.ReadAll(res.Body)
	var we wire.Error
	if res.StatusCode != 200 {
		if err := json.Unmarshal(body, &we); err != nil || res.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s %s: status %d, not a JSON error: %q", method, path, res.StatusCode, body)
		}
	}
	return res, we, body
}

// Every route of the table is served, with the method the table gives.
func TestEveryRouteOfTheTableIsServed(t *testing.T) {
	h := newHarness(t)
	for _, rt := range wire.Routes {
		res, we, body := routeReply(t, h.sock, rt.Method, rt.Path)
		if res.StatusCode != 200 {
			t.Errorf("%s: status %d %+v", rt.Pattern(), res.StatusCode, we)
		}
		if !json.Valid(body) {
			t.Errorf("%s: not JSON: %q", rt.Pattern(), body)
		}
	}
}

// Anything else is a JSON error with code unknown_route: 404 for a path that is no route
// (what a client newer than the daemon meets), 405 with Allow for a route's path asked
// with another method.
func TestUnknownRoutesAnswerJSON(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/v2/token", 404, ""},
		{"GET", "/", 404, ""},
		{"GET", wire.PathToken + "/", 404, ""},
		{"POST", wire.PathToken, 405, "GET"},
		{"DELETE", wire.PathStatus, 405, "GET"},
		{"GET", wire.PathRevoke, 405, "POST"},
		{"GET", wire.PathReload, 405, "POST"},
	} {
		res, we, _ := routeReply(t, h.sock, c.method, c.path)
		if res.StatusCode != c.status || we.Code != wire.CodeUnknownRoute || we.Error == "" || we.Hint == "" ||
			res.Header.Get("Allow") != c.allow {
			t.Errorf("%s %s: status %d, allow %q, %+v", c.method, c.path, res.StatusCode, res.Header.Get("Allow"), we)
		}
	}
	if n := h.fake.TokenRequests(); n != 0 {
		t.Fatalf("%d token requests", n)
	}
}
