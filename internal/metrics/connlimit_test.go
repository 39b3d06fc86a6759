package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRejectedConnections(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(func() Snapshot { return Snapshot{RejectedMaxConns: 7, RejectedPerIP: 3} }))
	want := `
# HELP fjord_client_connections_rejected_total Client connections closed at accept by a connection limit, by limit (max_connections, max_connections_per_ip).
# TYPE fjord_client_connections_rejected_total counter
fjord_client_connections_rejected_total{reason="max_connections"} 7
fjord_client_connections_rejected_total{reason="max_connections_per_ip"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "fjord_client_connections_rejected_total"); err != nil {
		t.Fatal(err)
	}
}
