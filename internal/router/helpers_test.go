package router

import (
	"net/textproto"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testReq implements Request without allocating, like the engine's view.
type testReq struct {
	host, path, method []byte
	hdr                map[string][]byte // canonical names
}

func (r *testReq) Host() []byte   { return r.host }
func (r *testReq) Path() []byte   { return r.path }
func (r *testReq) Method() []byte { return r.method }
func (r *testReq) Header(name string) ([]byte, bool) {
	v, ok := r.hdr[textproto.CanonicalMIMEHeaderKey(name)]
	return v, ok
}

// req builds a GET request; kv are header name/value pairs.
func req(host, path string, kv ...string) *testReq {
	r := &testReq{host: []byte(host), path: []byte(path), method: []byte("GET"), hdr: map[string][]byte{}}
	for i := 0; i+1 < len(kv); i += 2 {
		r.hdr[textproto.CanonicalMIMEHeaderKey(kv[i])] = []byte(kv[i+1])
	}
	return r
}

// withMethod sets the method of r and returns it.
func (r *testReq) withMethod(m string) *testReq {
	r.method = []byte(m)
	return r
}

func mustBuild[T any](t testing.TB, routes []Route[T]) (*Table[T], []Conflict) {
	t.Helper()
	tbl, conflicts, err := Build(routes)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return tbl, conflicts
}
