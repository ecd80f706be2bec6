package fileperm

import "golang.org/x/sys/unix"

// readOnlyMount reports whether dir is on a read-only mount (nobody can write to it).
func readOnlyMount(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Flags&unix.MNT_RDONLY != 0
}
