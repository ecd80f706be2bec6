package daemon

import (
	"net/http"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/lwauth"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

// minRejectAge: a token reported as rejected (wire.ParamRejected) is dropped and renewed
// only if it was issued at least this long ago. A resource server that refuses every token
// (or a client stuck in a loop) thus causes at most one mint per entry per minRejectAge.
const minRejectAge = 10 * time.Second

// handleProfiles lists the profiles with the state of their tokens, from memory only: no
// keyring read, no request to LINE WORKS.
func (d *Daemon) handleProfiles(w http.ResponseWriter, r *http.Request) {
	cfg := d.config()
	entries := d.broker.status()
	reply := wire.Profiles{Default: cfg.Default(), Profiles: []wire.ProfileInfo{}}
	for _, name := range cfg.Names() {
		p := cfg.Profiles[name]
		full := lwauth.CanonicalScope(p.Scopes)
		info := wire.ProfileInfo{Name: name, Default: name == reply.Default, ClientID: p.ClientID,
			ServiceAccount: p.ServiceAccount, DomainID: p.DomainID, Scopes: append([]string{}, p.Scopes...),
			AuthURL: p.AuthURLOrDefault(), State: wire.StateMissing, Health: wire.HealthOK, Tokens: []wire.EntryStatus{}}
		for _, e := range entries {
			if e.Profile != name {
				continue
			}
			info.Tokens = append(info.Tokens, e)
			if healthRank(e.Health) > healthRank(info.Health) {
				info.Health = e.Health
				info.LastError = e.LastError
			}
			if e.Scope == full {
				info.State, info.ExpiresAt, info.TTLSeconds = e.State, e.ExpiresAt, e.TTLSeconds
			}
		}
		reply.Profiles = append(reply.Profiles, info)
	}
	writeJSON(w, http.StatusOK, reply)
}

func healthRank(h string) int {
	switch h {
	case wire.HealthRenewing:
		return 1
	case wire.HealthRetrying:
		return 2
	case wire.HealthRejected:
		return 3
	}
	return 0
}

// withRejected handles wire.ParamRejected on the token route, then serves the request as
// usual (next): when the reported fingerprint names the token the daemon holds, that token
// is dropped and one renewal starts, which next then waits for.
func (d *Daemon) withRejected(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if fp := q.Get(wire.ParamRejected); fp != "" {
			profile, p, derr := d.resolveProfile(q.Get(wire.ParamProfile))
			if derr == nil {
				if scopes, derr := d.resolveScopes(profile, p, q.Get(wire.ParamScope)); derr == nil {
					peer, _ := peerFrom(r.Context())
					d.broker.reportRejected(profile, scopes, fp, peer.PID)
				}
			}
			// Resolution errors are reported by next, which resolves the same way.
		}
		next(w, r)
	}
}

// reportRejected drops e's token if its fingerprint is fp and it is old enough, and starts
// its renewal. Reports that match nothing (the token was already replaced, or never held)
// change nothing, which is what makes concurrent reports cause a single mint.
func (b *broker) reportRejected(profile string, scopes []string, fp string, peerPID int) {
	e := b.entry(profile, scopes)
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tok
	if t == nil || t.Access.Fingerprint() != fp {
		return
	}
	if age := b.d.now().Sub(t.IssuedAt); age < minRejectAge {
		b.d.log.Info("rejected token kept: it is too young to renew again", "profile", profile, "scope", e.scope,
			"fingerprint", fp, "age", age.Round(time.Millisecond).String(), "peer_pid", peerPID)
		return
	}
	b.d.log.Warn("token rejected by a resource server; renewing", "profile", profile, "scope", e.scope,
		"fingerprint", fp, "expires", t.Expiry.Format(time.RFC3339), "peer_pid", peerPID)
	e.tok = nil
	b.startLocked(e, true)
}
