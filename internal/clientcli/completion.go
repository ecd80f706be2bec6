package clientcli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

var completionShells = []string{"bash", "zsh", "fish"}

// listCommands returns the command table; set in init, since the table refers to
// runCompletion, which reads the table.
var listCommands func() []command

func init() { listCommands = func() []command { return commands } }

func runCompletion(_ context.Context, env *Env, args []string) int {
	fs := newFlags(env, "completion", "completion bash|zsh|fish",
		"source <(lwtoken-helper completion bash)        # in ~/.bashrc\n"+
			"  lwtoken-helper completion zsh >\"${fpath[1]}/_lwtoken-helper\"   # then restart zsh\n"+
			"  lwtoken-helper completion fish >~/.config/fish/completions/lwtoken-helper.fish")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		errorf(env, "completion: %v", err)
		return ExitUsage
	}
	if fs.NArg() != 1 {
		errorf(env, "completion: name one shell: bash, zsh or fish")
		hintf(env, "source <(%s completion bash)", prog)
		return ExitUsage
	}
	cmds := completionModel()
	var script string
	switch fs.Arg(0) {
	case "bash":
		script = bashCompletion(cmds)
	case "zsh":
		script = zshCompletion(cmds)
	case "fish":
		script = fishCompletion(cmds)
	default:
		errorf(env, "completion: unknown shell %q", fs.Arg(0))
		hintf(env, "use one of: %s", strings.Join(completionShells, ", "))
		return ExitUsage
	}
	io.WriteString(env.Stdout, script)
	return ExitOK
}

// compCommand is what the completion scripts know of a command.
type compCommand struct {
	name, summary string
	flags         []compFlag
}

type compFlag struct {
	name  string // without dashes
	arg   string // the value's name; "" for a boolean flag
	usage string // one line
}

// completionModel lists every command of the table with its flags. The flags are read
// from each command's own -h output (the FlagSet's defaults), so the scripts follow the
// commands as they change. Each command runs with -h only, against a socket path that
// cannot exist and an ended context, so that none can act.
func completionModel() []compCommand {
	var out []compCommand
	for _, c := range listCommands() {
		if c.Name == "completion" {
			out = append(out, compCommand{name: c.Name, summary: c.Summary})
			continue
		}
		var buf bytes.Buffer
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		env := &Env{Stdout: &buf, Stderr: io.Discard, Getenv: func(k string) string {
			if k == wire.EnvSocket {
				return filepath.Join("/nonexistent", "lwtoken-helper-completion", "sock")
			}
			return ""
		}}
		c.Run(ctx, env, []string{"-h"})
		out = append(out, compCommand{name: c.Name, summary: c.Summary, flags: parseFlagHelp(buf.String())})
	}
	return out
}

// parseFlagHelp reads flag.PrintDefaults output: a line "  -name type" (type absent for a
// boolean flag), then the usage on lines that start with four spaces and a tab.
func parseFlagHelp(help string) []compFlag {
	var flags []compFlag
	for _, line := range strings.Split(help, "\n") {
		switch {
		case strings.HasPrefix(line, "  -"):
			head, usage, _ := strings.Cut(strings.TrimPrefix(line, "  -"), "\t") // one-letter flags keep usage on the line
			f := strings.Fields(head)
			if len(f) == 0 {
				continue
			}
			cf := compFlag{name: f[0], usage: strings.TrimSpace(usage)}
			if len(f) > 1 {
				cf.arg = f[1]
			}
			flags = append(flags, cf)
		case strings.HasPrefix(line, "    \t") && len(flags) > 0:
			u := &flags[len(flags)-1].usage
			*u = strings.TrimSpace(*u + " " + strings.TrimSpace(line))
		}
	}
	return flags
}

// valueWords are the fixed values of some flags; the profile flag asks the daemon.
var valueWords = map[string]string{"format": strings.Join(formats, " ")}

func allValueFlags(cmds []compCommand) []string {
	seen := map[string]bool{}
	for _, c := range cmds {
		for _, f := range c.flags {
			if f.arg != "" {
				seen[f.name] = true
			}
		}
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func commandNames(cmds []compCommand) string {
	n := make([]string, 0, len(cmds)+1)
	for _, c := range cmds {
		n = append(n, c.name)
	}
	return strings.Join(append(n, "help"), " ")
}

func bashCompletion(cmds []compCommand) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# bash completion for %[1]s; load it with: source <(%[1]s completion bash)
_lwtoken_helper() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd=${COMP_WORDS[1]} i
	COMPREPLY=()
	if ((COMP_CWORD == 1)); then
		COMPREPLY=($(compgen -W '%[2]s' -- "$cur"))
		return
	fi
	if [[ $cmd == exec ]]; then
		for ((i = 2; i < COMP_CWORD; i++)); do
			if [[ ${COMP_WORDS[i]} == -- ]]; then
				if ((i + 1 == COMP_CWORD)); then
					COMPREPLY=($(compgen -c -- "$cur"))
				else
					COMPREPLY=($(compgen -f -- "$cur"))
				fi
				return
			fi
		done
	fi
	case $prev in
	--profile | -profile)
		COMPREPLY=($(compgen -W "$(command %[1]s profiles --names 2>/dev/null)" -- "$cur"))
		return
		;;
	--socket | -socket)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
