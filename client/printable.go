package client

import (
	"reflect"
	"strings"
)

// printable returns s fit to print on a terminal: tab, newline, carriage return and the
// Unicode line separators become spaces; other control characters (C0, DEL, C1), bidi
// overrides and isolates (which reorder what a terminal shows) are dropped; invalid UTF-8
// bytes become U+FFFD. Every string the client hands out that came from the daemon has been
// through it, so a hostile or buggy daemon cannot move the cursor, retitle a window, set a
// clipboard or forge a line on the user's terminal.
func printable(s string) string {
	i := 0
	for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f {
		i++
	}
	if i == len(s) {
		return s // the common case: printable ASCII, no copy
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for _, r := range s[i:] { // an invalid byte comes out as utf8.RuneError (U+FFFD)
		switch {
		case r == '\t' || r == '\n' || r == '\r' || r == 0x2028 || r == 0x2029:
			b.WriteByte(' ')
		case r < 0x20 || (r >= 0x7f && r <= 0x9f), r == 0x061c, r == 0x200e, r == 0x200f,
			r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// scrub replaces every string reachable from v (through pointers, exported struct fields
// and slices) with its printable form. It is the one place where text from the daemon
// becomes fit to print: applied to every decoded reply, whatever its type.
func scrub(v any) { scrubValue(reflect.ValueOf(v)) }

func scrubValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			scrubValue(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if f := v.Field(i); f.CanSet() {
				scrubValue(f)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			scrubValue(v.Index(i))
		}
	case reflect.String:
		if s := v.String(); v.CanSet() && printable(s) != s {
			v.SetString(printable(s))
		}
	}
}
