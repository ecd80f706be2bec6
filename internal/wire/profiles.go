package wire

import "time"

// Profiles is the reply to RouteProfiles.
type Profiles struct {
	Default  string        `json:"default_profile"` // the config's default profile; "" if none
	Profiles []ProfileInfo `json:"profiles"`        // sorted by name
}

// ProfileInfo is one profile: its settings (no secret) and the state of its tokens.
type ProfileInfo struct {
	Name           string   `json:"name"`
	Default        bool     `json:"default"` // the config's default (a client's LWTOKEN_HELPER_PROFILE may differ)
	ClientID       string   `json:"client_id"`
	ServiceAccount string   `json:"service_account"`
	DomainID       string   `json:"domain_id,omitempty"`
	Scopes         []string `json:"scopes"`
	AuthURL        string   `json:"auth_url"`

	// State is that of the token for all the profile's scopes (what `get` returns with no
	// --scope): a State* constant.
	State      string     `json:"state"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	TTLSeconds int64      `json:"ttl_seconds,omitempty"`
	// Health is the worst of the profile's tokens (a Health* constant).
	Health    string `json:"health"`
	LastError string `json:"last_error,omitempty"`
	// Tokens lists every cached token of the profile, one per scope set.
	Tokens []EntryStatus `json:"tokens"`
}
