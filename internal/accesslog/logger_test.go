package accesslog

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// recorder keeps every Write call separately so tests can see batching.
type recorder struct {
	mu     sync.Mutex
	writes []string
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, string(p))
	return len(p), nil
}

func (r *recorder) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.writes...)
}

func entry(i int) *Entry {
	return &Entry{Method: []byte("GET"), URI: fmt.Appendf(nil, "/%d", i), Proto: "HTTP/1.1", Status: 200}
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in      string
		want    Format
		wantErr bool
	}{
		{"off", Off, false},
		{"json", JSON, false},
		{"JSON", JSON, false},
		{"combined", Combined, false},
		{"", Off, true},
		{"common", Off, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFormat(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseFormat(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if err != nil {
				if !strings.Contains(err.Error(), "off, json, combined") {
					t.Errorf("error %q does not list valid names", err)
				}
				return
			}
			if got != tt.want || got.String() != strings.ToLower(tt.in) {
				t.Errorf("ParseFormat(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// TestBatching runs on a fake clock: a batch is written when it crosses
// BatchSize or when FlushInterval passes, and not before.
func TestBatching(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rec recorder
		line := appendJSON(nil, entry(0))
		l := New(&rec, JSON, Options{BatchSize: 3 * len(line), FlushInterval: time.Second})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- l.Run(ctx) }()

		l.Log(entry(0))
		l.Log(entry(0))
		synctest.Wait()
		if n := len(rec.snapshot()); n != 0 {
			t.Fatalf("below batch size: %d writes, want 0", n)
		}
		l.Log(entry(0)) // crosses BatchSize
		synctest.Wait()
		if w := rec.snapshot(); len(w) != 1 || w[0] != strings.Repeat(string(line), 3) {
			t.Fatalf("after crossing batch size: writes %q", w)
		}

		l.Log(entry(0))
		time.Sleep(time.Second - time.Nanosecond)
		synctest.Wait()
		if n := len(rec.snapshot()); n != 1 {
			t.Fatalf("before interval: %d writes, want 1", n)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if n := len(rec.snapshot()); n != 2 {
			t.Fatalf("after interval: %d writes, want 2", n)
		}
		time.Sleep(5 * time.Second) // idle ticks must not write empty batches
		synctest.Wait()
		if n := len(rec.snapshot()); n != 2 {
			t.Fatalf("idle: %d writes, want 2", n)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
	})
}

func TestRunFlushesOnCancel(t *testing.T) {
	for _, f := range []Format{JSON, Combined} {
		t.Run(f.String(), func(t *testing.T) {
			var rec recorder
			l := New(&rec, f, Options{FlushInterval: time.Hour, Location: time.UTC})
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- l.Run(ctx) }()
			for i := range 3 {
				l.Log(entry(i))
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run: %v", err)
			}
			got := strings.Join(rec.snapshot(), "")
			var want []byte
			for i := range 3 {
				if f == JSON {
					want = appendJSON(want, entry(i))
				} else {
					want = appendCombined(want, entry(i), time.UTC)
				}
			}
			if got != string(want) {
				t.Errorf("flushed on cancel:\n got %q\nwant %q", got, want)
			}
		})
	}
}

// blockingWriter holds every Write until release is closed.
type blockingWriter struct {
	started chan struct{} // receives once per Write call
	release chan struct{}
	recorder
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	w.started <- struct{}{}
	<-w.release
	return w.recorder.Write(p)
}

func TestDropsWhenWriterBlocks(t *testing.T) {
	w := &blockingWriter{started: make(chan struct{}, 16), release: make(chan struct{})}
	line := appendJSON(nil, entry(0))
	const maxEntries = 10
	l := New(w, JSON, Options{BatchSize: 2 * len(line), FlushInterval: time.Hour, MaxBuffered: maxEntries * len(line)})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()

	l.Log(entry(0))
	l.Log(entry(0)) // wakes the flusher, which blocks writing 2 entries
	<-w.started
	const total = 100
	for range total - 2 {
		l.Log(entry(0)) // must return at once although the writer is stuck
	}
	// The two in flight count against the bound, so 8 more fit.
	if got, want := l.Dropped(), uint64(total-maxEntries); got != want {
		t.Fatalf("Dropped() = %d, want %d", got, want)
	}
	close(w.release)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	written := strings.Count(strings.Join(w.snapshot(), ""), "\n")
	if written != maxEntries || uint64(written)+l.Dropped() != total {
		t.Errorf("written %d + dropped %d, want %d + %d", written, l.Dropped(), maxEntries, total-maxEntries)
	}
}

type failWriter struct{ err error }

func (w failWriter) Write(p []byte) (int, error) { return 0, w.err }

func TestWriteErrorCountsDropped(t *testing.T) {
	boom := errors.New("disk full")
	var reported []error
	l := New(failWriter{boom}, JSON, Options{OnError: func(err error) { reported = append(reported, err) }})
	for i := range 4 {
		l.Log(entry(i))
	}
	err := l.Flush()
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "write 4 entries") {
		t.Fatalf("Flush() = %v, want wrapped %v", err, boom)
	}
	if l.Dropped() != 4 || len(reported) != 1 {
		t.Errorf("Dropped() = %d, reported %d errors; want 4 and 1", l.Dropped(), len(reported))
	}
	if err := l.Flush(); err != nil {
		t.Errorf("second Flush of an empty buffer = %v, want nil", err)
	}
}

func TestConcurrentLog(t *testing.T) {
	var rec recorder
	l := New(&rec, JSON, Options{BatchSize: 1024, FlushInterval: time.Millisecond, MaxBuffered: 1 << 20})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()

	const workers, each = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				l.Log(entry(w*each + i))
				if i%100 == 0 {
					_ = l.Flush()
				}
			}
		})
	}
	wg.Wait()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	seen := make(map[string]bool)
	sc := bufio.NewScanner(strings.NewReader(strings.Join(rec.snapshot(), "")))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("interleaved or broken line %q: %v", sc.Text(), err)
		}
		seen[m["uri"].(string)] = true
	}
	if uint64(len(seen))+l.Dropped() != workers*each {
		t.Errorf("distinct lines %d + dropped %d != %d", len(seen), l.Dropped(), workers*each)
	}
}

