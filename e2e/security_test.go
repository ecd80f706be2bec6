//go:build unix

package e2e

// Security tests of the real binaries (issue 4): other users are refused by the kernel-checked
// peer uid, the socket directory is checked, the daemon's memory is closed to other processes
// of the same user, nothing secret is ever printed, logged, written to disk or put in argv or
// the environment, every token served is audited, setup fails closed without a keyring, and
// tokens can be revoked and profiles deleted.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/secret"
	"github.com/lwtoken-helper/lwtoken-helper/internal/testkey"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
	"github.com/lwtoken-helper/lwtoken-helper/lwfake"
)

// Another uid for the tests, and the uid nobody.
const (
	otherUID  = 12345
	otherGID  = 54321
	nobodyUID = 65534
)

// The test binary doubles as a tiny client or /proc reader run as another user: secHelperEnv
// selects what it does instead of running tests.
const secHelperEnv = "LWE2E_SECURITY_HELPER"

func init() {
	switch os.Getenv(secHelperEnv) {
	case "":
	case "rawget":
		os.Exit(helperRawGet(os.Getenv("LWE2E_SOCK")))
	case "readproc":
		os.Exit(helperReadProc(os.Getenv("LWE2E_PID")))
	default:
		fmt.Fprintln(os.Stderr, "unknown", secHelperEnv)
		os.Exit(2)
	}
}

// helperRawGet connects to sock, asks for a token and reports how many bytes came back.
func helperRawGet(sock string) int {
	c, err := net.Dial("unix", sock)
	if err != nil {
		fmt.Printf("dial: %v\n", err)
		return 3
	}
	defer c.Close()
	fmt.Println("connected")
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /v1/token HTTP/1.1\r\nHost: lwtoken-helper\r\nConnection: close\r\n\r\n")
	b, err := io.ReadAll(c)
	fmt.Printf("read %d bytes (%v): %q\n", len(b), err, b)
	return 0
}

