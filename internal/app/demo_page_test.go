package app_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/fjord-gw/fjord/internal/admin"
)

var demoAdminLine = regexp.MustCompile(`fjord status --admin (\S+)`)

// TestDemoMonolith: the demo's monolith answers every path no other route takes, and the Wishlist module's route
// goes to it while wishlist's own prefix still reaches the wishlist service.
func TestDemoMonolith(t *testing.T) {
	addr, _, _ := startDemo(t)
	c := newClient(t)
	tests := []struct{ path, service, body string }{
		{"/account/orders", "monolith", `"service":"monolith"`},
		{"/api/wishlist/alice", "monolith", `"user":"alice"`},
		{"/wishlist/item", "wishlist", `"service":"wishlist"`},
		{"/auth/login", "auth", `"service":"auth"`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := c.Get("http://" + addr + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			if svc, _, _ := strings.Cut(resp.Header.Get("X-Demo-Instance"), "-"); resp.StatusCode != 200 || svc != tt.service ||
				!strings.Contains(b.String(), tt.body) {
				t.Fatalf("%d from %q: %s; want 200 from %s with %s", resp.StatusCode, svc, b.String(), tt.service, tt.body)
			}
		})
	}
}

// TestDemoStatusPageMigration renders the status page in headless Chromium while the demo's Wishlist canary is at
// 25 % with its shadow comparing, then after wishlist fails and the guard rolls the canary back: the route shows the
// canary's weight, the shadow's match rate, and then the rollback (in red) with its reason. Skipped without
// chromium.
func TestDemoStatusPageMigration(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed")
	}
	addr, out, _ := startDemo(t)
	adminAddr := demoAdminLine.FindStringSubmatch(out.String())[1]
	c := newClient(t)
	resp, err := c.Post("http://"+adminAddr+"/canary?route=wishlist-api&weight=25", "", nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /canary: %v %v", resp, err)
	}
	resp.Body.Close()
	users := func(n int) {
		for i := range n {
			req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/api/wishlist/u"+strings.Repeat("x", i%7)+string(rune('a'+i%26)), nil)
			req.Header.Set("Cookie", "session=u"+string(rune('a'+i%26))+strings.Repeat("x", i%7))
			if resp, err := c.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	}
	users(40)
	page := "http://" + adminAddr + "/"
	dom := runChromium(t, chromium, "--dump-dom", page)
	for _, want := range []string{`data-canary="25"`, "canary 25% → wishlist", `data-shadow="wishlist"`, "% match"} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered page lacks %s", want)
		}
	}

	if _, _, err := get(c, "http://"+addr+"/chaos/wishlist?mode=error"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool {
		users(20)
		_, body, err := get(c, "http://"+adminAddr+"/status")
		var st admin.Status
		if err != nil || json.Unmarshal([]byte(body), &st) != nil {
			t.Fatalf("GET /status: %v %s", err, body)
		}
		for _, r := range st.Routes {
			if r.Name == "wishlist-api" && r.Canary != nil && r.Canary.RolledBack {
				return true
			}
		}
		return false
	})
	dom = runChromium(t, chromium, "--dump-dom", page)
	for _, want := range []string{`data-canary="rolled-back"`, "s-rolled-back", "rolled back", "error rate"} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered page after the rollback lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", dom)
	}
}
