package accesslog

import (
	"context"
	"io"
	"testing"
	"time"
)

// BenchmarkLog measures the request-path cost with the flusher running and
// the writer never blocking, from many goroutines at once.
func BenchmarkLog(b *testing.B) {
	for _, f := range []Format{JSON, Combined} {
		b.Run(f.String(), func(b *testing.B) {
			l := New(io.Discard, f, Options{Location: time.UTC})
			ctx, cancel := context.WithCancel(b.Context())
			done := make(chan error, 1)
			go func() { done <- l.Run(ctx) }()
			e := fullEntry()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					l.Log(e)
				}
			})
			b.StopTimer()
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			if d := l.Dropped(); d != 0 {
				b.Logf("dropped %d", d)
			}
		})
	}
}

// BenchmarkAppendJSON isolates formatting from batching.
func BenchmarkAppendJSON(b *testing.B) {
	e := fullEntry()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendJSON(buf[:0], e)
	}
}
