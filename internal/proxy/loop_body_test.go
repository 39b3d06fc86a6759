//go:build linux

package proxy

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fjord-gw/fjord/internal/balancer"
	"github.com/fjord-gw/fjord/internal/limit"
)

// handleGoroutines counts goroutines serving a request with the goroutine engine's code (a hand-off).
func handleGoroutines() int { return goroutinesIn("proxy.(*conn).handle(", "proxy.(*conn).forward(") }

// postInPieces writes a POST with a body of size bytes in three pieces, 20 ms apart, calling mid after the first.
func postInPieces(t *testing.T, c *rawConn, path string, body string, mid func()) {
	t.Helper()
	c.write(fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", path, len(body)))
	third := len(body) / 3
	for i, piece := range []string{body[:third], body[third : 2*third], body[2*third:]} {
		if piece != "" {
			c.write(piece)
		}
		if i == 0 && mid != nil {
			time.Sleep(20 * time.Millisecond)
			mid()
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLoopCollectsRequestBodies: a request body of known length up to maxLoopBody that arrives in pieces is taken in
// by the event loop (no goroutine) before the upstream hears of the request, then sent with the head; a pipelined
// request behind it is served next.
func TestLoopCollectsRequestBodies(t *testing.T) {
	var started atomic.Int64
	up := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%s %d", r.Method, n)
	})
	p := startProxy(t, cfgOf(t, prefix("/", routeTo(t, hostOf(up)))))
	c := dialRaw(t, p.addr)
	for _, size := range []int{3, 9000, 20000, maxLoopBody} {
		body := strings.Repeat("b", size)
		before := started.Load()
		postInPieces(t, c, "/up", body, func() {
			if n := started.Load(); n != before {
				t.Errorf("size %d: the upstream saw the request before its body was in", size)
			}
			if n := handleGoroutines(); n != 0 {
				t.Errorf("size %d: %d goroutines serve the request; the loop should", size, n)
			}
		})
		c.write("GET /next HTTP/1.1\r\nHost: x\r\n\r\n") // pipelined right behind the body
		if resp, got := c.readResponse("POST"); resp.StatusCode != 200 || got != fmt.Sprintf("POST %d", size) {
			t.Fatalf("size %d: %d %q", size, resp.StatusCode, got)
		}
		if resp, got := c.readResponse("GET"); resp.StatusCode != 200 || got != "GET 0" {
			t.Fatalf("after size %d: %d %q", size, resp.StatusCode, got)
		}
	}
	// One byte over: streamed by a goroutine, as before.
	big := strings.Repeat("B", maxLoopBody+1)
	postInPieces(t, c, "/up", big, nil)
	if resp, got := c.readResponse("POST"); resp.StatusCode != 200 || got != fmt.Sprintf("POST %d", len(big)) {
		t.Fatalf("streamed body: %d %q", resp.StatusCode, got)
	}
}

// TestLoopCollectedBodyReplays: a collected body is sent again when the first instance refuses the connection, and
// goes with the request when a full bulkhead hands it to a goroutine to queue.
func TestLoopCollectedBodyReplays(t *testing.T) {
	up := digestUpstream(t)
	body := strings.Repeat("r", 30000)
	t.Run("retry", func(t *testing.T) {
		rt := &Route{Name: "r", Service: newService(t, balancer.RoundRobin, []string{deadAddr(t), up})}
		p := startProxy(t, cfgOf(t, prefix("/", rt)))
		c := dialRaw(t, p.addr)
		for i := range 4 { // round robin: every other request tries the dead instance first
			postInPieces(t, c, "/", body, nil)
			resp, _ := c.readResponse("POST")
			if resp.StatusCode != 200 || resp.Header.Get("X-Sum") != sum(body) {
				t.Fatalf("request %d: %d, sum %s", i, resp.StatusCode, resp.Header.Get("X-Sum"))
			}
		}
	})
	t.Run("bulkhead queue", func(t *testing.T) {
		release := make(chan struct{})
		slow := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/hold" {
				<-release
			}
			n, _ := io.Copy(io.Discard, r.Body)
			fmt.Fprintf(w, "%d", n)
		})
		svc := newService(t, balancer.RoundRobin, []string{hostOf(slow)})
		svc.Limiter, svc.QueueTimeout = limit.NewLimiter(1, 1), 5*time.Second
		p := startProxy(t, cfgOf(t, prefix("/", &Route{Name: "r", Service: svc})))
		holder := dialRaw(t, p.addr)
		holder.write("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
		waitUntil(t, "the bulkhead to fill", func() bool { return svc.Limiter.InUse() == 1 })
		c := dialRaw(t, p.addr)
		done := make(chan string, 1)
		go func() {
			postInPieces(t, c, "/", body, nil)
			resp, got := c.readResponse("POST")
			done <- fmt.Sprint(resp.StatusCode, " ", got)
		}()
		waitUntil(t, "the upload to queue", func() bool { return svc.Limiter.Waiting() == 1 })
		close(release)
		if got := <-done; got != fmt.Sprint("200 ", len(body)) {
			t.Fatalf("queued upload: %s", got)
		}
		holder.readResponse("GET")
	})
}

