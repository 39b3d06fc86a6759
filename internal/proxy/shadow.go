package proxy

import (
	"bytes"

	"github.com/fjord-gw/fjord/internal/http1"
	"github.com/fjord-gw/fjord/internal/shadow"
	"github.com/fjord-gw/fjord/internal/upstream"
)

// mirror hands a copy of the current request and of the primary's response (head parsed, in uc's buffer) to the
// route's shadow, which sends and compares it in the background. It runs in relayHead, before the response goes
// to the client, and only copies: it never blocks. A request whose body is not in memory is not mirrored; a
// response whose body is not complete in the buffer is mirrored but not compared.
func (c *conn) mirror(m *shadow.Mirror, rt *Route, uc *upstream.Conn) {
	if c.req.Upgrade != nil || !m.Wants(c.req.Method) {
		return
	}
	var body []byte
	switch {
	case c.req.Framing == http1.FramingNone:
	case c.inlineBody != nil && len(c.inlineBody) <= m.MaxBodyBytes():
		body = bytes.Clone(c.inlineBody)
	default:
		m.Skip()
		return
	}
	req := shadow.Request{Method: string(c.req.Method), URI: string(c.req.URI),
		Head: c.appendRequestHead(make([]byte, 0, 1024), rt, uc.Instance()), Body: body}
	m.Send(req, c.primaryCopy(m, uc))
}

// primaryCopy copies what the shadow compares of the primary's response.
func (c *conn) primaryCopy(m *shadow.Mirror, uc *upstream.Conn) shadow.Response {
	resp := &c.resp
	p := shadow.Response{Status: resp.Status, Headers: shadow.PickHeaders(resp.Headers, m.Headers())}
	body := uc.R.Buffered()[resp.HeadLen:]
	switch {
	case resp.Framing == http1.FramingNone:
		p.Complete = true
	case resp.Framing == http1.FramingLength && int64(len(body)) >= resp.ContentLength &&
		resp.ContentLength <= int64(m.MaxBodyBytes()):
		p.Body, p.Complete = bytes.Clone(body[:resp.ContentLength]), true
	}
	return p
}
