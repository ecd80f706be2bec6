// Package config owns the daemon's configuration file: non-secret profile data in TOML at
// $LWTOKEN_HELPER_CONFIG, else $XDG_CONFIG_HOME/lwtoken-helper/config.toml (the OS
// equivalent elsewhere). Secrets never live here; they live in the keyring.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// EnvConfig names the config file path.
const EnvConfig = "LWTOKEN_HELPER_CONFIG"

// DefaultAuthURL is the LINE WORKS auth base URL (kept here so config does not import lwauth).
const DefaultAuthURL = "https://auth.worksmobile.com/oauth2/v2.0"

// MaxFileBytes bounds what Load reads.
const MaxFileBytes = 1 << 20

// ErrNotFound is returned (wrapped) by Load when the file does not exist.
var ErrNotFound = errors.New("config file not found")

// Profile is one LINE WORKS app + service account.
type Profile struct {
	ClientID       string   `toml:"client_id"`
	ServiceAccount string   `toml:"service_account"`
	DomainID       string   `toml:"domain_id,omitempty"`
	Scopes         []string `toml:"scopes"`
	AuthURL        string   `toml:"auth_url,omitempty"`
}

// Config is the whole file.
type Config struct {
	DefaultProfile string              `toml:"default_profile,omitempty"`
	Profiles       map[string]*Profile `toml:"profiles"`
}

// Path returns the config path: $LWTOKEN_HELPER_CONFIG, else <user config dir>/lwtoken-helper/config.toml.
// It fails only when no user config directory can be determined.
func Path() (string, error) {
	if p := os.Getenv(EnvConfig); p != "" {
		return p, nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("config: no config directory: %w (set %s)", err, EnvConfig)
	}
	return filepath.Join(d, "lwtoken-helper", "config.toml"), nil
}

// Load reads and validates the file at path. A missing file returns an error wrapping ErrNotFound.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("config: %s: %w", path, ErrNotFound)
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxFileBytes+1)); err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	if buf.Len() > MaxFileBytes {
		return nil, fmt.Errorf("config: %s is larger than %d bytes", path, MaxFileBytes)
	}
	c, err := Parse(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes and validates TOML bytes. Unknown keys are an error (a typo must not pass silently).
func Parse(b []byte) (*Config, error) {
	var c Config
	md, err := toml.Decode(string(b), &c)
	if err != nil {
		return nil, fmt.Errorf("parse: %s", oneLine(err.Error()))
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("unknown key %s", strings.Join(keys, ", "))
	}
	if c.Profiles == nil {
		c.Profiles = map[string]*Profile{}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

var profileName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidProfileName reports whether name can name a profile (it is used in keyring item names).
func ValidProfileName(name string) bool { return profileName.MatchString(name) }

var scopeRe = regexp.MustCompile(`^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*$`)

// ValidScope reports whether s looks like a LINE WORKS scope (resource[.operation]).
func ValidScope(s string) bool { return len(s) <= 64 && scopeRe.MatchString(s) }

// Validate checks every profile; the error names the first bad field.
func (c *Config) Validate() error {
	if c.DefaultProfile != "" && !ValidProfileName(c.DefaultProfile) {
		return fmt.Errorf("default_profile %q is not a valid profile name", c.DefaultProfile)
	}
	for _, name := range c.Names() {
		if err := c.Profiles[name].validate(name); err != nil {
			return err
		}
	}
	if c.DefaultProfile != "" && len(c.Profiles) > 0 && c.Profiles[c.DefaultProfile] == nil {
		return fmt.Errorf("default_profile %q has no [profiles.%s] section", c.DefaultProfile, c.DefaultProfile)
	}
	return nil
}

func (p *Profile) validate(name string) error {
	if !ValidProfileName(name) {
		return fmt.Errorf("profile name %q: use letters, digits, '.', '_' and '-' (at most 64)", name)
	}
	if p == nil {
		return fmt.Errorf("profile %s: empty", name)
	}
	if strings.TrimSpace(p.ClientID) == "" || strings.ContainsAny(p.ClientID, " \t\r\n") {
		return fmt.Errorf("profile %s: client_id is missing or has white space", name)
	}
	if !strings.Contains(p.ServiceAccount, "@") || strings.ContainsAny(p.ServiceAccount, " \t\r\n") {
		return fmt.Errorf("profile %s: service_account %q does not look like an id (abcde.serviceaccount@example.com)", name, p.ServiceAccount)
	}
	if len(p.Scopes) == 0 {
		return fmt.Errorf("profile %s: scopes is empty", name)
	}
	for _, s := range p.Scopes {
		if !ValidScope(s) {
			return fmt.Errorf("profile %s: scope %q is not of the form resource[.operation]", name, s)
		}
	}
	if p.AuthURL != "" {
		u, err := url.Parse(p.AuthURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("profile %s: auth_url %q is not an http(s) URL", name, p.AuthURL)
		}
		if u.Scheme == "http" && !isLoopback(u.Hostname()) {
			return fmt.Errorf("profile %s: auth_url %q uses plain http to a non-loopback host; use https", name, p.AuthURL)
		}
	}
	return nil
}

// isLoopback reports whether the host of a URL (without brackets or port) names the
// loopback interface: the name localhost, or a literal address in 127.0.0.0/8 or ::1
// (also IPv4-mapped). Any other name is refused even if it starts with "127.", since a
// DNS name such as 127.attacker.example resolves wherever its owner wants.
func isLoopback(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.Zone() == "" && ip.Unmap().IsLoopback()
}

// AuthURLOrDefault returns the profile's auth URL or DefaultAuthURL.
func (p *Profile) AuthURLOrDefault() string {
	if p.AuthURL != "" {
		return strings.TrimRight(p.AuthURL, "/")
	}
	return DefaultAuthURL
}

// Names returns the profile names, sorted.
func (c *Config) Names() []string {
	n := make([]string, 0, len(c.Profiles))
	for k := range c.Profiles {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Default returns the default profile name: default_profile, else "default" if present,
// else the only profile, else "".
func (c *Config) Default() string {
	if c.DefaultProfile != "" {
		return c.DefaultProfile
	}
	if _, ok := c.Profiles["default"]; ok {
		return "default"
	}
	if len(c.Profiles) == 1 {
		for k := range c.Profiles {
			return k
		}
	}
	return ""
}

// Equal reports whether two profiles are the same (used to keep tokens across a reload).
func (p *Profile) Equal(o *Profile) bool {
	if p == nil || o == nil {
		return p == o
	}
	if p.ClientID != o.ClientID || p.ServiceAccount != o.ServiceAccount || p.DomainID != o.DomainID ||
		p.AuthURLOrDefault() != o.AuthURLOrDefault() || len(p.Scopes) != len(o.Scopes) {
		return false
	}
	for i := range p.Scopes {
		if p.Scopes[i] != o.Scopes[i] {
			return false
		}
	}
	return true
}

// Save writes c to path atomically (temp file + rename), mode 0600, creating the directory 0700.
func Save(path string, c *Config) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	var buf bytes.Buffer
	buf.WriteString("# lwtoken-helper configuration: non-secret profile data only.\n# Secrets (private key, client secret) live in the OS keyring; see `lwtoken-helperd setup`.\n\n")
	if err := toml.NewEncoder(&buf).Encode(c); err != nil {
		return fmt.Errorf("config: encode: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	f, err := os.CreateTemp(dir, ".config.toml.*")
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("config: %w", err)
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return fmt.Errorf("config: write: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("config: sync: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

func oneLine(s string) string {
	s = strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
