//go:build linux

package proxy

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fjord-gw/fjord/internal/upstream"
)

// loop is one event loop: an epoll set with the client connections assigned to it and the upstream connections
// their exchanges use, served by one goroutine.
//
// The loop does not block an OS thread in epoll_wait: its epoll descriptor is itself registered with Go's netpoller
// (an epoll set is readable while it has events), so the loop goroutine parks like any other when it has nothing to
// do and Go's scheduler keeps running the goroutines of TLS connections, health checks and hand-offs next to it. Each
// wake-up drains the set with non-blocking epoll_wait calls. The sockets the loop owns are in its epoll set only,
// not in the netpoller as well (see detach, and loop_accept_linux.go): each socket event is reported once. A
// goroutine the loop hands a request to uses the socket through an fdConn, woken by the loop's events.
//
// Waiting in epoll_wait directly, holding the P, measured about 6 % less CPU per proxied request on a dedicated core,
// and was tried: with clients, upstreams or TLS connections in the same process, the goroutines then got a loop's
// P only when Go's monitor took it from the system call, and a benchmark with both in one process ran at a sixth of
// its speed (BenchmarkProxyGET, 152 µs instead of 25 µs per request). A proxy terminates TLS in goroutines, so that
// trade is not worth making.
//
// Every socket is registered edge-triggered. A socket is read until a read comes back short (the receive queue is
// then empty, so more data raises a new event) and written until the kernel takes less than offered (then EPOLLOUT
// says when to go on); so a busy connection costs one read and one write per message and no failed read.
//
// Concurrency: everything below is owned by the loop goroutine, except the inbox (mu), which other goroutines use to
// hand it connections, dial results and connections coming back from a goroutine (post, then a write to the
// eventfd wakes the loop).
type loop struct {
	srv    *Server
	epfd   int
	efd    int // eventfd for post
	file   *os.File
	raw    syscall.RawConn
	events []unix.EpollEvent
	pollFn func(uintptr) bool // l.poll, bound once

	slots []loopSlot // index 0 is the eventfd
	free  []uint32

	mu       sync.Mutex
	inbox    []loopMsg
	spare    []loopMsg
	signaled bool

	pools     map[*upstream.Instance][]*loopUp // idle upstream connections of this loop, most recent last
	listeners map[*loopListener]uint32         // the listeners this loop accepts from, with their slots
	paused    []pausedListener                 // listeners left alone for a while after accept failed
	clock     time.Time                        // the time, read once per few events (see tick)
	now       int64                            // clock in unix nanoseconds
	nextSweep int64
	clients   atomic.Int32 // client connections this loop owns; the other loops read it (overShare)
	closing   bool         // Shutdown: idle connections close, busy ones after their response
	stopped   bool
	done      chan struct{}
}

// loopTick is how often the loop checks its connections' timeouts; timeouts fire up to this late.
const loopTick = 10 * time.Millisecond

type loopSlot struct {
	gen uint32
	c   *conn
	u   *loopUp
	ln  *loopListener
}

// loopUp is an upstream connection registered with a loop. Its reader reads the socket without blocking. uc's
// net.Conn is fc, through which a goroutine the loop lends the connection to (lent, see handOffRelay) uses it.
type loopUp struct {
	uc        *upstream.Conn
	fd        int
	fc        *fdConn
	slot      uint32
	src       fdSource
	c         *conn // the connection whose exchange uses it; nil while idle
	lent      bool  // a goroutine has it until its client connection comes back (msgBack)
	idleSince int64
}

