package proxy

// ErrorPage is a configured answer that replaces the gateway's built-in error body for some statuses (nginx's
// error_page): either a body with its content type, or a redirect.
type ErrorPage struct {
	// Status is the status sent instead of the original one; 0 keeps the original. With Location it is the
	// redirect's status (301, 302, 303, 307 or 308).
	Status      int
	ContentType string
	Body        []byte
	// Location, when set, makes the page a redirect to it (no body).
	Location string
}

// ErrorPages maps the statuses the gateway generates itself (404 no route, 403, 413, 429, 502, 503, 504, a static
// route's 404) to pages. A nil map leaves the built-in bodies. Immutable once published.
type ErrorPages map[int]*ErrorPage

// errorPage returns the page configured for status in the current request's scope: its route's pages when the route
// has its own (ErrorPages non-nil), else the server's (Config.ErrorPages); nil when there is none. A request that
// could not be read (readFailed: no method) gets the built-in answer, since c.route may still be the previous
// request's.
func (c *conn) errorPage(status int) *ErrorPage {
	if len(c.req.Method) == 0 {
		return nil
	}
	pages := c.srv.cfg.Load().ErrorPages
	if c.route != nil && c.route.ErrorPages != nil {
		pages = c.route.ErrorPages
	}
	return pages[status]
}

// writeErrorPage writes page p in place of the built-in answer to status and reports whether the connection stays
// open. The error path may allocate: pages are not on the fast path.
func (c *conn) writeErrorPage(status int, p *ErrorPage, closeAfter bool) bool {
	if p.Status != 0 {
		status = p.Status
	}
	c.log.Status = status
	b := appendStatusLine(c.wbuf[:0], status)
	body := p.Body
	if p.Location != "" {
		b = appendHeader(b, "Location", p.Location)
		body = nil
	} else if p.ContentType != "" {
		b = appendHeader(b, "Content-Type", p.ContentType)
	}
	return c.sendError(b, status, body, closeAfter)
}
