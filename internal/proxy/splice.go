package proxy

import (
	"io"
	"net"
	"time"
)

// Bodies of known length at least spliceMin bytes long move between two plain TCP connections with splice(2)
// (Go's TCPConn.ReadFrom does it on Linux): the bytes go from socket to socket through a kernel pipe without being
// copied into the process. Smaller bodies are cheaper to copy than to set up a splice for.
const (
	spliceMin   = 64 << 10
	spliceChunk = 1 << 20 // deadlines are refreshed between chunks
)

// minPositive is the smaller of two timeouts, ignoring a zero (unset) one.
func minPositive(a, b time.Duration) time.Duration {
	switch {
	case a <= 0:
		return b
	case b <= 0:
		return a
	}
	return min(a, b)
}

// spliceConn is a connection whose ReadFrom moves the bytes of another of its kind without copying them through
// the process: *net.TCPConn (Go splices between plain TCP connections) and fdConn (an event loop's sockets).
type spliceConn interface {
	net.Conn
	io.ReaderFrom
}

// spliceable returns the two connections when both ends are plain TCP connections of the same kind.
func spliceable(dst, src net.Conn) (spliceConn, spliceConn, bool) {
	if d, ok := dst.(*net.TCPConn); ok {
		if s, ok := src.(*net.TCPConn); ok {
			return d, s, true
		}
		return nil, nil, false
	}
	return loopSpliceable(dst, src)
}

// splice moves exactly n bytes from src to dst. Every chunk must make progress within idle (and everything finish by
// hard), like the buffered copy's per-operation deadlines. It leaves both connections' deadlines set; callers reset
// them before the next exchange.
func splice(dst, src spliceConn, n int64, idle time.Duration, hard time.Time) (int64, error) {
	lim := &io.LimitedReader{R: src}
	var done int64
	for done < n {
		d := hard
		if idle > 0 && (d.IsZero() || time.Now().Add(idle).Before(d)) {
			d = time.Now().Add(idle)
		}
		if err := src.SetReadDeadline(d); err != nil {
			return done, err
		}
		if err := dst.SetWriteDeadline(d); err != nil {
			return done, err
		}
		lim.N = min(n-done, spliceChunk)
		m, err := dst.ReadFrom(lim)
		done += m
		if err != nil {
			return done, err
		}
		if m == 0 {
			return done, io.ErrUnexpectedEOF
		}
	}
	return done, nil
}
