package admin

import (
	"io"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestStatusPage: / and /ui serve the same self-contained page, and /status still answers beside it.
func TestStatusPage(t *testing.T) {
	srv := httptest.NewServer(Handler(func() Status { return Status{} }, nil))
	defer srv.Close()
	for _, path := range []string{"/", "/ui"} {
		t.Run(path, func(t *testing.T) {
			resp, err := srv.Client().Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if string(body) != string(statusPage) {
				t.Fatalf("GET %s did not serve the embedded page", path)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
				t.Fatalf("GET %s: Content-Security-Policy %q", path, csp)
			}
		})
	}
}

// TestStatusPageSelfContained: the page loads nothing from elsewhere — no absolute URLs, no protocol-relative ones,
// no external script, stylesheet or image — so it works where the admin listener cannot reach the internet.
func TestStatusPageSelfContained(t *testing.T) {
	page := strings.ToLower(string(statusPage))
	for _, bad := range []string{"http://", "https://", `src="//`, `href="//`, "<script src", "<link", "@import", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("status page contains %q: it must not load external assets", bad)
		}
	}
	if !strings.Contains(page, `fetch("status"`) {
		t.Error("status page does not poll the relative URL status")
	}
}

// TestStatusPageFields: every JSON field the page's script reads exists in the JSON that /status serves. The page
// reads the JSON only through the variables st, rt, sv, inst and tr (a convention written at its top), so a renamed
// or misspelt field fails here instead of showing blanks in the browser.
func TestStatusPageFields(t *testing.T) {
	page := string(statusPage)
	start, end := strings.Index(page, "<script>"), strings.LastIndex(page, "</script>")
	if start < 0 || end < start {
		t.Fatal("no inline script in the status page")
	}
	script := page[start:end]
	types := map[string]reflect.Type{
		"st":   reflect.TypeFor[Status](),
		"rt":   reflect.TypeFor[RouteStatus](),
		"sv":   reflect.TypeFor[ServiceStatus](),
		"inst": reflect.TypeFor[InstanceStatus](),
		"tr":   reflect.TypeFor[Traffic](),
	}
	used := map[string]int{}
	for _, m := range regexp.MustCompile(`\b(st|rt|sv|inst|tr)\.([A-Za-z_][A-Za-z0-9_]*)`).FindAllStringSubmatch(script, -1) {
		used[m[1]]++
		if !hasJSONField(types[m[1]], m[2]) {
			t.Errorf("the page reads %s.%s, but %s has no JSON field %q", m[1], m[2], types[m[1]].Name(), m[2])
		}
	}
	for v, ty := range types {
		if used[v] == 0 {
			t.Errorf("the page never reads a %s through %s: the convention this test relies on is broken", ty.Name(), v)
		}
	}
}

func TestHasJSONField(t *testing.T) {
	tests := []struct {
		field string
		want  bool
	}{
		{"latency_buckets", true}, {"requests", true}, {"Requests", false}, {"status5xx", false},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			if got := hasJSONField(reflect.TypeFor[Traffic](), tt.field); got != tt.want {
				t.Fatalf("hasJSONField(Traffic, %q) = %v, want %v", tt.field, got, tt.want)
			}
		})
	}
}

func hasJSONField(t reflect.Type, name string) bool {
	for f := range t.Fields() {
		if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag == name {
			return true
		}
	}
	return false
}

// TestTrafficAdd: a service's traffic is the sum of its routes', buckets included, whatever order they come in.
func TestTrafficAdd(t *testing.T) {
	var sum Traffic
	sum.Add(Traffic{Requests: 3, Status5xx: 1, LatencySum: 0.5, LatencyBuckets: []uint64{1, 3}})
	sum.Add(Traffic{Requests: 2, Status4xx: 2, LatencySum: 0.25, LatencyBuckets: []uint64{2, 2}})
	want := Traffic{Requests: 5, Status4xx: 2, Status5xx: 1, LatencySum: 0.75, LatencyBuckets: []uint64{3, 5}}
	if !reflect.DeepEqual(sum, want) {
		t.Fatalf("sum = %+v, want %+v", sum, want)
	}
}
