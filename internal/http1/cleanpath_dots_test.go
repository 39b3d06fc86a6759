package http1

import "testing"

// TestCleanPathHiddenDotSegments covers segments that a backend reads as "." or ".." though they are not spelled
// so: path parameters (Tomcat) and backslashes (Windows servers), raw or percent-encoded.
func TestCleanPathHiddenDotSegments(t *testing.T) {
	tests := []struct {
		in, want string // want "" = refused with 400
	}{
		{"/a/..;/admin", ""},
		{"/a/..;x=1/admin", ""},
		{"/a/.;x/b", ""},
		{"/a/%2e%2e;/admin", ""},
		{"/a/..%3bx/admin", ""},
		{"/a/..%3B", ""},
		{"/a/..\\admin", ""},
		{"/a/b\\..\\..\\admin", ""},
		{"/a/..%5cadmin", ""},
		{"/a/x%5C..", ""},
		{"/a/%2e%2e%5C", ""},
		{"/a\\.\\b", ""},
		{"/a\\b", "/a\\b"},
		{"/a%5cb", "/a%5Cb"},
		{"/a;b/c", "/a;b/c"},
		{"/a/...;x", "/a/...;x"},
		{"/a/..x;y", "/a/..x;y"},
		{"/a/x..\\y", "/a/x..\\y"},
		{"/a/b;..", "/a/b;.."},
		{"/a/\\", "/a/\\"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := AppendCleanPath(nil, []byte(tt.in))
			if tt.want == "" {
				if statusOf(err) != 400 {
					t.Fatalf("got %q, %v; want a 400", got, err)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
