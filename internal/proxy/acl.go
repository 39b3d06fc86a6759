package proxy

// accessDenied checks the request's client address (after the trusted-proxy rules, see realip.go) against rt's
// allow/deny list and, when a rule denies it, notes that rule as the reason to log. It does not allocate.
func (c *conn) accessDenied(rt *Route) bool {
	if rt.Access == nil {
		return false
	}
	ok, rule := rt.Access.Check(c.remote.Addr())
	if ok {
		return false
	}
	c.log.Reason = rt.Access.Reason(rule)
	return true
}

// refuseAccess answers 403 to a request that its route's access rules deny. The connection stays open when there
// is no body to skip.
func (c *conn) refuseAccess() bool {
	return c.writeErrorAfterBody(403, c.log.Reason)
}
