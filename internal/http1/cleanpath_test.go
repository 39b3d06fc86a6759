package http1

import (
	"strings"
	"testing"
)

func TestAppendCleanPath(t *testing.T) {
	tests := []struct {
		in, want string
		status   int
	}{
		{"/", "/", 0},
		{"*", "*", 0},
		{"/a/b", "/a/b", 0},
		{"/a/b/", "/a/b/", 0},
		{"//a///b//", "/a/b/", 0},
		{"/a/./b", "/a/b", 0},
		{"/a/b/..", "/a/", 0},
		{"/a/b/../c", "/a/c", 0},
		{"/a/.", "/a/", 0},
		{"/./", "/", 0},
		{"/..a/b..", "/..a/b..", 0},
		{"/%7euser/%41%62%2d%2E%5F", "/~user/Ab-._", 0},
		{"/a/%2e%2E/b", "/b", 0},
		{"/a%3a%3Fb%25", "/a%3A%3Fb%25", 0},
		{"/%E2%82%ac", "/%E2%82%AC", 0},
		{"/a/..//b", "/b", 0},
		{"", "", 400},
		{"a/b", "", 400},
		{"/..", "", 400},
		{"/a/../..", "", 400},
		{"/%2e%2e/x", "", 400},
		{"/a%2fb", "", 400},
		{"/a%2Fb", "", 400},
		{"/a%00", "", 400},
		{"/a%", "", 400},
		{"/a%4", "", 400},
		{"/a%zz", "", 400},
		{"/a b", "", 400},
		{"/a\x00", "", 400},
		{"/\xc3\xa9", "", 400},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			prefix := []byte("keep:")
			got, err := AppendCleanPath(prefix, []byte(tt.in))
			if statusOf(err) != tt.status {
				t.Fatalf("err %v, want status %d", err, tt.status)
			}
			if tt.status != 0 {
				if string(got) != "keep:" {
					t.Fatalf("on error returned %q, want dst unchanged", got)
				}
				return
			}
			if string(got) != "keep:"+tt.want {
				t.Fatalf("got %q, want %q", got[5:], tt.want)
			}
			again, err := AppendCleanPath(nil, got[5:])
			if err != nil || string(again) != tt.want {
				t.Fatalf("not idempotent: %q %v", again, err)
			}
		})
	}
}

func TestAppendCleanPathNoAlloc(t *testing.T) {
	path := []byte("/api//v1/./users/%7ejohn/../%41bc")
	dst := make([]byte, 0, len(path))
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if dst, err = AppendCleanPath(dst[:0], path); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per call", allocs)
	}
	if string(dst) != "/api/v1/users/Abc" || strings.Contains(string(dst), "//") {
		t.Fatalf("got %q", dst)
	}
}
