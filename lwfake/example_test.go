package lwfake_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/lwfake"
)

// In a test, lwfake.NewServer(t, app) starts the fake and closes it at the end; an
// example has no *testing.T, so it uses New and Start. The client below is what a bot
// does: sign an assertion, get a token, send a message.
func Example() {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	srv, err := lwfake.New(lwfake.App{ClientID: "my-client", ClientSecret: "my-secret",
		ServiceAccount: "abcde.serviceaccount@example.com", PublicKey: &key.PublicKey, Scopes: []string{"bot"}})
	if err != nil {
		panic(err)
	}
	if err := srv.Start(); err != nil {
		panic(err)
	}
	defer srv.Close()

	resp, _ := http.PostForm(srv.AuthURL+"/token", url.Values{
		"assertion":  {assertion(key, "my-client", "abcde.serviceaccount@example.com")},
		"grant_type": {lwfake.GrantTypeJWTBearer}, "client_id": {"my-client"}, "client_secret": {"my-secret"},
		"scope": {"bot"},
	})
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   string `json:"expires_in"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	fmt.Println("token:", resp.Status, "expires in", tok.ExpiresIn)

	req, _ := http.NewRequest("POST", srv.APIURL+"/bots/2000001/users/user@example.com/messages",
		strings.NewReader(`{"content":{"type":"text","text":"hello"}}`))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, _ = http.DefaultClient.Do(req)
	resp.Body.Close()
	fmt.Println("send:", resp.Status)
	fmt.Printf("sent %s to %s\n", srv.Messages()[0].Body, srv.Messages()[0].UserID)
	// Output:
	// token: 200 OK expires in 86400
	// send: 201 Created
	// sent {"content":{"type":"text","text":"hello"}} to user@example.com
}

// A revoked or expired token is refused with 403 and code UNAUTHORIZED, which LINE
// WORKS's samples take as the sign to get a new token; an unknown one with 401.
func ExampleServer_SetNow() {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	srv, _ := lwfake.New(lwfake.App{ClientID: "my-client", ClientSecret: "my-secret",
		ServiceAccount: "abcde.serviceaccount@example.com", PublicKey: &key.PublicKey, Scopes: []string{"bot"}})
	srv.Start()
	defer srv.Close()
	resp, _ := http.PostForm(srv.AuthURL+"/token", url.Values{
		"assertion":  {assertion(key, "my-client", "abcde.serviceaccount@example.com")},
		"grant_type": {lwfake.GrantTypeJWTBearer}, "client_id": {"my-client"}, "client_secret": {"my-secret"},
		"scope": {"bot"},
	})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()

	call := func(token string) {
		req, _ := http.NewRequest("GET", srv.APIURL+"/users/me", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, _ := http.DefaultClient.Do(req)
		var body struct{ Code string }
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		fmt.Printf("%d code=%q\n", resp.StatusCode, body.Code)
	}
	call(tok.AccessToken)
	call("not-a-token")
	srv.SetNow(func() time.Time { return time.Now().Add(25 * time.Hour) }) // a day later
	call(tok.AccessToken)
	// Output:
	// 200 code=""
	// 401 code="UNAUTHORIZED"
	// 403 code="UNAUTHORIZED"
}

// assertion signs a JWT-bearer assertion for LINE WORKS, valid for ten minutes.
func assertion(key *rsa.PrivateKey, clientID, serviceAccount string) string {
	enc := base64.RawURLEncoding
	now := time.Now().Unix()
	claims := fmt.Sprintf(`{"iss":%q,"sub":%q,"iat":%d,"exp":%d}`, clientID, serviceAccount, now, now+600)
	signing := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(claims))
	digest := sha256.Sum256([]byte(signing))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	return signing + "." + enc.EncodeToString(sig)
}
