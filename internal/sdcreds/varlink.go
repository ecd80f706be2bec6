package sdcreds

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// CredentialsSocket is systemd's Varlink service for credentials (systemd-creds' own
// backend). From systemd 256 it serves unprivileged callers in the user scope.
const CredentialsSocket = "/run/systemd/io.systemd.Credentials"

// maxVarlinkReply bounds what is read of one reply: credentials are at most 1 MiB in
// systemd, and ours are a few KiB.
const maxVarlinkReply = 4 << 20

// Errors of the user-scope client (wrapped; test with errors.Is).
var (
	// ErrNoUserScope: no io.systemd.Credentials socket, or one without the user scope
	// (systemd < 256).
	ErrNoUserScope = errors.New("no user-scoped systemd credentials here (needs systemd 256 or later)")
	// ErrBadCredential: the blob is not a credential this user can decrypt here (another
	// user's, another machine's, a changed host key, a wrong name).
	ErrBadCredential = errors.New("credential does not decrypt for this user on this machine")
)

// UserClient talks to io.systemd.Credentials in the user scope: what it encrypts only the
// same uid on the same machine can decrypt. The zero value uses CredentialsSocket.
type UserClient struct {
	Socket  string        // "" : CredentialsSocket
	Timeout time.Duration // per call; 0: 10 s
}

// Encrypt seals data under name for the calling user and returns the blob.
func (c UserClient) Encrypt(ctx context.Context, name string, data []byte) ([]byte, error) {
	var out struct {
		Blob string `json:"blob"`
	}
	in := map[string]any{"name": name, "data": base64.StdEncoding.EncodeToString(data), "scope": "user"}
	if err := classify(c.call(ctx, "io.systemd.Credentials.Encrypt", in, &out), false); err != nil {
		return nil, fmt.Errorf("sdcreds: encrypt %s: %w", name, err)
	}
	return []byte(out.Blob), nil
}

// Decrypt opens a blob sealed by Encrypt for name. The plaintext is returned as a fresh
// slice the caller may clear.
func (c UserClient) Decrypt(ctx context.Context, name string, blob []byte) ([]byte, error) {
	var out struct {
		Data string `json:"data"`
	}
	in := map[string]any{"name": name, "blob": string(bytes.TrimSpace(blob)), "scope": "user"}
	if err := classify(c.call(ctx, "io.systemd.Credentials.Decrypt", in, &out), true); err != nil {
		return nil, fmt.Errorf("sdcreds: decrypt %s: %w", name, err)
	}
	b, err := base64.StdEncoding.DecodeString(out.Data)
	if err != nil {
		return nil, fmt.Errorf("sdcreds: decrypt %s: reply data is not base64", name)
	}
	return b, nil
}

// Available reports whether the user scope answers here, with a harmless call (an
// encryption of nothing under a probe name); the error says why not.
func (c UserClient) Available(ctx context.Context) error {
	_, err := c.Encrypt(ctx, "lwtoken-helper-probe", nil)
	return err
}

// varlinkError is an error reply.
type varlinkError struct {
	name, param, desc string
}

func (e *varlinkError) Error() string {
	if e.desc != "" {
		return e.name + ": " + e.desc
	}
	return e.name
}

// call sends one Varlink call (a JSON object terminated by NUL) and reads one reply.
func (c UserClient) call(ctx context.Context, method string, params, out any) error {
	sock := c.Socket
	if sock == "" {
		sock = CredentialsSocket
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoUserScope, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	req, err := json.Marshal(map[string]any{"method": method, "parameters": params})
	if err != nil {
		return err
	}
	if _, err := conn.Write(append(req, 0)); err != nil {
		return fmt.Errorf("varlink: send: %w", err)
	}
	clear(req) // it held the plaintext on Encrypt
	r := bufio.NewReader(io.LimitReader(conn, maxVarlinkReply))
	msg, err := r.ReadBytes(0)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("varlink: reply: no NUL-terminated answer within %d bytes or before the connection closed", maxVarlinkReply)
		}
		return fmt.Errorf("varlink: reply: %w", err)
	}
	msg = msg[:len(msg)-1]
	var reply struct {
		Error      string          `json:"error"`
		Parameters json.RawMessage `json:"parameters"`
	}
	if err := json.Unmarshal(msg, &reply); err != nil {
		return fmt.Errorf("varlink: reply is not JSON: %w", err)
	}
	if reply.Error != "" {
		var p struct {
			Parameter   string `json:"parameter"`
			Description string `json:"description"`
		}
		json.Unmarshal(reply.Parameters, &p)
		e := &varlinkError{name: reply.Error, param: p.Parameter, desc: p.Description}
		if p.Parameter != "" && e.desc == "" {
			e.desc = "parameter " + p.Parameter
		}
		return e
	}
	if len(reply.Parameters) == 0 {
		return errors.New("varlink: reply has no parameters")
	}
	if err := json.Unmarshal(reply.Parameters, out); err != nil {
		return fmt.Errorf("varlink: reply parameters: %w", err)
	}
	clear(msg) // it held the plaintext on Decrypt
	return nil
}

// classify turns a Varlink error reply into one of this package's errors where one fits.
// A refusal of an encryption means no user scope for this caller; of a decryption, a blob
// this user cannot open here.
func classify(err error, decrypting bool) error {
	var e *varlinkError
	if !errors.As(err, &e) {
		return err
	}
	switch e.name {
	case "org.varlink.service.MethodNotFound", "org.varlink.service.InterfaceNotFound", "io.systemd.Credentials.BadScope":
		return fmt.Errorf("%w (%w)", ErrNoUserScope, e)
	case "org.varlink.service.InvalidParameter":
		if e.param == "scope" {
			return fmt.Errorf("%w (%w)", ErrNoUserScope, e)
		}
	case "io.systemd.Credentials.BadFormat", "io.systemd.Credentials.NameMismatch",
		"io.systemd.Credentials.TimeMismatch", "io.systemd.Credentials.NoSuchUser",
		"org.varlink.service.PermissionDenied":
		if decrypting {
			return fmt.Errorf("%w (%w)", ErrBadCredential, e)
		}
		return fmt.Errorf("%w (%w)", ErrNoUserScope, e)
	}
	return e
}

// ErrorName returns the Varlink error name inside err (e.g.
// "io.systemd.Credentials.BadFormat"), or "" when there is none.
func ErrorName(err error) string {
	var e *varlinkError
	if errors.As(err, &e) {
		return e.name
	}
	return ""
}
