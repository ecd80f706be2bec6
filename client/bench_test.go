package client

// Benchmarks of the client's hot path: parsing the daemon's reply, and a whole Token call
// over a real Unix socket against a canned server (so only the client's own cost and the
// kernel's are measured; daemon/bench_test.go measures the daemon). Run with
//
//	go test -run '^$' -bench . -benchmem ./client/
//
// TestBenchCannedReply runs the same code once as a plain test; no timing is asserted.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

var benchToken = wire.Token{AccessToken: "kWxTjV2oQ9sPq4ZcYb8nRm3LdA7fHgE1uI6yT5rW0xS", TokenType: "Bearer",
	Scope: "bot user.read", ExpiresAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), Profile: "default"}

// cannedReply is a token reply shaped like the daemon's (net/http's headers, JSON body).
func cannedReply(tb testing.TB) []byte {
	body, err := json.Marshal(benchToken)
	if err != nil {
		tb.Fatal(err)
	}
	body = append(body, '\n')
	return []byte("HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Length: " + strconv.Itoa(len(body)) +
		"\r\nContent-Type: application/json\r\nDate: Wed, 01 Jan 2030 00:00:00 GMT\r\nConnection: close\r\n\r\n" + string(body))
}

// cannedServer answers every connection on a fresh Unix socket with reply, after reading
// the request head. It stops when the test ends.
func cannedServer(tb testing.TB, reply []byte) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "lwcb") // short: socket paths are limited to 104 bytes on macOS
	if err != nil {
		tb.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		os.RemoveAll(dir)
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadSlice('\n')
					if err != nil {
						return
					}
					if len(bytes.TrimSpace(line)) == 0 {
						break
					}
				}
				c.Write(reply)
			}()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		<-done
		os.RemoveAll(dir)
	})
	return sock
}

func TestBenchCannedReply(t *testing.T) {
	reply := cannedReply(t)
	status, body, err := readResponse(bufio.NewReader(bytes.NewReader(reply)))
	if err != nil || status != 200 || !strings.Contains(string(body), benchToken.AccessToken) {
		t.Fatalf("readResponse: %d %q %v", status, body, err)
	}
	c := Client{SocketPath: cannedServer(t, reply)}
	tok, err := c.Token(context.Background(), TokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if *tok != tokenFrom(&benchToken) {
		t.Fatalf("Token = %+v, want %+v", *tok, benchToken)
	}
}

// BenchmarkReadResponse: status line, headers and body of a token reply.
func BenchmarkReadResponse(b *testing.B) {
	reply := cannedReply(b)
	rd := bytes.NewReader(reply)
	br := bufio.NewReaderSize(rd, 4096)
	b.SetBytes(int64(len(reply)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(reply)
		br.Reset(rd)
		if status, _, err := readResponse(br); err != nil || status != 200 {
			b.Fatal(status, err)
		}
	}
}

// BenchmarkDecodeToken: the JSON body into a Token, by Client.Token's decoder and by
// encoding/json (its fallback, which decodes the wire type and converts). In a fresh
// process the difference is larger: encoding/json first builds its reflection caches.
func BenchmarkDecodeToken(b *testing.B) {
	body, _ := json.Marshal(benchToken)
	want := tokenFrom(&benchToken)
	for _, d := range []struct {
		name   string
		decode func([]byte, *Token) error
	}{
		{"decodeToken", decodeToken},
		{"encoding-json", func(b []byte, t *Token) error {
			var w wire.Token
			err := json.Unmarshal(b, &w)
			*t = tokenFrom(&w)
			return err
		}},
	} {
		b.Run(d.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var t Token
				if err := d.decode(body, &t); err != nil || t != want {
					b.Fatal(t, err)
				}
			}
		})
	}
}

// BenchmarkToken: a whole Client.Token call (dial, request, reply, decode) on a real socket.
func BenchmarkToken(b *testing.B) {
	c := Client{SocketPath: cannedServer(b, cannedReply(b))}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Token(ctx, TokenRequest{}); err != nil {
			b.Fatal(err)
		}
	}
}
