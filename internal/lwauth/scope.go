package lwauth

import (
	"slices"
	"strings"
	"unicode"
)

// ParseScopes splits s on white space and commas, drops empty parts and duplicates,
// and returns the scopes sorted. It returns nil when s holds no scope.
func ParseScopes(s string) []string {
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	if len(parts) == 0 {
		return nil
	}
	slices.Sort(parts)
	return slices.Compact(parts)
}

// CanonicalScope returns scopes sorted, deduplicated and joined by single spaces: the
// form sent to LINE WORKS and a stable cache key. Elements that themselves hold
// separators are split first, so CanonicalScope is idempotent. It returns "" for no scope.
func CanonicalScope(scopes []string) string {
	return strings.Join(ParseScopes(strings.Join(scopes, " ")), " ")
}
