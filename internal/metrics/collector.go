package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Snapshot is the gateway state a scrape reports besides the route counters. The app fills it.
type Snapshot struct {
	Routes      []RouteInfo
	Services    []ServiceInfo
	Connections int    // open client connections
	Reloads     uint64 // successful configuration reloads
	ReloadFails uint64

	// Client connections closed at accept because server.max_connections (RejectedMaxConns) or
	// server.max_connections_per_ip (RejectedPerIP) was reached.
	RejectedMaxConns, RejectedPerIP uint64
	// TLSHandshakes and TLSHandshakeErrors count client TLS handshakes that completed and that failed.
	TLSHandshakes, TLSHandshakeErrors uint64
}

// RouteInfo names a route's counters.
type RouteInfo struct {
	Name, Service string
	Stats         *RouteStats
}

// ServiceInfo is one service's state and counters.
type ServiceInfo struct {
	Name                    string
	InFlight, Queued, Limit int
	Stats                   *ServiceStats
	Instances               []InstanceInfo
}

// InstanceInfo is one instance's state.
type InstanceInfo struct {
	Address   string
	State     string // as on the status page: healthy, unhealthy, ejected, down, at-cap, warming
	InFlight  int64
	Ejections int
}

var instanceStates = []string{"healthy", "unhealthy", "ejected", "down", "at-cap", "warming", "draining", "drained"}

// Collector exports a Snapshot and the route counters. snapshot is called once per scrape.
type Collector struct {
	snapshot func() Snapshot

	requests, latency, retries, rejections, noInstance, inFlight, queued, limit,
	instState, instInFlight, ejections, conns, reloads, reloadFails, refused, connect, header, handshakes *prometheus.Desc
}

// NewCollector returns a collector over snapshot.
func NewCollector(snapshot func() Snapshot) *Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("fjord_"+name, help, labels, nil)
	}
	return &Collector{
		snapshot:     snapshot,
		requests:     d("requests_total", "Requests finished, by route, service, method and status class.", "route", "service", "method", "code"),
		latency:      d("request_duration_seconds", "Time from the first byte of a request to its last response byte, by route.", "route", "service"),
		retries:      d("upstream_retries_total", "Attempts made again on another instance.", "service"),
		rejections:   d("service_rejections_total", "Requests refused by a service's concurrency limit and queue.", "service"),
		noInstance:   d("service_no_instance_total", "Requests answered 503 because no instance was usable.", "service"),
		inFlight:     d("service_in_flight", "Requests of a service in flight.", "service"),
		queued:       d("service_queued", "Requests waiting for a slot of a service.", "service"),
		limit:        d("service_max_concurrent", "A service's concurrency limit (0: unlimited).", "service"),
		instState:    d("instance_state", "1 for an instance's current state.", "service", "instance", "state"),
		instInFlight: d("instance_in_flight", "Requests in flight on an instance.", "service", "instance"),
		ejections:    d("instance_ejections", "Outlier ejections of an instance (decays when it stays healthy).", "service", "instance"),
		conns:        d("client_connections", "Open client connections."),
		reloads:      d("config_reloads_total", "Successful configuration reloads."),
		reloadFails:  d("config_reload_failures_total", "Reloads rejected (the running configuration stayed)."),
		connect: d("upstream_connect_duration_seconds",
			"Time to open a new connection to an instance of a service (TLS handshake included).", "service"),
		header: d("upstream_header_duration_seconds",
			"Time from a request sent to an instance of a service to its response head (time to first byte).", "service"),
		handshakes: d("tls_handshakes_total", "TLS handshakes with clients, by result (ok, error).", "result"),
		refused: d("client_connections_rejected_total",
			"Client connections closed at accept by a connection limit, by limit (max_connections, max_connections_per_ip).", "reason"),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.requests, c.latency, c.retries, c.rejections, c.noInstance, c.inFlight,
		c.queued, c.limit, c.instState, c.instInFlight, c.ejections, c.conns, c.reloads, c.reloadFails, c.refused,
		c.connect, c.header, c.handshakes} {
		ch <- d
	}
}

var classNames = [...]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.snapshot()
	for _, r := range s.Routes {
		if r.Stats == nil {
			continue
		}
		for m := range r.Stats.requests {
			for cl := range r.Stats.requests[m] {
				if n := r.Stats.requests[m][cl].Load(); n > 0 {
					ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(n),
						r.Name, r.Service, methodNames[m], classNames[cl])
				}
			}
		}
		count, sum, buckets := r.Stats.latency.read()
		ch <- prometheus.MustNewConstHistogram(c.latency, count, sum, buckets, r.Name, r.Service)
	}
	for _, sv := range s.Services {
		if st := sv.Stats; st != nil {
			ch <- prometheus.MustNewConstMetric(c.retries, prometheus.CounterValue, float64(st.Retries.Load()), sv.Name)
			ch <- prometheus.MustNewConstMetric(c.rejections, prometheus.CounterValue, float64(st.Rejections.Load()), sv.Name)
			ch <- prometheus.MustNewConstMetric(c.noInstance, prometheus.CounterValue, float64(st.NoInstance.Load()), sv.Name)
			count, sum, buckets := st.Connect.read()
			ch <- prometheus.MustNewConstHistogram(c.connect, count, sum, buckets, sv.Name)
			count, sum, buckets = st.Header.read()
			ch <- prometheus.MustNewConstHistogram(c.header, count, sum, buckets, sv.Name)
		}
		ch <- prometheus.MustNewConstMetric(c.inFlight, prometheus.GaugeValue, float64(sv.InFlight), sv.Name)
		ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(sv.Queued), sv.Name)
		ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(sv.Limit), sv.Name)
		for _, in := range sv.Instances {
			for _, state := range instanceStates {
				v := 0.0
				if state == in.State {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(c.instState, prometheus.GaugeValue, v, sv.Name, in.Address, state)
			}
			ch <- prometheus.MustNewConstMetric(c.instInFlight, prometheus.GaugeValue, float64(in.InFlight), sv.Name, in.Address)
			ch <- prometheus.MustNewConstMetric(c.ejections, prometheus.GaugeValue, float64(in.Ejections), sv.Name, in.Address)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(s.Connections))
	ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(s.RejectedMaxConns), "max_connections")
	ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(s.RejectedPerIP), "max_connections_per_ip")
	ch <- prometheus.MustNewConstMetric(c.handshakes, prometheus.CounterValue, float64(s.TLSHandshakes), "ok")
	ch <- prometheus.MustNewConstMetric(c.handshakes, prometheus.CounterValue, float64(s.TLSHandshakeErrors), "error")
	ch <- prometheus.MustNewConstMetric(c.reloads, prometheus.CounterValue, float64(s.Reloads))
	ch <- prometheus.MustNewConstMetric(c.reloadFails, prometheus.CounterValue, float64(s.ReloadFails))
}

var _ prometheus.Collector = (*Collector)(nil)
