package client

import (
	"context"

	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

// Profiles lists the daemon's profiles and the state of their tokens. The daemon answers
// from memory: the call never reads the keyring or reaches LINE WORKS. Errors match the
// sentinels above.
func (c *Client) Profiles(ctx context.Context) (*Profiles, error) {
	var p wire.Profiles
	if err := c.do(ctx, wire.RouteProfiles, nil, &p); err != nil {
		return nil, err
	}
	return profilesFrom(&p), nil
}
