package config

import (
	"fmt"
	"time"
)

// Defaults applied by Parse. docs/configuration.md lists the same values;
// keep the two in step.
const (
	DefaultReadHeaderTimeout  = 10 * time.Second
	DefaultIdleTimeout        = 60 * time.Second
	DefaultMaxHeaderBytes     = 16384
	DefaultShutdownTimeout    = 30 * time.Second
	DefaultMaxBodyBytes       = 1 << 30
	DefaultMaxConnections     = 100000 // ample for one gateway; a connection flood fails at accept, not at the fd limit
	DefaultBalancer           = "round_robin"
	DefaultWeight             = 1
	DefaultConnectTimeout     = 5 * time.Second
	DefaultResponseHeader     = 60 * time.Second
	DefaultUpstreamIdle       = 60 * time.Second
	DefaultMaxIdlePerInstance = 64
	DefaultKeepaliveIdle      = 60 * time.Second
	DefaultReturnStatus       = 200
	DefaultTLSMinVersion      = "1.2"

	DefaultHealthInterval      = 5 * time.Second
	DefaultHealthTimeout       = 2 * time.Second
	DefaultHealthRise          = 2
	DefaultHealthFall          = 3
	DefaultConsecutiveFailures = 5
	DefaultBaseEjection        = 30 * time.Second
	DefaultMaxEjection         = 5 * time.Minute
	DefaultMaxEjectedPercent   = 50
	DefaultMaxConcurrent       = 1024
	DefaultQueue               = 256
	DefaultQueueTimeout        = time.Second
	DefaultRetryAttempts       = 1
	DefaultRetryBudgetPercent  = 20
	DefaultRetryMinPerSecond   = 3
)

// Default lists; copied into each config so that no two configs share a slice.
var (
	defaultFailureStatuses = []int{502, 503, 504}
	defaultRetryOn         = []string{"connect_failure", "reset", "502", "503"}
)

// applyDefaults fills every value the file left out. Durations filled here
// keep Set false; for other values Positions.Has tells whether they were
// written. Route timeouts are deliberately left unset: they inherit from the
// service (Config.RouteTimeouts).
func applyDefaults(c *Config) {
	for i := range c.Listeners {
		l := &c.Listeners[i]
		if !l.Has("name") {
			l.Name = fmt.Sprintf("listener-%d", i+1)
		}
		if l.TLS != nil {
			setString(&l.TLS.MinVersion, l.TLS.Has("min_version"), DefaultTLSMinVersion)
		}
	}
	setString(&c.AccessLog.Format, c.AccessLog.Has("format"), "off")
	setString(&c.AccessLog.Path, c.AccessLog.Has("path"), "stdout")

	s := &c.Server
	setDuration(&s.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	setDuration(&s.IdleTimeout, DefaultIdleTimeout)
	setDuration(&s.ShutdownTimeout, DefaultShutdownTimeout)
	setInt(&s.MaxHeaderBytes, s.Has("max_header_bytes"), DefaultMaxHeaderBytes)
	setInt(&s.MaxBodyBytes, s.Has("max_body_bytes"), DefaultMaxBodyBytes)
	setInt(&s.MaxConnections, s.Has("max_connections"), DefaultMaxConnections)

	for _, svc := range c.Services {
		setString(&svc.Balancer, svc.Has("balancer"), DefaultBalancer)
		for i := range svc.Instances {
			in := &svc.Instances[i]
			setInt(&in.Weight, in.Has("weight"), DefaultWeight)
		}
		t := &svc.Timeouts
		setDuration(&t.Connect, DefaultConnectTimeout)
		setDuration(&t.ResponseHeader, DefaultResponseHeader)
		setDuration(&t.Idle, DefaultUpstreamIdle)
		k := &svc.Keepalive
		setInt(&k.MaxIdlePerInstance, k.Has("max_idle_per_instance"), DefaultMaxIdlePerInstance)
		setDuration(&k.IdleTimeout, DefaultKeepaliveIdle)
		serviceResilienceDefaults(svc)
	}

	for i := range c.Routes {
		r := &c.Routes[i]
		if !r.Has("name") {
			r.Name = fmt.Sprintf("route-%d", i+1)
		}
		m := &r.Match
		if !m.Has("path") && !m.Has("path_prefix") && !m.Has("path_regex") {
			m.PathPrefix = "/"
		}
		setString(&r.Rewrite.Host, r.Rewrite.Has("host"), "pass")
		if r.Return != nil {
			setInt(&r.Return.Status, r.Return.Has("status"), DefaultReturnStatus)
		}
	}
}

// serviceResilienceDefaults fills the health, outlier, limit and retry settings: safe values that already contain
// a misbehaving service without any configuration.
func serviceResilienceDefaults(svc *Service) {
	if h := svc.HealthCheck; h != nil {
		setString(&h.Type, h.Has("type"), "http")
		setString(&h.Method, h.Has("method"), "GET")
		setString(&h.Path, h.Has("path"), "/")
		setString(&h.ExpectStatus, h.Has("expect_status"), "200-399")
		setDuration(&h.Interval, DefaultHealthInterval)
		setDuration(&h.Jitter, h.Interval.Duration/10)
		setDuration(&h.Timeout, DefaultHealthTimeout)
		setInt(&h.Rise, h.Has("rise"), DefaultHealthRise)
		setInt(&h.Fall, h.Has("fall"), DefaultHealthFall)
	}
	o := &svc.Outlier
	setInt(&o.ConsecutiveFailures, o.Has("consecutive_failures"), DefaultConsecutiveFailures)
	setDuration(&o.BaseEjection, DefaultBaseEjection)
	setDuration(&o.MaxEjection, DefaultMaxEjection)
	setInt(&o.MaxEjectedPercent, o.Has("max_ejected_percent"), DefaultMaxEjectedPercent)
	if !o.Has("failure_statuses") {
		o.FailureStatuses = append([]int(nil), defaultFailureStatuses...)
	}
	l := &svc.Limits
	setInt(&l.MaxConcurrent, l.Has("max_concurrent"), DefaultMaxConcurrent)
	setInt(&l.Queue, l.Has("queue"), DefaultQueue)
	setDuration(&l.QueueTimeout, DefaultQueueTimeout)
	r := &svc.Retries
	setInt(&r.Attempts, r.Has("attempts"), DefaultRetryAttempts)
	if !r.Has("on") {
		r.On = append([]string(nil), defaultRetryOn...)
	}
	setInt(&r.BudgetPercent, r.Has("budget_percent"), DefaultRetryBudgetPercent)
	setInt(&r.MinPerSecond, r.Has("min_per_second"), DefaultRetryMinPerSecond)
}

func setString(s *string, written bool, def string) {
	if !written {
		*s = def
	}
}

func setInt(i *int, written bool, def int) {
	if !written {
		*i = def
	}
}

func setDuration(d *Duration, def time.Duration) {
	if !d.Set {
		d.Duration = def
	}
}
