package keystore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/lwtoken-helper/lwtoken-helper/internal/sdcreds"
)

// UserCredentials is a read-only Secrets of systemd user-scoped encrypted credentials
// (systemd >= 256, `systemd-creds --user`): for a server user without a Secret Service and
// without root. Each secret is a file DIR/PROFILE.private-key.cred or
// DIR/PROFILE.client-secret.cred holding a blob that only this uid on this machine can
// decrypt, through systemd's io.systemd.Credentials Varlink service; the plaintext exists
// only in this process's memory. `lwtoken-helperd setup` writes the files (Seal, Write).
type UserCredentials struct {
	Dir string // the directory of the .cred files
	// Socket is the Varlink socket of io.systemd.Credentials; "": systemd's.
	Socket string
}

// client reaches systemd's credential service.
func (u *UserCredentials) client() sdcreds.UserClient { return sdcreds.UserClient{Socket: u.Socket} }

// ErrUndecryptable: a stored credential exists but does not decrypt for this user on this
// machine (copied from another machine or user, a changed host key): fail closed, redo setup.
var ErrUndecryptable = errors.New("credential does not decrypt for this user on this machine")

var _ Secrets = (*UserCredentials)(nil)

// UserCredentialSuffix ends every file of a UserCredentials directory.
const UserCredentialSuffix = ".cred"

// Describe names the source and its directory.
func (u *UserCredentials) Describe() string {
	return "systemd user credentials (" + u.Dir + ")"
}

// credentialName maps a Secrets key to the credential's name (bound into the blob at
// encryption): profile/P/private-key -> P.private-key. ok is false for other keys.
func credentialName(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, "profile/")
	if !ok {
		return "", false
	}
	profile, what, ok := strings.Cut(rest, "/")
	if !ok || (what != "private-key" && what != "client-secret") || profile == "" || strings.ContainsAny(profile, `/\`) {
		return "", false
	}
	return profile + "." + what, true
}

// Path is the file holding key's credential ("" for a key this source does not hold).
func (u *UserCredentials) Path(key string) string {
	name, ok := credentialName(key)
	if !ok {
		return ""
	}
	return filepath.Join(u.Dir, name+UserCredentialSuffix)
}

// Get decrypts key's credential. It fails with ErrNotFound when there is no file for key,
// with ErrUnavailable when systemd's credential service cannot be used (systemd < 256, no
// socket), and with ErrUndecryptable, naming the file, when the blob does not decrypt for
// this user here (copied from another machine or user, or a changed host key).
func (u *UserCredentials) Get(ctx context.Context, key string) ([]byte, error) {
	name, ok := credentialName(key)
	if !ok {
		return nil, fmt.Errorf("keystore: get %q: %w", key, ErrNotFound)
	}
	path := filepath.Join(u.Dir, name+UserCredentialSuffix)
	blob, err := readSmall(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("keystore: get %q: %s: %w", key, path, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: get %q: %w: %w", key, ErrUnavailable, err)
	}
	plain, err := u.client().Decrypt(ctx, name, blob)
	switch {
	case errors.Is(err, sdcreds.ErrBadCredential):
		return nil, fmt.Errorf("keystore: get %q: %s: %w (systemd: %s)", key, path, ErrUndecryptable, sdcreds.ErrorName(err))
	case err != nil:
		return nil, fmt.Errorf("keystore: get %q: %w: %w", key, ErrUnavailable, err)
	}
	return plain, nil
}

// Seal encrypts value for key as a user-scoped credential of the calling user and returns
// the blob (nothing is written; see Write). It fails with ErrUnavailable when systemd's
// user scope cannot be used here.
func (u *UserCredentials) Seal(ctx context.Context, key string, value []byte) ([]byte, error) {
	name, ok := credentialName(key)
	if !ok {
		return nil, fmt.Errorf("keystore: seal %q: not a secret key", key)
	}
	blob, err := u.client().Encrypt(ctx, name, value)
	if err != nil {
		return nil, fmt.Errorf("keystore: seal %q: %w: %w", key, ErrUnavailable, err)
	}
	return blob, nil
}

// Write stores a blob from Seal as DIR/NAME.cred (DIR created 0700, the file 0600) through
// a temporary file and a rename: a reader sees the old credential or the new one.
func (u *UserCredentials) Write(key string, blob []byte) error {
	name, ok := credentialName(key)
	if !ok {
		return fmt.Errorf("keystore: write %q: not a secret key", key)
	}
	if err := os.MkdirAll(u.Dir, 0o700); err != nil {
		return fmt.Errorf("keystore: write %q: %w", key, err)
	}
	f, err := os.CreateTemp(u.Dir, "."+name+".tmp*")
	if err != nil {
		return fmt.Errorf("keystore: write %q: %w", key, err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(append(blob, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(u.Dir, name+UserCredentialSuffix))
	}
	if err != nil {
		return fmt.Errorf("keystore: write %q: %w", key, err)
	}
	return nil
}

// Has reports whether DIR holds any credential file: the daemon then reads its secrets
// from here.
func (u *UserCredentials) Has() bool {
	m, _ := filepath.Glob(filepath.Join(u.Dir, "*"+UserCredentialSuffix))
	return len(m) > 0
}

// readSmall reads a credential file of at most 1 MiB (systemd's own limit is lower).
func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 1<<20+1))
	if err != nil {
		return nil, err
	}
	if len(b) > 1<<20 {
		return nil, fmt.Errorf("%s is larger than 1 MiB", path)
	}
	return b, nil
}

// Available reports whether systemd's user scope answers here (systemd >= 256); the error
// wraps ErrUnavailable and says why not.
func (u *UserCredentials) Available(ctx context.Context) error {
	if err := u.client().Available(ctx); err != nil {
		return fmt.Errorf("keystore: systemd user credentials: %w: %w", ErrUnavailable, err)
	}
	return nil
}

// Set seals value for key and writes it (Seal, then Write), so that UserCredentials is a
// Store for the verbs that edit secrets one by one (`setup --delete`, `uninstall --purge`
// and their rollbacks). Keys other than a profile's private key and client secret are
// refused: tokens are never kept here.
func (u *UserCredentials) Set(ctx context.Context, key string, value []byte) error {
	blob, err := u.Seal(ctx, key, value)
	if err != nil {
		return err
	}
	return u.Write(key, blob)
}

// Delete removes key's credential file; ErrNotFound when there is none (and for any key
// this source does not hold, such as a token).
func (u *UserCredentials) Delete(_ context.Context, key string) error {
	p := u.Path(key)
	if p == "" {
		return fmt.Errorf("keystore: delete %q: %w", key, ErrNotFound)
	}
	if err := os.Remove(p); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("keystore: delete %q: %w", key, ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("keystore: delete %q: %w", key, err)
	}
	return nil
}

var _ Store = (*UserCredentials)(nil)
