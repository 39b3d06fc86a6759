package http1

import "bytes"

// Request is the parsed head of a request. All []byte fields alias the Reader's buffer and are valid until the caller
// Discards the head or the Reader is filled again. ReadRequest resets every field; Headers keeps its capacity, so a
// Request reused per connection stops allocating after the first few requests.
type Request struct {
	Method []byte
	URI    []byte // request-target as sent
	Path   []byte // URI up to '?' (for absolute-form, the path part of the URI; "/" when it has none)
	Query  []byte // after '?', without it; nil when there is no '?'
	Minor  int    // HTTP/1.Minor, 0 or 1

	Headers []Header
	// Host is the Host header value, or the URI authority for absolute-form targets (RFC 9112 section 3.2.2).
	Host []byte
	// Framing is FramingNone, FramingLength or FramingChunked.
	Framing Framing
	// ContentLength is valid when Framing == FramingLength (it may be 0), else -1.
	ContentLength int64
	// Close is set when the connection must close after this exchange: Connection: close, or HTTP/1.0 without
	// Connection: keep-alive.
	Close bool
	// Upgrade is the Upgrade header value when a Connection header has the "upgrade" token, else nil.
	Upgrade []byte
	// Expect100 is Expect: 100-continue on an HTTP/1.1 request (HTTP/1.0 clients do not expect the interim answer).
	Expect100 bool
	// HeadLen is the length of the head including skipped leading empty lines and the final CRLFCRLF.
	HeadLen int
}

// Header returns the value of the first header named name, ignoring ASCII case.
func (h *Request) Header(name string) ([]byte, bool) { return lookup(h.Headers, name) }

func (h *Request) reset() {
	*h = Request{Headers: h.Headers[:0], ContentLength: -1}
}

// ReadRequest parses one request head from b, calling b.Fill as needed until the head is complete. It does not
// Discard the head: on success the first h.HeadLen bytes of b.Buffered() are the head, and the caller Discards them
// once it no longer needs the slices in h.
//
// Errors: *Error for a malformed or unsupported request (431 when the head does not fit the buffer, 414 when the
// request line alone does not); io.EOF as is when the connection closed cleanly before any byte of a request;
// io.ErrUnexpectedEOF when it closed inside a head; otherwise the source's read error. It blocks in b.Fill.
func ReadRequest(b *Reader, h *Request, lim Limits) error {
	h.reset()
	start, end, err := readHead(b, requestSide)
	if err != nil {
		return err
	}
	buf := b.Buffered()[:end]
	lineEnd := start + bytes.IndexByte(buf[start:], '\n')
	absHost, err := parseRequestLine(h, buf[start:lineEnd-1])
	if err != nil {
		return err
	}
	var f headFacts
	h.Headers, f, err = parseHeaderLines(buf[lineEnd+1:], h.Headers, lim.maxHeaders(), requestSide)
	if err != nil {
		return err
	}
	if err := h.apply(&f, absHost); err != nil {
		return err
	}
	h.HeadLen = end
	return nil
}

// apply turns header facts into the request's Host, framing and connection fields.
func (h *Request) apply(f *headFacts, absHost []byte) error {
	switch {
	case f.hosts > 1:
		return newError(400, `header "Host": repeated header`)
	case f.hosts == 0 && h.Minor == 1:
		return newError(400, `header "Host": missing`)
	case f.hosts == 1 && !validHost(f.host):
		return newError(400, `header "Host": invalid value`)
	}
	h.Host = f.host
	if absHost != nil {
		h.Host = absHost
	}
	if f.expectOther {
		return newError(417, `header "Expect": unsupported expectation`)
	}
	h.Expect100 = f.expect100 && h.Minor == 1
	switch {
	case f.chunked && h.Minor == 0:
		// An HTTP/1.0 peer cannot mean chunked; a front end that ignores the header would see a different body.
		return newError(400, `header "Transfer-Encoding": not allowed in HTTP/1.0`)
	case f.chunked:
		h.Framing = FramingChunked
	case f.contentLength >= 0:
		h.Framing, h.ContentLength = FramingLength, f.contentLength
	}
	h.Close = f.connClose || (h.Minor == 0 && !f.keepAlive)
	if f.connUpgrade && f.upgrade != nil {
		h.Upgrade = f.upgrade
	}
	return nil
}

