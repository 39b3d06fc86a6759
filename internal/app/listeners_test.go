package app_test

import (
	"fmt"
	"testing"
)

// TestRoutesPerListener: a route limited to one listener is not served on another; unrestricted routes are served
// on both.
func TestRoutesPerListener(t *testing.T) {
	pub, adm := newUpstream(t, "public", nil), newUpstream(t, "internal", nil)
	g := startGateway(t, fmt.Sprintf(`
listeners:
  - {name: public, address: "127.0.0.1:0"}
  - {name: internal, address: "127.0.0.1:0"}
services:
  pub: {instances: ["%s"], timeouts: {connect: 1s}}
  adm: {instances: ["%s"], timeouts: {connect: 1s}}
routes:
  - match: {listeners: [internal], path_prefix: /admin/}
    service: adm
  - match: {path_prefix: /}
    service: pub
`, pub.addr, adm.addr))
	cl := newClient(t)
	for _, tc := range []struct {
		listener int
		path     string
		want     string
	}{
		{0, "/admin/x", "public"}, // the admin route does not exist on the public listener
		{1, "/admin/x", "internal"},
		{0, "/x", "public"},
		{1, "/x", "public"},
	} {
		_, body, err := get(cl, "http://"+g.addrs[tc.listener]+tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if body != tc.want {
			t.Errorf("listener %d %s: served by %q, want %q", tc.listener, tc.path, body, tc.want)
		}
	}
}

// TestListenerRoutesDoNotConflictAcrossListeners: two listeners each with their own catch-all is not an
// "unreachable route": each route is the only one on its listener.
func TestListenerRoutesDoNotConflictAcrossListeners(t *testing.T) {
	a, b := newUpstream(t, "a", nil), newUpstream(t, "b", nil)
	g := startGateway(t, fmt.Sprintf(`
listeners:
  - {name: one, address: "127.0.0.1:0"}
  - {name: two, address: "127.0.0.1:0"}
services:
  a: {instances: ["%s"], timeouts: {connect: 1s}}
  b: {instances: ["%s"], timeouts: {connect: 1s}}
routes:
  - match: {listeners: [one], path_prefix: /}
    service: a
  - match: {listeners: [two], path_prefix: /}
    service: b
`, a.addr, b.addr))
	cl := newClient(t)
	for i, want := range []string{"a", "b"} {
		if _, body, err := get(cl, "http://"+g.addrs[i]+"/x"); err != nil || body != want {
			t.Fatalf("listener %d: %q %v, want %q", i, body, err, want)
		}
	}
}
