package clientcli

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

type statusOptions struct {
	socket string
	json   bool
}

func runStatus(ctx context.Context, env *Env, args []string) int {
	o := statusOptions{socket: env.Getenv(wire.EnvSocket)}
	fs := newFlags(env, "status", "status [--json] [--socket PATH]", "lwtoken-helper status --json | jq .entries")
	fs.StringVar(&o.socket, "socket", o.socket, "daemon socket `path` (env "+wire.EnvSocket+")")
	fs.BoolVar(&o.json, "json", false, "print the daemon's status as JSON")
	if code, ok := parse(env, fs, args); !ok {
		return code
	}
	c := client.Client{SocketPath: o.socket, Timeout: 10 * time.Second}
	st, err := c.Status(ctx)
	if err != nil {
		return fail(env, err)
	}
	if o.json {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(st)
		return ExitOK
	}
	fmt.Fprintf(env.Stdout, "daemon pid %d, socket %s\nconfig %s (default profile %q, %d profiles)\nkeyring: %s\n",
		st.PID, st.Socket, st.Config, st.Default, len(st.Profiles), st.Keyring)
	if st.SecretSource != "" {
		fmt.Fprintf(env.Stdout, "secrets from %s; tokens cached in %s\n", st.SecretSource, st.TokenCache)
	}
	fmt.Fprintln(env.Stdout)
	if len(st.Entries) == 0 {
		fmt.Fprintln(env.Stdout, "no tokens yet (the first `get` mints one)")
		return ExitOK
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROFILE\tSCOPE\tSTATE\tHEALTH\tEXPIRES\tLEFT\tNEXT RENEWAL\tLAST ERROR")
	for _, e := range st.Entries {
		exp, left, renew := "-", "-", "-"
		if !e.ExpiresAt.IsZero() {
			exp = e.ExpiresAt.Local().Format("2006-01-02 15:04:05")
			left = (time.Duration(e.TTLSeconds) * time.Second).String()
		}
		if !e.NextRenewal.IsZero() {
			renew = e.NextRenewal.Local().Format("01-02 15:04")
		}
		last := "-"
		if e.LastError != "" {
			last = fmt.Sprintf("%s (%d in a row, next attempt %s)", e.LastError, e.ConsecutiveFailures, e.NextAttempt.Local().Format("01-02 15:04:05"))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Profile, e.Scope, e.State, e.Health, exp, left, renew, last)
	}
	tw.Flush()
	return ExitOK
}