func newLoop(s *Server) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("event loop: epoll_create: %w", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, fmt.Errorf("event loop: eventfd: %w", err)
	}
	l := &loop{srv: s, epfd: epfd, efd: efd, events: make([]unix.EpollEvent, 128), slots: make([]loopSlot, 1),
		pools: map[*upstream.Instance][]*loopUp{}, listeners: map[*loopListener]uint32{}, done: make(chan struct{})}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(efd)
		return nil, fmt.Errorf("event loop: register eventfd: %w", err)
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(efd)
		return nil, fmt.Errorf("event loop: %w", err)
	}
	l.file = os.NewFile(uintptr(epfd), "epoll") // non-blocking: os registers it with the netpoller
	if l.raw, err = l.file.SyscallConn(); err != nil {
		_ = l.file.Close()
		_ = unix.Close(efd)
		return nil, fmt.Errorf("event loop: %w", err)
	}
	l.pollFn = l.poll
	go l.run()
	return l, nil
}

// run parks in the netpoller until the epoll set has events (or the next timeout check is due) and handles them.
func (l *loop) run() {
	defer close(l.done)
	for !l.stopped {
		l.tick()
		if l.now >= l.nextSweep {
			l.sweep()
		}
		_ = l.file.SetReadDeadline(time.Unix(0, l.nextSweep))
		err := l.raw.Read(l.pollFn)
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			l.srv.log.Error("event loop stopped", "err", err)
			break
		}
	}
	for inst, pool := range l.pools {
		for _, u := range pool {
			l.closeUp(u)
		}
		delete(l.pools, inst)
	}
	_ = l.file.Close()
	_ = unix.Close(l.efd)
}

// poll is the readiness callback of run: it handles batches of events until a poll finds none, then returns false
// to park again (true to stop).
func (l *loop) poll(uintptr) bool {
	for {
		n, err := pollNow(l.epfd, l.events)
		if err == unix.EINTR {
			continue
		}
		if err != 0 {
			l.srv.log.Error("event loop: epoll_wait", "err", err)
			return true
		}
		l.tick()
		for i := 0; i < n; i++ {
			if i > 0 && i%clockEvery == 0 {
				l.tick()
			}
			l.dispatch(&l.events[i])
		}
		if l.stopped {
			return true
		}
		if l.now >= l.nextSweep {
			return true // back to run for the sweep and the next deadline
		}
		if n == 0 {
			return false
		}
		// Poll again before parking: under load, the responses and requests that arrived while this batch was
		// handled are usually there already, and taking them now costs one epoll_wait where parking costs a trip
		// through the scheduler and the netpoller. That trip is shared by every loop (Go has one netpoller thread
		// waiting at a time, which readies the others' goroutines), so at several loops it also made the tail:
		// 4 loops, 256 connections, p99 2.1-3.2 ms against 1.9-2.0 ms (bench/results/2026-11-26-16core).
	}
}

// clockEvery is how many events the loop handles between two clock reads. Like nginx's cached time, a request's
// start, its time to first byte and its end are taken from the loop's clock: read once per batch of events rather
// than several times per request (each read is a vDSO call), and late by at most the time a few events take.
const clockEvery = 8

func (l *loop) tick() {
	l.clock = time.Now()
	l.now = l.clock.UnixNano()
}

// now is the time for c's request bookkeeping: the loop's clock while the loop serves c, else the time now.
func (c *conn) now() time.Time {
	if c.lc.inLoop {
		return c.lc.lp.clock
	}
	return time.Now()
}

