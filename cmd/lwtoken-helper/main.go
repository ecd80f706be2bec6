// Command lwtoken-helper is the thin client of lwtoken-helperd: it prints a valid LINE WORKS
// access token for scripts and shell prompts.
package main

import (
	"context"
	"os"

	"github.com/lwtoken-helper/lwtoken-helper/internal/clientcli"
)

func main() { os.Exit(run()) }

func run() int {
	return clientcli.Main(context.Background(), &clientcli.Env{Stdout: os.Stdout, Stderr: os.Stderr}, os.Args[1:])
}
