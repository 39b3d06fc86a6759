package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that no input panics and that every diagnostic carries a
// position inside the file.
func FuzzParse(f *testing.F) {
	full, err := os.ReadFile(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(full)
	f.Add([]byte(withOK(okListener)))
	f.Add([]byte("a: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, diags := Parse("f.yaml", data)
		// YAML breaks lines at LF, CRLF and a lone CR alike (a file with old Mac line ends reports line 3 for "\r\r0").
		lines := strings.Count(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n") +
			strings.Count(strings.ReplaceAll(string(data), "\r\n", "\n"), "\r") + 2
		for _, d := range diags {
			if d.Pos.File != "f.yaml" || d.Pos.Line < 1 || d.Pos.Line > lines {
				t.Fatalf("diagnostic outside the file: %v", d)
			}
		}
	})
}

// FuzzParseTemplate checks that parsing never panics and that literal parts
// reproduce the input once "$$" is undone.
func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{"", "a${host}b", "$$", "${header.X}", "${"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parts, err := ParseTemplate(s)
		if err != nil {
			return
		}
		var b strings.Builder
		for _, p := range parts {
			switch {
			case p.Var == "":
				b.WriteString(strings.ReplaceAll(p.Literal, "$", "$$"))
			case p.Var == "header":
				b.WriteString("${header." + p.Header + "}")
			default:
				b.WriteString("${" + p.Var + "}")
			}
		}
		if b.String() != s {
			t.Fatalf("round trip of %q gave %q", s, b.String())
		}
	})
}
