package app

import (
	"github.com/prometheus/client_golang/prometheus"
)

// migrationCollector exports the canaries' and shadows' state to Prometheus (docs/migration.md), read at scrape
// time from the configuration in force, like the status page. It keeps no state of its own, so it is safe for the
// concurrent scrapes promhttp may run.
type migrationCollector struct {
	a *App

	weight, rolledBack, canaryReqs, mirrored, notMirrored, compared *prometheus.Desc
}

func newMigrationCollector(a *App) *migrationCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("fjord_"+name, help, labels, nil)
	}
	return &migrationCollector{a: a,
		weight: d("canary_weight_percent", "Share of a canary route's requests sent to its new service, in percent.",
			"route", "service"),
		rolledBack: d("canary_rolled_back", "1 while a canary route is rolled back by its guard rails, else 0.",
			"route", "service"),
		canaryReqs: d("canary_requests_total",
			"Requests of a canary route by side (old: the route's own service, new: the canary), since the canary started.",
			"route", "service", "side"),
		mirrored: d("shadow_mirrored_total", "Requests of a route copied to its shadow service.", "route", "service"),
		notMirrored: d("shadow_not_mirrored_total",
			"Requests of a route not copied to its shadow, by reason (dropped: over max_concurrent; skipped: body streamed or over max_body_bytes).",
			"route", "service", "reason"),
		compared: d("shadow_compared_total",
			"Shadow exchanges finished, by result (match, mismatch, error: the shadow failed, not_compared: a body too large or streamed).",
			"route", "service", "result"),
	}
}

func (c *migrationCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.weight, c.rolledBack, c.canaryReqs, c.mirrored, c.notMirrored, c.compared} {
		ch <- d
	}
}

func (c *migrationCollector) Collect(ch chan<- prometheus.Metric) {
	b := c.a.cur.Load()
	if b == nil {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, r := range b.Config.Routes {
		if e := b.sides.canaries[r.Name]; e != nil {
			st := e.state.State()
			rolled := 0.0
			if st.RolledBack {
				rolled = 1
			}
			gauge(c.weight, float64(st.Weight)/100, r.Name, st.New.Service)
			gauge(c.rolledBack, rolled, r.Name, st.New.Service)
			counter(c.canaryReqs, st.Old.Requests, r.Name, st.Old.Service, "old")
			counter(c.canaryReqs, st.New.Requests, r.Name, st.New.Service, "new")
		}
		if m := b.sides.mirrors[r.Name]; m != nil && r.Shadow != nil {
			n, svc := m.Stats().Counts(), r.Shadow.Service
			counter(c.mirrored, n.Mirrored, r.Name, svc)
			counter(c.notMirrored, n.Dropped, r.Name, svc, "dropped")
			counter(c.notMirrored, n.Skipped, r.Name, svc, "skipped")
			counter(c.compared, n.Match, r.Name, svc, "match")
			counter(c.compared, n.Mismatch, r.Name, svc, "mismatch")
			counter(c.compared, n.Errors, r.Name, svc, "error")
			counter(c.compared, n.NotCompared, r.Name, svc, "not_compared")
		}
	}
}

var _ prometheus.Collector = (*migrationCollector)(nil)
