package keystore

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// sysKeyctl is the kernel's keyctl(2) and add_key(2), through golang.org/x/sys/unix.
type sysKeyctl struct{}

func systemKeyctl() keyctl { return sysKeyctl{} }

func (sysKeyctl) userKeyring() (int, error) {
	return unix.KeyctlGetKeyringID(unix.KEY_SPEC_USER_KEYRING, true)
}

func (sysKeyctl) search(ring int, desc string) (int, error) {
	return unix.KeyctlSearch(ring, "user", desc, 0)
}

func (sysKeyctl) read(id int) ([]byte, error) {
	size := 1024
	for {
		buf := make([]byte, size)
		n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, id, buf, 0)
		if err != nil {
			return nil, err
		}
		if n <= len(buf) {
			return buf[:n], nil
		}
		if n > MaxSecretFileSize {
			return nil, fmt.Errorf("key %d holds %d bytes", id, n)
		}
		size = n
	}
}

func (sysKeyctl) add(desc string, payload []byte) (int, error) {
	return unix.AddKey("user", desc, payload, unix.KEY_SPEC_PROCESS_KEYRING)
}

func (sysKeyctl) setperm(id int, perm uint32) error { return unix.KeyctlSetperm(id, perm) }

func (sysKeyctl) settimeout(id int, seconds uint) error {
	_, err := unix.KeyctlInt(unix.KEYCTL_SET_TIMEOUT, id, int(seconds), 0, 0)
	return err
}

func (sysKeyctl) link(id, ring int) error {
	_, err := unix.KeyctlInt(unix.KEYCTL_LINK, id, ring, 0, 0)
	return err
}

func (s sysKeyctl) unlinkProcess(id int) error { return s.unlink(id, unix.KEY_SPEC_PROCESS_KEYRING) }

func (sysKeyctl) unlink(id, ring int) error {
	_, err := unix.KeyctlInt(unix.KEYCTL_UNLINK, id, ring, 0, 0)
	return err
}

func (sysKeyctl) uid() int { return os.Getuid() }

// fail turns a keyctl error of op into this package's errors: absent, expired, revoked or
// not ours is ErrNotFound; a blocked keyctl (EPERM, ENOSYS) switches to memory for good and
// is ErrNotFound too; anything else is ErrUnavailable.
func (k *KernelKeyring) fail(op, key string, err error) error {
	switch {
	case errors.Is(err, unix.ENOKEY), errors.Is(err, unix.EKEYEXPIRED), errors.Is(err, unix.EKEYREVOKED),
		errors.Is(err, unix.EACCES), errors.Is(err, unix.ENOENT):
		return opError(op, key, ErrNotFound)
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.ENOSYS):
		k.disable(err)
		return opError(op, key, ErrNotFound)
	}
	return opError(op, key, fmt.Errorf("%w: kernel keyring: %w", ErrUnavailable, err))
}

// quotaFull reports whether err is the user's key quota being full, saying so once.
func (k *KernelKeyring) quotaFull(err error) bool {
	if !errors.Is(err, unix.EDQUOT) {
		return false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.full {
		k.full = true
		k.log.Warn(KernelKeyringQuotaFull, "err", err.Error(), "uid", os.Getuid(),
			"hint", "other programs of this user hold keys: see /proc/key-users; root can raise kernel.keys.maxkeys and kernel.keys.maxbytes")
	}
	return true
}
