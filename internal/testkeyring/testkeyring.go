// Package testkeyring starts a real, isolated Secret Service (gnome-keyring in a private D-Bus
// session bus) for tests, so that keyring code is tested against the real thing and never
// touches the user's own keyring.
//
// It needs the Debian packages dbus and gnome-keyring
// (`apt-get install -y --no-install-recommends dbus gnome-keyring`); when they are missing,
// Start fails with an error saying so. It never skips.
package testkeyring

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dbus "github.com/godbus/dbus/v5"
)

// StartTimeout bounds how long Start and StartSecretService wait for the bus and for
// org.freedesktop.secrets to appear on it.
const StartTimeout = 15 * time.Second

const (
	secretsName    = "org.freedesktop.secrets"
	secretsPath    = dbus.ObjectPath("/org/freedesktop/secrets")
	serviceIface   = "org.freedesktop.Secret.Service"
	internalIface  = "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface"
	defaultAlias   = "default"
	installHint    = "install them with `apt-get update && apt-get install -y --no-install-recommends dbus gnome-keyring`, or run the tests under scripts/keyring-env.sh (which installs them when run as root)"
	maxSocketPath  = 100 // sun_path is 108 bytes on Linux, 104 on macOS
	stopGrace      = 3 * time.Second
	pollInterval   = 5 * time.Millisecond
	busConfigName  = "bus.conf"
	busLogName     = "dbus-daemon.log"
	keyringLogName = "gnome-keyring.log"
)

// busConfig is a session bus without service directories: nothing is auto-activated, so
// a stopped Secret Service stays stopped (the system's org.freedesktop.secrets.service would
// otherwise start a new, locked gnome-keyring on the next call) and no prompter can appear.
const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// Env is a running isolated session bus with gnome-keyring's Secret Service on it. Its
// methods are not safe for concurrent use.
type Env struct {
	BusAddress string // DBUS_SESSION_BUS_ADDRESS of the private bus
	RuntimeDir string // XDG_RUNTIME_DIR: the bus socket and gnome-keyring's control directory
	DataDir    string // XDG_DATA_HOME: gnome-keyring keeps DataDir/keyrings/login.keyring here

	dir      string
	password string // the login keyring's password; never printed
	bus      *proc
	keyring  *proc // nil while the Secret Service is stopped
	conn     *dbus.Conn
	savedEnv map[string]*string // values before Start, restored by Close
	closed   bool
}

// proc is a child process we own and reap.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once Wait returned
	err  error         // Wait's result, valid after done
}

func startProc(cmd *exec.Cmd) (*proc, error) {
	setParentDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, then SIGKILL after stopGrace, and reaps the process.
func (p *proc) stop() error {
	if p.exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(stopGrace):
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-p.done
	return nil
}

// Start launches an isolated D-Bus session bus (dbus-daemon --nofork with a configuration
// that listens on dir/run/bus and has no service directories) and gnome-keyring-daemon
// --foreground --unlock --components=secrets in it with a random non-empty password, waits
// until org.freedesktop.secrets is owned on that bus, and sets DBUS_SESSION_BUS_ADDRESS,
// XDG_DATA_HOME and XDG_RUNTIME_DIR (all under dir) in this process's environment, so that
// go-keyring and child processes use it. Both daemons are children of this process: Close
// kills and reaps them (and, on Linux, they get SIGKILL if this process dies first).
//
// dir must exist and be short enough for a Unix socket path (dir/run/bus under 100 bytes).
// Start fails, never skips, when dbus-daemon or gnome-keyring-daemon is missing (the error
// says which package to install) or when the service does not come up within StartTimeout;
// on failure it leaves no process behind and the environment unchanged.
func Start(dir string) (*Env, error) {
	for _, bin := range []string{"dbus-daemon", "gnome-keyring-daemon"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("testkeyring: %s not found in PATH (Debian packages dbus and gnome-keyring): %s", bin, installHint)
		}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("testkeyring: %w", err)
	}
	e := &Env{
		dir:        dir,
		RuntimeDir: filepath.Join(dir, "run"),
		DataDir:    filepath.Join(dir, "data"),
	}
	sock := filepath.Join(e.RuntimeDir, "bus")
	if len(sock) > maxSocketPath {
		return nil, fmt.Errorf("testkeyring: bus socket path %q is too long for a unix socket: use a shorter dir", sock)
	}
	for _, d := range []string{e.RuntimeDir, e.DataDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("testkeyring: %w", err)
		}
	}
	pw := make([]byte, 16)
	if _, err := rand.Read(pw); err != nil {
		return nil, fmt.Errorf("testkeyring: password: %w", err)
	}
	e.password = hex.EncodeToString(pw)

	if err := e.startBus(sock); err != nil {
		return nil, err
	}
	if err := e.StartSecretService(); err != nil {
		_ = e.shutdown()
		return nil, err
	}
	e.setEnv()
	return e, nil
}