// helperReadProc tries what a same-uid process would do to steal the daemon's secrets:
// read its memory through /proc/PID/mem, and its environment.
func helperReadProc(pid string) int {
	res := map[string]string{}
	if f, err := os.Open("/proc/" + pid + "/mem"); err != nil {
		res["mem"] = "open: " + err.Error()
	} else {
		res["mem"] = "read: no readable mapping"
		maps, _ := os.ReadFile("/proc/" + pid + "/maps")
		for _, line := range strings.Split(string(maps), "\n") {
			fields := strings.Fields(line)
			if len(fields) < 2 || fields[1][0] != 'r' || strings.Contains(line, "[v") {
				continue
			}
			lo, _, _ := strings.Cut(fields[0], "-")
			addr, err := strconv.ParseUint(lo, 16, 64)
			if err != nil {
				continue
			}
			buf := make([]byte, 64)
			n, err := f.ReadAt(buf, int64(addr))
			res["mem"] = fmt.Sprintf("read %d bytes (%v)", n, err)
			break
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/" + pid + "/environ"); err != nil {
		res["environ"] = err.Error()
	} else {
		res["environ"] = fmt.Sprintf("read %d bytes", len(b))
	}
	json.NewEncoder(os.Stdout).Encode(res)
	return 0
}

// pubBins are copies of the binaries (and of this test binary) in a directory that every
// user can read and execute, for runs as other users.
type pubBins struct{ dir, client, daemon, test string }

func publicBins(t *testing.T) pubBins {
	t.Helper()
	dir, err := os.MkdirTemp("", "lwpub")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := pubBins{dir: dir, client: filepath.Join(dir, "lwtoken-helper"), daemon: filepath.Join(dir, "lwtoken-helperd"),
		test: filepath.Join(dir, "e2e.test")}
	for src, dst := range map[string]string{bin.client: p.client, bin.daemon: p.daemon, self: p.test} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// as are the ways to run a command as another user.
var (
	asNobody = []string{"runuser", "-u", "nobody", "--"}
	asOther  = []string{"setpriv", "--reuid=" + strconv.Itoa(otherUID), "--regid=" + strconv.Itoa(otherGID), "--clear-groups", "--"}
	// asOtherSameGroup runs as the uid the other-uid daemon runs as (gid included): the
	// kernel's same-user ptrace rules apply between the two.
	asOtherSameGroup = []string{"setpriv", "--reuid=" + strconv.Itoa(otherUID), "--regid=" + strconv.Itoa(otherUID), "--clear-groups", "--"}
)

// secRun runs argv with env added to x's, records what it printed in x.printed (except the
// stdout of a successful `get`, which is the token by design), and gives up after timeout.
// A command that cannot run or does not finish has exit code -1 and says why on stderr.
func (x *h) secRun(timeout time.Duration, extraEnv []string, stdin string, argv ...string) result {
	x.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(x.env(), extraEnv...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
		fmt.Fprintf(&errb, "\nsecRun: %v: %v", argv, err)
	}
	if ctx.Err() != nil {
		// Reported through the result: this may run in a subtest, where x.t must not FailNow.
		code = -1
		fmt.Fprintf(&errb, "\nsecRun: %v did not finish within %s", argv, timeout)
	}
	x.logMu.Lock()
	if !(code == 0 && isGet(argv)) {
		x.printed.Write(out.Bytes())
	}
	x.printed.Write(errb.Bytes())
	x.logMu.Unlock()
	return result{out.String(), errb.String(), code}
}

func isGet(argv []string) bool {
	for _, a := range argv {
		if a == "get" {
			return true
		}
	}
	return false
}

// openUp gives everyone access to the socket and its directories: only the peer check
// stands between another user and the daemon.
func (x *h) openUp() {
	x.t.Helper()
	for path, mode := range map[string]os.FileMode{x.dir: 0o755, filepath.Dir(x.sock): 0o777, x.sock: 0o777} {
		if err := os.Chmod(path, mode); err != nil {
			x.t.Fatal(err)
		}
	}
}

// TestOtherUsersAreRefusedBeforeAnyByte: real clients running as other users, with the
// socket opened to everyone on purpose, get not one byte, and the daemon logs each refusal.
func TestOtherUsersAreRefusedBeforeAnyByte(t *testing.T) {
	x := newH(t)
	x.setup()
	x.startDaemon()
	tok := x.getToken() // cached: a refused client must not see it
	x.openUp()
	pub := publicBins(t)
	for _, c := range []struct {
		name string
		as   []string
		uid  int
	}{{"runuser nobody", asNobody, nobodyUID}, {"setpriv uid 12345", asOther, otherUID}} {
		t.Run(c.name, func(t *testing.T) {
			// The real thin client, every command that reaches the daemon.
			for _, args := range [][]string{{"get"}, {"status"}, {"revoke"}} {
				argv := append(append(append([]string{}, c.as...), pub.client), append(args, "--socket", x.sock)...)
				r := x.secRun(20*time.Second, nil, "", argv...)
				if r.code == 0 || strings.Contains(r.stdout+r.stderr, tok) || r.stdout != "" {
					t.Fatalf("%s as uid %d: exit %d\n%s%s", args[0], c.uid, r.code, r.stdout, r.stderr)
				}
				if !strings.Contains(r.stderr, "lwtoken-helper: error: no usable reply from the daemon") ||
					!strings.Contains(r.stderr, "logs why it refused a connection") {
					t.Fatalf("%s as uid %d: unexpected error\n%s", args[0], c.uid, r.stderr)
				}
			}
			// A raw client: it connects (the socket is open to it), and gets zero bytes.
			argv := append(append([]string{}, c.as...), "env", secHelperEnv+"=rawget", "LWE2E_SOCK="+x.sock, pub.test)
			r := x.secRun(20*time.Second, nil, "", argv...)
			if !strings.Contains(r.stdout, "connected\n") || !strings.Contains(r.stdout, "read 0 bytes") {
				t.Fatalf("raw client as uid %d: %s%s", c.uid, r.stdout, r.stderr)
			}
			// The first refusal of each uid is logged in full; later ones are counted in a
			// summary line (TestRefusedConnectionFloodIsSummarized).
			want := regexp.MustCompile(`connection refused: peer is another user.*peer_uid=` + strconv.Itoa(c.uid) + ` peer_pid=\d+`)
			if n := len(want.FindAllString(x.log(), -1)); n != 1 {
				t.Fatalf("%d refusals of uid %d logged in full, want 1:\n%s", n, c.uid, x.log())
			}
		})
	}
	if h := x.fake.RevokeRequests(); h != 0 || !x.fake.Valid(tok) {
		t.Fatalf("a refused client revoked the token (%d revoke requests)", h)
	}
	if n := strings.Count(x.log(), "token served"); n != 1 {
		t.Fatalf("%d tokens served, want only the owner's 1", n)
	}
	if got := x.getToken(); got != tok { // the owner still gets it
		t.Fatal("the owner's token changed")
	}
}

// TestSocketDirectoryOfAnotherUserRefused: for real, with directories owned by other users.
func TestSocketDirectoryOfAnotherUserRefused(t *testing.T) {
	x := newH(t)
	pub := publicBins(t)
	mk := func(parent, name string, mode os.FileMode, uid int) string {
		d := filepath.Join(parent, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, uid, uid); err != nil {
			t.Fatal(err)
		}
		return d
	}
	none := filepath.Join(pub.dir, "none.toml")
	for _, c := range []struct {
		name string
		argv []string
		dir  string
		want []string
	}{
		{"root daemon, directory of nobody", []string{bin.daemon}, mk(x.dir, "nobodys", 0o700, nobodyUID),
			[]string{"is owned by uid 65534, not by you (uid 0): refusing to use it"}},
		{"uid 12345 daemon, directory of root", append(append([]string{}, asOther...), pub.daemon), mk(pub.dir, "roots", 0o700, 0),
			[]string{"is owned by uid 0, not by you (uid 12345): refusing to use it"}},
		{"uid 12345 daemon, its directory writable by its group", append(append([]string{}, asOther...), pub.daemon),
			mk(pub.dir, "groupw", 0o770, otherUID), []string{"is writable by group or others (mode 0770)", "chmod 700"}},
		{"root daemon, symlink to its own directory", []string{bin.daemon}, func() string {
			l := filepath.Join(x.dir, "link")
			os.Symlink(mk(x.dir, "mine", 0o700, 0), l)
			return l
		}(), []string{"is a symlink: refusing to follow it"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			argv := append(c.argv, "run", "--socket", filepath.Join(c.dir, "sock"), "--config", none)
			r := x.secRun(15*time.Second, nil, "", argv...)
			if r.code != 78 { // EX_CONFIG: a restart finds the same directory
				t.Fatalf("exit %d, want 78:\n%s", r.code, r.stderr)
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			var errs []string
			for _, l := range lines {
				if strings.HasPrefix(l, "lwtoken-helperd: error: ") {
					errs = append(errs, l)
				}
			}
			if len(errs) != 1 || !strings.Contains(r.stderr, "lwtoken-helperd: hint: ") {
				t.Fatalf("want one error line and a hint:\n%s", r.stderr)
			}
			for _, w := range append(c.want, "socket directory "+c.dir) {
				if !strings.Contains(errs[0], w) {
					t.Fatalf("error lacks %q:\n%s", w, r.stderr)
				}
			}
			if es, _ := os.ReadDir(c.dir); len(es) != 0 {
				t.Fatalf("the refused directory was written to: %v", es)
			}
		})
	}
}

// procLimitsCore returns the soft and hard core-size limits of pid.
func procLimitsCore(t *testing.T, pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "Max core file size") {
			f := strings.Fields(l)
			return f[4] + " " + f[5]
		}
	}
	t.Fatal("no core line in /proc/PID/limits")
	return ""
}

// TestDaemonMemoryClosedToTheSameUser runs the daemon as uid 12345 and a reader as the same
// uid (root would bypass the checks): the hardened daemon's /proc/PID/mem and environ are
// refused and its core limit is 0; the same daemon with hardening switched off (test builds
// only) is readable, so the test tells the two apart.
func TestDaemonMemoryClosedToTheSameUser(t *testing.T) {
	x := newH(t)
	pub := publicBins(t)
	for _, hardened := range []bool{true, false} {
		t.Run(fmt.Sprintf("hardened=%v", hardened), func(t *testing.T) {
			run := filepath.Join(pub.dir, fmt.Sprintf("run-%v", hardened))
			os.Mkdir(run, 0o700)
			if err := os.Chown(run, otherUID, otherUID); err != nil {
				t.Fatal(err)
			}
			argv := append([]string{"prlimit", "--core=1048576:unlimited", "--"}, asOtherSameGroup...)
			argv = append(argv, pub.daemon, "run", "--socket", filepath.Join(run, "sock"),
				"--config", filepath.Join(pub.dir, "none.toml"), "--log-level", "debug")
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Env = x.env()
			if !hardened {
				cmd.Env = append(cmd.Env, "LWTOKEN_HELPERD_TEST_NO_HARDEN=1")
			}
			logb := &lockedWriter{mu: &sync.Mutex{}, w: &bytes.Buffer{}}
			logged := func() string { logb.mu.Lock(); defer logb.mu.Unlock(); return logb.w.String() }
			cmd.Stdout, cmd.Stderr = logb, logb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			defer func() {
				cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					cmd.Process.Kill()
					<-done
				}
				x.logMu.Lock()
				x.daemonLog.WriteString(logged())
				x.logMu.Unlock()
			}()
			for end := time.Now().Add(15 * time.Second); !strings.Contains(logged(), "listening"); time.Sleep(10 * time.Millisecond) {
				select {
				case <-done:
					t.Fatalf("daemon exited:\n%s", logged())
				default:
				}
				if time.Now().After(end) {
					t.Fatalf("daemon did not listen:\n%s", logged())
				}
			}
			pid := cmd.Process.Pid // prlimit and setpriv exec: this is the daemon
			if st, err := os.Stat(fmt.Sprintf("/proc/%d/exe", pid)); err != nil || st == nil {
				t.Fatalf("no daemon at pid %d: %v", pid, err)
			}
			if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); exe != pub.daemon {
				t.Fatalf("pid %d runs %s, not the daemon", pid, exe)
			}
			r := x.secRun(20*time.Second, nil, "", append(append([]string{}, asOtherSameGroup...),
				"env", secHelperEnv+"=readproc", "LWE2E_PID="+strconv.Itoa(pid), pub.test)...)
			var got map[string]string
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
				t.Fatalf("reader: %v\n%s%s", err, r.stdout, r.stderr)
			}
			core := procLimitsCore(t, pid)
			var owner uint32
			if st, err := os.Stat(fmt.Sprintf("/proc/%d/environ", pid)); err == nil {
				owner = st.Sys().(*syscall.Stat_t).Uid
			}
			t.Logf("reader as uid %d: %v; core limit %q; /proc/PID/environ owned by %d", otherUID, got, core, owner)
			if hardened {
				if !strings.Contains(got["mem"], "permission denied") || !strings.Contains(got["environ"], "permission denied") {
					t.Fatalf("a process of the same uid reads the hardened daemon: %v", got)
				}
				if core != "0 0" {
					t.Fatalf("core limit %q, want 0 0", core)
				}
				if owner != 0 {
					t.Fatalf("/proc/PID files owned by %d: the kernel does not consider the daemon non-dumpable", owner)
				}
			} else {
				if !strings.HasPrefix(got["mem"], "read 64 bytes") || !strings.HasPrefix(got["environ"], "read ") {
					t.Fatalf("control: the unhardened daemon should be readable by its own uid: %v", got)
				}
				if core == "0 0" {
					t.Fatal("control: the core limit is 0 without hardening; the hardened case proves nothing")
				}
			}
		})
	}
}

