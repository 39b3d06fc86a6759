package http1

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
)

// diffCase is one raw request of the differential corpus. stricter gives the reason fjord rejects a request that
// net/http's ReadRequest accepts; lenient the reason fjord accepts one that net/http rejects. Every other case must
// get the same verdict from both, and accepted cases must parse the same.
type diffCase struct {
	name, raw         string
	stricter, lenient string
}

const (
	whyBareLF     = "bare LF line endings: strict CRLF closes LF/CRLF desync between proxies (RFC 9112 section 2.2 allows rejecting)"
	whyHost       = "Host presence on 1.1 and Host bytes are checked by net/http's server, not by ReadRequest"
	whyCLTE       = "CL with TE: net/http drops CL and uses chunked; a proxy must reject (RFC 9112 section 6.1)"
	whyTE10       = "TE on HTTP/1.0: net/http ignores it and reads no body; a 1.1 hop behind could use it, so reject"
	whyNonASCII   = "bytes >= 0x80 in the target: not valid in a URI (RFC 3986); routers could decode them differently"
	whyFragment   = "'#' in the target: not part of a request-target; what follows it would be routed inconsistently"
	whyConnect    = "CONNECT is not supported by fjord (405)"
	whyAsterisk   = "'*' target is only meaningful with OPTIONS"
	whyUserinfo   = "userinfo in absolute-form: deprecated and a classic host-confusion vector"
	whyFold       = "obs-fold: RFC 9112 section 5.2 lets servers reject it; joining lines changes header meaning"
	whyExpect     = "unsupported Expect value: RFC 9110 section 10.1.1 says answer 417"
	whyConnToken  = "Connection must be a token list; anything else cannot be matched to header names safely"
	whyTEList     = "chunked repeated or gzip after chunked: malformed framing (net/http only checks the last coding)"
	whyCLList     = "identical comma-listed Content-Length values are allowed by RFC 9110 section 8.6"
	whyEmptyLines = "leading empty lines before the request line: RFC 9112 section 2.2 asks servers to ignore them"
	whyTargetForm = "target that is neither origin, absolute, authority nor asterisk form"
	whyColonSpace = "whitespace between field name and colon: RFC 9112 section 5.1 says a server MUST answer 400"
	whyHTTP2      = "HTTP/2.0 in an HTTP/1 request line: not a version this parser speaks (505)"
)