func (e *Env) startBus(sock string) error {
	conf := filepath.Join(e.dir, busConfigName)
	// The config's <listen> takes a D-Bus address: escape the path as the spec asks.
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(busConfig, xmlEscape(escapeAddressValue(sock)))), 0o600); err != nil {
		return fmt.Errorf("testkeyring: %w", err)
	}
	_ = os.Remove(sock) // a socket left by an earlier, killed run in the same dir
	log, err := os.OpenFile(filepath.Join(e.dir, busLogName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("testkeyring: %w", err)
	}
	defer log.Close()
	cmd := exec.Command("dbus-daemon", "--config-file="+conf, "--nofork", "--print-address=1")
	cmd.Env = e.childEnv(false)
	cmd.Stderr = log
	cmd.Dir = e.dir
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("testkeyring: %w", err)
	}
	bus, err := startProc(cmd)
	if err != nil {
		return fmt.Errorf("testkeyring: start dbus-daemon: %w", err)
	}
	e.bus = bus

	type line struct {
		s   string
		err error
	}
	got := make(chan line, 1)
	go func() {
		s, err := bufio.NewReader(out).ReadString('\n')
		got <- line{s, err}
		_, _ = io.Copy(io.Discard, out) // dbus-daemon prints nothing more; keep the pipe drained anyway
	}()
	select {
	case l := <-got:
		if l.err != nil || strings.TrimSpace(l.s) == "" {
			_ = e.shutdown()
			return fmt.Errorf("testkeyring: dbus-daemon did not print its address (%v)%s", l.err, e.logTail(busLogName))
		}
		e.BusAddress = strings.TrimSpace(l.s)
	case <-time.After(StartTimeout):
		_ = e.shutdown()
		return fmt.Errorf("testkeyring: dbus-daemon did not start within %v%s", StartTimeout, e.logTail(busLogName))
	}

	conn, err := dbus.Connect(e.BusAddress)
	if err != nil {
		_ = e.shutdown()
		return fmt.Errorf("testkeyring: connect to the test bus: %w", err)
	}
	e.conn = conn
	return nil
}

// StartSecretService starts gnome-keyring-daemon on the bus with the Env's data directory
// and password, so that items stored before StopSecretService are there again, and waits
// until it owns org.freedesktop.secrets. It fails if the service is already running or does
// not come up within StartTimeout.
func (e *Env) StartSecretService() error {
	if e.closed {
		return errors.New("testkeyring: env is closed")
	}
	if e.keyring != nil {
		return errors.New("testkeyring: secret service already running")
	}
	if owner, err := e.secretsOwner(); err == nil {
		return fmt.Errorf("testkeyring: %s is already owned by pid %d", secretsName, owner)
	}
	log, err := os.OpenFile(filepath.Join(e.dir, keyringLogName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("testkeyring: %w", err)
	}
	defer log.Close()
	// --unlock reads the login keyring's password from stdin; it creates the keyring with that
	// password the first time (an empty password would create no default collection).
	cmd := exec.Command("gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets")
	cmd.Env = e.childEnv(true)
	cmd.Stdin = strings.NewReader(e.password)
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.Dir = e.dir
	p, err := startProc(cmd)
	if err != nil {
		return fmt.Errorf("testkeyring: start gnome-keyring-daemon: %w", err)
	}
	e.keyring = p

	deadline := time.Now().Add(StartTimeout)
	for {
		owner, err := e.secretsOwner()
		if err == nil {
			if int(owner) != p.pid() {
				_ = e.StopSecretService()
				return fmt.Errorf("testkeyring: %s is owned by pid %d, not by our gnome-keyring-daemon (pid %d)", secretsName, owner, p.pid())
			}
			return nil
		}
		if p.exited() {
			e.keyring = nil
			return fmt.Errorf("testkeyring: gnome-keyring-daemon exited before owning %s: %v%s", secretsName, p.err, e.logTail(keyringLogName))
		}
		if time.Now().After(deadline) {
			_ = e.StopSecretService()
			return fmt.Errorf("testkeyring: %s not owned within %v (last error: %v)%s", secretsName, StartTimeout, err, e.logTail(keyringLogName))
		}
		time.Sleep(pollInterval)
	}
}

// StopSecretService kills gnome-keyring-daemon (SIGTERM, then SIGKILL) and waits until
// org.freedesktop.secrets has no owner. The bus stays up, so go-keyring calls now fail with
// "The name org.freedesktop.secrets was not provided by any .service files". Stopping a
// stopped service is a no-op.
func (e *Env) StopSecretService() error {
	if e.keyring == nil {
		return nil
	}
	p := e.keyring
	e.keyring = nil
	if err := p.stop(); err != nil {
		return fmt.Errorf("testkeyring: stop gnome-keyring-daemon: %w", err)
	}
	if e.conn == nil || e.bus.exited() {
		return nil
	}
	deadline := time.Now().Add(StartTimeout)
	for {
		if _, err := e.secretsOwner(); err != nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testkeyring: %s still owned %v after gnome-keyring-daemon exited", secretsName, StartTimeout)
		}
		time.Sleep(pollInterval)
	}
}

