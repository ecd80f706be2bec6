package wire

import (
	"crypto/sha256"
	"encoding/hex"
)

// ParamRejected, a query parameter of PathToken, reports that a resource server refused
// the token with this Fingerprint (401, or 403 with code UNAUTHORIZED). If it is the token
// the daemon holds for that profile and scope set, the daemon drops it and mints a new one;
// any other value changes nothing. However many clients report the same token, the daemon
// mints once: the first report starts one renewal that every request waits for, and later
// reports of the old fingerprint no longer match. A token younger than the daemon's
// minimum age (seconds) is not dropped, so a resource server that refuses every token
// cannot make the daemon mint in a loop.
const ParamRejected = "rejected"

// Fingerprint returns the short name of an access token that the daemon logs and that
// ParamRejected carries: the first 8 hex digits of its SHA-256. Empty for an empty token.
// It is not reversible, so it may travel in a URL and appear in logs.
func Fingerprint(accessToken string) string {
	if accessToken == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(accessToken))
	return hex.EncodeToString(sum[:4])
}
