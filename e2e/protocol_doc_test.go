//go:build unix

package e2e

// docs/protocol.md's examples, executed: every ```console block of the document runs, in
// order, against the real daemon (lwtoken-helperd run, the fake LINE WORKS endpoint, a real
// Secret Service), and each command's output must have the shape the document shows.

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

const protocolDoc = "../docs/protocol.md"

// docCommand is one "$ command" of a console block and the lines shown after it.
type docCommand struct {
	line int // in the document
	cmd  string
	want []string
}

// consoleBlocks parses the ```console blocks of a Markdown document: lines starting with
// "$ " are commands (a trailing backslash continues one on the next line); the lines up to
// the next command are what it prints, stdout and stderr together.
func consoleBlocks(t *testing.T, path string) [][]docCommand {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks [][]docCommand
	var block []docCommand
	in, cont := false, false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case !in && line == "```console":
			in, block = true, nil
		case !in:
		case line == "```":
			if len(block) == 0 {
				t.Fatalf("%s:%d: a console block with no command", path, n)
			}
			blocks, in = append(blocks, block), false
		case cont:
			c := &block[len(block)-1]
			c.cmd += "\n" + line
			cont = strings.HasSuffix(line, `\`)
		case strings.HasPrefix(line, "$ "):
			block = append(block, docCommand{line: n, cmd: line[2:]})
			cont = strings.HasSuffix(line, `\`)
		case len(block) == 0:
			t.Fatalf("%s:%d: output before the first command of a console block", path, n)
		default:
			c := &block[len(block)-1]
			c.want = append(c.want, line)
		}
	}
	if in {
		t.Fatalf("%s: an unclosed console block", path)
	}
	return blocks
}

// runBlock runs the commands of one block in one bash (so that a variable set by one is
// seen by the next) and returns what each printed, and its exit status.
func (x *h) runBlock(block []docCommand) (outs [][]string, codes []int) {
	x.t.Helper()
	nonce := make([]byte, 8)
	rand.Read(nonce)
	mark := "@@" + hex.EncodeToString(nonce)
	var script strings.Builder
	script.WriteString("exec 2>&1\n")
	for _, c := range block {
		fmt.Fprintf(&script, "echo %s-begin\n%s\necho %s-end $?\n", mark, c.cmd, mark)
	}
	r := x.run("", nil, "bash", "-c", script.String())
	var cur []string
	for _, line := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
		switch {
		case line == mark+"-begin":
			cur = []string{}
		case strings.HasPrefix(line, mark+"-end "):
			var code int
			fmt.Sscanf(strings.TrimPrefix(line, mark+"-end "), "%d", &code)
			outs, codes = append(outs, cur), append(codes, code)
		default:
			cur = append(cur, strings.TrimSuffix(line, "\r"))
		}
	}
	if len(outs) != len(block) {
		x.t.Fatalf("the block at line %d ran %d of %d commands (exit %d):\n%s", block[0].line, len(outs), len(block), r.code, r.stdout)
	}
	return outs, codes
}

func TestProtocolDocExamples(t *testing.T) {
	for _, tool := range []string{"curl", "jq", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (scripts/test.sh installs it): the protocol's examples cannot run", tool)
		}
	}
	x := newH(t)
	x.profile = "default" // the name the document shows
	x.setup("--default")
	x.startDaemon()
	blocks := consoleBlocks(t, protocolDoc)
	if len(blocks) < 5 {
		t.Fatalf("%s has %d console blocks", protocolDoc, len(blocks))
	}
	for _, block := range blocks {
		outs, codes := x.runBlock(block)
		for i, c := range block {
			if codes[i] != 0 {
				t.Errorf("%s:%d: `%s` exited %d (show a failing command's status with `; echo \"exit $?\"`):\n%s",
					protocolDoc, c.line, c.cmd, codes[i], strings.Join(outs[i], "\n"))
				continue
			}
			if diff := compareOutput(c.want, outs[i]); diff != "" {
				t.Errorf("%s:%d: `%s`: %s\n--- the document shows:\n%s\n--- it printed:\n%s", protocolDoc, c.line, c.cmd, diff,
					strings.Join(c.want, "\n"), strings.Join(outs[i], "\n"))
			}
		}
	}
}

