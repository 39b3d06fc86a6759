package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fjord-gw/fjord/internal/balancer"
)

func TestUpstreamKeepAlive(t *testing.T) {
	ts, cl := countingUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	p := startProxy(t, cfgOf(t, prefix("/", routeTo(t, hostOf(ts)))))
	c := dialRaw(t, p.addr)
	const n = 100
	for i := range n {
		c.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, _ := c.readResponse("GET"); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
	if got := cl.n.Load(); got > 2 {
		t.Errorf("%d sequential requests opened %d upstream connections, want at most 2", n, got)
	}
}

// TestStalePooledConnection: the upstream answers one request per connection and then closes it without saying
// so; every reuse of a pooled connection fails and must be retried transparently on a fresh one.
func TestStalePooledConnection(t *testing.T) {
	var accepted atomic.Int64
	up := rawUpstream(t, func(c net.Conn) {
		accepted.Add(1)
		if _, err := readHeadFrom(bufio.NewReader(c)); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	p := startProxy(t, cfgOf(t, prefix("/", routeTo(t, up))))
	c := dialRaw(t, p.addr)
	const n = 10
	for i := range n {
		c.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, body := c.readResponse("GET"); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	if got := accepted.Load(); got != n {
		t.Errorf("upstream accepted %d connections, want %d (one per request)", got, n)
	}
}

// namedUpstream answers every request with its name.
func namedUpstream(t testing.TB, name string, h func(r *http.Request)) string {
	ts := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		if h != nil {
			h(r)
		}
		io.WriteString(w, name)
	})
	return hostOf(ts)
}

func get(t testing.TB, c *rawConn, path, extra string) string {
	t.Helper()
	c.write("GET " + path + " HTTP/1.1\r\nHost: x\r\n" + extra + "\r\n")
	resp, body := c.readResponse("GET")
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %q", path, resp.StatusCode, body)
	}
	return body
}

func TestRoundRobin(t *testing.T) {
	a, b := namedUpstream(t, "a", nil), namedUpstream(t, "b", nil)
	tests := []struct {
		name    string
		weights []int
		want    map[string]int
	}{
		{"equal", []int{1, 1}, map[string]int{"a": 50, "b": 50}},
		{"weighted 3:1", []int{3, 1}, map[string]int{"a": 75, "b": 25}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt := &Route{Name: "r", Service: newService(t, balancer.RoundRobin, []string{a, b}, tc.weights...)}
			p := startProxy(t, cfgOf(t, prefix("/", rt)))
			c := dialRaw(t, p.addr)
			got := map[string]int{}
			prev := ""
			for i := range 100 {
				name := get(t, c, "/", "")
				got[name]++
				if tc.weights[0] == tc.weights[1] && name == prev {
					t.Fatalf("request %d went to %s twice in a row", i, name)
				}
				prev = name
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("distribution %v, want %v", got, tc.want)
			}
		})
	}
}

func TestHashCookieSticky(t *testing.T) {
	a, b := namedUpstream(t, "a", nil), namedUpstream(t, "b", nil)
	svc := newService(t, balancer.Hash, []string{a, b})
	svc.HashFrom, svc.HashName = HashCookie, "session"
	p := startProxy(t, cfgOf(t, prefix("/", &Route{Name: "r", Service: svc})))
	c := dialRaw(t, p.addr)
	used := map[string]bool{}
	for k := range 32 {
		cookie := fmt.Sprintf("Cookie: theme=dark; session=user-%d; x=y\r\n", k)
		first := get(t, c, "/", cookie)
		used[first] = true
		for i := range 5 {
			if got := get(t, c, "/", cookie); got != first {
				t.Fatalf("session user-%d: request %d went to %s, first to %s", k, i, got, first)
			}
		}
	}
	if len(used) != 2 {
		t.Errorf("32 sessions all hashed to %v", used)
	}
}