// TestLoopBodyIdleTimeout: a client that stops in the middle of a body the loop collects gets a 408 and is closed
// after the body idle timeout; the upstream never hears of the request.
func TestLoopBodyIdleTimeout(t *testing.T) {
	var started atomic.Int64
	up := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) { started.Add(1) })
	cfg := cfgOf(t, prefix("/", routeTo(t, hostOf(up))))
	cfg.Client.BodyIdleTimeout = 200 * time.Millisecond
	p := startProxy(t, cfg)
	c := dialRaw(t, p.addr)
	c.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly part of it")
	start := time.Now()
	resp, body := c.readResponse("POST")
	if resp.StatusCode != 408 {
		t.Fatalf("%d %q, want 408", resp.StatusCode, body)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("408 after %v, want about the 200ms idle timeout", d)
	}
	c.expectClosed()
	if n := started.Load(); n != 0 {
		t.Fatalf("upstream saw %d requests", n)
	}
}

// TestLoopBodyAcrossReload: a reload that comes while the loop collects a body applies to the request: it is routed
// in the configuration in force once the body is in.
func TestLoopBodyAcrossReload(t *testing.T) {
	answer := func(name string) string {
		return hostOf(upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
			n, _ := io.Copy(io.Discard, r.Body)
			fmt.Fprintf(w, "%s %d", name, n)
		}))
	}
	old, fresh := answer("old"), answer("new")
	p := startProxy(t, cfgOf(t, prefix("/", routeTo(t, old))))
	c := dialRaw(t, p.addr)
	c.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n" + strings.Repeat("a", 5000))
	time.Sleep(20 * time.Millisecond)
	p.srv.Update(cfgOf(t, prefix("/", routeTo(t, fresh))))
	c.write(strings.Repeat("a", 15000))
	if resp, got := c.readResponse("POST"); resp.StatusCode != 200 || got != "new 20000" {
		t.Fatalf("%d %q, want the new route's answer", resp.StatusCode, got)
	}
}

// TestAdvanceOut writes a head and a body through writeUp's bookkeeping with every size of partial write, as a
// socket whose buffer is full takes them: every byte must go out once, in order.
func TestAdvanceOut(t *testing.T) {
	head, body := []byte("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n"), []byte("0123456789")
	want := string(head) + string(body)
	for step := 1; step <= len(want)+1; step++ {
		out, rest, sent := head, body, 0
		var got []byte
		for sent < len(out) || len(rest) > 0 {
			if sent == len(out) { // writeUp moves on to the body
				out, rest, sent = rest, nil, 0
				continue
			}
			// What one writev of out[sent:] and rest would take: at most step bytes.
			both := append(append([]byte(nil), out[sent:]...), rest...)
			n := min(step, len(both))
			got = append(got, both[:n]...)
			out, rest, sent = advanceOut(out, rest, sent, n)
		}
		if string(got) != want {
			t.Fatalf("writes of %d: %q, want %q", step, got, want)
		}
	}
}

