package proxy

import (
	"io"
	"strconv"

	"github.com/fjord-gw/fjord/internal/compress"
	"github.com/fjord-gw/fjord/internal/http1"
)

// Response compression (Route.Compress). relayHead decides per response (chooseEncoding); a compressed response's
// head drops Content-Length, weakens its ETag and gains Content-Encoding and Vary (appendCompressionHeaders); its body
// is always relayed by goroutine code (compressBody), which the event loop gets by handing the relay off, because
// compressing is CPU work that would stall the loop's other connections.

// chooseEncoding decides how the current upstream response is encoded for the client: the coding (None: as is) and
// whether it varies with Accept-Encoding (a response the policy would compress for another client gets Vary too).
func (c *conn) chooseEncoding(rt *Route) (compress.Encoding, bool) {
	p, resp := rt.Compress, &c.resp
	if p == nil || resp.Framing == http1.FramingNone || resp.Status < 200 || resp.Status == 206 || isHead(c.req.Method) {
		return compress.None, false // HEAD, 1xx, 204 and 304 have Framing None
	}
	if resp.Framing == http1.FramingLength && resp.ContentLength < max(p.MinBytes(), 1) {
		return compress.None, false
	}
	if _, ok := resp.Header("content-encoding"); ok {
		return compress.None, false
	}
	if !p.Eligible(resp.Header("content-type")) {
		return compress.None, false
	}
	if cc, ok := resp.Header("cache-control"); ok && containsFold(cc, "no-transform") {
		return compress.None, false
	}
	return p.Negotiate(c.req.Header("accept-encoding")), true
}

// containsFold reports whether s contains the lower-case ASCII token t, ignoring case.
func containsFold(s []byte, t string) bool {
	for i := 0; i+len(t) <= len(s); i++ {
		if equalFold(s[i:i+len(t)], t) {
			return true
		}
	}
	return false
}

// appendCompressionHeaders writes the headers a compressed (enc != None) or Accept-Encoding-dependent response
// gains.
func appendCompressionHeaders(b []byte, enc compress.Encoding, vary bool) []byte {
	if enc != compress.None {
		b = append(b, "Content-Encoding: "...)
		b = append(b, enc.String()...)
		b = append(b, "\r\n"...)
	}
	if vary {
		b = append(b, "Vary: Accept-Encoding\r\n"...)
	}
	return b
}

// appendWeakETag writes an ETag header as a weak validator: the compressed bytes are not the upstream's bytes, so a
// strong validator would lie to range requests and caches (RFC 9110, section 8.8.1).
func appendWeakETag(b []byte, h *http1.Header) []byte {
	b = append(b, h.Name...)
	b = append(b, ": "...)
	if len(h.Value) < 2 || h.Value[0] != 'W' || h.Value[1] != '/' {
		b = append(b, "W/"...)
	}
	b = append(b, h.Value...)
	return append(b, "\r\n"...)
}

// compressBody relays the rest of the upstream body (any framing) through an encoder to the client, chunked for
// HTTP/1.1 and until close for HTTP/1.0. The encoder is flushed after every upstream read, so a streaming upstream's
// data reaches the client as it comes (at some cost in ratio); large bodies arrive in large reads, which keeps that
// cost small. It blocks, so it runs only in goroutine code. n counts the bytes written to the client.
func (c *conn) compressBody(rt *Route, rl *relay) (n int64, err error) {
	out := &chunkWriter{dst: &c.dc, chunked: rl.out == http1.FramingChunked, buf: c.srv.writeBufs.get(writeBufferSize)}
	defer c.srv.writeBufs.put(out.buf)
	p := rt.Compress
	enc := p.Get(rl.enc, out)
	defer p.Put(enc)
	fw := flushingEncoder{enc: enc, out: out}
	remaining := rl.remaining
	if remaining < 0 {
		remaining = 0
	}
	resp := &c.resp
	if _, err = http1.CopyBody(fw, rl.uc.R, resp.Framing, remaining, http1.FramingUntilClose, c.bodyBuf()); err != nil {
		return out.n, err
	}
	if err = enc.Close(); err == nil {
		err = out.end()
	}
	if err != nil {
		return out.n, &http1.DestError{Err: err}
	}
	return out.n, nil
}

// flushingEncoder writes each upstream read into the encoder and pushes the result to the client at once.
type flushingEncoder struct {
	enc compress.Encoder
	out *chunkWriter
}

func (f flushingEncoder) Write(p []byte) (int, error) {
	if _, err := f.enc.Write(p); err != nil {
		return 0, err
	}
	if err := f.enc.Flush(); err != nil {
		return 0, err
	}
	return len(p), f.out.flush()
}

// chunkWriter collects encoder output in buf and writes it to dst as one HTTP/1.1 chunk per flush (raw bytes when
// not chunked), so a flush costs one write.
type chunkWriter struct {
	dst     io.Writer
	chunked bool
	buf     *buffer
	fill    int
	n       int64 // bytes written to dst, framing included
}

// chunkHeadRoom is the space kept at the start of buf for the chunk-size line.
const chunkHeadRoom = 10

func (w *chunkWriter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		b := w.buf.b[chunkHeadRoom : len(w.buf.b)-2] // room for the chunk's CRLF
		if w.fill == len(b) {
			if err := w.flush(); err != nil {
				return total - len(p), err
			}
		}
		k := copy(b[w.fill:], p)
		w.fill += k
		p = p[k:]
	}
	return total, nil
}

// flush writes what buf holds as one chunk.
func (w *chunkWriter) flush() error {
	if w.fill == 0 {
		return nil
	}
	b := w.buf.b
	start, end := chunkHeadRoom, chunkHeadRoom+w.fill
	if w.chunked {
		var hex [8]byte
		h := strconv.AppendInt(hex[:0], int64(w.fill), 16)
		start -= len(h) + 2
		copy(b[start:], h)
		b[start+len(h)], b[start+len(h)+1] = '\r', '\n'
		b[end], b[end+1] = '\r', '\n'
		end += 2
	}
	w.fill = 0
	m, err := w.dst.Write(b[start:end])
	w.n += int64(m)
	return err
}

// end flushes the rest and writes the last chunk.
func (w *chunkWriter) end() error {
	if err := w.flush(); err != nil {
		return err
	}
	if !w.chunked {
		return nil
	}
	m, err := w.dst.Write([]byte("0\r\n\r\n"))
	w.n += int64(m)
	return err
}
