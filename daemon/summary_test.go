package daemon

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/lwfake"
)

// statusLog records what Options.OnStatus is called with.
type statusLog struct {
	mu   sync.Mutex
	seen []string
}

func (l *statusLog) report(s string) {
	l.mu.Lock()
	l.seen = append(l.seen, s)
	l.mu.Unlock()
}

func (l *statusLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.seen...)
}

func (l *statusLog) last() string {
	s := l.all()
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

// startWatched restarts h's daemon the way `lwtoken-helperd run` does under systemd:
// OnStatus set, Listen, then Preload and Serve concurrently.
func startWatched(t *testing.T, h *harness) *statusLog {
	t.Helper()
	l := &statusLog{}
	h.restart(launch{options: func(o *Options) { o.OnStatus = l.report }, asyncPreload: true})
	return l
}

func TestStatusSummaryFollowsTheCache(t *testing.T) {
	h := newHarness(t)
	l := startWatched(t, h)
	// While the preload reads the keyring: "ready, 1 profile, no token cached yet, 1 being
	// fetched"; then, as there is no stored token:
	waitFor(t, "the summary after the preload", func() bool { return l.last() == "ready, 1 profile, no token cached yet" })

	// A first token: reported right after the request, with the renewal time (50% jitter
	// of the 75-85% window: 80% of 24 h).
	tok := h.mustGet(client.TokenRequest{})
	renew := clockTime(h.clock.Now().Add(24*time.Hour*8/10), h.clock.Now())
	want := "1 token valid, next renewal " + renew
	waitFor(t, "a summary with the token", func() bool { return l.last() == want })
	if strings.Contains(strings.Join(l.all(), "\n"), tok.AccessToken) {
		t.Fatal("a summary holds the token")
	}

	// Served from the cache: nothing changes, nothing is reported.
	n := len(l.all())
	h.mustGet(client.TokenRequest{})
	h.mustGet(client.TokenRequest{})
	time.Sleep(50 * time.Millisecond)
	if got := l.all(); len(got) != n {
		t.Fatalf("reports without a change: %q", got[n:])
	}

	// A failing renewal after the renewal time: the summary says so and when it retries.
	h.fake.FailNext(-1, lwfake.Failure{Status: 503})
	h.clock.Advance(20 * time.Hour)
	h.mustGet(client.TokenRequest{}) // late: renews in the background, serves the cached token
	waitFor(t, "a failing summary", func() bool { return strings.Contains(l.last(), "1 failing (default: ") })
	if s := l.last(); !strings.HasPrefix(s, "1 token valid, 1 failing (default: ") || !strings.Contains(s, "503") ||
		!strings.Contains(s, "next attempt ") {
		t.Fatalf("failing summary %q", s)
	}

	// Recovery comes from the broker's own retry timer, with no request: reported as well.
	h.fake.ClearFailures()
	waitFor(t, "recovery without a request", func() bool {
		s := l.last()
		return strings.HasPrefix(s, "1 token valid, next renewal ") && !strings.Contains(s, "failing")
	})

	// A reload that removes the profile (the SIGHUP path: no request tells the watcher).
	h.writeConfig(&config.Config{Profiles: map[string]*config.Profile{}})
	if err := h.d.Reload(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the summary after reload", func() bool { return strings.HasPrefix(l.last(), "no profile configured") })
}

func TestStatusWatchIdleWithoutTokens(t *testing.T) {
	h := newHarness(t)
	// No token stored: the preload finds nothing, and nothing is scheduled.
	l := startWatched(t, h)
	const idle = "ready, 1 profile, no token cached yet"
	waitFor(t, "the preload to end", func() bool { return l.last() == idle && h.d.StatusSummary() == idle })
	n := len(l.all())
	time.Sleep(200 * time.Millisecond)
	if got := l.all(); len(got) != n {
		t.Fatalf("reports while idle: %q", got[n:])
	}
}

func TestClockTimeAndClip(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.Local)
	if got := clockTime(now.Add(3*time.Hour+52*time.Minute), now); got != "13:52" {
		t.Fatalf("same day: %q", got)
	}
	if got := clockTime(now.Add(20*time.Hour), now); got != "Mar 2 06:00" {
		t.Fatalf("next day: %q", got)
	}
	if got := clip("a\nb  c", 10); got != "a b c" {
		t.Fatalf("clip: %q", got)
	}
	if got := clip(strings.Repeat("é", 100), 5); got != "ééééé..." {
		t.Fatalf("clip runes: %q", got)
	}
}
