package proxy

import (
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestSlowlorisUnderLoad opens 2000 connections that dribble a request head one byte every 250 ms, while a normal
// client keeps making requests. The normal client's p99 must stay under 200 ms, and read_header_timeout (1 s here)
// must cut every slow connection (a 408 and close). Both engines.
func TestSlowlorisUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("opens thousands of connections")
	}
	slow := 2000
	if raceEnabled {
		slow = 500 // the race detector makes each of the proxy's goroutines several times dearer
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	// Both ends of every slow connection live in this process, plus the proxy's and the client's own.
	if need := uint64(2*slow + 512); rl.Cur < need {
		t.Skipf("open-file limit %d is below the %d this test needs (ulimit -n)", rl.Cur, need)
	}
	for _, e := range []struct {
		name   string
		engine Engine
	}{{"loop", EngineLoop}, {"goroutines", EngineGoroutines}} {
		t.Run(e.name, func(t *testing.T) { slowlorisRun(t, e.engine, slow) })
	}
}

func slowlorisRun(t *testing.T, engine Engine, slow int) {
	ts := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	cfg := cfgOf(t, prefix("/", routeTo(t, hostOf(ts))))
	cfg.Engine = engine
	cfg.Client.ReadHeaderTimeout = time.Second
	addr := startProxy(t, cfg).addr

	head := "GET / HTTP/1.1\r\nHost: slow\r\nX-Pad: " + strings.Repeat("a", 64) // never completed
	conns := make([]net.Conn, 0, slow)
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	for range slow {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial slow connection %d: %v", len(conns), err)
		}
		conns = append(conns, c)
		if _, err := c.Write([]byte(head[:1])); err != nil {
			t.Fatalf("first byte: %v", err)
		}
	}
	opened := time.Now()

	// One goroutine dribbles the next byte to every slow connection each tick, until told to stop; a connection
	// whose write fails (cut by the proxy) is left alone.
	stop := make(chan struct{})
	var dribbler sync.WaitGroup
	dribbler.Go(func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		dead := make([]bool, len(conns))
		for pos := 1; pos < len(head); pos++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for i, c := range conns {
				if dead[i] {
					continue
				}
				_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
				if _, err := c.Write([]byte{head[pos]}); err != nil {
					dead[i] = true
				}
			}
		}
	})

	// The normal client: a keep-alive request every 2 ms for 1.5 s, across the moment the slow ones are cut.
	cl := proxyClient(t)
	var lat []time.Duration
	pace := time.NewTicker(2 * time.Millisecond)
	defer pace.Stop()
	for ; len(lat) < 1000 && time.Since(opened) < 1500*time.Millisecond; <-pace.C {
		start := time.Now()
		resp, err := cl.Get("http://" + addr + "/normal")
		if err != nil {
			t.Fatalf("normal request %d: %v", len(lat), err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("normal request %d: status %d", len(lat), resp.StatusCode)
		}
		lat = append(lat, time.Since(start))
	}
	close(stop)
	dribbler.Wait()

	slices.Sort(lat)
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	t.Logf("%d slow connections: normal client %d requests, p50 %v, p99 %v, max %v", slow, len(lat),
		p50.Round(time.Microsecond), p99.Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
	if p99 > 200*time.Millisecond {
		t.Errorf("normal client's p99 %v with %d slow connections, want under 200 ms", p99, slow)
	}

	// Every slow connection is cut: a 408 (or a reset that overtook it) and then the close, well within 5 s.
	deadline := time.Now().Add(5 * time.Second)
	var answered, reset int
	for i, c := range conns {
		_ = c.SetReadDeadline(deadline)
		b, err := io.ReadAll(c)
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			t.Fatalf("slow connection %d still open %v after its first byte", i, time.Since(opened).Round(time.Millisecond))
		case strings.HasPrefix(string(b), "HTTP/1.1 408 "):
			answered++
		case err != nil && len(b) == 0:
			reset++
		default:
			t.Fatalf("slow connection %d: read %q, %v; want a 408", i, b, err)
		}
	}
	t.Logf("slow connections cut: %d with a 408, %d reset, all within %v", answered, reset,
		time.Since(opened).Round(time.Millisecond))
	if answered == 0 {
		t.Errorf("no slow connection got a 408")
	}
}
