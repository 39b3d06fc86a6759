//go:build linux

package proxy

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// fdConn is a net.Conn over a socket that an event loop owns.
//
// Why: the loop's sockets are not in Go's netpoller (the loop registers them, edge-triggered, in its own epoll set),
// so a *net.TCPConn cannot be made for them. When the loop hands a request to a goroutine (a streamed body, a large
// response), that goroutine blocks on an fdConn instead: reads and writes are non-blocking system calls on the fd,
// and when one fails with EAGAIN the goroutine waits until the loop passes on the socket's next epoll event
// (notifyRead, notifyWrite), the deadline passes, or Close is called.
//
// Each direction keeps a token channel of capacity one. The loop's notify drops a token in without blocking; a waiter
// takes it and retries the system call. A token that arrives between the EAGAIN and the wait stays in the channel,
// so no wake-up is lost; a stale token costs one extra system call that fails with EAGAIN again.
//
// Concurrency: notifyRead and notifyWrite are called by the loop goroutine and never block. Read, Write, ReadFrom,
// the Set*Deadline methods, Close, CloseWrite and Closed may be called from any goroutine, concurrently, as net.Conn
// allows: Reads are serialised among themselves, and so are Writes and ReadFroms. Close and the Set*Deadline methods
// wake the waiters, which notice the change at once. Close does not close the fd: the loop owns it and closes it once
// the goroutine hands the connection back.
type fdConn struct {
	fd           int
	laddr, raddr net.Addr
	base         time.Time // deadlines are kept as monotonic offsets from base
	rd, wd       fdDir
	closed       atomic.Bool
	done         chan struct{} // closed by Close
	closeOnce    sync.Once
	lazyOut      *outInterest // set when the socket is in the loop's epoll set without EPOLLOUT
}

// outInterest adds EPOLLOUT to a socket's registration the first time a write would block, and leaves it on.
// EPOLL_CTL_MOD reports the socket at once if it is writable by then, so no wake-up is lost between the failed
// write and the arming.
type outInterest struct {
	epfd  int
	ev    unix.EpollEvent
	armed atomic.Bool
}

// armOut makes sure the socket's writability is reported (see outInterest).
func (c *fdConn) armOut() error {
	o := c.lazyOut
	if o == nil || o.armed.Load() {
		return nil
	}
	ev := o.ev
	ev.Events |= unix.EPOLLOUT
	if err := unix.EpollCtl(o.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	o.armed.Store(true)
	return nil
}

// fdDir is one direction of an fdConn.
type fdDir struct {
	mu    sync.Mutex    // held for a whole Read (rd) or Write/ReadFrom (wd); guards timer
	ready chan struct{} // capacity 1: the loop's readiness tokens and Set*Deadline's pokes

	// deadline is the deadline as nanoseconds after fdConn.base; 0 is none. A deadline at or before base is stored
	// as -1 (past), so that it cannot be mistaken for none.
	deadline atomic.Int64
	timer    *time.Timer // made on the first wait with a deadline, then reused (Reset, Stop)
}

var (
	_ net.Conn      = (*fdConn)(nil)
	_ io.ReaderFrom = (*fdConn)(nil)
)

// newFDConn returns an open fdConn over fd, a non-blocking socket, with no deadlines. laddr and raddr are what
// LocalAddr and RemoteAddr report and what errors name.
func newFDConn(fd int, laddr, raddr net.Addr) *fdConn {
	c := &fdConn{fd: fd, laddr: laddr, raddr: raddr, base: time.Now(), done: make(chan struct{})}
	c.rd.ready = make(chan struct{}, 1)
	c.wd.ready = make(chan struct{}, 1)
	return c
}

// notifyRead tells a waiting reader that epoll reported input (or hang-up, or an error) on the socket. It never
// blocks.
func (c *fdConn) notifyRead() { c.rd.poke() }

// notifyWrite tells a waiting writer that epoll reported the socket writable (or hung up, or in error). It never
// blocks.
func (c *fdConn) notifyWrite() { c.wd.poke() }

func (d *fdDir) poke() {
	select {
	case d.ready <- struct{}{}:
	default: // a token is already there
	}
}

func (c *fdConn) LocalAddr() net.Addr  { return c.laddr }
func (c *fdConn) RemoteAddr() net.Addr { return c.raddr }

// Closed reports whether Close was called.
func (c *fdConn) Closed() bool { return c.closed.Load() }

// Close marks the connection closed and wakes every waiter, whose calls fail with net.ErrClosed. The fd stays open
// (the loop closes it). Close is idempotent.
func (c *fdConn) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		close(c.done)
	})
	return nil
}

