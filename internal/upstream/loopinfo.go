package upstream

import "time"

// The accessors below let an engine keep connections of its own (an event loop keeps one idle pool per loop, so
// that its connections stay registered with its poller) while honouring the instance's keep-alive settings.

// Plain reports whether connections to the instance are plain TCP (no TLS).
func (in *Instance) Plain() bool { return in.tls == nil }

// KeepAlive returns how many idle connections the instance keeps and for how long each may stay idle.
func (in *Instance) KeepAlive() (maxIdle int, idleTimeout time.Duration) {
	return in.opts.MaxIdle, in.opts.IdleTimeout
}

// Closed reports whether the instance was closed (a reload removed it): connections it lends out are closed after
// their exchange instead of being kept.
func (in *Instance) Closed() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.closed
}

// TakeIdle returns an idle pooled connection, or nil when there is none; it never dials.
func (in *Instance) TakeIdle() *Conn { return in.popIdle() }
