package demo

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newClient gives each test its own transport so its idle connections can
// be closed and goleak sees no client goroutines.
func newClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func startCluster(t *testing.T, services []string, per int) *Cluster {
	t.Helper()
	c, err := Start(t.Context(), services, per)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

func get(t *testing.T, client *http.Client, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp, body
}

func TestStartValidates(t *testing.T) {
	tests := []struct {
		name     string
		services []string
		per      int
	}{
		{"no services", nil, 1},
		{"zero per service", []string{"a"}, 0},
		{"empty name", []string{""}, 1},
		{"slash in name", []string{"a/b"}, 1},
		{"duplicate", []string{"a", "a"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := Start(t.Context(), tt.services, tt.per); err == nil {
				_ = c.Close()
				t.Fatalf("Start(%q, %d) succeeded", tt.services, tt.per)
			}
		})
	}
}

func TestEveryInstanceAnswersWithItsName(t *testing.T) {
	c := startCluster(t, []string{"auth", "orders"}, 3)
	client := newClient(t)
	insts := c.Instances()
	wantNames := []string{"auth-1", "auth-2", "auth-3", "orders-1", "orders-2", "orders-3"}
	if len(insts) != len(wantNames) {
		t.Fatalf("%d instances, want %d", len(insts), len(wantNames))
	}
	addrs := make(map[string]bool)
	for i, inst := range insts {
		t.Run(inst.Name, func(t *testing.T) {
			if inst.Name != wantNames[i] || !strings.HasPrefix(inst.Name, inst.Service+"-") {
				t.Fatalf("instance %d = %+v, want name %s", i, inst, wantNames[i])
			}
			if host, _, _ := net.SplitHostPort(inst.Addr); host != "127.0.0.1" || addrs[inst.Addr] {
				t.Fatalf("address %q not a fresh loopback address", inst.Addr)
			}
			addrs[inst.Addr] = true
			resp, body := get(t, client, "http://"+inst.Addr+"/"+inst.Service+"/login?x=1", map[string]string{
				"X-Request-Id": "rid-7", "X-Forwarded-For": "192.0.2.9",
				"X-Forwarded-Host": "api.example", "X-Forwarded-Proto": "https",
			})
			var got info
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			want := info{
				Service: inst.Service, Instance: inst.Name, Method: "GET", Path: "/" + inst.Service + "/login",
				Query: "x=1", RequestID: "rid-7", ForwardedFor: "192.0.2.9", ForwardedHost: "api.example",
				ForwardedProto: "https", Host: inst.Addr,
			}
			if resp.StatusCode != http.StatusOK || got != want || resp.Header.Get("X-Demo-Instance") != inst.Name {
				t.Errorf("got %d %+v (header %q), want 200 %+v", resp.StatusCode, got, resp.Header.Get("X-Demo-Instance"), want)
			}
		})
	}
}

func TestBehaviours(t *testing.T) {
	c := startCluster(t, []string{"auth"}, 1)
	client := newClient(t)
	base := "http://" + c.Instances()[0].Addr
	tests := []struct {
		path     string
		wantCode int
		wantBody string // substring
	}{
		{"/auth/status/503", 503, `"instance":"auth-1"`},
		{"/auth/status/418", 418, `"path":"/auth/status/418"`},
		{"/auth/status/204", 204, ""},
		{"/auth/status/99", 400, `"error"`},
		{"/auth/status/x", 400, `"error"`},
		{"/auth/slow?ms=1", 200, `"query":"ms=1"`},
		{"/auth/slow?ms=-1", 400, `"error"`},
		{"/auth/slow", 400, `"error"`},
		{"/auth/headers", 200, `"X-Custom":["yes"]`},
		{"/other/status/503", 200, `"path":"/other/status/503"`},
		{"/", 200, `"service":"auth"`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := get(t, client, base+tt.path, map[string]string{"X-Custom": "yes"})
			if resp.StatusCode != tt.wantCode || !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("GET %s = %d %s, want %d containing %s", tt.path, resp.StatusCode, body, tt.wantCode, tt.wantBody)
			}
			if tt.wantBody == "" && len(body) != 0 {
				t.Errorf("GET %s: body %q, want none", tt.path, body)
			}
		})
	}
}

// TestSlowHonoursClientCancel wraps the handler to see exactly when the
// request is inside it, then hangs up and expects the handler to return
// long before the requested 10 s.
func TestSlowHonoursClientCancel(t *testing.T) {
	entered, left := make(chan struct{}), make(chan struct{})
	h := &handler{inst: Instance{Service: "auth", Name: "auth-1"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		h.ServeHTTP(w, r)
		close(left)
	}))
	t.Cleanup(srv.Close)
	client := newClient(t)

	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/auth/slow?ms=10000", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-entered
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("client error = %v, want context.Canceled", err)
	}
	select {
	case <-left:
	case <-time.After(5 * time.Second):
		t.Fatal("slow handler still running 5 s after the client hung up")
	}
}

func TestCloseEndsSlowRequests(t *testing.T) {
	c, err := Start(t.Context(), []string{"auth"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	client := newClient(t)
	errc := make(chan error, 1)
	go func() {
		resp, err := client.Get("http://" + c.Instances()[0].Addr + "/auth/slow?ms=10000")
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	start := time.Now()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-errc; err == nil {
		t.Error("slow request succeeded after Close")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v with a slow request in flight", d)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestContextCancelStopsServers(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	c, err := Start(ctx, []string{"auth"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, inst := range c.Instances() {
		if conn, err := net.Dial("tcp", inst.Addr); err == nil {
			conn.Close()
			t.Errorf("%s still accepts connections after cancel", inst.Name)
		}
	}
}

// TestEchoStreams sends the body in pieces and reads each piece back before
// sending the next, which only works if echo does not buffer the body.
func TestEchoStreams(t *testing.T) {
	c := startCluster(t, []string{"auth"}, 1)
	client := newClient(t)
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+c.Instances()[0].Addr+"/auth/echo", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/plain")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST echo: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("echo answered %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, chunk := range []string{"first chunk", "second", "third and last"} {
		if _, err := io.WriteString(pw, chunk); err != nil {
			t.Fatalf("write %q: %v", chunk, err)
		}
		got := make([]byte, len(chunk))
		if _, err := io.ReadFull(resp.Body, got); err != nil || string(got) != chunk {
			t.Fatalf("read back %q, %v; want %q", got, err, chunk)
		}
	}
	pw.Close()
	if rest, err := io.ReadAll(resp.Body); err != nil || len(rest) != 0 {
		t.Errorf("after end of body: %q, %v; want clean EOF", rest, err)
	}
}
