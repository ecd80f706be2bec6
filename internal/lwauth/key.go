package lwauth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// MinKeyBits is the smallest RSA key ParsePrivateKey accepts.
const MinKeyBits = 2048

// ParsePrivateKey parses an unencrypted RSA private key from PEM: PKCS#8
// ("BEGIN PRIVATE KEY", what the LINE WORKS Developer Console hands out) or PKCS#1
// ("BEGIN RSA PRIVATE KEY"). Leading and trailing whitespace, CRLF line endings and
// text around the PEM block are tolerated; the first private-key block is used.
//
// It returns a lowercase error, never containing key bytes, when the input holds literal
// "\n" escapes instead of line breaks, holds no PEM block or a mangled one (line breaks
// lost), holds an encrypted key, a public
// key, a certificate or a non-RSA key instead, is malformed, or holds a key shorter than
// MinKeyBits.
func ParsePrivateKey(pemBytes []byte) (*rsa.PrivateKey, error) {
	data := bytes.TrimSpace(pemBytes)
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	if bytes.Contains(data, []byte(`\n`)) {
		return nil, errors.New(`lwauth: private key contains literal "\n" escapes instead of line breaks; ` +
			`restore the line breaks (for example printf '%b' "$KEY" > app.key) and load the key from that file`)
	}
	if len(data) == 0 {
		return nil, errors.New("lwauth: private key is empty")
	}

	var other string // type of the first non-key block seen
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case "PRIVATE KEY", "RSA PRIVATE KEY":
			if block.Headers["Proc-Type"] != "" || block.Headers["DEK-Info"] != "" {
				return nil, errEncrypted
			}
			return parseKeyDER(block.Type, block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errEncrypted
		case "EC PRIVATE KEY":
			return nil, errors.New("lwauth: private key is an EC key, not RSA; LINE WORKS keys are RSA")
		case "OPENSSH PRIVATE KEY":
			return nil, errors.New("lwauth: private key is in OpenSSH format; " +
				"use the PEM (PKCS#8) key file from the LINE WORKS Developer Console")
		default:
			if other == "" {
				other = block.Type
			}
		}
	}
	switch other {
	case "":
		if bytes.Contains(data, []byte("-----BEGIN ")) {
			return nil, errors.New("lwauth: private key: malformed PEM block; " +
				"were its line breaks lost (for example joined into one line with spaces)?")
		}
		return nil, errors.New("lwauth: private key: no PEM block found; " +
			"expected a file starting with -----BEGIN PRIVATE KEY-----")
	case "PUBLIC KEY", "RSA PUBLIC KEY":
		return nil, errors.New("lwauth: got a public key where the private key is needed")
	case "CERTIFICATE":
		return nil, errors.New("lwauth: got a certificate where the private key is needed")
	default:
		return nil, fmt.Errorf("lwauth: private key: unsupported PEM block %q; "+
			"expected BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY", clean(other, 40))
	}
}

var errEncrypted = errors.New("lwauth: private key is encrypted; decrypt it first " +
	"(for example openssl pkey -in encrypted.key -out app.key)")

// parseKeyDER parses the DER of a private-key block. Either format is tried whatever the
// block says, because mislabelled blocks are common and harmless.
func parseKeyDER(blockType string, der []byte) (*rsa.PrivateKey, error) {
	var key any
	var err error
	if blockType == "RSA PRIVATE KEY" {
		key, err = x509.ParsePKCS1PrivateKey(der)
		if err != nil {
			key, err = x509.ParsePKCS8PrivateKey(der)
		}
	} else {
		key, err = x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			key, err = x509.ParsePKCS1PrivateKey(der)
		}
	}
	if err != nil {
		// The x509 and asn1 error texts are not helpful here and may quote structure
		// details; say what failed instead.
		return nil, fmt.Errorf("lwauth: private key: malformed %q block (neither PKCS#8 nor PKCS#1, "+
			"or an RSA key shorter than 1024 bits)", blockType)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if bits := k.N.BitLen(); bits < MinKeyBits {
			return nil, fmt.Errorf("lwauth: private key is %d bits; at least %d are required", bits, MinKeyBits)
		}
		return k, nil
	case *ecdsa.PrivateKey:
		return nil, errors.New("lwauth: private key is an ECDSA key, not RSA; LINE WORKS keys are RSA")
	case ed25519.PrivateKey:
		return nil, errors.New("lwauth: private key is an Ed25519 key, not RSA; LINE WORKS keys are RSA")
	default:
		return nil, fmt.Errorf("lwauth: private key is a %T, not RSA; LINE WORKS keys are RSA", key)
	}
}
