package daemoncli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/kardianos/service"
)

// launchctl drives the per-user launchd agent with the verbs of launchctl(1) since macOS
// 10.10 on the user's GUI domain gui/UID: bootstrap, bootout, kickstart and print.
// kardianos/service uses the legacy load, unload and list, which act on whatever domain the
// calling session has and report little; it still renders and writes the plist.
type launchctl struct {
	uid   int
	label string
	plist string
	// run runs launchctl with args and returns its combined output and exit status (0 on
	// success; -1 with err when it could not run). Tests replace it.
	run func(ctx context.Context, args ...string) (out string, status int, err error)
}

// Exit status of `launchctl print` (and others) for a service or domain that does not
// exist: 113, "Could not find service ... in domain for ...".
const launchctlNotFound = 113

// launchctlStep is one launchctl invocation a verb may make.
type launchctlStep int

const (
	stepPrintDomain launchctlStep = iota // is there a GUI domain for the user at all?
	stepPrint                            // is the agent loaded, and in which state?
	stepBootstrap                        // load the plist into the domain (RunAtLoad starts it)
	stepBootout                          // stop the agent and remove it from the domain
	stepKickstart                        // start a loaded agent that is not running
)

func (l *launchctl) domain() string { return "gui/" + strconv.Itoa(l.uid) }
func (l *launchctl) target() string { return l.domain() + "/" + l.label }

// argv returns the arguments of launchctl for step.
func (l *launchctl) argv(step launchctlStep) []string {
	switch step {
	case stepPrintDomain:
		return []string{"print", l.domain()}
	case stepPrint:
		return []string{"print", l.target()}
	case stepBootstrap:
		return []string{"bootstrap", l.domain(), l.plist}
	case stepBootout:
		return []string{"bootout", l.target()}
	case stepKickstart:
		return []string{"kickstart", l.target()}
	}
	panic(fmt.Sprintf("launchctl: unknown step %d", step))
}

// do runs step and turns a failure into an error naming the command and launchctl's words.
func (l *launchctl) do(ctx context.Context, step launchctlStep) (string, error) {
	args := l.argv(step)
	out, status, err := l.run(ctx, args...)
	if err != nil {
		return out, fmt.Errorf("launchctl %s: %w", strings.Join(args, " "), err)
	}
	if status != 0 {
		msg := firstLine([]byte(out))
		if msg == "" {
			msg = "no output"
		}
		return out, &launchctlError{args: args, status: status, msg: msg}
	}
	return out, nil
}

type launchctlError struct {
	args   []string
	status int
	msg    string
}

func (e *launchctlError) Error() string {
	return fmt.Sprintf("launchctl %s: exit status %d: %s", strings.Join(e.args, " "), e.status, e.msg)
}

// errNoGUIDomain: the user has no GUI login session, so there is no gui/UID domain to load
// an agent into (an ssh session to a Mac the user is not logged in to at the screen, a
// headless Mac).
var errNoGUIDomain = errors.New("no gui login session")

// checkDomain fails with errNoGUIDomain (wrapped) when gui/UID does not exist.
func (l *launchctl) checkDomain(ctx context.Context) error {
	_, err := l.do(ctx, stepPrintDomain)
	var le *launchctlError
	if errors.As(err, &le) {
		return fmt.Errorf("%w for uid %d (%s)", errNoGUIDomain, l.uid, le.msg)
	}
	return err
}

// agentInfo is what `launchctl print gui/UID/LABEL` says about the loaded agent.
type agentInfo struct {
	loaded   bool
	running  bool
	pid      int
	runs     int // how many times launchd started it since it was loaded
	lastExit int // -1 when it never exited
}

// info prints the agent; a status of 113 means it is not loaded.
func (l *launchctl) info(ctx context.Context) (agentInfo, error) {
	out, err := l.do(ctx, stepPrint)
	var le *launchctlError
	if errors.As(err, &le) && le.status == launchctlNotFound {
		return agentInfo{lastExit: -1}, nil
	}
	if err != nil {
		return agentInfo{lastExit: -1}, err
	}
	return parseLaunchctlPrint(out), nil
}

