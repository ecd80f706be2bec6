package keystore

// defaultBackend is the macOS keychain through /usr/bin/security, run by this package
// (securityCLI), not through go-keyring.
func defaultBackend() backend { return securityCLI{path: "/usr/bin/security"} }