`, prog, commandNames(cmds))
	for _, name := range allValueFlags(cmds) {
		if name == "profile" || name == "socket" {
			continue
		}
		fmt.Fprintf(&b, "\t--%[1]s | -%[1]s)\n", name)
		if w := valueWords[name]; w != "" {
			fmt.Fprintf(&b, "\t\tCOMPREPLY=($(compgen -W '%s' -- \"$cur\"))\n", w)
		}
		b.WriteString("\t\treturn\n\t\t;;\n")
	}
	b.WriteString("\tesac\n\tcase $cmd in\n")
	for _, c := range cmds {
		words := []string{}
		for _, f := range c.flags {
			words = append(words, "--"+f.name)
		}
		switch c.name {
		case "completion":
			words = completionShells
		case "exec":
			words = append(words, "--")
		}
		if len(words) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\t%s) COMPREPLY=($(compgen -W '%s' -- \"$cur\")) ;;\n", c.name, strings.Join(words, " "))
	}
	fmt.Fprintf(&b, "\tesac\n}\ncomplete -F _lwtoken_helper %s\n", prog)
	return b.String()
}

// zshQuote quotes s for a single-quoted zsh word.
func zshQuote(s string) string { return strings.ReplaceAll(s, "'", `'\''`) }

// zshSpecEscape escapes what _arguments treats specially inside [...] descriptions.
func zshSpecEscape(s string) string {
	return strings.NewReplacer("[", `\[`, "]", `\]`, ":", `\:`).Replace(s)
}

func zshCompletion(cmds []compCommand) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#compdef %[1]s\n# zsh completion for %[1]s: put it in a directory of $fpath as _%[1]s, or source it\n", prog)
	b.WriteString("_lwtoken_helper_profiles() {\n\tlocal -a names\n\tnames=(${(f)\"$(command " + prog + " profiles --names 2>/dev/null)\"})\n\t_describe -t profiles 'profile' names\n}\n\n")
	b.WriteString("_lwtoken_helper() {\n\tlocal -a cmds\n\tcmds=(\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "\t\t'%s:%s'\n", c.name, zshQuote(strings.ReplaceAll(c.summary, ":", `\:`)))
	}
	b.WriteString("\t\t'help:show the commands'\n\t)\n")
	b.WriteString("\tif ((CURRENT == 2)); then\n\t\t_describe -t commands 'command' cmds\n\t\treturn\n\tfi\n")
	b.WriteString("\tlocal cmd=${words[2]}\n\tshift words\n\t((CURRENT--))\n\tcase $cmd in\n")
	for _, c := range cmds {
		var specs []string
		for _, f := range c.flags {
			desc := zshQuote(zshSpecEscape(f.usage))
			if f.arg == "" {
				specs = append(specs, fmt.Sprintf("'--%s[%s]'", f.name, desc))
				continue
			}
			action := ""
			switch {
			case f.name == "profile":
				action = "_lwtoken_helper_profiles"
			case f.name == "socket":
				action = "_files"
			case valueWords[f.name] != "":
				action = "(" + valueWords[f.name] + ")"
			}
			specs = append(specs, fmt.Sprintf("'--%s=[%s]:%s:%s'", f.name, desc, f.arg, action))
		}
		switch c.name {
		case "completion":
			specs = append(specs, "'1:shell:("+strings.Join(completionShells, " ")+")'")
		case "exec":
			specs = append(specs, "'*::command:_normal'")
		}
		if len(specs) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\t%s)\n\t\t_arguments -S \\\n\t\t\t%s\n\t\t;;\n", c.name, strings.Join(specs, " \\\n\t\t\t"))
	}
	b.WriteString("\tesac\n}\n\n")
	fmt.Fprintf(&b, "if [[ $funcstack[1] == _lwtoken_helper ]]; then\n\t_lwtoken_helper \"$@\"\nelse\n\tcompdef _lwtoken_helper %s\nfi\n", prog)
	return b.String()
}

// fishQuote quotes s for a single-quoted fish word.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}

func fishCompletion(cmds []compCommand) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# fish completion for %[1]s; save it as ~/.config/fish/completions/%[1]s.fish\n", prog)
	fmt.Fprintf(&b, "complete -c %s -f\n", prog)
	for _, c := range cmds {
		fmt.Fprintf(&b, "complete -c %s -n '__fish_use_subcommand' -a %s -d %s\n", prog, c.name, fishQuote(c.summary))
	}
	fmt.Fprintf(&b, "complete -c %s -n '__fish_use_subcommand' -a help -d 'show the commands'\n", prog)
	for _, c := range cmds {
		cond := "__fish_seen_subcommand_from " + c.name
		for _, f := range c.flags {
			line := fmt.Sprintf("complete -c %s -n %s -l %s -d %s", prog, fishQuote(cond), f.name, fishQuote(f.usage))
			switch {
			case f.arg == "":
			case f.name == "profile":
				line += " -x -a " + fishQuote("(command "+prog+" profiles --names 2>/dev/null)")
			case f.name == "socket":
				line += " -r -F"
			case valueWords[f.name] != "":
				line += " -x -a " + fishQuote(valueWords[f.name])
			default:
				line += " -x"
			}
			b.WriteString(line + "\n")
		}
		switch c.name {
		case "completion":
			fmt.Fprintf(&b, "complete -c %s -n %s -a %s\n", prog, fishQuote(cond), fishQuote(strings.Join(completionShells, " ")))
		case "exec":
			fmt.Fprintf(&b, "complete -c %s -n %s -a '(__fish_complete_subcommand --fcs-skip=2)'\n", prog,
				fishQuote(cond+"; and contains -- -- (commandline -opc)"))
		}
	}
	return b.String()
}
