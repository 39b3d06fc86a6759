package static

import (
	"os"
	"path/filepath"
	"testing"
)

// TestServeRefuses calls Serve with raw, uncleaned paths, as a front end that did not normalise would pass them:
// each case reaches a file that exists (outside the root, hidden, or under an odd name) unless its check holds.
func TestServeRefuses(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "site")
	for name, body := range map[string]string{"site/a.txt": "a", "secret.txt": "s", "site/.git/config": "g",
		"site/x\\y": "b", "site/a.txt\x01": "c"} {
		p := filepath.Join(base, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../secret.txt", filepath.Join(root, "rel-out")); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tests := []struct{ name, path string }{
		{"dot dot", "/../secret.txt"},
		{"encoded dots", "/%2e%2e/secret.txt"},
		{"encoded slash", "/..%2fsecret.txt"},
		{"backslash", "/x\\y"},
		{"encoded backslash", "/x%5cy"},
		{"NUL", "/a.txt%00"},
		{"control byte", "/a.txt%01"},
		{"hidden", "/.git/config"},
		{"relative symlink out", "/rel-out"},
		{"bad escape", "/a%zz"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := s.Serve(&Request{Method: "GET", Path: tc.path})
			if res.File != nil {
				res.File.Close()
				t.Fatalf("%s: served a file (status %d)", tc.path, res.Status)
			}
			if res.Status != 404 {
				t.Errorf("%s: status %d, want 404", tc.path, res.Status)
			}
		})
	}
	res := s.Serve(&Request{Method: "GET", Path: "/a.txt"})
	if res.Status != 200 || res.File == nil {
		t.Fatalf("control: /a.txt got %d", res.Status)
	}
	res.File.Close()
}

func TestParseRange(t *testing.T) {
	tests := []struct {
		v         string
		start, n  int64
		ok, valid bool
	}{
		{"bytes=0-4", 0, 5, true, true},
		{"bytes=5-", 5, 5, true, true},
		{"bytes=-3", 7, 3, true, true},
		{"bytes=-30", 0, 10, true, true},
		{"bytes=8-100", 8, 2, true, true},
		{"bytes=10-", 0, 0, false, true},
		{"bytes=-0", 0, 0, false, true},
		{"bytes=0-1,3-4", 0, 0, false, false},
		{"items=0-1", 0, 0, false, false},
		{"bytes=4-2", 0, 0, false, false},
		{"bytes=x-", 0, 0, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.v, func(t *testing.T) {
			start, n, ok, valid := parseRange(tc.v, 10)
			if start != tc.start || n != tc.n || ok != tc.ok || valid != tc.valid {
				t.Errorf("got %d,%d,%v,%v want %d,%d,%v,%v", start, n, ok, valid, tc.start, tc.n, tc.ok, tc.valid)
			}
		})
	}
}

func TestAccepts(t *testing.T) {
	tests := []struct {
		h, coding string
		want      bool
	}{
		{"gzip, deflate, br", "br", true},
		{"gzip;q=0", "gzip", false},
		{"GZIP ; q=0.5", "gzip", true},
		{"deflate", "gzip", false},
		{"", "gzip", false},
	}
	for _, tc := range tests {
		t.Run(tc.h+"/"+tc.coding, func(t *testing.T) {
			if got := accepts(tc.h, tc.coding); got != tc.want {
				t.Errorf("accepts(%q, %q) = %v", tc.h, tc.coding, got)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, opt := range []Options{{Root: f}, {Root: f + "-missing"}, {Root: filepath.Dir(f), Final: "=99"},
		{Root: filepath.Dir(f), Final: "index.html"}} {
		if s, err := New(opt); err == nil {
			s.Close()
			t.Errorf("New(%+v) succeeded", opt)
		}
	}
}

// TestTryFilesDirectory checks nginx's try_files rules for directories: "$uri" never matches one, "$uri/" redirects
// a path without its slash (query and encoding kept) and serves the index of one with it; a 206 has no
// Accept-Ranges.
func TestTryFilesDirectory(t *testing.T) {
	root := t.TempDir()
	for name, body := range map[string]string{"d/index.html": "idx", "e f/index.html": "sp", "a.txt": "abcdef"} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, path, query, rng string
		try                    []string
		status                 int
		header                 [2]string // a header that must be present; {NAME, ""} = NAME absent; zero = none
	}{
		{"uri skips a directory", "/d/", "", "", []string{"$uri"}, 404, [2]string{}},
		{"uri/ serves the index", "/d/", "", "", []string{"$uri", "$uri/"}, 200, [2]string{}},
		{"uri/ redirects", "/d", "x=1", "", []string{"$uri", "$uri/"}, 301, [2]string{"Location", "/d/?x=1"}},
		{"redirect keeps encoding", "/e%20f", "", "", []string{"$uri/"}, 301, [2]string{"Location", "/e%20f/"}},
		{"range without accept-ranges", "/a.txt", "", "bytes=0-1", []string{"$uri"}, 206,
			[2]string{"Accept-Ranges", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Options{Root: root, TryFiles: tc.try, Final: "=404"})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			res := s.Serve(&Request{Method: "GET", Path: tc.path, Query: tc.query, Range: tc.rng})
			if res.File != nil {
				res.File.Close()
			}
			if res.Status != tc.status {
				t.Fatalf("status %d, want %d (%s)", res.Status, tc.status, res.Reason)
			}
			if tc.header[1] == "" && tc.header[0] != "" {
				for _, h := range res.Header {
					if h[0] == tc.header[0] {
						t.Errorf("%s present: %q", h[0], h[1])
					}
				}
				return
			}
			found := false
			for _, h := range res.Header {
				found = found || h == tc.header
			}
			if tc.header[0] != "" && !found {
				t.Errorf("header %v missing in %v", tc.header, res.Header)
			}
		})
	}
}
