package proxy

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fjord-gw/fjord/internal/accesslog"
	"github.com/fjord-gw/fjord/internal/compress"
	"github.com/fjord-gw/fjord/internal/deadline"
	"github.com/fjord-gw/fjord/internal/http1"
	"github.com/fjord-gw/fjord/internal/ratelimit"
	"github.com/fjord-gw/fjord/internal/router"
	"github.com/fjord-gw/fjord/internal/upstream"
)

const (
	stateActive int32 = iota
	stateIdle
)

// conn is one client connection and everything it reuses from request to request: the read buffer, the parsed
// request, the output buffer. It is owned by its serve goroutine; only state is touched by Shutdown.
type conn struct {
	srv *Server
	nc  net.Conn
	dc  deadline.Conn   // nc with the body timeouts applied; c.r reads through it
	raw syscall.RawConn // nc's descriptor for waiting without a buffer; nil when nc is not plain TCP
	rd  http1.Reader
	r   *http1.Reader // &rd
	// remote is the client address of the current request (after the trusted-proxy rules, see realip.go); client
	// that of the connection (the PROXY header's source, else peer); peer the TCP peer, which the connection limits
	// counted at accept.
	remote   netip.AddrPort
	client   netip.AddrPort
	peer     netip.AddrPort
	scheme   string
	listener string // name of the listener it came in on
	// tls is nc as a TLS server conn when the listener terminates TLS (its handshake is still to do when serve
	// starts); nil on plain connections.
	tls *tls.Conn
	// redirectPort, when non-zero, makes every request a 308 to https on that port (see redirect in tls.go).
	redirectPort int
	// pp is nc's PROXY-protocol layer on listeners with ListenerMode.ProxyProtocol; nil elsewhere.
	pp    *ppConn
	state atomic.Int32

	req  http1.Request
	resp http1.Response
	path []byte // cleaned path of the current request (routing and forwarding)
	wbuf []byte // head (and small body) of the message being written; wb's bytes while borrowed
	ridb [32]byte
	rate ratelimit.Decision // the current request's rate-limit decision, for a 429's headers

	// Borrowed buffers (see buffers.go): nil while the connection is idle.
	rb, wb, bb *buffer
	idleRead   func(fd uintptr) bool // c.idleReadFd, bound once, at the first wait (waitRequest)
	idleSize   int
	idleErr    error
	start      time.Time

	head []byte // the raw request head (aliases r's buffer until detached)
	// inlineBody is a small request body held in memory (in r's buffer; for an HTTP/2 stream, the body it read),
	// sent with the head, replayed on a retry and copied by a shadow mirror.
	inlineBody []byte
	requestID  []byte // the request's id: the client's X-Request-Id or ridb
	route      *Route // the route serving the current request (nil before routing)
	log        accesslog.Entry
	detached   bool         // request head copied out of r (its body streams through r)
	climit     chunkLimiter // cuts a chunked request body at its route's MaxBodyBytes
	tr         traceState   // the request's trace context when Config.Tracer is set (see trace.go)
	retries    int          // retries the goroutine engine made for the current request (the loop's are in lc.rs)
	// renc and rvary tell appendResponseHead how the response being relayed is encoded (compress.go); set only
	// around that call.
	renc  compress.Encoding
	rvary bool
	brate rateReader // the body's source while ClientLimits.MinBodyRate is enforced (bodyrate.go)

	// up is the upstream connection of the exchange in progress, so that a forced Shutdown can close it too: a
	// request blocked reading the upstream (waiting for a response head) does not notice its client conn closing.
	// Set and cleared by the serve goroutine; read by Shutdown.
	up atomic.Pointer[upstream.Conn]

	// lc is the connection's state while an event loop serves it (see loop.go); zero for goroutine-served ones.
	lc loopState

	// h2c: the listener accepts HTTP/2 with prior knowledge (see sniffH2C). h2 marks the per-stream view of an
	// HTTP/2 request (see h2.go), which has no nc of its own. h2base is set while the connection serves HTTP/2, so
	// that Shutdown can send it a GOAWAY (see wakeIfIdle).
	h2c    bool
	h2     bool
	h2base atomic.Pointer[http.Server]
}

var _ router.Request = (*conn)(nil)

func newConn(s *Server, nc net.Conn, scheme string) *conn {
	var remote netip.AddrPort
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		remote = ta.AddrPort()
		remote = netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	}
	c := newConnBase(s, scheme, remote)
	c.nc = nc
	c.dc.Conn = nc
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
		if raw, err := tc.SyscallConn(); err == nil {
			c.raw = raw
		}
	}
	return c
}

// retire gives back what an open connection holds once its socket is closed: buffers, its place in the connection
// limits (admitted with the peer's address) and in the server's set.
func (c *conn) retire() {
	c.releaseBuffers()
	c.srv.limits.release(c.peer.Addr())
	c.srv.untrack(c)
}

// newConnBase is a connection from remote without its socket (newConn adds a net.Conn, an event loop a descriptor).
func newConnBase(s *Server, scheme string, remote netip.AddrPort) *conn {
	c := &conn{srv: s, scheme: scheme, remote: remote, client: remote, peer: remote}
	c.r = &c.rd
	c.r.Reset(&c.dc)
	c.path = make([]byte, 0, 128)
	return c
}

// Host, Path, Method and Header make conn the router's view of the current request.
func (c *conn) Host() []byte   { return c.req.Host }
func (c *conn) Path() []byte   { return c.path }
func (c *conn) Method() []byte { return c.req.Method }
func (c *conn) Header(name string) ([]byte, bool) {
	return c.req.Header(name)
}

