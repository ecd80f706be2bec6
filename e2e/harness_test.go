//go:build unix

// Package e2e runs the real binaries as processes: lwtoken-helperd (setup, run) and
// lwtoken-helper, against the fake token endpoint and a real Secret Service
// (gnome-keyring in an isolated D-Bus session, started by TestMain).
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/internal/testkey"
	"github.com/lwtoken-helper/lwtoken-helper/internal/testkeyring"
	"github.com/lwtoken-helper/lwtoken-helper/lwfake"
)

var bin struct{ client, daemon, dir string }

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "lwe2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin.dir = dir
	bin.client = filepath.Join(dir, "lwtoken-helper")
	bin.daemon = filepath.Join(dir, "lwtoken-helperd")
	for _, b := range []struct{ out, pkg, tags string }{
		{bin.client, "../cmd/lwtoken-helper", ""},
		{bin.daemon, "../cmd/lwtoken-helperd", "testhooks"},
	} {
		args := []string{"build", "-o", b.out}
		if raceEnabled {
			args = append(args, "-race")
		}
		if b.tags != "" {
			args = append(args, "-tags", b.tags)
		}
		cmd := exec.Command("go", append(args, b.pkg)...)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: build:", err)
			return 1
		}
	}
	kr, err := testkeyring.Start(filepath.Join(dir, "kr"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer kr.Close()
	keyring = kr
	return m.Run()
}

var keyring *testkeyring.Env

// h is one test's world: a fake endpoint, files, a socket, a unique profile name (the
// keyring is shared by the tests of this package), and everything the processes printed.
type h struct {
	t          *testing.T
	dir        string
	fake       *lwfake.Server
	profile    string
	clientID   string
	secret     string
	keyFile    string
	secretFile string
	config     string
	sock       string
	clockFile  string
	daemon     *exec.Cmd
	exited     chan struct{}
	daemonLog  *bytes.Buffer
	logMu      *sync.Mutex
	printed    bytes.Buffer // all stdout and stderr of every process of the test
	// noBus runs every process without a session bus or keyring environment (the files
	// mode of containers: no D-Bus, no Secret Service).
	noBus bool
	// wrap, if set, is the command startDaemon runs the daemon under (its argv follows).
	wrap []string
}

var profileRe = regexp.MustCompile(`[^a-z0-9]+`)

func newH(t *testing.T) *h {
	t.Helper()
	dir, err := os.MkdirTemp("", "lwe")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	k := testkey.App()
	sec := make([]byte, 18)
	rand.Read(sec)
	x := &h{t: t, dir: dir, logMu: &sync.Mutex{}, daemonLog: &bytes.Buffer{},
		profile:  strings.Trim(profileRe.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-"),
		clientID: "cid-" + fmt.Sprintf("%x", sec[:4]),
		secret:   fmt.Sprintf("cs-%x", sec),
	}
	x.fake = lwfake.NewServer(t, lwfake.App{ClientID: x.clientID, ClientSecret: x.secret,
		ServiceAccount: "bot.serviceaccount@example.com", PublicKey: &k.PublicKey, Scopes: []string{"bot", "user.read", "directory.read"}})
	x.keyFile = filepath.Join(dir, "private.key")
	os.WriteFile(x.keyFile, testkey.PEM(k), 0o600)
	x.secretFile = filepath.Join(dir, "secret.txt")
	os.WriteFile(x.secretFile, []byte(x.secret+"\n"), 0o600)
	x.config = filepath.Join(dir, "config.toml")
	x.sock = filepath.Join(dir, "run", "sock")
	x.clockFile = filepath.Join(dir, "clock")
	t.Cleanup(x.stopDaemon)
	t.Cleanup(x.checkNoLeak)
	return x
}

func (x *h) env() []string {
	env := os.Environ()
	if x.noBus {
		env = slices.DeleteFunc(env, func(kv string) bool {
			k, _, _ := strings.Cut(kv, "=")
			return k == "DBUS_SESSION_BUS_ADDRESS" || k == "XDG_DATA_HOME" || k == "XDG_RUNTIME_DIR"
		})
	}
	return append(env, "LWTOKEN_HELPER_SOCKET="+x.sock, "LWTOKEN_HELPER_CONFIG="+x.config,
		"LWTOKEN_HELPERD_TEST_CLOCK_FILE="+x.clockFile)
}

type result struct {
	stdout, stderr string
	code           int
}

// runCmd runs a binary to completion with stdin.
func (x *h) runCmd(binary, stdin string, args ...string) result {
	x.t.Helper()
	return x.runCmdIn(binary, stdin, nil, args...)
}

// runCmdIn runs a binary to completion (60 s at most) with stdin and extra environment
// variables on top of x.env(), recording what it printed for the leak checks.
func (x *h) runCmdIn(binary, stdin string, extra []string, args ...string) result {
	x.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(x.env(), extra...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		x.t.Fatalf("%s %v: %v", filepath.Base(binary), args, err)
	}
	x.logMu.Lock()
	x.printed.Write(out.Bytes())
	x.printed.Write(errb.Bytes())
	x.logMu.Unlock()
	return result{out.String(), errb.String(), code}
}

func (x *h) helper(args ...string) result  { return x.runCmd(bin.client, "", args...) }
func (x *h) helperd(args ...string) result { return x.runCmd(bin.daemon, "", args...) }

// setup stores the profile through the real `lwtoken-helperd setup`, the secret on stdin.
func (x *h) setup(extra ...string) {
	x.t.Helper()
	args := append([]string{"setup", "--profile", x.profile, "--client-id", x.clientID,
		"--service-account", "bot.serviceaccount@example.com", "--domain-id", "12345", "--scope", "bot user.read",
		"--private-key-file", x.keyFile, "--auth-url", x.fake.AuthURL}, extra...)
	r := x.runCmd(bin.daemon, x.secret+"\n", args...)
	if r.code != 0 {
		x.t.Fatalf("setup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// startDaemon starts `lwtoken-helperd run` and waits until it answers.
func (x *h) startDaemon(args ...string) {
	x.t.Helper()
	x.startDaemonEnv(nil, nil, args...)
}

// startDaemonEnv is startDaemon with extra environment variables and a copy of the log to
// tee (nil: none). A data race the (race-built) daemon reports fails the test.
func (x *h) startDaemonEnv(extraEnv []string, tee io.Writer, args ...string) {
	x.t.Helper()
	argv := append([]string{bin.daemon, "run", "--log-level", "debug"}, args...)
	if len(x.wrap) > 0 {
		argv = append(append([]string{}, x.wrap...), argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(x.env(), extraEnv...)
	var w io.Writer = &lockedWriter{mu: x.logMu, w: x.daemonLog}
	if tee != nil {
		w = io.MultiWriter(w, tee)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		x.t.Fatal(err)
	}
	x.daemon = cmd
	done := make(chan struct{})
	x.exited = done
	go func() { cmd.Wait(); close(done) }()
	x.t.Cleanup(func() {
		if strings.Contains(x.log(), "WARNING: DATA RACE") {
			x.t.Errorf("the daemon reported a data race:\n%s", x.log())
		}
	})
	c := client.Client{SocketPath: x.sock, Timeout: time.Second}
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		select {
		case <-done:
			x.t.Fatalf("daemon exited at start:\n%s", x.log())
		default:
		}
		if _, err := c.Status(context.Background()); err == nil {
			return
		}
	}
	x.t.Fatalf("daemon did not answer within 15 s:\n%s", x.log())
}

func (x *h) log() string {
	x.logMu.Lock()
	defer x.logMu.Unlock()
	return x.daemonLog.String()
}

// stopDaemon sends SIGTERM and waits for the exit.
func (x *h) stopDaemon() {
	if x.daemon == nil || x.daemon.Process == nil {
		return
	}
	x.daemon.Process.Signal(syscall.SIGTERM)
	select {
	case <-x.exited:
	case <-time.After(15 * time.Second):
		x.t.Errorf("daemon did not stop within 15 s of SIGTERM")
		x.daemon.Process.Kill()
		<-x.exited
	}
	x.daemon = nil
}

func (x *h) kill9() {
	x.t.Helper()
	if err := x.daemon.Process.Signal(syscall.SIGKILL); err != nil {
		x.t.Fatal(err)
	}
	<-x.exited
	x.daemon = nil
}

// setClock moves the daemon's wall clock (test builds only) and the fake's by d.
func (x *h) setClock(d time.Duration) {
	os.WriteFile(x.clockFile, []byte(fmt.Sprint(int64(d/time.Second))), 0o600)
	x.fake.SetNow(func() time.Time { return time.Now().Add(d) })
}

// checkNoLeak fails the test if the client secret or any 17-byte run of the private
// key's PEM appears in anything a process printed or logged.
func (x *h) checkNoLeak() {
	x.logMu.Lock()
	all := x.printed.String() + x.daemonLog.String()
	x.logMu.Unlock()
	if strings.Contains(all, x.secret) {
		x.t.Errorf("the client secret appears in the output")
	}
	pemBytes, _ := os.ReadFile(x.keyFile)
	body := strings.ReplaceAll(string(pemBytes), "\n", "")
	body = strings.TrimPrefix(strings.TrimSuffix(body, "-----END PRIVATE KEY-----"), "-----BEGIN PRIVATE KEY-----")
	flat := strings.ReplaceAll(all, "\n", "")
	for i := 0; i+17 <= len(body); i++ {
		if strings.Contains(flat, body[i:i+17]) {
			x.t.Errorf("a 17-byte piece of the private key appears in the output")
			break
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
