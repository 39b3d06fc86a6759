//go:build linux

package proxy

import (
	"errors"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fjord-gw/fjord/internal/upstream"
)

// The loop's upstream connections: each loop keeps its own idle pool per instance, registered with its epoll set, so
// an exchange never reaches into another core's pool.

// registerUp takes an upstream connection into the loop.
func (l *loop) registerUp(uc *upstream.Conn) (*loopUp, error) {
	sc, ok := uc.Conn.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.New("upstream connection has no descriptor")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	u := &loopUp{uc: uc, fd: -1}
	if err := raw.Control(func(p uintptr) { u.fd = int(p) }); err != nil {
		return nil, err
	}
	u.src.fd = u.fd
	u.slot = l.alloc(loopSlot{u: u})
	if err := l.register(u.fd, u.slot); err != nil {
		l.release(u.slot)
		return nil, err
	}
	_ = uc.Conn.Conn.SetDeadline(time.Time{}) // the loop keeps its own time; a pooled conn may carry an old deadline
	uc.R.SetSource(&u.src)
	return u, nil
}

// detachUp gives an upstream connection back to blocking use by a goroutine.
func (l *loop) detachUp(u *loopUp) {
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, u.fd, nil)
	l.release(u.slot)
	u.c = nil
	u.uc.R.SetSource(&u.uc.Conn)
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
	_ = u.uc.Close()
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
