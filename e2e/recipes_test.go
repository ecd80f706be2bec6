//go:build linux

package e2e

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/lwtoken-helper/lwtoken-helper/internal/testkey"
	"github.com/lwtoken-helper/lwtoken-helper/internal/testsecretdir"
	"github.com/lwtoken-helper/lwtoken-helper/keystore"
	"github.com/lwtoken-helper/lwtoken-helper/lwfake"
)

// The recipes of docs/containers, tested as far as a machine without a container engine or
// a cluster allows: the Dockerfile's steps run as a script, the manifests are parsed and
// the daemon runs with exactly the user, environment, arguments and mounts they describe.

const recipes = "../docs/containers"

// ---- Dockerfile

type dockerInstr struct {
	op   string
	args string
}

func parseDockerfile(t *testing.T, p string) []dockerInstr {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var out []dockerInstr
	var cur strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		op, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, dockerInstr{strings.ToUpper(op), strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// dockerignored reports whether rel (slash-separated, from the context root) is excluded
// by the patterns of .dockerignore (the forms the project uses: NAME, **/GLOB).
func dockerignored(patterns []string, rel string) bool {
	for _, p := range patterns {
		if g, ok := strings.CutPrefix(p, "**/"); ok {
			for _, el := range strings.Split(rel, "/") {
				if m, _ := path.Match(g, el); m {
					return true
				}
			}
			continue
		}
		if rel == p || strings.HasPrefix(rel, p+"/") {
			return true
		}
	}
	return false
}

// TestRecipeDockerfile runs the Dockerfile's stages as a script: each stage gets its own
// root directory; COPY copies from the build context (the tracked files, less
// .dockerignore) or an earlier stage; WORKDIR and RUN run in that root (the RUN steps use
// relative paths only, so the emulation is faithful). The final stage must hold static
// binaries, run as a numeric non-root USER, and its ENTRYPOINT and CMD must run: chrooted
// into the final root as that user, with the files the CMD names laid out like kubelet
// would, the daemon serves a token to a client of the same uid.
func TestRecipeDockerfile(t *testing.T) {
	instrs := parseDockerfile(t, filepath.Join(recipes, "Dockerfile"))
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	ignoreB, _ := os.ReadFile(filepath.Join(repo, ".dockerignore"))
	var ignore []string
	for _, l := range strings.Split(string(ignoreB), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			ignore = append(ignore, l)
		}
	}
	out, err := exec.Command("git", "-C", repo, "ls-files", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	var tracked []string
	for _, f := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if _, err := os.Lstat(filepath.Join(repo, f)); err == nil && !dockerignored(ignore, f) {
			tracked = append(tracked, f)
		}
	}

	work, err := os.MkdirTemp("", "lwdocker")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	os.Chmod(work, 0o755)
	stages := map[string]string{}
	var root, cwd, user string
	var entrypoint, cmdArgs []string
	n := 0
	for _, in := range instrs {
		switch in.op {
		case "FROM":
			root = filepath.Join(work, fmt.Sprint("stage", n))
			n++
			os.MkdirAll(root, 0o755)
			cwd, user, entrypoint, cmdArgs = root, "", nil, nil
			if f := strings.Fields(in.args); len(f) == 3 && strings.EqualFold(f[1], "AS") {
				stages[f[2]] = root
			}
		case "WORKDIR":
			cwd = filepath.Join(root, in.args)
			os.MkdirAll(cwd, 0o755)
		case "COPY":
			f := strings.Fields(in.args)
			from := ""
			if v, ok := strings.CutPrefix(f[0], "--from="); ok {
				from, f = stages[v], f[1:]
				if from == "" {
					t.Fatalf("COPY --from=%s: no such stage", v)
				}
			}
			dst := f[len(f)-1]
			if !filepath.IsAbs(dst) {
				dst = filepath.Join(cwd, dst)
			} else {
				dst = filepath.Join(root, dst)
			}
			for _, src := range f[:len(f)-1] {
				if from != "" {
					copyTree(t, filepath.Join(from, src), dst)
					continue
				}
				for _, file := range tracked {
					if src == "." || file == src {
						rel := file
						if src != "." {
							rel = filepath.Base(file)
						}
						copyFile(t, filepath.Join(repo, file), filepath.Join(dst, rel))
					}
				}
			}
		case "RUN":
			for _, w := range strings.Fields(in.args) {
				if strings.HasPrefix(strings.Trim(w, `'"`), "/") {
					t.Fatalf("RUN %s: absolute path %s; the build steps use relative paths only", in.args, w)
				}
			}
			start := time.Now()
			cmd := exec.Command("sh", "-ec", in.args)
			cmd.Dir = cwd
			b, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("RUN %s: %v\n%s", in.args, err, b)
			}
			t.Logf("RUN %s (%v)", in.args, time.Since(start).Round(time.Millisecond))
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(in.args), &entrypoint); err != nil {
				t.Fatalf("ENTRYPOINT must be a JSON array (exec form): %v", err)
			}
		case "CMD":
			if err := json.Unmarshal([]byte(in.args), &cmdArgs); err != nil {
				t.Fatalf("CMD must be a JSON array (exec form): %v", err)
			}
		default:
			t.Fatalf("the test does not know the instruction %s", in.op)
		}
	}
	final := root
	uidS, gidS, _ := strings.Cut(user, ":")
	uid, uerr := strconv.Atoi(uidS)
	gid, gerr := strconv.Atoi(gidS)
	if uerr != nil || gerr != nil || uid == 0 || gid == 0 {
		t.Fatalf("USER %q: want numeric, non-root uid:gid (a pod's runAsNonRoot needs a numeric uid)", user)
	}
	for _, b := range []string{"lwtoken-helper", "lwtoken-helperd"} {
		p := filepath.Join(final, "usr/local/bin", b)
		f, err := elf.Open(p)
		if err != nil {
			t.Fatalf("the final stage has no %s: %v", b, err)
		}
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP || prog.Type == elf.PT_DYNAMIC {
				t.Fatalf("%s is dynamically linked: a distroless static base has no libc", b)
			}
		}
		f.Close()
	}
	if len(entrypoint) == 0 || entrypoint[0] != "/usr/local/bin/lwtoken-helperd" {
		t.Fatalf("ENTRYPOINT %q", entrypoint)
	}

	// The image's default command, chrooted as its user: secrets and config where CMD says,
	// laid out as a kubelet Secret and ConfigMap volume, and an empty socket volume.
	x, _, files := filesWorld(t)
	flag := func(name string) string {
		for i, a := range cmdArgs {
			if a == name && i+1 < len(cmdArgs) {
				return cmdArgs[i+1]
			}
		}
		t.Fatalf("CMD %q has no %s", cmdArgs, name)
		return ""
	}
	secretsAt, configAt, sockAt := flag("--credentials-dir"), flag("--config"), flag("--socket")
	kw := &testsecretdir.Kubelet{Dir: filepath.Join(final, secretsAt), Mode: 0o440, FSGroup: gid}
	if err := kw.Write(files); err != nil {
		t.Fatal(err)
	}
	cfg, _ := os.ReadFile(x.config)
	if err := (&testsecretdir.Kubelet{Dir: filepath.Join(final, filepath.Dir(configAt))}).Write(map[string][]byte{filepath.Base(configAt): cfg}); err != nil {
		t.Fatal(err)
	}
	// The socket's volume as docs/containers.md has it for Docker: a host directory of the
	// image's uid, mode 0700 (a fresh named volume would be root's, as the image has no such
	// directory, and the daemon could not make its own directory in it).
	run := filepath.Join(final, filepath.Dir(filepath.Dir(sockAt)))
	os.MkdirAll(filepath.Dir(run), 0o755)
	if err := os.Mkdir(run, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(run, uid, gid); err != nil {
		t.Fatalf("chown (needs root, as CI runs it): %v", err)
	}
	os.MkdirAll(filepath.Join(final, "tmp"), 0o777)
	chrootBin, err := exec.LookPath("chroot")
	if err != nil {
		t.Fatal(err)
	}
	chroot := func(argv ...string) []string {
		return append([]string{chrootBin, fmt.Sprintf("--userspec=%d:%d", uid, gid), final}, argv...)
	}
	// Docker's default seccomp profile fails keyctl: the wrapper does the same.
	pub := publicBins(t)
	daemon := exec.Command("env", append([]string{kernelWrapEnv + "=nokeyctl", pub.test}, chroot(append(entrypoint, cmdArgs...)...)...)...)
	daemon.Env = []string{"PATH=/usr/local/bin", "HOME=/"}
	var log bytes.Buffer
	daemon.Stdout, daemon.Stderr = &lockedWriter{mu: x.logMu, w: &log}, &lockedWriter{mu: x.logMu, w: &log}
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { daemon.Process.Signal(os.Interrupt); daemon.Wait() }()
	var r result
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		r = x.secRun(10*time.Second, []string{"LWTOKEN_HELPER_SOCKET=" + sockAt}, "", chroot("/usr/local/bin/lwtoken-helper", "get")...)
		if r.code == 0 {
			break
		}
	}
	x.logMu.Lock()
	logs := log.String()
	x.logMu.Unlock()
	if r.code != 0 || !x.fake.Valid(strings.TrimSpace(r.stdout)) {
		t.Fatalf("get in the image's root as uid %d: exit %d\n%s\ndaemon:\n%s", uid, r.code, r.stderr, logs)
	}
	t.Logf("the image's ENTRYPOINT and CMD, chrooted as %s, served a token; binaries static", user)
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	fi, err := os.Lstat(src)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(dst), 0o755)
	if fi.Mode()&fs.ModeSymlink != 0 {
		l, _ := os.Readlink(src)
		os.Symlink(l, dst)
		return
	}
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	out.Close()
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		copyFile(t, p, filepath.Join(dst, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// ---- Kubernetes

type k8sEnvVar struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

type k8sMount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
	ReadOnly  bool   `yaml:"readOnly"`
	SubPath   string `yaml:"subPath"`
}

type k8sContainer struct {
	Name            string         `yaml:"name"`
	Image           string         `yaml:"image"`
	Command         []string       `yaml:"command"`
	Args            []string       `yaml:"args"`
	Env             []k8sEnvVar    `yaml:"env"`
	VolumeMounts    []k8sMount     `yaml:"volumeMounts"`
	RestartPolicy   string         `yaml:"restartPolicy"`
	SecurityContext map[string]any `yaml:"securityContext"`
	StartupProbe    *struct {
		Exec struct {
			Command []string `yaml:"command"`
		} `yaml:"exec"`
		PeriodSeconds    int `yaml:"periodSeconds"`
		FailureThreshold int `yaml:"failureThreshold"`
	} `yaml:"startupProbe"`
}

type k8sDoc struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Type       string `yaml:"type"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	StringData map[string]string `yaml:"stringData"`
	Data       map[string]string `yaml:"data"`
	Spec       struct {
		SecurityContext struct {
			RunAsNonRoot   bool `yaml:"runAsNonRoot"`
			RunAsUser      int  `yaml:"runAsUser"`
			RunAsGroup     int  `yaml:"runAsGroup"`
			FSGroup        int  `yaml:"fsGroup"`
			SeccompProfile struct {
				Type string `yaml:"type"`
			} `yaml:"seccompProfile"`
		} `yaml:"securityContext"`
		InitContainers []k8sContainer `yaml:"initContainers"`
		Containers     []k8sContainer `yaml:"containers"`
		Volumes        []struct {
			Name   string `yaml:"name"`
			Secret *struct {
				SecretName  string `yaml:"secretName"`
				DefaultMode *int   `yaml:"defaultMode"`
			} `yaml:"secret"`
			ConfigMap *struct {
				Name        string `yaml:"name"`
				DefaultMode *int   `yaml:"defaultMode"`
			} `yaml:"configMap"`
			EmptyDir *struct {
				Medium string `yaml:"medium"`
			} `yaml:"emptyDir"`
		} `yaml:"volumes"`
	} `yaml:"spec"`
}

func parseManifests(t *testing.T, p string) map[string]*k8sDoc {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true) // a misspelt field is a test failure, not silently ignored
	docs := map[string]*k8sDoc{}
	for {
		var d k8sDoc
		if err := dec.Decode(&d); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		docs[d.Kind+"/"+d.Metadata.Name] = &d
	}
	return docs
}

// TestRecipeKubernetes parses the sidecar manifest and runs its pod on this machine: the
// volumes laid out under a root directory as kubelet would (the Secret and the ConfigMap
// with kubelet's ..data layout, defaultMode and fsGroup; the emptyDir world-writable), the
// daemon started with the sidecar's args and env as the pod's runAsUser, under a seccomp
// filter that blocks keyctl as RuntimeDefault does, its startupProbe run, then the app's
// `lwtoken-helper get` with the app's env, as the same uid. A rotation of the Secret is
// picked up without a restart.
func TestRecipeKubernetes(t *testing.T) {
	docs := parseManifests(t, filepath.Join(recipes, "kubernetes.yaml"))
	pod, secretDoc, cm := docs["Pod/mybot"], docs["Secret/lineworks-credentials"], docs["ConfigMap/lwtoken-helper-config"]
	if pod == nil || secretDoc == nil || cm == nil {
		t.Fatalf("want Pod/mybot, Secret/lineworks-credentials and ConfigMap/lwtoken-helper-config, got %v", docs)
	}
	sc := pod.Spec.SecurityContext
	if !sc.RunAsNonRoot || sc.RunAsUser == 0 || sc.FSGroup == 0 {
		t.Fatalf("pod securityContext: %+v", sc)
	}
	if len(pod.Spec.InitContainers) != 1 || pod.Spec.InitContainers[0].RestartPolicy != "Always" || len(pod.Spec.Containers) != 1 {
		t.Fatal("want one native sidecar (an init container with restartPolicy Always) and one app container")
	}
	side, app := pod.Spec.InitContainers[0], pod.Spec.Containers[0]
	for _, c := range []k8sContainer{side, app} {
		if _, ok := c.SecurityContext["runAsUser"]; ok {
			t.Fatalf("container %s sets its own runAsUser: the daemon and the app must share the pod's", c.Name)
		}
		for _, m := range c.VolumeMounts {
			if m.SubPath != "" {
				t.Fatalf("container %s mounts %s with subPath: such mounts never see a rotated Secret", c.Name, m.Name)
			}
		}
	}

	x, _, _ := filesWorld(t)
	pub := publicBins(t)
	root := filepath.Join(x.dir, "pod")
	os.MkdirAll(root, 0o755)
	os.Chmod(x.dir, 0o755)
	keyPEM, _ := os.ReadFile(x.keyFile)
	mounts := map[string]string{} // volume name -> directory on this machine
	var secretKW *testsecretdir.Kubelet
	for _, v := range pod.Spec.Volumes {
		var where string
		for _, c := range []k8sContainer{side, app} {
			for _, m := range c.VolumeMounts {
				if m.Name == v.Name {
					if where != "" && where != m.MountPath {
						// Shared volumes are mounted at one path in both containers here.
						t.Fatalf("volume %s at %s and %s", v.Name, where, m.MountPath)
					}
					where = m.MountPath
				}
			}
		}
		dir := filepath.Join(root, where)
		mounts[v.Name] = dir
		switch {
		case v.Secret != nil:
			mode := 0o644
			if v.Secret.DefaultMode != nil {
				mode = *v.Secret.DefaultMode
			}
			if mode&0o022 != 0 {
				t.Fatalf("secret volume defaultMode %04o: writable by others", mode)
			}
			files := map[string][]byte{}
			for k := range secretDoc.StringData {
				switch {
				case strings.HasSuffix(k, keystore.PrivateKeySuffix):
					files[k] = keyPEM // the manifest holds a placeholder
				case strings.HasSuffix(k, keystore.ClientSecretSuffix):
					files[k] = []byte(x.secret + "\n")
				default:
					t.Fatalf("secret key %q is neither PROFILE.private-key nor PROFILE.client-secret", k)
				}
			}
			secretKW = &testsecretdir.Kubelet{Dir: dir, Mode: fs.FileMode(mode), FSGroup: sc.FSGroup}
			if err := secretKW.Write(files); err != nil {
				t.Fatal(err)
			}
		case v.ConfigMap != nil:
			toml := cm.Data["config.toml"]
			// The test's app, and the fake LINE WORKS in place of the real one.
			toml = strings.Replace(toml, `client_id = "REPLACE-WITH-THE-CLIENT-ID"`, fmt.Sprintf("client_id = %q\nauth_url = %q", x.clientID, x.fake.AuthURL), 1)
			toml = strings.Replace(toml, "abcde.serviceaccount@example.com", "bot.serviceaccount@example.com", 1)
			if err := (&testsecretdir.Kubelet{Dir: dir, FSGroup: sc.FSGroup}).Write(map[string][]byte{"config.toml": []byte(toml)}); err != nil {
				t.Fatal(err)
			}
		case v.EmptyDir != nil:
			os.MkdirAll(dir, 0o777)
			os.Chown(dir, 0, sc.FSGroup)
			os.Chmod(dir, 0o777|os.ModeSetgid)
		}
	}
	local := func(p string) string {
		if strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "/usr/local/bin/") {
			return filepath.Join(root, p)
		}
		return strings.Replace(p, "/usr/local/bin/", pub.dir+"/", 1)
	}
	envOf := func(c k8sContainer) []string {
		env := []string{"PATH=" + pub.dir + ":/usr/bin:/bin", "HOME=/"}
		for _, e := range c.Env {
			env = append(env, e.Name+"="+local(e.Value))
		}
		return env
	}
	asUser := []string{"setpriv", fmt.Sprintf("--reuid=%d", sc.RunAsUser), fmt.Sprintf("--regid=%d", sc.RunAsGroup),
		fmt.Sprintf("--groups=%d", sc.FSGroup), "--"}
	sidecar := asUser
	if sc.SeccompProfile.Type == "RuntimeDefault" {
		// The runtime's default seccomp profile fails keyctl with EPERM.
		sidecar = append(append([]string{}, asUser...), "env", kernelWrapEnv+"=nokeyctl", pub.test)
	}

	// The sidecar: the image's ENTRYPOINT (lwtoken-helperd run) with the container's args.
	argv := append(append([]string{}, sidecar...), pub.daemon, "run")
	for _, a := range side.Args {
		argv = append(argv, local(a))
	}
	daemon := exec.Command(argv[0], argv[1:]...)
	daemon.Env = envOf(side)
	daemon.Stdout, daemon.Stderr = &lockedWriter{mu: x.logMu, w: x.daemonLog}, &lockedWriter{mu: x.logMu, w: x.daemonLog}
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { daemon.Process.Signal(os.Interrupt); daemon.Wait() }()
	// The startupProbe, as kubelet runs it: in the sidecar, as its user, until it passes.
	probe := []string{}
	for _, a := range side.StartupProbe.Exec.Command {
		probe = append(probe, local(a))
	}
	var r result
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		cmd := exec.Command(asUser[0], append(append([]string{}, asUser[1:]...), probe...)...)
		cmd.Env = envOf(side)
		if err := cmd.Run(); err == nil {
			r.code = 0
			break
		}
		r.code = 1
	}
	if r.code != 0 {
		t.Fatalf("the startupProbe never passed:\n%s", x.log())
	}
	// The app: `lwtoken-helper get` with its env, as the same uid.
	get := func() string {
		cmd := exec.Command(asUser[0], append(append([]string{}, asUser[1:]...), pub.client, "get")...)
		cmd.Env = envOf(app)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("get in the app container: %v\n%s\ndaemon:\n%s", err, errb.String(), x.log())
		}
		return strings.TrimSpace(out.String())
	}
	t1 := get()
	if !x.fake.Valid(t1) {
		t.Fatal("the app got an invalid token")
	}
	if sc.SeccompProfile.Type == "RuntimeDefault" && strings.Count(x.log(), keystore.KernelKeyringUnavailable) != 1 {
		t.Fatalf("under RuntimeDefault the daemon should say once that tokens stay in memory:\n%s", x.log())
	}

	// kubectl apply of a rotated Secret: kubelet projects it; the daemon mints anew.
	newSecret := x.secret + "-2"
	if err := x.fake.AddApp(fakeApp(x, newSecret)); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"default.private-key": keyPEM, "default.client-secret": []byte(newSecret)}
	if err := secretKW.Write(files); err != nil {
		t.Fatal(err)
	}
	var t2 string
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if t2 = get(); t2 != t1 {
			break
		}
	}
	if t2 == t1 || !x.fake.Valid(t2) {
		t.Fatalf("the rotated Secret was not picked up:\n%s", x.log())
	}
	for _, line := range strings.Split(x.log(), "\n") {
		if strings.Contains(line, "credentials changed") || strings.Contains(line, keystore.KernelKeyringUnavailable) {
			t.Logf("daemon: %s", line)
		}
	}
}

// fakeApp is x's app at the fake with another client secret (a rotation in the console).
func fakeApp(x *h, secret string) lwfake.App {
	return lwfake.App{ClientID: x.clientID, ClientSecret: secret, ServiceAccount: "bot.serviceaccount@example.com",
		PublicKey: &testkey.App().PublicKey, Scopes: []string{"bot", "user.read", "directory.read"}}
}

// ---- Vault / OpenBao Agent

var (
	hclTemplate    = regexp.MustCompile(`(?s)template\s*\{(.*?)\n\}`)
	hclDestination = regexp.MustCompile(`destination\s*=\s*"([^"]+)"`)
	hclPerms       = regexp.MustCompile(`perms\s*=\s*"([0-7]+)"`)
)

