package wire

// MaxAccessTokenBytes bounds the length of an access token anyone accepts.
const MaxAccessTokenBytes = 8 << 10

// ValidAccessToken reports whether s may be used as an access token: 1 to
// MaxAccessTokenBytes characters of RFC 6750's b64token (token68: letters, digits and
// "-._~+/", then only "=" padding). Anything else (CR, LF, NUL, ESC, space, quotes, non-ASCII)
// could inject a header line into `Authorization: Bearer TOKEN`, a terminal escape or a
// shell word, so it is refused wherever a token enters: the token endpoint's answer, a
// stored copy read back, and a client reading the daemon's reply.
func ValidAccessToken(s string) bool {
	if len(s) == 0 || len(s) > MaxAccessTokenBytes {
		return false
	}
	pad := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '=':
			pad = i > 0
			if !pad {
				return false
			}
		case pad:
			return false
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}
