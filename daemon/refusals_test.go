package daemon

import (
	"errors"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRefusalLogBoundsAFlood: a flood of refused connections from a few uids becomes one
// full line per uid and one summary line per uid and interval; the counts add up; a uid
// quiet for an interval is logged in full again; uids beyond the bound are counted
// together (issue 12, item 10). The test ends each interval itself (flush, which the
// timer calls in the daemon), so a loaded machine that pauses the flood or delays the
// timer cannot add or drop an interval; TestRefusalLogTimer covers the timer.
func TestRefusalLogBoundsAFlood(t *testing.T) {
	lb := &logBuf{}
	r := newRefusalLog(slog.New(slog.NewTextHandler(lb, nil)), time.Hour)
	const flood = 50000
	intervals := 0
	for i := 0; i < flood; i++ {
		r.refused(12345, 1000+i, nil)
		if i%10 == 0 {
			r.refused(54321, 7, nil)
		}
		if i%1000 == 0 {
			r.refused(0, 0, errors.New("bad creds"))
		}
		if i%5000 == 4999 { // the flood spans several intervals
			r.flush()
			intervals++
		}
	}
	r.flush() // a quiet interval: forgotten
	intervals++
	r.refused(12345, 1, nil)
	r.close()
	count := regexp.MustCompile(` count=(\d+) `)
	for _, c := range []struct {
		key  string
		want int
	}{{"peer_uid=12345 ", flood + 1}, {"peer_uid=54321 ", flood / 10}, {"cannot read peer credentials", flood / 1000}} {
		n, full := 0, 0
		lines := lb.lines(c.key)
		for _, l := range lines {
			if m := count.FindStringSubmatch(l); m != nil {
				k, _ := strconv.Atoi(m[1])
				n += k
			} else {
				n++
				full++
			}
		}
		if n != c.want {
			t.Errorf("%s: %d refusals counted, want %d:\n%s", c.key, n, c.want, strings.Join(lines, "\n"))
		}
		if len(lines) > intervals+2 {
			t.Errorf("%s: %d lines over %d intervals", c.key, len(lines), intervals)
		}
		t.Logf("%s: %d refusals in %d lines (%d in full) over %d intervals", c.key, c.want, len(lines), full, intervals)
	}
	if full := lb.lines(`connection refused: peer is another user" peer_uid=12345 `); len(full) != 2 {
		t.Errorf("uid 12345 logged in full %d times, want 2 (first, and after a quiet interval):\n%s", len(full), lb)
	}

	// Beyond maxRefusalUIDs distinct uids, the rest are counted together.
	lb2 := &logBuf{}
	r2 := newRefusalLog(slog.New(slog.NewTextHandler(lb2, nil)), time.Hour)
	for uid := 1; uid <= maxRefusalUIDs+100; uid++ {
		r2.refused(uid, uid, nil)
	}
	r2.close()
	if n := len(lb2.lines("connection refused: peer is another user")); n != maxRefusalUIDs {
		t.Errorf("%d full lines, want %d", n, maxRefusalUIDs)
	}
	if s := lb2.lines("peer_uid=other"); len(s) != 1 || !strings.Contains(s[0], " count=100 ") {
		t.Errorf("uids beyond the bound: %q", s)
	}
}

// The timer ends the intervals on its own: refusals after a uid's first line are summed up
// within about one interval, and a uid quiet for an interval is forgotten and the timer
// stopped.
func TestRefusalLogTimer(t *testing.T) {
	lb := &logBuf{}
	r := newRefusalLog(slog.New(slog.NewTextHandler(lb, nil)), 20*time.Millisecond)
	defer r.close()
	r.refused(12345, 1, nil)
	r.refused(12345, 2, nil)
	r.refused(12345, 3, nil)
	waitFor(t, "the summary", func() bool { return len(lb.lines("peer_uid=12345 count=2 last_peer_pid=3 ")) == 1 })
	waitFor(t, "the quiet uid forgotten", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.uids) == 0 && r.timer == nil
	})
	if n := len(lb.lines("peer_uid=12345")); n != 2 {
		t.Errorf("%d lines, want the full one and the summary:\n%s", n, lb)
	}
}
