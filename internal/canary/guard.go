package canary

import (
	"context"
	"fmt"
	"time"
)

// Run is the canary's guard: once per tenth of the guard window it slides the counters, rolls the canary back when
// the new service breaches a guard rail, and takes the next step of the schedule when one is due. It returns when
// ctx is done. The owner runs one Run per Canary at a time (a reload stops the old one before starting the next).
func (c *Canary) Run(ctx context.Context) {
	c.mu.Lock()
	tick := c.opts.Guard.Window / slots
	c.mu.Unlock()
	if tick <= 0 {
		tick = time.Second
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			c.check(now)
			c.win.advance()
		}
	}
}

// check judges the window: a breach rolls back; otherwise a due step is taken.
func (c *Canary) check(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rolledBack.Load() || c.weight.Load() == 0 {
		return
	}
	sums := c.win.sum()
	if why := breach(c.opts.Guard, &sums[ArmOld], &sums[ArmNew]); why != "" {
		c.weight.Store(0)
		c.rolledBack.Store(true)
		c.reason, c.changed = why, now
		c.log().Warn("canary rolled back", "route", c.opts.Route, "service", c.opts.New, "reason", why)
		return
	}
	c.stepUp(now, &sums[ArmNew])
}

// stepUp moves to the next scheduled weight when StepInterval has passed since the last change and the new service
// has answered enough requests to be judged.
func (c *Canary) stepUp(now time.Time, nw *armSum) {
	o := &c.opts
	if len(o.Steps) == 0 || o.StepInterval <= 0 || now.Sub(c.lastStep) < o.StepInterval {
		return
	}
	if nw.reqs < uint64(max(o.Guard.MinRequests, 1)) {
		return
	}
	w := int(c.weight.Load())
	for _, s := range o.Steps {
		if s > w {
			c.weight.Store(int32(s))
			c.lastStep, c.changed = now, now
			c.log().Info("canary stepped up", "route", o.Route, "service", o.New, "weight", Percent(s))
			return
		}
	}
}

// p99Floor is the smallest old-service p99 the latency guard compares against.
const p99Floor = 5 * time.Millisecond

// breach says why the new arm fails the guard, or "" when it holds (or there is not enough traffic to judge).
func breach(g Guard, old, nw *armSum) string {
	if nw.reqs == 0 || nw.reqs < uint64(g.MinRequests) {
		return ""
	}
	if g.MaxErrorRate > 0 {
		if n, o := nw.errorRate(), old.errorRate(); n > o+g.MaxErrorRate {
			return fmt.Sprintf("error rate %.1f%% (%d of %d) exceeds the old service's %.1f%% by more than %.1f points",
				n*100, nw.errs, nw.reqs, o*100, g.MaxErrorRate*100)
		}
	}
	if g.MaxP99Ratio > 0 && old.reqs > 0 && old.reqs >= uint64(g.MinRequests) {
		// Below p99Floor latencies are noise (one dial, one GC pause): a 200µs service is not "twice as slow" as a
		// 100µs one in any way that matters.
		n, o := nw.p99(), max(old.p99(), p99Floor)
		if float64(n) > float64(o)*g.MaxP99Ratio {
			return fmt.Sprintf("p99 latency %s is more than %.2f× the old service's %s", n, g.MaxP99Ratio, o)
		}
	}
	return ""
}
