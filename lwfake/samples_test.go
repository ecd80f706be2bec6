package lwfake

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lwtoken-helper/lwtoken-helper/internal/testkey"
)

// The official samples of LINE WORKS (github.com/lineworks/works-api-code-samples) work
// against the real service, so they must work against the fake. Each test below sends,
// byte for byte, the HTTP requests one sample's libraries put on the wire (token request,
// then a bot message send, then the renewal the sample does when the API answers 403
// with code UNAUTHORIZED), with the sample's values replaced by the test's app. No code
// of the samples is copied; each test says which file it reproduces and how.

// sample is one sample's way of talking to LINE WORKS.
type sample struct {
	// tokenHeaders are the request headers of the token request, in order, after
	// Host (Content-Length is added).
	tokenHeaders []string
	// assertion returns the JWT the sample signs when its clock reads now.
	assertion func(now time.Time) string
	// form is the token request body around the assertion.
	form func(assertion string) string
	// sendHeaders and sendBody are the bot message send (Authorization is added).
	sendHeaders []string
	sendBody    string
}

// Python: samples/python/bot-echo-fastapi/lineworks.py. PyJWT's jwt.encode with
// algorithm RS256 (sorted, compact header; compact payload in the dict's order) over
// iat = datetime.now().timestamp(), a float with microseconds, and exp = iat + 3600;
// requests.post(data=dict) form-encodes with quote_plus in the dict's order, and the
// sample passes grant_type already through urllib.parse.quote, so it is encoded twice.
// The message body is json.dumps(content), with its default ", " and ": " separators.
var pythonSample = sample{
	tokenHeaders: []string{"User-Agent: python-requests/2.32.3", "Accept-Encoding: gzip, deflate", "Accept: */*",
		"Connection: keep-alive", "Content-Type: application/x-www-form-urlencoded"},
	assertion: func(now time.Time) string {
		iat := float64(now.UnixMicro()) / 1e6
		return sign(testkey.App(), `{"alg":"RS256","typ":"JWT"}`,
			fmt.Sprintf(`{"iss":%q,"sub":%q,"iat":%s,"exp":%s}`, clientID, serviceAccount, pyFloat(iat), pyFloat(iat+3600)),
			base64.RawURLEncoding)
	},
	form: func(assertion string) string {
		return "assertion=" + url.QueryEscape(assertion) +
			"&grant_type=urn%253Aietf%253Aparams%253Aoauth%253Agrant-type%253Ajwt-bearer" +
			"&client_id=" + url.QueryEscape(clientID) + "&client_secret=" + url.QueryEscape(clientSecret) + "&scope=bot"
	},
	sendHeaders: []string{"User-Agent: python-requests/2.32.3", "Accept-Encoding: gzip, deflate", "Accept: */*",
		"Connection: keep-alive", "Content-Type: application/json"},
	sendBody: `{"content": {"type": "text", "text": "hi"}}`,
}

// Node.js: samples/nodejs/bot-echo-express/lineworks.js. jsonwebtoken's jwt.sign with
// algorithm RS256 keeps the payload's own iat = Date.now() / 1000, a float with
// milliseconds, and exp = iat + 3600 (JSON.stringify in insertion order); axios posts
// the URLSearchParams, which encode ':' as %3A and add ";charset=utf-8" to the type.
// The message body is JSON.stringify(content).
var nodeSample = sample{
	tokenHeaders: []string{"Accept: application/json, text/plain, */*",
		"Content-Type: application/x-www-form-urlencoded;charset=utf-8", "User-Agent: axios/1.7.7",
		"Accept-Encoding: gzip, compress, deflate, br", "Connection: keep-alive"},
	assertion: func(now time.Time) string {
		iat := float64(now.UnixMilli()) / 1e3
		return sign(testkey.App(), `{"alg":"RS256","typ":"JWT"}`,
			fmt.Sprintf(`{"iss":%q,"sub":%q,"iat":%s,"exp":%s}`, clientID, serviceAccount, pyFloat(iat), pyFloat(iat+3600)),
			base64.RawURLEncoding)
	},
	form: func(assertion string) string {
		return "assertion=" + url.QueryEscape(assertion) +
			"&grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer" +
			"&client_id=" + url.QueryEscape(clientID) + "&client_secret=" + url.QueryEscape(clientSecret) + "&scope=bot"
	},
	sendHeaders: []string{"Accept: application/json, text/plain, */*", "Content-Type: application/json",
		"User-Agent: axios/1.7.7", "Accept-Encoding: gzip, compress, deflate, br", "Connection: keep-alive"},
	sendBody: `{"content":{"type":"text","text":"hi"}}`,
}

// Java: samples/java/bot-echo-spring-boot/src/main/java/com/example/echobot/worksapi/WorksApi.java.
// auth0 java-jwt writes iat and exp as whole seconds; the sample adds 60 * 60
// milliseconds, not seconds, so exp is iat + 3 s (a short lifetime LINE WORKS accepts).
// OkHttp's FormBody sends the plain type and encodes ':' as %3A; the message is sent as
// application/json; charset=utf-8 (Jackson's compact JSON).
var javaSample = sample{
	tokenHeaders: []string{"Content-Type: application/x-www-form-urlencoded", "Connection: Keep-Alive",
		"Accept-Encoding: gzip", "User-Agent: okhttp/4.12.0"},
	assertion: func(now time.Time) string {
		ms := now.UnixMilli()
		return sign(testkey.App(), `{"typ":"JWT","alg":"RS256"}`,
			fmt.Sprintf(`{"sub":%q,"iss":%q,"exp":%d,"iat":%d}`, serviceAccount, clientID, (ms+60*60)/1000, ms/1000),
			base64.RawURLEncoding)
	},
	form: func(assertion string) string {
		return "assertion=" + url.QueryEscape(assertion) +
			"&grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer" +
			"&client_id=" + url.QueryEscape(clientID) + "&client_secret=" + url.QueryEscape(clientSecret) + "&scope=bot"
	},
	sendHeaders: []string{"Content-Type: application/json; charset=utf-8", "Connection: Keep-Alive",
		"Accept-Encoding: gzip", "User-Agent: okhttp/4.12.0"},
	sendBody: `{"content":{"type":"text","text":"hi"}}`,
}

