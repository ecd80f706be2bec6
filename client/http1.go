package client

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/lwtoken-helper/lwtoken-helper/internal/wire"
)

// roundTrip sends one HTTP/1.1 request with no body and reads the reply: status line,
// headers, and a body of exactly Content-Length bytes (at most wire.MaxResponseBytes).
func roundTrip(conn net.Conn, method, path string) (int, []byte, error) {
	req := method + " " + path + " HTTP/1.1\r\nHost: " + wire.Host +
		"\r\nAccept: application/json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return 0, nil, err
	}
	return readResponse(bufio.NewReaderSize(conn, 4096))
}

var errMalformed = errors.New("malformed http reply")

// readResponse parses an HTTP/1.x reply that carries Content-Length (the daemon always
// sends it). It never reads more than wire.MaxResponseBytes of body or 64 header lines.
func readResponse(r *bufio.Reader) (int, []byte, error) {
	line, err := readLine(r)
	if err != nil {
		return 0, nil, err
	}
	proto, rest, ok := strings.Cut(line, " ")
	if !ok || !strings.HasPrefix(proto, "HTTP/1.") || len(rest) < 3 {
		return 0, nil, errMalformed
	}
	status, err := strconv.Atoi(rest[:3])
	if err != nil || status < 100 || status > 599 {
		return 0, nil, errMalformed
	}
	length := -1
	for i := 0; ; i++ {
		if i > 64 {
			return 0, nil, fmt.Errorf("%w: too many headers", errMalformed)
		}
		h, err := readLine(r)
		if err != nil {
			return 0, nil, err
		}
		if h == "" {
			break
		}
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			return 0, nil, errMalformed
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "content-length":
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 {
				return 0, nil, fmt.Errorf("%w: bad content-length", errMalformed)
			}
			length = n
		case "transfer-encoding":
			return 0, nil, fmt.Errorf("%w: transfer-encoding is not supported", errMalformed)
		}
	}
	if length < 0 {
		return 0, nil, fmt.Errorf("%w: no content-length", errMalformed)
	}
	if length > wire.MaxResponseBytes {
		return 0, nil, fmt.Errorf("%w: reply of %d bytes is too large", errMalformed, length)
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	return status, body, nil
}

func readLine(r *bufio.Reader) (string, error) {
	b, isPrefix, err := r.ReadLine()
	if err != nil {
		if err == io.EOF {
			return "", io.ErrUnexpectedEOF
		}
		return "", err
	}
	if isPrefix {
		return "", fmt.Errorf("%w: line too long", errMalformed)
	}
	return string(bytes.TrimRight(b, "\r")), nil
}
