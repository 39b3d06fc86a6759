package http1

import (
	"bytes"
	"errors"
	"io"
)

// minScratch is the smallest wbuf CopyBody works with: room for a chunk header, some data and the chunk trailer.
const minScratch = 64

// maxTrailers bounds the trailer lines of a chunked body, like Limits.MaxHeaders bounds a head.
const maxTrailers = DefaultMaxHeaders

// errUnsupportedFraming is returned for framing pairs CopyBody cannot translate (e.g. chunked to length, whose
// length is unknown until the end).
var errUnsupportedFraming = errors.New("http1: CopyBody: unsupported framing conversion")

// CopyBody copies a message body framed as in (with length for FramingLength) from src to dst, writing it framed as
// out, and returns the bytes of body payload copied (chunk data, not framing).
//
// Supported conversions: Length->Length and Length->UntilClose (raw copy of exactly length bytes: buffered bytes
// first, then reads of at most the remaining length, so nothing past the body is consumed); Chunked->Chunked (every
// chunk decoded, validated and re-encoded canonically as "HEX\r\n...\r\n", then "0\r\n", validated trailers passed
// through, and the final "\r\n"); UntilClose->Chunked (encoded until src reports EOF); UntilClose->UntilClose (raw
// until EOF); Chunked->UntilClose (decoded data only; trailers validated and dropped). FramingNone in copies nothing.
//
// Data is written as soon as it has been read: CopyBody flushes what it holds before every read that may block, so a
// server-sent event stream is never delayed. wbuf is its only scratch space (at least 64 bytes; 16-32 KiB is a good
// size), so it does not allocate. A chunked body's bytes after the final CRLF stay buffered in src for the next
// message. A chunked body may use any chunk size, but a chunk-size or trailer line must fit in src's buffer.
//
// Errors: reading or parsing src fails with *SourceError (a malformed chunk is a *Error inside, Status 400; a
// premature EOF is io.ErrUnexpectedEOF inside); writing dst fails with *DestError. CopyBody blocks in src and dst.
func CopyBody(dst io.Writer, src *Reader, in Framing, length int64, out Framing, wbuf []byte) (int64, error) {
	if len(wbuf) < minScratch {
		return 0, errors.New("http1: CopyBody: scratch buffer smaller than 64 bytes")
	}
	switch {
	case in == FramingNone:
		return 0, nil
	case in == FramingLength && (out == FramingLength || out == FramingUntilClose):
		if length < 0 {
			return 0, errors.New("http1: CopyBody: negative length")
		}
		return copyRaw(dst, src, length, wbuf)
	case in == FramingUntilClose && out == FramingUntilClose:
		return copyRaw(dst, src, -1, wbuf)
	case in == FramingChunked && (out == FramingChunked || out == FramingUntilClose):
		c := copier{dst: dst, src: src, wbuf: wbuf}
		return c.decodeChunked(out == FramingChunked)
	case in == FramingUntilClose && out == FramingChunked:
		c := copier{dst: dst, src: src, wbuf: wbuf}
		return c.encodeChunked()
	}
	return 0, errUnsupportedFraming
}

// copyRaw copies exactly n bytes, or until EOF when n < 0. Buffered bytes are written straight from src's buffer;
// then each read goes into wbuf (directly from the connection when wbuf is at least src's size) and is written at
// once, so there is one write per read.
func copyRaw(dst io.Writer, src *Reader, n int64, wbuf []byte) (int64, error) {
	var done int64
	for n < 0 || done < n {
		var p []byte
		if buf := src.Buffered(); len(buf) > 0 {
			p = buf
			if n >= 0 && int64(len(p)) > n-done {
				p = p[:n-done]
			}
			src.Discard(len(p)) // p stays valid: nothing refills the buffer before the write
		} else {
			p = wbuf
			if n >= 0 && int64(len(p)) > n-done {
				p = p[:n-done]
			}
			m, err := src.Read(p)
			p = p[:m]
			if m == 0 && err != nil {
				if errors.Is(err, io.EOF) {
					if n < 0 {
						return done, nil
					}
					err = io.ErrUnexpectedEOF
				}
				return done, &SourceError{Err: err}
			}
		}
		if _, err := dst.Write(p); err != nil {
			return done, &DestError{Err: err}
		}
		done += int64(len(p))
	}
	return done, nil
}

