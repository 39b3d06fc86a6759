package upstream

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/fjord-gw/fjord/internal/balancer"
	"github.com/fjord-gw/fjord/internal/outlier"
)

// Pool is a service's set of instances with the balancer that picks among them. Primary instances take all traffic
// while any is usable; backup instances only when none is. An instance is usable unless it recently refused a
// connection, failed its active health checks, is ejected by the outlier detector, is at its concurrency cap, or is
// drained by an operator.
//
// A Pool is immutable after NewPool; the instances' counters and the detector change underneath it. Pick is safe
// for concurrent use, never blocks and does not allocate.
type Pool struct {
	Name           string
	Policy         balancer.Policy
	primary        group
	backup         group
	all            []*Instance // primaries then backups: the detector's index space
	detector       *outlier.Detector
	maxPerInstance int64
	slowStart      int64 // nanoseconds; 0 = off
}

// PoolOptions are a pool's fault-isolation settings.
type PoolOptions struct {
	// Outlier configures passive ejection. Ignored when Detector is set.
	Outlier outlier.Config
	// Detector, when non-nil, is reused (a reload that kept the same instances keeps their ejection state). It must
	// have been built for the same instances in the same order.
	Detector *outlier.Detector
	// MaxPerInstance caps in-flight requests per instance; 0 = unlimited. The cap is soft: concurrent picks can pass
	// it by a few requests.
	MaxPerInstance int
	// SlowStart ramps an instance that just recovered (health checks pass again, ejection or connect-failure skip
	// ended) from a small share of its picks up to all of them, linearly over this window. 0 = off.
	SlowStart time.Duration
}

// group is one tier (primary or backup) of a pool; it is the balancer.State its picker reads.
type group struct {
	pool    *Pool
	offset  int // index of insts[0] in pool.all
	insts   []*Instance
	picker  balancer.Picker
	exclude *Instance // only set on the per-retry copy made by PickExcept
}

var _ balancer.State = (*group)(nil)

func (g *group) Usable(i int) bool {
	in := g.insts[i]
	if in == g.exclude || in.unhealthy.Load() || in.drained.Load() {
		return false
	}
	p := g.pool
	if p.maxPerInstance > 0 && in.active.Load() >= p.maxPerInstance {
		return false
	}
	// Read the clock only for instances that were ever marked down, ejected or (with slow start) unhealthy.
	d, e := in.downUntil.Load(), p.detector.EjectedUntil(g.offset+i)
	var h int64
	if p.slowStart > 0 {
		h = in.healthyAt.Load()
	}
	if d == 0 && e == 0 && h == 0 {
		return true
	}
	now := time.Now().UnixNano()
	if d > now || e > now {
		return false
	}
	return p.slowStart == 0 || admitWarming(now-max(d, e, h), p.slowStart)
}

// admitWarming decides one pick of an instance that recovered since ago nanoseconds, during a slow start of window:
// it admits a share of picks that grows linearly from 1/16 to all of them. Picks it turns down go to other instances.
func admitWarming(since, window int64) bool {
	if since >= window {
		return true
	}
	share := max(since*1024/window, 64)
	return int64(rand.Uint64()%1024) < share
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
func NewPool(name string, policy balancer.Policy, instances []*Instance, opts PoolOptions) (*Pool, error) {
	p := &Pool{Name: name, Policy: policy, maxPerInstance: int64(opts.MaxPerInstance), slowStart: int64(opts.SlowStart)}
	p.primary.pool, p.backup.pool = p, p
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
	p.backup.offset = len(p.primary.insts)
	p.all = append(append([]*Instance(nil), p.primary.insts...), p.backup.insts...)
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
	p.detector = opts.Detector
	if p.detector == nil || p.detector.Len() != len(p.all) {
		p.detector = outlier.New(len(p.all), opts.Outlier, nil)
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

// Report feeds the outcome of one request to in into the outlier detector. It returns true when this failure
// ejected the instance.
func (p *Pool) Report(in *Instance, ok bool) bool {
	for i, x := range p.all {
		if x == in {
			return p.detector.Result(i, ok)
		}
	}
	return false
}

// Recovered is told that active health checks found in healthy again: it ends an outlier ejection early.
func (p *Pool) Recovered(in *Instance) {
	for i, x := range p.all {
		if x == in {
			p.detector.Uneject(i, time.Now().UnixNano())
			return
		}
	}
}

// Detector is the pool's outlier detector (for reuse across reloads and for status pages).
func (p *Pool) Detector() *outlier.Detector { return p.detector }

// Instances returns all instances, primaries first.
func (p *Pool) Instances() []*Instance { return p.all }

// Len is the number of instances.
func (p *Pool) Len() int { return len(p.all) }

// InstanceState is what a status page shows about one instance.
type InstanceState struct {
	Addr           string
	Backup         bool
	Healthy        bool      // active health checks' verdict
	WarmingUntil   time.Time // slow start in progress until then (zero: not)
	DownUntil      time.Time // skipped after a connect failure until then (zero: not)
	EjectedUntil   time.Time // ejected by the outlier detector until then (zero: not)
	Ejections      int
	Active         int64
	AtInstanceCap  bool
	ConsecutiveErr int
	Drained        bool // taken out of rotation by an operator
}

// States reports every instance's state at time now.
func (p *Pool) States(now time.Time) []InstanceState {
	out := make([]InstanceState, len(p.all))
	for i, in := range p.all {
		st := p.detector.State(i)
		s := InstanceState{
			Addr: in.Addr, Backup: in.Backup, Healthy: in.Healthy(), Active: in.Active(),
			Ejections: st.Ejections, ConsecutiveErr: st.ConsecutiveFailures,
			AtInstanceCap: p.maxPerInstance > 0 && in.Active() >= p.maxPerInstance,
			Drained:       in.Drained(),
		}
		if d := in.downUntil.Load(); d > now.UnixNano() {
			s.DownUntil = time.Unix(0, d)
		}
		if st.EjectedUntil.After(now) {
			s.EjectedUntil = st.EjectedUntil
		}
		if p.slowStart > 0 && s.Healthy && s.DownUntil.IsZero() && s.EjectedUntil.IsZero() {
			t0 := max(in.downUntil.Load(), p.detector.EjectedUntil(i), in.healthyAt.Load())
			if t0 != 0 && now.UnixNano()-t0 < p.slowStart {
				s.WarmingUntil = time.Unix(0, t0+p.slowStart)
			}
		}
		out[i] = s
	}
	return out
}

// Why explains, for a log line, why no instance is usable: how many are unhealthy, ejected, recently refused
// connections, or at their concurrency cap.
func (p *Pool) Why() string {
	var drained, unhealthy, ejected, refused, capped int
	for _, s := range p.States(time.Now()) {
		switch {
		case s.Drained:
			drained++
		case !s.Healthy:
			unhealthy++
		case !s.EjectedUntil.IsZero():
			ejected++
		case !s.DownUntil.IsZero():
			refused++
		case s.AtInstanceCap:
			capped++
		}
	}
	var parts []string
	for _, c := range []struct {
		n    int
		what string
	}{{drained, "drained"}, {unhealthy, "failing health checks"}, {ejected, "ejected as outliers"}, {refused, "refusing connections"}, {capped, "at max_per_instance"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%d instances", len(p.all))
	}
	return fmt.Sprintf("%d instances: %s", len(p.all), strings.Join(parts, ", "))
}