// TestAuditLineNamesTheClientProcess: one audit line per token handed out, naming the
// client's pid, uid and executable and the token's fingerprint, never the token.
func TestAuditLineNamesTheClientProcess(t *testing.T) {
	x := newH(t)
	x.setup()
	x.startDaemon()
	pub := publicBins(t) // a second client executable, at another path
	var toks []string
	for i, exe := range []string{bin.client, pub.client, bin.client} {
		cmd := exec.Command(exe, "get")
		cmd.Env = x.env()
		var out bytes.Buffer
		cmd.Stdout = &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pid := cmd.Process.Pid
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
		tok := strings.TrimSpace(out.String())
		toks = append(toks, tok)
		var line string
		for _, l := range strings.Split(x.log(), "\n") {
			if strings.Contains(l, `msg="token served"`) && strings.Contains(l, fmt.Sprintf(" peer_pid=%d ", pid)) {
				line = l + " "
			}
		}
		for _, w := range []string{" peer_uid=0 ", " peer_exe=" + exe + " ", " fingerprint=" + secret.New(tok).Fingerprint() + " ",
			" profile=" + x.profile + " "} {
			if !strings.Contains(line, w) {
				t.Fatalf("get %d (pid %d): the audit line lacks %q:\n%s", i, pid, w, x.log())
			}
		}
	}
	if n := strings.Count(x.log(), `msg="token served"`); n != 3 {
		t.Fatalf("%d audit lines for 3 tokens served", n)
	}
	for _, tok := range toks {
		if strings.Contains(x.log(), tok) {
			t.Fatal("the log holds a token")
		}
	}
}

