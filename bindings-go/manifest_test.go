package headwater

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The package's exported surface against the Go column of tests/vectors/api.json: every non-null Go
// name exists where the manifest puts it (a top-level name, or a method or field of its class's
// type), every name that is null says why, and every exported identifier (top-level names, methods
// of exported types, fields of exported structs) is in the manifest or in extras_allowed.go.
// api.json's ignore.go: unexported names.
func TestManifest(t *testing.T) {
	var api struct {
		Classes map[string]struct {
			Type      map[string]*string `json:"type"`
			WhyAbsent map[string]string  `json:"why_absent"`
			Members   []struct {
				Concept   string             `json:"concept"`
				Kind      string             `json:"kind"`
				Names     map[string]*string `json:"names"`
				WhyAbsent map[string]string  `json:"why_absent"`
			} `json:"members"`
		} `json:"classes"`
		Exports map[string][]string `json:"exports"`
		Extras  map[string][]string `json:"extras_allowed"`
	}
	loadJSON(t, "tests/vectors/api.json", &api)

	surface := exportedSurface(t)
	want := map[string]string{} // name -> where the manifest asks for it
	typeName := regexp.MustCompile(`headwater\.(\w+)`)
	for cname, cls := range api.Classes {
		var goType string
		if gt := cls.Type["go"]; gt != nil {
			if m := typeName.FindStringSubmatch(*gt); m != nil {
				goType = m[1]
				want[goType] = cname
			}
		} else if cls.WhyAbsent["go"] == "" {
			t.Errorf("class %s: no Go type and no why_absent.go", cname)
		}
		for _, m := range cls.Members {
			n := m.Names["go"]
			where := cname + "." + m.Concept
			if n == nil {
				if m.WhyAbsent["go"] == "" && cls.WhyAbsent["go"] == "" {
					t.Errorf("%s: null in Go without why_absent", where)
				}
				continue
			}
			switch {
			case m.Kind == "constructor" || m.Kind == "function" || m.Kind == "constant" || goType == "":
				want[*n] = where // a top-level name
			default:
				want[goType+"."+*n] = where
			}
		}
	}
	for _, e := range api.Exports["go"] {
		want[e] = "exports.go"
	}
	for _, e := range api.Extras["go"] {
		want[e] = "extras_allowed.go"
	}
	var missing, unlisted []string
	for name, where := range want {
		if !surface[name] {
			missing = append(missing, name+" ("+where+")")
		}
	}
	for name := range surface {
		if _, ok := want[name]; !ok {
			unlisted = append(unlisted, name)
		}
	}
	sort.Strings(missing)
	sort.Strings(unlisted)
	for _, m := range missing {
		t.Errorf("in api.json, not in the package: %s", m)
	}
	for _, u := range unlisted {
		t.Errorf("exported, but neither in api.json's classes nor in extras_allowed.go: %s", u)
	}
	t.Logf("%d exported names checked against %d manifest names", len(surface), len(want))
}

// exportedSurface parses the package's non-test sources: "Name" for top-level identifiers,
// "Type.Name" for methods and struct fields of exported types.
func exportedSurface(t *testing.T) map[string]bool {
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(repo, "bindings-go", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if d.Recv == nil {
					out[d.Name.Name] = true
					continue
				}
				recv := d.Recv.List[0].Type
				if star, ok := recv.(*ast.StarExpr); ok {
					recv = star.X
				}
				if id, ok := recv.(*ast.Ident); ok && id.IsExported() {
					out[id.Name+"."+d.Name.Name] = true
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						if !s.Name.IsExported() {
							continue
						}
						out[s.Name.Name] = true
						if st, ok := s.Type.(*ast.StructType); ok {
							for _, field := range st.Fields.List {
								for _, n := range field.Names {
									if n.IsExported() {
										out[s.Name.Name+"."+n.Name] = true
									}
								}
							}
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								out[n.Name] = true
							}
						}
					}
				}
			}
		}
	}
	return out
}
