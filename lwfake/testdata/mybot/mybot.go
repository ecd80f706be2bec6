// Package mybot stands for a bot developer's own code, in a module of its own: it mints
// a LINE WORKS token the way the official samples do (a JWT signed with
// github.com/golang-jwt/jwt/v5, iat and exp fractional, like Date.now() / 1000) and sends
// a message, waiting out one 429. TestUsableFromAnotherModule (../../module_test.go)
// tests it against package lwfake, with the test file shown in the README.
package mybot

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Bot sends messages as one LINE WORKS bot.
type Bot struct {
	AuthURL, APIURL                        string // https://auth.worksmobile.com/oauth2/v2.0, https://www.worksapis.com/v1.0
	ClientID, ClientSecret, ServiceAccount string
	Key                                    *rsa.PrivateKey
}

// token mints an access token with scope bot.
func (b *Bot) token(ctx context.Context) (string, error) {
	now := float64(time.Now().UnixMilli()) / 1000
	assertion, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": b.ClientID, "sub": b.ServiceAccount, "iat": now, "exp": now + 3600,
	}).SignedString(b.Key)
	if err != nil {
		return "", err
	}
	form := url.Values{"assertion": {assertion}, "grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"},
		"client_id": {b.ClientID}, "client_secret": {b.ClientSecret}, "scope": {"bot"}}
	req, err := http.NewRequestWithContext(ctx, "POST", b.AuthURL+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil {
		return "", fmt.Errorf("token: %s", resp.Status)
	}
	return body.AccessToken, nil
}

// Greet sends "hello" from bot botID to userID.
func (b *Bot) Greet(ctx context.Context, botID, userID string) error {
	tok, err := b.token(ctx)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, "POST", b.APIURL+"/bots/"+botID+"/users/"+url.PathEscape(userID)+"/messages",
			strings.NewReader(`{"content":{"type":"text","text":"hello"}}`))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusCreated:
			return nil
		case resp.StatusCode == http.StatusTooManyRequests && attempt == 0:
			wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			time.Sleep(time.Duration(wait) * time.Second)
			continue
		}
		return fmt.Errorf("send: %s", resp.Status)
	}
}
