// Package compress decides whether a response is compressed and with what, and lends pooled encoders.
//
// A Policy is immutable once built (New) and safe for concurrent use. Negotiate and Eligible read only their
// arguments and never allocate, so the engine can call them on every response of a route that compresses. Encoders
// come from per-policy pools: a gzip or zstd encoder's state (hash tables, windows) is allocated once and reused.
package compress

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Encoding is a content coding fjord can produce.
type Encoding uint8

const (
	None Encoding = iota
	Gzip
	Zstd
)

// String is the coding's token for Content-Encoding.
func (e Encoding) String() string {
	switch e {
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	}
	return "identity"
}

// Options configure a Policy. The zero value compresses nothing.
type Options struct {
	Gzip, Zstd bool
	// Types are the media types compressed: "text/html", or "text/*" for a whole top-level type. Parameters
	// (";charset=...") are ignored when matching. Types that are compressed already (images, audio, video,
	// archives, woff2) are never compressed whatever Types says.
	Types []string
	// MinBytes is the smallest body of known length worth compressing; bodies of unknown length (chunked) are
	// always compressed.
	MinBytes int64
	// Level is 1 (fastest) to 9 (smallest); 0 = 5. gzip uses it as is; zstd maps it onto its four speeds.
	Level int
}

// DefaultTypes is the Types of a policy that names none.
var DefaultTypes = []string{"text/html", "text/css", "text/plain", "text/javascript", "text/xml", "text/csv",
	"application/javascript", "application/json", "application/xml", "application/manifest+json",
	"application/ld+json", "application/wasm", "image/svg+xml", "image/x-icon", "font/ttf", "font/otf"}

// DefaultMinBytes is the MinBytes of the configuration's default policy.
const DefaultMinBytes = 1024

// Policy is a compiled Options with its encoder pools.
type Policy struct {
	gzip, zstd bool
	exact      []string // lower-case media types
	prefixes   []string // "text/" for "text/*"
	minBytes   int64
	level      int
	gzPool     sync.Pool // *gzip.Writer
	zsPool     sync.Pool // *zstd.Encoder
}

// New compiles o. It fails for a level out of range or a malformed media type.
func New(o Options) (*Policy, error) {
	if o.Level == 0 {
		o.Level = 5
	}
	if o.Level < 1 || o.Level > 9 {
		return nil, fmt.Errorf("compression level %d: want 1 to 9", o.Level)
	}
	p := &Policy{gzip: o.Gzip, zstd: o.Zstd, minBytes: o.MinBytes, level: o.Level}
	types := o.Types
	if len(types) == 0 {
		types = DefaultTypes
	}
	for _, t := range types {
		t = strings.ToLower(strings.TrimSpace(t))
		top, sub, ok := strings.Cut(t, "/")
		if !ok || top == "" || sub == "" || strings.ContainsAny(t, " ;,") {
			return nil, fmt.Errorf("media type %q: want TYPE/SUBTYPE or TYPE/*", t)
		}
		if sub == "*" {
			p.prefixes = append(p.prefixes, top+"/")
		} else {
			p.exact = append(p.exact, t)
		}
	}
	return p, nil
}

// MinBytes is the smallest body of known length the policy compresses.
func (p *Policy) MinBytes() int64 { return p.minBytes }

// Negotiate picks the coding for a request's Accept-Encoding value (RFC 9110, section 12.5.3): the enabled coding
// with the highest q-value, zstd on a tie; a coding the client lists with q=0, or does not list when no "*" covers
// it, is never chosen. No header (ok false) means no compression.
func (p *Policy) Negotiate(accept []byte, ok bool) Encoding {
	if !ok {
		return None
	}
	qGzip, qZstd, qAny := -1, -1, -1 // thousandths; -1: not listed
	for len(accept) > 0 {
		var elem []byte
		if i := bytes.IndexByte(accept, ','); i >= 0 {
			elem, accept = accept[:i], accept[i+1:]
		} else {
			elem, accept = accept, nil
		}
		name, params, _ := bytes.Cut(elem, []byte{';'})
		name = bytes.TrimSpace(name)
		q := parseQ(params)
		switch {
		case asciiEqualFold(name, "gzip"), asciiEqualFold(name, "x-gzip"):
			qGzip = max(qGzip, q)
		case asciiEqualFold(name, "zstd"):
			qZstd = max(qZstd, q)
		case len(name) == 1 && name[0] == '*':
			qAny = q
		}
	}
	if qGzip < 0 {
		qGzip = qAny
	}
	if qZstd < 0 {
		qZstd = qAny
	}
	if !p.gzip {
		qGzip = -1
	}
	if !p.zstd {
		qZstd = -1
	}
	switch {
	case qZstd > 0 && qZstd >= qGzip:
		return Zstd
	case qGzip > 0:
		return Gzip
	}
	return None
}