// TestSetupFailsClosedWithoutSecretService: with no usable Secret Service, setup fails with
// one error line and hints, and writes nothing anywhere: no config, no file with a secret.
func TestSetupFailsClosedWithoutSecretService(t *testing.T) {
	x := newH(t)
	emptyBin := filepath.Join(x.dir, "emptybin")
	emptyRun := filepath.Join(x.dir, "emptyrun")
	os.Mkdir(emptyBin, 0o755)
	os.Mkdir(emptyRun, 0o700)
	home := filepath.Join(x.dir, "home")
	os.Mkdir(home, 0o700)
	before := listFiles(t, x.dir)
	for _, c := range []struct {
		name string
		env  []string
		want string
	}{
		{"bus address points to a dead socket", []string{"DBUS_SESSION_BUS_ADDRESS=unix:path=" + filepath.Join(x.dir, "no-bus")}, "no such file or directory"},
		{"no session bus at all", []string{"DBUS_SESSION_BUS_ADDRESS=", "XDG_RUNTIME_DIR=" + emptyRun, "PATH=" + emptyBin}, "dbus-launch"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := append([]string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "TMPDIR=" + home}, c.env...)
			for _, args := range [][]string{
				{"setup", "--profile", x.profile, "--client-id", x.clientID, "--service-account", "bot.serviceaccount@example.com",
					"--scope", "bot", "--private-key-file", x.keyFile, "--auth-url", x.fake.AuthURL},
				{"setup", "--delete", "--profile", x.profile},
			} {
				r := x.secRun(30*time.Second, env, x.secret+"\n", append([]string{bin.daemon}, args...)...)
				if r.code != 4 || r.stdout != "" {
					t.Fatalf("%v: exit %d, stdout %q, want 4 and nothing:\n%s", args[:2], r.code, r.stdout, r.stderr)
				}
				lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
				if !strings.HasPrefix(lines[0], "lwtoken-helperd: error: ") || strings.Count(r.stderr, "error:") != 1 ||
					!strings.Contains(lines[0], "keyring unavailable") || !strings.Contains(lines[0], c.want) {
					t.Fatalf("%v: want one error line naming the keyring:\n%s", args[:2], r.stderr)
				}
				msg := strings.TrimPrefix(lines[0], "lwtoken-helperd: error: ")
				if strings.ToLower(msg[:1]) != msg[:1] {
					t.Fatalf("error not lowercase: %q", msg)
				}
				for _, w := range []string{"hint: start a Secret Service", "nothing was changed"} {
					if !strings.Contains(r.stderr, w) {
						t.Fatalf("%v: stderr lacks %q:\n%s", args[:2], w, r.stderr)
					}
				}
				for _, l := range lines[1:] {
					if !strings.HasPrefix(l, "lwtoken-helperd: hint: ") {
						t.Fatalf("unexpected line %q", l)
					}
				}
			}
		})
	}
	if _, err := os.Stat(x.config); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a failed setup wrote the config: %v", err)
	}
	after := listFiles(t, x.dir)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("a failed setup wrote files:\nbefore %v\nafter  %v", before, after)
	}
	lc := newLeakCheck(x, nil)
	lc.disk(t, x.dir, x.keyFile, x.secretFile)
	lc.report(t)
	// And no item reached the real keyring either.
	for _, k := range []string{keystore.ClientSecretKey(x.profile), keystore.PrivateKeyKey(x.profile)} {
		if _, err := (&keystore.Keyring{}).Get(context.Background(), k); !errors.Is(err, keystore.ErrNotFound) {
			t.Fatalf("%s: %v", k, err)
		}
	}
}