// exactKeys are the JSON keys whose values must be what the document shows; the values of
// the others (tokens, times, paths, counters) change from run to run, and only their JSON
// kind is compared.
var exactKeys = map[string]bool{"code": true, "error": true, "state": true, "health": true, "token_type": true,
	"scope": true, "profile": true, "name": true, "default_profile": true, "default": true, "ok": true, "version": true,
	"keyring": true, "scopes": true, "profiles": true, "revoked": true, "skipped": true, "last_error_code": true}

// compareOutput compares what a command printed with what the document shows, item by
// item: a JSON value (on one line or pretty-printed over several) must have the same keys,
// kinds and exactKeys values; an HTTP status line and headers (curl -i) must match but for
// the values of Date and Content-Length; any other line must match exactly, where "..."
// in the document stands for any text.
func compareOutput(want, got []string) string {
	wi, gi := docItems(want), docItems(got)
	if len(wi) != len(gi) {
		return fmt.Sprintf("%d lines or JSON values, the document shows %d", len(gi), len(wi))
	}
	inHeaders := false
	for i := range wi {
		w, g := wi[i], gi[i]
		switch {
		case strings.HasPrefix(w, "HTTP/1.1 "):
			inHeaders = true
			if w != g {
				return fmt.Sprintf("status line %q, the document shows %q", g, w)
			}
		case inHeaders && w == "":
			inHeaders = false
			if g != "" {
				return fmt.Sprintf("header %q where the document ends the headers", g)
			}
		case inHeaders:
			wk, wv, _ := strings.Cut(w, ": ")
			gk, gv, _ := strings.Cut(g, ": ")
			if wk != gk || (wv != gv && wk != "Date" && wk != "Content-Length") {
				return fmt.Sprintf("header %q, the document shows %q", g, w)
			}
		case isJSON(w):
			var wv, gv any
			json.Unmarshal([]byte(w), &wv)
			if err := json.Unmarshal([]byte(g), &gv); err != nil {
				return fmt.Sprintf("%q is not JSON", g)
			}
			if d := jsonShape("", wv, gv); d != "" {
				return d
			}
		default:
			re := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(w), regexp.QuoteMeta("..."), ".*") + "$")
			if !re.MatchString(g) {
				return fmt.Sprintf("line %q, the document shows %q", g, w)
			}
		}
	}
	return ""
}

func isJSON(s string) bool {
	return (strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[")) && json.Valid([]byte(s))
}

// docItems joins the lines of a pretty-printed JSON value into one item.
func docItems(lines []string) []string {
	var out []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l == "{" || l == "[" {
			for j := i + 1; j < len(lines); j++ {
				if joined := strings.Join(lines[i:j+1], "\n"); json.Valid([]byte(joined)) {
					l, i = joined, j
					break
				}
			}
		}
		out = append(out, l)
	}
	return out
}

// jsonShape compares got with want: the same keys, the same kinds, the same values under
// exactKeys (and in arrays of them).
func jsonShape(path string, want, got any) string {
	if reflect.TypeOf(want) != reflect.TypeOf(got) {
		return fmt.Sprintf("%s is %s, the document shows %s", orRoot(path), kind(got), kind(want))
	}
	key := path[strings.LastIndex(path, ".")+1:]
	if i := strings.Index(key, "["); i >= 0 {
		key = key[:i]
	}
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		wk, gk := keys(w), keys(g)
		if !slices.Equal(wk, gk) {
			return fmt.Sprintf("%s has keys %v, the document shows %v", orRoot(path), gk, wk)
		}
		for _, k := range wk {
			if d := jsonShape(path+"."+k, w[k], g[k]); d != "" {
				return d
			}
		}
	case []any:
		g := got.([]any)
		if len(w) != len(g) {
			return fmt.Sprintf("%s has %d elements, the document shows %d", orRoot(path), len(g), len(w))
		}
		for i := range w {
			if d := jsonShape(fmt.Sprintf("%s[%d]", path, i), w[i], g[i]); d != "" {
				return d
			}
		}
	default:
		if exactKeys[key] && !reflect.DeepEqual(want, got) {
			return fmt.Sprintf("%s is %v, the document shows %v", orRoot(path), got, want)
		}
	}
	return ""
}

func keys(m map[string]any) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

func orRoot(path string) string {
	if path == "" {
		return "the value"
	}
	return strings.TrimPrefix(path, ".")
}