func TestLeastConnAvoidsBusy(t *testing.T) {
	held := make(chan struct{}, 1)
	release := make(chan struct{})
	slow := namedUpstream(t, "slow", func(r *http.Request) {
		if r.URL.Path == "/slow" {
			held <- struct{}{}
			<-release
		}
	})
	fast := namedUpstream(t, "fast", nil)
	rt := &Route{Name: "r", Service: newService(t, balancer.LeastConn, []string{slow, fast})}
	p := startProxy(t, cfgOf(t, prefix("/", rt)))

	// Send /slow requests until one is held by the slow instance (those that land on fast return at once).
	slowDone := make(chan string, 1)
	sc := dialRaw(t, p.addr)
	go func() {
		for {
			if _, err := io.WriteString(sc.nc, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				slowDone <- err.Error()
				return
			}
			resp, err := http.ReadResponse(sc.br, nil)
			if err != nil {
				slowDone <- err.Error()
				return
			}
			body, _ := io.ReadAll(resp.Body)
			if string(body) == "slow" {
				slowDone <- "slow"
				return
			}
		}
	}()
	<-held
	c := dialRaw(t, p.addr)
	for i := range 20 {
		if got := get(t, c, "/fast", ""); got != "fast" {
			t.Errorf("request %d went to %s while it holds a slow request", i, got)
		}
	}
	close(release)
	if got := <-slowDone; got != "slow" {
		t.Errorf("slow request: %s", got)
	}
}

func TestUpgradeTunnel(t *testing.T) {
	up := rawUpstream(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		head, err := readHeadFrom(br)
		if err != nil || !strings.Contains(head, "\r\nUpgrade: websocket\r\n") || !strings.Contains(strings.ToLower(head), "connection: upgrade") {
			io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nhello")
		buf := make([]byte, 4096)
		for {
			n, err := br.Read(buf)
			if err != nil {
				return
			}
			if _, err := c.Write(bytes.ToUpper(buf[:n])); err != nil {
				return
			}
		}
	})
	p := startProxy(t, cfgOf(t, prefix("/", routeTo(t, up))))
	c := dialRaw(t, p.addr)
	c.write("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	head := c.readHead()
	if !strings.HasPrefix(head, "HTTP/1.1 101 ") || !strings.Contains(head, "\r\nUpgrade: websocket\r\n") ||
		!strings.Contains(head, "\r\nConnection: upgrade\r\n") {
		t.Fatalf("head %q", head)
	}
	for _, tc := range []struct{ send, want string }{{"", "hello"}, {"ping", "PING"}, {"more data", "MORE DATA"}} {
		c.write(tc.send)
		buf := make([]byte, len(tc.want))
		if _, err := io.ReadFull(c.br, buf); err != nil || string(buf) != tc.want {
			t.Fatalf("after sending %q: read %q, %v; want %q", tc.send, buf, err, tc.want)
		}
	}
	c.nc.(*net.TCPConn).CloseWrite()
	c.expectClosed()
}

func TestSmuggling(t *testing.T) {
	var complete atomic.Int64
	ts, cl := countingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err == nil {
			complete.Add(1)
		}
	})
	p := startProxy(t, cfgOf(t, prefix("/", routeTo(t, hostOf(ts)))))
	tests := []struct {
		name, req string
		noDial    bool // rejected while parsing the head: the upstream is never contacted
	}{
		{"CL and TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n", true},
		{"TE and CL", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", true},
		{"differing CL", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde", true},
		{"CL list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4, 5\r\n\r\nabcde", true},
		{"bad chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", false},
		{"chunk size overflow", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nabc\r\n0\r\n\r\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := cl.n.Load()
			c := dialRaw(t, p.addr)
			c.write(tc.req)
			resp, _ := c.readResponse("POST")
			if resp.StatusCode != 400 {
				t.Errorf("status %d, want 400", resp.StatusCode)
			}
			c.expectClosed()
			if tc.noDial && cl.n.Load() != before {
				t.Errorf("upstream was contacted")
			}
			if complete.Load() != 0 {
				t.Errorf("a complete request reached the upstream")
			}
		})
	}
}
