package clientcli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/client"
	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

type profilesOptions struct {
	socket string
	json   bool
	names  bool
}

func runProfiles(ctx context.Context, env *Env, args []string) int {
	o := profilesOptions{socket: env.Getenv(wire.EnvSocket)}
	fs := newFlags(env, "profiles", "profiles [--json | --names] [--socket PATH]",
		"lwtoken-helper profiles\n  LWTOKEN_HELPER_PROFILE=gov lwtoken-helper get   # use another profile for one command")
	fs.StringVar(&o.socket, "socket", o.socket, "daemon socket `path` (env "+wire.EnvSocket+"; default per user)")
	fs.BoolVar(&o.json, "json", false, "print the profiles and their tokens as JSON")
	fs.BoolVar(&o.names, "names", false, "print only the profile names, one a line (for scripts and completions)")
	if code, ok := parse(env, fs, args); !ok {
		return code
	}
	timeout := 10 * time.Second
	if o.names {
		timeout = time.Second // shell completion waits on it
	}
	c := client.Client{SocketPath: o.socket, Timeout: timeout}
	ps, err := c.Profiles(ctx)
	if err != nil {
		return fail(env, err)
	}
	switch {
	case o.names:
		for _, p := range ps.Profiles {
			fmt.Fprintln(env.Stdout, p.Name)
		}
		return ExitOK
	case o.json:
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(ps)
		return ExitOK
	}
	if len(ps.Profiles) == 0 {
		fmt.Fprintln(env.Stdout, "no profiles configured")
		hintf(env, "add one with `lwtoken-helperd setup --profile default ...`")
		return ExitOK
	}
	def, from := ps.Default, "the config"
	if p := env.Getenv(wire.EnvProfile); p != "" {
		def, from = p, wire.EnvProfile
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROFILE\tSTATE\tLEFT\tHEALTH\tSCOPES\tENDPOINT\tSERVICE ACCOUNT")
	found := false
	for _, p := range ps.Profiles {
		name := p.Name
		if name == def {
			name += " *"
			found = true
		}
		left := "-"
		if p.State == client.StateValid {
			left = shortDuration(time.Duration(p.TTLSeconds) * time.Second)
		}
		health := string(p.Health)
		if p.LastError != "" {
			health += ": " + p.LastError
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, p.State, left, health, strings.Join(p.Scopes, " "),
			endpointHost(p.AuthURL), p.ServiceAccount)
	}
	tw.Flush()
	switch {
	case found:
		fmt.Fprintf(env.Stdout, "\n* default profile (from %s)\n", from)
	case def != "":
		fmt.Fprintf(env.Stdout, "\nthe default profile %q (from %s) is not configured\n", def, from)
	default:
		fmt.Fprintf(env.Stdout, "\nno default profile: pass --profile, set %s, or set default_profile in the config\n", wire.EnvProfile)
	}
	return ExitOK
}

// endpointHost shortens an auth URL to its host (auth.worksmobile.com, auth.gov-naverworks.com).
func endpointHost(u string) string {
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		return p.Host
	}
	return u
}
