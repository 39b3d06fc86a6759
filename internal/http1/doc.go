// Package http1 is fjord's HTTP/1.1 wire layer: a fixed-size buffered Reader, zero-allocation parsers for request and
// response heads, a framing-aware body copier and the path normalizer used for routing.
//
// The package is deliberately strict, because fjord sits on the internet-facing edge and every ambiguity a parser
// tolerates is a request-smuggling or routing-bypass opportunity:
//
//   - Lines end in CRLF. A bare LF or a bare CR anywhere in a head or chunk line is rejected (400), unlike net/http
//     which accepts bare LF.
//   - Header names are tchar only with no whitespace before the colon; obs-fold continuation lines are rejected;
//     values may not contain NUL, CR, LF or other control bytes except HTAB.
//   - Content-Length is digits only (at most 2^62); repeated or comma-listed values are accepted only when identical.
//     Content-Length together with Transfer-Encoding is rejected on requests (400) and on responses (502), never
//     "resolved" in favour of chunked. Transfer-Encoding must be exactly "chunked"; other codings are 501.
//   - The request-target must be printable ASCII without '#'; CONNECT is refused with 405; '*' is accepted only for
//     OPTIONS; absolute-form http(s) URIs are accepted and their authority becomes the Host.
//   - Up to 16 empty lines (CRLF) before a request line are skipped, as RFC 9112 section 2.2 asks of servers; they
//     count in Request.HeadLen.
//
// Parsed heads are views: every []byte field aliases the Reader's buffer and is valid only until the caller Discards
// the head or the Reader is filled again. Nothing in this package is safe for concurrent use; one Reader, Request and
// Response belong to one connection goroutine at a time. Nothing here starts goroutines.
//
// Steady-state parsing and copying do not allocate: Request.Headers and Response.Headers keep their capacity between
// messages, and CopyBody works inside the caller's scratch buffer. Errors allocate, which is fine on the failure path.
package http1
