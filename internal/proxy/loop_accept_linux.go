//go:build linux

package proxy

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Accepting in the event loops. A plain-HTTP TCP listener served with the loop engine is accepted from by the loops
// themselves, as nginx's workers do: a duplicate of its descriptor sits in every loop's epoll set (EPOLLEXCLUSIVE, so
// a new connection wakes one loop), and the loop that is woken calls accept4(2) and adopts the connection on the
// spot. The connection never enters Go's netpoller and costs no message between goroutines; its socket options
// (TCP_NODELAY, keep-alive) are inherited from the listening socket, where they are set once. Per new connection
// that is accept4 and one epoll_ctl, against about ten system calls through net.Listener.Accept and a hand-over.

// loopListener is a listener the loops accept from.
type loopListener struct {
	fd     int // the duplicate in the loops' epoll sets; closed once every loop has let go of it
	name   string
	scheme string
	mode   func() *ListenerMode
	addr   net.Addr
	stop   chan struct{} // closed by CloseListener and Shutdown
	gone   chan struct{} // closed once no loop accepts from it any more and fd is closed
	once   sync.Once
}

// close asks serveLoops to stop accepting from ll and waits until it has.
func (ll *loopListener) close() {
	ll.once.Do(func() { close(ll.stop) })
	<-ll.gone
}

// listenerPoll is how often serveLoops checks whether its net.Listener was closed directly (not through
// CloseListener or Shutdown), which it cannot otherwise see: the loops keep the socket listening through their
// duplicate until then.
const listenerPoll = 200 * time.Millisecond

// acceptBatch is how many connections a loop accepts per event. One, as nginx does without multi_accept: the
// listener is level-triggered, so one still waiting is reported again at the loop's next poll, and taking one at a
// time saves the accept4 that would come back EAGAIN at the end of each batch (8 % more new connections per
// core-second in bench/churn.sh), spreads a burst over the loops, and never starves established connections.
const acceptBatch = 1

// serveLoops serves ln through the event loops when it is a TCP listener for plain HTTP and the loop engine is on;
// served is false when it is not, and the caller accepts as usual. It returns when ln is closed.
func (s *Server) serveLoops(ln net.Listener, name, scheme string, mode func() *ListenerMode) (served bool, err error) {
	tl, ok := ln.(*net.TCPListener)
	if !ok || s.cfg.Load().Engine != EngineLoop || !plainMode(modeOf(mode)) {
		return false, nil
	}
	loops := s.allLoops()
	if loops == nil {
		return false, nil
	}
	rc, err := tl.SyscallConn()
	if err != nil {
		return false, nil
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(p uintptr) { fd, derr = dupListener(int(p)) }); err != nil || derr != nil {
		s.log.Warn("event loops cannot accept; accepting with a goroutine", "listener", ln.Addr().String(), "err",
			errors.Join(err, derr))
		return false, nil
	}
	ll := &loopListener{fd: fd, name: name, scheme: scheme, mode: mode, addr: ln.Addr(), stop: make(chan struct{}),
		gone: make(chan struct{})}
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		_ = unix.Close(fd)
		return true, ErrServerClosed
	}
	s.lls[ln] = ll
	s.mu.Unlock()
	for _, l := range loops {
		l.post(loopMsg{kind: msgListen, ll: ll})
	}

	tick := time.NewTicker(listenerPoll)
	for open := true; open; {
		select {
		case <-ll.stop:
			open = false
		case <-tick.C:
			open = rc.Control(func(uintptr) {}) == nil
		}
	}
	tick.Stop()
	// Every loop lets go of the descriptor before it is closed: a loop holding a stale registration would accept on
	// whatever socket reuses the number.
	acks := make(chan struct{}, len(loops))
	for _, l := range loops {
		l.post(loopMsg{kind: msgUnlisten, ll: ll, ack: acks})
	}
	for _, l := range loops {
		select {
		case <-acks:
		case <-l.done: // a stopped loop closed its epoll set, and the registration with it
		}
	}
	_ = unix.Close(fd)
	s.mu.Lock()
	delete(s.lls, ln)
	s.mu.Unlock()
	close(ll.gone)
	if s.closing.Load() {
		return true, ErrServerClosed
	}
	return true, nil
}

// dupListener duplicates a listening socket for the loops and sets, once, the options that Go sets on every
// connection it accepts; Linux copies them to each connection accept4 returns.
func dupListener(fd int) (int, error) {
	for _, o := range [...]struct{ level, opt, v int }{
		{unix.IPPROTO_TCP, unix.TCP_NODELAY, 1},
		{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
		{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 15},
		{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 15},
		{unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 9},
	} {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.v); err != nil {
			return -1, os.NewSyscallError("setsockopt", err)
		}
	}
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("dup", err)
	}
	return nfd, nil
}

// listen registers ll with the loop's epoll set.
func (l *loop) listen(ll *loopListener) {
	if l.closing {
		return
	}
	slot := l.alloc(loopSlot{ln: ll})
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLEXCLUSIVE, Fd: int32(slot), Pad: int32(l.slots[slot].gen)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, ll.fd, &ev); err != nil {
		l.release(slot)
		l.srv.log.Error("event loop: cannot watch listener", "listener", ll.addr.String(), "err", err)
		return
	}
	l.listeners[ll] = slot
}

// forget is msgUnlisten: the loop lets go of ll for good.
func (l *loop) forget(ll *loopListener) {
	l.unlisten(ll)
	l.paused = slices.DeleteFunc(l.paused, func(p pausedListener) bool { return p.ll == ll })
}

// unlisten takes ll out of the loop's epoll set.
func (l *loop) unlisten(ll *loopListener) {
	slot, ok := l.listeners[ll]
	if !ok {
		return
	}
	delete(l.listeners, ll)
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, ll.fd, nil)
	l.release(slot)
}

