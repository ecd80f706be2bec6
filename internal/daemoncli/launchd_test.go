//go:build unix

package daemoncli

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/kardianos/service"
)

// parsePlist decodes an XML property list into Go values: dict as map[string]any, array as
// []any, string, integer as int, true/false as bool. Anything else is an error.
func parsePlist(doc string) (any, error) {
	dec := xml.NewDecoder(strings.NewReader(doc))
	dec.Strict = true
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "plist" {
				return nil, fmt.Errorf("root element %s", se.Name.Local)
			}
			v, end, err := plistValue(dec)
			if err != nil || end {
				return nil, fmt.Errorf("plist: %v, empty %v", err, end)
			}
			return v, nil
		}
	}
}

// plistValue reads the next value; end reports the parent's end tag instead.
func plistValue(dec *xml.Decoder) (v any, end bool, err error) {
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, false, err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil, true, nil
		case xml.StartElement:
			switch t.Name.Local {
			case "dict":
				m := map[string]any{}
				for {
					k, end, err := plistValue(dec)
					if err != nil {
						return nil, false, err
					}
					if end {
						return m, false, nil
					}
					key, ok := k.(plistKey)
					if !ok {
						return nil, false, fmt.Errorf("dict entry %v is not a key", k)
					}
					val, end, err := plistValue(dec)
					if err != nil || end {
						return nil, false, fmt.Errorf("key %s without a value (%v)", key, err)
					}
					if _, dup := m[string(key)]; dup {
						return nil, false, fmt.Errorf("key %s twice", key)
					}
					m[string(key)] = val
				}
			case "array":
				var a []any
				for {
					e, end, err := plistValue(dec)
					if err != nil {
						return nil, false, err
					}
					if end {
						return a, false, nil
					}
					a = append(a, e)
				}
			case "true", "false":
				if err := dec.Skip(); err != nil {
					return nil, false, err
				}
				return t.Name.Local == "true", false, nil
			case "key", "string", "integer":
				var s string
				if err := dec.DecodeElement(&s, &t); err != nil {
					return nil, false, err
				}
				switch t.Name.Local {
				case "key":
					return plistKey(s), false, nil
				case "integer":
					n, err := strconv.Atoi(s)
					return n, false, err
				}
				return s, false, nil
			default:
				return nil, false, fmt.Errorf("unexpected element %s", t.Name.Local)
			}
		}
	}
}

type plistKey string

// renderPlist renders the agent's plist with the data and escaping kardianos/service's
// darwin Install uses (service_darwin.go), through renderMini.
func renderPlist(t *testing.T, spec serviceSpec, home string) (string, map[string]any) {
	t.Helper()
	cfg := serviceConfig(platformLaunchd, spec, home)
	if cfg.Name != launchdLabel || cfg.Option["UserService"] != true {
		t.Fatalf("config: %+v", cfg)
	}
	out, err := renderMini(cfg.Option["LaunchdConfig"].(string),
		map[string]any{"Name": cfg.Name, "Path": cfg.Executable, "Arguments": cfg.Arguments},
		map[string]func(string) string{"html": xmlEscape})
	if err != nil {
		t.Fatal(err)
	}
	v, err := parsePlist(out)
	if err != nil {
		t.Fatalf("the plist does not parse: %v\n%s", err, out)
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("the plist is not a dict:\n%s", out)
	}
	return out, m
}