// pyFloat formats f as Python's repr and JavaScript's String do for these magnitudes:
// the shortest decimal that reads back as f, with at least one digit after the point.
func pyFloat(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// raw sends one HTTP/1.1 request, exactly these bytes, on a new connection and reads
// the answer.
func raw(t *testing.T, s *Server, method, path string, headers []string, body string) (*http.Response, string) {
	t.Helper()
	host := strings.TrimPrefix(s.URL, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, host)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(reply)
}

func TestOfficialSamples(t *testing.T) {
	for _, tt := range []struct {
		name string
		sample
	}{{"python", pythonSample}, {"node", nodeSample}, {"java", javaSample}} {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := newTestServer(t)
			// The samples' clocks read a fraction of a second past t0, as a real clock does.
			clk.Add(123456789 * time.Nanosecond)
			token := func() string {
				t.Helper()
				resp, reply := raw(t, s, "POST", "/oauth2/v2.0/token", tt.tokenHeaders, tt.form(tt.assertion(clk.Now())))
				var body struct {
					AccessToken string `json:"access_token"`
				}
				if resp.StatusCode != 200 || json.Unmarshal([]byte(reply), &body) != nil || body.AccessToken == "" {
					t.Fatalf("token request: %d %s (fake: %s)", resp.StatusCode, reply, s.LastError())
				}
				return body.AccessToken
			}
			send := func(tok string) (int, string) {
				t.Helper()
				resp, reply := raw(t, s, "POST", "/v1.0/bots/2000001/users/u1@example.com/messages",
					append(tt.sendHeaders, "Authorization: Bearer "+tok), tt.sendBody)
				return resp.StatusCode, reply
			}

			tok := token()
			// The samples treat any 2xx as sent; an SDK that wants 201 gets it.
			if status, reply := send(tok); status != 201 || reply != "" {
				t.Fatalf("message send: %d %q, want 201 and no body", status, reply)
			}
			// A day later the token has expired: the API answers 403 UNAUTHORIZED, which is
			// what each sample looks for before it gets a new token and sends again.
			clk.Add(24 * time.Hour)
			status, reply := send(tok)
			var refusal struct{ Code string }
			if status != 403 || json.Unmarshal([]byte(reply), &refusal) != nil || refusal.Code != "UNAUTHORIZED" {
				t.Fatalf("message send with an expired token: %d %s, want 403 with code UNAUTHORIZED", status, reply)
			}
			if status, reply := send(token()); status != 201 {
				t.Fatalf("message send after renewal: %d %s", status, reply)
			}
			if got := s.Messages(); len(got) != 2 || string(got[1].Body) != tt.sendBody || got[1].UserID != "u1@example.com" {
				t.Errorf("Messages = %q", got)
			}
			if s.Issued() != 2 || s.TokenRequests() != 2 {
				t.Errorf("Issued %d, TokenRequests %d", s.Issued(), s.TokenRequests())
			}
		})
	}
}

// The fake stays as strict as LINE WORKS where the samples' shapes meet a real mistake:
// the same requests with the assertion in padded standard base64, signed with another
// key, or living longer than 3600 s are refused.
func TestOfficialSampleShapesStillRefuseMistakes(t *testing.T) {
	s, clk := newTestServer(t)
	clk.Add(123456 * time.Microsecond)
	iat := float64(clk.Now().UnixMicro()) / 1e6
	claims := fmt.Sprintf(`{"iss":%q,"sub":%q,"iat":%s,"exp":%s}`, clientID, serviceAccount, pyFloat(iat), pyFloat(iat+3600))
	tests := []struct {
		name, assertion, reason string
	}{
		{"padded standard base64", sign(testkey.App(), goodHeader, claims, base64.StdEncoding), "base64"},
		{"wrong key", sign(testkey.Other(), goodHeader, claims, base64.RawURLEncoding), "signature does not verify"},
		{"lifetime over 3600 s", sign(testkey.App(), goodHeader,
			fmt.Sprintf(`{"iss":%q,"sub":%q,"iat":%s,"exp":%s}`, clientID, serviceAccount, pyFloat(iat), pyFloat(iat+3601)),
			base64.RawURLEncoding), "more than 3600 s"},
	}
	for _, tt := range tests {
		resp, reply := raw(t, s, "POST", "/oauth2/v2.0/token", pythonSample.tokenHeaders, pythonSample.form(tt.assertion))
		if resp.StatusCode != 400 || !strings.Contains(reply, "invalid_grant") || !strings.Contains(s.LastError(), tt.reason) {
			t.Errorf("%s: %d %s (fake: %s)", tt.name, resp.StatusCode, reply, s.LastError())
		}
	}
	if s.Issued() != 0 {
		t.Errorf("Issued = %d", s.Issued())
	}
}
