//go:build linux

package proxy

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testLoop plays an event loop for fdConn tests: a goroutine that owns an epoll set, with the sockets registered
// edge-triggered as the real loop registers them, and passes every event on to the socket's fdConn.
type testLoop struct {
	epfd, efd int
	done      chan struct{}

	mu    sync.Mutex
	conns map[int32]*fdConn
	err   error // what stopped run early, if anything

	// lazyOut registers the sockets of later pairs without EPOLLOUT, as the proxy registers upstream connections
	// (fdConn.armOut adds it).
	lazyOut bool
}

// newTestLoop starts a test loop and stops it when the test ends (after the cleanups of the sockets added later).
func newTestLoop(t *testing.T) *testLoop {
	t.Helper()
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatalf("epoll_create1: %v", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatalf("eventfd: %v", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(efd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		t.Fatalf("register eventfd: %v", err)
	}
	l := &testLoop{epfd: epfd, efd: efd, done: make(chan struct{}), conns: map[int32]*fdConn{}}
	go l.run()
	t.Cleanup(func() {
		one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
		if _, err := unix.Write(efd, one); err != nil {
			t.Errorf("wake test loop: %v", err)
		}
		<-l.done
		_ = unix.Close(epfd)
		_ = unix.Close(efd)
		if l.err != nil {
			t.Errorf("test loop: %v", l.err)
		}
	})
	return l
}

// run is the loop goroutine: the only caller of notifyRead and notifyWrite, as in the proxy.
func (l *testLoop) run() {
	defer close(l.done)
	events := make([]unix.EpollEvent, 16)
	for {
		n, err := unix.EpollWait(l.epfd, events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			l.err = err
			return
		}
		for _, ev := range events[:n] {
			if ev.Fd == int32(l.efd) {
				return
			}
			l.mu.Lock()
			c := l.conns[ev.Fd]
			l.mu.Unlock()
			if c == nil {
				continue
			}
			if ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				c.notifyRead()
			}
			if ev.Events&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				c.notifyWrite()
			}
		}
	}
}

// testBuf is the socket buffer size of test connections: small, so that large transfers hit EAGAIN many times.
const testBuf = 64 << 10

// pair connects a loop-owned fdConn to an ordinary peer connection over loopback. The server side is taken out of
// Go's netpoller (its descriptor duplicated, the net.Conn closed) and registered with the test loop.
func (l *testLoop) pair(t *testing.T) (*fdConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, testBuf)
		})
		return errors.Join(err, serr)
	}}
	peer, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = peer.Close() })
	_ = peer.SetDeadline(time.Now().Add(20 * time.Second)) // a hung test fails instead of hanging
	sc, err := ln.Accept()
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	fd := takeFD(t, sc)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, testBuf); err != nil {
		t.Fatalf("SO_SNDBUF: %v", err)
	}
	c := newFDConn(fd, sc.LocalAddr(), sc.RemoteAddr())
	l.mu.Lock()
	l.conns[int32(fd)] = c
	l.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd)}
	if l.lazyOut {
		c.lazyOut = &outInterest{epfd: l.epfd, ev: ev}
	} else {
		ev.Events |= unix.EPOLLOUT
	}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		t.Fatalf("epoll_ctl add: %v", err)
	}
	t.Cleanup(func() {
		_ = c.Close()
		_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, fd, nil)
		l.mu.Lock()
		delete(l.conns, int32(fd))
		l.mu.Unlock()
		_ = unix.Close(fd)
	})
	return c, peer
}

// takeFD returns a non-blocking duplicate of nc's descriptor and closes nc.
func takeFD(t *testing.T, nc net.Conn) int {
	t.Helper()
	rc, err := nc.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatalf("SyscallConn: %v", err)
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(f uintptr) { fd, derr = unix.FcntlInt(f, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		t.Fatalf("control: %v", err)
	}
	if derr != nil {
		t.Fatalf("dup: %v", derr)
	}
	_ = nc.Close()
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatalf("set non-blocking: %v", err)
	}
	return fd
}

// waitParked polls the goroutine dump until n goroutines are parked in fdConn.wait, so that the test acts on a
// waiting call and not on one that has not started yet.
func waitParked(t *testing.T, n int) {
	t.Helper()
	buf := make([]byte, 1<<20)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		dump := string(buf[:runtime.Stack(buf, true)])
		parked := 0
		for _, g := range strings.Split(dump, "\n\n") {
			if strings.Contains(g, "[select") && strings.Contains(g, "(*fdConn).wait(") {
				parked++
			}
		}
		if parked >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no goroutine parked in fdConn.wait after 10s")
}

