package lwfake

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
)

// maxMessageBytes bounds the body of a bot message send the fake reads.
const maxMessageBytes = 1 << 20

// Message is a bot message the resource API accepted (see Server.ServeHTTP).
type Message struct {
	BotID     string
	UserID    string // the user it was sent to, for POST .../bots/BOT/users/USER/messages
	ChannelID string // the channel it was sent to, for POST .../bots/BOT/channels/CHANNEL/messages
	Body      []byte // the JSON request body, e.g. {"content":{"type":"text","text":"hi"}}
}

// Messages returns the bot messages the resource API accepted, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	for i, m := range s.messages {
		m.Body = slices.Clone(m.Body)
		out[i] = m
	}
	return out
}

// serveAPI is the resource API stand-in; see ServeHTTP for what it answers.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	s.apiRequests.Add(1)
	if f, ok := s.take(&s.apiFail); ok {
		s.fail(w, r, f, func(status int, code, desc string) { s.apiError(w, r, status, strings.ToUpper(code), desc) })
		return
	}
	g, status, reason := s.bearer(r)
	if g == nil {
		s.apiError(w, r, status, "UNAUTHORIZED", reason)
		return
	}
	msg, isSend := messageRoute(r)
	if !isSend {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
		s.emit(Event{Method: r.Method, Path: r.URL.Path, Status: http.StatusOK})
		return
	}
	if !slices.Contains(g.scopes, "bot") && !slices.Contains(g.scopes, "bot.message") {
		s.apiError(w, r, http.StatusForbidden, "FORBIDDEN", "sending a bot message needs scope bot or bot.message")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxMessageBytes))
	var obj map[string]json.RawMessage
	if err != nil || json.Unmarshal(body, &obj) != nil {
		// The code of this answer is uncertain; the status is what matters to a client.
		s.apiError(w, r, http.StatusBadRequest, "INVALID_PARAMETER", "the message body is not a JSON object")
		return
	}
	msg.Body = body
	s.mu.Lock()
	s.messages = append(s.messages, msg)
	s.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
	s.emit(Event{Method: r.Method, Path: r.URL.Path, Status: http.StatusCreated})
}

// bearer returns the grant of the request's bearer token, or nil with the status and
// reason of the refusal: 401 for a missing or unknown token, 403 for a revoked or expired
// one.
func (s *Server) bearer(r *http.Request) (*grant, int, string) {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return nil, http.StatusUnauthorized, "the access token is missing"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.access[tok]
	switch {
	case !ok:
		return nil, http.StatusUnauthorized, "the access token is invalid"
	case g.revoked:
		return nil, http.StatusForbidden, "the access token is revoked"
	case !s.now().Before(g.expiry):
		return nil, http.StatusForbidden, "the access token is expired"
	}
	c := *g
	return &c, 0, ""
}

// messageRoute reports whether r is a bot message send and, if so, its addressee.
func messageRoute(r *http.Request) (Message, bool) {
	if r.Method != http.MethodPost {
		return Message{}, false
	}
	seg := strings.Split(strings.TrimPrefix(r.URL.Path, APIPath+"/"), "/")
	if len(seg) != 5 || seg[0] != "bots" || seg[1] == "" || seg[3] == "" || seg[4] != "messages" {
		return Message{}, false
	}
	switch seg[2] {
	case "users":
		return Message{BotID: seg[1], UserID: seg[3]}, true
	case "channels":
		return Message{BotID: seg[1], ChannelID: seg[3]}, true
	}
	return Message{}, false
}

// apiError answers an error of the resource API, {"code":"...","description":"..."},
// and records it.
func (s *Server) apiError(w http.ResponseWriter, r *http.Request, status int, code, description string) {
	s.noteError(r, status, code, description)
	writeJSON(w, status, map[string]any{"code": code, "description": description})
	s.emit(Event{Method: r.Method, Path: r.URL.Path, Status: status, Code: code, Reason: description})
}
