package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/fjord-gw/fjord/internal/admin"
	"github.com/fjord-gw/fjord/internal/app"
	"github.com/fjord-gw/fjord/internal/explain"
)

const testToken = "s3cret-token"

// adminDo sends a request to the admin API with the test token (unless token is "") and returns status and body.
func adminDo(t *testing.T, c *http.Client, method, u, token string, form url.Values) (int, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func drainConfig(a, b string, weightA int) string {
	return fmt.Sprintf(`
listeners: [{address: "127.0.0.1:0"}]
admin: {address: "127.0.0.1:0", token: %q}
services:
  s:
    instances: [{address: "%s", weight: %d}, "%s"]
    timeouts: {connect: 1s}
routes:
  - name: api
    match: {path_prefix: /}
    service: s
`, testToken, a, weightA, b)
}

// TestAdminDrain: a drained instance gets no new requests while the one in flight finishes, shows as draining then
// drained, stays drained across a reload that re-creates it, and comes back on undrain.
func TestAdminDrain(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	a := newUpstream(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
		}
		io.WriteString(w, "a")
	})
	b := newUpstream(t, "b", nil)
	g := startGateway(t, drainConfig(a.addr, b.addr, 1))
	cl := newClient(t)
	base := "http://" + g.app.AdminAddress()

	tests := []struct {
		name, method, path, token string
		want                      int
	}{
		{"status needs the token", "GET", "/status", "", 401},
		{"wrong token", "GET", "/status", "nope", 401},
		{"live is open", "GET", "/live", "", 200},
		{"ready is open", "GET", "/ready", "", 200},
		{"metrics need the token", "GET", "/metrics", "", 401},
		{"drain is POST only", "GET", "/instances/drain", testToken, 405},
		{"reload is POST only", "GET", "/reload", testToken, 405},
		{"status with token", "GET", "/status", testToken, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, body := adminDo(t, cl, tt.method, base+tt.path, tt.token, nil); code != tt.want {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, code, body, tt.want)
			}
		})
	}

	// One request in flight on a (round robin starts somewhere; retry until a has it).
	slowDone := make(chan string, 1)
	go func() {
		for range 4 {
			_, body, _ := get(cl, g.url("/slow"))
			if body == "a" {
				slowDone <- body
				return
			}
		}
		slowDone <- "never reached a"
	}()
	<-entered
	drain := func(path, addr string) admin.DrainResult {
		t.Helper()
		code, body := adminDo(t, cl, "POST", base+path, testToken, url.Values{"service": {"s"}, "address": {addr}})
		var res admin.DrainResult
		if code != 200 || json.Unmarshal([]byte(body), &res) != nil {
			t.Fatalf("POST %s: %d %s", path, code, body)
		}
		return res
	}
	if res := drain("/instances/drain", a.addr); res.State != "draining" || !res.Changed || res.InFlight != 1 {
		t.Fatalf("drain with a request in flight: %+v, want draining with 1 in flight", res)
	}
	for range 6 {
		mustGet(t, cl, g.url("/x"), 200, "b")
	}
	close(release)
	if body := <-slowDone; body != "a" {
		t.Fatalf("in-flight request on the drained instance: %q", body)
	}
	waitUntil(t, func() bool { return instanceState(t, g, cl, a.addr) == "drained" })

	// A reload that changes a's weight re-creates the instance: it must stay drained.
	g.write(drainConfig(a.addr, b.addr, 2))
	code, body := adminDo(t, cl, "POST", base+"/reload", testToken, url.Values{})
	<-g.reloaded
	if code != 200 || !strings.Contains(body, `"ok": true`) {
		t.Fatalf("POST /reload: %d %s", code, body)
	}
	if st := instanceState(t, g, cl, a.addr); st != "drained" {
		t.Fatalf("after reload a is %q, want drained", st)
	}
	for range 4 {
		mustGet(t, cl, g.url("/x"), 200, "b")
	}
	_, metrics := adminDo(t, cl, "GET", base+"/metrics", testToken, nil)
	for _, want := range []string{fmt.Sprintf(`fjord_instance_drained{instance="%s",service="s"} 1`, a.addr),
		fmt.Sprintf(`fjord_instance_drained{instance="%s",service="s"} 0`, b.addr),
		"fjord_config_last_reload_success_timestamp_seconds "} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if code, _ := adminDo(t, cl, "POST", base+"/instances/drain", testToken, url.Values{"service": {"nope"}, "address": {a.addr}}); code != 404 {
		t.Errorf("drain of an unknown service: %d, want 404", code)
	}
	if code, _ := adminDo(t, cl, "POST", base+"/instances/drain", testToken, url.Values{"service": {"s"}}); code != 400 {
		t.Errorf("drain without address: %d, want 400", code)
	}

	// Live explain: the drained instance is skipped, with the reason.
	code, body = adminDo(t, cl, "GET", base+"/explain?url="+url.QueryEscape("http://shop/x?q=1"), testToken, nil)
	var rep explain.Report
	if code != 200 || json.Unmarshal([]byte(body), &rep) != nil || rep.Route != "api" || rep.Pick == nil || rep.Pick.Chosen != b.addr || !rep.Live {
		t.Fatalf("GET /explain: %d %s", code, body)
	}
	if !strings.Contains(body, "drained by an operator") {
		t.Errorf("/explain does not say a is drained: %s", body)
	}

	if res := drain("/instances/undrain", a.addr); res.State != "healthy" || !res.Changed {
		t.Fatalf("undrain: %+v", res)
	}
	seen := map[string]bool{}
	for range 6 {
		_, body, _ := get(cl, g.url("/x"))
		seen[body] = true
	}
	if !seen["a"] {
		t.Fatalf("after undrain a gets no request: %v", seen)
	}
}