// copier accumulates output in wbuf so that a chunk header, its data and its CRLF usually leave in one write, and
// flushes before every read that may block.
type copier struct {
	dst  io.Writer
	src  *Reader
	wbuf []byte
	n    int // wbuf[:n] is pending output
}

func (c *copier) flush() error {
	if c.n == 0 {
		return nil
	}
	_, err := c.dst.Write(c.wbuf[:c.n])
	c.n = 0
	if err != nil {
		return &DestError{Err: err}
	}
	return nil
}

// emit queues p, writing it directly when it does not fit the free space and is at least as large as wbuf.
func (c *copier) emit(p []byte) error {
	if len(p) <= len(c.wbuf)-c.n {
		c.n += copy(c.wbuf[c.n:], p)
		return nil
	}
	if err := c.flush(); err != nil {
		return err
	}
	if len(p) >= len(c.wbuf) {
		if _, err := c.dst.Write(p); err != nil {
			return &DestError{Err: err}
		}
		return nil
	}
	c.n = copy(c.wbuf, p)
	return nil
}

// emitChunkHeader queues "HEX\r\n" for a chunk of size n. It formats straight into wbuf: a stack array handed
// to emit would escape (it may reach dst.Write) and cost an allocation per chunk.
func (c *copier) emitChunkHeader(n int64) error {
	const maxHeader = 16 + 2 // 16 hex digits and CRLF
	if len(c.wbuf)-c.n < maxHeader {
		if err := c.flush(); err != nil {
			return err
		}
	}
	digits := 1
	for v := n >> 4; v != 0; v >>= 4 {
		digits++
	}
	const hex = "0123456789abcdef"
	p := c.wbuf[c.n : c.n+digits+2]
	for i := digits - 1; i >= 0; i-- {
		p[i] = hex[n&0xf]
		n >>= 4
	}
	p[digits], p[digits+1] = '\r', '\n'
	c.n += len(p)
	return nil
}

// fill flushes pending output, then reads more input; EOF becomes io.ErrUnexpectedEOF unless eofOK.
func (c *copier) fill(eofOK bool) error {
	if err := c.flush(); err != nil {
		return err
	}
	err := c.src.Fill()
	if err == nil {
		return nil
	}
	if errors.Is(err, io.EOF) && !eofOK {
		err = io.ErrUnexpectedEOF
	}
	if errors.Is(err, ErrBufferFull) {
		err = newError(400, "chunked: line too long")
	}
	return &SourceError{Err: err}
}

// line returns the next CRLF-terminated line (without CRLF) from src, filling as needed. The line stays valid
// until the caller Discards skip bytes.
func (c *copier) line() (line []byte, skip int, err error) {
	for {
		buf := c.src.Buffered()
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			if i == 0 || buf[i-1] != '\r' {
				return nil, 0, &SourceError{Err: newError(400, "chunked: bare LF")}
			}
			return buf[:i-1], i + 1, nil
		}
		if err := c.fill(false); err != nil {
			return nil, 0, err
		}
	}
}

// encodeChunked reads until EOF and writes each read as one chunk.
func (c *copier) encodeChunked() (int64, error) {
	var done int64
	for {
		buf := c.src.Buffered()
		if len(buf) == 0 {
			if err := c.fill(true); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return done, err
			}
			continue
		}
		if err := c.emitChunkHeader(int64(len(buf))); err != nil {
			return done, err
		}
		if err := c.emit(buf); err != nil {
			return done, err
		}
		if err := c.emit(crlf); err != nil {
			return done, err
		}
		c.src.Discard(len(buf))
		done += int64(len(buf))
	}
	if err := c.emit(lastChunk); err != nil {
		return done, err
	}
	return done, c.flush()
}

var (
	crlf      = []byte("\r\n")
	lastChunk = []byte("0\r\n\r\n")
	zeroChunk = []byte("0\r\n")
)