func listFiles(t *testing.T, dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// TestRevokeAndSetupDelete: revoke revokes at LINE WORKS (the fake checks the request and the
// token dies), drops the tokens from memory and the keyring, and the next get mints anew;
// setup --delete revokes, deletes every keyring item of the profile, removes it from the
// config and has the running daemon reload; without a daemon it revokes from the keyring.
func TestRevokeAndSetupDelete(t *testing.T) {
	x := newH(t)
	x.setup()
	x.startDaemon()
	kr := &keystore.Keyring{}
	ctx := context.Background()
	stored := func(scope string) bool {
		_, err := kr.Get(ctx, keystore.TokenKey(x.profile, scope))
		if err != nil && !errors.Is(err, keystore.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	full := x.getToken()
	bot := x.getToken("--scope", "bot")
	if !stored("bot user.read") || !stored("bot") {
		t.Fatal("tokens not stored")
	}
	r := x.helper("revoke")
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("revoked 2 token(s) of profile %q at line works", x.profile)) {
		t.Fatalf("revoke: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if x.fake.Valid(full) || x.fake.Valid(bot) || x.fake.RevokeRequests() != 2 || x.fake.LastError() != "" {
		t.Fatalf("after revoke: valid %v %v, %d revoke requests, last error %q", x.fake.Valid(full), x.fake.Valid(bot),
			x.fake.RevokeRequests(), x.fake.LastError())
	}
	if stored("bot user.read") || stored("bot") {
		t.Fatal("revoked tokens left in the keyring")
	}
	next := x.getToken()
	if next == full || x.fake.TokenRequests() != 3 {
		t.Fatal("get after revoke did not mint a new token")
	}
	if !strings.Contains(x.log(), `msg="tokens revoked"`) || !strings.Contains(x.log(), "peer_exe="+bin.client) {
		t.Fatalf("no revoke audit line:\n%s", x.log())
	}
	// A token of a scope subset minted before a restart is found through the index.
	bot = x.getToken("--scope", "bot")
	x.stopDaemon()
	x.startDaemon()
	if r := x.helper("revoke", "--profile", x.profile); r.code != 0 || !strings.Contains(r.stdout, "revoked 2 token(s)") || x.fake.Valid(bot) || x.fake.Valid(next) {
		t.Fatalf("revoke after restart: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := x.helper("revoke"); r.code != 0 || !strings.Contains(r.stdout, "nothing to revoke") {
		t.Fatalf("revoke with nothing cached: %d %s %s", r.code, r.stdout, r.stderr)
	}
	checkErr(t, x.helper("revoke", "--profile", "nope"), 4, `profile "nope" is not configured`, "hint:")
	checkErr(t, x.helper("revoke", "extra"), 2, "unexpected argument (5 characters, not shown)")

	// setup --delete with the daemon running.
	tok := x.getToken()
	x.getToken("--scope", "bot")
	checkErrProg(t, "lwtoken-helperd", x.helperd("setup", "--delete"), 2, "name the profile to delete with --profile")
	checkErrProg(t, "lwtoken-helperd", x.helperd("setup", "--delete", "--profile", x.profile, "--client-id", "x"), 2, "--client-id cannot be combined with --delete")
	r = x.helperd("setup", "--delete", "--profile", x.profile)
	if r.code != 0 || !strings.Contains(r.stdout, "revoked 2 token(s)") || !strings.Contains(r.stdout, "item(s) removed from the keyring") ||
		!strings.Contains(r.stdout, "reloaded") || r.stderr != "" {
		t.Fatalf("setup --delete: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if x.fake.Valid(tok) {
		t.Fatal("setup --delete left a valid token")
	}
	for _, k := range []string{keystore.PrivateKeyKey(x.profile), keystore.ClientSecretKey(x.profile), keystore.TokenKey(x.profile, "bot user.read"),
		keystore.TokenKey(x.profile, "bot"), "profile/" + x.profile + "/token-index"} {
		if _, err := kr.Get(ctx, k); !errors.Is(err, keystore.ErrNotFound) {
			t.Fatalf("%s survived setup --delete: %v", k, err)
		}
	}
	if cfg, _ := os.ReadFile(x.config); strings.Contains(string(cfg), x.profile) {
		t.Fatalf("the profile is still in the config:\n%s", cfg)
	}
	checkErr(t, x.helper("get", "--profile", x.profile), 4, "is not configured")
	checkErrProg(t, "lwtoken-helperd", x.helperd("setup", "--delete", "--profile", x.profile), 4, "is not configured and the keyring holds nothing of it")

	// Without a daemon: the stored tokens are revoked from the keyring.
	x.setup()
	tok = x.getToken()
	x.stopDaemon()
	r = x.helperd("setup", "--delete", "--profile", x.profile)
	if r.code != 0 || !strings.Contains(r.stdout, "revoked 1 token(s)") || x.fake.Valid(tok) {
		t.Fatalf("setup --delete without a daemon: %d valid %v\n%s%s", r.code, x.fake.Valid(tok), r.stdout, r.stderr)
	}
	if _, err := kr.Get(ctx, keystore.PrivateKeyKey(x.profile)); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatal("the key survived")
	}
}

// ---- leak checks ----

// leakCheck searches bytes for the client secret (and its hex and base64), every token
// handed out, and any run of more than 16 characters of the private key (its PEM body,
// its DER bytes, the decimal digits of its private exponent and primes).
type leakCheck struct {
	x       *h
	needles map[string]string // needle -> what it is
	pemWin  map[string]bool   // 17-char windows of the PEM body
	derWin  map[string]bool   // 17-byte windows of the DER
	found   []string
}

func newLeakCheck(x *h, tokens []string) *leakCheck {
	lc := &leakCheck{x: x, needles: map[string]string{}, pemWin: map[string]bool{}, derWin: map[string]bool{}}
	lc.needles[x.secret] = "the client secret"
	lc.needles[hex.EncodeToString([]byte(x.secret))] = "the client secret in hex"
	lc.needles[base64.StdEncoding.EncodeToString([]byte(x.secret))[:24]] = "the client secret in base64"
	for _, tok := range tokens {
		lc.needles[tok] = "an access token"
	}
	k := testkey.App()
	lc.needles[k.D.String()[:24]] = "the private exponent"
	lc.needles[k.Primes[0].String()[:24]] = "a prime of the key"
	lc.needles[hex.EncodeToString(k.D.Bytes()[:12])] = "the private exponent in hex"
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	body := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	body = strings.TrimSuffix(strings.TrimPrefix(strings.ReplaceAll(body, "\n", ""), "-----BEGIN PRIVATE KEY-----"), "-----END PRIVATE KEY-----")
	// The first 38 DER bytes (51 base64 characters) are the same ASN.1 preamble in every
	// RSA-2048 PKCS#8 key; a window starting there would match any other key too.
	for i := 52; i+17 <= len(body); i++ {
		lc.pemWin[body[i:i+17]] = true
	}
	for i := 38; i+17 <= len(der); i++ {
		lc.derWin[string(der[i:i+17])] = true
	}
	return lc
}

func (lc *leakCheck) scan(where string, b []byte) {
	for n, what := range lc.needles {
		if bytes.Contains(b, []byte(n)) {
			lc.found = append(lc.found, fmt.Sprintf("%s holds %s", where, what))
		}
	}
	for i := 0; i+17 <= len(b); i++ {
		if lc.derWin[string(b[i:i+17])] {
			lc.found = append(lc.found, where+" holds DER bytes of the private key")
			break
		}
	}
	// PEM text may be wrapped, or its newlines escaped (\n in JSON logs).
	flat := bytes.ReplaceAll(bytes.ReplaceAll(bytes.ReplaceAll(b, []byte(`\n`), nil), []byte("\n"), nil), []byte("\r"), nil)
	for i := 0; i+17 <= len(flat); i++ {
		if lc.pemWin[string(flat[i:i+17])] {
			lc.found = append(lc.found, where+" holds a 17-character piece of the private key")
			break
		}
	}
}

// disk scans every regular file under root except skip (the test's own inputs).
func (lc *leakCheck) disk(t *testing.T, root string, skip ...string) int {
	n := 0
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), "go-build") {
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() {
			return nil
		}
		for _, s := range skip {
			if p == s {
				return nil
			}
		}
		fi, err := d.Info()
		if err != nil || fi.Size() > 8<<20 {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		n++
		lc.scan(p, b)
		return nil
	})
	return n
}

// recentDisk scans the files under root modified since t0 (for shared places like /tmp,
// where a process could have written despite TMPDIR).
func (lc *leakCheck) recentDisk(root string, t0 time.Time, skip ...string) {
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		for _, s := range skip {
			if p == s {
				return filepath.SkipDir
			}
		}
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), "go-build") || strings.HasPrefix(d.Name(), "lwpub") || strings.HasPrefix(d.Name(), "lwe2e-") {
				return filepath.SkipDir // binaries
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil || !fi.Mode().IsRegular() || fi.Size() > 4<<20 || fi.ModTime().Before(t0) {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil {
			lc.scan(p, b)
		}
		return nil
	})
}

