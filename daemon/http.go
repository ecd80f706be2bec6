package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/internal/lwauth"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

const (
	maxHeaderBytes = 4 << 10
	maxBodyBytes   = wire.MaxRequestBytes
)

// handler serves wire.Routes, each with its handler, and answers anything else with
// CodeUnknownRoute.
func (d *Daemon) handler() http.Handler {
	handlers := map[string]http.HandlerFunc{
		wire.RouteToken.Pattern():    d.withRejected(d.handleToken),
		wire.RouteStatus.Pattern():   d.handleStatus,
		wire.RouteProfiles.Pattern(): d.handleProfiles,
		wire.RouteReload.Pattern():   d.handleReload,
		wire.RouteRevoke.Pattern():   d.handleRevoke,
	}
	if len(handlers) != len(wire.Routes) {
		panic("daemon: the handlers do not match wire.Routes")
	}
	mux := http.NewServeMux()
	for _, rt := range wire.Routes {
		h := handlers[rt.Pattern()]
		if h == nil {
			panic("daemon: no handler for " + rt.Pattern())
		}
		mux.HandleFunc(rt.Pattern(), h)
	}
	mux.HandleFunc("/", handleUnknownRoute)
	return d.guard(mux)
}

// handleUnknownRoute answers a request no route matches: 405 with Allow when the path is
// a route's with another method, else 404; both with CodeUnknownRoute, which is what a
// client newer than the daemon meets.
func handleUnknownRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, rt := range wire.Routes {
		if rt.Path == r.URL.Path {
			allow = append(allow, rt.Method)
		}
	}
	hint := "the routes are " + routeList() + "; a client newer than the daemon may ask for one it does not know: restart the daemon after upgrading"
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, &replyError{Code: wire.CodeUnknownRoute,
			Msg: fmt.Sprintf("%s takes %s, not %s", r.URL.Path, strings.Join(allow, " or "), r.Method), Hint: hint})
		return
	}
	writeError(w, wire.HTTPStatus(wire.CodeUnknownRoute), &replyError{Code: wire.CodeUnknownRoute,
		Msg: fmt.Sprintf("no route %s %s", r.Method, r.URL.Path), Hint: hint})
}

func routeList() string {
	var s []string
	for _, rt := range wire.Routes {
		s = append(s, rt.Pattern())
	}
	return strings.Join(s, ", ")
}

