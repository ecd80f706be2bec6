package client

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

// Renew reports that a resource server refused rejected (an access token this client got
// from the daemon: 401, or 403 with code UNAUTHORIZED) and returns a token to retry with.
// If rejected is still the token the daemon holds for req, the daemon drops it and mints a
// new one; however many clients report the same token at once, it mints once and they all
// get the new token. If the token was already replaced, the current one comes back with no
// new mint. A token only seconds old is not renewed again (the daemon returns it as is), so
// a server that refuses every token cannot make the daemon mint in a loop; callers should
// retry a request once, not in a loop. Only the token's fingerprint leaves the process.
// Errors match the sentinels, as for Token.
func (c *Client) Renew(ctx context.Context, req TokenRequest, rejected string) (*Token, error) {
	q := tokenQuery(req)
	if fp := wire.Fingerprint(rejected); fp != "" {
		q.Set(wire.ParamRejected, fp)
	}
	return c.token(ctx, q)
}

// tokenQuery is the query of RouteToken for req (the same as Token sends).
func tokenQuery(req TokenRequest) url.Values {
	q := url.Values{}
	if req.Profile != "" {
		q.Set(wire.ParamProfile, req.Profile)
	}
	if req.Scope != "" {
		q.Set(wire.ParamScope, req.Scope)
	}
	if req.MinTTL > 0 {
		q.Set(wire.ParamMinTTL, strconv.FormatInt(int64((req.MinTTL+time.Second-1)/time.Second), 10))
	}
	return q
}
