package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/fjord-gw/fjord/internal/balancer"
	"github.com/fjord-gw/fjord/internal/canary"
	"github.com/fjord-gw/fjord/internal/shadow"
)

// h2Get sends one request over cl and returns the status and body.
func h2Get(t *testing.T, cl *http.Client, method, url string, body io.Reader, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, url, err)
	}
	if resp.ProtoMajor != 2 {
		t.Fatalf("%s %s answered over %s, want HTTP/2", method, url, resp.Proto)
	}
	return resp.StatusCode, string(b)
}

func TestH2CanarySplit(t *testing.T) {
	// A request without its sticky cookie or header is keyed by the client address, as over HTTP/1.1.
	lo := netip.MustParseAddr("127.0.0.1").As16()
	cases := []struct {
		name   string
		sticky StickySource
		key    string // the cookie or header name
		hdr    func(user string) []string
	}{
		{"header", StickyHeader, "X-User", func(u string) []string { return []string{"X-User", u} }},
		{"cookie", StickyCookie, "uid", func(u string) []string { return []string{"Cookie", "a=b; uid=" + u} }},
		{"client ip", StickyClientIP, "", func(string) []string { return nil }},
	}
	for _, m := range h2Modes() {
		t.Run(m.name, func(t *testing.T) {
			oldSvc := newService(t, balancer.RoundRobin, []string{namedUpstream(t, "old", nil)})
			newSvc := newService(t, balancer.RoundRobin, []string{namedUpstream(t, "new", nil)})
			oldSvc.Name, newSvc.Name = "old", "new"
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					state := canary.New(canary.Scale/2, canary.Options{})
					if tc.sticky == StickyClientIP {
						// The smallest weight that sends 127.0.0.1 to the new side: keyed by anything else, most
						// requests would stay on the old one.
						for w := 1; !state.Choose(balancer.HashKey(lo[:])); w++ {
							state.SetWeight(w)
						}
					}
					rt := (&Route{Name: "r", Service: oldSvc}).WithCanary(newSvc, state, tc.sticky, tc.key)
					addr := startModeProxy(t, cfgOf(t, prefix("/", rt)), m.mode(t))
					cl := m.client(t)
					const users = 300
					first := make(map[string]string, users)
					toNew := 0
					for i := range users {
						user := fmt.Sprintf("user-%d", i)
						status, body := h2Get(t, cl, "GET", m.scheme+"://"+addr+"/x", nil, tc.hdr(user)...)
						if status != 200 || body != "old" && body != "new" {
							t.Fatalf("%s: %d %q", user, status, body)
						}
						first[user] = body
						if body == "new" {
							toNew++
						}
					}
					if tc.sticky == StickyClientIP {
						if toNew != users {
							t.Fatalf("%d of %d requests from 127.0.0.1 went to the canary (weight %s), want all",
								toNew, users, canary.Percent(state.Weight()))
						}
					} else if share := float64(toNew) / users; share < 0.4 || share > 0.6 {
						t.Fatalf("share to the canary = %.3f, want 0.5 ± 0.1", share)
					}
					for i := range 30 { // sticky: every key sees the side it saw first
						user := fmt.Sprintf("user-%d", i)
						for range 3 {
							if _, body := h2Get(t, cl, "GET", m.scheme+"://"+addr+"/x", nil, tc.hdr(user)...); body != first[user] {
								t.Fatalf("%s got %q, first got %q: not sticky", user, body, first[user])
							}
						}
					}
					st := state.State()
					if got := st.Old.Requests + st.New.Requests; got != users+90 {
						t.Errorf("canary observed %d requests, want %d", got, users+90)
					}
					if st.New.Requests != uint64(toNew+count(first, "new", 30)*3) {
						t.Errorf("canary observed %d for the new side, want %d", st.New.Requests, toNew+count(first, "new", 30)*3)
					}
				})
			}
		})
	}
}

// count is how many of users 0..n-1 first saw side.
func count(first map[string]string, side string, n int) int {
	k := 0
	for i := range n {
		if first[fmt.Sprintf("user-%d", i)] == side {
			k++
		}
	}
	return k
}

// waitCounts polls a mirror's counters until done says they are complete.
func waitCounts(t *testing.T, s *shadow.Stats, done func(shadow.Counts) bool) shadow.Counts {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := s.Counts()
		if done(c) {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("shadow counters = %+v", c)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestH2ShadowMirror(t *testing.T) {
	answer := func(total int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "application/json")
			switch r.URL.Path {
			case "/diff":
				fmt.Fprintf(w, `{"total": %d}`, total)
			default: // the same answer from both, which includes what the request carried
				fmt.Fprintf(w, `{"method": %q, "uri": %q, "body": %q}`, r.Method, r.URL.RequestURI(), body)
			}
		}
	}
	big := strings.Repeat("b", maxInlineBody+1) // streams: not in memory, so not mirrored
	for _, m := range h2Modes() {
		t.Run(m.name, func(t *testing.T) {
			primary := newService(t, balancer.RoundRobin, []string{hostOf(upstreamServer(t, answer(10)))})
			wish := newService(t, balancer.RoundRobin, []string{hostOf(upstreamServer(t, answer(11)))})
			mir := shadow.New(shadow.Options{Route: "r", Service: "wish", Percent: 100,
				Methods: []string{"GET", "POST"}}, wish.Pool, nil)
			t.Cleanup(mir.Close)
			rt := &Route{Name: "r", Service: primary, Shadow: mir}
			addr := startModeProxy(t, cfgOf(t, prefix("/", rt)), m.mode(t))
			cl := m.client(t)
			base := m.scheme + "://" + addr
			steps := []struct {
				method, path string
				body         string
				want         shadow.Counts // the counters after this request's mirror settled
			}{
				{"GET", "/same?q=1", "", shadow.Counts{Mirrored: 1, Match: 1}},
				{"GET", "/diff", "", shadow.Counts{Mirrored: 2, Match: 1, Mismatch: 1}},
				{"POST", "/same", "hello", shadow.Counts{Mirrored: 3, Match: 2, Mismatch: 1}},
				{"PUT", "/same", "", shadow.Counts{Mirrored: 3, Match: 2, Mismatch: 1}}, // method not listed
				{"POST", "/same", big, shadow.Counts{Mirrored: 3, Match: 2, Mismatch: 1, Skipped: 1}},
			}
			for _, s := range steps {
				t.Run(s.method+" "+s.path, func(t *testing.T) {
					var body io.Reader
					if s.body != "" {
						body = strings.NewReader(s.body)
					}
					if status, _ := h2Get(t, cl, s.method, base+s.path, body); status != 200 {
						t.Fatalf("status %d", status)
					}
					got := waitCounts(t, mir.Stats(), func(c shadow.Counts) bool {
						return c.Match+c.Mismatch+c.Errors+c.NotCompared >= s.want.Mirrored && c.Skipped >= s.want.Skipped
					})
					got.LastError = ""
					if got != s.want {
						t.Fatalf("shadow counters = %+v, want %+v", got, s.want)
					}
				})
			}
			samples := mir.Stats().Samples()
			if len(samples) != 1 || samples[0].URI != "/diff" || !strings.Contains(strings.Join(samples[0].Diffs, ";"), "total") {
				t.Fatalf("samples = %+v, want one for /diff on $.total", samples)
			}
		})
	}
}