// CloseWrite shuts down the sending side of the socket: the peer reads EOF once it has read what was sent.
func (c *fdConn) CloseWrite() error {
	if c.closed.Load() {
		return c.opErr("close", net.ErrClosed)
	}
	if err := unix.Shutdown(c.fd, unix.SHUT_WR); err != nil {
		return c.opErr("close", os.NewSyscallError("shutdown", err))
	}
	return nil
}

func (c *fdConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

func (c *fdConn) SetReadDeadline(t time.Time) error  { return c.setDeadline(&c.rd, t) }
func (c *fdConn) SetWriteDeadline(t time.Time) error { return c.setDeadline(&c.wd, t) }

// setDeadline stores d's deadline and pokes d's waiter, which re-arms its timer (or finds the deadline passed).
func (c *fdConn) setDeadline(d *fdDir, t time.Time) error {
	if c.closed.Load() {
		return c.opErr("set", net.ErrClosed)
	}
	var at int64
	if !t.IsZero() {
		at = int64(t.Sub(c.base))
		if at <= 0 {
			at = -1
		}
	}
	d.deadline.Store(at)
	d.poke()
	return nil
}

// check fails when the connection is closed or d's deadline has passed: the test before every system call.
func (c *fdConn) check(d *fdDir) error {
	if c.closed.Load() {
		return net.ErrClosed
	}
	if at := d.deadline.Load(); at != 0 && int64(time.Since(c.base)) >= at {
		return os.ErrDeadlineExceeded
	}
	return nil
}

// wait blocks until d has a token (readiness or a deadline change), d's deadline passes, c is closed or, when other
// is not nil, other is closed; then it returns check's verdict (other's closing reads as net.ErrClosed). The caller
// holds d.mu.
func (c *fdConn) wait(d *fdDir, other *fdConn) error {
	if err := c.check(d); err != nil {
		return err
	}
	if d == &c.wd {
		if err := c.armOut(); err != nil {
			return err
		}
	}
	var expired <-chan time.Time
	if at := d.deadline.Load(); at != 0 {
		left := time.Duration(at) - time.Since(c.base)
		if d.timer == nil {
			d.timer = time.NewTimer(left)
		} else {
			d.timer.Reset(left)
		}
		expired = d.timer.C
	}
	var otherDone chan struct{}
	if other != nil {
		otherDone = other.done
	}
	select {
	case <-d.ready:
	case <-c.done:
	case <-otherDone:
		if expired != nil {
			d.timer.Stop()
		}
		return net.ErrClosed
	case <-expired:
	}
	if expired != nil {
		d.timer.Stop() // Go 1.23+: no stale tick survives Stop, so the next Reset starts clean
	}
	return c.check(d)
}

// opErr wraps err like the net package does for a TCP connection.
func (c *fdConn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.laddr, Addr: c.raddr, Err: err}
}

