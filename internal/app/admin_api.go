package app

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fjord-gw/fjord/internal/admin"
	"github.com/fjord-gw/fjord/internal/config"
)

// adminOps is the app's side of the admin API actions: drains, reloads asked for over HTTP, and the version of the
// configuration in force.
type adminOps struct {
	drains drainSet
	// reloadReq carries POST /reload requests to Run's goroutine, which owns reloads; each sends back its result.
	reloadReq chan chan admin.ReloadResult
	// closing is closed when the app starts shutting down, so a reload request does not wait for a goroutine
	// that no longer serves them.
	closing chan struct{}
	// lastDiags are the diagnostics of the last reload; written and read only on Run's goroutine.
	lastDiags config.Diagnostics
	// generation counts configurations applied; Run's goroutine only. version is what GET /config reports.
	generation int
	version    atomic.Pointer[admin.ConfigVersion]
	lastOK     atomic.Int64 // unix nanoseconds of the last configuration applied
}

func newAdminOps() adminOps {
	return adminOps{drains: drainSet{on: map[drainKey]bool{}}, reloadReq: make(chan chan admin.ReloadResult),
		closing: make(chan struct{})}
}

// drainKey names an instance across reloads: a reload that changes an instance's weight re-creates it, and it
// stays drained.
type drainKey struct{ service, addr string }

// drainSet is the set of drained instances. The lock orders drain requests against reloads: apply runs with it
// before and after a reload's swap, so a drain that lands between the two still reaches the new instances.
type drainSet struct {
	mu sync.Mutex
	on map[drainKey]bool
}

// apply makes b's instances drained exactly when the set says so, and forgets instances b no longer has.
func (d *drainSet) apply(b *Built) {
	d.mu.Lock()
	defer d.mu.Unlock()
	seen := map[drainKey]bool{}
	for name, svc := range b.Services {
		for _, in := range svc.Pool.Instances() {
			k := drainKey{name, in.Addr}
			seen[k] = true
			in.SetDrained(d.on[k])
		}
	}
	for k := range d.on {
		if !seen[k] {
			delete(d.on, k)
		}
	}
}

// drain is the admin API's drain and undrain.
func (a *App) drain(service, addr string, on bool) (admin.DrainResult, error) {
	d := &a.ops.drains
	d.mu.Lock()
	defer d.mu.Unlock()
	b := a.cur.Load()
	res := admin.DrainResult{Service: service, Address: addr}
	if b == nil {
		return res, fmt.Errorf("%w: no configuration in force yet", admin.ErrNotFound)
	}
	svc := b.Services[service]
	if svc == nil {
		return res, fmt.Errorf("%w: no service %q", admin.ErrNotFound, service)
	}
	in := svc.Pool.Find(addr)
	if in == nil {
		return res, fmt.Errorf("%w: service %s has no instance %q", admin.ErrNotFound, service, addr)
	}
	res.Changed = in.SetDrained(on)
	k := drainKey{service, addr}
	if on {
		d.on[k] = true
	} else {
		delete(d.on, k)
	}
	for _, st := range svc.Pool.States(time.Now()) {
		if st.Addr == addr {
			is := instanceStatus(st)
			res.State, res.InFlight = is.State, is.InFlight
			break
		}
	}
	if res.Changed {
		verb := "instance drained: no new requests"
		if !on {
			verb = "instance undrained: back in rotation"
		}
		a.log.Info(verb, "service", service, "instance", addr, "in_flight", res.InFlight)
	}
	return res, nil
}

// reloadAndReport runs one reload on Run's goroutine (SIGHUP or POST /reload) and reports its outcome.
func (a *App) reloadAndReport() admin.ReloadResult {
	a.ops.lastDiags = nil
	err := a.reload()
	if err != nil {
		a.reloadFails.Add(1)
		a.log.Error("reload failed; keeping the running configuration", "err", err)
	}
	if a.Reloaded != nil {
		a.Reloaded(a.addrs(), err)
	}
	res := admin.ReloadResult{OK: err == nil, Version: a.ops.version.Load()}
	if err != nil {
		res.Error = err.Error()
	}
	for _, d := range a.ops.lastDiags {
		if d.Severity == config.Error {
			res.Errors = append(res.Errors, d.String())
		} else {
			res.Warnings = append(res.Warnings, d.String())
		}
	}
	return res
}

