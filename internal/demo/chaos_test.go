package demo

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// callControl calls the chaos control server and returns the status and body.
func callControl(t *testing.T, c *Cluster, client *http.Client, method, pathQuery string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, "http://"+c.ControlAddr()+pathQuery, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, pathQuery, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", pathQuery, err)
	}
	return resp.StatusCode, string(body)
}

// mustControl calls the control server and fails unless it answers 200.
func mustControl(t *testing.T, c *Cluster, client *http.Client, pathQuery string) serviceJSON {
	t.Helper()
	code, body := callControl(t, c, client, http.MethodGet, pathQuery)
	var got serviceJSON
	if err := json.Unmarshal([]byte(body), &got); code != http.StatusOK || err != nil {
		t.Fatalf("GET %s = %d %s (%v)", pathQuery, code, body, err)
	}
	return got
}

// hangSignal makes every instance of c report on the returned channel when
// a request starts hanging.
func hangSignal(c *Cluster) <-chan string {
	ch := make(chan string, 16)
	for _, in := range c.insts {
		name := in.Name
		f := func() { ch <- name }
		in.h.chaos.onHang.Store(&f)
	}
	return ch
}

// asyncGet runs a GET in a goroutine; the result arrives on the channel.
func asyncGet(ctx context.Context, client *http.Client, url string) <-chan result {
	out := make(chan result, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err != nil {
			out <- result{err: err}
			return
		}
		resp.Body.Close()
		out <- result{code: resp.StatusCode}
	}()
	return out
}

type result struct {
	code int
	err  error
}

func waitResult(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("request still running after 5 s")
	}
	return result{}
}

func TestChaosModes(t *testing.T) {
	c := startCluster(t, []string{"auth", "wishlist"}, 1)
	client := newClient(t)
	wish, auth := "http://"+c.Instances()[1].Addr+"/wishlist/x", "http://"+c.Instances()[0].Addr+"/auth/x"
	tests := []struct {
		query    string
		minDelay time.Duration
		want     []int // statuses of consecutive requests
		wantBody string
	}{
		{"mode=ok", 0, []int{200, 200}, `"instance":"wishlist-1"`},
		{"mode=slow&ms=60", 60 * time.Millisecond, []int{200}, `"instance":"wishlist-1"`},
		{"mode=error", 0, []int{500, 500}, `"error":"demo chaos: wishlist-1 is in error mode"`},
		{"mode=flaky", 0, []int{200, 503, 200, 503}, `"error":"demo chaos: wishlist-1 is flaky"`},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got := mustControl(t, c, client, "/chaos/wishlist?"+tt.query)
			if mode := strings.TrimPrefix(strings.Split(tt.query, "&")[0], "mode="); got.Instances[0].Mode != Mode(mode) {
				t.Fatalf("control answered %+v, want mode %s", got, mode)
			}
			start := time.Now()
			var bodies string
			for i, want := range tt.want {
				resp, body := get(t, client, wish, nil)
				bodies += string(body)
				if resp.StatusCode != want {
					t.Errorf("request %d: status %d, want %d (%s)", i, resp.StatusCode, want, body)
				}
			}
			if d := time.Since(start); d < tt.minDelay {
				t.Errorf("answered after %v, want at least %v", d, tt.minDelay)
			}
			if !strings.Contains(bodies, tt.wantBody) {
				t.Errorf("bodies %s lack %s", bodies, tt.wantBody)
			}
			if resp, _ := get(t, client, auth, nil); resp.StatusCode != http.StatusOK {
				t.Errorf("auth answered %d while wishlist is %s", resp.StatusCode, tt.query)
			}
		})
	}
}

