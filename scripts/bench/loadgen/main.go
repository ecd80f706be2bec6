//go:build unix

// Command loadgen drives lwtoken-helperd over its real Unix socket with N concurrent
// clients, each doing what `lwtoken-helper get` does on the wire: dial, one GET /v1/token
// with Connection: close, read the whole reply, hang up. It prints one JSON object: requests,
// errors, requests per second, and latency percentiles (dial to last byte).
//
// All clients start together (a barrier), so a run against a cold daemon is a thundering
// herd. The run is bounded: by -duration, or by -requests in all (split among the clients).
//
// Without -rate each client sends its next request as soon as the last one is answered (a
// closed loop: it measures the most the daemon can serve, and latency there is mostly time
// spent queueing, N clients / throughput). With -rate R the clients together send R requests
// per second on a fixed schedule whatever the answers (an open loop), and latency counts from
// when a request was due, so a server that falls behind shows it (no coordinated omission).
//
// It also reports its own CPU time per request (the load generator shares the machine with
// the daemon). Built and run by scripts/bench/run.sh.
//
// Usage:
//
//	loadgen -socket PATH -clients 100 -duration 3s
//	loadgen -socket PATH -clients 100 -duration 3s -rate 20000
//	loadgen -socket PATH -clients 1000 -requests 1000
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"
)

const request = "GET /v1/token HTTP/1.1\r\nHost: lwtoken-helper\r\nAccept: application/json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

type result struct {
	Clients    int            `json:"clients"`
	Rate       float64        `json:"rate,omitempty"` // asked for (open loop); 0: closed loop
	Requests   int            `json:"requests"`
	Errors     int            `json:"errors"`
	ErrKinds   map[string]int `json:"error_kinds,omitempty"`
	Seconds    float64        `json:"seconds"`
	RPS        float64        `json:"rps"`
	P50us      float64        `json:"p50_us"`
	P90us      float64        `json:"p90_us"`
	P99us      float64        `json:"p99_us"`
	Maxus      float64        `json:"max_us"`
	CPUusPerRq float64        `json:"loadgen_cpu_us_per_request"`
}

func main() {
	sock := flag.String("socket", os.Getenv("LWTOKEN_HELPER_SOCKET"), "daemon socket `path`")
	clients := flag.Int("clients", 1, "concurrent clients")
	duration := flag.Duration("duration", 0, "run this long (bounded at 10m)")
	requests := flag.Int("requests", 0, "or send this many requests in all (bounded at 10,000,000)")
	rate := flag.Float64("rate", 0, "open loop: send this many requests per second in all (with -duration); 0: closed loop")
	timeout := flag.Duration("timeout", 10*time.Second, "per-request deadline")
	flag.Parse()
	if *sock == "" || *clients < 1 || *clients > 100000 || (*duration <= 0) == (*requests <= 0) ||
		*duration > 10*time.Minute || *requests > 10_000_000 || *rate < 0 || (*rate > 0 && *duration <= 0) {
		fmt.Fprintln(os.Stderr, "loadgen: need -socket, 1 <= -clients <= 100000, and exactly one of -duration (<= 10m) or -requests (<= 1e7); -rate needs -duration")
		os.Exit(2)
	}
	r := run(*sock, *clients, *duration, *requests, *rate, *timeout)
	json.NewEncoder(os.Stdout).Encode(r)
	if r.Errors > 0 {
		os.Exit(1)
	}
}

type worker struct {
	lat  []time.Duration
	errs map[string]int
}

func run(sock string, clients int, duration time.Duration, requests int, rate float64, timeout time.Duration) result {
	ws := make([]worker, clients)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	var t0, deadline time.Time
	var interval time.Duration // per client, open loop
	if rate > 0 {
		interval = time.Duration(float64(clients) / rate * float64(time.Second))
	}
	for i := range ws {
		n := -1 // until the deadline
		if requests > 0 {
			n = requests / clients
			if i < requests%clients {
				n++
			}
		}
		w := &ws[i]
		w.lat = make([]time.Duration, 0, max(n, 1024))
		w.errs = map[string]int{}
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			buf := make([]byte, 4096)
			ready.Done()
			<-start
			// Open loop: client i sends at t0 + i*interval/clients + k*interval.
			due := t0.Add(interval * time.Duration(i) / time.Duration(clients))
			for k := 0; n < 0 || k < n; k++ {
				now := time.Now()
				if n < 0 && !now.Before(deadline) {
					return
				}
				begin := now
				if interval > 0 {
					if d := due.Sub(now); d > 0 {
						time.Sleep(d)
					}
					begin = due
					due = due.Add(interval)
					if !begin.Before(deadline) {
						return
					}
				}
				if err := once(sock, buf, time.Now().Add(timeout)); err != nil {
					w.errs[kind(err)]++
					continue
				}
				w.lat = append(w.lat, time.Since(begin))
			}
		}()
	}
	ready.Wait()
	cpu0 := cpuTime()
	t0 = time.Now()
	deadline = t0.Add(duration)
	close(start)
	done.Wait()
	elapsed := time.Since(t0)
	cpu := cpuTime() - cpu0

	var all []time.Duration
	r := result{Clients: clients, Rate: rate, Seconds: elapsed.Seconds(), ErrKinds: map[string]int{}}
	for _, w := range ws {
		all = append(all, w.lat...)
		for k, v := range w.errs {
			r.ErrKinds[k] += v
			r.Errors += v
		}
	}
	slices.Sort(all)
	r.Requests = len(all)
	r.RPS = float64(len(all)) / elapsed.Seconds()
	r.P50us, r.P90us, r.P99us = pct(all, 50), pct(all, 90), pct(all, 99)
	if len(all) > 0 {
		r.Maxus = us(all[len(all)-1])
		r.CPUusPerRq = us(cpu) / float64(len(all))
	}
	return r
}

// cpuTime is the user plus system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var okStatus = []byte("HTTP/1.1 200 ")

// once does one request on a fresh connection and checks for a 200 with a body.
func once(sock string, buf []byte, deadline time.Time) error {
	c, err := net.DialTimeout("unix", sock, time.Until(deadline))
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(deadline)
	if _, err := io.WriteString(c, request); err != nil {
		return err
	}
	n := 0
	for {
		m, err := c.Read(buf[n:])
		n += m
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if n == len(buf) {
			return errors.New("reply too large")
		}
	}
	if !bytes.HasPrefix(buf[:n], okStatus) {
		line, _, _ := bytes.Cut(buf[:n], []byte("\r\n"))
		return fmt.Errorf("status: %s", line)
	}
	if !bytes.Contains(buf[:n], []byte(`"access_token":"`)) {
		return errors.New("no access_token in the reply")
	}
	return nil
}

func kind(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	}
	s := err.Error()
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}

func pct(sorted []time.Duration, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100 // nearest rank
	return us(sorted[max(i-1, 0)])
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
