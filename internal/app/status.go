package app

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fjord-gw/fjord/internal/admin"
	"github.com/fjord-gw/fjord/internal/metrics"
	"github.com/fjord-gw/fjord/internal/upstream"
)

// DefaultAdminAddr is where `fjord run` and `fjord demo` serve the admin interface unless told otherwise.
const DefaultAdminAddr = "127.0.0.1:9901"

// Status reports the running gateway's state for the admin interface. Safe to call from any goroutine.
func (a *App) Status() admin.Status {
	b := a.cur.Load()
	now := time.Now()
	st := admin.Status{
		Version: a.Version, Config: a.SourceName, Reloads: int(a.reloads.Load()),
		Started: a.started, Now: now, Ready: a.ready.Load(),
	}
	if b == nil {
		return st
	}
	st.Listeners = a.addrsSnapshot()
	for _, r := range b.Config.Routes {
		rs := admin.RouteStatus{Name: r.Name, Hosts: r.Match.Hosts, Service: r.Service}
		switch m := r.Match; {
		case m.Path != "":
			rs.Path = "exact " + m.Path
		case m.PathRegex != "":
			rs.Path = "regex " + m.PathRegex
		default:
			rs.Path = "prefix " + m.PathPrefix
		}
		if r.Return != nil {
			rs.Return = r.Return.Status
		}
		sideStatus(b, &r, &rs)
		st.Routes = append(st.Routes, rs)
	}
	for _, name := range b.Config.ServiceNames() {
		svc := b.Services[name]
		ss := admin.ServiceStatus{Name: name, Balancer: string(svc.Pool.Policy)}
		if l := svc.Limiter; l != nil {
			ss.InFlight, ss.Queued, ss.MaxConcurrent = l.InUse(), l.Waiting(), l.Max()
		}
		for _, is := range svc.Pool.States(now) {
			ss.Instances = append(ss.Instances, instanceStatus(is))
		}
		st.Services = append(st.Services, ss)
	}
	addTraffic(&st, b)
	return st
}

func instanceStatus(is upstream.InstanceState) admin.InstanceStatus {
	out := admin.InstanceStatus{Address: is.Addr, Backup: is.Backup, InFlight: is.Active,
		Ejections: is.Ejections, Failures: is.ConsecutiveErr}
	at := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	out.EjectedUntil, out.DownUntil, out.WarmingUntil = at(is.EjectedUntil), at(is.DownUntil), at(is.WarmingUntil)
	switch {
	case is.Drained && is.Active > 0:
		out.State = "draining"
	case is.Drained:
		out.State = "drained"
	case !is.Healthy:
		out.State = "unhealthy"
	case out.EjectedUntil != nil:
		out.State = "ejected"
	case out.DownUntil != nil:
		out.State = "down"
	case is.AtInstanceCap:
		out.State = "at-cap"
	case out.WarmingUntil != nil:
		out.State = "warming"
	default:
		out.State = "healthy"
	}
	return out
}

// startAdmin serves the admin interface: on AdminAddr when set, else the config's admin address, else
// AdminDefault. A failure to bind an address the user asked for is an error; the default address being taken (by
// another fjord, say) is only logged.
func (a *App) startAdmin(b *Built) error {
	addr, explicit := a.AdminAddr, a.AdminAddr != ""
	if addr == "" && b.Config.Admin != nil {
		addr, explicit = b.Config.Admin.Address, true
	}
	if addr == "" {
		addr = a.AdminDefault
	}
	if addr == "" || addr == "off" {
		return nil
	}
	srv, err := admin.Start(addr, admin.NewHandler(a.Status, a.metricsHandler(), a.adminActions()), a.log)
	if err != nil {
		if explicit {
			return err
		}
		a.log.Warn("admin interface not started", "err", err)
		return nil
	}
	a.admin = srv
	a.log.Info("admin interface", "address", srv.Addr())
	return nil
}

func (a *App) stopAdmin() {
	if a.admin == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := a.admin.Shutdown(ctx); err != nil {
		a.log.Warn("admin shutdown", "err", err)
	}
}

// AdminAddress is where the admin interface listens ("" when it does not run).
func (a *App) AdminAddress() string {
	if a.admin == nil {
		return ""
	}
	return a.admin.Addr()
}

func (a *App) addrsSnapshot() []string {
	a.addrMu.Lock()
	defer a.addrMu.Unlock()
	return append([]string(nil), a.listening...)
}

func (a *App) setListening() {
	addrs := a.addrs()
	a.addrMu.Lock()
	a.listening = addrs
	a.addrMu.Unlock()
}

// metricsHandler serves the Prometheus metrics: fjord's own (read at scrape time from the route and service counters
// and the state the status page shows) plus the Go runtime's and the process's. The registry is the app's, not the
// global one.
func (a *App) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		metrics.NewCollector(a.metricsSnapshot),
		newAdminCollector(a),
		newMigrationCollector(a),
		newOCSPCollector(a),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)})
}

func (a *App) metricsSnapshot() metrics.Snapshot {
	st := a.Status()
	snap := metrics.Snapshot{Reloads: uint64(a.reloads.Load()), ReloadFails: uint64(a.reloadFails.Load())}
	if a.srv != nil {
		snap.Connections = a.srv.Connections()
		r := a.srv.Rejected()
		snap.RejectedMaxConns, snap.RejectedPerIP = r.MaxConnections, r.MaxConnectionsPerIP
		snap.TLSHandshakes, snap.TLSHandshakeErrors = a.srv.TLSHandshakes()
	}
	b := a.cur.Load()
	if b == nil {
		return snap
	}
	for _, r := range b.Config.Routes {
		snap.Routes = append(snap.Routes, metrics.RouteInfo{Name: r.Name, Service: r.Service, Stats: b.routeStats[r.Name]})
	}
	for _, s := range st.Services {
		si := metrics.ServiceInfo{Name: s.Name, InFlight: s.InFlight, Queued: s.Queued, Limit: s.MaxConcurrent,
			Stats: b.svcStats[s.Name]}
		for _, in := range s.Instances {
			si.Instances = append(si.Instances, metrics.InstanceInfo{Address: in.Address, State: in.State,
				InFlight: in.InFlight, Ejections: in.Ejections})
		}
		snap.Services = append(snap.Services, si)
	}
	return snap
}
