package proxy

import (
	"math/rand/v2"
	"time"

	"github.com/fjord-gw/fjord/internal/balancer"
	"github.com/fjord-gw/fjord/internal/canary"
)

// Canary splits a route's requests between the route's own service and a new one. The choice is made once per
// request, at the start of conn.forward, which both engines run; everything after it sees the chosen route.
type Canary struct {
	State *canary.Canary
	// Route is the route as it is for the new service: a copy of the canary's route with Service replaced and
	// Canary nil (so a request handed from an event loop to a goroutine is not split twice).
	Route *Route
	// Sticky says where the key that keeps a client on one side comes from; StickyNone splits each request
	// independently.
	Sticky     StickySource
	StickyName string // cookie or header name
}

// StickySource is where a canary's sticky key comes from.
type StickySource uint8

const (
	StickyNone StickySource = iota
	StickyCookie
	StickyHeader
	StickyClientIP
)

// WithCanary returns a copy of rt that sends the share state chooses to svc. rt itself is not changed.
func (rt *Route) WithCanary(svc *Service, state *canary.Canary, from StickySource, name string) *Route {
	alt := *rt
	alt.Service, alt.Canary = svc, nil
	if alt.Shadow != nil && alt.Shadow.ServiceName() == svc.Name {
		alt.Shadow = nil // requests the canary already sends to the shadow's service are not mirrored to it again
	}
	out := *rt
	out.Canary = &Canary{State: state, Route: &alt, Sticky: from, StickyName: name}
	return &out
}

// chooseRoute picks the side of a canary route for the current request: rt itself or the copy for the new
// service. A request without its sticky cookie or header is keyed by its client address. No lock, no allocation.
func (c *conn) chooseRoute(rt *Route) *Route {
	cn := rt.Canary
	if cn == nil {
		return rt
	}
	if cn.State.Choose(c.canaryKey(cn)) {
		return cn.Route
	}
	return rt
}

func (c *conn) canaryKey(cn *Canary) uint64 {
	var v []byte
	switch cn.Sticky {
	case StickyNone:
		return rand.Uint64()
	case StickyCookie:
		v = cookieValue(&c.req, cn.StickyName)
	case StickyHeader:
		v, _ = c.req.Header(cn.StickyName)
	}
	if len(v) > 0 {
		return balancer.HashKey(v)
	}
	a := c.remote.Addr().As16()
	return balancer.HashKey(a[:])
}

// observeCanary counts a finished request of a canary route for its side, told by the service it was sent to
// (requests answered before forwarding, such as 429s, count for neither).
func (c *conn) observeCanary(cn *Canary, d time.Duration) {
	switch c.log.Service {
	case "":
	case cn.Route.Service.Name:
		cn.State.Observe(canary.ArmNew, c.log.Status, d)
	default:
		cn.State.Observe(canary.ArmOld, c.log.Status, d)
	}
}