// guard refuses what a browser or a forwarded socket would send (Origin, Referer, a
// foreign Host) and bounds the body.
func (d *Daemon) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		end, ok := beginRequest(r.Context())
		if !ok {
			return // the connection was shed to make room: nobody reads an answer
		}
		defer end()
		if fromBrowser(r.Header) {
			d.log.Warn("request refused: browser headers", "path", r.URL.Path)
			writeError(w, http.StatusForbidden, &replyError{Code: wire.CodeForbidden, Msg: "requests with origin, referer or sec-fetch headers are refused",
				Hint: "the daemon serves local programs, not browsers"})
			return
		}
		// An absolute-form target ("GET http://lwtoken-helper/v1/token") makes net/http take
		// r.Host from the target, not from the Host header: a browser-forwarded request could
		// pass the Host check below that way. Only origin-form ("/...") targets are served.
		if !strings.HasPrefix(r.RequestURI, "/") {
			d.log.Warn("request refused: not an origin-form target", "path", r.URL.Path, "host", r.Host)
			writeError(w, http.StatusBadRequest, &replyError{Code: wire.CodeBadRequest, Msg: "the request target must be a path starting with /",
				Hint: "send e.g. GET " + wire.PathToken + " with Host: " + wire.Host})
			return
		}
		if h := r.Host; h != wire.Host && h != "localhost" {
			d.log.Warn("request refused: foreign host", "path", r.URL.Path, "host", h)
			writeError(w, http.StatusForbidden, &replyError{Code: wire.CodeForbidden, Msg: fmt.Sprintf("host %q is refused", h),
				Hint: "send Host: " + wire.Host})
			return
		}
		// A body the daemon will not read is refused, and the connection closed right
		// after the answer: the server would otherwise try to drain the body first (a
		// stalled chunked body held the connection for the whole read timeout).
		if r.ContentLength > maxBodyBytes || r.ContentLength < 0 {
			w.Header().Set("Connection", "close")
			http.NewResponseController(w).SetReadDeadline(time.Now())
			if r.ContentLength < 0 {
				writeError(w, http.StatusLengthRequired, &replyError{Code: wire.CodeBadRequest, Msg: "a request body of unknown length is refused",
					Hint: "send Content-Length"})
			} else {
				writeError(w, http.StatusRequestEntityTooLarge, &replyError{Code: wire.CodeBadRequest, Msg: "request body too large"})
			}
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// fromBrowser reports whether a request carries a header only browsers send: Origin or
// Referer (even empty), or any Sec-Fetch-* (sent by current browsers on every request to
// a loopback or https origin, which a forwarded socket would be).
func fromBrowser(h http.Header) bool {
	for k := range h {
		if k == "Origin" || k == "Referer" || strings.HasPrefix(k, "Sec-Fetch-") {
			return true
		}
	}
	return false
}

func (d *Daemon) handleToken(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	minTTL, err := parseMinTTL(q.Get(wire.ParamMinTTL))
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	profile, p, derr := d.resolveProfile(q.Get(wire.ParamProfile))
	if derr != nil {
		writeError(w, statusOf(derr.Code), derr)
		return
	}
	scopes, derr := d.resolveScopes(profile, p, q.Get(wire.ParamScope))
	if derr != nil {
		writeError(w, http.StatusBadRequest, derr)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), d.opts.UpstreamTimeout+5*time.Second)
	defer cancel()
	t, derr := d.broker.get(ctx, profile, p, scopes, minTTL)
	if derr != nil {
		writeError(w, statusOf(derr.Code), derr)
		return
	}
	peer, _ := peerFrom(r.Context())
	d.log.Info("token served", "profile", profile, "scope", t.Scope, "fingerprint", t.Access.Fingerprint(),
		"expires", t.Expiry.Format(time.RFC3339), "peer_pid", peer.PID, "peer_uid", peer.UID, "peer_exe", exeOf(peer.PID))
	writeJSON(w, http.StatusOK, wire.Token{AccessToken: t.Access.Reveal(), TokenType: t.TokenType, Scope: t.Scope,
		ExpiresAt: t.Expiry.UTC(), Profile: profile})
}

// parseMinTTL accepts a Go duration ("30m") or whole seconds.
func parseMinTTL(s string) (time.Duration, *replyError) {
	if s == "" {
		return 0, nil
	}
	var d time.Duration
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 && n < int64(maxTokenLifetime/time.Second)*2 {
		d = time.Duration(n) * time.Second
	} else if d, err = time.ParseDuration(s); err != nil || d < 0 {
		return 0, &replyError{Code: wire.CodeBadRequest, Msg: fmt.Sprintf("min-ttl %q is not a duration", s), Hint: "use e.g. 30m, 2h or 90s"}
	}
	if d >= maxTokenLifetime {
		return 0, &replyError{Code: wire.CodeBadRequest, Msg: fmt.Sprintf("min-ttl %s can never be met: line works tokens live at most %s", d, maxTokenLifetime),
			Hint: "ask for less than 24h"}
	}
	return d, nil
}

