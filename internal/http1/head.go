package http1

import (
	"bytes"
	"errors"
	"io"
)

// DefaultMaxHeaders is the header-count limit used when Limits.MaxHeaders is zero.
const DefaultMaxHeaders = 100

// maxLeadingEmptyLines bounds the CRLFs skipped before a request line (RFC 9112 section 2.2 robustness rule).
const maxLeadingEmptyLines = 16

// maxContentLength is the largest accepted Content-Length (2^62): well beyond any real body, and far enough from
// int64 overflow that arithmetic on it is safe.
const maxContentLength = 1 << 62

// Limits bounds what a parser accepts. The zero value means defaults.
type Limits struct {
	// MaxHeaders is the most header lines a head may have (DefaultMaxHeaders when 0). More is a 431 for requests.
	MaxHeaders int
}

func (l Limits) maxHeaders() int {
	if l.MaxHeaders <= 0 {
		return DefaultMaxHeaders
	}
	return l.MaxHeaders
}

// HeaderKind tells the proxy what to do with a header when forwarding.
type HeaderKind uint8

const (
	// HeaderNormal is an end-to-end header, forwarded as is.
	HeaderNormal HeaderKind = iota
	// HeaderHop is hop-by-hop: Connection, Keep-Alive, Proxy-Connection, TE, Upgrade, Proxy-Authenticate,
	// Proxy-Authorization, and every header named by a token of a Connection header. Never forwarded as is.
	HeaderHop
	// HeaderFraming is Content-Length or Transfer-Encoding: the proxy writes its own framing.
	HeaderFraming
)

// Header is one header line. Name and Value alias the Reader's buffer; Value has surrounding OWS trimmed.
type Header struct {
	Name, Value []byte
	Kind        HeaderKind
}

// Framing says how a message body is delimited.
type Framing uint8

const (
	// FramingNone means no body (GET without Content-Length, HEAD response, 1xx, 204, 304).
	FramingNone Framing = iota
	// FramingLength means Content-Length bytes.
	FramingLength
	// FramingChunked means Transfer-Encoding: chunked.
	FramingChunked
	// FramingUntilClose means the body ends when the connection closes (responses only).
	FramingUntilClose
)

// String names the framing for logs and test failures.
func (f Framing) String() string {
	switch f {
	case FramingNone:
		return "none"
	case FramingLength:
		return "length"
	case FramingChunked:
		return "chunked"
	case FramingUntilClose:
		return "until-close"
	}
	return "invalid"
}

// headSide carries the statuses that differ between request and response parsing: a malformed request is the
// client's fault (400/431), a malformed response is the upstream's (502).
type headSide struct {
	bad, tooLarge, lineTooLong int
	skipEmpty                  bool
}

var (
	requestSide  = headSide{bad: 400, tooLarge: 431, lineTooLong: 414, skipEmpty: true}
	responseSide = headSide{bad: 502, tooLarge: 502, lineTooLong: 502}
)

// readHead fills b until it holds a complete head and returns the offset of the first line (after skipped empty
// lines) and the offset just past the terminating CRLFCRLF, both relative to b.Buffered(). It scans each byte once
// across fills, and rejects a bare LF as soon as it is seen rather than waiting for a head that will never end.
func readHead(b *Reader, side headSide) (start, end int, err error) {
	pos, lineStart, skipped, lines := 0, 0, 0, 0
	for {
		buf := b.Buffered()
		for {
			i := bytes.IndexByte(buf[pos:], '\n')
			if i < 0 {
				pos = len(buf)
				break
			}
			nl := pos + i
			if nl == 0 || buf[nl-1] != '\r' {
				return 0, 0, newError(side.bad, "bare LF in head")
			}
			pos = nl + 1
			if nl-1 > lineStart {
				lineStart, lines = pos, lines+1
				continue
			}
			if lines > 0 {
				return start, pos, nil
			}
			if !side.skipEmpty || skipped == maxLeadingEmptyLines {
				return 0, 0, newError(side.bad, "empty line before start line")
			}
			skipped++
			start, lineStart = pos, pos
		}
		if len(buf) == b.Size() {
			if lines == 0 {
				return 0, 0, newError(side.lineTooLong, "start line too long")
			}
			return 0, 0, newError(side.tooLarge, "head too large")
		}
		if err := b.Fill(); err != nil {
			if errors.Is(err, io.EOF) {
				if len(b.Buffered()) == start {
					return 0, 0, io.EOF // clean close between messages (possibly after empty lines)
				}
				return 0, 0, io.ErrUnexpectedEOF
			}
			return 0, 0, err
		}
	}
}

