package daemoncli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/daemon"
	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/internal/lwauth"
	"github.com/lwtoken-helper/lwtoken-helper/internal/secret"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
)

type setupOptions struct {
	profile          string
	clientID         string
	serviceAccount   string
	domainID         string
	scope            string
	privateKeyFile   string
	clientSecretFile string
	authURL          string
	config           string
	socket           string
	makeDefault      bool
	delete           bool
	systemUser       string // --system-user: a system service's profile (setup_system.go)
	withKey          string
	sys              *systemTarget
}

// maxSecretFile bounds what setup reads of a key or secret file.
const maxSecretFile = 64 << 10

// storeFor is the keystore setup writes to; tests replace it.
var storeFor = func() keystore.Store { return &keystore.Keyring{} }

func runSetup(ctx context.Context, env *Env, args []string) int {
	o := setupOptions{config: env.Getenv(config.EnvConfig), socket: env.Getenv(wire.EnvSocket)}
	fs := newFlags(env, "setup", "setup --profile P --client-id ID --service-account SA --scope S --private-key-file F [--client-secret-file F] | setup --delete --profile P",
		"lwtoken-helperd setup --profile default --client-id ID --service-account abc.serviceaccount@example.com --domain-id 12345 --scope \"bot user.read\" --private-key-file private_20240101.key < secret.txt")
	fs.StringVar(&o.profile, "profile", "default", "profile `name`")
	fs.StringVar(&o.clientID, "client-id", "", "the app's Client ID")
	fs.StringVar(&o.serviceAccount, "service-account", "", "the Service Account `id` (abcde.serviceaccount@example.com)")
	fs.StringVar(&o.domainID, "domain-id", "", "the Domain `id` (metadata for API calls; not sent at token time)")
	fs.StringVar(&o.scope, "scope", "", "space- or comma-separated `scopes` configured for the app")
	fs.StringVar(&o.privateKeyFile, "private-key-file", "", "the private key `file` downloaded from the Developer Console (PEM)")
	fs.StringVar(&o.clientSecretFile, "client-secret-file", "", "read the client secret from this `file` (- for stdin); else stdin when it is not a terminal, else a prompt")
	fs.StringVar(&o.authURL, "auth-url", "", "auth base `url` (default "+config.DefaultAuthURL+")")
	fs.StringVar(&o.config, "config", o.config, "config `file` (env "+config.EnvConfig+")")
	fs.StringVar(&o.socket, "socket", o.socket, "socket of a running daemon to reload (env "+wire.EnvSocket+")")
	fs.BoolVar(&o.makeDefault, "default", false, "make this the default profile")
	fs.BoolVar(&o.delete, "delete", false, "remove the profile: revoke its tokens, delete its secrets and tokens from the keyring and its settings from the config")
	fs.StringVar(&o.systemUser, "system-user", "", "as root: set up the profile of the system service running as this `user`, secrets encrypted with systemd-creds (see `install --system-user`)")
	fs.StringVar(&o.withKey, "with-key", "auto", "with --system-user: what seals the credentials: auto (TPM2 and host key when a TPM2 is usable, else the host key), host, tpm2 or host+tpm2")
	if code, ok := parse(env, fs, args); !ok {
		return code
	}
	if o.systemUser != "" {
		if code, ok := prepareSystemSetup(ctx, env, &o); !ok {
			return code
		}
	}
	if o.config == "" {
		p, err := config.Path()
		if err != nil {
			errorf(env, "setup: %v", err)
			return ExitError
		}
		o.config = p
	}
	if !config.ValidProfileName(o.profile) {
		errorf(env, "setup: %q is not a valid profile name", o.profile)
		hintf(env, "use letters, digits, '.', '_' and '-'")
		return ExitUsage
	}
	// Best effort: no core dump of the key or secret read below, no ptrace by other processes.
	_ = daemon.Harden()
	if o.delete {
		return runSetupDelete(ctx, env, fs, o)
	}
	cfg, err := config.LoadTrusted(o.config, os.Getuid())
	if errors.Is(err, config.ErrNotFound) {
		cfg, err = &config.Config{Profiles: map[string]*config.Profile{}}, nil
	}
	if err != nil {
		errorf(env, "setup: %v", err)
		hintf(env, "%s", configFix(err, "fix or remove the config file; it holds no secrets"))
		return ExitError
	}
	old := cfg.Profiles[o.profile]
	p := &config.Profile{}
	if old != nil {
		*p = *old
	}
	if o.clientID != "" {
		p.ClientID = o.clientID
	}
	if o.serviceAccount != "" {
		p.ServiceAccount = o.serviceAccount
	}
	if o.domainID != "" {
		p.DomainID = o.domainID
	}
	if o.scope != "" {
		p.Scopes = lwauth.ParseScopes(o.scope)
	}
	if o.authURL != "" {
		p.AuthURL = strings.TrimRight(o.authURL, "/")
	}
	var missing []string
	for _, m := range []struct{ v, flag string }{{p.ClientID, "--client-id"}, {p.ServiceAccount, "--service-account"}, {strings.Join(p.Scopes, " "), "--scope"}} {
		if m.v == "" {
			missing = append(missing, m.flag)
		}
	}
	if old == nil && o.privateKeyFile == "" {
		missing = append(missing, "--private-key-file")
	}
	if len(missing) > 0 {
		errorf(env, "setup: profile %q needs %s", o.profile, strings.Join(missing, ", "))
		hintf(env, "run `%s setup -h` for an example", prog)
		return ExitUsage
	}
	next := &config.Config{DefaultProfile: cfg.DefaultProfile, Profiles: map[string]*config.Profile{}}
	for k, v := range cfg.Profiles {
		next.Profiles[k] = v
	}
	next.Profiles[o.profile] = p
	if o.makeDefault {
		next.DefaultProfile = o.profile
	}
	if err := next.Validate(); err != nil {
		errorf(env, "setup: %v", err)
		return ExitUsage
	}

	// Secrets: read and check everything before writing anything.
	var keyPEM []byte
	if o.privateKeyFile != "" {
		b, err := readFileLimited(o.privateKeyFile)
		if err != nil {
			errorf(env, "setup: private key: %v", err)
			return ExitUsage
		}
		if _, err := lwauth.ParsePrivateKey(b); err != nil {
			errorf(env, "setup: private key %s: %v", o.privateKeyFile, err)
			hintf(env, "use the .key file downloaded from the LINE WORKS Developer Console")
			return ExitUsage
		}
		keyPEM = append(bytes.TrimSpace(b), '\n')
	}
	cs, err := readClientSecret(env, o, old != nil)
	if err != nil {
		errorf(env, "setup: client secret: %v", err)
		hintf(env, "pass --client-secret-file FILE, or pipe the secret on stdin; it is never taken as an argument")
		return ExitUsage
	}
	if old == nil && cs.IsZero() {
		errorf(env, "setup: client secret: empty")
		hintf(env, "pass --client-secret-file FILE, or pipe the secret on stdin")
		return ExitUsage
	}

	if o.sys != nil {
		return finishSystemSetup(ctx, env, o, next, old != nil, keyPEM, cs)
	}
	// A profile kept as systemd user credentials stays there (setup_usercreds.go).
	if userCredsFor(o.config).Has() {
		code, done, why := setupUserCredentials(ctx, env, o, next, old != nil, keyPEM, cs, nil)
		if done {
			return code
		}
		errorf(env, "setup: %v", why)
		hintf(env, "the profiles in %s need systemd's user credentials (systemd 256 or later)", userCredsFor(o.config).Dir)
		return ExitNotConfigured
	}
	store := storeFor()
	if err := writeSecrets(ctx, store, o.profile, keyPEM, cs); err != nil {
		if errors.Is(err, keystore.ErrUnavailable) && runtime.GOOS == "linux" {
			code, done, why := setupUserCredentials(ctx, env, o, next, old != nil, keyPEM, cs, err)
			if done {
				return code
			}
			errorf(env, "setup: %v", err)
			hintf(env, "%s", keystore.Hint(err))
			hintf(env, "no keyring here, and %v", why)
			hintf(env, "on a server: `sudo %s setup --system-user USER ...` (systemd 250 or later), or secrets as files for `%s run --credentials-dir DIR`", prog, prog)
			hintf(env, "nothing was changed: secrets are never written to a file in plaintext")
			return ExitNotConfigured
		}
		errorf(env, "setup: %v", err)
		if h := keystore.Hint(err); h != "" {
			hintf(env, "%s", h)
		}
		hintf(env, "nothing was changed: secrets are never written to a file")
		return ExitNotConfigured
	}
	if err := config.Save(o.config, next); err != nil {
		errorf(env, "setup: %v", err)
		return ExitError
	}
	verb := "added"
	if old != nil {
		verb = "updated"
	}
	fmt.Fprintf(env.Stdout, "profile %q %s: secrets in the keyring (service %q), settings in %s\n", o.profile, verb, keystore.Service, o.config)
	c := client.Client{SocketPath: o.socket, Timeout: 5 * time.Second}
	switch err := c.Reload(ctx); {
	case err == nil:
		fmt.Fprintln(env.Stdout, "the running daemon reloaded its configuration")
	case errors.Is(err, client.ErrDaemonNotRunning):
		fmt.Fprintf(env.Stdout, "no daemon is running yet: start it with `%s run`, or install it as a service with `%s install && %s start`\n", prog, prog, prog)
	default:
		fmt.Fprintf(env.Stdout, "the running daemon did not reload (%v): send it SIGHUP\n", err)
	}
	return ExitOK
}