// result is the outcome of a call run in another goroutine.
type result struct {
	n   int64
	b   []byte
	err error
}

// await returns the call's result, failing the test if it takes longer than limit.
func await(t *testing.T, ch <-chan result, limit time.Duration) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(limit):
		t.Fatalf("call still blocked after %v", limit)
		return result{}
	}
}

// randomBytes is n bytes of random data.
func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// isDeadlineErr reports whether err is a deadline error the way net.Conn callers test for one.
func isDeadlineErr(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) && errors.As(err, &ne) && ne.Timeout()
}

func TestFDConnRead(t *testing.T) {
	tests := []struct {
		name  string
		peer  func(net.Conn) // what the peer does once the fdConn's ReadAll is parked
		want  string
		check func(error) bool
	}{
		{"data arrives later", func(p net.Conn) {
			time.Sleep(50 * time.Millisecond)
			_, _ = p.Write([]byte("hello"))
			_ = p.Close()
		}, "hello", func(err error) bool { return err == nil }},
		{"EOF when the peer closes", func(p net.Conn) { _ = p.Close() }, "", func(err error) bool { return err == nil }},
		{"reset by the peer", func(p net.Conn) {
			_ = p.(*net.TCPConn).SetLinger(0)
			_ = p.Close()
		}, "", func(err error) bool { return errors.Is(err, syscall.ECONNRESET) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, peer := newTestLoop(t).pair(t)
			ch := make(chan result, 1)
			go func() {
				b, err := io.ReadAll(c)
				ch <- result{b: b, err: err}
			}()
			waitParked(t, 1)
			tt.peer(peer)
			r := await(t, ch, 10*time.Second)
			if string(r.b) != tt.want || !tt.check(r.err) {
				t.Fatalf("ReadAll = %q, %v; want %q", r.b, r.err, tt.want)
			}
		})
	}
}

func TestFDConnReadDeadline(t *testing.T) {
	tests := []struct {
		name   string
		before time.Time                     // the read deadline when Read starts
		during func(t *testing.T, c *fdConn) // run once Read waits; nil: do not wait
	}{
		{"past deadline fails at once", time.Now().Add(-time.Second), nil},
		{"moved into the past while waiting", time.Now().Add(time.Hour), func(t *testing.T, c *fdConn) {
			_ = c.SetReadDeadline(time.Now())
		}},
		{"set while waiting without one", time.Time{}, func(t *testing.T, c *fdConn) {
			_ = c.SetDeadline(time.Now().Add(20 * time.Millisecond))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestLoop(t).pair(t)
			if err := c.SetReadDeadline(tt.before); err != nil {
				t.Fatal(err)
			}
			ch := make(chan result, 1)
			go func() {
				n, err := c.Read(make([]byte, 10))
				ch <- result{n: int64(n), err: err}
			}()
			if tt.during != nil {
				waitParked(t, 1)
				tt.during(t, c)
			}
			r := await(t, ch, 5*time.Second)
			if r.n != 0 || !isDeadlineErr(r.err) {
				t.Fatalf("Read = %d, %v; want a timeout", r.n, r.err)
			}
			// A cleared deadline makes the connection usable again.
			if err := c.SetReadDeadline(time.Time{}); err != nil {
				t.Fatal(err)
			}
			if err := c.check(&c.rd); err != nil {
				t.Fatalf("after clearing the deadline: %v", err)
			}
		})
	}
}