// procs scans /proc/*/cmdline and /proc/*/environ of every process, and reports whether each
// pid in mustSee was alive and read.
func (lc *leakCheck) procs(t *testing.T, moment string, mustSee ...int) {
	t.Helper()
	seen := map[int]bool{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		for _, f := range []string{"cmdline", "environ"} {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, f))
			if err != nil {
				continue
			}
			if f == "cmdline" && len(b) > 0 {
				seen[pid] = true
			}
			lc.scan(fmt.Sprintf("%s: /proc/%d/%s (%s)", moment, pid, f, strings.ReplaceAll(string(b[:min(len(b), 60)]), "\x00", " ")), b)
		}
	}
	for _, pid := range mustSee {
		if !seen[pid] {
			t.Fatalf("%s: process %d was not alive to be searched", moment, pid)
		}
	}
}

func (lc *leakCheck) report(t *testing.T) {
	t.Helper()
	if len(lc.found) > 0 {
		t.Fatalf("secrets leaked:\n  %s", strings.Join(lc.found, "\n  "))
	}
}

// startBlocked starts argv with stdin held open (it is written but not closed), so the
// process is alive when /proc is searched; finish closes stdin and waits.
func (x *h) startBlocked(argv []string, stdin string) (pid int, finish func() result) {
	x.t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = x.env()
	w, err := cmd.StdinPipe()
	if err != nil {
		x.t.Fatal(err)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		x.t.Fatal(err)
	}
	io.WriteString(w, stdin)
	return cmd.Process.Pid, func() result {
		w.Close()
		err := cmd.Wait()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		x.logMu.Lock()
		if !(code == 0 && isGet(argv)) {
			x.printed.Write(out.Bytes())
		}
		x.printed.Write(errb.Bytes())
		x.logMu.Unlock()
		return result{out.String(), errb.String(), code}
	}
}

// waitState waits until pid is blocked (sleeping) in the kernel.
func waitState(t *testing.T, pid int) {
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatalf("process %d gone: %v", pid, err)
		}
		if _, rest, ok := bytes.Cut(b, []byte(") ")); ok && rest[0] == 'S' {
			time.Sleep(50 * time.Millisecond)
			return
		}
	}
	t.Fatalf("process %d never blocked", pid)
}

// commandsOf returns the command names a binary lists in its help.
func commandsOf(t *testing.T, binary string) []string {
	out, _ := exec.Command(binary, "help").Output()
	var cmds []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && strings.HasPrefix(sc.Text(), "  ") && !strings.HasPrefix(f[0], "-") && regexp.MustCompile(`^[a-z-]+$`).MatchString(f[0]) &&
			!strings.Contains(sc.Text(), "$") && f[0] != binaryName(binary) {
			cmds = append(cmds, f[0])
		}
	}
	if len(cmds) < 3 {
		t.Fatalf("cannot read the commands of %s from its help:\n%s", binary, out)
	}
	return cmds
}

func binaryName(p string) string { return filepath.Base(p) }

