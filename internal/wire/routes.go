package wire

// Route is one endpoint of the protocol: a method, a path under /v1/, and the query
// parameters it reads. Routes is the one table of them: the daemon registers exactly these
// (and answers CodeUnknownRoute to anything else), the client sends only these, and
// docs/protocol.md documents each (internal/wire's tests check the document).
type Route struct {
	Method string   // GET reads, POST changes the daemon's state
	Path   string   // starts with /v1/
	Params []string // query parameters, all optional
}

// Pattern is the route as a net/http ServeMux pattern, e.g. "GET /v1/token".
func (r Route) Pattern() string { return r.Method + " " + r.Path }

// Paths of the routes.
const (
	PathToken    = "/v1/token"
	PathStatus   = "/v1/status"
	PathProfiles = "/v1/profiles"
	PathReload   = "/v1/reload"
	PathRevoke   = "/v1/revoke"
)

// Query parameters.
const (
	ParamProfile = "profile" // a profile name; empty: the config's default profile
	ParamScope   = "scope"   // space- or comma-separated; empty: the profile's scopes
	ParamMinTTL  = "min_ttl" // a Go duration ("30m") or whole seconds
	// ParamRejected: see renew.go.
)

// The routes.
var (
	// RouteToken returns a valid access token (Token), minting one first if none is cached
	// or the one cached has less than min_ttl left.
	RouteToken = Route{Method: "GET", Path: PathToken, Params: []string{ParamProfile, ParamScope, ParamMinTTL, ParamRejected}}
	// RouteStatus returns the daemon's state (Status), from memory only.
	RouteStatus = Route{Method: "GET", Path: PathStatus}
	// RouteProfiles returns the profiles and their tokens' state (Profiles), from memory only.
	RouteProfiles = Route{Method: "GET", Path: PathProfiles}
	// RouteReload re-reads the config file (Reloaded).
	RouteReload = Route{Method: "POST", Path: PathReload}
	// RouteRevoke revokes a profile's cached tokens at LINE WORKS and drops them (Revoked).
	RouteRevoke = Route{Method: "POST", Path: PathRevoke, Params: []string{ParamProfile}}
)

// Routes is every route of the protocol.
var Routes = []Route{RouteToken, RouteStatus, RouteProfiles, RouteReload, RouteRevoke}

// Reloaded is the reply to RouteReload.
type Reloaded struct {
	OK bool `json:"ok"` // always true; a failed reload is an error reply
}
