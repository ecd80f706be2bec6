package client

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

// countingReader counts what readResponse takes from the connection.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// FuzzReadResponse feeds arbitrary bytes, as a broken or hostile socket would, to the
// client's HTTP/1.1 reply parser: it must not panic, must accept only a status in
// 100..599 with a body of exactly Content-Length bytes (at most wire.MaxResponseBytes),
// must read at most a bounded amount, and must round-trip every reply the daemon sends.
func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
		"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 44\r\nLwtoken-Helper-Version: 1\r\n\r\n{\"error\":\"line works down\",\"code\":\"unavailable\"}",
		"HTTP/1.0 404 Not Found\nContent-Length: 0\n\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 2\r\n\r\n{}",
		"HTTP/1.1 2000\r\n\r\n", "HTTP/2 200\r\n\r\n", "SSH-2.0-OpenSSH_9.2\r\n", "", "\r\n\r\n",
		"HTTP/1.1 200 OK\r\n" + strings.Repeat("X: y\r\n", 70) + "Content-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 5000) + "\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cr := &countingReader{r: bytes.NewReader(data)}
		status, body, err := readResponse(bufio.NewReaderSize(cr, 4096))
		// Status line, 65 header lines of at most 4 KiB, the body, and one buffer ahead.
		if limit := 67*4096 + wire.MaxResponseBytes + 4096; cr.n > limit {
			t.Fatalf("read %d bytes, more than %d", cr.n, limit)
		}
		if err != nil {
			if status != 0 || body != nil {
				t.Fatalf("error %v with status %d and a body", err, status)
			}
			return
		}
		if status < 100 || status > 599 {
			t.Fatalf("accepted status %d", status)
		}
		if len(body) > wire.MaxResponseBytes {
			t.Fatalf("accepted a body of %d bytes", len(body))
		}
		if !bytes.Contains(data, body) {
			t.Fatal("the body is not from the input")
		}
	})
}

// FuzzReadResponseRoundTrip checks that every reply of the shape the daemon writes
// (status, a few headers, a JSON body with Content-Length) parses back exactly.
func FuzzReadResponseRoundTrip(f *testing.F) {
	f.Add(200, []byte(`{"access_token":"x"}`), "application/json")
	f.Add(503, []byte(`{"error":"e","code":"unavailable"}`), "")
	f.Add(100, []byte{}, "text/plain; charset=utf-8")
	f.Fuzz(func(t *testing.T, status int, body []byte, ctype string) {
		if status < 100 || status > 599 || len(body) > wire.MaxResponseBytes || strings.ContainsAny(ctype, "\r\n") {
			return
		}
		reply := fmt.Sprintf("HTTP/1.1 %d Whatever\r\nContent-Type: %s\r\nContent-Length: %d\r\nCache-Control: no-store\r\n\r\n", status, ctype, len(body))
		gotStatus, gotBody, err := readResponse(bufio.NewReader(io.MultiReader(strings.NewReader(reply), bytes.NewReader(body))))
		if err != nil || gotStatus != status || !bytes.Equal(gotBody, body) {
			t.Fatalf("round trip: %d %q %v, want %d %q", gotStatus, gotBody, err, status, body)
		}
		// Cut anywhere before the end: an error, never a short body. (A reply cut just
		// before its blank line's final "\n" still parses: bufio.ReadLine returns the last
		// line at EOF. Harmless, since the body's length comes from Content-Length.)
		full := append([]byte(reply), body...)
		for _, cut := range []int{0, len(reply) / 2, len(reply) - 2, len(full) - 1} {
			if cut < 0 || cut >= len(full) || (len(body) == 0 && cut == len(reply)-1) {
				continue
			}
			_, b, err := readResponse(bufio.NewReader(bytes.NewReader(full[:cut])))
			if err == nil {
				t.Fatalf("a reply cut at %d of %d bytes parsed (body %q)", cut, len(full), b)
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) && !errors.Is(err, errMalformed) {
				t.Fatalf("cut reply: unexpected error %v", err)
			}
		}
	})
}
