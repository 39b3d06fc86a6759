package upstream

import (
	"testing"
	"time"

	"github.com/fjord-gw/fjord/internal/balancer"
)

func TestDrainSkippedByEveryPolicy(t *testing.T) {
	for _, policy := range []balancer.Policy{balancer.RoundRobin, balancer.LeastConn, balancer.Hash, balancer.P2C} {
		t.Run(string(policy), func(t *testing.T) {
			a := NewInstance("10.0.0.1:80", 1, false, Options{})
			b := NewInstance("10.0.0.2:80", 1, false, Options{})
			bk := NewInstance("10.0.0.3:80", 1, true, Options{})
			p, err := NewPool("svc", policy, []*Instance{a, b, bk}, PoolOptions{})
			if err != nil {
				t.Fatal(err)
			}
			picks := func() map[string]int {
				got := map[string]int{}
				for k := range uint64(200) {
					if in := p.Pick(k * 0x9e3779b97f4a7c15); in != nil {
						got[in.Addr]++
					} else {
						got["none"]++
					}
				}
				return got
			}
			if !a.SetDrained(true) || a.SetDrained(true) {
				t.Fatal("SetDrained should report a change only the first time")
			}
			if got := picks(); got[a.Addr] != 0 || got[b.Addr] != 200 {
				t.Fatalf("with %s drained: picks %v, want all on %s", a.Addr, got, b.Addr)
			}
			if in := p.PickExcept(0, b); in != bk {
				t.Fatalf("PickExcept(b) with a drained = %v, want the backup", in)
			}
			b.SetDrained(true)
			if got := picks(); got[bk.Addr] != 200 {
				t.Fatalf("with both primaries drained: picks %v, want all on the backup", got)
			}
			bk.SetDrained(true)
			if got := picks(); got["none"] != 200 {
				t.Fatalf("with all drained: picks %v, want none", got)
			}
			if why := p.Why(); why != "3 instances: 3 drained" {
				t.Fatalf("Why = %q", why)
			}
			a.SetDrained(false)
			if got := picks(); got[a.Addr] != 200 {
				t.Fatalf("after undrain: picks %v, want all on %s", got, a.Addr)
			}
			if st := p.States(time.Now()); st[0].Drained || !st[1].Drained {
				t.Fatalf("States drained flags = %v, %v; want false, true", st[0].Drained, st[1].Drained)
			}
		})
	}
}

func TestPreview(t *testing.T) {
	a := NewInstance("10.0.0.1:80", 1, false, Options{})
	b := NewInstance("10.0.0.2:80", 1, false, Options{})
	bk := NewInstance("10.0.0.3:80", 1, true, Options{})
	tests := []struct {
		name       string
		policy     balancer.Policy
		setup      func()
		chosen     string
		tier       string
		wantReason map[string]string
	}{
		{"all usable, hash matches the live pick", balancer.Hash, func() {}, "", "primary", nil},
		{"one drained", balancer.RoundRobin, func() { a.SetDrained(true) }, b.Addr, "primary",
			map[string]string{a.Addr: "drained by an operator (fjord undrain puts it back)", b.Addr: "usable"}},
		{"primaries down", balancer.LeastConn, func() { a.SetDrained(true); b.SetHealthy(false) }, bk.Addr, "backup",
			map[string]string{b.Addr: "failing its active health checks"}},
		{"nothing usable", balancer.P2C, func() { a.SetDrained(true); b.SetHealthy(false); bk.SetDrained(true) }, "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, in := range []*Instance{a, b, bk} {
				in.SetDrained(false)
				in.SetHealthy(true)
			}
			tt.setup()
			p, err := NewPool("svc", tt.policy, []*Instance{a, b, bk}, PoolOptions{})
			if err != nil {
				t.Fatal(err)
			}
			const key = 12345
			pv := p.Preview(key, time.Now())
			want := tt.chosen
			if tt.policy == balancer.Hash {
				want = p.Pick(key).Addr
			}
			if pv.Chosen != want || pv.Tier != tt.tier {
				t.Fatalf("Chosen = %q (%s), want %q (%s); %+v", pv.Chosen, pv.Tier, want, tt.tier, pv)
			}
			for _, ip := range pv.Instances {
				if r, ok := tt.wantReason[ip.Addr]; ok && ip.Reason != r {
					t.Errorf("%s: reason %q, want %q", ip.Addr, ip.Reason, r)
				}
			}
			if pv.Note == "" {
				t.Error("no policy note")
			}
		})
	}
}