// TestSecretsNeverLeak runs setup, the daemon with debug logging (text, then JSON), every
// client command and every error path, then searches everything printed and logged, every
// file written (the test's directories, HOME, XDG and TMPDIR, recent files in /tmp) and
// /proc/*/cmdline and /proc/*/environ of every process while the daemon, setup and clients
// run, for the client secret, every token and any piece of the private key.
func TestSecretsNeverLeak(t *testing.T) {
	t0 := time.Now().Add(-time.Second)
	x := newH(t)
	for k, sub := range map[string]string{"HOME": "home", "XDG_CONFIG_HOME": "xdg-config", "XDG_CACHE_HOME": "xdg-cache",
		"XDG_STATE_HOME": "xdg-state", "TMPDIR": "tmp"} {
		d := filepath.Join(x.dir, sub)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		t.Setenv(k, d)
	}
	var tokens []string
	get := func(args ...string) string {
		t.Helper()
		r := x.secRun(60*time.Second, nil, "", append([]string{bin.client, "get"}, args...)...)
		if r.code != 0 {
			t.Fatalf("get %v: %d %s", args, r.code, r.stderr)
		}
		tok := strings.TrimSpace(r.stdout)
		tokens = append(tokens, tok)
		return tok
	}
	// The checker itself finds what it looks for: the secret, a token, a piece of the key
	// wrapped in a log line and one with its newlines escaped as in JSON.
	probe := newLeakCheck(x, []string{"probe-token-0123456789"})
	pemBytes, _ := os.ReadFile(x.keyFile)
	probe.scan("secret", []byte("a "+x.secret+" b"))
	probe.scan("token", []byte(`{"t":"probe-token-0123456789"}`))
	probe.scan("pem", append([]byte("key: "), pemBytes[300:380]...))
	probe.scan("json pem", []byte(strings.ReplaceAll(string(pemBytes[500:600]), "\n", `\n`)))
	if len(probe.found) != 4 {
		t.Fatalf("the leak checker is blind: %v", probe.found)
	}
	lc := newLeakCheck(x, nil)
	setupArgs := []string{bin.daemon, "setup", "--profile", x.profile, "--client-id", x.clientID, "--service-account", "bot.serviceaccount@example.com",
		"--domain-id", "12345", "--scope", "bot user.read", "--private-key-file", x.keyFile, "--auth-url", x.fake.AuthURL, "--default"}

	// setup, caught alive holding the key and the secret.
	pid, finish := x.startBlocked(setupArgs, x.secret+"\n")
	waitState(t, pid)
	lc.procs(t, "during setup", pid)
	if r := finish(); r.code != 0 {
		t.Fatalf("setup: %d %s", r.code, r.stderr)
	}
	// setup again, the secret from a file, and an update with the secret piped.
	if r := x.secRun(30*time.Second, nil, "", append(setupArgs, "--client-secret-file", x.secretFile)...); r.code != 0 {
		t.Fatalf("setup from a file: %d %s", r.code, r.stderr)
	}
	x.startDaemon()
	lc.procs(t, "daemon idle", x.daemon.Process.Pid)

	// Every client command, with and without a token cached.
	tok := get()
	get("--scope", "bot")
	get("--min-ttl", "1m", "--profile", x.profile)
	for _, argv := range [][]string{{"status"}, {"status", "--json"}, {"version"}, {"help"}, {"revoke"}, {"revoke", "--profile", x.profile}} {
		if r := x.secRun(30*time.Second, nil, "", append([]string{bin.client}, argv...)...); r.code != 0 {
			t.Fatalf("%v: %d %s", argv, r.code, r.stderr)
		}
	}
	if x.fake.Valid(tok) {
		t.Fatal("revoke did not revoke")
	}
	// Every command either binary lists: its help, and the client's bare (exec without a
	// command is an error path; the others only read); of the daemon's admin verbs only those
	// that change nothing.
	for _, c := range commandsOf(t, bin.client) {
		x.secRun(30*time.Second, nil, "", bin.client, c, "-h")
		x.secRun(30*time.Second, nil, "", bin.client, c)
	}
	for _, c := range commandsOf(t, bin.daemon) {
		x.secRun(30*time.Second, nil, "", bin.daemon, c, "-h")
		if c == "doctor" || c == "status" || c == "version" {
			x.secRun(60*time.Second, nil, "", bin.daemon, c)
		}
	}
	// A client and the daemon caught alive while a token is minted.
	x.fake.SetDelay(time.Second)
	before := x.fake.TokenRequests()
	pid, finish = x.startBlocked([]string{bin.client, "get", "--scope", "bot"}, "")
	for end := time.Now().Add(10 * time.Second); x.fake.TokenRequests() == before; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the get did not reach line works")
		}
	}
	lc.procs(t, "during a mint", pid, x.daemon.Process.Pid)
	r := finish()
	if r.code != 0 {
		t.Fatalf("get: %s", r.stderr)
	}
	tokens = append(tokens, strings.TrimSpace(r.stdout))
	x.fake.SetDelay(0)

	// Every error path of the client.
	for _, c := range []struct {
		args  []string
		setup func()
	}{
		{[]string{"get", "--socket", filepath.Join(x.dir, "nope", "sock")}, nil},
		{[]string{"revoke", "--socket", filepath.Join(x.dir, "nope", "sock")}, nil},
		{[]string{"status", "--socket", filepath.Join(x.dir, "nope", "sock")}, nil},
		{[]string{"frob"}, nil}, {[]string{"get", "--nope"}, nil}, {[]string{"get", "extra"}, nil}, {nil, nil},
		{[]string{"get", "--profile", "nope"}, nil}, {[]string{"revoke", "--profile", "nope"}, nil},
		{[]string{"get", "--profile", "../x"}, nil},
		{[]string{"get", "--scope", "directory.read"}, nil}, {[]string{"get", "--min-ttl", "25h"}, nil},
		{[]string{"get", "--min-ttl", "-1s"}, nil},
		{[]string{"get", "--scope", "user.read"}, func() { x.fake.FailNext(-1, lwfake.Failure{Status: 503}) }},
		{[]string{"get", "--scope", "user.read"}, func() {
			x.fake.ClearFailures()
			x.fake.FailNext(1, lwfake.Failure{Status: 401, Code: "invalid_client", Description: "client authentication failed"})
		}},
		{[]string{"get", "--scope", "user.read", "--min-ttl", "23h59m"}, func() { x.fake.ClearFailures() }},
	} {
		if c.setup != nil {
			c.setup()
		}
		x.secRun(60*time.Second, nil, "", append([]string{bin.client}, c.args...)...)
	}
	// A wrong client secret: line works rejects it.
	if r := x.secRun(30*time.Second, nil, "wrong-"+x.secret[:8]+"\n", bin.daemon, "setup", "--profile", x.profile); r.code != 0 {
		t.Fatalf("setup with another secret: %s", r.stderr)
	}
	x.secRun(60*time.Second, nil, "", bin.client, "get", "--scope", "user.read")
	x.secRun(60*time.Second, nil, "", bin.client, "revoke")
	if r := x.secRun(30*time.Second, nil, x.secret+"\n", bin.daemon, "setup", "--profile", x.profile); r.code != 0 {
		t.Fatalf("setup back: %s", r.stderr)
	}
	// Setup and daemon error paths.
	for _, c := range []struct {
		stdin string
		args  []string
	}{
		{"s\n", []string{"setup", "--profile", "p2", "--client-id", "c", "--service-account", "a@b", "--scope", "bot", "--private-key-file", x.secretFile}},
		{"", []string{"setup", "--profile", "p3"}},
		{"", []string{"setup", "--profile", "p4", "--client-id", "c", "--service-account", "a@b", "--scope", "bot", "--private-key-file", x.keyFile}},
		{"", []string{"setup", "--profile", "p5", x.secret}},
		{x.secret + "\nmore\n", []string{"setup", "--profile", x.profile}},
		{" " + x.secret + "\n", []string{"setup", "--profile", x.profile}},
		{"", []string{"setup", "--profile", "bad/name"}},
		{"", []string{"setup", "--delete"}},
		{"", []string{"setup", "--delete", "--profile", "nope"}},
		{"", []string{"run"}}, // already running
		{"", []string{"run", "--log-level", "loud"}},
		{"", []string{"run", "--socket", "relative/sock"}},
		{"", []string{"run", "--socket", "/tmp/sock"}}, // /tmp is writable by others
		{"", []string{"frob"}},
	} {
		x.secRun(30*time.Second, nil, c.stdin, append([]string{bin.daemon}, c.args...)...)
	}
	// A locked keyring.
	if err := keyring.Lock(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keyring.Unlock() })
	x.secRun(30*time.Second, nil, x.secret+"\n", bin.daemon, "setup", "--profile", x.profile, "--scope", "bot")
	x.secRun(30*time.Second, nil, "", bin.daemon, "setup", "--delete", "--profile", x.profile)
	x.secRun(60*time.Second, nil, "", bin.client, "revoke")
	x.secRun(60*time.Second, nil, "", bin.client, "get", "--scope", "user.read")
	if err := keyring.Unlock(); err != nil {
		t.Fatal(err)
	}
	// The daemon again, logging JSON; then the profile deleted.
	x.stopDaemon()
	x.startDaemon("--log-format", "json")
	get()
	get("--scope", "bot")
	x.secRun(30*time.Second, nil, "", bin.client, "status", "--json")
	lc.procs(t, "json daemon", x.daemon.Process.Pid)
	if r := x.secRun(60*time.Second, nil, "", bin.daemon, "setup", "--delete", "--profile", x.profile); r.code != 0 {
		t.Fatalf("setup --delete: %d %s", r.code, r.stderr)
	}
	x.secRun(30*time.Second, nil, "", bin.client, "get")
	x.stopDaemon()

	// Now search everything.
	lc2 := newLeakCheck(x, tokens)
	lc2.found = lc.found // the /proc findings of the live moments, made before all tokens were known
	lc.found = nil
	for _, tok := range tokens {
		if tok == "" || len(tok) < 16 {
			t.Fatalf("bad token %q", tok)
		}
	}
	x.logMu.Lock()
	printed, logged := x.printed.String(), x.daemonLog.String()
	x.logMu.Unlock()
	lc2.scan("what the processes printed", []byte(printed))
	lc2.scan("the daemon's log", []byte(logged))
	n := lc2.disk(t, x.dir, x.keyFile, x.secretFile)
	lc2.recentDisk("/tmp", t0, x.dir) // x.dir (with the test's inputs) was searched above

	lc2.recentDisk("/var/tmp", t0)
	lc2.recentDisk("/dev/shm", t0)
	lc2.procs(t, "at the end")
	lc2.report(t)
	// The checks looked at something real.
	for _, w := range []string{`"msg":"token served"`, `msg="token served"`, "tokens revoked", "token minted", "connection", "fingerprint"} {
		if w != "connection" && !strings.Contains(logged, w) {
			t.Fatalf("the daemon's log lacks %q: the test did not exercise it", w)
		}
	}
	if !strings.Contains(printed, "lwtoken-helper: error:") || !strings.Contains(printed, "lwtoken-helperd: error:") || n < 2 {
		t.Fatalf("too little was searched: %d files, %d bytes printed", n, len(printed))
	}
	if len(tokens) < 6 {
		t.Fatalf("only %d tokens were handed out", len(tokens))
	}
}
