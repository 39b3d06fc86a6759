//go:build linux

package app_test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// silentConnClosed opens a connection to addr that sends nothing and reports whether it is closed within d. With
// 100 ms timeouts, fjord closes one it accepted at once; one the kernel holds back for TCP_DEFER_ACCEPT reaches
// fjord only after about a second.
func silentConnClosed(t *testing.T, addr string, d time.Duration) bool {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err = c.Read(make([]byte, 1))
	return !errors.Is(err, os.ErrDeadlineExceeded)
}

// TestListenerDeferAccept: defer_accept: true keeps a connection that sends nothing away from fjord (the kernel
// holds it), requests are served as usual, and a reload that turns it off changes the listening socket it keeps.
func TestListenerDeferAccept(t *testing.T) {
	a := newUpstream(t, "a", nil)
	addr := freePort(t)
	cfg := func(deferAccept bool) string {
		return fmt.Sprintf(`server: {read_header_timeout: 100ms, idle_timeout: 100ms, shutdown_timeout: 5s}
services:
  a:
    instances: [%q]
routes:
  - match: {path_prefix: /}
    service: a
listeners:
  - {name: main, address: %q, defer_accept: %t}
`, a.addr, addr, deferAccept)
	}
	g := startGateway(t, cfg(true))
	if silentConnClosed(t, addr, 600*time.Millisecond) {
		t.Fatal("with defer_accept, fjord took a connection that sent nothing")
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: waitLimit}
	mustGet(t, c, "http://"+addr+"/", 200, "a")

	if r := g.apply(cfg(false)); r.err != nil {
		t.Fatalf("reload: %v", r.err)
	}
	if !silentConnClosed(t, addr, 3*time.Second) {
		t.Fatal("after defer_accept was turned off, a silent connection was not taken and closed")
	}
	mustGet(t, c, "http://"+addr+"/", 200, "a")
}