func (d *Daemon) resolveProfile(name string) (string, *config.Profile, *replyError) {
	cfg := d.config()
	if name == "" {
		name = cfg.Default()
		if name == "" {
			if len(cfg.Profiles) == 0 {
				return "", nil, &replyError{Code: wire.CodeNotConfigured, Msg: "no profile is configured",
					Hint: "run `lwtoken-helperd setup --profile default ...`"}
			}
			return "", nil, &replyError{Code: wire.CodeBadRequest, Msg: "several profiles are configured and none is the default",
				Hint: "pass --profile, set " + wire.EnvProfile + ", or set default_profile in the config"}
		}
	}
	// The map first: its keys were validated when the config was loaded, so only a name
	// that is not there needs the regular expression (about 1.5 µs a match).
	p := cfg.Profiles[name]
	if p == nil && !config.ValidProfileName(name) {
		return "", nil, &replyError{Code: wire.CodeBadRequest, Msg: fmt.Sprintf("%q is not a valid profile name", name)}
	}
	if p == nil {
		add := fmt.Sprintf("run `lwtoken-helperd setup --profile %s ...`", name)
		if key, cs, ok := d.secretFiles(name); ok {
			add = fmt.Sprintf("add profile %s to %s and put its files %s and %s", name, d.opts.ConfigPath, key, cs)
		}
		return "", nil, &replyError{Code: wire.CodeNotConfigured, Msg: fmt.Sprintf("profile %q is not configured", name),
			Hint: fmt.Sprintf("%s, or pick one of: %s", add, strings.Join(cfg.Names(), ", "))}
	}
	return name, p, nil
}

// resolveScopes returns the scopes asked for, which must be within the profile's.
func (d *Daemon) resolveScopes(name string, p *config.Profile, asked string) ([]string, *replyError) {
	if asked == "" {
		return lwauth.ParseScopes(strings.Join(p.Scopes, " ")), nil
	}
	if len(asked) > 1024 {
		return nil, &replyError{Code: wire.CodeBadRequest, Msg: "scope list too long"}
	}
	scopes := lwauth.ParseScopes(asked)
	if len(scopes) == 0 {
		return nil, &replyError{Code: wire.CodeBadRequest, Msg: "empty scope list"}
	}
	allowed := map[string]bool{}
	for _, s := range p.Scopes {
		allowed[s] = true
	}
	for _, s := range scopes {
		if !allowed[s] {
			add := fmt.Sprintf("add it with `lwtoken-helperd setup --profile %s --scope ...`", name)
			if _, _, ok := d.secretFiles(name); ok {
				add = fmt.Sprintf("add it to the scopes of profile %s in %s", name, d.opts.ConfigPath)
			}
			return nil, &replyError{Code: wire.CodeBadRequest, Msg: fmt.Sprintf("scope %q is not among profile %q's scopes (%s)", s, name, strings.Join(p.Scopes, " ")),
				Hint: "ask for a subset, or " + add}
		}
	}
	return scopes, nil
}

func (d *Daemon) handleStatus(w http.ResponseWriter, r *http.Request) {
	cfg := d.config()
	st := wire.Status{Version: wire.Version, PID: os.Getpid(), Socket: d.opts.SocketPath, Config: d.opts.ConfigPath,
		Now: d.now().UTC(), Keyring: wire.KeyringOK, Entries: d.broker.status(), Profiles: cfg.Names(), Default: cfg.Default(),
		SecretSource: d.secrets.Describe(), TokenCache: d.store.Describe()}
	d.keyMu.Lock()
	if d.keyErr != nil {
		st.Keyring = d.keyErr.Error()
	} else if len(d.storeProblems) > 0 {
		st.Keyring = slices.Min(slices.Collect(maps.Values(d.storeProblems)))
	}
	d.keyMu.Unlock()
	writeJSON(w, http.StatusOK, st)
}

func (d *Daemon) handleReload(w http.ResponseWriter, r *http.Request) {
	if err := d.Reload(); err != nil {
		writeError(w, http.StatusBadRequest, &replyError{Code: wire.CodeBadRequest, Msg: "reload: " + err.Error(),
			Hint: "fix the config file; the daemon keeps the previous one"})
		return
	}
	writeJSON(w, http.StatusOK, wire.Reloaded{OK: true})
}

// statusOf is the HTTP status of an error reply with code.
func statusOf(code string) int { return wire.HTTPStatus(code) }

func writeError(w http.ResponseWriter, status int, err error) {
	var de *replyError
	if !errors.As(err, &de) {
		de = &replyError{Code: wire.CodeInternal, Msg: err.Error()}
	}
	writeJSON(w, status, wire.Error{Error: de.Msg, Code: de.Code, Hint: de.Hint})
}

// writeJSON writes v with an explicit Content-Length (clients read exactly that much).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encode reply","code":"internal"}`)
	}
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
}
