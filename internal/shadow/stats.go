package shadow

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Stats are a mirror's counters and its latest mismatches. The owner keeps one per route across reloads, so
// counters never go backwards. Safe for concurrent use.
type Stats struct {
	Mirrored    atomic.Uint64 // shadow exchanges started
	Match       atomic.Uint64 // answers that matched the primary's
	Mismatch    atomic.Uint64 // answers that differed (samples kept)
	Errors      atomic.Uint64 // shadow exchanges that failed (connect, timeout, malformed answer)
	Dropped     atomic.Uint64 // not mirrored: MaxConcurrent shadow exchanges were already running
	NotCompared atomic.Uint64 // mirrored, but a body was larger than max_body_bytes or streamed
	Skipped     atomic.Uint64 // eligible, but the request body streamed or was larger than max_body_bytes

	mu      sync.Mutex
	ring    []Sample // the latest mismatches, oldest first once full (see add)
	next    int
	lastErr string
}

// DefaultSamples is how many mismatches a Stats keeps.
const DefaultSamples = 32

// NewStats returns counters keeping the latest n mismatch samples (DefaultSamples when n <= 0).
func NewStats(n int) *Stats {
	if n <= 0 {
		n = DefaultSamples
	}
	return &Stats{ring: make([]Sample, 0, n)}
}

// Sample is one mismatch with both sides.
type Sample struct {
	Time    time.Time `json:"time"`
	Method  string    `json:"method"`
	URI     string    `json:"uri"`
	Diffs   []string  `json:"diffs"`
	Primary Side      `json:"primary"`
	Shadow  Side      `json:"shadow"`
}

// Side is one answer in a sample; the body is cut at maxSampleBody bytes.
type Side struct {
	Status  int         `json:"status"`
	Headers [][2]string `json:"headers,omitempty"`
	Body    string      `json:"body"`
}

const maxSampleBody = 4 << 10

func side(r *Response) Side {
	b := r.Body
	if len(b) > maxSampleBody {
		b = b[:maxSampleBody]
	}
	s := string(b)
	if !utf8.ValidString(s) {
		s = "(binary, " + itoa(len(r.Body)) + " bytes)"
	}
	return Side{Status: r.Status, Headers: r.Headers, Body: s}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}

func (s *Stats) add(x Sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ring) < cap(s.ring) {
		s.ring = append(s.ring, x)
		return
	}
	s.ring[s.next] = x
	s.next = (s.next + 1) % len(s.ring)
}

func (s *Stats) fail(err error) {
	s.Errors.Add(1)
	msg := err.Error()
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		msg = "timeout: " + msg
	}
	s.mu.Lock()
	s.lastErr = msg
	s.mu.Unlock()
}

// Counts is a read of the counters.
type Counts struct {
	Mirrored    uint64 `json:"mirrored"`
	Match       uint64 `json:"match"`
	Mismatch    uint64 `json:"mismatch"`
	Errors      uint64 `json:"errors"`
	Dropped     uint64 `json:"dropped"`
	NotCompared uint64 `json:"not_compared"`
	Skipped     uint64 `json:"skipped"`
	LastError   string `json:"last_error,omitempty"`
}

// Counts reads the counters (each atomically; the set is not a snapshot).
func (s *Stats) Counts() Counts {
	s.mu.Lock()
	last := s.lastErr
	s.mu.Unlock()
	return Counts{Mirrored: s.Mirrored.Load(), Match: s.Match.Load(), Mismatch: s.Mismatch.Load(),
		Errors: s.Errors.Load(), Dropped: s.Dropped.Load(), NotCompared: s.NotCompared.Load(),
		Skipped: s.Skipped.Load(), LastError: last}
}

// Samples returns the kept mismatches, newest first.
func (s *Stats) Samples() []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Sample, 0, len(s.ring))
	n := len(s.ring)
	for i := range n {
		// Before the ring is full next is 0 and the newest is last; after, the newest is just before next.
		j := (s.next - 1 - i + 2*n) % n
		if len(s.ring) < cap(s.ring) {
			j = n - 1 - i
		}
		out = append(out, s.ring[j])
	}
	return out
}