func TestSlowDefaultsAndCaps(t *testing.T) {
	c := startCluster(t, []string{"wishlist"}, 1)
	client := newClient(t)
	tests := []struct {
		query string
		want  int64
	}{
		{"mode=slow", DefaultSlowDelay.Milliseconds()},
		{"mode=slow&ms=250", 250},
		{"mode=slow&ms=99999999999999999", maxSlow.Milliseconds()},
		{"mode=ok&ms=250", 0},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			if got := mustControl(t, c, client, "/chaos/wishlist?"+tt.query); got.Instances[0].DelayMS != tt.want {
				t.Errorf("delay_ms = %d, want %d", got.Instances[0].DelayMS, tt.want)
			}
		})
	}
}

func TestHangUntilModeChangeOrClientLeaves(t *testing.T) {
	c := startCluster(t, []string{"wishlist"}, 2)
	client := newClient(t)
	hung := hangSignal(c)
	mustControl(t, c, client, "/chaos/wishlist?mode=hang")
	url := "http://" + c.Instances()[0].Addr + "/wishlist/x"

	// A client that gives up ends its request, and the hang does not answer.
	ctx, cancel := context.WithCancel(t.Context())
	gone := asyncGet(ctx, client, url)
	<-hung
	cancel()
	if r := waitResult(t, gone); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancelled request ended with %+v, want context.Canceled", r)
	}

	// Switching to error releases the waiting request as an error.
	held := asyncGet(t.Context(), client, url)
	<-hung
	select {
	case r := <-held:
		t.Fatalf("hanging request answered %+v before the mode changed", r)
	default:
	}
	mustControl(t, c, client, "/chaos/wishlist?mode=error")
	if r := waitResult(t, held); r.err != nil || r.code != http.StatusInternalServerError {
		t.Fatalf("released request = %+v, want 500", r)
	}
}