func TestFDConnClose(t *testing.T) {
	c, _ := newTestLoop(t).pair(t)
	ch := make(chan result, 1)
	go func() {
		n, err := c.Read(make([]byte, 10))
		ch <- result{n: int64(n), err: err}
	}()
	waitParked(t, 1)
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if r := await(t, ch, 5*time.Second); !errors.Is(r.err, net.ErrClosed) {
		t.Fatalf("waiting Read after Close = %v; want net.ErrClosed", r.err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if !c.Closed() {
		t.Fatal("Closed() = false after Close")
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close = %v; want net.ErrClosed", err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after Close = %v; want net.ErrClosed", err)
	}
}

func TestFDConnWrite(t *testing.T) {
	for _, lazy := range []bool{false, true} {
		t.Run(fmt.Sprintf("lazyOut=%v", lazy), func(t *testing.T) { testFDConnWrite(t, lazy) })
	}
}

func testFDConnWrite(t *testing.T, lazyOut bool) {
	newLoop := func(t *testing.T) *testLoop {
		l := newTestLoop(t)
		l.lazyOut = lazyOut
		return l
	}
	t.Run("8 MiB to a slow reader", func(t *testing.T) {
		c, peer := newLoop(t).pair(t)
		data := randomBytes(t, 8<<20)
		ch := make(chan result, 1)
		go func() {
			n, err := c.Write(data)
			_ = c.CloseWrite()
			ch <- result{n: int64(n), err: err}
		}()
		waitParked(t, 1) // the socket is full: the writer waits for EPOLLOUT
		got, err := io.ReadAll(peer)
		if err != nil {
			t.Fatalf("peer read: %v", err)
		}
		if r := await(t, ch, 10*time.Second); r.n != int64(len(data)) || r.err != nil {
			t.Fatalf("Write = %d, %v; want %d, nil", r.n, r.err, len(data))
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("peer got %d bytes, not the %d written", len(got), len(data))
		}
	})
	t.Run("deadline passes while the peer does not read", func(t *testing.T) {
		c, _ := newLoop(t).pair(t)
		data := make([]byte, 16<<20)
		if err := c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		ch := make(chan result, 1)
		go func() {
			n, err := c.Write(data)
			ch <- result{n: int64(n), err: err}
		}()
		r := await(t, ch, 5*time.Second)
		if !isDeadlineErr(r.err) || r.n >= int64(len(data)) {
			t.Fatalf("Write = %d, %v; want a timeout with less than %d written", r.n, r.err, len(data))
		}
	})
}

func TestFDConnCloseWrite(t *testing.T) {
	c, peer := newTestLoop(t).pair(t)
	if _, err := c.Write([]byte("bye")); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
	got, err := io.ReadAll(peer)
	if err != nil || string(got) != "bye" {
		t.Fatalf("peer ReadAll = %q, %v; want \"bye\" then EOF", got, err)
	}
	// The other direction still works.
	if _, err := peer.Write([]byte("ok")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ok" {
		t.Fatalf("Read after CloseWrite = %q, %v", buf, err)
	}
}

func TestFDConnReadFromFile(t *testing.T) {
	const size = 5 << 20
	data := randomBytes(t, size)
	path := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		limit int64 // -1: the bare *os.File
		want  int64 // bytes sent, and the file offset afterwards
	}{
		{"limited below the file size", 3<<20 + 123, 3<<20 + 123},
		{"limited past the end of file", size + 1000, size},
		{"bare file to its end", -1, size},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, peer := newTestLoop(t).pair(t)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var r io.Reader = f
			lr := &io.LimitedReader{R: f, N: tt.limit}
			if tt.limit >= 0 {
				r = lr
			}
			ch := make(chan result, 1)
			go func() {
				got, err := io.ReadAll(peer)
				ch <- result{b: got, err: err}
			}()
			n, err := c.ReadFrom(r)
			if n != tt.want || err != nil {
				t.Fatalf("ReadFrom = %d, %v; want %d, nil", n, err, tt.want)
			}
			if err := c.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			pr := await(t, ch, 10*time.Second)
			if pr.err != nil || !bytes.Equal(pr.b, data[:tt.want]) {
				t.Fatalf("peer got %d bytes (%v); want the file's first %d", len(pr.b), pr.err, tt.want)
			}
			if off, _ := f.Seek(0, io.SeekCurrent); off != tt.want {
				t.Fatalf("file offset %d; want %d", off, tt.want)
			}
			if tt.limit >= 0 && lr.N != tt.limit-tt.want {
				t.Fatalf("LimitedReader.N = %d; want %d", lr.N, tt.limit-tt.want)
			}
		})
	}
	t.Run("regular files take the sendfile path", func(t *testing.T) {
		c, peer := newTestLoop(t).pair(t)
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		go func() { _, _ = io.Copy(io.Discard, peer) }()
		if n, handled, err := c.sendfile(f, 1000); !handled || n != 1000 || err != nil {
			t.Fatalf("sendfile = %d, %v, %v; want 1000, true, nil", n, handled, err)
		}
	})
}

