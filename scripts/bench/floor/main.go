// Command floor is the benchmark's floor for a Go client of lwtoken-helperd: it dials the
// Unix socket named by $LWTOKEN_HELPER_SOCKET, sends one short HTTP/1.1 request for a token
// and copies the raw reply to stdout. No flags, no JSON, no error text beyond one line: it is
// the least a Go program can do to get an answer from the daemon, so `lwtoken-helper get` is
// measured against it. Built and run by scripts/bench/run.sh only.
package main

import (
	"io"
	"net"
	"os"
)

const request = "GET /v1/token HTTP/1.1\r\nHost: lwtoken-helper\r\nConnection: close\r\n\r\n"

func main() {
	c, err := net.Dial("unix", os.Getenv("LWTOKEN_HELPER_SOCKET"))
	if err != nil {
		os.Stderr.WriteString("floor: " + err.Error() + "\n")
		os.Exit(1)
	}
	if _, err := io.WriteString(c, request); err != nil {
		os.Exit(1)
	}
	if _, err := io.Copy(os.Stdout, c); err != nil {
		os.Exit(1)
	}
}
