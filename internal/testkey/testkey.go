// Package testkey owns the RSA keys of this module's tests and test helpers. Making a
// 2048-bit key takes tens of milliseconds (a 4096-bit one, seconds), so each test binary
// makes each key once, on first use, and shares it; keys are never written anywhere by
// this package.
package testkey

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"sync"
)

var (
	app   = sync.OnceValue(func() *rsa.PrivateKey { return generate(2048) })
	other = sync.OnceValue(func() *rsa.PrivateKey { return generate(2048) })

	mu    sync.Mutex
	sized = map[int]*rsa.PrivateKey{}
)

// App returns the service account's key: the one a test registers with the fake LINE
// WORKS and gives to setup or the daemon. 2048 bits, as the Developer Console issues.
func App() *rsa.PrivateKey { return app() }

// Other returns a second 2048-bit key, never equal to App: "signed with the wrong key".
func Other() *rsa.PrivateKey { return other() }

// Sized returns a key of the given size, the same one on every call with that size, and
// never App or Other: for tests of small (refused) or large (accepted) keys.
func Sized(bits int) *rsa.PrivateKey {
	mu.Lock()
	defer mu.Unlock()
	k, ok := sized[bits]
	if !ok {
		k = generate(bits)
		sized[bits] = k
	}
	return k
}

// PEM returns k as the Developer Console hands it out (the private_xxx.key file): an
// unencrypted PKCS#8 "PRIVATE KEY" PEM block.
func PEM(k *rsa.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err) // an RSA key always marshals
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func generate(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return k
}
