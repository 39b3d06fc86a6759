package upstream

// Draining takes an instance out of rotation by hand (an operator about to deploy or retire it): pickers skip a
// drained instance like an unhealthy one, so it gets no new requests, while the requests already on it finish. The
// flag is one atomic on the Instance, read by group.Usable on every pick, so draining needs no new picker and no
// lock; the status page calls an instance "draining" while requests are still in flight on it and "drained" after.

// SetDrained drains (true) or undrains (false) the instance and reports whether that changed anything. Safe for
// concurrent use.
func (in *Instance) SetDrained(on bool) (changed bool) {
	return in.drained.Swap(on) != on
}

// Drained reports whether the instance is drained by an operator.
func (in *Instance) Drained() bool { return in.drained.Load() }

// Find returns the instance of the pool with address addr, or nil.
func (p *Pool) Find(addr string) *Instance {
	for _, in := range p.all {
		if in.Addr == addr {
			return in
		}
	}
	return nil
}
