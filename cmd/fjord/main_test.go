package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// binary is the fjord executable built once by TestMain for the tests that need a real process (signals).
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fjord-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "fjord")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// posOf returns the 1-based line and column of the first occurrence of needle in text.
func posOf(t *testing.T, text, needle string) (line, col int) {
	t.Helper()
	i := strings.Index(text, needle)
	if i < 0 {
		t.Fatalf("%q not in config", needle)
	}
	return strings.Count(text[:i], "\n") + 1, i - strings.LastIndex(text[:i], "\n")
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const goodConfig = `listeners: [{address: "127.0.0.1:0"}]
services:
  a:
    timeouts: {connect: 1s}
    instances: ["127.0.0.1:9"]
routes:
  - match: {path_prefix: /}
    service: a
`

// badConfig has exactly three errors, at the texts listed in badAt.
const badConfig = `listeners: [{address: "127.0.0.1:0"}]
services:
  a:
    timeouts: {connect: 1s}
    instances: ["127.0.0.1:9"]
routes:
  - match: {path_regex: "(["}
    service: a
  - match: {path: /t}
    service: a
    request_headers:
      set: {X-Who: "${nope}"}
  - match: {path: /u}
    service: nowhere
`

var badAt = []string{`"(["`, `"${nope}"`, "nowhere"}

// TestCommands runs the subcommands that need no signals through run, as main would.
func TestCommands(t *testing.T) {
	good := writeFile(t, "good.yaml", goodConfig)
	bad := writeFile(t, "bad.yaml", badConfig)
	var badPositions []string
	for _, at := range badAt {
		line, col := posOf(t, badConfig, at)
		badPositions = append(badPositions, fmt.Sprintf("%s:%d:%d: error: ", bad, line, col))
	}
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     []string // substrings
		stderr     []string
		stderrRows int // exact number of non-empty stderr lines, -1 to skip
	}{
		{"version", []string{"version"}, 0, []string{"fjord dev\n"}, nil, 0},
		{"no command", nil, 2, nil, []string{"Usage:"}, -1},
		{"unknown command", []string{"frobnicate"}, 2, nil, []string{`unknown command "frobnicate"`}, -1},
		{"validate good", []string{"validate", good}, 0, []string{good + ": ok (1 listeners, 1 services, 1 routes)"}, nil, 0},
		{"validate bad", []string{"validate", bad}, 1, nil, badPositions, 3},
		{"validate missing file", []string{"validate", filepath.Join(t.TempDir(), "none.yaml")}, 1, nil, []string{"none.yaml"}, -1},
		{"validate no file", []string{"validate"}, 2, nil, []string{"Usage: fjord validate"}, -1},
		{"run help", []string{"run", "--help"}, 0, nil, []string{"Usage: fjord run", "-c"}, -1},
		{"validate help", []string{"validate", "--help"}, 0, nil, []string{"Usage: fjord validate", "-json"}, -1},
		{"demo help", []string{"demo", "--help"}, 0, nil, []string{"Usage: fjord demo", "-listen"}, -1},
		{"run without -c", []string{"run"}, 2, nil, []string{"Usage: fjord run"}, -1},
		{"run bad flag", []string{"run", "--nope"}, 2, nil, []string{"-nope"}, -1},
		{"run bad config", []string{"run", "-c", bad}, 1, nil, badPositions, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, &stdout, &stderr)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, &stdout)
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, &stderr)
				}
			}
			if tt.stderrRows >= 0 {
				if n := strings.Count(strings.TrimSpace(stderr.String()), "\n") + 1; stderr.Len() == 0 && tt.stderrRows != 0 || stderr.Len() > 0 && n != tt.stderrRows {
					t.Errorf("stderr has %d lines, want %d:\n%s", n, tt.stderrRows, &stderr)
				}
			}
		})
	}
}

// TestValidateJSON checks the machine-readable output of validate for a valid and an invalid file.
func TestValidateJSON(t *testing.T) {
	type diag struct {
		File     string
		Line     int
		Column   int
		Severity string
		Message  string
	}
	type report struct {
		File        string
		Valid       bool
		Diagnostics []diag
	}
	good := writeFile(t, "good.yaml", goodConfig)
	bad := writeFile(t, "bad.yaml", badConfig)
	var badDiags []diag
	for _, at := range badAt {
		line, col := posOf(t, badConfig, at)
		badDiags = append(badDiags, diag{File: bad, Line: line, Column: col, Severity: "error"})
	}
	tests := []struct {
		name string
		file string
		code int
		want report
	}{
		{"good", good, 0, report{File: good, Valid: true, Diagnostics: []diag{}}},
		{"bad", bad, 1, report{File: bad, Valid: false, Diagnostics: badDiags}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run([]string{"validate", "--json", tt.file}, &stdout, &stderr); code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.code, &stderr)
			}
			var got report
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, &stdout)
			}
			if got.Diagnostics == nil {
				t.Error(`"diagnostics" is null, want a list`)
			}
			for i := range got.Diagnostics {
				if got.Diagnostics[i].Message == "" {
					t.Errorf("diagnostic %d has no message", i)
				}
				got.Diagnostics[i].Message = ""
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
