// Command lwtoken-helperd is the lwtoken-helper daemon and its admin verbs: it keeps LINE
// WORKS service-account credentials in the OS keyring and serves fresh access tokens over a
// per-user Unix socket.
package main

import (
	"context"
	"os"

	"github.com/lwtoken-helper/lwtoken-helper/internal/daemoncli"
)

func main() { os.Exit(run()) }

func run() int {
	return daemoncli.Main(context.Background(), &daemoncli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		StdinFd: int(os.Stdin.Fd())}, os.Args[1:])
}