// forceClose closes the client connection and the upstream connection in use, unblocking the serve goroutine
// wherever it waits. Safe to call from another goroutine (net.Conn.Close is).
func (c *conn) forceClose() {
	if l := c.lc.lp; l != nil {
		// The loop owns the socket (it reads and writes the descriptor directly): only the loop may close it,
		// unless a goroutine has it now, which must be unblocked.
		l.post(loopMsg{kind: msgForce, c: c})
		if !c.lc.away.Load() {
			return
		}
	}
	_ = c.nc.Close()
	if uc := c.up.Load(); uc != nil {
		_ = uc.Close()
	}
}

// wakeIfIdle interrupts a connection waiting for its next request so that it notices the shutdown.
func (c *conn) wakeIfIdle() {
	if hs := c.h2base.Load(); hs != nil {
		c.shutdownH2(hs)
		return
	}
	if c.state.Load() == stateIdle {
		_ = c.nc.SetReadDeadline(time.Now())
	}
}

func (c *conn) serve() {
	defer func() {
		_ = c.nc.Close()
		c.retire()
	}()
	if c.pp != nil && !c.readProxyHeader(c.srv.cfg.Load()) {
		return
	}
	if c.tls != nil && !c.handshake(c.srv.cfg.Load()) {
		return
	}
	if c.serveH2IfNegotiated() {
		return
	}
	for {
		if err := c.readRequest(c.srv.cfg.Load()); err != nil {
			c.readFailed(err)
			return
		}
		// Load the snapshot again: a reload may have happened while this connection waited for the request.
		cfg := c.srv.cfg.Load()
		if c.redirectPort != 0 {
			if !c.redirect(cfg) {
				return
			}
		} else if !c.handle(cfg) {
			return
		}
	}
}

var headEnd = []byte("\r\n\r\n")

// readRequest waits for and parses the next request head. The keep-alive wait is bounded by IdleTimeout; once a
// request has started, its head must be complete within ReadHeaderTimeout.
func (c *conn) readRequest(cfg *Config) error {
	c.detached = false
	if len(c.r.Buffered()) == 0 {
		c.releaseBuffers()
		c.state.Store(stateIdle)
		if c.srv.closing.Load() {
			return errShuttingDown
		}
		if err := c.nc.SetReadDeadline(time.Now().Add(cfg.Client.IdleTimeout)); err != nil {
			return err
		}
		err := c.waitRequest(cfg.Client.MaxHeaderBytes)
		c.state.Store(stateActive)
		if err != nil {
			if c.srv.closing.Load() {
				return errShuttingDown
			}
			return err
		}
	}
	c.acquireWrite()
	c.start = time.Now()
	if !bytes.Contains(c.r.Buffered(), headEnd) {
		if err := c.nc.SetReadDeadline(c.start.Add(cfg.Client.ReadHeaderTimeout)); err != nil {
			return err
		}
	}
	if err := http1.ReadRequest(c.r, &c.req, http1.Limits{}); err != nil {
		return err
	}
	// The head stays where it is until the next Fill of r, which only happens while a request body streams through
	// r (detachHead copies it out first) or when the next request is read.
	c.head = c.r.Buffered()[:c.req.HeadLen]
	c.r.Discard(c.req.HeadLen)
	return nil
}

var errShuttingDown = errors.New("server shutting down")

// readFailed answers a request that could not be read, where an answer makes sense.
func (c *conn) readFailed(err error) {
	c.acquireWrite()
	var he *http1.Error
	switch {
	case errors.As(err, &he):
		c.srv.log.Info("bad request", "client", c.remote.String(), "status", he.Status, "err", he.Msg)
		c.req = http1.Request{Minor: 1}
		c.requestID = c.newRequestID()
		c.writeError(he.Status, "bad request: "+he.Msg, true)
	case errors.Is(err, io.EOF), errors.Is(err, errShuttingDown), errors.Is(err, net.ErrClosed):
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && len(c.r.Buffered()) > 0 {
			c.req = http1.Request{Minor: 1}
			c.requestID = c.newRequestID()
			c.writeError(408, "request head not received in time", true)
		}
	}
}

func (c *conn) newRequestID() []byte {
	const hex = "0123456789abcdef"
	a, b := rand.Uint64(), rand.Uint64()
	for i := 0; i < 16; i++ {
		c.ridb[i] = hex[a>>(60-4*i)&0xf]
		c.ridb[16+i] = hex[b>>(60-4*i)&0xf]
	}
	return c.ridb[:]
}

// takeRequestID uses the client's X-Request-Id when it is a sane token, else generates one.
func (c *conn) takeRequestID() {
	if v, ok := c.req.Header("X-Request-Id"); ok && validRequestID(v) {
		c.requestID = v
		return
	}
	c.requestID = c.newRequestID()
}

func validRequestID(v []byte) bool {
	if len(v) == 0 || len(v) > 128 {
		return false
	}
	for _, b := range v {
		if b <= ' ' || b >= 0x7f || b == '"' || b == '\\' {
			return false
		}
	}
	return true
}

// detachHead copies the request head out of the read buffer, so its fields stay valid while the request body
// streams through that buffer. Only requests whose body does not fit the buffer pay for it.
func (c *conn) detachHead() error {
	if c.detached {
		return nil
	}
	head := append([]byte(nil), c.head...)
	var id []byte
	if c.requestID != nil && &c.requestID[0] != &c.ridb[0] {
		id = append(id, c.requestID...)
	}
	rd := http1.NewReader(bytes.NewReader(head), len(head)+1)
	if err := http1.ReadRequest(rd, &c.req, http1.Limits{}); err != nil {
		return err
	}
	if id != nil {
		c.requestID = id
	}
	c.detached = true
	return nil
}
