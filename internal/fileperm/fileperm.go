// Package fileperm owns the rule for a file or directory whose content must be decided only
// by one user and root, such as the daemon's config (which names where the client secret
// goes) and a credentials directory: it belongs to that user or root, and group and others
// cannot write it, except a directory with the sticky bit (like /tmp) or on a read-only
// mount (like a Kubernetes Secret or ConfigMap volume). Callers walk their paths and word
// their errors; the rule is here.
package fileperm

import "io/fs"

// ForeignOwner returns fi's owner and whether it is neither uid nor root. Where owners
// cannot be read (not unix) it returns -1, false.
func ForeignOwner(fi fs.FileInfo, uid int) (owner int, foreign bool) {
	owner = Owner(fi)
	return owner, owner >= 0 && owner != 0 && owner != uid
}

// WritableByOthers reports whether users other than the owner could change fi's file or
// directory through its mode: group or others may write it, and it is not a directory with
// the sticky bit or, when path names it, on a read-only mount. A symbolic link's own mode
// means nothing and is never writable.
func WritableByOthers(path string, fi fs.FileInfo) bool {
	mode := fi.Mode()
	switch {
	case mode&fs.ModeSymlink != 0, mode.Perm()&0o022 == 0:
		return false
	case mode.IsDir() && mode&fs.ModeSticky != 0:
		return false
	case mode.IsDir() && path != "" && readOnlyMount(path):
		return false
	}
	return true
}
