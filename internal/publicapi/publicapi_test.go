// Package publicapi checks the module's public surface from the outside: a program in
// another module can name every type that an exported identifier of a public package
// (any package of this module not under internal/, not a command) uses, and `go doc`
// of a public package does not send the reader to an internal one.
package publicapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/importer"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/lwtoken-helper/lwtoken-helper"

type listed struct {
	ImportPath string
	Name       string
	Export     string
	GoFiles    []string
	Imports    []string
	Standard   bool
}

// load lists every package of the module and its dependencies with export data.
func load(t *testing.T) (pkgs map[string]*listed, public []string) {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-export", "-deps", "-json", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	pkgs = map[string]*listed{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = &p
		if isOurs(p.ImportPath) && !isInternal(p.ImportPath) && p.Name != "main" && len(p.GoFiles) > 0 {
			public = append(public, p.ImportPath)
		}
	}
	slices.Sort(public)
	return pkgs, public
}

func isOurs(path string) bool { return path == module || strings.HasPrefix(path, module+"/") }

func isInternal(path string) bool {
	return strings.HasSuffix(path, "/internal") || strings.Contains(path, "/internal/")
}

// TestPublicAPIMentionsNoInternalType walks the type of every exported identifier of each
// public package: functions and methods (parameters and results), exported struct fields
// (promoted ones too), interface methods, variables and constants. Any named type from an
// internal package on the way is an error.
func TestPublicAPIMentionsNoInternalType(t *testing.T) {
	pkgs, public := load(t)
	if !slices.Contains(public, module+"/client") || !slices.Contains(public, module+"/client/lwhttp") {
		t.Fatalf("public packages %v: the client packages are missing", public)
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		p := pkgs[path]
		if p == nil || p.Export == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(p.Export)
	})
	for _, path := range public {
		pkg, err := imp.Import(path)
		if err != nil {
			t.Fatalf("import %s: %v", path, err)
		}
		for _, bad := range internalMentions(pkg) {
			t.Error(bad)
		}
	}
	t.Logf("checked %s", strings.Join(public, ", "))
}

// internalMentions lists "identifier: internal type" for each exported identifier of pkg
// that mentions a type of an internal package.
func internalMentions(pkg *types.Package) []string {
	var out []string
	check := func(where string, typ types.Type) {
		w := walker{pkg: pkg, seen: map[types.Type]bool{}}
		w.walk(typ)
		for _, n := range w.found {
			out = append(out, fmt.Sprintf("%s.%s mentions %s", pkg.Name(), where, n))
		}
	}
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if !obj.Exported() {
			continue
		}
		switch obj := obj.(type) {
		case *types.TypeName:
			check(name, obj.Type().Underlying())
			if named, ok := obj.Type().(*types.Named); ok {
				mset := types.NewMethodSet(types.NewPointer(named))
				for i := range mset.Len() {
					if m := mset.At(i).Obj(); m.Exported() {
						check(name+"."+m.Name(), m.Type())
					}
				}
			}
		default:
			check(name, obj.Type())
		}
	}
	return out
}

type walker struct {
	pkg   *types.Package
	seen  map[types.Type]bool
	found []string
}

func (w *walker) walk(t types.Type) {
	if t == nil || w.seen[t] {
		return
	}
	w.seen[t] = true
	switch t := t.(type) {
	case *types.Named:
		if p := t.Obj().Pkg(); p != nil && isInternal(p.Path()) {
			w.found = append(w.found, p.Path()+"."+t.Obj().Name())
			return
		}
		if args := t.TypeArgs(); args != nil {
			for i := range args.Len() {
				w.walk(args.At(i))
			}
		}
		// An unexported type of the package itself can still show its exported fields and
		// methods; exported and foreign types are checked on their own or are not ours.
		if p := t.Obj().Pkg(); p == w.pkg && !t.Obj().Exported() {
			w.walk(t.Underlying())
			mset := types.NewMethodSet(types.NewPointer(t))
			for i := range mset.Len() {
				if m := mset.At(i).Obj(); m.Exported() {
					w.walk(m.Type())
				}
			}
		}
	case *types.Alias:
		w.walk(types.Unalias(t))
	case *types.Pointer:
		w.walk(t.Elem())
	case *types.Slice:
		w.walk(t.Elem())
	case *types.Array:
		w.walk(t.Elem())
	case *types.Chan:
		w.walk(t.Elem())
	case *types.Map:
		w.walk(t.Key())
		w.walk(t.Elem())
	case *types.Signature:
		w.walk(t.Params())
		w.walk(t.Results())
	case *types.Tuple:
		for i := range t.Len() {
			w.walk(t.At(i).Type())
		}
	case *types.Struct:
		for i := range t.NumFields() {
			if f := t.Field(i); f.Exported() || f.Embedded() {
				w.walk(f.Type())
			}
		}
	case *types.Interface:
		for i := range t.NumMethods() {
			w.walk(t.Method(i).Type())
		}
	case *types.Basic, *types.TypeParam:
	default:
		w.found = append(w.found, fmt.Sprintf("an unchecked kind of type %T (extend the walker)", t))
	}
}

// TestPublicDocsNameNoInternalPackage reads `go doc -all` of each public package, as
// pkg.go.dev shows it, and fails where it names an identifier of an internal package
// the package imports ("wire.PathToken", a constant's value or a doc comment): a reader
// cannot follow it.
func TestPublicDocsNameNoInternalPackage(t *testing.T) {
	pkgs, public := load(t)
	for _, path := range public {
		var names []string
		for _, imp := range pkgs[path].Imports {
			if isInternal(imp) && pkgs[imp] != nil {
				names = append(names, regexp.QuoteMeta(pkgs[imp].Name))
			}
		}
		if len(names) == 0 {
			continue
		}
		re := regexp.MustCompile(`\b(` + strings.Join(names, "|") + `)\.[A-Z]\w*`)
		out, err := exec.Command("go", "doc", "-all", path).CombinedOutput()
		if err != nil {
			t.Fatalf("go doc -all %s: %v\n%s", path, err, out)
		}
		for i, line := range strings.Split(string(out), "\n") {
			if m := re.FindString(line); m != "" {
				t.Errorf("go doc -all %s, line %d names %s: %s", path, i+1, m, strings.TrimSpace(line))
			}
		}
	}
}
