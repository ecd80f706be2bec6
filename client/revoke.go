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
	path := wire.PathRevoke
	if profile != "" {
		path += "?" + url.Values{wire.ParamProfile: {profile}}.Encode()
	}
	var r wire.Revoked
	if err := c.do(ctx, "POST", path, &r); err != nil {
		return nil, err
	}
	return revokedFrom(&r), nil
}
