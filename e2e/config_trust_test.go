//go:build unix

package e2e

import (
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// daemonUID is the uid the daemon runs as in the tests below where its user is neither
// root nor the config's owner (otherUID, 12345).
const daemonUID = 54321

var asDaemonUID = []string{"setpriv", "--reuid=" + strconv.Itoa(daemonUID), "--regid=" + strconv.Itoa(daemonUID), "--clear-groups", "--"}

// TestConfigOtherUsersCouldWriteIsRefused: the config's auth_url decides where the client
// secret goes, so the real daemon refuses a config file that another user can write or
// owns, or that sits in such a directory (exit 78, one error line, a hint that fixes it),
// and accepts a root-owned 0644 one in the layout of a Kubernetes ConfigMap.
func TestConfigOtherUsersCouldWriteIsRefused(t *testing.T) {
	x := newH(t)
	pub := publicBins(t)
	mkdir := func(p string, mode os.FileMode, uid int) string {
		t.Helper()
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, uid); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := "[profiles.p]\nclient_id = \"c\"\nservice_account = \"a@example.com\"\nscopes = [\"bot\"]\nauth_url = \"http://127.0.0.1:9/oauth2/v2.0\"\n"
	write := func(p string, mode os.FileMode, uid int) string {
		t.Helper()
		if err := os.WriteFile(p, []byte(good), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, uid); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Directories a daemon of daemonUID may use for its socket.
	runDir := func(name string) string { return mkdir(filepath.Join(pub.dir, name), 0o700, daemonUID) }

	for _, c := range []struct {
		name   string
		as     []string
		daemon string
		config string
		socket string
		want   []string
	}{
		{"root daemon, config 0666", nil, bin.daemon, write(filepath.Join(mkdir(filepath.Join(x.dir, "c1"), 0o700, 0), "config.toml"), 0o666, 0),
			filepath.Join(x.dir, "r1", "sock"), []string{"is writable by group or others (mode 0666): refusing to read it", "hint: chmod go-w "}},
		{"root daemon, config in a directory of uid 12345", nil, bin.daemon,
			write(filepath.Join(mkdir(filepath.Join(x.dir, "c2"), 0o755, otherUID), "config.toml"), 0o600, 0),
			filepath.Join(x.dir, "r2", "sock"), []string{"c2 of the config file is owned by uid 12345, not by the daemon's user (uid 0) or root"}},
		{"daemon of uid 54321, config owned by uid 12345", asDaemonUID, pub.daemon,
			write(filepath.Join(pub.dir, "c3.toml"), 0o644, otherUID), filepath.Join(runDir("r3"), "sock"),
			[]string{"c3.toml is owned by uid 12345, not by the daemon's user (uid 54321) or root: refusing to read it", "hint: have root run `chown 54321 "}},
	} {
		t.Run(c.name, func(t *testing.T) {
			argv := append(append(append([]string{}, c.as...), c.daemon), "run", "--socket", c.socket, "--config", c.config)
			r := x.secRun(15*time.Second, nil, "", argv...)
			if r.code != 78 {
				t.Fatalf("exit %d, want 78:\n%s", r.code, r.stderr)
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], "lwtoken-helperd: error: run: config: ") || !strings.HasPrefix(lines[1], "lwtoken-helperd: hint: ") {
				t.Fatalf("want one error line and one hint:\n%s", r.stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Fatalf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if _, err := os.Stat(c.socket); err == nil {
				t.Fatal("the refused daemon created its socket")
			}
		})
	}

	// A ConfigMap as kubelet mounts it: root-owned, config.toml -> ..data/config.toml, ..data
	// -> a timestamped directory, file mode 0644. A daemon of another uid accepts it.
	t.Run("daemon of uid 54321, root-owned ConfigMap layout", func(t *testing.T) {
		vol := mkdir(filepath.Join(pub.dir, "configmap"), 0o755, 0)
		ts := mkdir(filepath.Join(vol, "..2026_12_02_01_23_45.678901"), 0o755, 0)
		write(filepath.Join(ts, "config.toml"), 0o644, 0)
		os.Symlink(filepath.Base(ts), filepath.Join(vol, "..data"))
		os.Symlink("..data/config.toml", filepath.Join(vol, "config.toml"))
		sock := filepath.Join(runDir("r4"), "sock")
		cmd := exec.Command(asDaemonUID[0], append(append([]string{}, asDaemonUID[1:]...), pub.daemon, "run", "--socket", sock,
			"--config", filepath.Join(vol, "config.toml"))...)
		var log bytes.Buffer
		cmd.Stdout, cmd.Stderr = &log, &log
		cmd.Env = x.env()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
		var r result
		ok := false
		for end := time.Now().Add(15 * time.Second); time.Now().Before(end) && !ok; time.Sleep(50 * time.Millisecond) {
			r = x.secRun(10*time.Second, nil, "", append(append([]string{}, asDaemonUID...), pub.client, "profiles", "--socket", sock)...)
			ok = r.code == 0 && strings.Contains(r.stdout, "p")
		}
		if !ok {
			t.Fatalf("the daemon does not serve the ConfigMap's profile: exit %d %s%s\ndaemon:\n%s", r.code, r.stdout, r.stderr, log.String())
		}
	})
}

// TestSighupKeepsTheLastTrustedConfig is the attack of issue 12 item 5, from outside: the
// user's config is left 0666, another user (uid 12345) points its auth_url at a listener of
// theirs on loopback, and the daemon gets a SIGHUP (setup, `systemctl reload`). The daemon
// must keep its last good config: the next mint goes to the real endpoint and the other
// user's listener sees no connection, let alone the client secret. doctor says how to fix it.
func TestSighupKeepsTheLastTrustedConfig(t *testing.T) {
	x := newH(t)
	x.setup()
	x.startDaemon()
	x.getToken("--scope", "bot")
	minted := x.fake.Issued()

	// The other user's listener: records whatever reaches it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var got bytes.Buffer
	conns := 0
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns++
			mu.Unlock()
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(time.Second))
				b, _ := io.ReadAll(io.LimitReader(c, 1<<16))
				mu.Lock()
				got.Write(b)
				mu.Unlock()
			}()
		}
	}()

	// The user's mistake: the config (and a way to it) open to others.
	if err := os.Chmod(x.config, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(x.dir, 0o711); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(x.config)
	if err != nil {
		t.Fatal(err)
	}
	evil := strings.ReplaceAll(string(cfg), x.fake.URL, "http://"+ln.Addr().String()+"/oauth2/v2.0")
	if evil == string(cfg) {
		t.Fatalf("the config does not name the endpoint %s:\n%s", x.fake.URL, cfg)
	}
	// The other user rewrites it in place (the file stays the user's, mode 0666).
	r := x.secRun(10*time.Second, nil, evil, append(append([]string{}, asOther...), "sh", "-c", `cat >"$0"`, x.config)...)
	if r.code != 0 {
		t.Fatalf("uid %d could not write the config: %s", otherUID, r.stderr)
	}
	if b, _ := os.ReadFile(x.config); string(b) != evil {
		t.Fatal("the config was not rewritten")
	}

	x.daemon.Process.Signal(syscall.SIGHUP)
	waitUntil(t, "the daemon to handle the SIGHUP", 10*time.Second, func() bool {
		return strings.Contains(x.log(), "reload failed") || strings.Contains(x.log(), `msg="config reloaded"`)
	})
	// A new scope set makes the daemon mint: with the last good config, at the real endpoint.
	r = x.helper("get", "--scope", "user.read")
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	n, seen := conns, got.String()
	mu.Unlock()
	if n != 0 || strings.Contains(seen, x.secret) {
		t.Fatalf("the other user's listener got %d connections (client secret seen: %v)", n, strings.Contains(seen, x.secret))
	}
	if r.code != 0 || x.fake.Issued() != minted+1 {
		t.Fatalf("get: exit %d %s; minted %d at the real endpoint after the refused reload, want 1", r.code, r.stderr, x.fake.Issued()-minted)
	}
	if !strings.Contains(x.log(), "reload failed; keeping the previous config") || !strings.Contains(x.log(), "is writable by group or others (mode 0666)") {
		t.Fatalf("the reload error does not say why:\n%s", x.log())
	}

	// doctor names the problem and the fix, and does not probe the other user's URL.
	r = x.helperd("doctor")
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL  config    config: config file "+x.config+" is writable by group or others (mode 0666)") ||
		!strings.Contains(r.stdout, "fix: chmod go-w "+x.config) {
		t.Fatalf("doctor: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	mu.Lock()
	n = conns
	mu.Unlock()
	if n != 0 {
		t.Fatalf("doctor connected to the other user's listener")
	}

	// Fixed, it is read again at the next SIGHUP (here with the other user's URL undone).
	os.WriteFile(x.config, cfg, 0o600)
	os.Chmod(x.config, 0o600)
	x.daemon.Process.Signal(syscall.SIGHUP)
	waitUntil(t, "the daemon to reload", 10*time.Second, func() bool { return strings.Contains(x.log(), `msg="config reloaded"`) })
}

// TestConfigOnAReadOnlyMountIsTrusted: a directory that others could write by its mode, but
// on a read-only mount (a Kubernetes ConfigMap volume is mounted read-only, and its root may
// have mode 0777), passes; the same directory mounted read-write is refused.
func TestConfigOnAReadOnlyMountIsTrusted(t *testing.T) {
	x := newH(t)
	dir := filepath.Join(x.dir, "volume")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	cfg := filepath.Join(dir, "config.toml")
	os.WriteFile(cfg, []byte("[profiles.p]\nclient_id = \"c\"\nservice_account = \"a@example.com\"\nscopes = [\"bot\"]\n"), 0o644)
	sock := filepath.Join(x.dir, "ro-run", "sock")

	r := x.helperd("run", "--config", cfg, "--socket", sock)
	if r.code != 78 || !strings.Contains(r.stderr, "directory "+dir+" of the config file is writable by group or others (mode 0777)") {
		t.Fatalf("read-write: exit %d, want 78:\n%s", r.code, r.stderr)
	}

	// The same directory bind-mounted read-only, in a mount namespace of the daemon's own.
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c",
		`mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"`, "sh", dir,
		bin.daemon, "run", "--config", cfg, "--socket", sock)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.Env = x.env()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	ok := false
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end) && !ok; time.Sleep(50 * time.Millisecond) {
		r = x.helper("profiles", "--socket", sock)
		ok = r.code == 0 && strings.Contains(r.stdout, "p")
	}
	if !ok {
		t.Fatalf("the daemon does not serve the config on a read-only mount: exit %d %s%s\ndaemon:\n%s", r.code, r.stdout, r.stderr, log.String())
	}
}