// TestRecipeVaultAgent reads the agent's template stanzas (destination, perms), renders
// them as the agent does (a temporary file renamed over the target, with those perms) into
// one directory, runs the daemon on it, and renders a rotated secret: picked up without a
// restart.
func TestRecipeVaultAgent(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(recipes, "vault-agent.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	dests := map[string]fs.FileMode{}
	dir := ""
	for _, m := range hclTemplate.FindAllStringSubmatch(string(b), -1) {
		d, p := hclDestination.FindStringSubmatch(m[1]), hclPerms.FindStringSubmatch(m[1])
		if d == nil || p == nil {
			t.Fatalf("a template without destination or perms:\n%s", m[1])
		}
		perm, _ := strconv.ParseUint(p[1], 8, 32)
		if perm&0o022 != 0 {
			t.Fatalf("%s: perms %s let others write it", d[1], p[1])
		}
		if dir != "" && filepath.Dir(d[1]) != dir {
			t.Fatalf("templates render into %s and %s: the daemon reads one directory", dir, filepath.Dir(d[1]))
		}
		dir = filepath.Dir(d[1])
		dests[filepath.Base(d[1])] = fs.FileMode(perm)
	}
	if len(dests) != 2 {
		t.Fatalf("templates for %v, want the private key and client secret of one profile", dests)
	}
	x, _, files := filesWorld(t)
	p0 := x.profile // the key of the world's files
	local := filepath.Join(x.dir, "agent", dir)
	os.MkdirAll(local, 0o700)
	render := func(files map[string][]byte) {
		for name, perm := range dests {
			var v []byte
			switch {
			case strings.HasSuffix(name, keystore.PrivateKeySuffix):
				v = files[p0+keystore.PrivateKeySuffix]
			case strings.HasSuffix(name, keystore.ClientSecretSuffix):
				v = files[p0+keystore.ClientSecretSuffix]
			default:
				t.Fatalf("template destination %s is neither PROFILE.private-key nor PROFILE.client-secret", name)
			}
			if err := testsecretdir.RenameOver(local, name, v, perm); err != nil {
				t.Fatal(err)
			}
		}
	}
	render(files)
	// The recipe's profile is "default": point the test config's profile at it.
	cfg, _ := os.ReadFile(x.config)
	os.WriteFile(x.config, []byte(strings.ReplaceAll(string(cfg), x.profile, "default")), 0o600)
	x.profile = "default"
	x.startDaemon("--credentials-dir", local)
	t1 := x.getToken()
	newSecret := x.secret + "-2"
	if err := x.fake.AddApp(fakeApp(x, newSecret)); err != nil {
		t.Fatal(err)
	}
	files[p0+keystore.ClientSecretSuffix] = []byte(newSecret)
	render(files)
	var t2 string
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if t2 = x.getToken(); t2 != t1 {
			break
		}
	}
	if t2 == t1 {
		t.Fatalf("the re-rendered secret was not picked up:\n%s", x.log())
	}
}
