package proxy

import (
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/fjord-gw/fjord/internal/http1"
	"github.com/fjord-gw/fjord/internal/upstream"
)

// Engine selects how plain-HTTP client connections are served.
type Engine uint8

const (
	// EngineLoop (the default) serves plain HTTP/1.1 connections from event loops, one per GOMAXPROCS, that read a
	// socket only when epoll reported data: no goroutine per connection and no read that fails with EAGAIN. A request
	// the loop cannot finish without blocking (a streamed request body, an upgrade, a full bulkhead, a large or
	// compressed response) is handed to a goroutine for its duration, running the same code as EngineGoroutines. TLS and h2c
	// connections always use goroutines. On platforms without epoll EngineLoop means EngineGoroutines.
	EngineLoop Engine = iota
	// EngineGoroutines serves every connection from a goroutine of its own, blocking in Go's netpoller.
	EngineGoroutines
)

// loopPhase is where a loop-served connection stands.
type loopPhase uint8

const (
	lcIdle    loopPhase = iota // waiting for the next request; holds no buffer
	lcHead                     // part of a request head has arrived
	lcConnect                  // waiting for a dial to the upstream
	lcSend                     // the request is partly written to the upstream
	lcWait                     // waiting for the upstream's response
	lcBody                     // relaying the rest of a response body (relayUp, relayChunked)
	lcBodyIn                   // collecting a request body before the exchange starts (collectBody)
	lcFlush                    // the response is partly written to the client; the next request waits for the rest
	lcAway                     // a goroutine serves the connection (see loop.handOff)
)

// loopState is what a client connection served by an event loop keeps between events. It is owned by the loop,
// except while the phase is lcAway (then by the goroutine the loop handed it to); away mirrors that for Shutdown.
// The zero value (lp nil) means the connection is served by its own goroutine.
type loopState struct {
	lp       *loop
	fd       int
	slot     uint32
	phase    loopPhase
	inLoop   bool // the loop owns the connection: writes go through loop.write
	away     atomic.Bool
	src      fdSource
	deadline int64  // unix nanoseconds when the current wait times out; 0: none
	pending  []byte // response bytes the socket did not take yet
	closing  bool   // close once pending is written (lcFlush)
	pre      *Route // route matched before the request was started (saves a second match)
	// fc is the socket as a net.Conn for a goroutine the loop hands the connection to (nc while away), made at the
	// first hand-off; addrs are its local and remote addresses.
	fc    *fdConn
	addrs [2]net.Addr
	// lent is the loop's upstream connection a goroutine relays the current response from (handOffRelay); it comes
	// back with the client connection, to be pooled when lentKeep.
	lent     *loopUp
	lentKeep bool

	// The exchange in progress (lcConnect, lcSend, lcWait).
	cfg     *Config
	rt      *Route
	inst    *upstream.Instance
	up      *loopUp
	rs      retrier
	hard    time.Time
	begun   bool // inst.Begin was called for the current attempt
	limited bool // holds a slot of rt.Service.Limiter
	out     []byte
	outBody []byte // the request body, when it does not fit in out's buffer: written after out
	sent    int
	sentAt  time.Time            // when the request started going out (time-to-first-byte metric)
	rl      relay                // lcBody: the response being relayed
	chunk   http1.ChunkedDecoder // where the decoding of a chunked body stands: a response (lcBody) or a request (lcBodyIn)

	// lcBodyIn: the request body of known length being collected (collectBody); it stays for replays until the
	// exchange ends.
	body     *buffer
	bodyN    int   // bytes collected (for a chunked body, of its canonical re-encoding)
	bodyWin  int64 // end of the current min_body_rate window (unix nanoseconds); 0: no rate enforced
	bodyGot  int64 // bytes that arrived in the current window
	bodyLast int64 // when bytes last arrived (the body idle timeout counts from it)
}

type loopMsgKind uint8

const (
	msgAdopt    loopMsgKind = iota // a new client connection for the loop
	msgBack                        // a goroutine is done with c; keep says whether c stays open
	msgDialed                      // the dial for c's exchange finished: uc or err
	msgShutdown                    // Shutdown began
	msgForce                       // Shutdown's deadline passed: close c now
	msgStop                        // all connections are gone: stop the loop
	msgListen                      // accept from ll too
	msgUnlisten                    // stop accepting from ll, then send on ack
)

type loopMsg struct {
	kind loopMsgKind
	c    *conn
	keep bool
	uc   *upstream.Conn
	err  error
	ll   *loopListener
	ack  chan<- struct{}
}

// errWouldBlock is what an fdSource returns when the socket has no data: the loop waits for epoll instead.
var errWouldBlock = errors.New("proxy: read would block")

// fdSource reads a non-blocking socket for an http1.Reader. ready is false once a read came back short (the socket is
// drained, so the next data arrives with a new edge-triggered event) and true again when epoll reports input.
type fdSource struct {
	fd    int
	ready bool
	// hup: epoll reported the peer's FIN (EPOLLRDHUP) or a hang-up. The data and the FIN often come in one event;
	// a short read then does not mean that the next read would block (it returns EOF), and no new event will come
	// for the FIN, so ready stays true until a read says EOF or EAGAIN.
	hup bool
}

// send writes b to the client: through the event loop while it owns the connection (a short write is finished when
// the socket is writable again), else with a plain blocking write.
func (c *conn) send(b []byte) error {
	if c.lc.inLoop {
		return c.lc.lp.write(c, b)
	}
	_, err := c.nc.Write(b)
	return err
}
