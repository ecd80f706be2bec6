package keystore

import (
	"context"
	"log/slog"
	"time"
)

// StartWatchForTest runs d's watch with the given timing until the returned stop is called;
// it returns once the watch is in place.
func StartWatchForTest(d *Dir, log *slog.Logger, changed func(string), rescan, debounce time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	armed, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		d.watch(ctx, log, changed, rescan, debounce, func() { close(armed) })
	}()
	<-armed
	return func() { cancel(); <-done }
}