// TestLaunchdPlist parses the agent's plist: restarts only after a failure, throttled, a
// normal process type, a log the daemon bounds, and fatal errors that exit 0 so they do not
// restart.
func TestLaunchdPlist(t *testing.T) {
	home := "/Users/a&b" // & must come out escaped
	spec := serviceSpec{executable: "/opt/homebrew/bin/lwtoken-helperd", socket: "/Users/a&b/Library/Application Support/lwtoken-helper/run/sock", logLevel: "info"}
	out, got := renderPlist(t, spec, home)
	log := "/Users/a&b/Library/Logs/lwtoken-helper.log"
	want := map[string]any{
		"Label": launchdLabel,
		"ProgramArguments": []any{spec.executable, "run", "--socket", spec.socket, "--log-level", "info",
			"--log-file", log, "--log-max-size", "10485760", "--fatal-exit-status", "0"},
		"RunAtLoad":         true,
		"KeepAlive":         map[string]any{"SuccessfulExit": false},
		"ThrottleInterval":  10,
		"ProcessType":       "Standard",
		"StandardOutPath":   log,
		"StandardErrorPath": log,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("plist:\n%#v\nwant:\n%#v\n%s", got, want, out)
	}
	if sock, ok := installedSocketFrom(t, platformLaunchd, out); !ok || sock != spec.socket {
		t.Errorf("doctor reads the socket back as %q, %v", sock, ok)
	}
	// With a proxy, the daemon's environment carries it.
	spec.httpsProxy, spec.noProxy = "http://proxy.example:3128", "localhost,.corp"
	_, got = renderPlist(t, spec, home)
	if env := got["EnvironmentVariables"]; !reflect.DeepEqual(env, map[string]any{"HTTPS_PROXY": spec.httpsProxy, "NO_PROXY": spec.noProxy}) {
		t.Errorf("EnvironmentVariables = %#v", env)
	}
}

// fakeLaunchctl answers launchctl's verbs like launchd would for an agent in the given state
// and records every argv.
type fakeLaunchctl struct {
	noDomain bool
	loaded   bool
	running  bool
	calls    []string
}

func (f *fakeLaunchctl) run(_ context.Context, args ...string) (string, int, error) {
	f.calls = append(f.calls, strings.Join(args, " "))
	switch {
	case len(args) == 2 && args[0] == "print" && !strings.Contains(args[1], "/com."):
		if f.noDomain {
			return "Bad request.\nCould not find domain for user gui: 501\n", launchctlNotFound, nil
		}
		return "gui/501 = {\n\ttype = login\n}\n", 0, nil
	case args[0] == "print":
		if !f.loaded {
			return "Could not find service \"" + launchdLabel + "\" in domain for user gui: 501\n", launchctlNotFound, nil
		}
		state, pid := "not running", ""
		if f.running {
			state, pid = "running", "\tpid = 4242\n"
		}
		return "gui/501/" + launchdLabel + " = {\n\tactive count = 1\n\tstate = " + state + "\n" + pid +
			"\truns = 3\n\tlast exit code = 78: EX_CONFIG\n\tproperties = {\n\t\tpid = 1\n\t}\n}\n", 0, nil
	case args[0] == "bootstrap":
		f.loaded, f.running = true, true
	case args[0] == "bootout":
		f.loaded, f.running = false, false
	case args[0] == "kickstart":
		f.running = true
	}
	return "", 0, nil
}

// TestLaunchctlVerbs checks the exact launchctl commands of each verb on gui/UID, in each
// state of the agent: the modern bootstrap/bootout/kickstart/print, never load/unload/list.
func TestLaunchctlVerbs(t *testing.T) {
	plist := "/Users/a b/Library/LaunchAgents/" + launchdLabel + ".plist"
	target := "gui/501/" + launchdLabel
	for _, c := range []struct {
		name            string
		loaded, running bool
		verb            func(s *launchdService) error
		want            []string
	}{
		{"start, not loaded", false, false, (*launchdService).Start, []string{"print " + target, "bootstrap gui/501 " + plist}},
		{"start, loaded and stopped", true, false, (*launchdService).Start, []string{"print " + target, "kickstart " + target}},
		{"start, running", true, true, (*launchdService).Start, []string{"print " + target}},
		{"stop, running", true, true, (*launchdService).Stop, []string{"print " + target, "bootout " + target}},
		{"stop, not loaded", false, false, (*launchdService).Stop, []string{"print " + target}},
		{"restart, running", true, true, (*launchdService).Restart, []string{"print " + target, "bootout " + target, "bootstrap gui/501 " + plist}},
		{"restart, not loaded", false, false, (*launchdService).Restart, []string{"print " + target, "bootstrap gui/501 " + plist}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeLaunchctl{loaded: c.loaded, running: c.running}
			s := &launchdService{ctl: &launchctl{uid: 501, label: launchdLabel, plist: plist, run: f.run}}
			if err := c.verb(s); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(f.calls, c.want) {
				t.Fatalf("launchctl calls:\n%q\nwant:\n%q", f.calls, c.want)
			}
		})
	}
}

