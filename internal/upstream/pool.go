package upstream

import (
	"fmt"
	"time"

	"github.com/fjord-gw/fjord/internal/balancer"
)

// Pool is a service's set of instances with the balancer that picks among them. Primary instances take all traffic
// while any is usable; backup instances only when none is. A Pool is immutable after NewPool; the instances' own
// counters change underneath it. Pick is safe for concurrent use, never blocks and does not allocate.
type Pool struct {
	Name    string
	Policy  balancer.Policy
	primary group
	backup  group
}

// group is one tier (primary or backup) of a pool; it is the balancer.State its picker reads.
type group struct {
	insts   []*Instance
	picker  balancer.Picker
	exclude *Instance // only set on the per-retry copy made by PickExcept
}

var _ balancer.State = (*group)(nil)

func (g *group) Usable(i int) bool {
	in := g.insts[i]
	if in == g.exclude {
		return false
	}
	if d := in.downUntil.Load(); d != 0 && d > time.Now().UnixNano() {
		return false
	}
	return true
}

func (g *group) Load(i int) int64 { return g.insts[i].active.Load() }

func (g *group) pick(key uint64) *Instance {
	if len(g.insts) == 0 {
		return nil
	}
	i := g.picker.Pick(g, key)
	if i < 0 {
		return nil
	}
	return g.insts[i]
}

// NewPool builds a pool over instances (primaries and backups mixed, in config order).
func NewPool(name string, policy balancer.Policy, instances []*Instance) (*Pool, error) {
	p := &Pool{Name: name, Policy: policy}
	for _, in := range instances {
		if in.Backup {
			p.backup.insts = append(p.backup.insts, in)
		} else {
			p.primary.insts = append(p.primary.insts, in)
		}
	}
	if len(p.primary.insts) == 0 {
		return nil, fmt.Errorf("service %s: no primary instance", name)
	}
	for _, g := range []*group{&p.primary, &p.backup} {
		if len(g.insts) == 0 {
			continue
		}
		w := make([]int, len(g.insts))
		for i, in := range g.insts {
			w[i] = in.Weight
		}
		pk, err := balancer.New(policy, w, nil)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", name, err)
		}
		g.picker = pk
	}
	return p, nil
}

// Pick chooses an instance for a request with the given hash key (ignored unless the policy is hash), or nil when no
// instance is usable.
func (p *Pool) Pick(key uint64) *Instance {
	if in := p.primary.pick(key); in != nil {
		return in
	}
	return p.backup.pick(key)
}

// PickExcept is Pick that avoids one instance (the one that just failed), for a retry.
func (p *Pool) PickExcept(key uint64, ex *Instance) *Instance {
	pg, bg := p.primary, p.backup
	pg.exclude, bg.exclude = ex, ex
	if in := pg.pick(key); in != nil {
		return in
	}
	return bg.pick(key)
}

// Instances returns all instances, primaries first.
func (p *Pool) Instances() []*Instance {
	out := make([]*Instance, 0, len(p.primary.insts)+len(p.backup.insts))
	out = append(out, p.primary.insts...)
	return append(out, p.backup.insts...)
}

// Len is the number of instances.
func (p *Pool) Len() int { return len(p.primary.insts) + len(p.backup.insts) }

// Down counts instances currently skipped.
func (p *Pool) Down() int {
	now := time.Now().UnixNano()
	n := 0
	for _, in := range p.Instances() {
		if in.Down(now) {
			n++
		}
	}
	return n
}