// parseRequestLine parses "method SP request-target SP HTTP-version" into h. For absolute-form targets it returns
// the URI authority, which replaces the Host header.
func parseRequestLine(h *Request, line []byte) (absHost []byte, err error) {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return nil, newError(400, "request line: missing target")
	}
	h.Method = line[:sp]
	if !isToken(h.Method) {
		return nil, newError(400, "request line: invalid method")
	}
	rest := line[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp < 0 {
		return nil, newError(400, "request line: missing version")
	}
	target, version := rest[:sp], rest[sp+1:]
	minor, verr := parseVersion(version, "request line: ", 400, 505)
	if verr != nil {
		return nil, verr
	}
	h.Minor = minor
	if len(target) == 0 {
		return nil, newError(400, "request line: empty target")
	}
	for _, c := range target {
		if !targetTable[c] {
			return nil, newError(400, "request line: invalid byte in target")
		}
	}
	h.URI = target
	if string(h.Method) == "CONNECT" {
		return nil, newError(405, "request line: CONNECT is not supported")
	}
	switch {
	case target[0] == '/':
		h.Path, h.Query = splitQuery(target)
		return nil, nil
	case len(target) == 1 && target[0] == '*':
		if string(h.Method) != "OPTIONS" {
			return nil, newError(400, "request line: asterisk-form target without OPTIONS")
		}
		h.Path = target
		return nil, nil
	}
	return parseAbsoluteForm(h, target)
}

// parseAbsoluteForm handles "http://authority/path?query" (and https). Userinfo is rejected: it is deprecated
// (RFC 9110 section 4.2.4) and a classic way to make a URI mean different hosts to different parsers.
func parseAbsoluteForm(h *Request, target []byte) ([]byte, error) {
	var scheme int // length of "http://" or "https://"
	switch {
	case len(target) > 7 && equalFold(target[:7], "http://"):
		scheme = 7
	case len(target) > 8 && equalFold(target[:8], "https://"):
		scheme = 8
	default:
		return nil, newError(400, "request line: invalid target form")
	}
	rest := target[scheme:]
	end := len(rest)
	if i := bytes.IndexAny(rest, "/?"); i >= 0 {
		end = i
	}
	host := rest[:end]
	if len(host) == 0 || !validHost(host) {
		return nil, newError(400, "request line: invalid authority in target")
	}
	rest = rest[end:]
	if len(rest) == 0 || rest[0] == '?' {
		// "http://host" means path "/": borrow the last '/' of "://" so the view still aliases the buffer and
		// needs neither an allocation nor a shared mutable slice.
		h.Path = target[scheme-1 : scheme]
		if len(rest) > 0 {
			h.Query = rest[1:]
		}
		return host, nil
	}
	h.Path, h.Query = splitQuery(rest)
	return host, nil
}

func splitQuery(target []byte) (path, query []byte) {
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		return target[:i], target[i+1:]
	}
	return target, nil
}

// parseVersion accepts exactly "HTTP/1.0" and "HTTP/1.1". Another well-formed "HTTP/d.d" gets unsupported (505 for
// requests); anything else is malformed.
func parseVersion(v []byte, where string, bad, unsupported int) (int, error) {
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' || !isDigit(v[5]) || !isDigit(v[7]) {
		return 0, newError(bad, where+"invalid version")
	}
	if v[5] != '1' || v[7] > '1' {
		return 0, newError(unsupported, where+"unsupported version")
	}
	return int(v[7] - '0'), nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
