package proxy

import (
	"strings"

	"github.com/fjord-gw/fjord/internal/http1"
)

// Headers the gateway writes itself on every proxied request (unless a route removes or sets them).
const (
	hdrNone = iota
	hdrHost
	hdrXFF
	hdrXFProto
	hdrXFHost
	hdrXRealIP
	hdrXRequestID
)

var builtinNames = [...]string{
	hdrHost: "Host", hdrXFF: "X-Forwarded-For", hdrXFProto: "X-Forwarded-Proto",
	hdrXFHost: "X-Forwarded-Host", hdrXRealIP: "X-Real-IP", hdrXRequestID: "X-Request-Id",
}

// builtinHeader identifies a header the gateway rewrites; a switch on length keeps the common case to one compare.
func builtinHeader(name []byte) int {
	switch len(name) {
	case 4:
		if equalFold(name, "host") {
			return hdrHost
		}
	case 9:
		if equalFold(name, "x-real-ip") {
			return hdrXRealIP
		}
	case 12:
		if equalFold(name, "x-request-id") {
			return hdrXRequestID
		}
	case 15:
		if equalFold(name, "x-forwarded-for") {
			return hdrXFF
		}
	case 16:
		if equalFold(name, "x-forwarded-host") {
			return hdrXFHost
		}
	case 17:
		if equalFold(name, "x-forwarded-proto") {
			return hdrXFProto
		}
	}
	return hdrNone
}

// equalFold compares ASCII case-insensitively without allocating.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// NewHeaderOps compiles header edits. Names are matched case-insensitively; a header that is both removed and set
// is replaced by the set value.
func NewHeaderOps(set, add []HeaderValue, remove []string) HeaderOps {
	h := HeaderOps{Set: set, Add: add, Remove: remove}
	for _, n := range remove {
		h.drop = append(h.drop, strings.ToLower(n))
	}
	for _, v := range set {
		h.drop = append(h.drop, strings.ToLower(v.Name))
	}
	for id := hdrXFF; id <= hdrXRequestID; id++ {
		if h.drops([]byte(builtinNames[id])) {
			h.builtinOff |= 1 << id
		}
	}
	h.traceOff = h.drops([]byte("traceparent"))
	return h
}

// drops reports whether an incoming header of this name is not forwarded because the ops remove or replace it.
func (h *HeaderOps) drops(name []byte) bool {
	for _, d := range h.drop {
		if equalFold(name, d) {
			return true
		}
	}
	return false
}

func (h *HeaderOps) builtinOn(id int) bool { return h.builtinOff&(1<<id) == 0 }

// appendOps writes the Set and Add headers.
func (h *HeaderOps) appendOps(b []byte, c *conn) []byte {
	for i := range h.Set {
		b = appendRendered(b, &h.Set[i], c)
	}
	for i := range h.Add {
		b = appendRendered(b, &h.Add[i], c)
	}
	return b
}

func appendRendered(b []byte, v *HeaderValue, c *conn) []byte {
	b = append(b, v.Name...)
	b = append(b, ": "...)
	b = v.Value.render(b, c)
	return append(b, "\r\n"...)
}

func appendRaw(b []byte, h *http1.Header) []byte {
	b = append(b, h.Name...)
	b = append(b, ": "...)
	b = append(b, h.Value...)
	return append(b, "\r\n"...)
}

// cookieValue finds a cookie's value in the request's Cookie headers.
func cookieValue(req *http1.Request, name string) []byte {
	for i := range req.Headers {
		h := &req.Headers[i]
		if !equalFold(h.Name, "cookie") {
			continue
		}
		v := h.Value
		for len(v) > 0 {
			var pair []byte
			if j := indexByte(v, ';'); j >= 0 {
				pair, v = v[:j], v[j+1:]
			} else {
				pair, v = v, nil
			}
			for len(pair) > 0 && pair[0] == ' ' {
				pair = pair[1:]
			}
			if len(pair) > len(name) && pair[len(name)] == '=' && string(pair[:len(name)]) == name {
				return pair[len(name)+1:]
			}
		}
	}
	return nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}
