package clientcli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

func runVersion(_ context.Context, env *Env, args []string) int {
	fs := newFlags(env, "version", "version", "lwtoken-helper version")
	if code, ok := parse(env, fs, args); !ok {
		return code
	}
	fmt.Fprintf(env.Stdout, "%s %s\n", prog, versionString())
	return ExitOK
}

// versionString is "VERSION (COMMIT) GOVERSION OS/ARCH". VERSION and COMMIT come from
// -ldflags -X when set; else from the build info Go records: the module version for
// `go install ...@vX.Y.Z`, and the VCS revision (12 digits, "-dirty" for a modified tree)
// for a build from a git checkout.
func versionString() string {
	v, commit := Version, Commit
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		if commit == "" {
			commit = vcsCommit(bi.Settings)
		}
	}
	if commit != "" {
		v += " (" + commit + ")"
	}
	return v + " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}

func vcsCommit(settings []debug.BuildSetting) string {
	var rev, modified string
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" && modified == "true" {
		rev += "-dirty"
	}
	return rev
}
