package http1

import "strconv"

// Error is a malformed or unsupported message. Status is the answer a server should send for it: 400, 405, 414, 417,
// 431, 501 or 505 for requests, 502 for responses and bodies read from an upstream. Msg names the offending part,
// e.g. `header "Content-Length": conflicting values`.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string {
	return "http1: " + strconv.Itoa(e.Status) + ": " + e.Msg
}

// SourceError wraps a failure to read or parse a body from the source side (client for request bodies, upstream for
// response bodies), so the proxy can tell it apart from DestError. A malformed chunk is a *Error inside it.
type SourceError struct{ Err error }

func (e *SourceError) Error() string { return "http1: body source: " + e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }

// DestError wraps a failure to write a body to the destination (for example a client that went away).
type DestError struct{ Err error }

func (e *DestError) Error() string { return "http1: body destination: " + e.Err.Error() }
func (e *DestError) Unwrap() error { return e.Err }

// errorf-like helpers are avoided on purpose: messages are constant strings plus at most one header name, which
// keeps the failure path cheap and the messages greppable.
func newError(status int, msg string) *Error { return &Error{Status: status, Msg: msg} }

func headerError(status int, name []byte, msg string) *Error {
	return &Error{Status: status, Msg: "header " + strconv.Quote(string(name)) + ": " + msg}
}