func TestCloseReleasesHangingRequests(t *testing.T) {
	c, err := Start(t.Context(), []string{"wishlist"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	client := newClient(t)
	hung := hangSignal(c)
	if err := c.SetChaos("wishlist", "", Chaos{Mode: ModeHang}); err != nil {
		t.Fatal(err)
	}
	held := asyncGet(t.Context(), client, "http://"+c.Instances()[0].Addr+"/wishlist/x")
	<-hung
	done := make(chan error, 1)
	go func() { done <- c.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked by a hanging request")
	}
	if r := waitResult(t, held); r.err == nil {
		t.Errorf("hanging request answered %d after Close", r.code)
	}
	if err := c.SetChaos("wishlist", "", Chaos{}); !errors.Is(err, errClosed) {
		t.Errorf("SetChaos after Close = %v, want errClosed", err)
	}
}

func TestCrashThenOKKeepsAddresses(t *testing.T) {
	c := startCluster(t, []string{"auth", "wishlist"}, 2)
	client := newClient(t)
	before := c.Instances()
	wish := before[2:]
	// Warm a keep-alive connection: a crash must break it too.
	if resp, _ := get(t, client, "http://"+wish[0].Addr+"/wishlist/x", nil); resp.StatusCode != 200 {
		t.Fatalf("before crash: %d", resp.StatusCode)
	}
	for _, round := range []string{"first", "second"} {
		t.Run(round, func(t *testing.T) {
			got := mustControl(t, c, client, "/chaos/wishlist?mode=crash")
			for i, s := range got.Instances {
				if s.Mode != ModeCrash || s.Addr != wish[i].Addr {
					t.Errorf("state %+v, want crash on %s", s, wish[i].Addr)
				}
			}
			for _, in := range wish {
				if conn, err := net.Dial("tcp", in.Addr); err == nil {
					conn.Close()
					t.Errorf("%s still accepts connections while crashed", in.Name)
				}
			}
			if r := waitResult(t, asyncGet(t.Context(), client, "http://"+wish[0].Addr+"/wishlist/x")); r.err == nil {
				t.Errorf("request to crashed instance answered %d", r.code)
			}
			if resp, _ := get(t, client, "http://"+before[0].Addr+"/auth/x", nil); resp.StatusCode != 200 {
				t.Errorf("auth answered %d while wishlist crashed", resp.StatusCode)
			}
			mustControl(t, c, client, "/chaos/wishlist?mode=ok")
			for _, in := range wish {
				if resp, body := get(t, client, "http://"+in.Addr+"/wishlist/x", nil); resp.StatusCode != 200 ||
					!strings.Contains(string(body), `"instance":"`+in.Name+`"`) {
					t.Errorf("%s after ok: %d %s", in.Name, resp.StatusCode, body)
				}
			}
		})
	}
	if after := c.Instances(); len(after) != len(before) || after[2] != before[2] || after[3] != before[3] {
		t.Errorf("instances changed: %v, was %v", after, before)
	}
}

func TestControlWhileHanging(t *testing.T) {
	c := startCluster(t, []string{"auth", "wishlist"}, 2)
	client := newClient(t)
	hung := hangSignal(c)
	// Only wishlist-2 hangs; wishlist-1 keeps answering.
	got := mustControl(t, c, client, "/chaos/wishlist?mode=hang&instance=wishlist-2")
	if got.Service != "wishlist" || got.Instances[0].Mode != ModeOK || got.Instances[1].Mode != ModeHang {
		t.Fatalf("after hang of wishlist-2: %+v", got)
	}
	held := asyncGet(t.Context(), client, "http://"+c.Instances()[3].Addr+"/wishlist/x")
	<-hung
	if resp, _ := get(t, client, "http://"+c.Instances()[2].Addr+"/wishlist/x", nil); resp.StatusCode != 200 {
		t.Errorf("wishlist-1 answered %d", resp.StatusCode)
	}
	code, body := callControl(t, c, client, http.MethodPost, "/chaos")
	var all struct{ Services []serviceJSON }
	if err := json.Unmarshal([]byte(body), &all); code != 200 || err != nil || len(all.Services) != 2 {
		t.Fatalf("GET /chaos = %d %s (%v)", code, body, err)
	}
	if s := all.Services[1]; s.Service != "wishlist" || s.Instances[1].Mode != ModeHang || all.Services[0].Instances[0].Mode != ModeOK {
		t.Errorf("listing: %s", body)
	}
	mustControl(t, c, client, "/chaos/wishlist?mode=ok")
	if r := waitResult(t, held); r.err != nil || r.code != 200 {
		t.Errorf("released request = %+v, want 200", r)
	}
}

func TestControlErrors(t *testing.T) {
	c := startCluster(t, []string{"wishlist"}, 1)
	client := newClient(t)
	tests := []struct {
		method, path string
		want         int
		wantBody     string
	}{
		{"GET", "/chaos/wishlist?mode=explode", 400, `unknown chaos mode \"explode\"`},
		{"GET", "/chaos/wishlist?mode=slow&ms=-5", 400, "ms must be"},
		{"GET", "/chaos/wishlist?mode=slow&ms=x", 400, "ms must be"},
		{"GET", "/chaos/nope?mode=hang", 404, `service \"nope\"`},
		{"GET", "/chaos/nope", 404, `no demo service \"nope\"`},
		{"GET", "/chaos/wishlist?mode=hang&instance=wishlist-9", 404, `instance \"wishlist-9\"`},
		{"GET", "/chaos/wishlist/extra", 404, "try /chaos"},
		{"GET", "/elsewhere", 404, "try /chaos"},
		{"PUT", "/chaos/wishlist?mode=hang", 405, "use GET or POST"},
		{"GET", "/healthz", 200, `"ok"`},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			code, body := callControl(t, c, client, tt.method, tt.path)
			if code != tt.want || !strings.Contains(body, tt.wantBody) {
				t.Errorf("= %d %s, want %d containing %s", code, body, tt.want, tt.wantBody)
			}
		})
	}
	if s := c.States(); len(s) != 1 || s[0].Mode != ModeOK {
		t.Errorf("failed requests changed the state: %+v", s)
	}
}