func TestLaunchctlStatusAndUninstall(t *testing.T) {
	dir := t.TempDir()
	plist := filepath.Join(dir, launchdLabel+".plist")
	f := &fakeLaunchctl{}
	ctl := &launchctl{uid: 501, label: launchdLabel, plist: plist, run: f.run}
	s := &launchdService{ctl: ctl}
	if _, err := s.Status(); !errors.Is(err, service.ErrNotInstalled) {
		t.Fatalf("no plist, not loaded: %v", err)
	}
	os.WriteFile(plist, []byte("<plist/>"), 0o644)
	if st, err := s.Status(); err != nil || st != service.StatusStopped {
		t.Fatalf("plist on disk, not loaded: %v %v", st, err)
	}
	f.loaded, f.running = true, true
	if st, err := s.Status(); err != nil || st != service.StatusRunning {
		t.Fatalf("running: %v %v", st, err)
	}
	in, err := ctl.info(context.Background())
	if err != nil || in != (agentInfo{loaded: true, running: true, pid: 4242, runs: 3, lastExit: 78}) {
		t.Fatalf("info: %+v %v", in, err)
	}
	f.running = false
	if st, err := s.Status(); err != nil || st != service.StatusStopped {
		t.Fatalf("loaded, stopped: %v %v", st, err)
	}
	f.calls = nil
	if err := s.Uninstall(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"print gui/501/" + launchdLabel, "bootout gui/501/" + launchdLabel}; !reflect.DeepEqual(f.calls, want) {
		t.Fatalf("uninstall: %q, want %q", f.calls, want)
	}
	if _, err := os.Stat(plist); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("plist left: %v", err)
	}
	// A launchctl failure is reported with its command and words.
	ctl.run = func(context.Context, ...string) (string, int, error) {
		return "Boot-out failed: 5: Input/output error\n", 5, nil
	}
	if _, err := s.Status(); err == nil || err.Error() != "launchctl print gui/501/"+launchdLabel+": exit status 5: Boot-out failed: 5: Input/output error" {
		t.Fatalf("error: %v", err)
	}
}

// TestLaunchdWithoutGUIDomain: over ssh to a Mac nobody is logged in to, there is no gui/UID
// domain; the service verbs say so, what to do, and exit 7.
func TestLaunchdWithoutGUIDomain(t *testing.T) {
	f := &fakeLaunchctl{noDomain: true}
	ctl := &launchctl{uid: 501, label: launchdLabel, plist: "/x.plist", run: f.run}
	err := ctl.checkDomain(context.Background())
	if !errors.Is(err, errNoGUIDomain) || !reflect.DeepEqual(f.calls, []string{"print gui/501"}) {
		t.Fatalf("checkDomain: %v, calls %q", err, f.calls)
	}
	var stderr strings.Builder
	code := noGUIDomain(err).report(&Env{Stderr: &stderr}, "start")
	want := "lwtoken-helperd: error: start: launchd has no gui domain for you here: no gui login session for uid 501 (Bad request.); " +
		"a launchd agent needs you logged in at the mac's screen (an ssh session alone has none)\n" +
		"lwtoken-helperd: hint: log in at the screen once (or turn on automatic login for a headless mac), then rerun this\n" +
		"lwtoken-helperd: hint: or, from this session, run `security unlock-keychain` and then `lwtoken-helperd run` yourself (e.g. in tmux)\n"
	if code != ExitNoServiceManager || stderr.String() != want {
		t.Fatalf("exit %d:\n%s\nwant:\n%s", code, stderr.String(), want)
	}
	f.noDomain = false
	if err := ctl.checkDomain(context.Background()); err != nil {
		t.Fatalf("with a domain: %v", err)
	}
}
