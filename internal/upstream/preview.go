package upstream

import (
	"fmt"
	"time"

	"github.com/fjord-gw/fjord/internal/balancer"
)

// Preview is what `fjord explain` shows about choosing an instance: each instance's usability with the reason, and
// the instance a request would get. It is computed off the request path and never moves a live picker's rotation.
type Preview struct {
	Policy    balancer.Policy
	Instances []InstancePreview // primaries first, as in Instances
	// Chosen is the address a request with the given key would get, "" when no instance is usable. For the hash
	// policy it is exactly the live choice; for the others it is one representative pick (their choice depends on
	// a rotation or on randomness), and Note says how the live picker chooses.
	Chosen string
	Tier   string // "primary" or "backup": the tier Chosen came from
	Note   string
}

// InstancePreview is one instance's verdict.
type InstancePreview struct {
	Addr   string
	Backup bool
	Weight int
	Active int64
	Usable bool
	Reason string // why it is not usable, or "usable" (with a slow-start note)
}

// Preview reports which instance a request with hash key key would get at time now, and why the others would not.
// Safe for concurrent use; it allocates and builds throw-away pickers, so it is for admin requests only.
func (p *Pool) Preview(key uint64, now time.Time) Preview {
	out := Preview{Policy: p.Policy}
	states := p.States(now)
	for i, in := range p.all {
		ip := InstancePreview{Addr: in.Addr, Backup: in.Backup, Weight: in.Weight, Active: in.Active()}
		ip.Usable, ip.Reason = verdict(states[i], p.maxPerInstance, now)
		out.Instances = append(out.Instances, ip)
	}
	for _, tier := range []struct {
		name string
		g    *group
	}{{"primary", &p.primary}, {"backup", &p.backup}} {
		g := tier.g
		if len(g.insts) == 0 {
			continue
		}
		usable := make([]bool, len(g.insts))
		weights := make([]int, len(g.insts))
		for i, in := range g.insts {
			usable[i], weights[i] = out.Instances[g.offset+i].Usable, in.Weight
		}
		pk, err := balancer.New(p.Policy, weights, func() uint64 { return 0 })
		if err != nil {
			out.Note = err.Error()
			return out
		}
		if i := pk.Pick(previewState{g, usable}, key); i >= 0 {
			out.Chosen, out.Tier = g.insts[i].Addr, tier.name
			break
		}
	}
	out.Note = policyNote(p.Policy, out.Tier)
	return out
}

// verdict says whether an instance in state s is usable and why not, in the order group.Usable checks.
func verdict(s InstanceState, maxPer int64, now time.Time) (bool, string) {
	until := func(t time.Time) string {
		return fmt.Sprintf("%s (%s from now)", t.Format(time.TimeOnly), t.Sub(now).Round(time.Second))
	}
	switch {
	case s.Drained:
		return false, "drained by an operator (fjord undrain puts it back)"
	case !s.Healthy:
		return false, "failing its active health checks"
	case maxPer > 0 && s.AtInstanceCap:
		return false, fmt.Sprintf("at max_per_instance (%d in flight)", s.Active)
	case !s.DownUntil.IsZero():
		return false, "refused a connection; skipped until " + until(s.DownUntil)
	case !s.EjectedUntil.IsZero():
		return false, fmt.Sprintf("ejected as an outlier until %s (%d ejections)", until(s.EjectedUntil), s.Ejections)
	case !s.WarmingUntil.IsZero():
		return true, "usable, warming up (slow start) until " + until(s.WarmingUntil) + ": gets a growing share of picks"
	}
	return true, "usable"
}

func policyNote(p balancer.Policy, tier string) string {
	var n string
	switch p {
	case balancer.Hash:
		n = "hash: the request's key always maps to the same instance while it is usable (Maglev)"
	case balancer.LeastConn:
		n = "least_conn: the usable instance with the fewest requests in flight per unit of weight; ties rotate"
	case balancer.P2C:
		n = "p2c: two random usable instances, the one with less load per unit of weight"
	default:
		n = "round_robin: smooth weighted rotation over the usable instances; this is one turn of it"
	}
	if tier == "backup" {
		n += "; no primary instance is usable, so backups take the traffic"
	}
	return n
}

// previewState is a balancer.State over fixed verdicts, so a preview pick is deterministic (no slow-start dice).
type previewState struct {
	g      *group
	usable []bool
}

func (s previewState) Usable(i int) bool { return s.usable[i] }
func (s previewState) Load(i int) int64  { return s.g.insts[i].active.Load() }
