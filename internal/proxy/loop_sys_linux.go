//go:build linux

package proxy

import (
	"io"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The loop's system calls. Its sockets are non-blocking, so none of these ever blocks.

// Read reads the socket once; see fdSource.
func (s *fdSource) Read(p []byte) (int, error) {
	for {
		if n, e := rawRead(s.fd, p); e != syscall.EINTR {
			return s.result(n, e, len(p))
		}
	}
}

// Read2 reads the socket once into p and then q (recvmsg(2) with two buffers): a request body of known length into
// its buffer, and whatever the client sent after it into the read buffer's spare space. Reading into p alone would
// leave ready set after a read that fills p exactly, which is how a body's last read ends, and cost a read that finds
// nothing before the loop could wait for the next request. An empty q makes it Read.
func (s *fdSource) Read2(p, q []byte) (int, error) {
	if len(q) == 0 {
		return s.Read(p)
	}
	for {
		if n, e := rawMsg2(unix.SYS_RECVMSG, s.fd, p, q, 0); e != syscall.EINTR {
			return s.result(n, e, len(p)+len(q))
		}
	}
}

// result turns the outcome of a read of up to size bytes into Read's, and clears ready when the read shows that the
// socket is drained.
func (s *fdSource) result(n int, e syscall.Errno, size int) (int, error) {
	switch {
	case e == syscall.EAGAIN:
		s.ready = false
		return 0, errWouldBlock
	case e != 0:
		return 0, e
	case n == 0:
		return 0, io.EOF
	}
	if n < size && !s.hup {
		s.ready = false
	}
	return n, nil
}

// rawRead and rawWrite read and write a socket without the Go scheduler's system-call bookkeeping (entersyscall and
// exitsyscall, which let another goroutine have the P while a call blocks): the loop's sockets are non-blocking, so
// the calls never block, and skipping it saves about 0.1 µs per call on the request path. They are recvfrom(2) and
// sendto(2) rather than read(2) and write(2), which go through the VFS layer first (vfs_read, sock_read_iter) for
// nothing on a socket; MSG_NOSIGNAL turns a write to a reset connection into EPIPE without raising SIGPIPE.
func rawRead(fd int, p []byte) (int, syscall.Errno) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(fd), uintptr(ptr), uintptr(len(p)), 0, 0, 0)
	return int(n), e
}

func rawWrite(fd int, p []byte) (int, syscall.Errno) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(ptr), uintptr(len(p)), unix.MSG_NOSIGNAL, 0, 0)
	return int(n), e
}

// closeFD and epollAdd are close(2) and epoll_ctl(2) for the loop's sockets, without the system-call bookkeeping as
// well (see rawRead): neither blocks (no socket has SO_LINGER set), and each connection makes both. The bookkeeping
// also wakes Go's monitor thread (sysmon) whenever it sleeps because every P was idle, which it is each time the
// loop parks: with a new connection per request that made sysmon 9 % of the proxy's CPU (bench/churn.sh).
func closeFD(fd int) {
	_, _, _ = syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(fd), 0, 0)
}

func epollAdd(epfd, fd int, ev *unix.EpollEvent) error {
	_, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_CTL, uintptr(epfd), unix.EPOLL_CTL_ADD, uintptr(fd),
		uintptr(unsafe.Pointer(ev)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// pollNow is epoll_wait with a zero timeout, which never blocks (see rawRead).
func pollNow(epfd int, events []unix.EpollEvent) (int, syscall.Errno) {
	n, _, e := syscall.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])),
		uintptr(len(events)), 0, 0, 0)
	return int(n), e
}

// writeFD writes to a non-blocking socket once; errWouldBlock when the socket takes nothing now.
func writeFD(fd int, b []byte) (int, error) {
	for {
		if n, again, err := writeResult(rawWrite(fd, b)); !again {
			return n, err
		}
	}
}

// writeResult turns the result of a non-blocking write into writeFD's; again is true after EINTR.
func writeResult(n int, e syscall.Errno) (int, bool, error) {
	switch e {
	case 0:
		return n, false, nil
	case syscall.EINTR:
		return 0, true, nil
	case syscall.EAGAIN:
		return 0, false, errWouldBlock
	}
	return 0, false, e
}

// writeFD2 writes a, then b, with one sendmsg(2) (a request head, and the body that did not fit in its buffer);
// errWouldBlock when the socket takes nothing now. Both must be non-empty.
func writeFD2(fd int, a, b []byte) (int, error) {
	for {
		if n, again, err := writeResult(rawMsg2(unix.SYS_SENDMSG, fd, a, b, unix.MSG_NOSIGNAL)); !again {
			return n, err
		}
	}
}

// rawMsg2 is sendmsg(2) or recvmsg(2) (trap) on a socket with the two non-empty buffers a and b, without the
// system-call bookkeeping (see rawRead).
func rawMsg2(trap uintptr, fd int, a, b []byte, flags int) (int, syscall.Errno) {
	var iov [2]unix.Iovec
	iov[0].Base, iov[1].Base = &a[0], &b[0]
	iov[0].SetLen(len(a))
	iov[1].SetLen(len(b))
	msg := unix.Msghdr{Iov: &iov[0]}
	msg.SetIovlen(len(iov))
	n, _, e := syscall.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&msg)), uintptr(flags))
	return int(n), e
}