func (l *loop) dispatch(ev *unix.EpollEvent) {
	idx, gen := uint32(ev.Fd), uint32(ev.Pad)
	if idx == 0 {
		l.drainInbox()
		return
	}
	if int(idx) >= len(l.slots) || l.slots[idx].gen != gen {
		return // the slot was freed since; a stale event
	}
	in := ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0
	hup := ev.Events&(unix.EPOLLRDHUP|unix.EPOLLHUP) != 0
	out := ev.Events&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0
	s := &l.slots[idx]
	if ll := s.ln; ll != nil {
		l.accept(ll)
		return
	}
	if c := s.c; c != nil {
		if in {
			c.lc.src.ready, c.lc.src.hup = true, c.lc.src.hup || hup
		}
		if !c.lc.inLoop { // a goroutine has it (away): pass the event on
			if fc := c.lc.fc; fc != nil {
				notify(fc, in, out)
			}
			return
		}
		if out && len(c.lc.pending) > 0 && !l.flush(c) {
			return
		}
		switch c.lc.phase {
		case lcIdle, lcHead:
			if in {
				l.serveNext(c)
			}
		case lcFlush:
			if len(c.lc.pending) == 0 {
				l.flushed(c)
			}
		case lcBody:
			if len(c.lc.pending) == 0 {
				l.relayUp(c)
			}
		case lcBodyIn:
			if in {
				l.collectIn(c)
			}
		}
		return
	}
	u := s.u
	if in {
		u.src.ready, u.src.hup = true, u.src.hup || hup
	}
	if u.lent {
		notify(u.fc, in, out)
		return
	}
	c := u.c
	switch {
	case c == nil:
		if in {
			l.idleReadable(u)
		}
	case c.lc.phase == lcSend && out:
		l.writeUp(c)
	case c.lc.phase == lcWait && in:
		l.readUp(c)
	case c.lc.phase == lcBody && in:
		l.relayUp(c)
	}
}

// notify passes an epoll event on to the goroutine using a socket through fc.
func notify(fc *fdConn, in, out bool) {
	if in {
		fc.notifyRead()
	}
	if out {
		fc.notifyWrite()
	}
}

// post hands m to the loop from any goroutine.
func (l *loop) post(m loopMsg) {
	l.mu.Lock()
	l.inbox = append(l.inbox, m)
	wake := !l.signaled
	l.signaled = true
	l.mu.Unlock()
	if wake {
		one := [8]byte{1}
		_, _ = unix.Write(l.efd, one[:])
	}
}

func (l *loop) drainInbox() {
	var b [8]byte
	_, _ = unix.Read(l.efd, b[:])
	l.mu.Lock()
	msgs := l.inbox
	l.inbox, l.spare = l.spare, nil
	l.signaled = false
	l.mu.Unlock()
	for i := range msgs {
		l.handle(&msgs[i])
	}
	clear(msgs)
	l.mu.Lock()
	l.spare = msgs[:0]
	l.mu.Unlock()
}

func (l *loop) handle(m *loopMsg) {
	c := m.c
	switch m.kind {
	case msgAdopt:
		l.adopt(c)
	case msgBack:
		c.lc.away.Store(false)
		c.lc.inLoop = true
		c.r.SetSource(&c.lc.src)
		c.lc.src.ready = true // events that came while the goroutine had it were not looked at
		if u := c.lc.lent; u != nil {
			l.takeBack(c, u)
		}
		if !m.keep {
			l.closeConn(c)
			return
		}
		l.serveNext(c)
	case msgDialed:
		l.dialed(c, m.uc, m.err)
	case msgListen:
		l.listen(m.ll)
	case msgUnlisten:
		l.forget(m.ll)
		m.ack <- struct{}{}
	case msgShutdown:
		l.closing = true
		for ll := range l.listeners {
			l.unlisten(ll)
		}
		l.paused = nil
		for i := range l.slots {
			if c := l.slots[i].c; c != nil && c.lc.inLoop && c.lc.phase == lcIdle {
				l.closeConn(c)
			}
		}
	case msgForce:
		if c.lc.slot != 0 && !c.lc.away.Load() {
			l.closeConn(c)
		} else if u := c.lc.lent; u != nil {
			_ = u.fc.Close() // a goroutine waiting for the upstream's body gives up now (forceClose woke the client side)
		}
	case msgStop:
		l.stopped = true
	}
}

