package daemoncli

import (
	"flag"
	"log/slog"

	"github.com/lwtoken-helper/lwtoken-helper/keystore"
)

// Where the files mode finds its directory: run --credentials-dir, its environment twin, or
// (with neither) the directory systemd gives a unit's LoadCredential= and
// LoadCredentialEncrypted= files.
const (
	EnvCredentialsDir = "LWTOKEN_HELPERD_CREDENTIALS_DIR"
	EnvSystemdCreds   = "CREDENTIALS_DIRECTORY"
)

// stores are where a daemon reads the profiles' secrets from and where it caches tokens,
// chosen once at start by chooseStores (run uses them, doctor checks them).
type stores struct {
	secrets keystore.Secrets
	tokens  keystore.TokenCache
	dir     *keystore.Dir // the files mode's directory; nil otherwise
}

// storeOptions are the flags that choose the stores, shared by run and doctor.
type storeOptions struct {
	credentialsDir string
	socket         string // names the daemon's items in a shared token cache (the kernel keyring)
}

// bindStoreFlags adds --credentials-dir to fs, defaulting to its environment twin, then to
// $CREDENTIALS_DIRECTORY.
func bindStoreFlags(env *Env, fs *flag.FlagSet, o *storeOptions) {
	o.credentialsDir = env.Getenv(EnvCredentialsDir)
	if o.credentialsDir == "" {
		o.credentialsDir = env.Getenv(EnvSystemdCreds)
	}
	fs.StringVar(&o.credentialsDir, "credentials-dir", o.credentialsDir,
		"read each profile's secrets from the files PROFILE.private-key and PROFILE.client-secret in `dir` (env "+
			EnvCredentialsDir+", else $"+EnvSystemdCreds+"); no keyring is used")
}

// chooseStores picks the secret source and the token cache: with a credentials directory,
// its files and the kernel keyring (memory where keyctl is blocked); else the OS keyring for
// both (the desktop). It fails when the directory is unusable (see keystore.NewDir).
func chooseStores(env *Env, o storeOptions) (stores, error) {
	if o.credentialsDir != "" {
		d, err := keystore.NewDir(o.credentialsDir)
		if err != nil {
			return stores{}, err
		}
		return stores{secrets: d, tokens: keystore.NewKernelKeyring(o.socket), dir: d}, nil
	}
	k := &keystore.Keyring{}
	return stores{secrets: k, tokens: k}, nil
}

// start finishes the choice once the daemon's logger exists: a kernel keyring checks
// whether keyctl works and, if not, says once that tokens stay in memory.
func (st stores) start(log *slog.Logger) {
	if k, ok := st.tokens.(*keystore.KernelKeyring); ok {
		k.Start(log)
	}
}
