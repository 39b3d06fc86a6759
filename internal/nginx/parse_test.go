package nginx

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// show renders a tree compactly: name "arg" "quoted"q {children; ...}.
func show(ds []*Directive) string {
	var parts []string
	for _, d := range ds {
		s := d.Name
		for _, a := range d.Args {
			s += " " + strconv.Quote(a.Value)
			if a.Quoted {
				s += "q"
			}
		}
		if d.HasBlock {
			s += " {" + show(d.Block) + "}"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func TestTokens(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"simple", "a b c;", `a "b" "c"`},
		{"whitespace kinds", "a\tb\r\nc ;", `a "b" "c"`},
		{"empty block", "events {}", `events {}`},
		{"nested", "http { server { listen 80; } }", `http {server {listen "80"}}`},
		{"brace after word", "location /x{ return 200; }", `location "/x" {return "200"}`},
		{"semicolon after word", "a b;c d;", `a "b"; c "d"`},
		{"semicolon after quote", `a "b";`, `a "b"q`},
		{"brace after quote", `a "b"{}`, `a "b"q {}`},
		{"single quotes", `a 'b c';`, `a "b c"q`},
		{"empty quoted", `a "" '';`, `a ""q ""q`},
		{"quoted name", `"a" b;`, `a "b"`},
		{"escaped quotes", `a "x\"y" 'x\'y' x\"y;`, `a "x\"y"q "x'y"q "x\"y"`},
		{"escaped backslash", `a "x\\y" x\\y;`, `a "x\\y"q "x\\y"`},
		{"control escapes quoted", `a "\t\r\n";`, `a "\t\r\n"q`},
		{"control escapes bare", `a x\ty\n;`, `a "x\ty\n"`},
		{"unknown escape kept", `a "\d+" \q;`, `a "\\d+"q "\\q"`},
		{"escaped space joins word", `a x\ y;`, `a "x\\ y"`},
		{"escaped semicolon", `a x\;y;`, `a "x\\;y"`},
		{"dollar brace", `a ${host}x $a;`, `a "${host}x" "$a"`},
		{"brace ends word after variable name", `a $b{}`, `a "$b" {}`},
		{"brace after dollar mid word", `a x${y}z;`, `a "x${y}z"`},
		{"comment line", "# c\na b; # d\n", `a "b"`},
		{"hash inside word", "a b#c;", `a "b#c"`},
		{"hash inside quotes", `a "b#c";`, `a "b#c"q`},
		{"close brace inside word", "a b}; c d;", `a "b}"; c "d"`},
		{"multiline quote", "a \"b\nc\";", `a "b\nc"q`},
		{"paren after quote", `if ($a = "b") { return 200; }`, `if "($a" "=" "b"q ")" {return "200"}`},
		{"types block", "types { text/html html htm; }", `types {text/html "html" "htm"}`},
		{"map block", "map $a $b { default 0; ~^x 1; }", `map "$a" "$b" {default "0"; ~^x "1"}`},
		{"empty input", "", ``},
		{"only comment", "# x", ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, err := Options{KeepIncludes: true}.Parse("t.conf", []byte(tt.in))
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got := show(ds); got != tt.want {
				t.Errorf("Parse(%q)\n got %s\nwant %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestPositions(t *testing.T) {
	in := "http {\n\tserver {\n  listen  \"80\" x;\n\t}\n}\n"
	ds, err := Parse("p.conf", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	listen := ds[0].Block[0].Block[0]
	tests := []struct {
		what string
		got  Pos
		want string
	}{
		{"http", ds[0].Pos, "p.conf:1:1"},
		{"server", ds[0].Block[0].Pos, "p.conf:2:2"},
		{"listen", listen.Pos, "p.conf:3:3"},
		{"listen arg 0 (quote)", listen.Args[0].Pos, "p.conf:3:11"},
		{"listen arg 1", listen.Args[1].Pos, "p.conf:3:16"},
	}
	for _, tt := range tests {
		t.Run(tt.what, func(t *testing.T) {
			if tt.got.String() != tt.want {
				t.Errorf("got %s, want %s", tt.got, tt.want)
			}
		})
	}
	if listen.File != "p.conf" {
		t.Errorf("File = %q", listen.File)
	}
}

func TestErrors(t *testing.T) {
	long := strings.Repeat("x", 4096)
	tests := []struct {
		name, in string
		want     string // Error()
	}{
		{"stray close", "a b;\n}", `e.conf:2:1: unexpected "}"`},
		{"close after args", "a { b c }", `e.conf:1:9: unexpected "}"`},
		{"close after word glued", "a { b c} }", `e.conf:1:10: unexpected "}"`},
		{"semicolon first", "a;\n ;", `e.conf:2:2: unexpected ";"`},
		{"open first", "{}", `e.conf:1:1: unexpected "{"`},
		{"quote then quote", `a "b""c";`, `e.conf:1:6: unexpected """`},
		{"quote then hash", `a "b"#;`, `e.conf:1:6: unexpected "#"`},
		{"quote then close", `a { b "c"}`, `e.conf:1:10: unexpected "}"`},
		{"quote then word", `a 'b'c;`, `e.conf:1:6: unexpected "c"`},
		{"missing semicolon at eof", "a b", `e.conf:1:4: unexpected end of file, expecting ";" or "}" (opened at 1:1)`},
		{"missing semicolon at eof newline", "x;\na b\n", `e.conf:3:1: unexpected end of file, expecting ";" or "}" (opened at 2:1)`},
		{"unterminated block", "http {\n a b;\n", `e.conf:3:1: unexpected end of file, expecting "}" (opened at 1:6)`},
		{"unterminated string", "a \"b;\n}\n", `e.conf:3:1: unexpected end of file, expecting ";" or "}" (opened at 1:3)`},
		{"missing semicolon before close", "a { b c\n}", `e.conf:2:1: unexpected "}"`},
		{"too long word", "a " + long + ";", `e.conf:1:3: too long parameter "xxxxxxxxxx..." started`},
		{"too long quoted", "a \"" + long[1:] + "\";", `e.conf:1:3: too long parameter "xxxxxxxxxx..." started`},
		{"too long unterminated", "a \"" + long + ";", `e.conf:1:3: too long parameter, probably missing terminating """ character`},
		{"too long comment", "#" + long[1:] + "\n", `e.conf:1:1: too long parameter "#xxxxxxxxx..." started`},
		{"include with block", "include x {}", `e.conf:1:11: directive "include" is not terminated by ";"`},
		{"include no args", "include;", `e.conf:1:8: invalid number of arguments in "include" directive`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("e.conf", []byte(tt.in))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse: err = %v (%T), want *Error", err, err)
			}
			if err.Error() != tt.want {
				t.Errorf("got  %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestTokenLimits(t *testing.T) {
	ok := []string{
		"a " + strings.Repeat("x", 4095) + ";",
		"a \"" + strings.Repeat("x", 4094) + "\";",
		"#" + strings.Repeat("x", 4094) + "\n",
		"#" + strings.Repeat("x", 4095),         // EOF is checked before the limit
		"a;" + strings.Repeat(" ", 5000) + "b;", // whitespace does not count
	}
	for i, in := range ok {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			if _, err := Parse("l.conf", []byte(in)); err != nil {
				t.Errorf("Parse: %v", err)
			}
		})
	}
}

// writeFiles creates files (path -> content) under a temp dir and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestIncludes(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		want    string // show() of the tree, or Error() with DIR for the temp dir
		wantErr bool
	}{
		{"glob sorted, dotfiles skipped", map[string]string{
			"main.conf":     "http { include conf.d/*.conf; z; }",
			"conf.d/b.conf": "b;", "conf.d/a.conf": "a;", "conf.d/B.conf": "B;",
			"conf.d/.h.conf": "hidden;", "conf.d/c.txt": "c;",
		}, `http {B; a; b; z}`, false},
		{"relative to main dir, not includer", map[string]string{
			"main.conf": "include sub/a.conf;", "sub/a.conf": "include b.conf;",
			"b.conf": "top;", "sub/b.conf": "sub;",
		}, `top`, false},
		{"glob without match", map[string]string{"main.conf": "include none/*.conf; x;"}, `x`, false},
		{"missing plain file", map[string]string{"main.conf": "x;\ninclude nope.conf;"},
			`DIR/main.conf:2:18: open() "DIR/nope.conf" failed (2: no such file or directory)`, true},
		{"cycle", map[string]string{"main.conf": "include a.conf;", "a.conf": "\ninclude main.conf;"},
			`DIR/a.conf:2:18: include cycle: DIR/main.conf -> DIR/a.conf -> DIR/main.conf`, true},
		{"self include", map[string]string{"main.conf": "include main.conf;"},
			`DIR/main.conf:1:18: include cycle: DIR/main.conf -> DIR/main.conf`, true},
		{"error inside included file", map[string]string{"main.conf": "include a.conf;", "a.conf": "a;\n}"},
			`DIR/a.conf:2:1: unexpected "}"`, true},
		{"block must close in same file", map[string]string{"main.conf": "http { include a.conf; }", "a.conf": "server {"},
			`DIR/a.conf:1:9: unexpected end of file, expecting "}" (opened at 1:8)`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			ds, err := ParseFile(filepath.Join(dir, "main.conf"))
			want := strings.ReplaceAll(tt.want, "DIR", dir)
			if tt.wantErr {
				if err == nil || err.Error() != want {
					t.Fatalf("err = %v\nwant %s", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := show(ds); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

func TestIncludeFileAndErrno(t *testing.T) {
	dir := writeFiles(t, map[string]string{"main.conf": "x {\n include a.conf; }", "a.conf": "\n  y;"})
	ds, err := ParseFile(filepath.Join(dir, "main.conf"))
	if err != nil {
		t.Fatal(err)
	}
	y := ds[0].Block[0]
	if y.File != filepath.Join(dir, "a.conf") || y.Pos.Line != 2 || y.Pos.Col != 3 {
		t.Errorf("included directive at %s (File %s)", y.Pos, y.File)
	}
	_, err = Parse(filepath.Join(dir, "m.conf"), []byte("include missing;"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want fs.ErrNotExist in chain", err)
	}
}

func TestIncludeDepth(t *testing.T) {
	files := map[string]string{"main.conf": "include f0.conf;"}
	for i := 0; i < MaxIncludeDepth+1; i++ {
		files["f"+strconv.Itoa(i)+".conf"] = "include f" + strconv.Itoa(i+1) + ".conf;"
	}
	files["f"+strconv.Itoa(MaxIncludeDepth+1)+".conf"] = "leaf;"
	dir := writeFiles(t, files)
	_, err := ParseFile(filepath.Join(dir, "main.conf"))
	if err == nil || !strings.Contains(err.Error(), "nested deeper than 32") {
		t.Fatalf("err = %v, want depth error", err)
	}
	// One level less is fine.
	files["f"+strconv.Itoa(MaxIncludeDepth-1)+".conf"] = "leaf;"
	dir = writeFiles(t, files)
	if _, err := ParseFile(filepath.Join(dir, "main.conf")); err != nil {
		t.Fatalf("depth %d: %v", MaxIncludeDepth, err)
	}
}

func TestDebianConfig(t *testing.T) {
	root := filepath.Join("testdata", "debian")
	ds, err := Options{Root: root}.ParseFile(filepath.Join(root, "etc", "nginx", "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"user", "worker_processes", "pid", "load_module", "events", "http"} {
		if len(Find(ds, name)) != 1 {
			t.Errorf("top level %q: %d directives, want 1", name, len(Find(ds, name)))
		}
	}
	http := Find(ds, "http")[0]
	types := http.Find("types")
	if len(types) != 1 || len(types[0].Block) < 50 {
		t.Fatalf("mime.types not included into http: %v", types)
	}
	if !strings.HasSuffix(types[0].File, "mime.types") {
		t.Errorf("types File = %s", types[0].File)
	}
	srv := http.Find("server")
	if len(srv) != 1 || !strings.HasSuffix(srv[0].File, "sites-enabled/default") {
		t.Fatalf("server from sites-enabled/default: %v", srv)
	}
	if got := show(srv[0].Find("location")); got != `location "/" {try_files "$uri" "$uri/" "=404"}` {
		t.Errorf("location: %s", got)
	}
	roundTrip(t, ds)
}

// roundTrip checks parse(dump(ds)) == ds, ignoring positions.
func roundTrip(t *testing.T, ds []*Directive) {
	t.Helper()
	var buf bytes.Buffer
	if err := Dump(&buf, ds); err != nil {
		t.Fatal(err)
	}
	again, err := Options{KeepIncludes: true}.Parse("dump.conf", buf.Bytes())
	if err != nil {
		t.Fatalf("reparse of dump: %v\n%s", err, buf.String())
	}
	if a, b := show(ds), show(again); a != b {
		t.Fatalf("round trip changed tree\n was %s\n now %s\ndump:\n%s", a, b, buf.String())
	}
}

func TestDumpRoundTrip(t *testing.T) {
	inputs := []string{
		"a b c;",
		"events {}\nhttp { server { location /x{ return 200 \"x\\\"y\"; } } }",
		`a x\ y x\;y "" '' x\"y \\d ${h}x $a x\ty "a\nb" 'q"q' "\\";`,
		"map $a $b { default 0; ~^x 1; }",
		`if ($a = "b") { return 200; }`,
		`"quoted name" x;`,
	}
	for i, in := range inputs {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			ds, err := Options{KeepIncludes: true}.Parse("r.conf", []byte(in))
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, ds)
		})
	}
}

func TestDumpFormat(t *testing.T) {
	ds := []*Directive{
		{Name: "http", HasBlock: true, Block: []*Directive{
			{Name: "server", HasBlock: true},
			{Name: "x", Args: []Arg{{Value: "a b"}, {Value: "q", Quoted: true}, {Value: ""}, {Value: "#c"}}},
		}},
	}
	var buf bytes.Buffer
	if err := Dump(&buf, ds); err != nil {
		t.Fatal(err)
	}
	want := "http {\n    server {}\n    x \"a b\" \"q\" \"\" \"#c\";\n}\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"a b;", "http { server { location / { return 200 \"x\"; } } }", `a "\"" '\'' \\ \n $x ${y};`,
		"# c\na}b;", `if ($a = "b") { }`, "a { b c }", "a \"", "x\\ y;",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ds, err := Options{KeepIncludes: true}.Parse("f.conf", data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !e.Pos.IsValid() {
				t.Fatalf("error %v is not an *Error with a position", err)
			}
			return
		}
		roundTrip(t, ds)
	})
}