// Lock locks the default collection through org.freedesktop.Secret.Service.Lock, so that the
// next go-keyring call fails with "failed to unlock correct collection ..." (no prompter can
// run on this bus).
func (e *Env) Lock() error {
	path, err := e.defaultCollection()
	if err != nil {
		return fmt.Errorf("testkeyring: lock: %w", err)
	}
	var locked []dbus.ObjectPath
	var prompt dbus.ObjectPath
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	err = e.conn.Object(secretsName, secretsPath).CallWithContext(ctx, serviceIface+".Lock", 0, []dbus.ObjectPath{path}).Store(&locked, &prompt)
	if err != nil {
		return fmt.Errorf("testkeyring: lock %s: %w", path, err)
	}
	if prompt != "/" {
		return fmt.Errorf("testkeyring: lock %s: the service asked for a prompt", path)
	}
	return e.checkLocked(ctx, path, true)
}

// Unlock unlocks the default collection again with the password given at start, through
// gnome-keyring's UnlockWithMasterPassword (the D-Bus call its own unlock dialog uses).
func (e *Env) Unlock() error {
	path, err := e.defaultCollection()
	if err != nil {
		return fmt.Errorf("testkeyring: unlock: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	svc := e.conn.Object(secretsName, secretsPath)
	var ignored dbus.Variant
	var session dbus.ObjectPath
	if err := svc.CallWithContext(ctx, serviceIface+".OpenSession", 0, "plain", dbus.MakeVariant("")).Store(&ignored, &session); err != nil {
		return fmt.Errorf("testkeyring: unlock: open session: %w", err)
	}
	defer e.conn.Object(secretsName, session).CallWithContext(ctx, "org.freedesktop.Secret.Session.Close", 0)
	master := struct {
		Session     dbus.ObjectPath
		Parameters  []byte
		Value       []byte
		ContentType string
	}{session, []byte{}, []byte(e.password), "text/plain"}
	if err := svc.CallWithContext(ctx, internalIface+".UnlockWithMasterPassword", 0, path, master).Err; err != nil {
		return fmt.Errorf("testkeyring: unlock %s: %w", path, err)
	}
	return e.checkLocked(ctx, path, false)
}

func (e *Env) checkLocked(ctx context.Context, path dbus.ObjectPath, want bool) error {
	var v dbus.Variant
	err := e.conn.Object(secretsName, path).CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0,
		"org.freedesktop.Secret.Collection", "Locked").Store(&v)
	if err != nil {
		return fmt.Errorf("testkeyring: read Locked of %s: %w", path, err)
	}
	if got, ok := v.Value().(bool); !ok || got != want {
		return fmt.Errorf("testkeyring: %s: Locked is %v, want %v", path, v.Value(), want)
	}
	return nil
}

func (e *Env) defaultCollection() (dbus.ObjectPath, error) {
	if e.closed || e.conn == nil {
		return "", errors.New("env is closed")
	}
	if e.keyring == nil {
		return "", errors.New("secret service is stopped")
	}
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	var path dbus.ObjectPath
	err := e.conn.Object(secretsName, secretsPath).CallWithContext(ctx, serviceIface+".ReadAlias", 0, defaultAlias).Store(&path)
	if err != nil {
		return "", fmt.Errorf("read alias %q: %w", defaultAlias, err)
	}
	if path == "/" {
		return "", fmt.Errorf("no %q collection", defaultAlias)
	}
	return path, nil
}

// secretsOwner returns the pid owning org.freedesktop.secrets, or an error if it has none.
func (e *Env) secretsOwner() (uint32, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var pid uint32
	err := e.conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.GetConnectionUnixProcessID", 0, secretsName).Store(&pid)
	return pid, err
}

// Environ returns the variables a child process needs to use this Secret Service:
// DBUS_SESSION_BUS_ADDRESS, XDG_DATA_HOME and XDG_RUNTIME_DIR, as KEY=value.
func (e *Env) Environ() []string {
	return []string{
		"DBUS_SESSION_BUS_ADDRESS=" + e.BusAddress,
		"XDG_DATA_HOME=" + e.DataDir,
		"XDG_RUNTIME_DIR=" + e.RuntimeDir,
	}
}

// childEnv is this process's environment with ours in place of the same keys.
func (e *Env) childEnv(withBus bool) []string {
	vars := []string{"XDG_DATA_HOME=" + e.DataDir, "XDG_RUNTIME_DIR=" + e.RuntimeDir}
	if withBus {
		vars = e.Environ()
	}
	env := make([]string, 0, len(os.Environ())+len(vars))
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "DBUS_SESSION_BUS_ADDRESS" || k == "XDG_DATA_HOME" || k == "XDG_RUNTIME_DIR" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, vars...)
}

