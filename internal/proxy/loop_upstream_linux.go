//go:build linux

package proxy

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/fjord-gw/fjord/internal/upstream"
)

// The loop's upstream connections: each loop keeps its own idle pool per instance, registered with its epoll set, so
// an exchange never reaches into another core's pool.

// registerUp takes an upstream connection into the loop: its socket leaves Go's netpoller (detach) for the loop's
// epoll set, and uc goes on as an fdConn. On failure uc is closed.
func (l *loop) registerUp(uc *upstream.Conn) (*loopUp, error) {
	local, remote := uc.Conn.Conn.LocalAddr(), uc.Conn.Conn.RemoteAddr()
	fd, err := detach(uc.Conn.Conn)
	if err != nil {
		_ = uc.Close()
		return nil, err
	}
	u := &loopUp{uc: uc, fd: fd, fc: newFDConn(fd, local, remote)}
	uc.Conn.Conn = u.fc
	u.src.fd = fd
	u.slot = l.alloc(loopSlot{u: u})
	// Without EPOLLOUT until a write would block (fdConn.armOut): a request rarely fills the send buffer, and with
	// that interest epoll also reports the socket, as writable, whenever input that raised an event was read before
	// the event was taken (an upstream that sends a response's head and body in two segments, as nginx does for a
	// file). Behind nginx, at 4 client connections, that was one upstream event in six, each doing nothing.
	ev, err := l.register(fd, u.slot, false)
	if err != nil {
		l.closeUp(u)
		return nil, err
	}
	u.fc.lazyOut = &outInterest{epfd: l.epfd, ev: ev}
	_ = uc.Conn.Clear() // the loop keeps its own time; a pooled conn may carry old limits
	uc.R.SetSource(&u.src)
	return u, nil
}

// takeBack ends the loan of u to the goroutine that served c's response: u is pooled if the goroutine left it
// reusable and did not close it.
func (l *loop) takeBack(c *conn, u *loopUp) {
	c.lc.lent = nil
	u.lent = false
	u.uc.R.SetSource(&u.src)
	u.src.ready = true // events that came while it was lent were not looked at
	_ = u.fc.SetDeadline(time.Time{})
	if c.lc.lentKeep && !u.fc.Closed() {
		l.putIdle(u)
	} else {
		l.closeUp(u)
	}
}

// releaseUp settles the upstream connection of c's exchange (see conn.releaseUp).
func (l *loop) releaseUp(c *conn, reusable bool) {
	u := c.lc.up
	c.lc.up = nil
	if reusable {
		l.putIdle(u)
	} else {
		l.closeUp(u)
	}
}

func (l *loop) closeUp(u *loopUp) {
	l.release(u.slot)
	u.c = nil
	_ = u.uc.Close() // the fdConn: wakes a goroutine still waiting on it
	closeFD(u.fd)
}

// popIdle returns an idle upstream connection to inst: this loop's most recent one, else one from the instance's
// shared pool (left there by goroutine-served requests), registered now.
func (l *loop) popIdle(inst *upstream.Instance) *loopUp {
	pool := l.pools[inst]
	for n := len(pool); n > 0; n = len(pool) {
		u := pool[n-1]
		pool[n-1] = nil
		pool = pool[:n-1]
		l.pools[inst] = pool
		if _, idle := inst.KeepAlive(); l.now-u.idleSince <= int64(idle) {
			u.uc.Reused = true
			return u
		}
		l.closeUp(u)
	}
	if uc := inst.TakeIdle(); uc != nil {
		u, err := l.registerUp(uc)
		if err != nil {
			_ = uc.Close()
			return nil
		}
		return u
	}
	return nil
}

// putIdle keeps an upstream connection whose exchange ended cleanly, or closes it.
func (l *loop) putIdle(u *loopUp) {
	u.c = nil
	inst := u.uc.Instance()
	max, _ := inst.KeepAlive()
	pool := l.pools[inst]
	if len(u.uc.R.Buffered()) != 0 || len(pool) >= max {
		l.closeUp(u)
		return
	}
	u.idleSince = l.now
	l.pools[inst] = append(pool, u)
}

// idleReadable handles input on an idle upstream connection: the upstream closed it (or sent bytes nobody asked
// for), so it is dropped. The event may also be a late one for data an exchange already read: a peek tells.
func (l *loop) idleReadable(u *loopUp) {
	var b [1]byte
	_, _, err := unix.Recvfrom(u.fd, b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	if err == unix.EAGAIN {
		u.src.ready = false
		return
	}
	inst := u.uc.Instance()
	pool := l.pools[inst]
	for i, p := range pool {
		if p == u {
			copy(pool[i:], pool[i+1:])
			pool[len(pool)-1] = nil
			l.pools[inst] = pool[:len(pool)-1]
			break
		}
	}
	l.closeUp(u)
}
