package daemon

import (
	"log/slog"
	"sync"
	"time"
)

// refusalSummaryEvery is how often counts of refused connections are logged during a flood.
const refusalSummaryEvery = 10 * time.Second

// maxRefusalUIDs bounds the uids tracked one by one; refusals of any further uid are
// counted together (peer_uid "other").
const maxRefusalUIDs = 256

// Keys of refusalLog.uids that are not uids.
const (
	refusalNoCreds    = -1 // the peer's credentials could not be read
	refusalOtherUIDs  = -2 // uids beyond maxRefusalUIDs
	refusalMsgOther   = "connection refused: peer is another user"
	refusalMsgNoCreds = "connection refused: cannot read peer credentials"
)

// refusalLog logs refused connections so that a flood of them (an attacker or a runaway
// script of another user connecting in a loop) neither buries the audit lines nor makes
// journald drop them: the first refusal of a uid is logged in full, with its pid; the
// refusals after it are counted and logged as one summary line per uid and interval
// ("connections refused: ..." with count, the last pid and the interval). A uid with no
// refusal for a whole interval is forgotten, so its next refusal is logged in full again.
// The first line plus the summaries' counts is the number of refused connections.
type refusalLog struct {
	log   *slog.Logger
	every time.Duration

	mu     sync.Mutex
	uids   map[int]*refusalCount
	timer  *time.Timer
	closed bool
}

type refusalCount struct {
	n       int // refusals since the last line about this uid
	lastPID int
	err     error // of the last refusal whose credentials could not be read
}

func newRefusalLog(log *slog.Logger, every time.Duration) *refusalLog {
	return &refusalLog{log: log, every: every, uids: map[int]*refusalCount{}}
}

// refused records one refused connection: of a peer uid (pid), or whose credentials could
// not be read (err != nil).
func (r *refusalLog) refused(uid, pid int, err error) {
	key := uid
	if err != nil {
		key = refusalNoCreds
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	c := r.uids[key]
	if c == nil && len(r.uids) >= maxRefusalUIDs {
		key = refusalOtherUIDs
		c = r.uids[key]
	}
	if c != nil {
		c.n++
		c.lastPID, c.err = pid, err
		return
	}
	c = &refusalCount{}
	r.uids[key] = c
	switch key {
	case refusalNoCreds:
		r.log.Warn(refusalMsgNoCreds, "err", err)
	case refusalOtherUIDs:
		c.n, c.lastPID = 1, pid // no line of its own: counted in the next summary
	default:
		r.log.Warn(refusalMsgOther, "peer_uid", uid, "peer_pid", pid)
	}
	if r.timer == nil {
		r.timer = time.AfterFunc(r.every, r.flush)
	}
}

// flush logs a summary line for each uid refused since the last line about it, and
// forgets the uids that stayed quiet.
func (r *refusalLog) flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.summarize()
	if len(r.uids) > 0 {
		r.timer.Reset(r.every)
	} else {
		r.timer = nil
	}
}

// summarize logs the pending counts and forgets the uids that have none. Called with r.mu held.
func (r *refusalLog) summarize() {
	for key, c := range r.uids {
		if c.n == 0 {
			delete(r.uids, key)
			continue
		}
		every := r.every.String()
		switch key {
		case refusalNoCreds:
			r.log.Warn("connections refused: cannot read peer credentials", "count", c.n, "last_err", c.err, "within", every)
		case refusalOtherUIDs:
			r.log.Warn("connections refused: peer is another user", "peer_uid", "other", "count", c.n, "last_peer_pid", c.lastPID, "within", every)
		default:
			r.log.Warn("connections refused: peer is another user", "peer_uid", key, "count", c.n, "last_peer_pid", c.lastPID, "within", every)
		}
		c.n = 0
	}
}

// close logs what is pending and stops the timer.
func (r *refusalLog) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	if r.timer != nil {
		r.timer.Stop()
	}
	r.summarize()
}
