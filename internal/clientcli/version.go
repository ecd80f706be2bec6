package clientcli

import (
	"context"
	"fmt"

	"github.com/lwtoken-helper/lwtoken-helper/internal/cli"
)

func runVersion(_ context.Context, env *Env, args []string) int {
	fs := newFlags(env, "version", "version", "lwtoken-helper version")
	if code, ok := parse(env, fs, args); !ok {
		return code
	}
	fmt.Fprintf(env.Stdout, "%s %s\n", prog, versionString())
	return ExitOK
}

func versionString() string { return cli.VersionString(cli.Version, cli.Commit) }
