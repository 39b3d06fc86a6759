package http1

import (
	"errors"
	"io"
)

// ErrBufferFull is returned by Reader.Fill when the buffer holds only unread bytes, so no read can be made.
var ErrBufferFull = errors.New("http1: buffer full")

// minReaderSize is the smallest buffer NewReader accepts: smaller ones could not hold a minimal request head.
const minReaderSize = 64

// maxEmptyReads bounds how often Fill retries a source that returns (0, nil), so a broken io.Reader cannot spin a
// connection goroutine forever. net.Conn never does this; the bound only matters for odd wrappers.
const maxEmptyReads = 100

// Reader is a buffered reader over a connection with a fixed-size buffer that never grows, so a client cannot make
// fjord allocate by sending long heads: a head that does not fit is an error (431/414), not a reallocation.
//
// Unlike bufio.Reader it exposes its buffer (Buffered, Discard) so the parsers can return slices into it, and Fill
// makes exactly one Read on the source, so the caller controls every syscall. A Reader is not safe for concurrent use.
type Reader struct {
	src  io.Reader
	buf  []byte
	r, w int   // buf[r:w] is unread
	err  error // error from the source, kept until the buffered bytes read before it are consumed
}

// NewReader returns a Reader over src with a buffer of size bytes (at least 64; smaller sizes are raised).
// The buffer is the upper bound for a request or response head and for one chunk-size or trailer line.
func NewReader(src io.Reader, size int) *Reader {
	if size < minReaderSize {
		size = minReaderSize
	}
	return &Reader{src: src, buf: make([]byte, size)}
}

// Reset makes b read from src, dropping any buffered data and pending error, so a pooled Reader can serve a new
// connection without allocating.
func (b *Reader) Reset(src io.Reader) {
	b.src = src
	b.r, b.w = 0, 0
	b.err = nil
}

// SetSource makes b read from src from now on, keeping what is buffered: a connection moving between an event
// loop (non-blocking reads) and a goroutine (blocking reads) keeps its unread bytes.
func (b *Reader) SetSource(src io.Reader) { b.src = src }

// Detach hands out the buffer when nothing is buffered and no error is pending, so an idle connection can return it
// to a pool instead of holding it while it waits; it returns nil (and keeps the buffer) otherwise. After a Detach
// the Reader has no buffer: Attach one before any other call.
func (b *Reader) Detach() []byte {
	if b.r != b.w || b.err != nil || b.buf == nil {
		return nil
	}
	buf := b.buf
	b.buf, b.r, b.w = nil, 0, 0
	return buf
}

// Attach gives a detached Reader the buffer buf, whose first n bytes were already read from the source (the
// caller read them itself, for example in a readiness callback). len(buf) becomes the buffer size.
func (b *Reader) Attach(buf []byte, n int) {
	b.buf, b.r, b.w = buf, 0, n
}

// Attached reports whether the Reader holds a buffer.
func (b *Reader) Attached() bool { return b.buf != nil }

// Size returns the buffer size.
func (b *Reader) Size() int { return len(b.buf) }

// Buffered returns the unread bytes. The slice aliases the buffer and is valid until the next Fill, Read or Discard.
func (b *Reader) Buffered() []byte { return b.buf[b.r:b.w] }

// Discard consumes n buffered bytes. It panics if n is negative or larger than len(Buffered()): that is a caller bug
// that would otherwise silently desynchronise the message stream.
func (b *Reader) Discard(n int) {
	if n < 0 || n > b.w-b.r {
		panic("http1: Reader.Discard out of range")
	}
	b.r += n
}

// Truncate drops the last n unread bytes and frees their space, for a caller that copied them elsewhere (the part of
// a request body that came with its head, moved to a body buffer) and wants the space for what comes next (Spare).
// It panics if n is negative or larger than len(Buffered()).
func (b *Reader) Truncate(n int) {
	if n < 0 || n > b.w-b.r {
		panic("http1: Reader.Truncate out of range")
	}
	b.w -= n
}

// Spare returns the free buffer space behind the unread bytes, for a read the caller makes itself (one system call
// into a body buffer and, for whatever follows the body, this space); Extend then makes what it read there unread.
// Unlike Fill, which first moves the unread bytes to the front, it leaves every byte before them in place, so a
// parsed head that is still in use stays valid. It is empty while an error from the source is pending.
func (b *Reader) Spare() []byte {
	if b.err != nil {
		return nil
	}
	return b.buf[b.w:]
}

// Extend makes the first n bytes of Spare unread, after the caller wrote them there. It panics if n is negative or
// larger than len(Spare()).
func (b *Reader) Extend(n int) {
	if n < 0 || n > len(b.Spare()) {
		panic("http1: Reader.Extend out of range")
	}
	b.w += n
}

// Fill moves the unread bytes to the front of the buffer if needed and makes one Read from the source into the free
// space. It returns ErrBufferFull when no space is free, and the source's error (io.EOF, a timeout, ...) when the
// Read returned no data. An error that comes with data is kept and returned by the next Fill, so the data is never
// lost. Fill blocks as long as the source's Read blocks.
func (b *Reader) Fill() error {
	if b.err != nil {
		err := b.err
		b.err = nil
		return err
	}
	if b.r > 0 {
		// Compacting costs a copy of the unread tail, usually a few bytes of a pipelined head, and gives the read
		// the largest possible space.
		b.w = copy(b.buf, b.buf[b.r:b.w])
		b.r = 0
	}
	if b.w == len(b.buf) {
		return ErrBufferFull
	}
	for range maxEmptyReads {
		n, err := b.src.Read(b.buf[b.w:])
		if n < 0 || n > len(b.buf)-b.w {
			return errors.New("http1: source returned an invalid count")
		}
		b.w += n
		if n > 0 {
			b.err = err
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// Read implements io.Reader. Buffered bytes are returned first; with none buffered and len(p) at least the buffer
// size, it reads straight into p (no copy); otherwise it makes one Fill and copies. Read blocks only when nothing is
// buffered.
func (b *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.r == b.w {
		if b.err != nil {
			err := b.err
			b.err = nil
			return 0, err
		}
		if len(p) >= len(b.buf) {
			return b.src.Read(p)
		}
		if err := b.Fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, b.buf[b.r:b.w])
	b.Discard(n)
	return n, nil
}