// TestLoopTakesChunkedBodies: a chunked request body is taken in by the event loop before the upstream hears of the
// request (no goroutine), whether it came with its head or comes in pieces, re-encoded with its trailers as a
// goroutine would send it; the request pipelined behind it is served next.
func TestLoopTakesChunkedBodies(t *testing.T) {
	var started atomic.Int64
	held, release := make(chan struct{}, 1), make(chan struct{})
	up := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if r.URL.Path == "/hold" {
			held <- struct{}{}
			<-release
		}
		fmt.Fprintf(w, "%s %q te=%s trailer=%s", r.Method, body, strings.Join(r.TransferEncoding, ","), r.Trailer.Get("X-Trail"))
	})
	p := startProxy(t, cfgOf(t, prefix("/", routeTo(t, hostOf(up)))))
	c := dialRaw(t, p.addr)
	c.write("POST /hold HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Trail\r\n\r\n" +
		"5\r\nhello\r\n006;ext=1\r\n world\r\n0\r\nX-Trail: t1\r\n\r\n" +
		"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case <-held:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream never got the request")
	}
	if n := handleGoroutines(); n != 0 {
		t.Errorf("%d goroutines serve the chunked request; the loop should", n)
	}
	close(release)
	if resp, got := c.readResponse("POST"); resp.StatusCode != 200 || got != `POST "hello world" te=chunked trailer=t1` {
		t.Fatalf("chunked POST: %d %s", resp.StatusCode, got)
	}
	if resp, got := c.readResponse("GET"); resp.StatusCode != 200 || got != `GET "" te= trailer=` {
		t.Fatalf("pipelined GET: %d %s", resp.StatusCode, got)
	}
	// In pieces, a size line cut in two included: collected, then sent.
	before := started.Load()
	c.write("POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1")
	time.Sleep(20 * time.Millisecond)
	if n := started.Load(); n != before {
		t.Error("the upstream saw the request before its body was in")
	}
	if n := handleGoroutines(); n != 0 {
		t.Errorf("%d goroutines serve the request in pieces; the loop should", n)
	}
	c.write("0\r\n0123456789abcdef\r\n0\r\nX-Trail: t2\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, got := c.readResponse("POST"); resp.StatusCode != 200 || got != `POST "abc0123456789abcdef" te=chunked trailer=t2` {
		t.Fatalf("chunked POST in pieces: %d %s", resp.StatusCode, got)
	}
	if resp, got := c.readResponse("GET"); resp.StatusCode != 200 || got != `GET "" te= trailer=` {
		t.Fatalf("GET after the pieces: %d %s", resp.StatusCode, got)
	}
}

