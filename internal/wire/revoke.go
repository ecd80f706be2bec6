package wire

// Revoked is the reply to PathRevoke: what the daemon revoked at LINE WORKS and dropped.
type Revoked struct {
	Profile      string   `json:"profile"`
	Revoked      int      `json:"revoked"`                // tokens revoked at LINE WORKS, dropped from memory and the keyring
	Fingerprints []string `json:"fingerprints,omitempty"` // of the tokens revoked
	Skipped      int      `json:"skipped,omitempty"`      // stored tokens of earlier credentials, deleted without revocation
}