// Read reads what the socket has, waiting for input when it has nothing. It returns io.EOF once the peer has shut
// down its side and everything was read.
func (c *fdConn) Read(p []byte) (int, error) {
	c.rd.mu.Lock()
	defer c.rd.mu.Unlock()
	if err := c.check(&c.rd); err != nil {
		return 0, c.opErr("read", err)
	}
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, e := rawRead(c.fd, p)
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			if err := c.wait(&c.rd, nil); err != nil {
				return 0, c.opErr("read", err)
			}
			continue
		case e != 0:
			return 0, c.opErr("read", os.NewSyscallError("recvfrom", e))
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// Write writes all of p, waiting for the socket to drain whenever it takes less.
func (c *fdConn) Write(p []byte) (int, error) {
	c.wd.mu.Lock()
	defer c.wd.mu.Unlock()
	if err := c.check(&c.wd); err != nil {
		return 0, c.opErr("write", err)
	}
	var nn int
	for nn < len(p) {
		n, e := rawWrite(c.fd, p[nn:])
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			if err := c.wait(&c.wd, nil); err != nil {
				return nn, c.opErr("write", err)
			}
			continue
		case e != 0:
			return nn, c.opErr("write", os.NewSyscallError("sendto", e))
		}
		nn += n
	}
	return nn, nil
}

// fdConnWriter hides fdConn's ReadFrom from io.CopyBuffer, which would otherwise call it again.
type fdConnWriter struct{ c *fdConn }

func (w fdConnWriter) Write(p []byte) (int, error) { return w.c.Write(p) }

// Chunk sizes of ReadFrom's zero-copy paths: one sendfile(2) call moves at most sendfileChunk bytes (so a deadline
// or Close is noticed between calls), and the splice pipe is asked for pipeSize bytes of room.
const (
	sendfileChunk = 4 << 20
	pipeSize      = 1 << 20
	copyBufSize   = 32 << 10
)

// ReadFrom copies r into the connection, as io.Copy would, without copying through the process where it can (the
// paths *net.TCPConn takes): an *os.File (bare or as the R of an *io.LimitedReader) goes out with sendfile(2), and an
// *fdConn (bare or limited) is spliced socket to pipe to socket. A LimitedReader's N is decremented by what moved.
// Anything else, or a file sendfile refuses (not a regular file), is copied with a 32 KiB buffer. The source's EOF
// ends the copy without an error.
func (c *fdConn) ReadFrom(r io.Reader) (int64, error) {
	lr, _ := r.(*io.LimitedReader)
	src, remain := r, int64(1<<63-1)
	if lr != nil {
		src, remain = lr.R, lr.N
		if remain <= 0 {
			return 0, nil
		}
	}
	switch s := src.(type) {
	case *os.File:
		n, handled, err := c.sendfile(s, remain)
		if lr != nil {
			lr.N -= n
		}
		if handled {
			return n, err
		}
	case *fdConn:
		n, err := c.spliceFrom(s, remain)
		if lr != nil {
			lr.N -= n
		}
		return n, err
	}
	return io.CopyBuffer(fdConnWriter{c}, r, make([]byte, copyBufSize))
}

// sendfile sends up to remain bytes of f from its current offset, which advances. handled is false, with nothing
// sent, when the kernel cannot sendfile from f; the caller then copies.
func (c *fdConn) sendfile(f *os.File, remain int64) (written int64, handled bool, err error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	c.wd.mu.Lock()
	defer c.wd.mu.Unlock()
	handled = true
	cerr := rc.Control(func(sfd uintptr) {
		written, handled, err = c.sendfileFD(int(sfd), remain)
	})
	if cerr != nil && err == nil && written == 0 {
		return 0, false, nil // the file was closed: let the generic copy report it
	}
	return written, handled, err
}

