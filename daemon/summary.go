package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/keystore"
)

// maxSummaryError bounds how much of a failing profile's last error the summary quotes.
const maxSummaryError = 120

// StatusSummary returns one line on the health of the token cache, for a service manager's
// status line (systemd's STATUS=): for example "2 tokens valid, next renewal 13:52" or
// "1 token valid, 1 failing (ops: line works unavailable ...), next attempt 13:40". Times
// are local wall-clock times, so the line changes only when the cache does. It holds no
// token, fingerprint or secret.
func (d *Daemon) StatusSummary() string {
	s := d.summarize(d.now())
	return s.text
}

// watchStatus starts the goroutine behind Options.OnStatus (see there), which Listen
// starts and Shutdown stops: it wraps the request handler so that every answered request
// asks for a re-check.
func (d *Daemon) watchStatus() {
	next := d.srv.Handler
	d.srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		d.recheckStatus()
	})
	ctx, cancel := context.WithCancel(context.Background())
	d.stopStatusWatch = cancel
	go d.reportStatus(ctx, d.statusKick, d.opts.OnStatus)
}

// recheckStatus asks the OnStatus watcher, if any, to compare the summary again: for a
// change that does not come through a request (Reload, Preload). It never blocks.
func (d *Daemon) recheckStatus() {
	select {
	case d.statusKick <- struct{}{}:
	default:
	}
}

func (d *Daemon) reportStatus(ctx context.Context, kick <-chan struct{}, report func(string)) {
	last := ""
	overdue := time.Duration(0) // grows while a scheduled change is late, so a stuck one is not polled hard
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		now := d.now()
		s := d.summarize(now)
		if s.text != last {
			report(s.text)
			last = s.text
		}
		var timeout <-chan time.Time
		switch {
		case s.inFlight != nil:
			overdue = 0 // its end wakes us
		case s.wake.IsZero():
			overdue = 0 // nothing is scheduled: wait for a request
		case !s.wake.After(now):
			overdue = min(max(2*overdue, time.Second), maxSleep)
			timer.Reset(overdue)
			timeout = timer.C
		default:
			overdue = 0
			// A second after the event, so that the broker's own timer has acted.
			timer.Reset(min(s.wake.Sub(now)+time.Second, maxSleep))
			timeout = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-s.inFlight:
		case <-timeout:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

type summary struct {
	text     string
	wake     time.Time       // the next time the summary may change by itself; zero: none
	inFlight <-chan struct{} // closed when a running renewal or retry ends; nil: none
}

// summarize builds the summary of the cache at now.
func (d *Daemon) summarize(now time.Time) summary {
	cfg := d.config()
	var s summary
	var valid, failing, renewing int
	var nextRenewal, nextAttempt time.Time
	var failure, failProfile string
	earliest := func(t *time.Time, v time.Time) {
		if !v.IsZero() && (t.IsZero() || v.Before(*t)) {
			*t = v
		}
	}
	d.broker.mu.Lock()
	es := make([]*entry, 0, len(d.broker.entries))
	for _, e := range d.broker.entries {
		es = append(es, e)
	}
	d.broker.mu.Unlock()
	for _, e := range es {
		e.mu.Lock()
		if e.call != nil {
			renewing++
			if s.inFlight == nil {
				s.inFlight = e.call.done
			}
		}
		if t := e.tok; t != nil && t.Expiry.After(now) {
			valid++
			earliest(&s.wake, t.Expiry)
			if e.lastErr == nil { // a failing entry's next event is its next attempt
				earliest(&nextRenewal, e.renewAt)
			}
		}
		if e.lastErr != nil {
			failing++
			earliest(&nextAttempt, e.nextAttempt)
			if failProfile == "" || e.profile < failProfile {
				failProfile = e.profile
				failure = e.profile + ": " + clip(e.lastErr.Msg, maxSummaryError)
			}
		}
		e.mu.Unlock()
	}
	earliest(&s.wake, nextRenewal)
	earliest(&s.wake, nextAttempt)

	var parts []string
	switch {
	case len(cfg.Profiles) == 0:
		parts = append(parts, "no profile configured (run `lwtoken-helperd setup`)")
	case valid > 0:
		parts = append(parts, plural(valid, "token")+" valid")
	case failing == 0:
		parts = append(parts, fmt.Sprintf("ready, %s, no token cached yet", plural(len(cfg.Profiles), "profile")))
	default:
		parts = append(parts, "no valid token")
	}
	switch {
	case renewing > 0 && valid > 0:
		parts = append(parts, fmt.Sprintf("%d renewing", renewing))
	case renewing > 0:
		parts = append(parts, fmt.Sprintf("%d being fetched", renewing))
	}
	if failing > 0 {
		parts = append(parts, fmt.Sprintf("%d failing (%s)", failing, failure))
		if !nextAttempt.IsZero() {
			parts = append(parts, "next attempt "+clockTime(nextAttempt, now))
		}
	}
	d.keyMu.Lock()
	keyErr := d.keyErr
	d.keyMu.Unlock()
	switch {
	case keyErr == nil:
	case errors.Is(keyErr, keystore.ErrLocked):
		parts = append(parts, "keyring locked")
	case errors.Is(keyErr, keystore.ErrTimeout):
		parts = append(parts, "keyring not answering")
	default:
		parts = append(parts, "keyring unavailable")
	}
	if nextRenewal.After(now) {
		parts = append(parts, "next renewal "+clockTime(nextRenewal, now))
	}
	s.text = strings.Join(parts, ", ")
	return s
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// clockTime formats t as local wall-clock time: "13:52" on now's day, else with the date.
func clockTime(t, now time.Time) string {
	t, now = t.Local(), now.Local()
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04")
	}
	return t.Format("Jan 2 15:04")
}

// clip makes s one line of at most n runes.
func clip(s string, n int) string {
	r := []rune(strings.Join(strings.Fields(s), " "))
	if len(r) <= n {
		return string(r)
	}
	return strings.TrimSpace(string(r[:n])) + "..."
}
