package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestInstanceStateDrain: an operator's drain shows as its own state, not as none of the known ones.
func TestInstanceStateDrain(t *testing.T) {
	for _, state := range []string{"draining", "drained"} {
		t.Run(state, func(t *testing.T) {
			c := NewCollector(func() Snapshot {
				return Snapshot{Services: []ServiceInfo{{Name: "s", Stats: &ServiceStats{},
					Instances: []InstanceInfo{{Address: "a:1", State: state}}}}}
			})
			reg := prometheus.NewRegistry()
			reg.MustRegister(c)
			want := "# HELP fjord_instance_state 1 for an instance's current state.\n# TYPE fjord_instance_state gauge\n"
			for _, s := range instanceStates {
				v := "0"
				if s == state {
					v = "1"
				}
				want += `fjord_instance_state{instance="a:1",service="s",state="` + s + `"} ` + v + "\n"
			}
			if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "fjord_instance_state"); err != nil {
				t.Fatal(err)
			}
		})
	}
}
