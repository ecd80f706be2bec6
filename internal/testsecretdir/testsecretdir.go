// Package testsecretdir owns test helpers that write a credentials directory the way secret
// managers do: kubelet's projection of a Kubernetes Secret volume, step by step, and an
// agent's rename over a file (Vault or OpenBao Agent templates).
package testsecretdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Kubelet writes Dir the way kubelet's AtomicWriter projects a Secret volume (see
// k8s.io/kubernetes/pkg/volume/util/atomic_writer.go): the keys live in a timestamped
// directory ..YYYY_MM_DD_HH_MM_SS.RANDOM (mode 0755); ..data is a symbolic link to it;
// each key is a symbolic link KEY -> ..data/KEY. An update writes a new timestamped
// directory, creates the links of new keys, points a new link ..data_tmp at it, renames
// ..data_tmp over ..data (the one atomic step), removes the links of keys that are gone and
// then the old timestamped directory. Dir itself gets mode 01777, as kubelet's tmpfs
// mount of a Secret volume has.
type Kubelet struct {
	Dir   string
	Mode  fs.FileMode            // of each file (the volume's defaultMode); 0: 0644, kubelet's default
	Modes map[string]fs.FileMode // per key, overriding Mode (a volume item's mode)
	// FSGroup, if not 0, is the pod's fsGroup: the timestamped directory and the files
	// belong to that group, and the directory gets the setgid bit, as kubelet's
	// SetVolumeOwnership leaves a read-only volume.
	FSGroup int

	// Between, if set, runs between the steps of Write, named after them, so that a test
	// can look at the directory at each one.
	Between func(step string)
}

// Write projects files (key: contents) into Dir, replacing what was there.
func (k *Kubelet) Write(files map[string][]byte) error {
	mode := k.Mode
	if mode == 0 {
		mode = 0o644
	}
	step := func(s string) {
		if k.Between != nil {
			k.Between(s)
		}
	}
	if err := os.MkdirAll(k.Dir, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(k.Dir, 0o777|os.ModeSticky); err != nil {
		return err
	}
	data := filepath.Join(k.Dir, "..data")
	oldTs, err := os.Readlink(data)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var oldKeys []string
	if oldTs != "" {
		ents, err := os.ReadDir(filepath.Join(k.Dir, oldTs))
		if err != nil {
			return err
		}
		for _, e := range ents {
			oldKeys = append(oldKeys, e.Name())
		}
	}
	ts, err := os.MkdirTemp(k.Dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return err
	}
	if err := os.Chmod(ts, 0o755); err != nil {
		return err
	}
	if k.FSGroup != 0 {
		if err := os.Chown(ts, -1, k.FSGroup); err != nil {
			return err
		}
		if err := os.Chmod(ts, 0o755|os.ModeSetgid); err != nil {
			return err
		}
	}
	for key, b := range files {
		if strings.Contains(key, "/") || strings.HasPrefix(key, "..") {
			return fmt.Errorf("testsecretdir: invalid key %q", key)
		}
		p := filepath.Join(ts, key)
		m := mode
		if km, ok := k.Modes[key]; ok {
			m = km
		}
		if err := os.WriteFile(p, b, m); err != nil {
			return err
		}
		if err := os.Chmod(p, m); err != nil {
			return err
		}
		if k.FSGroup != 0 {
			if err := os.Chown(p, -1, k.FSGroup); err != nil {
				return err
			}
		}
	}
	step("payload written")
	for key := range files {
		link := filepath.Join(k.Dir, key)
		if _, err := os.Readlink(link); errors.Is(err, fs.ErrNotExist) {
			if err := os.Symlink(filepath.Join("..data", key), link); err != nil {
				return err
			}
		}
	}
	step("user-visible links created")
	tmp := filepath.Join(k.Dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		return err
	}
	step("..data_tmp created")
	if err := os.Rename(tmp, data); err != nil {
		return err
	}
	step("..data swapped")
	for _, key := range oldKeys {
		if _, ok := files[key]; !ok {
			if err := os.Remove(filepath.Join(k.Dir, key)); err != nil {
				return err
			}
		}
	}
	if oldTs != "" {
		if err := os.RemoveAll(filepath.Join(k.Dir, oldTs)); err != nil {
			return err
		}
	}
	step("old data removed")
	return nil
}

// RenameOver replaces dir/name the way a Vault or OpenBao Agent template does: it writes
// the contents to a temporary file in the same directory and renames it over the target.
func RenameOver(dir, name string, b []byte, mode fs.FileMode) error {
	f, err := os.CreateTemp(dir, "."+name+".tmp")
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), filepath.Join(dir, name))
}
