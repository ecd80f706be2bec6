package lwfake

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// verifyAssertion checks a JWT-bearer assertion the way the real endpoint does, in this
// order: three base64url segments without padding, header alg RS256 and typ JWT, the
// RS256 signature under the app's key, iss and sub, then iat and exp (JSON numbers, in
// whole seconds: exp > iat, exp-iat <= 3600 s, iat no more than MaxIatSkew after now,
// now <= exp).
// The error says which check failed.
func verifyAssertion(assertion string, app App, now time.Time) error {
	segs := strings.Split(assertion, ".")
	if len(segs) != 3 {
		return fmt.Errorf("want three dot-separated segments, got %d", len(segs))
	}
	var dec [3][]byte
	for i, seg := range segs {
		switch {
		case strings.Contains(seg, "="):
			return fmt.Errorf("segment %d is padded; base64url must be unpadded", i+1)
		case strings.ContainsAny(seg, "+/"):
			return fmt.Errorf("segment %d uses standard base64 characters; want base64url", i+1)
		}
		b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
		if err != nil {
			return fmt.Errorf("segment %d is not base64url", i+1)
		}
		dec[i] = b
	}

	header, err := object(dec[0])
	if err != nil {
		return fmt.Errorf("header: %w", err)
	}
	if alg, _ := stringValue(header["alg"]); alg != "RS256" {
		return fmt.Errorf("header alg must be RS256, not %q", alg)
	}
	if typ, _ := stringValue(header["typ"]); typ != "JWT" {
		return fmt.Errorf("header typ must be JWT, not %q", typ)
	}

	digest := sha256.Sum256([]byte(segs[0] + "." + segs[1]))
	if rsa.VerifyPKCS1v15(app.PublicKey, crypto.SHA256, digest[:], dec[2]) != nil {
		return errors.New("signature does not verify with the app's public key")
	}

	claims, err := object(dec[1])
	if err != nil {
		return fmt.Errorf("claims: %w", err)
	}
	if iss, ok := stringValue(claims["iss"]); !ok || iss != app.ClientID {
		return errors.New("iss is not the client id")
	}
	if sub, ok := stringValue(claims["sub"]); !ok || sub != app.ServiceAccount {
		return errors.New("sub is not the app's service account")
	}
	iat, err := numericDate(claims, "iat")
	if err != nil {
		return err
	}
	exp, err := numericDate(claims, "exp")
	if err != nil {
		return err
	}
	t := now.Unix()
	switch {
	case exp <= iat:
		return errors.New("exp is not after iat")
	case exp-iat > int64(MaxAssertionLifetime/time.Second):
		return fmt.Errorf("exp - iat is %d s, more than %d s", exp-iat, int64(MaxAssertionLifetime/time.Second))
	case iat > t+int64(MaxIatSkew/time.Second):
		return fmt.Errorf("iat is %d s in the future", iat-t)
	case t > exp:
		return fmt.Errorf("assertion expired %d s ago", t-exp)
	}
	return nil
}

// object decodes a JSON object, keeping each value raw.
func object(b []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if len(bytes.TrimSpace(b)) == 0 || bytes.TrimSpace(b)[0] != '{' || json.Unmarshal(b, &m) != nil {
		return nil, errors.New("not a JSON object")
	}
	return m, nil
}

func stringValue(raw json.RawMessage) (string, bool) {
	var s string
	if raw == nil || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// maxNumericDate bounds iat and exp far beyond any real date, so that whole seconds fit
// an int64 and differences do not overflow.
const maxNumericDate = 1 << 40

// numericDate returns a claim that must be a NumericDate (RFC 7519: a JSON number of
// seconds since the epoch, not a string), in whole seconds, rounded down. Fractions are
// fine: LINE WORKS's own samples send them (works-api-code-samples:
// samples/nodejs/bot-echo-express/lineworks.js uses Date.now() / 1000 and
// samples/python/bot-echo-fastapi/lineworks.py datetime.now().timestamp()), and the real
// endpoint accepts them.
func numericDate(claims map[string]json.RawMessage, name string) (int64, error) {
	raw, ok := claims[name]
	if !ok {
		return 0, fmt.Errorf("%s is missing", name)
	}
	var f float64
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) || json.Unmarshal(raw, &f) != nil {
		return 0, fmt.Errorf("%s must be a JSON number", name)
	}
	if math.Abs(f) > maxNumericDate {
		return 0, fmt.Errorf("%s is out of range", name)
	}
	return int64(math.Floor(f)), nil
}
