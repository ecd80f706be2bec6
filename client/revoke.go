package client

import (
	"context"
	"net/url"

	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

// Revoke asks the daemon to revoke the cached tokens of profile ("" means the daemon's
// default profile) at LINE WORKS and to drop them from its memory and the keyring; the
// next Token call mints a new one. Errors match the sentinels above: ErrUnavailable or
// ErrRejected when LINE WORKS did not revoke every token (those not revoked stay cached),
// ErrNotConfigured for an unknown profile, ErrKeyring when the secrets cannot be read.
func (c *Client) Revoke(ctx context.Context, profile string) (*Revoked, error) {
	var q url.Values
	if profile != "" {
		q = url.Values{wire.ParamProfile: {profile}}
	}
	var r wire.Revoked
	if err := c.do(ctx, wire.RouteRevoke, q, &r); err != nil {
		return nil, err
	}
	return revokedFrom(&r), nil
}
