//go:build unix

package e2e

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/internal/config"
	"github.com/lwtoken-helper/lwtoken-helper/internal/secret"
	"github.com/lwtoken-helper/lwtoken-helper/internal/testkey"
	"github.com/lwtoken-helper/lwtoken-helper/internal/testsecretdir"
	"github.com/lwtoken-helper/lwtoken-helper/lwfake"
)

// filesWorld is x set up for the files mode: no session bus, a kubelet-projected Secret
// volume holding x.profile's key and secret, and a config (written by hand, no setup) with
// x.profile and x.profile+"-b", whose files are not there.
func filesWorld(t *testing.T) (*h, *testsecretdir.Kubelet, map[string][]byte) {
	x := newH(t)
	x.noBus = true
	keyPEM, err := os.ReadFile(x.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	kw := &testsecretdir.Kubelet{Dir: filepath.Join(x.dir, "vol")}
	files := map[string][]byte{x.profile + ".private-key": keyPEM, x.profile + ".client-secret": []byte(x.secret + "\n")}
	if err := kw.Write(files); err != nil {
		t.Fatal(err)
	}
	p := func() *config.Profile {
		return &config.Profile{ClientID: x.clientID, ServiceAccount: "bot.serviceaccount@example.com",
			Scopes: []string{"bot", "user.read"}, AuthURL: x.fake.AuthURL}
	}
	if err := config.Save(x.config, &config.Config{DefaultProfile: x.profile,
		Profiles: map[string]*config.Profile{x.profile: p(), x.profile + "-b": p()}}); err != nil {
		t.Fatal(err)
	}
	return x, kw, files
}

func (x *h) statusJSON() client.Status {
	x.t.Helper()
	r := x.helper("status", "--json")
	var st client.Status
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &st) != nil {
		x.t.Fatalf("status --json: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	return st
}

// The real daemon with only --credentials-dir and a config: no D-Bus, no keyring, no
// setup. It serves tokens, picks up a rotation of both the key and the secret (the old ones
// rejected by LINE WORKS) through kubelet's ..data swap without a restart, fails only the
// profile whose files are missing, malformed or world-writable (exit 4, naming the file),
// and $CREDENTIALS_DIRECTORY alone selects the mode.
func TestFilesModeRealDaemon(t *testing.T) {
	x, kw, files := filesWorld(t)
	vol := kw.Dir
	x.startDaemon("--credentials-dir", vol)
	t1 := x.getToken()
	st := x.statusJSON()
	if st.SecretSource != "files in "+vol || st.TokenCache == "" {
		t.Fatalf("status: secret_source %q, token_cache %q", st.SecretSource, st.TokenCache)
	}
	if strings.Contains(x.log(), "dbus") || strings.Contains(x.log(), "keyring unavailable") {
		t.Fatalf("the files mode touched the keyring:\n%s", x.log())
	}

	// What doctor says in this mode (pasted into the closing note).
	d := x.helperd("doctor", "--credentials-dir", vol)
	t.Logf("doctor in files mode (exit %d):\n%s%s", d.code, d.stdout, d.stderr)
	for _, want := range []string{"ok    stores    secrets from files in " + vol, "skip  keyring   not used", "warn  secrets   profile " + x.profile,
		"is readable by every user (mode 0644)", "FAIL  secrets   profile " + x.profile + "-b: secret file " + filepath.Join(vol, x.profile+"-b.private-key") + ": no such file"} {
		if !strings.Contains(d.stdout, want) {
			t.Fatalf("doctor does not say %q:\n%s", want, d.stdout)
		}
	}

	// Rotation: a new key pair and client secret registered in the console, the old ones
	// rejected from now on; kubelet then projects the new Secret into the volume.
	newKey := testkey.Other()
	der, _ := x509.MarshalPKCS8PrivateKey(newKey)
	newSecret := x.secret + "-rotated"
	if err := x.fake.AddApp(lwfake.App{ClientID: x.clientID, ClientSecret: newSecret, ServiceAccount: "bot.serviceaccount@example.com",
		PublicKey: &newKey.PublicKey, Scopes: []string{"bot", "user.read", "directory.read"}}); err != nil {
		t.Fatal(err)
	}
	files[x.profile+".private-key"] = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	files[x.profile+".client-secret"] = []byte(newSecret + "\n")
	var swapped time.Time
	kw.Between = func(step string) {
		if step == "..data swapped" {
			swapped = time.Now()
		}
	}
	if err := kw.Write(files); err != nil {
		t.Fatal(err)
	}
	c := client.Client{SocketPath: x.sock, Timeout: 5 * time.Second}
	var picked time.Duration
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("no token minted with the rotated secrets within 10 s:\n%s", x.log())
		}
		st, err := c.Status(context.Background())
		if err == nil && len(st.Entries) > 0 && st.Entries[0].Fingerprint != "" &&
			st.Entries[0].Fingerprint != secret.New(t1).Fingerprint() && st.Entries[0].Health == "ok" {
			picked = time.Since(swapped)
			break
		}
	}
	t.Logf("rotation pickup, real daemon (kubelet ..data swap to the new token cached): %v", picked.Round(time.Millisecond))
	t2 := x.getToken()
	if t2 == t1 || x.fake.TokenRequests() != 2 {
		t.Fatalf("after the rotation: same token %v, %d token requests (want 2)", t2 == t1, x.fake.TokenRequests())
	}

	// The profile without files, then with a malformed key, then world-writable: exit 4
	// naming the file, with a hint; the first profile keeps working; the daemon stays up.
	b := x.profile + "-b"
	for _, c := range []struct {
		name  string
		files map[string][]byte
		modes map[string]os.FileMode
		want  string
	}{
		{"missing", nil, nil, filepath.Join(vol, b+".private-key") + ": no such file"},
		{"malformed", map[string][]byte{b + ".private-key": []byte("-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\n-----END RSA PRIVATE KEY-----\n"),
			b + ".client-secret": []byte("x")}, nil, filepath.Join(vol, b+".private-key") + ": not a usable private key"},
		// The error names the file (its link) and the file it resolves to.
		{"world-writable", map[string][]byte{b + ".private-key": files[x.profile+".private-key"], b + ".client-secret": []byte("x")},
			map[string]os.FileMode{b + ".client-secret": 0o666}, "which is writable by other users (mode 0666)"},
	} {
		all := map[string][]byte{}
		for k, v := range files {
			all[k] = v
		}
		for k, v := range c.files {
			all[k] = v
		}
		kw.Modes = c.modes
		if err := kw.Write(all); err != nil {
			t.Fatal(err)
		}
		var r result
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if r = x.helper("get", "--profile", b); strings.Contains(r.stderr, c.want) {
				break
			}
		}
		if r.code != 4 || !strings.Contains(r.stderr, "lwtoken-helper: error: ") || !strings.Contains(r.stderr, c.want) ||
			!strings.Contains(r.stderr, "\nlwtoken-helper: hint: ") {
			t.Fatalf("%s: exit %d, want 4 naming the file:\n%s", c.name, r.code, r.stderr)
		}
		if tok := x.getToken(); tok != t2 {
			t.Fatalf("%s: the other profile's token changed", c.name)
		}
	}
	kw.Modes = nil

	// $CREDENTIALS_DIRECTORY alone (a systemd unit's LoadCredential=) selects the files mode.
	x.stopDaemon()
	x.startDaemonEnv([]string{"CREDENTIALS_DIRECTORY=" + vol}, nil)
	if st := x.statusJSON(); st.SecretSource != "files in "+vol {
		t.Fatalf("with $CREDENTIALS_DIRECTORY: secret_source %q", st.SecretSource)
	}
	x.getToken()
	x.stopDaemon()

	// A directory that does not exist, or that others can write: the daemon does not start
	// (exit 78, EX_CONFIG: a restart would find the same).
	open := filepath.Join(x.dir, "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	for dir, want := range map[string]string{filepath.Join(x.dir, "none"): "no such file or directory", open: "writable by other users (mode 0777)"} {
		r := x.helperd("run", "--credentials-dir", dir)
		if r.code != 78 || !strings.Contains(r.stderr, "lwtoken-helperd: error: run: credentials directory "+dir) ||
			!strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "lwtoken-helperd: hint: ") {
			t.Fatalf("run --credentials-dir %s: exit %d\n%s", dir, r.code, r.stderr)
		}
	}
}