// adopt registers a freshly accepted connection and starts waiting for its first request. The socket leaves Go's
// netpoller (detach): from now on the loop's epoll set alone watches it.
func (l *loop) adopt(c *conn) {
	local, remote := c.nc.LocalAddr(), c.nc.RemoteAddr()
	fd, err := detach(c.nc)
	if err != nil {
		l.srv.log.Warn("event loop: cannot take connection", "err", err)
		_ = c.nc.Close()
		c.retire()
		return
	}
	c.nc, c.dc.Conn, c.raw = nil, nil, nil // until a goroutine needs one (away)
	l.adoptFD(c, fd, local, remote)
}

// adoptFD registers a new connection's socket, which no one else watches, and waits for the first request.
func (l *loop) adoptFD(c *conn, fd int, local, remote net.Addr) {
	c.lc.addrs = [2]net.Addr{local, remote}
	c.lc.lp, c.lc.fd = l, fd
	c.lc.inLoop = true
	c.lc.src = fdSource{fd: fd}
	c.r.SetSource(&c.lc.src)
	c.lc.slot = l.alloc(loopSlot{c: c})
	l.clients.Add(1)
	if _, err := l.register(fd, c.lc.slot, true); err != nil {
		l.closeConn(c)
		return
	}
	c.lc.phase = lcIdle
	c.lc.deadline = l.now + int64(l.srv.cfg.Load().Client.IdleTimeout)
}

// detach takes a socket out of Go's netpoller and returns a descriptor for it that only the caller watches: a
// duplicate is made, then nc is closed (which removes the original from the netpoller and closes it; the socket
// lives on through the duplicate). The duplicate is non-blocking, like every descriptor Go opens.
func detach(nc net.Conn) (int, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1, errors.New("connection has no descriptor")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd, derr := -1, error(nil)
	if err := raw.Control(func(p uintptr) { fd, derr = unix.FcntlInt(p, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, fmt.Errorf("dup: %w", derr)
	}
	_ = nc.Close()
	return fd, nil
}

// loopSpliceable is spliceable for two sockets of event loops.
func loopSpliceable(dst, src net.Conn) (spliceConn, spliceConn, bool) {
	d, ok1 := dst.(*fdConn)
	s, ok2 := src.(*fdConn)
	return d, s, ok1 && ok2
}

// register adds fd to the loop's epoll set, edge-triggered, for input and (with out) for output.
func (l *loop) register(fd int, slot uint32, out bool) (unix.EpollEvent, error) {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(slot), Pad: int32(l.slots[slot].gen)}
	if out {
		ev.Events |= unix.EPOLLOUT
	}
	return ev, epollAdd(l.epfd, fd, &ev)
}

func (l *loop) alloc(s loopSlot) uint32 {
	if n := len(l.free); n > 0 {
		i := l.free[n-1]
		l.free = l.free[:n-1]
		s.gen = l.slots[i].gen
		l.slots[i] = s
		return i
	}
	l.slots = append(l.slots, s)
	return uint32(len(l.slots) - 1)
}

// release frees a slot; its generation changes, so events still queued for it are ignored.
func (l *loop) release(i uint32) {
	if i == 0 {
		return
	}
	l.slots[i] = loopSlot{gen: l.slots[i].gen + 1}
	l.free = append(l.free, i)
}

// closeConn closes a client connection the loop owns, ending the exchange it may be in. Closing the socket also
// removes it from the epoll set.
func (l *loop) closeConn(c *conn) {
	if c.lc.slot == 0 {
		return // closed already
	}
	l.clients.Add(-1)
	if u := c.lc.up; u != nil {
		c.lc.up = nil
		l.closeUp(u)
	}
	l.endAttempt(c)
	l.endExchange(c)
	l.release(c.lc.slot)
	c.lc.slot = 0
	c.lc.inLoop = false
	c.lc.pending = nil
	if c.lc.fc != nil {
		_ = c.lc.fc.Close()
	}
	closeFD(c.lc.fd) // also takes it out of the epoll set
	c.retire()
}

// write sends b to the client without blocking; what the socket does not take is kept and sent when it is writable.
func (l *loop) write(c *conn, b []byte) error {
	if len(c.lc.pending) > 0 {
		c.lc.pending = append(c.lc.pending, b...)
		return nil
	}
	for len(b) > 0 {
		n, err := rawWrite(c.lc.fd, b)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			c.lc.pending = append([]byte(nil), b...)
			return nil
		case err != 0:
			return err
		}
		b = b[n:]
	}
	return nil
}

