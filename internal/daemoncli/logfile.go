package daemoncli

import (
	"fmt"
	"os"
	"sync"
)

// minLogMax is the smallest --log-max-size run accepts.
const minLogMax = 4096

// rotatingLog is run's --log-file: an append-only log file that, before a write would take
// it past max bytes, moves to PATH.1 (replacing the previous one) and starts afresh, so the
// log takes at most about twice max. Where launchd runs the daemon nothing else rotates it.
type rotatingLog struct {
	path string
	max  int64
	// redirect, when set, points the process's stdout and stderr at each file the log opens,
	// so what the Go runtime prints (a panic's trace) lands in the current log too.
	redirect func(*os.File) error

	mu   sync.Mutex
	f    *os.File
	size int64
}

// openRotatingLog opens (creating, mode 0600) the log at path.
func openRotatingLog(path string, max int64, redirect func(*os.File) error) (*rotatingLog, error) {
	l := &rotatingLog{path: path, max: max, redirect: redirect}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *rotatingLog) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("log file: %w", err)
	}
	if l.redirect != nil {
		if err := l.redirect(f); err != nil {
			f.Close()
			return fmt.Errorf("log file: point stderr at it: %w", err)
		}
	}
	if l.f != nil {
		l.f.Close()
	}
	l.f, l.size = f, fi.Size()
	return nil
}

// Write appends p, rotating first when p would take the file past max. A failed rotation
// keeps writing to the current file rather than losing lines.
func (l *rotatingLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.size > 0 && l.size+int64(len(p)) > l.max {
		if err := os.Rename(l.path, l.path+".1"); err == nil {
			if err := l.open(); err != nil {
				// The old file was renamed: keep writing to it under its new name.
				fmt.Fprintf(l.f, "lwtoken-helperd: log rotation failed: %v\n", err)
			}
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return n, err
}

// Close closes the current file.
func (l *rotatingLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}