// headFacts collects what the header lines say about framing and connection handling.
type headFacts struct {
	host          []byte
	hosts         int
	upgrade       []byte
	contentLength int64 // -1 when absent
	chunked       bool  // a valid "Transfer-Encoding: chunked" was seen
	connClose     bool
	keepAlive     bool
	connUpgrade   bool
	connNames     bool // a Connection header names other headers, which then become HeaderHop
	expect100     bool
	expectOther   bool
}

// parseHeaderLines parses the header lines in head (which ends with the empty line's CRLF) into hdrs, reusing its
// capacity. Line endings were already checked by readHead; a CR anywhere else is rejected as a control byte.
func parseHeaderLines(head []byte, hdrs []Header, max int, side headSide) ([]Header, headFacts, error) {
	f := headFacts{contentLength: -1}
	for len(head) > 2 {
		nl := bytes.IndexByte(head, '\n')
		line := head[:nl-1]
		head = head[nl+1:]
		name, value, err := splitFieldLine(line, side.bad)
		if err != nil {
			return hdrs, f, err
		}
		if len(hdrs) == max {
			return hdrs, f, newError(side.tooLarge, "too many headers")
		}
		kind, err := f.note(name, value, side)
		if err != nil {
			return hdrs, f, err
		}
		hdrs = append(hdrs, Header{Name: name, Value: value, Kind: kind})
	}
	if f.connNames {
		markConnectionNamed(hdrs)
	}
	return hdrs, f, nil
}

// splitFieldLine splits and validates one field line (a header or a trailer) without its CRLF.
func splitFieldLine(line []byte, status int) (name, value []byte, err error) {
	if line[0] == ' ' || line[0] == '\t' {
		return nil, nil, newError(status, "obsolete line folding in header")
	}
	// One pass validates the name and finds the colon; this loop is the parser's hottest code.
	colon := 0
	for colon < len(line) && tcharTable[line[colon]] {
		colon++
	}
	if colon == len(line) || line[colon] != ':' || colon == 0 {
		end := bytes.IndexByte(line, ':')
		if end < 0 {
			return nil, nil, headerError(status, line, "missing colon")
		}
		if end > 0 && (line[end-1] == ' ' || line[end-1] == '\t') {
			return nil, nil, headerError(status, line[:end], "whitespace before colon")
		}
		return nil, nil, headerError(status, line[:end], "invalid name")
	}
	name = line[:colon]
	value = trimOWS(line[colon+1:])
	for _, c := range value {
		if !valueTable[c] {
			return nil, nil, headerError(status, name, "invalid byte in value")
		}
	}
	return name, value, nil
}

// note classifies one header and records its meaning in f. Lengths are switched on first so that the common
// end-to-end headers cost one or two comparisons.
func (f *headFacts) note(name, value []byte, side headSide) (HeaderKind, error) {
	switch len(name) {
	case 2:
		if equalFold(name, "te") {
			return HeaderHop, nil
		}
	case 4:
		if equalFold(name, "host") {
			f.host, f.hosts = value, f.hosts+1
		}
	case 6:
		if equalFold(name, "expect") {
			if equalFold(value, "100-continue") {
				f.expect100 = true
			} else {
				f.expectOther = true
			}
		}
	case 7:
		if equalFold(name, "upgrade") {
			f.upgrade = value
			return HeaderHop, nil
		}
	case 10:
		if equalFold(name, "connection") {
			return HeaderHop, f.noteConnection(name, value, side)
		}
		if equalFold(name, "keep-alive") {
			return HeaderHop, nil
		}
	case 14:
		if equalFold(name, "content-length") {
			return HeaderFraming, f.noteContentLength(name, value, side)
		}
	case 16:
		if equalFold(name, "proxy-connection") {
			return HeaderHop, nil
		}
	case 17:
		if equalFold(name, "transfer-encoding") {
			return HeaderFraming, f.noteTransferEncoding(name, value, side)
		}
	case 18:
		if equalFold(name, "proxy-authenticate") {
			return HeaderHop, nil
		}
	case 19:
		if equalFold(name, "proxy-authorization") {
			return HeaderHop, nil
		}
	}
	return HeaderNormal, nil
}