// sendfileFD is sendfile's loop over the file's descriptor; the caller holds c.wd.mu.
func (c *fdConn) sendfileFD(sfd int, remain int64) (written int64, handled bool, err error) {
	if err := c.check(&c.wd); err != nil {
		return 0, true, c.opErr("readfrom", err)
	}
	for remain > 0 {
		n, e := unix.Sendfile(c.fd, sfd, nil, int(min(remain, sendfileChunk)))
		if n > 0 {
			written += int64(n)
			remain -= int64(n)
		}
		switch {
		case e == nil && n == 0:
			return written, true, nil // end of file
		case e == nil:
		case errors.Is(e, syscall.EINTR):
		case errors.Is(e, syscall.EAGAIN):
			if err := c.wait(&c.wd, nil); err != nil {
				return written, true, c.opErr("readfrom", err)
			}
		case written == 0 && (errors.Is(e, syscall.EINVAL) || errors.Is(e, syscall.ENOSYS) ||
			errors.Is(e, syscall.EOPNOTSUPP)):
			return 0, false, nil
		default:
			return written, true, c.opErr("readfrom", os.NewSyscallError("sendfile", e))
		}
	}
	return written, true, nil
}

// spliceFrom moves up to remain bytes from src's socket to c's through a pipe, stopping early without an error at
// src's EOF. Waiting for input honours src's read deadline, waiting for room c's write deadline; closing either
// connection ends the copy with net.ErrClosed.
func (c *fdConn) spliceFrom(src *fdConn, remain int64) (int64, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		return 0, c.opErr("readfrom", os.NewSyscallError("pipe2", err))
	}
	defer func() {
		_ = unix.Close(p[0])
		_ = unix.Close(p[1])
	}()
	// A bigger pipe means fewer round trips; the default (64 KiB) still works when the system refuses.
	_, _ = unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, pipeSize)

	src.rd.mu.Lock()
	defer src.rd.mu.Unlock()
	c.wd.mu.Lock()
	defer c.wd.mu.Unlock()
	var written int64
	for remain > 0 {
		n, err := src.spliceIn(p[1], remain, c)
		if err != nil {
			return written, c.opErr("readfrom", err)
		}
		if n == 0 {
			return written, nil // src's EOF
		}
		remain -= n
		for n > 0 {
			m, err := c.spliceOut(p[0], n)
			written += m
			n -= m
			if err != nil {
				return written, c.opErr("readfrom", err)
			}
		}
	}
	return written, nil
}

const spliceFlags = unix.SPLICE_F_NONBLOCK | unix.SPLICE_F_MOVE

// spliceIn moves up to limit bytes from c's socket into the (empty) pipe w, waiting for input; 0 means EOF. It fails
// when c's read deadline passes or c or dst is closed. The caller holds c.rd.mu.
func (c *fdConn) spliceIn(w int, limit int64, dst *fdConn) (int64, error) {
	for {
		if dst.closed.Load() {
			return 0, net.ErrClosed
		}
		if err := c.check(&c.rd); err != nil {
			return 0, err
		}
		n, err := unix.Splice(c.fd, nil, w, nil, int(min(limit, pipeSize)), spliceFlags)
		switch {
		case err == nil:
			return n, nil
		case errors.Is(err, syscall.EINTR):
		case errors.Is(err, syscall.EAGAIN): // the pipe is empty, so the socket is
			if err := c.wait(&c.rd, dst); err != nil {
				return 0, err
			}
		default:
			return 0, os.NewSyscallError("splice", err)
		}
	}
}

// spliceOut moves up to n bytes from the pipe r to c's socket, waiting for room once when the socket takes nothing.
// The caller holds c.wd.mu and calls again for the rest.
func (c *fdConn) spliceOut(r int, n int64) (int64, error) {
	for {
		if err := c.check(&c.wd); err != nil {
			return 0, err
		}
		m, err := unix.Splice(r, nil, c.fd, nil, int(n), spliceFlags)
		switch {
		case err == nil && m == 0:
			return 0, os.NewSyscallError("splice", syscall.EPIPE) // cannot happen with bytes in the pipe
		case err == nil:
			return m, nil
		case errors.Is(err, syscall.EINTR):
		case errors.Is(err, syscall.EAGAIN):
			if err := c.wait(&c.wd, nil); err != nil {
				return 0, err
			}
		default:
			return 0, os.NewSyscallError("splice", err)
		}
	}
}
