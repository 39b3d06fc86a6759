package nginx

import (
	"go/ast"
	goparser "go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// translatorDirectives walks the converter's source and returns every
// directive name it compares a directive's Name with: `switch d.Name { case
// "x": }`, `d.Name == "x"`, and `strings.HasPrefix(d.Name, "x")` (returned
// as "x*"). Map entries and listen parameters are not directives and are
// switched on other variables, so they are not collected.
func translatorDirectives(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("convert*.go")
	if err != nil {
		t.Fatal(err)
	}
	isName := func(e ast.Expr) bool {
		s, ok := e.(*ast.SelectorExpr)
		return ok && s.Sel.Name == "Name"
	}
	lit := func(e ast.Expr) (string, bool) {
		b, ok := e.(*ast.BasicLit)
		if !ok || b.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(b.Value)
		return s, err == nil
	}
	out := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := goparser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SwitchStmt:
				if n.Tag == nil || !isName(n.Tag) {
					return true
				}
				for _, st := range n.Body.List {
					for _, e := range st.(*ast.CaseClause).List {
						if s, ok := lit(e); ok {
							out[s] = true
						}
					}
				}
			case *ast.BinaryExpr:
				if s, ok := lit(n.Y); ok && n.Op == token.EQL && isName(n.X) {
					out[s] = true
				}
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "HasPrefix" && len(n.Args) == 2 && isName(n.Args[0]) {
					if s, ok := lit(n.Args[1]); ok {
						out[s+"*"] = true
					}
				}
			}
			return true
		})
	}
	for _, m := range []map[string]bool{nginxOnly, notYet} {
		for k := range m {
			out[k] = true
		}
	}
	for k := range tlsIgnored {
		out[k] = true
	}
	return out
}

// docRow matches a row of the directive table in docs/nginx.md.
var docRow = regexp.MustCompile("^\\| `([a-z0-9_*]+)` \\| (translated|warning|info|error) \\|")

// TestDirectiveTable keeps docs/nginx.md's directive table in step with the
// translator: every directive the code knows has exactly one row, every row
// names a directive the code knows, and the directives of the
// accepted-with-warning and not-supported tables carry that status.
func TestDirectiveTable(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "nginx.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		m := docRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if _, dup := doc[m[1]]; dup {
			t.Errorf("docs/nginx.md: directive %s has two rows", m[1])
		}
		doc[m[1]] = m[2]
	}
	known := translatorDirectives(t)
	var missing []string
	for name := range known {
		if _, ok := doc[name]; !ok {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("docs/nginx.md directive table lacks rows for: %s", strings.Join(missing, " "))
	}
	for name, status := range doc {
		if !known[name] {
			t.Errorf("docs/nginx.md lists %s, which the translator does not know", name)
		}
		want := ""
		switch {
		case nginxOnly[name] || tlsIgnored[name] != "":
			want = "warning"
		case notYet[name]:
			want = "error"
		}
		if want != "" && status != want {
			t.Errorf("docs/nginx.md: %s is %q, the translator says %q", name, status, want)
		}
	}
}