func diffCorpus() []diffCase {
	const h = "Host: example.com\r\n"
	c := []diffCase{
		{name: "get", raw: "GET / HTTP/1.1\r\n" + h + "\r\n"},
		{name: "get query", raw: "GET /a/b?c=d&e HTTP/1.1\r\n" + h + "\r\n"},
		{name: "get 1.0", raw: "GET /x HTTP/1.0\r\n\r\n"},
		{name: "get 1.0 keep-alive", raw: "GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"},
		{name: "head", raw: "HEAD /x HTTP/1.1\r\n" + h + "\r\n"},
		{name: "post cl", raw: "POST /p HTTP/1.1\r\n" + h + "Content-Length: 3\r\n\r\nabc"},
		{name: "post cl zero", raw: "POST /p HTTP/1.1\r\n" + h + "Content-Length: 0\r\n\r\n"},
		{name: "post chunked", raw: "POST /p HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{name: "post chunked upper", raw: "POST /p HTTP/1.1\r\n" + h + "Transfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n"},
		{name: "duplicate identical cl", raw: "POST /p HTTP/1.1\r\n" + h + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc"},
		{name: "custom method", raw: "PURGE /x HTTP/1.1\r\n" + h + "\r\n"},
		{name: "lower method", raw: "get /x HTTP/1.1\r\n" + h + "\r\n"},
		{name: "many headers", raw: "GET / HTTP/1.1\r\n" + h + "Accept: text/html\r\nAccept-Language: en\r\nCookie: a=b; c=d\r\nUser-Agent: x/1.0\r\n\r\n"},
		{name: "repeated header", raw: "GET / HTTP/1.1\r\n" + h + "X-A: 1\r\nX-A: 2\r\n\r\n"},
		{name: "value with tab", raw: "GET / HTTP/1.1\r\n" + h + "X-A: a\tb\r\n\r\n"},
		{name: "value ows", raw: "GET / HTTP/1.1\r\n" + h + "X-A: \t padded \t\r\n\r\n"},
		{name: "empty value", raw: "GET / HTTP/1.1\r\n" + h + "X-A:\r\n\r\n"},
		{name: "obs-text value", raw: "GET / HTTP/1.1\r\n" + h + "X-A: caf\xc3\xa9\r\n\r\n"},
		{name: "absolute form", raw: "GET http://example.com/a?b HTTP/1.1\r\nHost: other\r\n\r\n"},
		{name: "absolute form port", raw: "GET http://example.com:8080/a HTTP/1.1\r\n" + h + "\r\n"},
		{name: "absolute https", raw: "GET https://example.com/ HTTP/1.1\r\n" + h + "\r\n"},
		{name: "options star", raw: "OPTIONS * HTTP/1.1\r\n" + h + "\r\n"},
		{name: "host with port", raw: "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n"},
		{name: "host ipv6", raw: "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"},
		{name: "empty host", raw: "GET / HTTP/1.1\r\nHost:\r\n\r\n"},
		{name: "upgrade", raw: "GET /ws HTTP/1.1\r\n" + h + "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n"},
		{name: "connection close", raw: "GET / HTTP/1.1\r\n" + h + "Connection: close\r\n\r\n"},
		{name: "connection list", raw: "GET / HTTP/1.1\r\n" + h + "Connection: keep-alive, X-Foo\r\nX-Foo: 1\r\n\r\n"},
		{name: "expect 100", raw: "PUT / HTTP/1.1\r\n" + h + "Expect: 100-continue\r\nContent-Length: 1\r\n\r\nx"},
		{name: "encoded path", raw: "GET /a%20b/%2F HTTP/1.1\r\n" + h + "\r\n"},
		{name: "double slash path", raw: "GET //a//b HTTP/1.1\r\n" + h + "\r\n"},
		{name: "dot segments", raw: "GET /a/../b/./c HTTP/1.1\r\n" + h + "\r\n"},
		{name: "long value", raw: "GET / HTTP/1.1\r\n" + h + "X-Long: " + strings.Repeat("v", 1000) + "\r\n\r\n"},
		{name: "te chunked with ows", raw: "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding:  chunked \r\n\r\n0\r\n\r\n"},
		{name: "header name symbols", raw: "GET / HTTP/1.1\r\n" + h + "X-!#$%&'*+.^_`|~: v\r\n\r\n"},
		{name: "query with slash", raw: "GET /?a=/b?c HTTP/1.1\r\n" + h + "\r\n"},
		{name: "cookie", raw: "GET / HTTP/1.1\r\n" + h + "Cookie: a=1\r\nCookie: b=2\r\n\r\n"},

		{name: "bare LF everywhere", raw: "GET / HTTP/1.1\n" + "Host: example.com\n\n", stricter: whyBareLF},
		{name: "bare LF in headers", raw: "GET / HTTP/1.1\r\nHost: example.com\nX-A: 1\r\n\r\n", stricter: whyBareLF},
		{name: "bare LF end of head", raw: "GET / HTTP/1.1\r\n" + h + "\n", stricter: whyBareLF},
		{name: "bare CR in value", raw: "GET / HTTP/1.1\r\n" + h + "X-A: a\rb\r\n\r\n"},
		{name: "NUL in value", raw: "GET / HTTP/1.1\r\n" + h + "X-A: a\x00b\r\n\r\n"},
		{name: "control in value", raw: "GET / HTTP/1.1\r\n" + h + "X-A: a\x1bb\r\n\r\n"},
		{name: "DEL in value", raw: "GET / HTTP/1.1\r\n" + h + "X-A: a\x7fb\r\n\r\n"},
		{name: "obs-fold", raw: "GET / HTTP/1.1\r\n" + h + "X-A: a\r\n b\r\n\r\n", stricter: whyFold},
		{name: "obs-fold tab", raw: "GET / HTTP/1.1\r\n" + h + "X-A: a\r\n\tb\r\n\r\n", stricter: whyFold},
		{name: "fold first header", raw: "GET / HTTP/1.1\r\n Host: example.com\r\n\r\n"},
		{name: "space before colon", raw: "GET / HTTP/1.1\r\n" + h + "X-A : 1\r\n\r\n", stricter: whyColonSpace},
		{name: "space before colon cl", raw: "POST / HTTP/1.1\r\n" + h + "Content-Length : 3\r\n\r\nabc", stricter: whyColonSpace},
		{name: "tab before colon", raw: "GET / HTTP/1.1\r\n" + h + "X-A\t: 1\r\n\r\n"},
		{name: "empty name", raw: "GET / HTTP/1.1\r\n" + h + ": v\r\n\r\n"},
		{name: "no colon", raw: "GET / HTTP/1.1\r\n" + h + "novalue\r\n\r\n"},
		{name: "name with slash", raw: "GET / HTTP/1.1\r\n" + h + "X/A: 1\r\n\r\n"},
		{name: "name non-ascii", raw: "GET / HTTP/1.1\r\n" + h + "X\xc3\xa9: 1\r\n\r\n"},
		{name: "bad method", raw: "G@T / HTTP/1.1\r\n" + h + "\r\n"},
		{name: "empty method", raw: " / HTTP/1.1\r\n" + h + "\r\n"},
		{name: "double space", raw: "GET  / HTTP/1.1\r\n" + h + "\r\n"},
		{name: "space in target", raw: "GET /a b HTTP/1.1\r\n" + h + "\r\n"},
		{name: "trailing space version", raw: "GET / HTTP/1.1 \r\n" + h + "\r\n"},
		{name: "missing version", raw: "GET /\r\n" + h + "\r\n"},
		{name: "version lower", raw: "GET / http/1.1\r\n" + h + "\r\n"},
		{name: "version 1.2", raw: "GET / HTTP/1.2\r\n" + h + "\r\n", stricter: "HTTP/1.2 is not a version fjord speaks (505); net/http treats any 1.x as 1.1-compatible"},
		{name: "version 2.0", raw: "GET / HTTP/2.0\r\n" + h + "\r\n", stricter: whyHTTP2},
		{name: "version 0.9", raw: "GET / HTTP/0.9\r\n\r\n", stricter: "HTTP/0.9 has no headers or framing; fjord answers 505"},
		{name: "version long", raw: "GET / HTTP/1.10\r\n" + h + "\r\n"},
		{name: "target non-ascii", raw: "GET /caf\xc3\xa9 HTTP/1.1\r\n" + h + "\r\n", stricter: whyNonASCII},
		{name: "target control", raw: "GET /a\x01b HTTP/1.1\r\n" + h + "\r\n"},
		{name: "target DEL", raw: "GET /a\x7fb HTTP/1.1\r\n" + h + "\r\n"},
		{name: "target tab", raw: "GET /a\tb HTTP/1.1\r\n" + h + "\r\n"},
		{name: "target fragment", raw: "GET /a#frag HTTP/1.1\r\n" + h + "\r\n", stricter: whyFragment},
		{name: "target relative", raw: "GET a/b HTTP/1.1\r\n" + h + "\r\n"},
		{name: "target star get", raw: "GET * HTTP/1.1\r\n" + h + "\r\n", stricter: whyAsterisk},
		{name: "connect", raw: "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", stricter: whyConnect},
		{name: "userinfo", raw: "GET http://user@example.com/ HTTP/1.1\r\n" + h + "\r\n", stricter: whyUserinfo},
		{name: "ftp target", raw: "GET ftp://example.com/ HTTP/1.1\r\n" + h + "\r\n", stricter: whyTargetForm},
		{name: "missing host 1.1", raw: "GET / HTTP/1.1\r\n\r\n", stricter: whyHost},
		{name: "duplicate host", raw: "GET / HTTP/1.1\r\nHost: a.com\r\nHost: b.com\r\n\r\n"},
		{name: "host slash", raw: "GET / HTTP/1.1\r\nHost: a.com/evil\r\n\r\n", stricter: whyHost},
		{name: "host userinfo", raw: "GET / HTTP/1.1\r\nHost: user@a.com\r\n\r\n", stricter: whyHost},
		{name: "host space", raw: "GET / HTTP/1.1\r\nHost: a .com\r\n\r\n", stricter: whyHost},
		{name: "cl conflicting", raw: "POST / HTTP/1.1\r\n" + h + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"},
		{name: "cl list identical", raw: "POST / HTTP/1.1\r\n" + h + "Content-Length: 3, 3\r\n\r\nabc", lenient: whyCLList},
		{name: "cl list different", raw: "POST / HTTP/1.1\r\n" + h + "Content-Length: 3, 4\r\n\r\nabcd"},
		{name: "cl plus", raw: "POST / HTTP/1.1\r\n" + h + "Content-Length: +3\r\n\r\nabc"},
		{name: "cl minus", raw: "POST / HTTP/1.1\r\n" + h + "Content-Length: -3\r\n\r\n"},
		{name: "cl hex", raw: "POST / HTTP/1.1\r\n" + h + "Content-Length: 0x3\r\n\r\nabc"},
		{name: "cl space inside", raw: "POST / HTTP/1.1\r\n" + h + "Content-Length: 1 2\r\n\r\n"},
		{name: "cl empty", raw: "POST / HTTP/1.1\r\n" + h + "Content-Length:\r\n\r\n"},
		{name: "cl huge", raw: "POST / HTTP/1.1\r\n" + h + "Content-Length: 99999999999999999999\r\n\r\n"},
		{name: "cl and te", raw: "POST / HTTP/1.1\r\n" + h + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", stricter: whyCLTE},
		{name: "te and cl", raw: "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", stricter: whyCLTE},
		{name: "te gzip", raw: "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: gzip\r\n\r\n"},
		{name: "te gzip chunked", raw: "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
		{name: "te identity", raw: "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: identity\r\n\r\n"},
		{name: "te xchunked", raw: "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: xchunked\r\n\r\n"},
		{name: "te chunked twice", raw: "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"},
		{name: "te two headers", raw: "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{name: "te chunked gzip", raw: "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked, gzip\r\n\r\n"},
		{name: "te empty", raw: "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding:\r\n\r\n"},
		{name: "te vertical tab", raw: "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: \x0bchunked\r\n\r\n"},
		{name: "te 1.0", raw: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", stricter: whyTE10},
		{name: "expect other", raw: "PUT / HTTP/1.1\r\n" + h + "Expect: something\r\n\r\n", stricter: whyExpect},
		{name: "connection not token", raw: "GET / HTTP/1.1\r\n" + h + "Connection: a b\r\n\r\n", stricter: whyConnToken},
		{name: "leading CRLF", raw: "\r\nGET / HTTP/1.1\r\n" + h + "\r\n", lenient: whyEmptyLines},
	}
	return c
}

func TestDifferentialNetHTTP(t *testing.T) {
	corpus := diffCorpus()
	if len(corpus) < 100 {
		t.Fatalf("corpus has %d cases, want at least 100", len(corpus))
	}
	for _, tc := range corpus {
		t.Run(tc.name, func(t *testing.T) {
			b := NewReader(strings.NewReader(tc.raw), 4096)
			var mine Request
			mineErr := ReadRequest(b, &mine, Limits{})
			theirs, goErr := http.ReadRequest(bufio.NewReader(strings.NewReader(tc.raw)))
			if goErr == nil && theirs.Body != nil {
				defer theirs.Body.Close()
			}
			switch {
			case mineErr == nil && goErr != nil:
				if tc.lenient == "" {
					t.Fatalf("fjord accepts what net/http rejects (%v) without a documented reason", goErr)
				}
			case mineErr != nil && goErr == nil:
				if tc.stricter == "" {
					t.Fatalf("fjord rejects (%v) what net/http accepts without a documented reason", mineErr)
				}
			case tc.stricter != "" || tc.lenient != "":
				t.Fatalf("documented difference no longer holds: fjord %v, net/http %v", mineErr, goErr)
			case mineErr == nil:
				compareWithNetHTTP(t, &mine, theirs)
			}
		})
	}
}

func compareWithNetHTTP(t *testing.T, mine *Request, theirs *http.Request) {
	t.Helper()
	if string(mine.Method) != theirs.Method || string(mine.URI) != theirs.RequestURI || string(mine.Host) != theirs.Host {
		t.Fatalf("method/uri/host: fjord %q %q %q, net/http %q %q %q",
			mine.Method, mine.URI, mine.Host, theirs.Method, theirs.RequestURI, theirs.Host)
	}
	if mine.Minor != theirs.ProtoMinor {
		t.Fatalf("minor: fjord %d, net/http %d", mine.Minor, theirs.ProtoMinor)
	}
	chunked := len(theirs.TransferEncoding) == 1 && theirs.TransferEncoding[0] == "chunked"
	switch mine.Framing {
	case FramingChunked:
		if !chunked {
			t.Fatalf("fjord chunked, net/http TE %q", theirs.TransferEncoding)
		}
	case FramingLength:
		if chunked || theirs.ContentLength != mine.ContentLength {
			t.Fatalf("fjord length %d, net/http %d (TE %q)", mine.ContentLength, theirs.ContentLength, theirs.TransferEncoding)
		}
	case FramingNone:
		if chunked || theirs.ContentLength != 0 {
			t.Fatalf("fjord no body, net/http length %d (TE %q)", theirs.ContentLength, theirs.TransferEncoding)
		}
	}
	if mine.Close != theirs.Close {
		t.Fatalf("close: fjord %v, net/http %v", mine.Close, theirs.Close)
	}
	for _, hd := range mine.Headers {
		if hd.Kind == HeaderFraming || equalFold(hd.Name, "host") {
			continue // net/http rewrites these into fields
		}
		found := false
		for _, v := range theirs.Header.Values(string(hd.Name)) {
			found = found || v == string(hd.Value)
		}
		if !found {
			t.Fatalf("header %q: fjord %q, net/http %q", hd.Name, hd.Value, theirs.Header.Values(string(hd.Name)))
		}
	}
}