func TestFDConnReadFromSplice(t *testing.T) {
	const size = 3 << 20
	tests := []struct {
		name   string
		limit  int64
		extra  int  // bytes the source's peer sends past limit, which must stay unread
		eof    bool // the source's peer closes after sending
		wantN  int64
		wantLR int64 // LimitedReader.N afterwards
	}{
		{"exactly N of more", size, 100, false, size, 0},
		{"source EOF before N", size + 5000, 0, true, size, 5000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLoop(t)
			src, srcPeer := l.pair(t)
			dst, dstPeer := l.pair(t)
			data := randomBytes(t, size+tt.extra)
			go func() {
				_, _ = srcPeer.Write(data)
				if tt.eof {
					_ = srcPeer.(*net.TCPConn).CloseWrite()
				}
			}()
			ch := make(chan result, 1)
			go func() {
				got, err := io.ReadAll(dstPeer)
				ch <- result{b: got, err: err}
			}()
			lr := &io.LimitedReader{R: src, N: tt.limit}
			n, err := dst.ReadFrom(lr)
			if n != tt.wantN || err != nil || lr.N != tt.wantLR {
				t.Fatalf("ReadFrom = %d, %v (N %d); want %d, nil (N %d)", n, err, lr.N, tt.wantN, tt.wantLR)
			}
			if err := dst.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			pr := await(t, ch, 10*time.Second)
			if pr.err != nil || !bytes.Equal(pr.b, data[:size]) {
				t.Fatalf("destination peer got %d bytes (%v); want the %d sent", len(pr.b), pr.err, size)
			}
			if tt.extra > 0 {
				rest := make([]byte, tt.extra)
				if _, err := io.ReadFull(src, rest); err != nil || !bytes.Equal(rest, data[size:]) {
					t.Fatalf("bytes past N: %v, equal %v", err, bytes.Equal(rest, data[size:]))
				}
			}
		})
	}
	t.Run("closing the destination stops a splice waiting for input", func(t *testing.T) {
		l := newTestLoop(t)
		src, _ := l.pair(t)
		dst, _ := l.pair(t)
		ch := make(chan result, 1)
		go func() {
			n, err := dst.ReadFrom(&io.LimitedReader{R: src, N: 10})
			ch <- result{n: n, err: err}
		}()
		waitParked(t, 1)
		_ = dst.Close()
		if r := await(t, ch, 5*time.Second); !errors.Is(r.err, net.ErrClosed) {
			t.Fatalf("ReadFrom = %d, %v; want net.ErrClosed", r.n, r.err)
		}
	})
}

func TestFDConnReadFromGeneric(t *testing.T) {
	c, peer := newTestLoop(t).pair(t)
	data := randomBytes(t, 200<<10)
	ch := make(chan result, 1)
	go func() {
		got, err := io.ReadAll(peer)
		ch <- result{b: got, err: err}
	}()
	lr := &io.LimitedReader{R: bytes.NewReader(data), N: 150 << 10}
	n, err := c.ReadFrom(lr)
	if n != 150<<10 || err != nil || lr.N != 0 {
		t.Fatalf("ReadFrom = %d, %v (N %d); want %d, nil (N 0)", n, err, lr.N, 150<<10)
	}
	_ = c.CloseWrite()
	if pr := await(t, ch, 10*time.Second); pr.err != nil || !bytes.Equal(pr.b, data[:150<<10]) {
		t.Fatalf("peer got %d bytes (%v)", len(pr.b), pr.err)
	}
}

// TestFDConnNotifyBeforeWait is the lost wake-up case: the loop passes an event on after the system call failed
// with EAGAIN but before the goroutine waits. The token must still be there for the wait.
func TestFDConnNotifyBeforeWait(t *testing.T) {
	c, _ := newTestLoop(t).pair(t)
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.rd.ready: // SetReadDeadline's poke
	default:
	}
	c.notifyRead()
	c.notifyRead() // never blocks: the token is already there
	c.rd.mu.Lock()
	defer c.rd.mu.Unlock()
	if err := c.wait(&c.rd, nil); err != nil {
		t.Fatalf("wait after notifyRead = %v; want an immediate wake-up", err)
	}
}

// TestFDConnWaitAllocs checks that a wait with a deadline reuses the direction's timer.
func TestFDConnWaitAllocs(t *testing.T) {
	c, _ := newTestLoop(t).pair(t)
	if err := c.SetReadDeadline(time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	c.rd.mu.Lock()
	defer c.rd.mu.Unlock()
	allocs := testing.AllocsPerRun(100, func() {
		c.notifyRead()
		if err := c.wait(&c.rd, nil); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("a wait allocates %.1f times; want 0", allocs)
	}
}
