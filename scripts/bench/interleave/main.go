// Command interleave runs whole commands in turn, many times, so that two builds of the same
// program are measured side by side under the same load: every iteration runs each command
// once, the order rotating from one iteration to the next, so a burst of other work on the
// machine hits all of them alike. Built and run by scripts/bench/compare.sh.
//
//	interleave -n 1000 NAME=[ENV=VALUE,...]|ARGV...  NAME=...
//
// It prints one line per run: iteration, name, wall time and CPU time (user + system, of
// the child alone) in microseconds, and the exit status. Standard output and error of the
// commands are discarded; a command that cannot be started stops the run.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

type command struct {
	name string
	argv []string
	env  []string
}

// parseCommand parses NAME=ENV1=V1,ENV2=V2|ARGV0 ARG... (the environment part may be
// empty; the arguments are split on white space).
func parseCommand(s string) (command, error) {
	name, rest, ok := strings.Cut(s, "=")
	envs, argv, ok2 := strings.Cut(rest, "|")
	c := command{name: name, argv: strings.Fields(argv), env: os.Environ()}
	if !ok || !ok2 || name == "" || len(c.argv) == 0 {
		return c, fmt.Errorf("%q is not NAME=[ENV=VALUE,...]|ARGV", s)
	}
	if envs != "" {
		c.env = append(c.env, strings.Split(envs, ",")...) // later entries win
	}
	return c, nil
}

func main() {
	n := flag.Int("n", 1000, "iterations")
	warmup := flag.Int("warmup", 5, "iterations run first and not reported")
	flag.Parse()
	var cmds []command
	for _, a := range flag.Args() {
		c, err := parseCommand(a)
		if err != nil {
			fmt.Fprintln(os.Stderr, "interleave:", err)
			os.Exit(2)
		}
		cmds = append(cmds, c)
	}
	if len(cmds) == 0 || *n < 1 || *n > 1_000_000 || *warmup < 0 {
		fmt.Fprintln(os.Stderr, "interleave: usage: interleave [-n N] [-warmup N] NAME=[ENV=VALUE,...]|ARGV...")
		os.Exit(2)
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "interleave:", err)
		os.Exit(1)
	}
	k := len(cmds)
	for it := -*warmup; it < *n; it++ {
		for j := range k {
			// Rotate the start, and run backwards every other iteration: no command
			// always follows the same one.
			pos := j
			if it%2 != 0 {
				pos = k - 1 - j
			}
			c := cmds[(pos+it+k**warmup)%k]
			p := exec.Command(c.argv[0], c.argv[1:]...)
			p.Env, p.Stdout, p.Stderr = c.env, devnull, devnull
			t0 := time.Now()
			err := p.Run()
			wall := time.Since(t0)
			if p.ProcessState == nil {
				fmt.Fprintf(os.Stderr, "interleave: %s: %v\n", c.name, err)
				os.Exit(1)
			}
			if it >= 0 {
				cpu := p.ProcessState.UserTime() + p.ProcessState.SystemTime()
				fmt.Printf("%d %s %d %d %d\n", it, c.name, wall.Microseconds(), cpu.Microseconds(), p.ProcessState.ExitCode())
			}
		}
	}
}