// writeSecrets stores the key and secret (nil/zero: keep the stored one). If the second
// write fails, the first is rolled back, so a profile never ends with a mixed pair.
func writeSecrets(ctx context.Context, store keystore.Store, profile string, keyPEM []byte, cs secret.Value) error {
	var items []item
	if keyPEM != nil {
		items = append(items, item{keystore.PrivateKeyKey(profile), keyPEM})
	}
	if !cs.IsZero() {
		items = append(items, item{keystore.ClientSecretKey(profile), []byte(cs.Reveal())})
	}
	var done []item
	for _, it := range items {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		prev, perr := store.Get(cctx, it.key)
		if perr != nil && !errors.Is(perr, keystore.ErrNotFound) {
			cancel()
			rollback(ctx, store, done)
			return perr
		}
		err := store.Set(cctx, it.key, it.val)
		cancel()
		if err != nil {
			rollback(ctx, store, done)
			return err
		}
		done = append(done, item{it.key, prev}) // prev nil: it did not exist
	}
	return nil
}

type item struct {
	key string
	val []byte
}

func rollback(ctx context.Context, store keystore.Store, done []item) {
	for _, it := range done {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if it.val == nil {
			store.Delete(cctx, it.key)
		} else {
			store.Set(cctx, it.key, it.val)
		}
		cancel()
	}
}