func TestNilAndOffAreNoOps(t *testing.T) {
	var rec recorder
	loggers := map[string]*Logger{"nil": nil, "off": New(&rec, Off, Options{})}
	for name, l := range loggers {
		t.Run(name, func(t *testing.T) {
			l.Log(entry(1))
			if err := l.Flush(); err != nil || l.Dropped() != 0 {
				t.Fatalf("Flush() = %v, Dropped() = %d", err, l.Dropped())
			}
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if err := l.Run(ctx); err != nil {
				t.Fatalf("Run: %v", err)
			}
			e := entry(1)
			if allocs := testing.AllocsPerRun(100, func() { l.Log(e) }); allocs != 0 {
				t.Errorf("Log allocates %v times, want 0", allocs)
			}
		})
	}
	if len(rec.snapshot()) != 0 {
		t.Errorf("off logger wrote %q", rec.snapshot())
	}
}

func TestLogDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	e := fullEntry()
	e.UserAgent = []byte("Mozilla/5.0 é \xff \"quoted\"")
	for _, f := range []Format{JSON, Combined} {
		t.Run(f.String(), func(t *testing.T) {
			l := New(io.Discard, f, Options{Location: time.UTC})
			n := 0
			if allocs := testing.AllocsPerRun(1000, func() {
				l.Log(e)
				if n++; n%100 == 0 { // flush as Run would, so both buffers are reused
					_ = l.Flush()
				}
			}); allocs != 0 {
				t.Errorf("Log allocates %v times per call, want 0", allocs)
			}
		})
	}
}

func TestOpenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	for _, s := range []string{"one\n", "two\n"} {
		w, err := OpenFile(path)
		if err != nil {
			t.Fatalf("OpenFile: %v", err)
		}
		if _, err := io.WriteString(w, s); err != nil {
			t.Fatalf("write: %v", err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "one\ntwo\n" {
		t.Fatalf("file = %q, %v; want appended lines", got, err)
	}

	missing := filepath.Join(t.TempDir(), "no", "such", "dir", "access.log")
	if _, err := OpenFile(missing); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("OpenFile(missing) = %v, want wrapped ErrNotExist naming the path", err)
	}
	if _, err := OpenFile(""); err == nil {
		t.Errorf("OpenFile(\"\") succeeded")
	}

	for name, f := range map[string]*os.File{"stdout": os.Stdout, "stderr": os.Stderr} {
		w, err := OpenFile(name)
		if err != nil {
			t.Fatalf("OpenFile(%s): %v", name, err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("Close(%s): %v", name, err)
		}
		if _, err := f.Stat(); err != nil {
			t.Errorf("Close closed the process %s: %v", name, err)
		}
	}
}
