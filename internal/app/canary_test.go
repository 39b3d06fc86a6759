package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fjord-gw/fjord/internal/admin"
)

// canaryConfig is a gateway with route /w/ split between old and new.
func canaryConfig(oldAddr, newAddr, canary string) string {
	return fmt.Sprintf(`
listeners: [{address: "127.0.0.1:0"}]
admin: {address: "127.0.0.1:0"}
services:
  old: {instances: [%q]}
  new: {instances: [%q]}
routes:
  - name: wish
    match: {path_prefix: /w/}
    service: old
    canary: %s
`, oldAddr, newAddr, canary)
}

// getAs does a GET with header X-User: user and returns the body.
func getAs(t *testing.T, c *http.Client, url, user string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if user != "" {
		req.Header.Set("X-User", user)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func routeStatus(t *testing.T, g *gateway, name string) admin.RouteStatus {
	t.Helper()
	for _, r := range g.app.Status().Routes {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no route %s in status", name)
	return admin.RouteStatus{}
}

func TestCanarySplitAndSticky(t *testing.T) {
	old, nw := newUpstream(t, "old", nil), newUpstream(t, "new", nil)
	g := startGateway(t, canaryConfig(old.addr, nw.addr, `{service: new, weight: 20, sticky: "header:X-User"}`))
	c := newClient(t)
	const users = 1000
	first := map[string]string{}
	toNew := 0
	for i := range users {
		user := fmt.Sprintf("user-%d", i)
		_, body := getAs(t, c, g.url("/w/x"), user)
		first[user] = body
		if body == "new" {
			toNew++
		}
	}
	if share := float64(toNew) / users; share < 0.16 || share > 0.24 {
		t.Errorf("share to the canary = %.3f, want 0.20 ± 0.04", share)
	}
	for i := range 50 { // sticky: every user sees the side it saw first
		user := fmt.Sprintf("user-%d", i)
		for range 5 {
			if _, body := getAs(t, c, g.url("/w/x"), user); body != first[user] {
				t.Fatalf("%s got %q, first got %q: not sticky", user, body, first[user])
			}
		}
	}
	st := routeStatus(t, g, "wish").Canary
	if st == nil || st.Weight != 20 || st.New.Requests == 0 || st.Old.Requests == 0 {
		t.Fatalf("status canary = %+v", st)
	}
}

func postCanary(t *testing.T, g *gateway, route string, weight float64) admin.CanaryStatus {
	t.Helper()
	url := fmt.Sprintf("http://%s/canary?route=%s&weight=%g", g.app.AdminAddress(), route, weight)
	resp, err := http.Post(url, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st admin.CanaryStatus
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST /canary = %d %s", resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestCanaryAdminWeightAndReload(t *testing.T) {
	old, nw := newUpstream(t, "old", nil), newUpstream(t, "new", nil)
	cfg := canaryConfig(old.addr, nw.addr, `{service: new, weight: 0}`)
	g := startGateway(t, cfg)
	c := newClient(t)
	mustGet(t, c, g.url("/w/a"), 200, "old")
	if st := postCanary(t, g, "wish", 100); st.Weight != 100 {
		t.Fatalf("weight after POST = %v", st.Weight)
	}
	for range 20 {
		mustGet(t, c, g.url("/w/a"), 200, "new")
	}
	// A reload of the same route keeps the weight set at runtime.
	if r := g.apply(cfg + "\n# touched\n"); r.err != nil {
		t.Fatal(r.err)
	}
	if st := routeStatus(t, g, "wish").Canary; st == nil || st.Weight != 100 {
		t.Fatalf("after reload canary = %+v, want weight 100", st)
	}
	mustGet(t, c, g.url("/w/a"), 200, "new")
	// Bad requests are refused with the reason.
	for _, q := range []string{"route=wish&weight=101", "route=nope&weight=5", "route=wish"} {
		resp, err := http.Post("http://"+g.app.AdminAddress()+"/canary?"+q, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 && resp.StatusCode != 404 {
			t.Errorf("POST /canary?%s = %d, want 400 or 404", q, resp.StatusCode)
		}
	}
}

func TestCanaryRollbackWithinWindow(t *testing.T) {
	old := newUpstream(t, "old", nil)
	nw := newUpstream(t, "new", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	})
	const window = time.Second
	cfg := canaryConfig(old.addr, nw.addr, `{service: new, weight: 50,
      guard: {max_error_rate: 0.1, min_requests: 10, window: 1s}}`)
	g := startGateway(t, cfg)
	rolled := g.logs.waitFor("canary rolled back")
	c := newClient(t)
	start := time.Now()
	deadline := start.Add(window + window/2)
	sawNew := 0
	for time.Now().Before(deadline) {
		select {
		case <-rolled:
		default:
			if status, _ := getAs(t, c, g.url("/w/x"), ""); status == 500 {
				sawNew++
			}
			continue
		}
		break
	}
	select {
	case <-rolled:
	default:
		t.Fatalf("not rolled back within %v of the first failures (%d failed); log:\n%s", window+window/2, sawNew, g.logs)
	}
	st := routeStatus(t, g, "wish").Canary
	if st == nil || !st.RolledBack || st.Weight != 0 || !strings.Contains(st.Reason, "error rate") {
		t.Fatalf("status canary = %+v", st)
	}
	for range 20 {
		mustGet(t, c, g.url("/w/x"), 200, "old")
	}
	// The rollback survives a reload of the same route.
	if r := g.apply(cfg + "\n# touched\n"); r.err != nil {
		t.Fatal(r.err)
	}
	if st := routeStatus(t, g, "wish").Canary; !st.RolledBack || st.Weight != 0 {
		t.Fatalf("after reload canary = %+v, want rolled back", st)
	}
	mustGet(t, c, g.url("/w/x"), 200, "old")
}

func TestCanaryStepsAdvanceWhileHealthy(t *testing.T) {
	old, nw := newUpstream(t, "old", nil), newUpstream(t, "new", nil)
	g := startGateway(t, canaryConfig(old.addr, nw.addr, `{service: new, steps: [50, 100], step_interval: 200ms,
      guard: {min_requests: 5, window: 500ms}}`))
	c := newClient(t)
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		getAs(t, c, g.url("/w/x"), "")
		if st := routeStatus(t, g, "wish").Canary; st.Weight == 100 {
			return
		}
	}
	t.Fatalf("canary did not step up to 100%%: %+v", routeStatus(t, g, "wish").Canary)
}
