package nginx

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// diffHeader keeps nginx -t away from system paths: temp paths resolve
// against the -p prefix, pid and error log are given on the command line.
const diffHeader = "events {} http { access_log off; client_body_temp_path t/b; proxy_temp_path t/p; " +
	"fastcgi_temp_path t/f; uwsgi_temp_path t/u; scgi_temp_path t/s;\n"

// diffCase is a config that nginx -t and Parse must judge alike. body goes
// inside http { } after diffHeader unless raw, in which case it is the
// whole file. files are extra files next to nginx.conf.
type diffCase struct {
	name  string
	body  string
	raw   bool
	files map[string]string
}

var long4095 = strings.Repeat("x", 4095)

var diffCorpus = []diffCase{
	{name: "minimal", body: `server { location / { return 200 "x"; } }`},
	{name: "brace glued to word", body: `server { location /x{ return 200 "x"; } }`},
	{name: "semicolon glued to quote", body: `server { location / { return 200 'x';} }`},
	{name: "multiline string", body: "server { location / { return 200 \"a\nb\nc\"; } }"},
	{name: "escapes", body: `server { location / { return 200 "a\"b\\c\n\t\q"; } }`},
	{name: "escaped space", body: `server { location / { return 200 a\ b; } }`},
	{name: "variables", body: `server { location / { return 200 "${host}$uri"; } }`},
	{name: "bare variable brace", body: `server { location / { return 200 ${host}x; } }`},
	{name: "hash inside word", body: `server { location / { return 200 x#y; } }`},
	{name: "close brace inside word", body: `server { location / { return 200 x}; } }`},
	{name: "comments", body: "# top\nserver { # a\n location / { return 200 x; } # b\n}\n# end"},
	{name: "if with quote before paren", body: `server { location / { if ($uri = "/a") { return 200; } return 200 x; } }`},
	{name: "map block", body: "map $uri $v { default 0; ~^/x 1; \"a b\" 2; }\nserver { location / { return 200 $v; } }"},
	{name: "types block", body: "types { text/html html htm; application/x-y yy; }"},
	{name: "empty blocks", body: "server { location / { } }"},
	{name: "regex location quoted", body: `server { location ~ "^/x{2}$" { return 200; } }`},
	{name: "crlf lines", body: "server {\r\n location / {\r\n return 200 x;\r\n }\r\n}\r\n"},
	{name: "word at 4095 bytes", body: "server { location / { return 200 " + long4095 + "; } }"},
	{name: "quoted at 4094 bytes", body: "server { location / { return 200 \"" + long4095[1:] + "\"; } }"},
	{name: "comment at 4094 bytes", body: "server { #" + long4095[1:] + "\n}"},
	{name: "glob include, no match", body: "include conf.d/*.conf;"},
	{name: "glob include sorted", body: "include conf.d/*.conf;", files: map[string]string{
		"conf.d/b.conf": "server { listen 127.0.0.1:18082; }", "conf.d/a.conf": "server { listen 127.0.0.1:18081; }"}},
	{name: "include relative to main dir", body: "server { location / { include sub/a.conf; } }", files: map[string]string{
		"sub/a.conf": "include b.conf;", "b.conf": "return 200 x;"}},

	{name: "stray close", body: "server { }\n}\n}"},
	{name: "close right after args", body: "server { location / { return 200 x\n} }"},
	{name: "close glued to quote", body: `server { location / { return 200 "x"} }`},
	{name: "close glued to word", body: "server { location / { return 200 x} } }"},
	{name: "two quotes glued", body: `server { location / { return 200 "x""y"; } }`},
	{name: "hash glued to quote", body: `server { location / { return 200 "x"#y; } }`},
	{name: "word glued to quote", body: `server { location / { return 200 'x'y; } }`},
	{name: "lone semicolon", body: "server {\n ;\n}"},
	{name: "double semicolon", body: "server { location / { return 200 x;; } }"},
	{name: "block without name", body: "server {\n {}\n}"},
	{name: "unclosed block", body: "server {\n location / { return 200 x; }\n", raw: false},
	{name: "unclosed string", body: "server { location / { return 200 \"x; } }\n"},
	{name: "missing semicolon at eof", raw: true, body: "events {}\nworker_processes 1"},
	{name: "unclosed block raw", raw: true, body: "events {\n"},
	{name: "top level close", raw: true, body: "events {}\n\n}"},
	{name: "word over 4095 bytes", body: "server { location / { return 200 " + long4095 + "x; } }"},
	{name: "quoted over 4094 bytes", body: "server {\n location / { return 200 \"" + long4095 + "\"; } }"},
	{name: "unterminated long string", body: "server {\n location / { return 200 \"" + long4095 + long4095 + "; } }"},
	{name: "comment over 4094 bytes", body: "server {\n #" + long4095 + "\n}"},
	{name: "missing include", body: "\ninclude missing.conf;"},
	{name: "error in included file", body: "include a.conf;", files: map[string]string{"a.conf": "server {\n}\n}"}},
	{name: "block left open in included file", body: "include a.conf;", files: map[string]string{"a.conf": "server {\n"}},
}

var nginxEmerg = regexp.MustCompile(`\[emerg\] (.*) in (.*):(\d+)`)

// TestAgainstNginx runs `nginx -t` on every corpus config and requires that
// nginx and Parse accept the same configs, and for rejected ones report the
// same file, line and message.
func TestAgainstNginx(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx not on PATH; the differential test needs it")
	}
	for _, c := range diffCorpus {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			conf := c.body
			if !c.raw {
				conf = diffHeader + c.body + "\n}\n"
			}
			files := map[string]string{"nginx.conf": conf, "t/.keep": ""} // nginx creates t/b but not t
			for k, v := range c.files {
				files[k] = v
			}
			for name, content := range files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			main := filepath.Join(dir, "nginx.conf")
			cmd := exec.Command(bin, "-t", "-q", "-p", dir+"/", "-e", filepath.Join(dir, "error.log"),
				"-c", main, "-g", "pid "+filepath.Join(dir, "nginx.pid")+";")
			out, nerr := cmd.CombinedOutput()
			_, perr := ParseFile(main)

			if (nerr == nil) != (perr == nil) {
				t.Fatalf("nginx -t: %v\n%s\nParse: %v", nerr, out, perr)
			}
			if perr == nil {
				return
			}
			m := nginxEmerg.FindSubmatch(out)
			if m == nil {
				t.Fatalf("no [emerg] line in nginx output:\n%s", out)
			}
			var e *Error
			if !errors.As(perr, &e) {
				t.Fatalf("Parse error %v is not *Error", perr)
			}
			line, _ := strconv.Atoi(string(m[3]))
			if e.Pos.File != string(m[2]) || e.Pos.Line != line {
				t.Errorf("position: nginx %s:%d, Parse %s", m[2], line, e.Pos)
			}
			// Go spells strerror texts in lower case.
			if !strings.EqualFold(e.Msg, string(m[1])) {
				t.Errorf("message: nginx %q, Parse %q", m[1], e.Msg)
			}
		})
	}
}
