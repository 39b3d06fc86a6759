//go:build linux

package proxy

import (
	"errors"
	"net"

	"golang.org/x/sys/unix"
)

// DeferAcceptSupported reports whether SetDeferAccept can turn TCP_DEFER_ACCEPT on here.
const DeferAcceptSupported = true

// deferAcceptSeconds is how long the kernel holds a connection that has sent nothing before it hands it over anyway
// (rounded up to its SYN-ACK retransmissions, so a few seconds): such a client is then served like any other, and
// read_header_timeout bounds its wait.
const deferAcceptSeconds = 1

// SetDeferAccept turns TCP_DEFER_ACCEPT on or off on a TCP listener: with it on, the kernel completes accept(2) for a
// connection only once the client's first bytes have arrived (nginx's `listen ... deferred`). Set ListenerMode's
// DeferAccept to match, so the event loops read those bytes as they accept.
func SetDeferAccept(ln net.Listener, on bool) error {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return errors.New("not a TCP listener")
	}
	rc, err := tl.SyscallConn()
	if err != nil {
		return err
	}
	v := 0
	if on {
		v = deferAcceptSeconds
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, v)
	}); err != nil {
		return err
	}
	return serr
}