// requestReload hands a reload to Run's goroutine and waits for its result, the client going away, or shutdown.
func (a *App) requestReload(r *http.Request) admin.ReloadResult {
	done := make(chan admin.ReloadResult, 1)
	fail := func(why string) admin.ReloadResult {
		return admin.ReloadResult{Error: why, Version: a.ops.version.Load()}
	}
	select {
	case a.ops.reloadReq <- done:
	case <-r.Context().Done():
		return fail("request cancelled before the reload started")
	case <-a.ops.closing:
		return fail("fjord is shutting down")
	}
	select {
	case res := <-done:
		return res
	case <-r.Context().Done():
		return fail("request cancelled; the reload goes on")
	}
}

// configApplied records that b is in force (at start and after each successful reload): its version for GET /config
// and the reload metrics, and the drains carried over to it.
func (a *App) configApplied(b *Built) {
	a.ops.drains.apply(b)
	a.ops.generation++
	now := time.Now()
	v := &admin.ConfigVersion{Generation: a.ops.generation, Hash: configHash(b.Config), LoadedAt: now, Source: a.SourceName}
	a.ops.version.Store(v)
	a.ops.lastOK.Store(now.UnixNano())
}

// configHash is a digest of the parsed configuration (defaults filled in), so a reload of an unchanged file keeps
// it and any change of meaning changes it.
func configHash(c *config.Config) string {
	data, _ := json.Marshal(configView(c, false))
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// adminToken is the admin API's token: --admin-token (or FJORD_ADMIN_TOKEN) over the config's admin.token.
func (a *App) adminToken() string {
	if a.AdminToken != "" {
		return a.AdminToken
	}
	if b := a.cur.Load(); b != nil && b.Config.Admin != nil {
		return b.Config.Admin.Token
	}
	return ""
}

// adminActions wires the admin API to the app.
func (a *App) adminActions() admin.Actions {
	return admin.Actions{
		Token:  a.adminToken,
		Drain:  a.drain,
		Reload: a.requestReload,
		Config: func() admin.ConfigResult {
			res := admin.ConfigResult{}
			if v := a.ops.version.Load(); v != nil {
				res.Version = *v
			}
			if b := a.cur.Load(); b != nil {
				res.Config = configView(b.Config, true)
			}
			return res
		},
		Explain: a.explainLive,
		Canary:  a.setCanary,
		Shadow:  a.shadowReport,
	}
}

// adminCollector exports the admin API's state to Prometheus: when a configuration was last applied and which
// instances are drained.
type adminCollector struct {
	a                *App
	lastOK, drainedD *prometheus.Desc
}

func newAdminCollector(a *App) *adminCollector {
	return &adminCollector{a: a,
		lastOK: prometheus.NewDesc("fjord_config_last_reload_success_timestamp_seconds",
			"When the configuration in force was applied (start or last successful reload), as a Unix time.", nil, nil),
		drainedD: prometheus.NewDesc("fjord_instance_drained",
			"1 while an operator has drained the instance (no new requests), else 0.", []string{"service", "instance"}, nil),
	}
}

func (c *adminCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.lastOK; ch <- c.drainedD }

func (c *adminCollector) Collect(ch chan<- prometheus.Metric) {
	if t := c.a.ops.lastOK.Load(); t != 0 {
		ch <- prometheus.MustNewConstMetric(c.lastOK, prometheus.GaugeValue, float64(t)/1e9)
	}
	b := c.a.cur.Load()
	if b == nil {
		return
	}
	for _, name := range b.Config.ServiceNames() {
		svc := b.Services[name]
		if svc == nil {
			continue
		}
		for _, in := range svc.Pool.Instances() {
			v := 0.0
			if in.Drained() {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.drainedD, prometheus.GaugeValue, v, name, in.Addr)
		}
	}
}
