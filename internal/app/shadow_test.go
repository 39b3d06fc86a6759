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

func shadowConfig(primary, shadowAddr, shadow string) string {
	return fmt.Sprintf(`
listeners: [{address: "127.0.0.1:0"}]
admin: {address: "127.0.0.1:0"}
services:
  mono: {instances: [%q]}
  wish: {instances: [%q]}
routes:
  - name: wish
    match: {path_prefix: /w/}
    service: mono
    shadow: %s
`, primary, shadowAddr, shadow)
}

// waitShadow polls the route's shadow counters until done says they are complete.
func waitShadow(t *testing.T, g *gateway, done func(admin.ShadowStatus) bool) admin.ShadowStatus {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		st := routeStatus(t, g, "wish").Shadow
		if st != nil && done(*st) {
			return *st
		}
		if time.Now().After(deadline) {
			t.Fatalf("shadow counters = %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestShadowDiffs(t *testing.T) {
	primary := newUpstream(t, "mono", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/w/same":
			io.WriteString(w, `{"id": 1, "items": ["a", "b"], "meta": {"ts": 111}}`)
		case "/w/text":
			io.WriteString(w, "hello")
		default:
			io.WriteString(w, `{"id": 1, "total": 10}`)
		}
	})
	sh := newUpstream(t, "wish", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/w/same": // keys reordered, spacing differs, an ignored field differs
			io.WriteString(w, `{"meta":{"ts":999},"items":["a","b"],"id":1}`)
		case "/w/text":
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "hello")
		default:
			io.WriteString(w, `{"id": 1, "total": 11}`)
		}
	})
	g := startGateway(t, shadowConfig(primary.addr, sh.addr,
		`{service: wish, compare: {headers: [Content-Type], ignore_json_fields: [meta.ts]}}`))
	c := newClient(t)
	mustGet(t, c, g.url("/w/same"), 200, `{"id": 1, "items": ["a", "b"], "meta": {"ts": 111}}`)
	mustGet(t, c, g.url("/w/same"), 200, `{"id": 1, "items": ["a", "b"], "meta": {"ts": 111}}`)
	mustGet(t, c, g.url("/w/diff"), 200, `{"id": 1, "total": 10}`)
	mustGet(t, c, g.url("/w/text"), 200, "hello")
	st := waitShadow(t, g, func(s admin.ShadowStatus) bool { return s.Match+s.Mismatch+s.Errors >= 4 })
	if st.Match != 2 || st.Mismatch != 2 || st.Errors != 0 {
		t.Fatalf("shadow counters = %+v, want 2 matches (reordered JSON) and 2 mismatches", st)
	}
	resp, err := http.Get("http://" + g.app.AdminAddress() + "/shadow?route=wish")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep struct {
		Samples []struct {
			URI     string                `json:"uri"`
			Diffs   []string              `json:"diffs"`
			Primary struct{ Body string } `json:"primary"`
			Shadow  struct{ Body string } `json:"shadow"`
		} `json:"samples"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range rep.Samples {
		got[s.URI] = strings.Join(s.Diffs, "; ")
		if s.URI == "/w/diff" && (!strings.Contains(s.Shadow.Body, "11") || !strings.Contains(s.Primary.Body, "10")) {
			t.Errorf("sample bodies = %q / %q", s.Primary.Body, s.Shadow.Body)
		}
	}
	if !strings.Contains(got["/w/diff"], "$.total") || !strings.Contains(got["/w/text"], "header Content-Type") ||
		len(got) != 2 {
		t.Fatalf("samples = %v", got)
	}
}

func TestShadowHangDoesNotDelayPrimary(t *testing.T) {
	release := make(chan struct{})
	primary := newUpstream(t, "mono", nil)
	sh := newUpstream(t, "wish", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	g := startGateway(t, shadowConfig(primary.addr, sh.addr, `{service: wish, max_concurrent: 2, timeout: 30s}`))
	c := newClient(t)
	c.Timeout = 3 * time.Second // far below the shadow's timeout: a primary that waited for the shadow fails
	for range 20 {
		mustGet(t, c, g.url("/w/x"), 200, "mono")
	}
	st := waitShadow(t, g, func(s admin.ShadowStatus) bool { return s.Mirrored+s.Dropped == 20 })
	if st.Mirrored != 2 || st.Dropped != 18 {
		t.Fatalf("shadow counters = %+v, want 2 mirrored (max_concurrent) and 18 dropped", st)
	}
	// POST is not mirrored unless listed.
	resp, err := c.Post(g.url("/w/x"), "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if st := routeStatus(t, g, "wish").Shadow; st.Mirrored+st.Dropped != 20 {
		t.Fatalf("a POST was mirrored: %+v", st)
	}
}
