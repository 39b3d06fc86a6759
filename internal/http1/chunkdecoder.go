package http1

import "bytes"

// ChunkedDecoder decodes a chunked message body piece by piece, for a caller that must not block on its source (an
// event loop relaying a response as it arrives). Each Decode call takes the bytes that have arrived, writes what they
// complete into the free capacity of dst, and remembers where it stopped. It applies the checks of CopyBody's chunked
// decoding, with the same errors, and writes the same output: the canonical re-encoding ("HEX\r\n" data "\r\n" per
// chunk, "0\r\n", the validated trailers, "\r\n") or, without reencode, the data alone. The zero value decodes
// without re-encoding; Reset chooses.
type ChunkedDecoder struct {
	state    chunkState
	reencode bool
	left     int64 // chunk data bytes still to come (chunkData)
	trailers int   // trailer lines seen
	payload  int64 // data bytes decoded so far
}

type chunkState uint8

const (
	chunkSizeLine chunkState = iota // a chunk-size line comes next
	chunkData                       // inside a chunk's data
	chunkDataEnd                    // the CRLF after a chunk's data comes next
	chunkTrailer                    // a trailer line or the final empty line comes next
	chunkDone                       // the body is complete
)

// MaxChunkHeader is the most a re-encoded chunk-size line takes: 16 hex digits and CRLF. A re-encoding Decode writes
// a size line only when dst has this much room.
const MaxChunkHeader = 16 + 2

// Reset makes d ready for a new body; reencode chooses the chunked output (else the data alone).
func (d *ChunkedDecoder) Reset(reencode bool) { *d = ChunkedDecoder{reencode: reencode} }

// Done reports whether the whole body, trailers and final CRLF included, has been decoded.
func (d *ChunkedDecoder) Done() bool { return d.state == chunkDone }

// Payload is the number of data bytes decoded so far (chunk data, not framing).
func (d *ChunkedDecoder) Payload() int64 { return d.payload }

// Decode consumes a prefix of src and appends its output to dst, never beyond cap(dst). It returns the extended dst
// and the number of bytes of src consumed. It stops when the body is done (bytes after it belong to the next message
// and are not consumed), when dst is full (send it and call again with the rest of src), or when the next element (a
// line, the CRLF after chunk data) has not fully arrived: then read more and call again with the unconsumed bytes
// first. A line that never fits the caller's read buffer is the caller's to report ("chunked: line too long", as
// CopyBody does). dst should have room for at least 64 bytes. A malformed body is an *Error with Status 400.
func (d *ChunkedDecoder) Decode(dst, src []byte) ([]byte, int, error) {
	n := 0
	for d.state != chunkDone {
		rest := src[n:]
		room := cap(dst) - len(dst)
		switch d.state {
		case chunkData:
			m := int(min(int64(len(rest)), int64(room), d.left))
			if m == 0 {
				return dst, n, nil
			}
			dst = append(dst, rest[:m]...)
			n += m
			d.left -= int64(m)
			d.payload += int64(m)
			if d.left == 0 {
				d.state = chunkDataEnd
			}
		case chunkDataEnd:
			if len(rest) < 2 || (d.reencode && room < 2) {
				return dst, n, nil
			}
			if rest[0] != '\r' || rest[1] != '\n' {
				return dst, n, newError(400, "chunked: data not followed by CRLF")
			}
			if d.reencode {
				dst = append(dst, crlf...)
			}
			n += 2
			d.state = chunkSizeLine
		default: // chunkSizeLine, chunkTrailer
			i := bytes.IndexByte(rest, '\n')
			if i < 0 {
				return dst, n, nil
			}
			if i == 0 || rest[i-1] != '\r' {
				return dst, n, newError(400, "chunked: bare LF")
			}
			line := rest[:i-1]
			var err error
			var fits bool
			if d.state == chunkSizeLine {
				fits, err = d.sizeLine(&dst, line, room)
			} else {
				fits, err = d.trailerLine(&dst, line, room)
			}
			if err != nil || !fits {
				return dst, n, err
			}
			n += i + 1
		}
	}
	return dst, n, nil
}

// sizeLine handles a chunk-size line; fits is false when its output does not fit in room (nothing is consumed).
func (d *ChunkedDecoder) sizeLine(dst *[]byte, line []byte, room int) (fits bool, err error) {
	size, err := parseChunkSize(line)
	if err != nil {
		return false, err
	}
	if d.reencode && room < MaxChunkHeader {
		return false, nil
	}
	if size == 0 {
		if d.reencode {
			*dst = append(*dst, zeroChunk...)
		}
		d.state = chunkTrailer
		return true, nil
	}
	if d.reencode {
		*dst = appendHex(*dst, size)
		*dst = append(*dst, crlf...)
	}
	d.left, d.state = size, chunkData
	return true, nil
}

// trailerLine handles a trailer line, or the empty line that ends the body.
func (d *ChunkedDecoder) trailerLine(dst *[]byte, line []byte, room int) (fits bool, err error) {
	if d.reencode && room < len(line)+2 {
		if room == cap(*dst) {
			return false, newError(400, "chunked: trailer line too long") // would never fit
		}
		return false, nil
	}
	if len(line) == 0 {
		if d.reencode {
			*dst = append(*dst, crlf...)
		}
		d.state = chunkDone
		return true, nil
	}
	if d.trailers == maxTrailers {
		return false, newError(400, "chunked: too many trailers")
	}
	if _, _, err := splitFieldLine(line, 400); err != nil {
		return false, err
	}
	d.trailers++
	if d.reencode {
		*dst = append(*dst, line...)
		*dst = append(*dst, crlf...)
	}
	return true, nil
}

// appendHex appends n in lower-case hex, without leading zeros.
func appendHex(dst []byte, n int64) []byte {
	const hex = "0123456789abcdef"
	shift := 0
	for v := n >> 4; v != 0; v >>= 4 {
		shift += 4
	}
	for ; shift >= 0; shift -= 4 {
		dst = append(dst, hex[(n>>shift)&0xf])
	}
	return dst
}
