//go:build !linux

package proxy

import (
	"errors"
	"net"
)

// DeferAcceptSupported reports whether SetDeferAccept can turn TCP_DEFER_ACCEPT on here: only on Linux.
const DeferAcceptSupported = false

// SetDeferAccept turns TCP_DEFER_ACCEPT on or off on a TCP listener; on this system only off, which it already is.
func SetDeferAccept(ln net.Listener, on bool) error {
	if on {
		return errors.New("TCP_DEFER_ACCEPT needs Linux")
	}
	return nil
}
