package proxy

import (
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// patternReader generates a deterministic byte stream on the fly (nothing is held but one block).
type patternReader struct {
	block []byte
	off   int
}

func newPattern() *patternReader {
	b := make([]byte, 61<<10) // odd size, so block boundaries never line up with the proxy's buffers
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return &patternReader{block: b}
}

func (r *patternReader) Read(p []byte) (int, error) {
	n := copy(p, r.block[r.off:])
	r.off = (r.off + n) % len(r.block)
	return n, nil
}

// heapWatch samples HeapInuse until stop is closed and returns the peak.
func heapWatch(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var peak uint64
		var ms runtime.MemStats
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				out <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

func TestStreamingBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("1 GiB transfers skipped in -short mode")
	}
	size := 1 << 30
	if raceEnabled {
		size = 256 << 20 // keeps the test near 5 s under -race; the memory bound is the same
	}
	const heapLimit = 64 << 20
	var want uint32
	{
		h := crc32.NewIEEE()
		io.Copy(h, io.LimitReader(newPattern(), int64(size)))
		want = h.Sum32()
	}
	up := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			h := crc32.NewIEEE()
			n, err := io.Copy(h, r.Body)
			w.Header().Set("X-Len", strconv.FormatInt(n, 10))
			w.Header().Set("X-Crc", strconv.FormatUint(uint64(h.Sum32()), 10))
			if err != nil {
				w.WriteHeader(500)
			}
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(size))
		io.Copy(w, io.LimitReader(newPattern(), int64(size)))
	})
	p := startProxy(t, cfgOf(t, prefix("/", routeTo(t, hostOf(up)))))

	tests := []struct {
		name string
		run  func(t *testing.T, c *rawConn) (n int64, crc uint32)
	}{
		{"upload", func(t *testing.T, c *rawConn) (int64, uint32) {
			c.write(fmt.Sprintf("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size))
			if _, err := io.Copy(c.nc, io.LimitReader(newPattern(), int64(size))); err != nil {
				t.Fatalf("upload: %v", err)
			}
			resp, _ := c.readResponse("POST")
			n, _ := strconv.ParseInt(resp.Header.Get("X-Len"), 10, 64)
			crc, _ := strconv.ParseUint(resp.Header.Get("X-Crc"), 10, 32)
			if resp.StatusCode != 200 {
				t.Errorf("status %d", resp.StatusCode)
			}
			return n, uint32(crc)
		}},
		{"download", func(t *testing.T, c *rawConn) (int64, uint32) {
			c.write("GET /down HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(c.br, nil)
			if err != nil {
				t.Fatalf("read response: %v", err)
			}
			h := crc32.NewIEEE()
			n, err := io.Copy(h, resp.Body)
			if err != nil {
				t.Fatalf("download: %v", err)
			}
			return n, h.Sum32()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, p.addr)
			_ = c.nc.SetDeadline(time.Now().Add(60 * time.Second))
			runtime.GC()
			stop := make(chan struct{})
			peak := heapWatch(stop)
			start := time.Now()
			n, crc := tc.run(t, c)
			close(stop)
			pk := <-peak
			t.Logf("%s: %d bytes in %v, peak HeapInuse %.1f MiB", tc.name, n, time.Since(start), float64(pk)/(1<<20))
			if n != int64(size) || crc != want {
				t.Errorf("got %d bytes crc %08x, want %d crc %08x", n, crc, size, want)
			}
			if pk > heapLimit {
				t.Errorf("peak HeapInuse %d MiB, limit %d MiB", pk>>20, heapLimit>>20)
			}
		})
	}
}
