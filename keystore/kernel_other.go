//go:build !linux

package keystore

import "fmt"

func systemKeyctl() keyctl { return nil }

func (k *KernelKeyring) fail(op, key string, err error) error {
	return opError(op, key, fmt.Errorf("%w: %w", ErrUnavailable, err))
}

func (k *KernelKeyring) quotaFull(error) bool { return false }
