// Command minserver is the benchmark's floor for a server on this machine: it accepts
// connections on a Unix socket and, for each one, reads up to the end of the request head,
// writes a canned HTTP/1.1 reply shaped like lwtoken-helperd's token reply, and closes.
// No HTTP parsing, no peer check, no logging. scripts/bench/run.sh drives it with the same
// load generator as the daemon, so the daemon's numbers can be read against what the
// kernel and the Go runtime allow here.
//
// Usage: minserver -socket PATH (runs until killed)
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
)

const body = `{"access_token":"kWxTjV2oQ9sPq4ZcYb8nRm3LdA7fHgE1uI6yT5rW0xS","token_type":"Bearer","scope":"bot user.read","expires_at":"2026-01-01T00:00:00Z","profile":"default"}` + "\n"

var reply = []byte("HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Length: " + strconv.Itoa(len(body)) +
	"\r\nContent-Type: application/json\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\nConnection: close\r\n\r\n" + body)

func main() {
	sock := flag.String("socket", "", "socket `path` to listen on")
	flag.Parse()
	if *sock == "" {
		fmt.Fprintln(os.Stderr, "minserver: -socket is required")
		os.Exit(2)
	}
	os.Remove(*sock)
	ln, err := net.Listen("unix", *sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, "minserver:", err)
		os.Exit(1)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "minserver:", err)
			os.Exit(1)
		}
		go serve(c)
	}
}

func serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	n := 0
	for n < len(buf) {
		m, err := c.Read(buf[n:])
		n += m
		if bytes.Contains(buf[:n], []byte("\r\n\r\n")) {
			c.Write(reply)
			return
		}
		if err != nil {
			return
		}
	}
}
