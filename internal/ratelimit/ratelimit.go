// Package ratelimit decides whether a request may pass a token-bucket limit, per key (a client IP, an API key, or
// one key for a whole route).
//
// Limits are per gateway instance: each fjord process keeps its own buckets, so N instances behind a load balancer
// let through up to N times the configured rate. A limit shared across instances needs a shared store (Redis), a
// later issue.
//
// Memory is bounded whatever the number of distinct keys: buckets live in a fixed table allocated once by New, split
// into shards (one lock each) of small sets. A key is hashed to a shard and a set; when its set is full, a bucket
// that has refilled completely is replaced first (a full bucket is indistinguishable from a fresh one, so dropping
// it loses nothing), else the least recently seen one. Under a flood of more keys than the table holds, the keys
// seen least recently lose their state and start again with a full bucket: the limit fails open for them, never
// closed for an innocent client.
package ratelimit

import (
	"math"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Limit is a token bucket: Rate tokens per second are added up to Burst; each request takes one.
type Limit struct {
	Rate  float64 // tokens per second; must be > 0
	Burst int     // bucket size and the most requests let through at once; must be >= 1
}

// Options tune a Limiter. The zero value is usable.
type Options struct {
	// MaxKeys bounds the number of buckets kept (rounded up to fill every shard); default 65536. Each takes 24
	// bytes, allocated up front.
	MaxKeys int
	// Now is the clock; nil = time.Now. Tests pass a fake one.
	Now func() time.Time
}

// DefaultMaxKeys is the bucket count of a Limiter whose Options leave MaxKeys zero.
const DefaultMaxKeys = 1 << 16

const (
	shardCount = 64
	ways       = 8 // buckets per set: a key lives in one set, found by scanning it
)

// Decision is the outcome of one Allow call, with what the rate-limit response headers need.
type Decision struct {
	Allowed   bool
	Limit     int           // the bucket size (Burst)
	Remaining int           // whole tokens left after this request
	Wait      time.Duration // until one token is available; 0 when Allowed
	Reset     time.Duration // until the bucket is full again
}

// Limiter holds the buckets of one limit. It is safe for concurrent use; Allow blocks only on a shard lock held for
// a few dozen nanoseconds and never allocates.
type Limiter struct {
	limit   Limit
	nsPerTk float64 // nanoseconds per token
	now     func() time.Time
	epoch   time.Time // stamps are nanoseconds since epoch, so a bucket fits in 24 bytes
	setMask uint64
	shards  [shardCount]shard
}

type shard struct {
	mu      sync.Mutex
	buckets []bucket // len = sets*ways; set i is buckets[i*ways : (i+1)*ways]
	used    int      // buckets holding a key, for Len
	_       [40]byte // keep neighbouring shards' locks off one cache line
}

// bucket is one key's state. hash 0 marks a free bucket (a key hashing to 0 is stored as 1).
type bucket struct {
	hash   uint64
	tokens float64 // as of stamp
	stamp  int64   // ns since Limiter.epoch of the last update
}

// New returns a Limiter for l; it reports nothing and panics on nothing: a non-positive rate or burst is raised to
// the smallest valid value (validation belongs to the config).
func New(l Limit, o Options) *Limiter {
	if l.Rate <= 0 || math.IsNaN(l.Rate) {
		l.Rate = math.SmallestNonzeroFloat64
	}
	if l.Burst < 1 {
		l.Burst = 1
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = DefaultMaxKeys
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	sets := 1
	for sets*shardCount*ways < o.MaxKeys {
		sets <<= 1
	}
	lm := &Limiter{limit: l, nsPerTk: 1e9 / l.Rate, now: o.Now, epoch: o.Now(), setMask: uint64(sets - 1)}
	for i := range lm.shards {
		lm.shards[i].buckets = make([]bucket, sets*ways)
	}
	return lm
}

// Limit returns the limit l enforces.
func (l *Limiter) Limit() Limit { return l.limit }

// Cap returns the most buckets l keeps.
func (l *Limiter) Cap() int { return shardCount * len(l.shards[0].buckets) }

// Len returns the number of buckets in use. It locks every shard in turn: for tests and status pages, not requests.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += s.used
		s.mu.Unlock()
	}
	return n
}

// Allow takes a token from key's bucket if it has one. key is not retained.
func (l *Limiter) Allow(key []byte) Decision { return l.AllowHash(xxhash.Sum64(key)) }

// AllowString is Allow for a string key.
func (l *Limiter) AllowString(key string) Decision { return l.AllowHash(xxhash.Sum64String(key)) }

// AllowHash is Allow for a key already hashed to 64 bits; distinct keys with equal hashes share a bucket.
func (l *Limiter) AllowHash(h uint64) Decision {
	if h == 0 {
		h = 1
	}
	now := int64(l.now().Sub(l.epoch))
	s := &l.shards[h%shardCount]
	set := (h / shardCount) & l.setMask
	s.mu.Lock()
	b := s.find(set, h, now, l)
	d := l.take(b, now)
	s.mu.Unlock()
	return d
}

// find returns key h's bucket in set, claiming one (free, then full, then least recently seen) when h has none.
// The caller holds s.mu.
func (s *shard) find(set, h uint64, now int64, l *Limiter) *bucket {
	bs := s.buckets[set*ways : (set+1)*ways]
	free, full, oldest := -1, -1, 0
	for i := range bs {
		b := &bs[i]
		switch {
		case b.hash == h:
			return b
		case b.hash == 0:
			if free < 0 {
				free = i
			}
		case full < 0 && l.tokensAt(b, now) >= float64(l.limit.Burst):
			full = i
		}
		if b.stamp < bs[oldest].stamp {
			oldest = i
		}
	}
	victim := oldest
	switch {
	case free >= 0:
		victim = free
		s.used++
	case full >= 0:
		victim = full
	}
	b := &bs[victim]
	*b = bucket{hash: h, tokens: float64(l.limit.Burst), stamp: now}
	return b
}

// tokensAt is b's token count at now, refilled since its last update (nothing when the clock went back).
func (l *Limiter) tokensAt(b *bucket, now int64) float64 {
	if now <= b.stamp {
		return b.tokens
	}
	t := b.tokens + float64(now-b.stamp)/l.nsPerTk
	return min(t, float64(l.limit.Burst))
}

// take updates b to now and takes one token if there is one.
func (l *Limiter) take(b *bucket, now int64) Decision {
	t := l.tokensAt(b, now)
	if now > b.stamp {
		b.stamp = now // a clock step backwards keeps the later stamp rather than minting tokens
	}
	d := Decision{Limit: l.limit.Burst}
	if t >= 1 {
		t--
		d.Allowed = true
	} else {
		d.Wait = l.dur(1 - t)
	}
	b.tokens = t
	d.Remaining = int(t)
	d.Reset = l.dur(float64(l.limit.Burst) - t)
	return d
}

// dur is the time needed to refill n tokens, rounded up to the nanosecond.
func (l *Limiter) dur(n float64) time.Duration {
	ns := math.Ceil(n * l.nsPerTk)
	if ns > math.MaxInt64 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(ns)
}