// parseLaunchctlPrint reads the "key = value" lines of `launchctl print` of a service
// (not those of its nested dictionaries): state, pid, runs and last exit code ("(never exited)" or "78: ..." or "78").
func parseLaunchctlPrint(out string) agentInfo {
	in := agentInfo{loaded: true, lastExit: -1}
	depth := 0 // 1: the service's own lines; deeper ones are nested dictionaries
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasSuffix(line, "{"):
			depth++
			continue
		case line == "}":
			depth--
			continue
		}
		k, v, ok := strings.Cut(line, " = ")
		if !ok || depth != 1 {
			continue
		}
		num := func() int {
			f := strings.Fields(strings.TrimSuffix(v, ";"))
			if len(f) == 0 {
				return -1
			}
			n, err := strconv.Atoi(strings.TrimSuffix(f[0], ":"))
			if err != nil {
				return -1
			}
			return n
		}
		switch k {
		case "state":
			in.running = v == "running"
		case "pid":
			in.pid = max(num(), 0)
		case "runs":
			in.runs = max(num(), 0)
		case "last exit code":
			in.lastExit = num()
		}
	}
	return in
}

// start starts the agent: bootstrap when it is not loaded (RunAtLoad starts it), kickstart
// when it is loaded but not running (after a clean exit, which KeepAlive does not restart).
func (l *launchctl) start(ctx context.Context) error {
	in, err := l.info(ctx)
	switch {
	case err != nil:
		return err
	case !in.loaded:
		_, err = l.do(ctx, stepBootstrap)
	case !in.running:
		_, err = l.do(ctx, stepKickstart)
	}
	return err
}

// stop boots the agent out of the domain (a KeepAlive agent that were only killed would be
// started again); stopping one that is not loaded is not an error. It comes back at the
// next login, or with start.
func (l *launchctl) stop(ctx context.Context) error {
	in, err := l.info(ctx)
	if err != nil || !in.loaded {
		return err
	}
	_, err = l.do(ctx, stepBootout)
	return err
}

// restart boots the agent out and in again, so that a plist changed by install applies (a
// kickstart -k would restart the old definition).
func (l *launchctl) restart(ctx context.Context) error {
	if err := l.stop(ctx); err != nil {
		return err
	}
	// bootout returns once the job is gone, but launchd may still be tearing it down for a
	// moment: "Bootstrap failed: 5: Input/output error". Retry briefly.
	var err error
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err = l.do(ctx, stepBootstrap); err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
	}
}

// launchdService is kardianos/service's darwin service with launchctl's modern verbs for
// everything but Install (writing the plist) and Run.
type launchdService struct {
	service.Service
	ctl *launchctl
}

func (s *launchdService) Start() error   { return s.ctl.start(context.Background()) }
func (s *launchdService) Stop() error    { return s.ctl.stop(context.Background()) }
func (s *launchdService) Restart() error { return s.ctl.restart(context.Background()) }

// Uninstall boots the agent out and removes the plist.
func (s *launchdService) Uninstall() error {
	if err := s.Stop(); err != nil {
		return err
	}
	if err := os.Remove(s.ctl.plist); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Status is running, stopped (loaded and not running, or only on disk) or ErrNotInstalled.
func (s *launchdService) Status() (service.Status, error) {
	in, err := s.ctl.info(context.Background())
	switch {
	case err != nil:
		return service.StatusUnknown, err
	case in.running:
		return service.StatusRunning, nil
	case in.loaded:
		return service.StatusStopped, nil
	}
	if _, err := os.Stat(s.ctl.plist); err == nil {
		return service.StatusStopped, nil
	}
	return service.StatusUnknown, service.ErrNotInstalled
}

// runLaunchctl runs /bin/launchctl.
func runLaunchctl(ctx context.Context, args ...string) (string, int, error) {
	ctx, cancel := context.WithTimeout(ctx, systemctlTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/bin/launchctl", args...).CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode(), nil
	}
	if err != nil {
		return string(out), -1, err
	}
	return string(out), 0, nil
}

// noGUIDomain explains a missing gui/UID domain and what to do.
func noGUIDomain(err error) *verbError {
	return &verbError{code: ExitNoServiceManager,
		msg:   "launchd has no gui domain for you here: " + err.Error() + "; a launchd agent needs you logged in at the mac's screen (an ssh session alone has none)",
		hint:  "log in at the screen once (or turn on automatic login for a headless mac), then rerun this",
		hint2: "or, from this session, run `security unlock-keychain` and then `" + prog + " run` yourself (e.g. in tmux)"}
}