// TestLoopChunkedHandOff: a chunked body the loop does not keep (longer than it collects, malformed, over
// max_body_bytes, or stalled) is served as the goroutine engine serves it, from the body's first byte.
func TestLoopChunkedHandOff(t *testing.T) {
	up := digestUpstream(t)
	rt := routeTo(t, up)
	rt.MaxBodyBytes = 200 << 10
	cfg := cfgOf(t, prefix("/", rt))
	cfg.Client.BodyIdleTimeout = 300 * time.Millisecond
	p := startProxy(t, cfg)
	// chunkedPieces writes a chunked POST of data in chunks of 1000 bytes, a few at a time, 5 ms apart, then the
	// last chunk with a trailer and a pipelined GET.
	chunkedPieces := func(c *rawConn, data string) {
		c.write("POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Trail\r\n\r\n")
		var b strings.Builder
		for i := 0; i < len(data); i += 1000 {
			piece := data[i:min(i+1000, len(data))]
			fmt.Fprintf(&b, "%x\r\n%s\r\n", len(piece), piece)
			if b.Len() > 7000 {
				c.write(b.String())
				b.Reset()
				time.Sleep(5 * time.Millisecond)
			}
		}
		c.write(b.String() + "0\r\nX-Trail: tt\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	for _, size := range []int{30 << 10, 100 << 10} { // collected; handed off past what the loop keeps
		data := strings.Repeat("0123456789", size/10)
		c := dialRaw(t, p.addr)
		chunkedPieces(c, data)
		resp, _ := c.readResponse("POST")
		if resp.StatusCode != 200 || resp.Header.Get("X-Sum") != sum(data) || resp.Header.Get("X-Trailer") != "tt" ||
			resp.Header.Get("X-TE") != "chunked" {
			t.Fatalf("%d bytes: %d, len %s, trailer %q, te %q", size, resp.StatusCode, resp.Header.Get("X-Len"),
				resp.Header.Get("X-Trailer"), resp.Header.Get("X-TE"))
		}
		if resp, _ := c.readResponse("GET"); resp.StatusCode != 200 || resp.Header.Get("X-Path") != "/after" {
			t.Fatalf("%d bytes: the pipelined GET got %d %s", size, resp.StatusCode, resp.Header.Get("X-Path"))
		}
	}
	t.Run("with min_body_rate", func(t *testing.T) { // the goroutine meters the rate over the replayed bytes too
		cfg := cfgOf(t, prefix("/", routeTo(t, up)))
		cfg.Client.MinBodyRate, cfg.Client.MinBodyRateWindow = 1, time.Second
		c := dialRaw(t, startProxy(t, cfg).addr)
		data := strings.Repeat("r", 100<<10)
		chunkedPieces(c, data)
		if resp, _ := c.readResponse("POST"); resp.StatusCode != 200 || resp.Header.Get("X-Sum") != sum(data) {
			t.Fatalf("%d, len %s", resp.StatusCode, resp.Header.Get("X-Len"))
		}
	})
	t.Run("read buffer larger than the loop keeps", func(t *testing.T) {
		cfg := cfgOf(t, prefix("/", routeTo(t, up)))
		cfg.Client.MaxHeaderBytes = 128 << 10
		c := dialRaw(t, startProxy(t, cfg).addr)
		data := strings.Repeat("h", 80<<10) // arrives with the head, in one read of the large buffer
		c.write(fmt.Sprintf("POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(data), data) +
			"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, _ := c.readResponse("POST"); resp.StatusCode != 200 || resp.Header.Get("X-Sum") != sum(data) {
			t.Fatalf("%d, len %s", resp.StatusCode, resp.Header.Get("X-Len"))
		}
		if resp, _ := c.readResponse("GET"); resp.Header.Get("X-Path") != "/after" {
			t.Fatalf("the pipelined GET got %d %s", resp.StatusCode, resp.Header.Get("X-Path"))
		}
	})
	t.Run("over max_body_bytes", func(t *testing.T) {
		c := dialRaw(t, p.addr)
		chunkedPieces(c, strings.Repeat("x", 250<<10))
		if resp, body := c.readResponse("POST"); resp.StatusCode != 413 {
			t.Fatalf("%d %s, want 413", resp.StatusCode, body)
		}
	})
	t.Run("malformed after a first piece", func(t *testing.T) {
		c := dialRaw(t, p.addr)
		c.write("POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
		time.Sleep(20 * time.Millisecond)
		c.write("zz\r\nabc\r\n0\r\n\r\n")
		if resp, body := c.readResponse("POST"); resp.StatusCode != 400 {
			t.Fatalf("%d %s, want 400", resp.StatusCode, body)
		}
		c.expectClosed()
	})
	t.Run("stalled", func(t *testing.T) {
		c := dialRaw(t, p.addr)
		c.write("POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
		if resp, body := c.readResponse("POST"); resp.StatusCode != 408 {
			t.Fatalf("%d %s, want 408", resp.StatusCode, body)
		}
		c.expectClosed()
	})
}

// TestLoopChunkedSplitEverywhere: a chunked body cut in two at every byte, each piece a separate read for the
// loop, reaches the upstream whole, trailers included, and the request behind it is served.
func TestLoopChunkedSplitEverywhere(t *testing.T) {
	p := startProxy(t, cfgOf(t, prefix("/", routeTo(t, digestUpstream(t)))))
	const body = "4;a=b\r\nwiki\r\n005\r\npedia\r\n0;last\r\nX-Trail: t9\r\nX-Other: o\r\n\r\n"
	c := dialRaw(t, p.addr)
	for i := 0; i <= len(body); i++ {
		c.write("POST /split HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Trail\r\n\r\n" + body[:i])
		time.Sleep(time.Millisecond) // the loop reads the first piece on its own
		c.write(body[i:] + "GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, got := c.readResponse("POST")
		if resp.StatusCode != 200 || resp.Header.Get("X-Sum") != sum("wikipedia") || resp.Header.Get("X-Trailer") != "t9" {
			t.Fatalf("cut at %d: %d %q, len %s, trailer %q", i, resp.StatusCode, got, resp.Header.Get("X-Len"),
				resp.Header.Get("X-Trailer"))
		}
		if resp, _ := c.readResponse("GET"); resp.Header.Get("X-Path") != "/after" {
			t.Fatalf("cut at %d: the request behind got %d %s", i, resp.StatusCode, resp.Header.Get("X-Path"))
		}
	}
}

// TestLoopUploadsConcurrent: clients upload bodies of every size class at once, chunked or with a Content-Length
// (collected, grown, handed off past what the loop keeps), cut at random places, each followed by a pipelined POST
// of up to 30 KB (more than the read buffer has room for behind a head) and a pipelined GET; every body arrives
// whole and every connection stays in step.
func TestLoopUploadsConcurrent(t *testing.T) {
	for _, chunked := range []bool{true, false} {
		t.Run(map[bool]string{true: "chunked", false: "length"}[chunked], func(t *testing.T) {
			p := startProxy(t, cfgOf(t, prefix("/", routeTo(t, digestUpstream(t)))))
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for w := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := uploadPipelined(p.addr, rand.New(rand.NewPCG(uint64(w), 3)), chunked); err != nil {
						errs <- fmt.Errorf("client %d: %w", w, err)
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// uploadPipelined makes 12 uploads on one connection for TestLoopUploadsConcurrent and checks their answers.
func uploadPipelined(addr string, rng *rand.Rand, chunked bool) error {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(nc)
	for i := range 12 {
		data := strings.Repeat(string(rune('a'+i)), rng.IntN(120<<10))
		next := strings.Repeat(string(rune('A'+i)), rng.IntN(30000))
		var b strings.Builder
		if chunked {
			b.WriteString("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
			for rest := data; len(rest) > 0; {
				n := min(len(rest), 1+rng.IntN(9000))
				fmt.Fprintf(&b, "%x\r\n%s\r\n", n, rest[:n])
				rest = rest[n:]
			}
			b.WriteString("0\r\n\r\n")
		} else {
			fmt.Fprintf(&b, "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(data), data)
		}
		fmt.Fprintf(&b, "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(next), next)
		b.WriteString("GET /g HTTP/1.1\r\nHost: x\r\n\r\n")
		for msg := b.String(); len(msg) > 0; { // in pieces of random size, a little apart
			n := min(len(msg), 1+rng.IntN(20000))
			if _, err := io.WriteString(nc, msg[:n]); err != nil {
				return err
			}
			msg = msg[n:]
			if rng.IntN(4) == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		for _, want := range []struct{ method, path, body string }{{"POST", "/c", data}, {"POST", "/p", next}, {"GET", "/g", ""}} {
			resp, err := http.ReadResponse(br, &http.Request{Method: want.method})
			if err != nil {
				return fmt.Errorf("upload %d (%d bytes), %s: %w", i, len(data), want.path, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != 200 || resp.Header.Get("X-Path") != want.path || resp.Header.Get("X-Sum") != sum(want.body) {
				return fmt.Errorf("upload %d (%d bytes), %s: %d %s, len %s", i, len(data), want.path, resp.StatusCode,
					resp.Header.Get("X-Path"), resp.Header.Get("X-Len"))
			}
		}
	}
	return nil
}
