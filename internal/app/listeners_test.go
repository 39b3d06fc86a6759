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
