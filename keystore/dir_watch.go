package keystore

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Timing of Dir.Watch.
const (
	// DirRescan is how often Watch re-reads every file, whatever the watcher reported: the
	// backstop for a missed event (a watch limit reached, a directory replaced, a network
	// file system).
	DirRescan = time.Minute
	// DirDebounce is how long Watch waits after the last event before it re-reads, so that
	// one update (kubelet writes a directory, a link, renames it, removes the old one) is
	// read once, complete.
	DirDebounce = 100 * time.Millisecond
)

// Watch implements Watcher: it watches the directory itself (not single files or links,
// whose watches miss kubelet's ..data swap), debounced by DirDebounce, and re-reads every
// DirRescan as a backstop. A profile is reported when what Get returns for it changes: its
// files' contents, or whether and why they fail. If the directory cannot be watched, it
// says so once on log and relies on the periodic re-read.
func (d *Dir) Watch(ctx context.Context, log *slog.Logger, changed func(profile string)) {
	d.watch(ctx, log, changed, DirRescan, DirDebounce, func() {})
}

// watch is Watch with its timing; armed runs once the watch is in place and the first
// snapshot taken.
func (d *Dir) watch(ctx context.Context, log *slog.Logger, changed func(string), rescan, debounce time.Duration, armed func()) {
	var events <-chan fsnotify.Event
	var errs <-chan error
	w, err := fsnotify.NewWatcher()
	if err == nil {
		if err = w.Add(d.real); err != nil {
			w.Close()
		}
	}
	if err != nil {
		log.Warn("cannot watch the credentials directory; re-reading it periodically instead", "dir", d.shown,
			"every", rescan.String(), "err", err)
	} else {
		defer w.Close()
		events, errs = w.Events, w.Errors
	}
	// The snapshot is taken after the watch is in place: nothing falls between the two.
	seen := d.snapshot(nil)
	if events != nil {
		log.Info("watching the credentials directory", "dir", d.shown, "rescan", rescan.String())
	}
	armed()
	tick := time.NewTicker(rescan)
	defer tick.Stop()
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
	check := func(why string) {
		next := d.snapshot(seen)
		for p, sum := range next {
			if old, ok := seen[p]; !ok || old != sum {
				log.Info("credentials changed", "profile", p, "dir", d.shown, "noticed_by", why)
				changed(p)
			}
		}
		seen = next
	}
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			settle.Reset(debounce)
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			// An overflowed queue lost events: read everything again soon.
			log.Warn("watching the credentials directory", "dir", d.shown, "err", err)
			settle.Reset(debounce)
		case <-settle.C:
			check("watch")
		case <-tick.C:
			check("rescan")
		}
	}
}

// snapshot returns the digest of every profile with a file in the directory and of every
// profile in prev (so that a profile whose files vanish is noticed).
func (d *Dir) snapshot(prev map[string][sha256.Size]byte) map[string][sha256.Size]byte {
	out := map[string][sha256.Size]byte{}
	for _, p := range d.profiles() {
		out[p] = d.digest(p)
	}
	for p := range prev {
		if _, ok := out[p]; !ok {
			out[p] = d.digest(p)
		}
	}
	return out
}
