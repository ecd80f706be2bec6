package lwauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/testkey"
)

func pemOf(typ string, der []byte, headers map[string]string) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Headers: headers, Bytes: der}))
}

func pkcs8(t testing.TB, key any) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestParsePrivateKey(t *testing.T) {
	key := testkey.App()
	p8 := pemOf("PRIVATE KEY", pkcs8(t, key), nil)
	p1 := pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key), nil)
	tests := []struct{ name, in string }{
		{"pkcs8", p8},
		{"pkcs1", p1},
		{"pkcs8 crlf", strings.ReplaceAll(p8, "\n", "\r\n")},
		{"pkcs1 surrounded by white space", "\n\n  \t" + p1 + "\n  \n"},
		{"text around the block", "Bag Attributes\n    friendlyName: app\n" + p8 + "trailing words\n"},
		{"certificate first", pemOf("CERTIFICATE", []byte("junk"), nil) + p8},
		{"pkcs1 labelled pkcs8", pemOf("PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key), nil)},
		{"pkcs8 labelled pkcs1", pemOf("RSA PRIVATE KEY", pkcs8(t, key), nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePrivateKey([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(key) {
				t.Error("parsed a different key")
			}
		})
	}
}

func TestParsePrivateKeyErrors(t *testing.T) {
	key := testkey.App()
	p8 := pemOf("PRIVATE KEY", pkcs8(t, key), nil)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "app"},
		NotBefore: t0, NotAfter: t0.Add(time.Hour)}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	small := testkey.Sized(1024)

	tests := []struct{ name, in, want string }{
		{"literal newlines", strings.ReplaceAll(strings.TrimSpace(p8), "\n", `\n`), `literal "\n" escapes`},
		{"literal newlines with crlf", strings.ReplaceAll(strings.TrimSpace(p8), "\n", `\r\n`), `literal "\n" escapes`},
		{"empty", " \n\t", "private key is empty"},
		{"no pem block", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "no PEM block found"},
		{"line breaks lost", strings.ReplaceAll(strings.TrimSpace(p8), "\n", " "), "were its line breaks lost"},
		{"encrypted pkcs8", pemOf("ENCRYPTED PRIVATE KEY", []byte("opaque"), nil), "private key is encrypted"},
		{"encrypted legacy", pemOf("RSA PRIVATE KEY", []byte("opaque"),
			map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"}), "private key is encrypted"},
		{"public key", pemOf("PUBLIC KEY", pubDER, nil), "got a public key"},
		{"rsa public key", pemOf("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&key.PublicKey), nil), "got a public key"},
		{"certificate", pemOf("CERTIFICATE", certDER, nil), "got a certificate"},
		{"ec sec1", pemOf("EC PRIVATE KEY", ecDER, nil), "EC key, not RSA"},
		{"ecdsa pkcs8", pemOf("PRIVATE KEY", pkcs8(t, ec), nil), "ECDSA key, not RSA"},
		{"ed25519 pkcs8", pemOf("PRIVATE KEY", pkcs8(t, ed), nil), "Ed25519 key, not RSA"},
		{"openssh", pemOf("OPENSSH PRIVATE KEY", []byte("opaque"), nil), "OpenSSH format"},
		{"other block", pemOf("X509 CRL", []byte("opaque"), nil), `unsupported PEM block "X509 CRL"`},
		{"malformed der", pemOf("PRIVATE KEY", pkcs8(t, key)[:300], nil), `malformed "PRIVATE KEY" block`},
		{"1024 bits", pemOf("PRIVATE KEY", pkcs8(t, small), nil), "private key is 1024 bits; at least 2048 are required"},
	}
	body := strings.Split(p8, "\n")[1] // a line of the key's base64
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParsePrivateKey([]byte(tt.in))
			if err == nil || k != nil {
				t.Fatalf("got a key, err %v", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "lwauth: ") || !strings.Contains(msg, tt.want) {
				t.Errorf("error %q, want it to contain %q", msg, tt.want)
			}
			if strings.Contains(msg, body[:16]) || strings.Contains(msg, "MII") {
				t.Errorf("error %q holds key bytes", msg)
			}
			if strings.HasSuffix(msg, ".") {
				t.Errorf("error %q ends with a period", msg)
			}
		})
	}
}

func FuzzParsePrivateKey(f *testing.F) {
	key := testkey.App()
	p8 := pemOf("PRIVATE KEY", pkcs8(f, key), nil)
	for _, s := range []string{
		p8,
		pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key), nil),
		strings.ReplaceAll(p8, "\n", `\n`),
		pemOf("PRIVATE KEY", []byte{0x30, 0x03, 0x02, 0x01, 0x00}, nil),
		pemOf("CERTIFICATE", nil, nil),
		"-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----",
		"", "junk",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParsePrivateKey(b)
		if err != nil {
			if k != nil {
				t.Fatal("key and error")
			}
			return
		}
		if k.N.BitLen() < MinKeyBits {
			t.Fatalf("accepted a %d-bit key", k.N.BitLen())
		}
	})
}
