// Package accesslog writes one line per finished request in JSON or nginx
// "combined" format without putting the disk on the request path.
//
// Log formats the entry into a small per-call scratch buffer, then appends
// the line to the logger's batch under a mutex held only for a copy. A
// goroutine owned by Run hands whole batches to the writer when they reach
// Options.BatchSize or every Options.FlushInterval. When the writer falls
// behind so that more than Options.MaxBuffered bytes wait, new entries are
// dropped and counted instead of growing memory or blocking the proxy.
//
// Concurrency: Log, Flush and Dropped may be called from any number of
// goroutines; Run must be called at most once at a time. A nil *Logger is a
// valid no-op logger.
package accesslog

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Format selects the line layout.
type Format uint8

const (
	Off      Format = iota // no logging; Log returns at once
	JSON                   // one JSON object per line
	Combined               // nginx/Apache combined log format
)

// formatNames is the single table behind ParseFormat and String, so the
// config keys and the error message cannot drift apart.
var formatNames = [...]string{Off: "off", JSON: "json", Combined: "combined"}

// ParseFormat maps a config value ("off", "json", "combined", any case) to a Format.
func ParseFormat(s string) (Format, error) {
	for f, name := range formatNames {
		if strings.EqualFold(s, name) {
			return Format(f), nil
		}
	}
	return Off, fmt.Errorf("accesslog: unknown format %q (valid: %s)", s, strings.Join(formatNames[:], ", "))
}

// String returns the config name of f.
func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// Entry is one finished request. Byte slices may alias the caller's
// buffers: Log copies what it needs before returning.
type Entry struct {
	Time       time.Time // when the request started
	Duration   time.Duration
	ClientIP   netip.Addr
	ClientPort uint16
	Method     []byte
	URI        []byte
	Host       []byte
	Referer    []byte
	UserAgent  []byte
	RequestID  []byte
	Proto      string // "HTTP/1.1"
	Status     int
	BytesSent  int64  // response body bytes sent to the client
	Route      string // route name
	Service    string // service name
	Upstream   string // instance address, "" if none
	Reason     string // why the gateway answered an error itself, "" if none
}

// Options tunes batching. The zero value gives the documented defaults.
type Options struct {
	// BatchSize wakes the flusher once this many bytes wait. Default 64 KiB.
	BatchSize int
	// FlushInterval bounds how long a line waits when traffic is light. Default 100 ms.
	FlushInterval time.Duration
	// MaxBuffered bounds bytes waiting or being written; entries past it are
	// dropped and counted. Default 8 MiB.
	MaxBuffered int
	// Location is the time zone of Combined timestamps (nginx uses local
	// time). Default time.Local. JSON timestamps are always UTC.
	Location *time.Location
	// OnError, if set, is called from the flushing goroutine when a write
	// fails; the entries of that batch are counted as dropped.
	OnError func(error)
}

const (
	defaultBatchSize     = 64 << 10
	defaultFlushInterval = 100 * time.Millisecond
	defaultMaxBuffered   = 8 << 20
	// maxScratch keeps one oversized entry from pinning a large buffer in the pool.
	maxScratch = 64 << 10
)

// Logger batches formatted entries for one writer. Create it with New.
type Logger struct {
	w        io.Writer
	format   Format
	loc      *time.Location
	batch    int
	interval time.Duration
	max      int
	onError  func(error)

	scratch sync.Pool // of *[]byte: formatting space so the lock covers only a copy
	wake    chan struct{}
	dropped atomic.Uint64

	mu       sync.Mutex
	buf      []byte // guarded by mu: lines not yet handed to the writer
	entries  int    // guarded by mu: lines in buf
	inflight int    // guarded by mu: bytes being written right now

	writeMu sync.Mutex // serialises writes so batches reach w in order
	spare   []byte     // guarded by writeMu: the last written batch, reused
}

