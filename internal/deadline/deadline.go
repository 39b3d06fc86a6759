// Package deadline wraps a connection so that every read and write carries the current exchange's timeouts.
package deadline

import (
	"net"
	"time"
)

// Conn applies two limits to each Read and Write of the wrapped connection: an idle limit (the operation must make
// progress within Idle) and a hard deadline (Hard, for the whole exchange). With Idle == 0 it does not touch the
// deadlines at all, so callers that set a fixed deadline themselves pay nothing per operation.
//
// A Conn is used by one goroutine at a time per direction, like net.Conn.
type Conn struct {
	net.Conn
	Idle time.Duration
	Hard time.Time
}

// Set changes the limits and applies them to both directions immediately.
func (c *Conn) Set(idle time.Duration, hard time.Time) error {
	c.Idle, c.Hard = idle, hard
	return c.Conn.SetDeadline(c.next())
}

// Clear removes both limits and the connection's deadlines.
func (c *Conn) Clear() error {
	c.Idle, c.Hard = 0, time.Time{}
	return c.Conn.SetDeadline(time.Time{})
}

func (c *Conn) next() time.Time {
	if c.Idle <= 0 {
		return c.Hard
	}
	d := time.Now().Add(c.Idle)
	if !c.Hard.IsZero() && c.Hard.Before(d) {
		return c.Hard
	}
	return d
}

// Read reads with the idle limit applied when one is set.
func (c *Conn) Read(p []byte) (int, error) {
	if c.Idle > 0 {
		if err := c.Conn.SetReadDeadline(c.next()); err != nil {
			return 0, err
		}
	}
	return c.Conn.Read(p)
}

// Write writes with the idle limit applied when one is set.
func (c *Conn) Write(p []byte) (int, error) {
	if c.Idle > 0 {
		if err := c.Conn.SetWriteDeadline(c.next()); err != nil {
			return 0, err
		}
	}
	return c.Conn.Write(p)
}
