package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"testing"
)

// benchResponse is the tiny upstream's fixed 64-byte response (39-byte head, 25-byte body).
var benchResponse = []byte("HTTP/1.1 200 OK\r\nContent-Length: 25\r\n\r\n" + benchBody)

const benchBody = "abcdefghijklmnopqrstuvwxy"

// benchUpstream answers every request head it reads with benchResponse (no net/http on this side).
func benchUpstream(b *testing.B) string { return benchUpstreamWith(b, benchResponse) }

// benchUpstreamWith answers every request head it reads with resp.
func benchUpstreamWith(b *testing.B, resp []byte) string {
	return rawUpstream(b, func(c net.Conn) {
		br := bufio.NewReaderSize(c, 4096)
		for {
			// ReadSlice does not allocate, so the upstream adds nothing to allocs/op.
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) != 2 { // not yet the empty line ending the head
				continue
			}
			if _, err := c.Write(resp); err != nil {
				return
			}
		}
	})
}

// BenchmarkProxyGET measures one keep-alive GET through the proxy, on each engine: raw client write -> proxy -> raw
// upstream and back, reading the response by its known length. Both engines must stay at 0 allocs/op.
func BenchmarkProxyGET(b *testing.B) {
	for _, e := range []struct {
		name   string
		engine Engine
	}{{"loop", EngineLoop}, {"goroutines", EngineGoroutines}} {
		b.Run(e.name, func(b *testing.B) { benchProxyGET(b, e.engine) })
	}
}

func benchProxyGET(b *testing.B, engine Engine) {
	cfg := cfgOf(b, prefix("/", routeTo(b, benchUpstream(b))))
	cfg.Engine = engine
	p := startProxy(b, cfg)
	req := []byte("GET /bench?x=1 HTTP/1.1\r\nHost: bench.test\r\nUser-Agent: fjord-bench\r\nAccept: */*\r\n\r\n")

	// Probe once for the length of the proxy's response rather than assume it equals the upstream's: every later
	// read expects exactly that many bytes.
	c := dialRaw(b, p.addr)
	c.write(string(req))
	head := c.readHead()
	resp, body := parseAfterHead(b, head, c.br, "GET")
	if resp.StatusCode != 200 || body != benchBody {
		b.Fatalf("probe: %d %q", resp.StatusCode, body)
	}
	respLen := len(head) + len(body)

	if len(benchResponse) != 64 {
		b.Fatalf("upstream response is %d bytes, want 64", len(benchResponse))
	}
	runKeepAlive(b, p.addr, req, respLen, []byte(benchBody))
}

// runKeepAlive is the timed part of the proxy benchmarks: each parallel client sends req over its own keep-alive
// connection and reads a response of respLen bytes that must end with tail, b.N times in all.
func runKeepAlive(b *testing.B, addr string, req []byte, respLen int, tail []byte) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer nc.Close()
		buf := make([]byte, respLen)
		for pb.Next() {
			if _, err := nc.Write(req); err != nil {
				b.Error(err)
				return
			}
			if _, err := io.ReadFull(nc, buf); err != nil {
				b.Error(err)
				return
			}
			if !bytes.HasSuffix(buf, tail) {
				b.Errorf("bad response %q", buf)
				return
			}
		}
	})
}

// BenchmarkProxyPOST is BenchmarkProxyGET with a 16 KiB request body of known length, which the loop collects and
// sends with the head: 0 allocs/op as well.
func BenchmarkProxyPOST(b *testing.B) {
	const size = 16 << 10
	up := rawUpstream(b, func(c net.Conn) {
		br := bufio.NewReaderSize(c, 4096)
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) != 2 {
				continue
			}
			if _, err := br.Discard(size); err != nil {
				return
			}
			if _, err := c.Write(benchResponse); err != nil {
				return
			}
		}
	})
	p := startProxy(b, cfgOf(b, prefix("/", routeTo(b, up))))
	req := []byte("POST /upload HTTP/1.1\r\nHost: bench.test\r\nContent-Length: 16384\r\n\r\n" + string(bytes.Repeat([]byte("p"), size)))
	c := dialRaw(b, p.addr)
	c.write(string(req))
	runKeepAlive(b, p.addr, req, len(c.readHead())+len(benchBody), []byte(benchBody))
}