// A daemon running as an unprivileged user (uid 12345, as in a pod with runAsUser) cannot
// read a root-owned 0600 file: that profile's get exits 4 naming the file and saying why,
// while a profile whose files it can read works.
func TestFilesModeUnreadableAsOtherUser(t *testing.T) {
	x, kw, files := filesWorld(t)
	pub := publicBins(t)
	b := x.profile + "-b"
	files[b+".private-key"], files[b+".client-secret"] = files[x.profile+".private-key"], files[x.profile+".client-secret"]
	kw.Modes = map[string]os.FileMode{x.profile + ".private-key": 0o600, x.profile + ".client-secret": 0o600}
	if err := kw.Write(files); err != nil {
		t.Fatal(err)
	}
	// The pod's view: the config and binaries readable, the socket directory the user's.
	for _, p := range []string{x.dir, x.config} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run := filepath.Dir(x.sock)
	os.Mkdir(run, 0o700)
	os.Chown(run, otherUID, otherUID)
	as := func(argv ...string) []string { return append(append([]string{}, asOtherSameGroup...), argv...) }

	daemon := exec.Command(as(pub.daemon, "run", "--log-level", "debug", "--credentials-dir", kw.Dir)[0],
		as(pub.daemon, "run", "--log-level", "debug", "--credentials-dir", kw.Dir)[1:]...)
	daemon.Env = x.env()
	daemon.Stdout, daemon.Stderr = &lockedWriter{mu: x.logMu, w: x.daemonLog}, &lockedWriter{mu: x.logMu, w: x.daemonLog}
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		daemon.Process.Signal(os.Interrupt)
		daemon.Wait()
	}()
	var r result
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if r = x.secRun(10*time.Second, nil, "", as(pub.client, "status")...); r.code == 0 {
			break
		}
	}
	if r.code != 0 {
		t.Fatalf("the daemon as uid %d did not answer: %s\n%s", otherUID, r.stderr, x.log())
	}
	r = x.secRun(20*time.Second, nil, "", as(pub.client, "get", "--profile", x.profile)...)
	want := filepath.Join(kw.Dir, x.profile+".private-key") + ": cannot read it: permission denied (mode 0600, owner uid 0)"
	if r.code != 4 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "lwtoken-helper: hint: make it readable by uid "+strconv.Itoa(otherUID)) {
		t.Fatalf("unreadable files: exit %d, want 4 and %q:\n%s", r.code, want, r.stderr)
	}
	r = x.secRun(20*time.Second, nil, "", as(pub.client, "get", "--profile", b)...)
	if r.code != 0 || !x.fake.Valid(strings.TrimSpace(r.stdout)) {
		t.Fatalf("readable files: exit %d\n%s", r.code, r.stderr)
	}
	d := x.secRun(20*time.Second, nil, "", as(pub.daemon, "doctor", "--credentials-dir", kw.Dir)...)
	if !strings.Contains(d.stdout, "FAIL  secrets   profile "+x.profile+": secret file "+want) {
		t.Fatalf("doctor as uid %d:\n%s%s", otherUID, d.stdout, d.stderr)
	}
}