func (e *Env) setEnv() {
	e.savedEnv = map[string]*string{}
	for _, kv := range e.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if old, ok := os.LookupEnv(k); ok {
			e.savedEnv[k] = &old
		} else {
			e.savedEnv[k] = nil
		}
		os.Setenv(k, v)
	}
}

// Close kills gnome-keyring-daemon and the bus, reaps both, and restores the environment
// variables Start set. It leaves dir and its files (the caller owns dir). Calling it again
// is a no-op.
func (e *Env) Close() error {
	if e.closed {
		return nil
	}
	e.closed = true
	err := e.shutdown()
	for k, v := range e.savedEnv {
		if v == nil {
			os.Unsetenv(k)
		} else {
			os.Setenv(k, *v)
		}
	}
	return err
}

func (e *Env) shutdown() error {
	var errs []error
	if e.keyring != nil {
		if err := e.keyring.stop(); err != nil {
			errs = append(errs, fmt.Errorf("testkeyring: stop gnome-keyring-daemon: %w", err))
		}
		e.keyring = nil
	}
	if e.conn != nil {
		_ = e.conn.Close()
		e.conn = nil
	}
	if e.bus != nil {
		if err := e.bus.stop(); err != nil {
			errs = append(errs, fmt.Errorf("testkeyring: stop dbus-daemon: %w", err))
		}
	}
	return errors.Join(errs...)
}

// PIDs returns the process ids of the bus and of gnome-keyring-daemon (0 while stopped),
// for tests that check nothing is left behind.
func (e *Env) PIDs() (bus, keyring int) {
	if e.bus != nil {
		bus = e.bus.pid()
	}
	if e.keyring != nil {
		keyring = e.keyring.pid()
	}
	return bus, keyring
}

func (e *Env) logTail(name string) string {
	b, err := os.ReadFile(filepath.Join(e.dir, name))
	if err != nil || len(b) == 0 {
		return ""
	}
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return "\n" + name + ":\n" + strings.TrimSpace(string(b))
}

// current is the Env Main started.
var current *Env

// Main is for TestMain: it starts an Env in a new temporary directory, runs m.Run, closes the
// Env, removes the directory and exits with m.Run's code. If the Env cannot start it prints
// why and exits 1 without running any test: tests that need a keyring fail, never skip.
// Tests reach the Env through Current.
func Main(m *testing.M) {
	os.Exit(run(m))
}

// Current returns the Env started by Main, or nil outside Main. Tests that Lock it or stop
// its Secret Service must restore it (t.Cleanup) and must not run in parallel with tests
// that use the keyring.
func Current() *Env { return current }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "testkeyring-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "testkeyring:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	env, err := Start(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	current = env
	defer func() {
		current = nil
		if err := env.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	return m.Run()
}

// escapeAddressValue escapes a value for a D-Bus address as the specification asks: bytes
// outside [-0-9A-Za-z_/.\*] become %xx.
func escapeAddressValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z',
			c == '-', c == '_', c == '/', c == '.', c == '\\', c == '*':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02x", c)
		}
	}
	return b.String()
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(s)
}
