package lwauth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// NewAssertion returns the RS256 JWT that authenticates the service account: header
// {"alg":"RS256","typ":"JWT"} (no kid), claims iss = ClientID, sub = ServiceAccount,
// iat = now-10s and exp = now+AssertionLifetime, both as integer UNIX seconds.
// The assertion is a credential: never log it.
//
// It returns an error when ClientID, ServiceAccount or PrivateKey is missing or when
// signing fails; the error never contains key material.
func NewAssertion(cr Credentials, now time.Time) (string, error) {
	switch {
	case cr.ClientID == "":
		return "", errors.New("lwauth: assertion: missing client id")
	case cr.ServiceAccount == "":
		return "", errors.New("lwauth: assertion: missing service account")
	case cr.PrivateKey == nil:
		return "", errors.New("lwauth: assertion: missing private key")
	}
	claims := jwt.MapClaims{
		"iss": cr.ClientID,
		"sub": cr.ServiceAccount,
		"iat": now.Add(-assertionBackdate).Unix(),
		"exp": now.Add(AssertionLifetime).Unix(),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(cr.PrivateKey)
	if err != nil {
		return "", fmt.Errorf("lwauth: assertion: signing: %w", err)
	}
	return s, nil
}