// flush writes pending output; false when the connection failed and was closed. Progress extends the client's
// write deadline in the phases that wait for it (lcFlush, lcBody); other phases keep their own deadline.
func (l *loop) flush(c *conn) bool {
	for len(c.lc.pending) > 0 {
		n, err := rawWrite(c.lc.fd, c.lc.pending)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return true
		case err != 0:
			if c.lc.phase == lcFlush {
				l.closeConn(c)
				return false
			}
			c.lc.pending = nil // the exchange notices the client is gone at its next write or at the end
			return true
		}
		c.lc.pending = c.lc.pending[n:]
		if c.lc.phase == lcFlush || c.lc.phase == lcBody {
			c.lc.deadline = l.now + int64(l.srv.cfg.Load().Client.BodyIdleTimeout)
		}
	}
	c.lc.pending = nil
	return true
}

// flushed continues after the last pending byte of a finished response went out.
func (l *loop) flushed(c *conn) {
	if c.lc.closing {
		l.closeConn(c)
		return
	}
	l.serveNext(c)
}

// sweep enforces timeouts and expires idle upstream connections.
func (l *loop) sweep() {
	now := l.now
	l.nextSweep = now + int64(loopTick)
	if len(l.paused) > 0 {
		l.resume()
	}
	for i := 1; i < len(l.slots); i++ {
		c := l.slots[i].c
		if c == nil || !c.lc.inLoop || c.lc.deadline == 0 || now < c.lc.deadline {
			continue
		}
		l.timeout(c)
	}
	for inst, pool := range l.pools {
		_, idle := inst.KeepAlive()
		closed := inst.Closed()
		keep := pool[:0]
		for _, u := range pool {
			if closed || now-u.idleSince > int64(idle) {
				l.closeUp(u)
				continue
			}
			keep = append(keep, u)
		}
		clear(pool[len(keep):])
		if len(keep) == 0 {
			delete(l.pools, inst)
		} else {
			l.pools[inst] = keep
		}
	}
}

// loops returns the server's event loops, starting them on first use; nil when they cannot start (the server
// then serves with goroutines).
func (s *Server) eventLoop() *loop {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.startLoopsLocked() {
		return nil
	}
	s.nextLoop++
	return s.loops[s.nextLoop%len(s.loops)]
}

// allLoops returns all of the server's event loops, starting them on first use; nil when they cannot start.
func (s *Server) allLoops() []*loop {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.startLoopsLocked() {
		return nil
	}
	return slices.Clone(s.loops)
}

// startLoopsLocked starts the event loops unless they run (s.mu held); false when they cannot.
func (s *Server) startLoopsLocked() bool {
	if s.loopErr != nil {
		return false
	}
	if s.loops != nil {
		return true
	}
	for range max(1, runtime.GOMAXPROCS(0)) {
		l, err := newLoop(s)
		if err != nil {
			s.loopErr = err
			s.log.Warn("event loops unavailable; serving with goroutines", "err", err)
			s.stopLoopsLocked()
			return false
		}
		s.loops = append(s.loops, l)
	}
	peers := slices.Clone(s.loops)
	s.peers.Store(&peers)
	return true
}

// stopLoopsLocked stops the event loops (s.mu held); they have no connections left by then.
func (s *Server) stopLoopsLocked() {
	s.peers.Store(nil)
	for _, l := range s.loops {
		l.post(loopMsg{kind: msgStop})
		<-l.done
	}
	s.loops = nil
}
