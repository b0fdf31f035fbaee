package headwater

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The quickstart of bindings-go/README.md (its first go block), which the top-level README repeats,
// built and run the way a user does: its own module, this one added with a replace line.
func TestReadmeQuickstart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	read := func(rel string) string {
		data, err := os.ReadFile(filepath.Join(repo, rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	m := regexp.MustCompile("(?s)```go\n(.*?)```").FindStringSubmatch(read("bindings-go/README.md"))
	if m == nil {
		t.Fatal("bindings-go/README.md has no go block")
	}
	snippet := m[1]
	top := regexp.MustCompile("(?s)<!-- readme-test: block bindings-go/README.md go -->\n```go\n(.*?)```").
		FindStringSubmatch(read("README.md"))
	if top == nil || top[1] != snippet {
		t.Fatal("the top-level README's Go quickstart is missing or differs from bindings-go/README.md's")
	}

	dir := t.TempDir()
	gomod := "module quickstart\n\ngo 1.22\n\nrequire github.com/headwater-io/headwater-go v0.0.0\n\n" +
		"replace github.com/headwater-io/headwater-go => " + filepath.Join(repo, "bindings-go") + "\n"
	for name, body := range map[string]string{"go.mod": gomod, "main.go": snippet} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // a hang guard: it builds
	defer cancel()
	// go build, not go run: go run may reuse a cached executable linked against an older library.
	build := exec.CommandContext(ctx, goTool, "build", "-o", "quickstart", ".")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.CommandContext(ctx, filepath.Join(dir, "quickstart")).CombinedOutput()
	if err != nil {
		t.Fatalf("the quickstart: %v\n%s", err, out)
	}
	for _, want := range []string{"user-1 landed in partition ", " at offset 0", " record(s), codec lz4"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the quickstart printed no %q:\n%s", want, out)
		}
	}
}
