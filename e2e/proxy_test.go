//go:build unix

package e2e

import (
	"bufio"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lwtoken-helper/lwtoken-helper/internal/testkey"
	"github.com/lwtoken-helper/lwtoken-helper/lwfake"
)

// connectProxy is a real HTTP CONNECT proxy on loopback that counts the tunnels it opens
// and sends every one of them to target, whatever host was asked for (so a name like
// example.com, which Go does not exempt from proxying as it does loopback addresses,
// reaches the test's TLS endpoint).
type connectProxy struct {
	addr   string
	mu     sync.Mutex
	asked  []string
	target string
}

func startConnectProxy(t *testing.T, target string) *connectProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	p := &connectProxy{addr: l.Addr().String(), target: target}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *connectProxy) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	if req.Method != http.MethodConnect {
		io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
		return
	}
	p.mu.Lock()
	p.asked = append(p.asked, req.Host)
	p.mu.Unlock()
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	defer up.Close()
	io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	go func() { io.Copy(up, br); up.(*net.TCPConn).CloseWrite() }()
	io.Copy(c, up)
}

func (p *connectProxy) tunnels() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.asked...)
}

// The daemon and doctor reach the token endpoint through HTTPS_PROXY as given, and
// directly for hosts in NO_PROXY; nothing else is guessed.
func TestProxyFromEnvironment(t *testing.T) {
	x := newH(t)
	fake, err := lwfake.New(lwfake.App{ClientID: x.clientID, ClientSecret: x.secret,
		ServiceAccount: "bot.serviceaccount@example.com", PublicKey: &testkey.App().PublicKey, Scopes: []string{"bot", "user.read"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	tlsSrv := httptest.NewTLSServer(fake)
	t.Cleanup(tlsSrv.Close)
	certFile := filepath.Join(x.dir, "ca.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}), 0o644)
	_, port, _ := net.SplitHostPort(tlsSrv.Listener.Addr().String())
	authURL := "https://example.com:" + port + lwfake.AuthPath // in the test certificate's names
	proxy := startConnectProxy(t, tlsSrv.Listener.Addr().String())

	x.setup("--auth-url", authURL)
	env := []string{"HTTPS_PROXY=http://" + proxy.addr, "SSL_CERT_FILE=" + certFile}
	x.startDaemonEnv(env, nil)
	r := x.helper("get", "--profile", x.profile)
	if r.code != 0 || !fake.Valid(strings.TrimSpace(r.stdout)) {
		t.Fatalf("get through the proxy: exit %d\n%s%s\n%s", r.code, r.stdout, r.stderr, x.log())
	}
	tun := proxy.tunnels()
	if len(tun) != 1 || tun[0] != "example.com:"+port || fake.Issued() != 1 {
		t.Fatalf("tunnels %v, tokens issued %d: want one tunnel to example.com:%s and one token", tun, fake.Issued(), port)
	}

	// doctor probes the endpoint the way the daemon reaches it: through the proxy.
	r = x.runCmdIn(bin.daemon, "", env, "doctor")
	if !strings.Contains(r.stdout, "ok    endpoint  "+authURL+" answers") || len(proxy.tunnels()) != 2 {
		t.Fatalf("doctor through the proxy (tunnels %v):\n%s%s", proxy.tunnels(), r.stdout, r.stderr)
	}

	// NO_PROXY names the host: the daemon goes direct (and, here, cannot resolve it).
	x.stopDaemon()
	x.startDaemonEnv(append(env, "NO_PROXY=example.com", "LWTOKEN_HELPERD_UPSTREAM_TIMEOUT=5s"), nil)
	r = x.helper("get", "--profile", x.profile, "--scope", "bot") // another scope set: a new mint
	if r.code == 0 || len(proxy.tunnels()) != 2 {
		t.Fatalf("NO_PROXY=example.com: get exit %d, tunnels %v: the proxy was used\n%s", r.code, proxy.tunnels(), x.log())
	}
	t.Logf("NO_PROXY: direct, and failing as it must here: %s", strings.TrimSpace(r.stderr))
}
