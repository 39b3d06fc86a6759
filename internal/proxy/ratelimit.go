package proxy

import (
	"strconv"
	"time"

	"github.com/fjord-gw/fjord/internal/ratelimit"
)

// RateKey says what a route's rate-limit bucket belongs to.
type RateKey uint8

const (
	RateByClientIP RateKey = iota // the client's address
	RateByHeader                  // the value of RateLimit.Header; clients without it are keyed by address
	RateByRoute                   // one bucket for the whole route
)

// RateLimit is a route's request rate limit. Buckets are per gateway instance (see package ratelimit).
type RateLimit struct {
	Limiter *ratelimit.Limiter
	Key     RateKey
	Header  string // header name for RateByHeader
	Status  int    // the refusal's status; 0: 429 (nginx configs say 503, nginx's limit_req_status default)
}

// Seeds keep the three kinds of key apart: an API key whose bytes equal a client address gets its own bucket.
const (
	seedIP    = 0x9e3779b97f4a7c15
	seedRoute = 0x2545f4914f6cdd1d
)

// rateLimited takes a token for the request from rt's limit and reports whether it must be refused; the decision is
// kept in c.rate for the 429's headers. It does not allocate.
func (c *conn) rateLimited(rt *Route) bool {
	rl := rt.RateLimit
	if rl == nil {
		return false
	}
	var d ratelimit.Decision
	switch rl.Key {
	case RateByRoute:
		d = rl.Limiter.AllowHash(seedRoute)
	case RateByHeader:
		if v, ok := c.req.Header(rl.Header); ok {
			d = rl.Limiter.Allow(v)
			break
		}
		fallthrough
	default:
		a := c.remote.Addr().As16()
		d = rl.Limiter.AllowHash(hashIP(a))
	}
	c.rate = d
	return !d.Allowed
}

func hashIP(a [16]byte) uint64 {
	h := uint64(seedIP)
	for _, b := range a {
		h = (h ^ uint64(b)) * 0x100000001b3
	}
	return h ^ h>>29
}

// refuseRate answers a request over its route's rate limit: 429 with the rate-limit headers unless the limit says
// another status. The connection stays open when there is no body to skip.
func (c *conn) refuseRate(rt *Route) bool {
	c.log.Reason = "rate limited (key " + c.rateKeyText(rt.RateLimit) + ")"
	status := rt.RateLimit.Status
	if status == 0 {
		status = 429
	}
	return c.writeErrorAfterBody(status, c.log.Reason)
}

func (c *conn) rateKeyText(rl *RateLimit) string {
	switch rl.Key {
	case RateByRoute:
		return "route"
	case RateByHeader:
		if v, ok := c.req.Header(rl.Header); ok {
			return "header " + rl.Header + "=" + strconv.Quote(string(v))
		}
	}
	return "client_ip " + c.remote.Addr().String()
}

// appendRateHeaders adds Retry-After and the RateLimit-* headers of c.rate (draft-ietf-httpapi-ratelimit-headers):
// the bucket size, whole tokens left, and seconds until the bucket is full. Seconds are rounded up, so a client that
// waits Retry-After finds a token.
func appendRateHeaders(b []byte, d ratelimit.Decision) []byte {
	b = appendSeconds(b, "Retry-After", max(d.Wait, time.Second))
	b = append(b, "RateLimit-Limit: "...)
	b = strconv.AppendInt(b, int64(d.Limit), 10)
	b = append(b, "\r\nRateLimit-Remaining: "...)
	b = strconv.AppendInt(b, int64(max(d.Remaining, 0)), 10)
	b = append(b, "\r\n"...)
	return appendSeconds(b, "RateLimit-Reset", d.Reset)
}

func appendSeconds(b []byte, name string, d time.Duration) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = strconv.AppendInt(b, int64((d+time.Second-1)/time.Second), 10)
	return append(b, "\r\n"...)
}