// New returns a logger writing to w in format f. Nothing is written until
// Run or Flush is called. With f == Off the logger ignores w.
func New(w io.Writer, f Format, opt Options) *Logger {
	l := &Logger{
		w:        w,
		format:   f,
		loc:      opt.Location,
		batch:    opt.BatchSize,
		interval: opt.FlushInterval,
		max:      opt.MaxBuffered,
		onError:  opt.OnError,
		wake:     make(chan struct{}, 1),
	}
	if l.loc == nil {
		l.loc = time.Local
	}
	if l.batch <= 0 {
		l.batch = defaultBatchSize
	}
	if l.interval <= 0 {
		l.interval = defaultFlushInterval
	}
	if l.max <= 0 {
		l.max = defaultMaxBuffered
	}
	l.scratch.New = func() any {
		b := make([]byte, 0, 512)
		return &b
	}
	return l
}

// Log records e. It never waits for the writer and does not allocate in
// steady state; e is not retained. When the flusher lags more than two
// batches behind, Log yields the processor once so the flusher can run
// before the bound forces drops. Safe for concurrent use.
func (l *Logger) Log(e *Entry) {
	if l == nil || l.format == Off || e == nil {
		return
	}
	p := l.scratch.Get().(*[]byte)
	line := (*p)[:0]
	if l.format == JSON {
		line = appendJSON(line, e)
	} else {
		line = appendCombined(line, e, l.loc)
	}

	l.mu.Lock()
	n := len(l.buf)
	ok := n+l.inflight+len(line) <= l.max
	if ok {
		l.buf = append(l.buf, line...)
		l.entries++
	}
	l.mu.Unlock()

	switch {
	case !ok:
		l.dropped.Add(1)
	case n < l.batch && n+len(line) >= l.batch:
		// Only the entry that crosses the threshold signals; the flusher
		// takes the whole buffer, so one pending wake-up is enough.
		select {
		case l.wake <- struct{}{}:
		default:
		}
	case n >= 2*l.batch:
		// The flusher is woken but has not run: with every P busy logging
		// it would wait for preemption (10 ms, megabytes of lines). Let it
		// run now rather than drop entries; this costs no I/O.
		runtime.Gosched()
	}
	if cap(line) <= maxScratch {
		*p = line
		l.scratch.Put(p)
	}
}

// Dropped reports how many entries were discarded because the buffer was
// full or their batch failed to write.
func (l *Logger) Dropped() uint64 {
	if l == nil {
		return 0
	}
	return l.dropped.Load()
}

// Run flushes batches until ctx is done, then flushes what is buffered and
// returns that final flush's error. Write errors before that are reported to
// Options.OnError. Stop the producers before cancelling ctx: entries logged
// after Run returns wait for the next Flush.
func (l *Logger) Run(ctx context.Context) error {
	if l == nil || l.format == Off {
		<-ctx.Done()
		return nil
	}
	tick := time.NewTicker(l.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return l.Flush()
		case <-tick.C:
		case <-l.wake:
		}
		// Keep going while a full batch is already waiting again: a slow
		// write may have let the buffer refill past the threshold.
		for {
			rest, _ := l.flush()
			if rest < l.batch {
				break
			}
		}
	}
}

// Flush writes everything buffered so far and blocks until the writer
// returns. Safe to call concurrently with Run and Log.
func (l *Logger) Flush() error {
	if l == nil || l.format == Off {
		return nil
	}
	_, err := l.flush()
	return err
}

// flush hands the current batch to the writer and reports how many bytes
// were buffered meanwhile, so Run can tell whether to go again.
func (l *Logger) flush() (rest int, err error) {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()

	l.mu.Lock()
	out, n := l.buf, l.entries
	l.buf, l.entries = l.spare[:0], 0
	l.inflight = len(out)
	l.mu.Unlock()

	if len(out) > 0 {
		if _, werr := l.w.Write(out); werr != nil {
			l.dropped.Add(uint64(n))
			err = fmt.Errorf("accesslog: write %d entries: %w", n, werr)
			if l.onError != nil {
				l.onError(err)
			}
		}
	}

	// A burst may have grown this buffer far past a batch; let it go
	// rather than hold up to MaxBuffered for the life of the process. The
	// replacement is allocated here, off the request path, with room for a
	// late flush so Log rarely has to grow it.
	if cap(out) > 4*l.batch {
		out = nil
	}
	if out == nil {
		out = make([]byte, 0, 2*l.batch)
	}
	l.spare = out

	l.mu.Lock()
	l.inflight = 0
	rest = len(l.buf)
	l.mu.Unlock()
	return rest, err
}
