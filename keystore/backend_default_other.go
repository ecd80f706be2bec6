//go:build !darwin

package keystore

// defaultBackend is go-keyring: the Secret Service on Linux and the BSDs, the Credential
// Manager on Windows.
func defaultBackend() backend { return goKeyring{} }