// parseQ reads the q parameter of one Accept-Encoding element in thousandths; absent or malformed is 1000.
func parseQ(params []byte) int {
	for len(params) > 0 {
		var p []byte
		p, params, _ = bytes.Cut(params, []byte{';'})
		k, v, ok := bytes.Cut(bytes.TrimSpace(p), []byte{'='})
		if !ok || !asciiEqualFold(bytes.TrimSpace(k), "q") {
			continue
		}
		return qValue(bytes.TrimSpace(v))
	}
	return 1000
}

// qValue parses a qvalue ("0", "0.5", "1.000") in thousandths; malformed values count as 1000 (accepted).
func qValue(v []byte) int {
	if len(v) == 0 || (v[0] != '0' && v[0] != '1') {
		return 1000
	}
	n := int(v[0]-'0') * 1000
	if len(v) > 1 {
		if v[1] != '.' || len(v) > 5 {
			return 1000
		}
		scale := 100
		for _, c := range v[2:] {
			if c < '0' || c > '9' {
				return 1000
			}
			n += int(c-'0') * scale
			scale /= 10
		}
	}
	return min(n, 1000)
}

// Eligible reports whether a response with this Content-Type (ok false: none) is of a type the policy
// compresses. Types that are compressed already never are.
func (p *Policy) Eligible(contentType []byte, ok bool) bool {
	if !ok {
		return false
	}
	mt, _, _ := bytes.Cut(contentType, []byte{';'})
	mt = bytes.TrimSpace(mt)
	if precompressed(mt) {
		return false
	}
	for _, t := range p.exact {
		if asciiEqualFold(mt, t) {
			return true
		}
	}
	for _, pre := range p.prefixes {
		if len(mt) > len(pre) && asciiEqualFold(mt[:len(pre)], pre) {
			return true
		}
	}
	return false
}

// alreadyCompressed are media types whose bodies are compressed by their format; prefixes end in "/".
var alreadyCompressed = []string{"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/heic",
	"video/", "audio/", "font/woff", "font/woff2", "application/zip", "application/gzip", "application/x-gzip",
	"application/zstd", "application/x-bzip2", "application/x-xz", "application/x-7z-compressed",
	"application/x-rar-compressed", "application/pdf", "application/octet-stream"}

func precompressed(mt []byte) bool {
	for _, t := range alreadyCompressed {
		if t[len(t)-1] == '/' {
			if len(mt) >= len(t) && asciiEqualFold(mt[:len(t)], t) {
				return true
			}
		} else if asciiEqualFold(mt, t) {
			return true
		}
	}
	return false
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c, d := b[i], s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// Encoder is a pooled compressor writing to one destination. Flush pushes out what it holds so that the receiver can
// decode everything written so far; Close ends the stream. Give it back with Policy.Put after Close.
type Encoder interface {
	io.Writer
	Flush() error
	Close() error
}

// Get lends an encoder for e writing to w, from the pool when one is free. e must not be None.
func (p *Policy) Get(e Encoding, w io.Writer) Encoder {
	switch e {
	case Zstd:
		if z, ok := p.zsPool.Get().(*zstd.Encoder); ok {
			z.Reset(w)
			return z
		}
		// Concurrency 1: one request's stream is compressed by its own goroutine, and the encoder stays small.
		// The window bounds the memory of each pooled encoder.
		z, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstdLevel(p.level)), zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(1<<20), zstd.WithLowerEncoderMem(true))
		if err != nil {
			panic("compress: zstd options rejected: " + err.Error()) // the options are constants
		}
		return z
	case Gzip:
		if g, ok := p.gzPool.Get().(*gzip.Writer); ok {
			g.Reset(w)
			return g
		}
		g, err := gzip.NewWriterLevel(w, p.level)
		if err != nil {
			panic("compress: gzip level rejected: " + err.Error()) // New checked the level
		}
		return g
	}
	panic("compress: Get with Encoding None")
}

// Put returns an encoder lent by Get once it is closed (or abandoned after an error); it must not be used after.
func (p *Policy) Put(enc Encoder) {
	switch e := enc.(type) {
	case *zstd.Encoder:
		e.Reset(nil)
		p.zsPool.Put(e)
	case *gzip.Writer:
		e.Reset(nil)
		p.gzPool.Put(e)
	}
}

func zstdLevel(level int) zstd.EncoderLevel {
	switch {
	case level <= 2:
		return zstd.SpeedFastest
	case level <= 6:
		return zstd.SpeedDefault
	case level <= 8:
		return zstd.SpeedBetterCompression
	}
	return zstd.SpeedBestCompression
}
