package daemoncli

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Proxy settings of the installed services: given by the admin (`install --https-proxy URL
// --no-proxy LIST`), written into the unit as HTTPS_PROXY and NO_PROXY, and used by the
// daemon's HTTP client through Go's standard ProxyFromEnvironment (lwauth's default client
// has no Transport of its own). Nothing is guessed from the installing shell.

var noProxyList = regexp.MustCompile(`^[A-Za-z0-9.,:/*_\[\]-]+$`)

// checkProxy validates an --https-proxy URL and a --no-proxy list for a unit file; "" is
// fine for either. A proxy URL with a user name or password is refused: unit files are
// readable by every local user.
func checkProxy(httpsProxy, noProxy string) error {
	if httpsProxy != "" {
		u, err := url.Parse(httpsProxy)
		switch {
		case err != nil:
			return fmt.Errorf("--https-proxy: %v", err)
		case u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5" && u.Scheme != "socks5h":
			return fmt.Errorf("--https-proxy %q: use an http://, https:// or socks5:// url", httpsProxy)
		case u.Host == "":
			return fmt.Errorf("--https-proxy %q has no host", httpsProxy)
		case u.User != nil:
			return fmt.Errorf("--https-proxy: a user name or password in the url would be readable by every local user in the unit file")
		}
		if why := unsafeInUnit(httpsProxy); why != "" || strings.ContainsAny(httpsProxy, " {}") {
			return fmt.Errorf("--https-proxy %q holds characters a unit file cannot carry safely", httpsProxy)
		}
	}
	if noProxy != "" && !noProxyList.MatchString(noProxy) {
		return fmt.Errorf("--no-proxy %q: use a comma-separated list of host names, domains (.example.com), addresses or CIDR ranges", noProxy)
	}
	return nil
}
