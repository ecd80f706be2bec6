package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/lwauth"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
)

// replyError is a failure the daemon reports to a client: a wire code, one lowercase line
// and a hint. Its text never holds a secret.
type replyError struct {
	Code string // a wire.Code* constant
	Msg  string
	Hint string
	Err  error
}

func (e *replyError) Error() string { return e.Msg }
func (e *replyError) Unwrap() error { return e.Err }

// errUnusableGrant marks an answer of LINE WORKS that granted a token the daemon will not
// serve (malformed, wider than asked, or living too short): retried on the slow schedule
// (rejectedRetry), not the backoff, so a broken endpoint is not asked in a loop.
var errUnusableGrant = errors.New("unusable grant")

func unusableGrant(err error, msg string) *replyError {
	return &replyError{Code: wire.CodeUnavailable, Msg: msg, Err: errors.Join(errUnusableGrant, err),
		Hint: "the daemon asks again in 15 minutes; check the profile's auth url (`lwtoken-helper profiles`) and the app's settings in the developer console"}
}

// agedInFlight reports whether err is the endpoint's refusal of an assertion that may have
// expired before the endpoint checked it: the wall clock moved by the assertion's whole life
// while the request was out (the machine slept, or the clock was stepped). Such a refusal
// says nothing about the credentials, so a fresh assertion is worth one more request.
// Monotonic readings are stripped: the endpoint compares wall clocks.
func agedInFlight(err error, sent, answered time.Time) bool {
	var le *lwauth.Error
	return errors.As(err, &le) && le.StatusCode/100 == 4 && !le.Retryable &&
		answered.Round(0).Sub(sent.Round(0)) >= lwauth.AssertionLifetime
}

// classify turns any error of a token fetch into an *replyError.
func (d *Daemon) classify(profile string, err error) *replyError {
	var de *replyError
	if errors.As(err, &de) {
		return de
	}
	var le *lwauth.Error
	var fe *keystore.FileError
	switch {
	case errors.As(err, &le) && le.StatusCode/100 == 2:
		// A 2xx answer the daemon refuses: a malformed token, a scope wider than asked.
		return unusableGrant(err, "line works answered with an unusable token: "+le.Error())
	case errors.As(err, &le) && !le.Retryable:
		redo := fmt.Sprintf("rerun `lwtoken-helperd setup --profile %s`", profile)
		if key, cs, ok := d.secretFiles(profile); ok {
			redo = fmt.Sprintf("correct %s or the files %s and %s (the daemon picks changed files up without a restart)", d.opts.ConfigPath, key, cs)
		}
		return &replyError{Code: wire.CodeRejected, Msg: "line works rejected the request: " + le.Error(), Err: err,
			Hint: fmt.Sprintf("check the client id, client secret, service account, private key and scopes of profile %q, then %s", profile, redo)}
	case errors.As(err, &le), errors.Is(err, context.DeadlineExceeded):
		return &replyError{Code: wire.CodeUnavailable, Msg: "line works is unreachable and no valid token is cached: " + err.Error(), Err: err,
			Hint: "the daemon retries on its own; check the network and `lwtoken-helper status`"}
	case errors.As(err, &fe):
		return &replyError{Code: wire.CodeNotConfigured, Msg: fmt.Sprintf("profile %q: %v", profile, fe), Err: err, Hint: fe.Hint}
	case errors.Is(err, keystore.ErrNotFound):
		return &replyError{Code: wire.CodeNotConfigured, Msg: fmt.Sprintf("profile %q has no secrets in the keyring", profile), Err: err,
			Hint: fmt.Sprintf("run `lwtoken-helperd setup --profile %s`", profile)}
	case errors.Is(err, keystore.ErrLocked), errors.Is(err, keystore.ErrUnavailable), errors.Is(err, keystore.ErrTimeout), errors.Is(err, keystore.ErrTooLarge):
		return &replyError{Code: wire.CodeKeyring, Msg: "cannot read the secrets: " + err.Error(), Err: err, Hint: keystore.Hint(err)}
	}
	return &replyError{Code: wire.CodeInternal, Msg: err.Error(), Err: err}
}