func (f *headFacts) noteConnection(name, value []byte, side headSide) error {
	for elem, rest, ok := nextListElem(value); ok; elem, rest, ok = nextListElem(rest) {
		switch {
		case len(elem) == 0:
			// Empty list elements are allowed by RFC 9110 section 5.6.1.
		case !isToken(elem):
			return headerError(side.bad, name, "invalid token")
		case equalFold(elem, "close"):
			f.connClose = true
		case equalFold(elem, "keep-alive"):
			f.keepAlive = true
		case equalFold(elem, "upgrade"):
			f.connUpgrade = true
		default:
			f.connNames = true
		}
	}
	return nil
}

// noteContentLength accepts repeated and comma-listed values only when they are all identical (RFC 9110 section
// 8.6); anything else is exactly the disagreement that request smuggling exploits.
func (f *headFacts) noteContentLength(name, value []byte, side headSide) error {
	if f.chunked {
		return headerError(side.bad, name, "both Content-Length and Transfer-Encoding")
	}
	seen := false
	for elem, rest, ok := nextListElem(value); ok; elem, rest, ok = nextListElem(rest) {
		n, valid := parseDecimal(elem)
		if !valid {
			return headerError(side.bad, name, "invalid value")
		}
		if f.contentLength >= 0 && n != f.contentLength {
			return headerError(side.bad, name, "conflicting values")
		}
		f.contentLength, seen = n, true
	}
	if !seen {
		return headerError(side.bad, name, "empty value")
	}
	return nil
}

// noteTransferEncoding accepts exactly one Transfer-Encoding header whose value is "chunked". Other codings are
// 501 (not implemented) when the list is well formed and 400 when it is not, or when chunked is repeated or not last.
func (f *headFacts) noteTransferEncoding(name, value []byte, side headSide) error {
	if f.contentLength >= 0 {
		return headerError(side.bad, name, "both Content-Length and Transfer-Encoding")
	}
	if f.chunked {
		return headerError(side.bad, name, "repeated header")
	}
	if equalFold(value, "chunked") {
		f.chunked = true
		return nil
	}
	chunked, unknown := 0, false
	for elem, rest, ok := nextListElem(value); ok; elem, rest, ok = nextListElem(rest) {
		switch {
		case !isToken(elem):
			return headerError(side.bad, name, "malformed value")
		case equalFold(elem, "chunked"):
			chunked++
			if len(rest) > 0 {
				return headerError(side.bad, name, "chunked is not the last coding")
			}
		default:
			unknown = true
		}
	}
	if chunked > 1 || !unknown {
		return headerError(side.bad, name, "malformed value")
	}
	status := 501
	if side.bad != 400 {
		status = side.bad
	}
	return headerError(status, name, "unsupported transfer coding")
}

// markConnectionNamed marks every end-to-end header named by a Connection token as HeaderHop. It runs only when a
// Connection header names something, and in place, so it needs no map.
func markConnectionNamed(hdrs []Header) {
	for i := range hdrs {
		if !equalFold(hdrs[i].Name, "connection") {
			continue
		}
		v := hdrs[i].Value
		for elem, rest, ok := nextListElem(v); ok; elem, rest, ok = nextListElem(rest) {
			for j := range hdrs {
				if hdrs[j].Kind == HeaderNormal && equalFoldBytes(hdrs[j].Name, elem) {
					hdrs[j].Kind = HeaderHop
				}
			}
		}
	}
}

// parseDecimal parses a non-empty run of ASCII digits no larger than maxContentLength.
func parseDecimal(s []byte) (int64, bool) {
	if len(s) == 0 || len(s) > 19 {
		return 0, false
	}
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (maxContentLength-d)/10 { // checked before multiplying, so it cannot overflow
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// lookup returns the first header named name, ignoring ASCII case.
func lookup(hdrs []Header, name string) ([]byte, bool) {
	for i := range hdrs {
		h := &hdrs[i]
		if len(h.Name) != len(name) {
			continue
		}
		match := true
		for j := range len(name) {
			if lower(h.Name[j]) != lower(name[j]) {
				match = false
				break
			}
		}
		if match {
			return h.Value, true
		}
	}
	return nil, false
}
