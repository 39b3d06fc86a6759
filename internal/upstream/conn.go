package upstream

import (
	"time"

	"github.com/fjord-gw/fjord/internal/deadline"
	"github.com/fjord-gw/fjord/internal/http1"
)

// Conn is one connection to an upstream instance with its read buffer. It is used by one request at a time.
// Reads and writes go through the embedded deadline.Conn, so the exchange's idle and total timeouts apply to them.
type Conn struct {
	deadline.Conn
	inst   *Instance
	R      *http1.Reader // buffered reader over this connection
	Reused bool          // taken from the idle pool rather than freshly dialled
	Dialed time.Duration // how long opening it took (TLS handshake included); for connection-time metrics

	idleSince time.Time
}

// Instance is the instance the connection belongs to.
func (c *Conn) Instance() *Instance { return c.inst }
