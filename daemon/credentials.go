package daemon

import (
	"context"
	"errors"
	"fmt"

	"github.com/lwtoken-helper/lwtoken-helper/internal/lwauth"
	"github.com/lwtoken-helper/lwtoken-helper/internal/secret"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
)

// This file holds the reading of a profile's secrets from the secret source, with the last
// good copy in memory as the fallback when the source fails.

// credsCache is the last credentials read from the keyring for a profile, so that a
// locked or vanished keyring does not stop renewals.
type credsCache struct {
	creds lwauth.Credentials
}

// credentials reads the profile's secrets from the keyring, falling back to the last good
// copy in memory when the keyring is locked or gone.
func (b *broker) credentials(ctx context.Context, profile string) (lwauth.Credentials, error) {
	cr, err := b.readCredentials(ctx, profile)
	if err == nil {
		b.d.keyringStatus(nil)
		b.mu.Lock()
		b.creds[profile] = &credsCache{creds: cr}
		b.mu.Unlock()
		return cr, nil
	}
	if !errors.Is(err, keystore.ErrNotFound) {
		b.d.keyringStatus(err)
		b.mu.Lock()
		c := b.creds[profile]
		b.mu.Unlock()
		if c != nil {
			b.d.log.Warn("keyring unavailable; using the credentials held in memory", "profile", profile, "err", err)
			return c.creds, nil
		}
	}
	return lwauth.Credentials{}, err
}

func (b *broker) readCredentials(ctx context.Context, profile string) (lwauth.Credentials, error) {
	p := b.d.profile(profile)
	if p == nil {
		return lwauth.Credentials{}, fmt.Errorf("profile %q: %w", profile, keystore.ErrNotFound)
	}
	keyPEM, err := b.d.secrets.Get(ctx, keystore.PrivateKeyKey(profile))
	if err != nil {
		return lwauth.Credentials{}, err
	}
	cs, err := b.d.secrets.Get(ctx, keystore.ClientSecretKey(profile))
	if err != nil {
		return lwauth.Credentials{}, err
	}
	key, err := lwauth.ParsePrivateKey(keyPEM)
	if err != nil {
		return lwauth.Credentials{}, &Error{Code: wire.CodeNotConfigured, Msg: fmt.Sprintf("the private key stored for profile %q is unusable: %v", profile, err), Err: err,
			Hint: fmt.Sprintf("store it again with `lwtoken-helperd setup --profile %s --private-key-file FILE`", profile)}
	}
	return lwauth.Credentials{ClientID: p.ClientID, ServiceAccount: p.ServiceAccount, ClientSecret: secret.FromBytes(cs), PrivateKey: key}, nil
}