// accept takes the connections waiting on ll, up to acceptBatch. An error other than a connection aborted before it
// was taken (descriptors exhausted, typically) takes the listener out of this loop for acceptPause, instead of
// spinning on a listener that stays ready.
func (l *loop) accept(ll *loopListener) {
	if l.overShare() {
		l.unlisten(ll)
		l.paused = append(l.paused, pausedListener{ll: ll, until: l.now + int64(sharePause)})
		return
	}
	for range acceptBatch {
		fd, peer, err := accept4(ll.fd)
		switch err {
		case 0:
			l.adoptNew(ll, fd, peer)
			continue
		case unix.EAGAIN:
			return
		case unix.EINTR, unix.ECONNABORTED:
			continue
		}
		l.srv.log.Warn("accept failed; pausing", "listener", ll.addr.String(), "err", err, "pause", acceptPause)
		l.unlisten(ll)
		l.paused = append(l.paused, pausedListener{ll: ll, until: l.now + int64(acceptPause)})
		return
	}
}

// acceptPause is how long a loop leaves a listener alone after accept failed.
const acceptPause = 100 * time.Millisecond

// Spreading connections over the loops. The kernel does not do it for fjord: EPOLLEXCLUSIVE wakes one waiter only
// among epoll sets that have a thread blocked in epoll_wait, and a loop waits in Go's netpoller instead, so a new
// connection is reported to every loop and taken by whichever polls first: the busiest, which polls without
// parking. Four loops handed a burst of 256 connections ended up with 212, 34, 8 and 2 of them. So a loop that holds
// clearly more than its share (the average over the loops, plus a quarter, plus shareSlack) leaves the listener to
// the others for sharePause (until its next timeout sweep, about 10 ms, lets it back).
const (
	shareSlack = 8
	sharePause = time.Millisecond
)

// overShare reports whether this loop holds clearly more than its share of the loops' client connections.
func (l *loop) overShare() bool {
	p := l.srv.peers.Load()
	if p == nil || len(*p) < 2 {
		return false
	}
	var total int32
	for _, o := range *p {
		total += o.clients.Load()
	}
	share := total / int32(len(*p))
	return l.clients.Load() > share+max(shareSlack, share/4)
}

type pausedListener struct {
	ll    *loopListener
	until int64
}

// resume puts paused listeners back once their pause is over (from sweep).
func (l *loop) resume() {
	keep := l.paused[:0]
	for _, p := range l.paused {
		switch {
		case l.now >= p.until:
			l.listen(p.ll)
		default:
			keep = append(keep, p)
		}
	}
	clear(l.paused[len(keep):])
	l.paused = keep
}

// adoptNew serves a connection the loop accepted: here, unless the limits refuse it or the listener's mode or the
// engine now call for a goroutine.
func (l *loop) adoptNew(ll *loopListener, fd int, peer netip.AddrPort) {
	s := l.srv
	cfg := s.cfg.Load()
	ip := peer.Addr()
	if r := s.limits.admit(ip, cfg.Client); r != admitted {
		_ = unix.Close(fd)
		s.logRefusal(ip, r, cfg.Client)
		return
	}
	m := modeOf(ll.mode)
	if cfg.Engine != EngineLoop || !plainMode(m) {
		// A reload changed the engine or the listener's mode: the goroutine path, through a net.Conn.
		f := os.NewFile(uintptr(fd), "")
		nc, err := net.FileConn(f)
		_ = f.Close()
		if err != nil {
			s.limits.release(ip)
			s.log.Warn("accept: cannot make a connection", "listener", ll.addr.String(), "err", err)
			return
		}
		s.start(nc, ip, cfg, ll.name, ll.scheme, m)
		return
	}
	c := newConnBase(s, ll.scheme, peer)
	c.listener = ll.name
	c.lc.lp = l
	if !s.track(c) {
		_ = unix.Close(fd)
		s.limits.release(ip)
		return
	}
	l.adoptFD(c, fd, ll.addr, nil) // the remote net.Addr is made if a goroutine ever needs it (loop.away)
	if m != nil && m.DeferAccept && c.lc.slot != 0 {
		// The kernel accepted it once its first bytes were in: read them now rather than take the socket's first
		// event in a later poll. With a new connection per request that is about a fifth of the CPU time of each
		// (bench/churn.sh --deferred).
		c.lc.src.ready = true
		l.serveNext(c)
	}
}

// accept4 is accept4(2) on a non-blocking listening socket, with the peer's address read from the kernel's
// sockaddr directly (x/sys's Accept4 allocates it and asks the socket for its protocol with one more system call).
func accept4(lfd int) (int, netip.AddrPort, syscall.Errno) {
	var sa unix.RawSockaddrAny
	n := uint32(unix.SizeofSockaddrAny)
	fd, _, e := syscall.RawSyscall6(unix.SYS_ACCEPT4, uintptr(lfd), uintptr(unsafe.Pointer(&sa)),
		uintptr(unsafe.Pointer(&n)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, netip.AddrPort{}, e
	}
	return int(fd), sockaddrPort(&sa), 0
}

// sockaddrPort is the address and port in a socket address from the kernel, IPv4-mapped IPv6 unmapped.
func sockaddrPort(sa *unix.RawSockaddrAny) netip.AddrPort {
	switch sa.Addr.Family {
	case unix.AF_INET:
		a := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), netPort(a.Port))
	case unix.AF_INET6:
		a := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), netPort(a.Port))
	}
	return netip.AddrPort{}
}

// netPort converts a port in network byte order, as a sockaddr holds it.
func netPort(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}
