package proxy

import (
	"io"
	"sync"
	"syscall"
)

// Buffers are borrowed per request and returned when a connection goes idle, so an idle keep-alive connection holds
// no buffer at all: its memory is its goroutine and its conn struct.
const (
	writeBufferSize = 16 << 10 // response and request heads, plus small bodies sent in the same write
	bodyBufferSize  = 32 << 10 // streaming bodies
)

// buffer is a pooled byte slice. Pools hold pointers so that Get and Put do not allocate.
type buffer struct{ b []byte }

// bufferPool hands out buffers of one size; a buffer of another size (after a reload changed the size) is dropped.
type bufferPool struct{ p sync.Pool }

func (p *bufferPool) get(size int) *buffer {
	if v, ok := p.p.Get().(*buffer); ok && len(v.b) == size {
		return v
	}
	return &buffer{b: make([]byte, size)}
}

func (p *bufferPool) put(b *buffer) { p.p.Put(b) }

// uploadPools hold the buffers request bodies are collected in, in three sizes up to maxUploadBuffer, so that a
// connection uploading a few KiB holds 16 KiB, not the largest size, while its body trickles in.
type uploadPools [3]bufferPool

// maxUploadBuffer is the largest collected request body (loop.startCollect).
const maxUploadBuffer = 64 << 10

func uploadClass(n int64) (int, int) {
	switch {
	case n <= 16<<10:
		return 0, 16 << 10
	case n <= 32<<10:
		return 1, 32 << 10
	}
	return 2, maxUploadBuffer
}

// get returns a buffer for a body of n bytes (at most maxUploadBuffer).
func (u *uploadPools) get(n int64) *buffer {
	i, size := uploadClass(n)
	return u[i].get(size)
}

func (u *uploadPools) put(b *buffer) {
	i, _ := uploadClass(int64(len(b.b)))
	u[i].put(b)
}

// acquireWrite makes sure the connection has its write buffer for the request being served.
func (c *conn) acquireWrite() {
	if c.wb == nil {
		c.wb = c.srv.writeBufs.get(writeBufferSize)
		c.wbuf = c.wb.b[:0]
	}
}

// bodyBuf returns the scratch buffer for streaming a body, borrowing it on first use in a request.
func (c *conn) bodyBuf() []byte {
	if c.bb == nil {
		c.bb = c.srv.bodyBufs.get(bodyBufferSize)
	}
	return c.bb.b
}

// releaseBuffers returns every borrowed buffer; the read buffer only when it holds no unread bytes.
func (c *conn) releaseBuffers() {
	if c.wb != nil {
		if cap(c.wbuf) == writeBufferSize {
			c.wb.b = c.wbuf[:writeBufferSize]
			c.srv.writeBufs.put(c.wb)
		}
		c.wb, c.wbuf = nil, nil
	}
	if c.bb != nil {
		c.srv.bodyBufs.put(c.bb)
		c.bb = nil
	}
	if c.rb != nil && c.r.Detach() != nil {
		c.srv.headBufs.put(c.rb)
		c.rb = nil
	}
}

// waitRequest waits for the first bytes of the next request and reads them into a freshly borrowed read buffer.
// On a plain TCP connection it waits for readability without holding a buffer (the readiness callback borrows one
// only when data is there), so thousands of idle keep-alive connections cost no buffer memory.
func (c *conn) waitRequest(size int) error {
	if c.raw == nil {
		c.attachReadBuffer(size)
		return c.r.Fill()
	}
	c.idleSize, c.idleErr = size, nil
	if c.idleRead == nil {
		c.idleRead = c.idleReadFd // a method value allocates: once per connection, and never for the loops
	}
	if err := c.raw.Read(c.idleRead); err != nil {
		return err
	}
	return c.idleErr
}

func (c *conn) attachReadBuffer(size int) {
	if !c.r.Attached() {
		c.rb = c.srv.headBufs.get(size)
		c.r.Attach(c.rb.b, 0)
	}
}

// idleReadFd is the readiness callback of waitRequest (its method value is made once per connection). It returns false
// to wait for readability, true when it read data or an error that ends the wait.
func (c *conn) idleReadFd(fd uintptr) bool {
	if c.rb == nil {
		c.rb = c.srv.headBufs.get(c.idleSize)
	}
	for {
		n, err := syscall.Read(int(fd), c.rb.b)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			c.srv.headBufs.put(c.rb)
			c.rb = nil
			return false
		case err != nil:
			c.idleErr = err
		case n == 0:
			c.idleErr = io.EOF
		default:
			c.r.Attach(c.rb.b, n)
			return true
		}
		c.srv.headBufs.put(c.rb)
		c.rb = nil
		return true
	}
}
