package app_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/fjord-gw/fjord/internal/admin"
)

// TestAdminStatus: the admin interface reports services and instance states, including an instance taken out by
// its health checks, and readiness.
func TestAdminStatus(t *testing.T) {
	up := newUpstream(t, "up", nil)
	g := startGateway(t, fmt.Sprintf(`
listeners: [{address: "127.0.0.1:0"}]
admin: {address: "127.0.0.1:0"}
services:
  s:
    instances: ["%s", "127.0.0.1:1"]
    timeouts: {connect: 1s}
    health_check: {type: tcp, interval: 20ms, jitter: 5ms, fall: 1}
    limits: {max_concurrent: 7}
routes:
  - name: all
    match: {path_prefix: /}
    service: s
`, up.addr))
	base := "http://" + g.app.AdminAddress()
	cl := newClient(t)
	var st admin.Status
	waitUntil(t, func() bool {
		_, body, err := get(cl, base+"/status")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("status JSON: %v\n%s", err, body)
		}
		return len(st.Services) == 1 && st.Services[0].Instances[1].State == "unhealthy"
	})
	s := st.Services[0]
	if !st.Ready || st.Version != "test" || s.Name != "s" || s.MaxConcurrent != 7 || s.Instances[0].State != "healthy" {
		t.Fatalf("status: %+v", st)
	}
	if len(st.Routes) != 1 || st.Routes[0].Path != "prefix /" || st.Routes[0].Service != "s" {
		t.Fatalf("routes: %+v", st.Routes)
	}
	if code, _, _ := get(cl, base+"/ready"); code != 200 {
		t.Fatalf("/ready: %d", code)
	}
}
