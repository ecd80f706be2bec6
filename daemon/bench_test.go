package daemon_test

// Benchmarks of the daemon's hot path: a cached token served over the real Unix socket,
// one connection per request, the way `lwtoken-helper get` asks for it. Run with
//
//	go test -run '^$' -bench . -benchmem ./daemon/
//	go test -run '^$' -bench TokenCached -cpuprofile cpu.out ./daemon/ && go tool pprof -top cpu.out
//
// scripts/bench/run.sh measures the same path with separate processes. TestBenchDaemon
// runs the benchmarks' set-up and one request as a plain test, so `go test ./...` keeps the
// harness working; no timing is ever asserted.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/daemon"
	"github.com/lwtoken-helper/lwtoken-helper/internal/daemontest"
	"github.com/lwtoken-helper/lwtoken-helper/lwfake"
)

const (
	// benchRequest is what the thin client sends for `get` (see client/http1.go).
	benchRequest = "GET /v1/token HTTP/1.1\r\nHost: lwtoken-helper\r\n" +
		"Accept: application/json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
)

// benchDaemon is a daemon on a real socket with an in-memory keyring and the fake token
// endpoint, logging like `lwtoken-helperd run` does (text, info) but to io.Discard.
type benchDaemon struct {
	sock string
	d    *daemon.Daemon
	fake *lwfake.Server
	stop func() // shuts it down and removes its files; also run by tb.Cleanup
}

func startBenchDaemon(tb testing.TB) *benchDaemon {
	tb.Helper()
	env, err := daemontest.StartWith(daemontest.Options{
		Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		tb.Fatal(err)
	}
	stop := sync.OnceFunc(func() {
		if err := env.Close(); err != nil {
			tb.Errorf("stop: %v", err)
		}
	})
	tb.Cleanup(stop)
	return &benchDaemon{sock: env.Socket, d: env.Daemon, fake: env.Fake, stop: stop}
}

// getToken does one request on a fresh connection, like the thin client, reading the reply
// into buf. It returns an error unless the reply is a 200 carrying an access token.
func getToken(sock string, buf []byte) error {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, benchRequest); err != nil {
		return err
	}
	n := 0
	for {
		m, err := c.Read(buf[n:])
		n += m
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if n == len(buf) {
			return errors.New("reply too large")
		}
	}
	if !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 200 ")) || !bytes.Contains(buf[:n], []byte(`"access_token":"`)) {
		line, _, _ := bytes.Cut(buf[:n], []byte("\r\n"))
		return fmt.Errorf("unexpected reply: %q", line)
	}
	return nil
}

func TestBenchDaemon(t *testing.T) {
	bd := startBenchDaemon(t)
	buf := make([]byte, 4096)
	for range 3 {
		if err := getToken(bd.sock, buf); err != nil {
			t.Fatal(err)
		}
	}
	if n := bd.fake.TokenRequests(); n != 1 {
		t.Fatalf("upstream token requests: %d, want 1", n)
	}
}

// BenchmarkTokenCached: one cached-token request per connection, one client at a time.
func BenchmarkTokenCached(b *testing.B) {
	bd := startBenchDaemon(b)
	buf := make([]byte, 4096)
	if err := getToken(bd.sock, buf); err != nil { // mint, outside the timing
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := getToken(bd.sock, buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(bd.fake.TokenRequests()), "upstream")
}

// BenchmarkTokenCachedParallel: the same with GOMAXPROCS*p concurrent clients (-cpu, and
// the p sub-benchmarks).
func BenchmarkTokenCachedParallel(b *testing.B) {
	for _, p := range []int{1, 16} {
		b.Run(fmt.Sprintf("p=%d", p), func(b *testing.B) {
			bd := startBenchDaemon(b)
			if err := getToken(bd.sock, make([]byte, 4096)); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetParallelism(p)
			b.RunParallel(func(pb *testing.PB) {
				buf := make([]byte, 4096)
				for pb.Next() {
					if err := getToken(bd.sock, buf); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(bd.fake.TokenRequests()), "upstream")
		})
	}
}

// BenchmarkTokenColdHerd: 100 clients at once against a daemon with no token; every one
// must get the same single minted token (upstream must report 1 per op).
func BenchmarkTokenColdHerd(b *testing.B) {
	const clients = 100
	var upstream int64
	for b.Loop() {
		b.StopTimer()
		bd := startBenchDaemon(b)
		b.StartTimer()
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		for range clients {
			wg.Go(func() {
				if err := getToken(bd.sock, make([]byte, 4096)); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		upstream += bd.fake.TokenRequests()
		b.StopTimer()
		bd.stop()
		b.StartTimer()
	}
	b.ReportMetric(float64(upstream)/float64(b.N), "upstream/op")
}
