package http1

import "bytes"

// Response is the parsed head of a response, with the same aliasing and reuse rules as Request.
type Response struct {
	Minor   int    // HTTP/1.Minor, 0 or 1
	Status  int    // 100..999
	Reason  []byte // reason phrase, possibly empty
	Headers []Header
	// Framing is FramingNone for HEAD responses, 1xx (101 included: what follows is the upgraded protocol), 204 and
	// 304; else FramingChunked, FramingLength, or FramingUntilClose when neither header is present.
	Framing Framing
	// ContentLength is valid when Framing == FramingLength, else -1 (a HEAD response's header stays in Headers).
	ContentLength int64
	// Close is set when the upstream connection cannot be reused: Connection: close, HTTP/1.0 without keep-alive,
	// or FramingUntilClose.
	Close   bool
	HeadLen int // length of the head including the final CRLFCRLF
}

// Header returns the value of the first header named name, ignoring ASCII case.
func (h *Response) Header(name string) ([]byte, bool) { return lookup(h.Headers, name) }

// ReadResponse parses one response head from b, calling b.Fill as needed; like ReadRequest it does not Discard the
// head. headReq tells that the request was HEAD, so the response has no body whatever its headers say. A malformed
// response is a *Error with Status 502; Content-Length together with Transfer-Encoding is rejected, not resolved.
// io.EOF is returned as is when the connection closed before any byte. It blocks in b.Fill.
func ReadResponse(b *Reader, h *Response, headReq bool, lim Limits) error {
	*h = Response{Headers: h.Headers[:0], ContentLength: -1}
	_, end, err := readHead(b, responseSide)
	if err != nil {
		return err
	}
	buf := b.Buffered()[:end]
	lineEnd := bytes.IndexByte(buf, '\n')
	if err := parseStatusLine(h, buf[:lineEnd-1]); err != nil {
		return err
	}
	var f headFacts
	h.Headers, f, err = parseHeaderLines(buf[lineEnd+1:], h.Headers, lim.maxHeaders(), responseSide)
	if err != nil {
		return err
	}
	if f.chunked && h.Minor == 0 {
		return newError(502, `header "Transfer-Encoding": not allowed in HTTP/1.0`)
	}
	h.Close = f.connClose || (h.Minor == 0 && !f.keepAlive)
	switch {
	case headReq || h.Status < 200 || h.Status == 204 || h.Status == 304:
		h.Framing = FramingNone
	case f.chunked:
		h.Framing = FramingChunked
	case f.contentLength >= 0:
		h.Framing, h.ContentLength = FramingLength, f.contentLength
	default:
		h.Framing, h.Close = FramingUntilClose, true
	}
	h.HeadLen = end
	return nil
}

// parseStatusLine parses "HTTP-version SP 3DIGIT SP reason". The SP before an empty reason may be missing: some
// servers omit it and it changes nothing about framing.
func parseStatusLine(h *Response, line []byte) error {
	if len(line) < 12 || line[8] != ' ' {
		return newError(502, "status line: malformed")
	}
	minor, err := parseVersion(line[:8], "status line: ", 502, 502)
	if err != nil {
		return err
	}
	h.Minor = minor
	code := line[9:12]
	if !isDigit(code[0]) || !isDigit(code[1]) || !isDigit(code[2]) || code[0] == '0' {
		return newError(502, "status line: invalid status code")
	}
	h.Status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	rest := line[12:]
	if len(rest) > 0 {
		if rest[0] != ' ' {
			return newError(502, "status line: invalid status code")
		}
		rest = rest[1:]
	}
	for _, c := range rest {
		if !valueTable[c] {
			return newError(502, "status line: invalid byte in reason")
		}
	}
	h.Reason = rest
	return nil
}
