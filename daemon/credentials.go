package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/lwauth"
	"github.com/lwtoken-helper/lwtoken-helper/internal/secret"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
)

// This file holds the reading of a profile's secrets from the secret source, with the last
// good copy in memory as the fallback when the source fails.

// credsCache is the last credentials read from the secret source for a profile, so that a
// locked or vanished keyring does not stop renewals.
type credsCache struct {
	creds lwauth.Credentials
}

// credentials reads the profile's secrets from the secret source, falling back to the last
// good copy in memory when the keyring is locked or gone. A missing or unusable secret
// (keystore.ErrNotFound, keystore.ErrUnusable: a file that is missing, malformed or
// insecure) has no fallback: it is reported, so that it gets fixed.
func (b *broker) credentials(ctx context.Context, profile string) (lwauth.Credentials, error) {
	cr, err := b.readCredentials(ctx, profile)
	if err == nil {
		b.d.keyringStatus(nil)
		b.mu.Lock()
		b.creds[profile] = &credsCache{creds: cr}
		b.mu.Unlock()
		return cr, nil
	}
	if !errors.Is(err, keystore.ErrNotFound) && !errors.Is(err, keystore.ErrUnusable) {
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
		if l, ok := b.d.secrets.(keystore.Locator); ok {
			if path := l.Locate(keystore.PrivateKeyKey(profile)); path != "" {
				return lwauth.Credentials{}, &replyError{Code: wire.CodeNotConfigured, Err: fmt.Errorf("%w: %w", keystore.ErrUnusable, err),
					Msg:  fmt.Sprintf("profile %q: secret file %s: not a usable private key: %v", profile, path, err),
					Hint: "put the PEM private key from the developer console (the .key file) there; the running daemon picks it up without a restart"}
			}
		}
		return lwauth.Credentials{}, &replyError{Code: wire.CodeNotConfigured, Msg: fmt.Sprintf("the private key stored for profile %q is unusable: %v", profile, err), Err: err,
			Hint: fmt.Sprintf("store it again with `lwtoken-helperd setup --profile %s --private-key-file FILE`", profile)}
	}
	return lwauth.Credentials{ClientID: p.ClientID, ServiceAccount: p.ServiceAccount, ClientSecret: secret.FromBytes(cs), PrivateKey: key}, nil
}

// secretsChanged runs when the secret source reports that profile's secrets changed (a
// rotated file). Entries of the profile that failed are retried at once, whatever their
// backoff (a rejected key or secret may just have been replaced); entries that hold a token
// mint a new one with the new secrets in the background and keep serving the old token
// until that succeeds. A fetch in flight, which may have read the old secrets, is followed
// by another.
func (b *broker) secretsChanged(profile string) {
	b.mu.Lock()
	delete(b.creds, profile) // never fall back to the replaced secrets
	var es []*entry
	for _, e := range b.entries {
		if e.profile == profile {
			es = append(es, e)
		}
	}
	b.mu.Unlock()
	for _, e := range es {
		e.mu.Lock()
		e.nextAttempt = time.Time{}
		switch {
		case e.closed:
		case e.call != nil:
			e.refetch = true
		case e.tok != nil || e.lastErr != nil:
			b.startLocked(e, e.tok != nil)
		}
		e.mu.Unlock()
	}
}

// secretFiles returns the files that hold profile's private key and client secret when the
// secrets come from a credentials directory, which has no setup step; ok is false in the
// other modes. Hints name them instead of `setup`.
func (d *Daemon) secretFiles(profile string) (key, clientSecret string, ok bool) {
	l, isDir := d.secrets.(keystore.Locator)
	if !isDir {
		return "", "", false
	}
	key, clientSecret = l.Locate(keystore.PrivateKeyKey(profile)), l.Locate(keystore.ClientSecretKey(profile))
	return key, clientSecret, key != "" && clientSecret != ""
}