// readClientSecret reads the secret from --client-secret-file, else from stdin when it is
// not a terminal, else from a no-echo prompt. One trailing newline is not part of it. An
// empty answer at the prompt keeps the stored secret of an existing profile.
func readClientSecret(env *Env, o setupOptions, existing bool) (secret.Value, error) {
	var b []byte
	var err error
	switch {
	case o.clientSecretFile == "-":
		b, err = io.ReadAll(io.LimitReader(env.Stdin, maxSecretFile))
	case o.clientSecretFile != "":
		b, err = readFileLimited(o.clientSecretFile)
	case env.StdinFd >= 0 && term.IsTerminal(env.StdinFd):
		prompt := "client secret: "
		if existing {
			prompt = "client secret (enter keeps the stored one): "
		}
		fmt.Fprint(env.Stderr, prompt)
		b, err = term.ReadPassword(env.StdinFd)
		fmt.Fprintln(env.Stderr)
	case env.Stdin != nil:
		b, err = io.ReadAll(io.LimitReader(env.Stdin, maxSecretFile))
	}
	if err != nil {
		return secret.Value{}, err
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if strings.ContainsAny(s, "\r\n") {
		return secret.Value{}, errors.New("more than one line")
	}
	if strings.TrimSpace(s) != s {
		return secret.Value{}, errors.New("leading or trailing white space")
	}
	return secret.New(s), nil
}

func readFileLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSecretFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxSecretFile)
	}
	return b, nil
}
