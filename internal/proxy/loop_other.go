//go:build !linux

package proxy

import (
	"net"
	"time"

	"github.com/fjord-gw/fjord/internal/upstream"
)

// Without epoll there are no event loops: EngineLoop serves with goroutines. The declarations below only keep the
// shared code compiling; none of them is reached, because no connection is ever given to a loop.
type loop struct{}

type loopUp struct{ uc *upstream.Conn }

type fdConn struct{}

type loopListener struct{}

func (*loopListener) close() {}

func (s *Server) serveLoops(net.Listener, string, string, func() *ListenerMode) (bool, error) {
	return false, nil
}

func (s *Server) eventLoop() *loop { return nil }
func (c *conn) now() time.Time     { return time.Now() }

func loopSpliceable(net.Conn, net.Conn) (spliceConn, spliceConn, bool) { return nil, nil, false }
func (s *Server) stopLoopsLocked()                                     {}
func (l *loop) post(loopMsg)                                           {}
func (l *loop) write(*conn, []byte) error                              { panic("proxy: no event loops on this platform") }
func (l *loop) releaseUp(*conn, bool)                                  { panic("proxy: no event loops on this platform") }
func (l *loop) forward(*conn, *Config, *Route) bool {
	panic("proxy: no event loops on this platform")
}
