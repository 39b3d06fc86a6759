package http1

import (
	"errors"
	"io"
	"math"
)

// decodeChunked decodes a chunked body from src, validating every chunk-size line, data CRLF and trailer line.
// With reencode it writes the canonical chunked form and the trailers; without, only the data.
func (c *copier) decodeChunked(reencode bool) (int64, error) {
	var done int64
	for {
		line, skip, err := c.line()
		if err != nil {
			return done, err
		}
		size, err := parseChunkSize(line)
		if err != nil {
			return done, &SourceError{Err: err}
		}
		c.src.Discard(skip)
		if size == 0 {
			break
		}
		if reencode {
			if err := c.emitChunkHeader(size); err != nil {
				return done, err
			}
		}
		n, err := c.chunkData(size)
		done += n
		if err != nil {
			return done, err
		}
		if err := c.chunkEnd(reencode); err != nil {
			return done, err
		}
	}
	if reencode {
		if err := c.emit(zeroChunk); err != nil {
			return done, err
		}
	}
	if err := c.trailers(reencode); err != nil {
		return done, err
	}
	return done, c.flush()
}

// chunkData copies size bytes of chunk data: buffered bytes through wbuf, and for large remainders reads straight
// into wbuf (after flushing it) so big chunks cost one copy, not two.
func (c *copier) chunkData(size int64) (int64, error) {
	var done int64
	for done < size {
		buf := c.src.Buffered()
		if len(buf) > 0 {
			if int64(len(buf)) > size-done {
				buf = buf[:size-done]
			}
			if err := c.emit(buf); err != nil {
				return done, err
			}
			c.src.Discard(len(buf))
			done += int64(len(buf))
			continue
		}
		if size-done >= int64(len(c.wbuf)) && len(c.wbuf) >= c.src.Size() {
			if err := c.flush(); err != nil {
				return done, err
			}
			m, err := c.src.Read(c.wbuf)
			if m == 0 && err != nil {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return done, &SourceError{Err: err}
			}
			if _, err := c.dst.Write(c.wbuf[:m]); err != nil {
				return done, &DestError{Err: err}
			}
			done += int64(m)
			continue
		}
		if err := c.fill(false); err != nil {
			return done, err
		}
	}
	return done, nil
}

// chunkEnd consumes the CRLF that must follow chunk data exactly.
func (c *copier) chunkEnd(reencode bool) error {
	for len(c.src.Buffered()) < 2 {
		if err := c.fill(false); err != nil {
			return err
		}
	}
	if buf := c.src.Buffered(); buf[0] != '\r' || buf[1] != '\n' {
		return &SourceError{Err: newError(400, "chunked: data not followed by CRLF")}
	}
	c.src.Discard(2)
	if reencode {
		return c.emit(crlf)
	}
	return nil
}

// trailers validates the trailer section up to the final empty line, passing it through when reencode.
func (c *copier) trailers(reencode bool) error {
	for count := 0; ; count++ {
		line, skip, err := c.line()
		if err != nil {
			return err
		}
		if len(line) == 0 {
			c.src.Discard(skip)
			break
		}
		if count == maxTrailers {
			return &SourceError{Err: newError(400, "chunked: too many trailers")}
		}
		if _, _, err := splitFieldLine(line, 400); err != nil {
			return &SourceError{Err: err}
		}
		if reencode {
			if err := c.emit(line); err != nil {
				return err
			}
			if err := c.emit(crlf); err != nil {
				return err
			}
		}
		c.src.Discard(skip)
	}
	if reencode {
		return c.emit(crlf)
	}
	return nil
}

// parseChunkSize parses `chunk-size [ BWS ";" chunk-ext ]` (RFC 9112 section 7.1). The size is 1 to 16 hex
// digits and must fit in int64. Extensions are checked loosely (printable bytes, HTAB and obs-text) because fjord
// drops them, but control bytes are rejected so a CR cannot hide a second line.
func parseChunkSize(line []byte) (int64, error) {
	var n uint64
	i := 0
	for ; i < len(line); i++ {
		v, ok := hexVal(line[i])
		if !ok {
			break
		}
		if i == 16 {
			return 0, newError(400, "chunked: chunk size too long")
		}
		n = n<<4 | uint64(v)
	}
	if i == 0 {
		return 0, newError(400, "chunked: invalid chunk size")
	}
	if n > math.MaxInt64 {
		return 0, newError(400, "chunked: chunk size overflows")
	}
	rest := line[i:]
	if len(rest) == 0 {
		return int64(n), nil
	}
	for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
		rest = rest[1:]
	}
	if len(rest) == 0 || rest[0] != ';' {
		return 0, newError(400, "chunked: invalid chunk size")
	}
	for _, c := range rest {
		if !valueTable[c] {
			return 0, newError(400, "chunked: invalid byte in chunk extension")
		}
	}
	return int64(n), nil
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