func instanceState(t *testing.T, g *gateway, cl *http.Client, addr string) string {
	t.Helper()
	_, body := adminDo(t, cl, "GET", "http://"+g.app.AdminAddress()+"/status", testToken, nil)
	var st admin.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("/status: %v: %s", err, body)
	}
	for _, s := range st.Services {
		for _, in := range s.Instances {
			if in.Address == addr {
				return in.State
			}
		}
	}
	return ""
}

// TestAdminReloadAndConfig: POST /reload answers with the new version, or with FILE:LINE errors while the running
// configuration stays; GET /config shows the configuration in force with the token redacted.
func TestAdminReloadAndConfig(t *testing.T) {
	up, up2 := newUpstream(t, "up", nil), newUpstream(t, "up2", nil)
	good := drainConfig(up.addr, up2.addr, 1)
	g := startGateway(t, good)
	cl := newClient(t)
	base := "http://" + g.app.AdminAddress()
	config := func() admin.ConfigResult {
		t.Helper()
		code, body := adminDo(t, cl, "GET", base+"/config", testToken, nil)
		var res admin.ConfigResult
		if code != 200 || json.Unmarshal([]byte(body), &res) != nil {
			t.Fatalf("GET /config: %d %s", code, body)
		}
		if strings.Contains(body, testToken) {
			t.Fatalf("GET /config hands out the token: %s", body)
		}
		return res
	}
	v1 := config()
	if v1.Version.Generation != 1 || len(v1.Version.Hash) != 16 || v1.Version.Source != g.path {
		t.Fatalf("first version: %+v", v1.Version)
	}
	bad := strings.Replace(good, "service: s", "service: nope", 1)
	tests := []struct {
		name, cfg  string
		wantCode   int
		wantGen    int
		wantInBody string
	}{
		{"bad config keeps the running one", bad, 422, 1, fmt.Sprintf(`%s:%d:`, g.path, lineOf(bad, "service: nope"))},
		{"good config applies", strings.Replace(good, "name: api", "name: api2", 1), 200, 2, `"ok": true`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g.write(tt.cfg)
			code, body := adminDo(t, cl, "POST", base+"/reload", testToken, url.Values{})
			<-g.reloaded
			if code != tt.wantCode || !strings.Contains(body, tt.wantInBody) {
				t.Fatalf("POST /reload = %d %s, want %d with %q", code, body, tt.wantCode, tt.wantInBody)
			}
			if v := config().Version; v.Generation != tt.wantGen {
				t.Fatalf("generation %d after the reload, want %d", v.Generation, tt.wantGen)
			}
		})
	}
	cfg := config()
	if cfg.Version.Hash == v1.Version.Hash {
		t.Error("the hash did not change with the configuration")
	}
	routes := cfg.Config.(map[string]any)["routes"].([]any)
	if name := routes[0].(map[string]any)["name"]; name != "api2" {
		t.Errorf("GET /config routes[0].name = %v, want api2", name)
	}
}

func lineOf(text, needle string) int {
	return strings.Count(text[:strings.Index(text, needle)], "\n") + 1
}

// TestExplainOffline explains requests against a config file, native and nginx, without running it.
func TestExplainOffline(t *testing.T) {
	native := `
listeners: [{address: "127.0.0.1:0"}]
services:
  cart: {instances: ["10.0.0.1:80", "10.0.0.2:80"], balancer: hash, hash_key: "header:X-User"}
routes:
  - name: cart-post
    match: {host: shop.example.no, path_prefix: /cart/, methods: [POST]}
    service: cart
  - name: cart
    match: {host: shop.example.no, path_prefix: /cart/}
    service: cart
    rewrite: {strip_prefix: /cart}
    request_headers: {set: {X-Client: "${client_ip}"}}
    rate_limit: {rate: 10/s}
    access: ["allow 10.0.0.0/8", "deny all"]
  - name: fallback
    match: {path_prefix: /}
    return: {status: 404, body: "no"}
`
	req, err := explain.ParseRequest("GET", "http://shop.example.no/cart/items?id=1", []string{"X-User: 42"})
	if err != nil {
		t.Fatal(err)
	}
	rep, diags, err := app.Explain(app.BytesSource("test.yaml", []byte(native)), req)
	if err != nil {
		t.Fatalf("%v\n%s", err, diags)
	}
	if rep.Route != "cart" || rep.Candidates[0].Route != "cart-post" || rep.Candidates[0].Verdict != "condition failed" {
		t.Fatalf("route %q, candidates %+v", rep.Route, rep.Candidates)
	}
	if u := rep.Upstream; u == nil || u.RequestURI != "/items?id=1" || !contains(u.Headers, "X-Client: <client ip>") || !contains(u.Headers, "X-User: 42") {
		t.Fatalf("upstream %+v", rep.Upstream)
	}
	if !slices.Equal(rep.Limits.Access, []string{"allow 10.0.0.0/8", "deny all"}) {
		t.Fatalf("access %q, want the route's rules in order", rep.Limits.Access)
	}
	if rep.Limits.RateLimit != "10/s per client_ip" || rep.Pick.HashKey != `header X-User = "42"` || rep.Pick.Chosen == "" {
		t.Fatalf("limits %+v pick %+v", rep.Limits, rep.Pick)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
