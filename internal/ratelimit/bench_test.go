package ratelimit

import (
	"encoding/binary"
	"testing"
)

func BenchmarkAllowExisting(b *testing.B) {
	l := New(Limit{Rate: 1e9, Burst: 1 << 30}, Options{})
	key := []byte("203.0.113.7")
	b.ReportAllocs()
	for b.Loop() {
		l.Allow(key)
	}
}

// BenchmarkAllowNewKeys uses a new key per call on a warmed (full) table: every call evicts.
func BenchmarkAllowNewKeys(b *testing.B) {
	l := New(Limit{Rate: 1, Burst: 10}, Options{MaxKeys: 4096})
	var key [8]byte
	for i := range 8192 {
		binary.LittleEndian.PutUint64(key[:], uint64(i))
		l.Allow(key[:])
	}
	i := uint64(1 << 32)
	b.ReportAllocs()
	for b.Loop() {
		i++
		binary.LittleEndian.PutUint64(key[:], i)
		l.Allow(key[:])
	}
}

func BenchmarkAllowParallel(b *testing.B) {
	l := New(Limit{Rate: 1e9, Burst: 1 << 30}, Options{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var key [8]byte
		i := uint64(0)
		for pb.Next() {
			i++
			binary.LittleEndian.PutUint64(key[:], i%1000)
			l.Allow(key[:])
		}
	})
}
