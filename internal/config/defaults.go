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
	DefaultBalancer           = "round_robin"
	DefaultWeight             = 1
	DefaultConnectTimeout     = 5 * time.Second
	DefaultResponseHeader     = 60 * time.Second
	DefaultUpstreamIdle       = 60 * time.Second
	DefaultMaxIdlePerInstance = 64
	DefaultKeepaliveIdle      = 60 * time.Second
	DefaultReturnStatus       = 200
)

// applyDefaults fills every value the file left out. Durations filled here
// keep Set false; for other values Positions.Has tells whether they were
// written. Route timeouts are deliberately left unset: they inherit from the
// service (Config.RouteTimeouts).
func applyDefaults(c *Config) {
	for i := range c.Listeners {
		if l := &c.Listeners[i]; !l.Has("name") {
			l.Name = fmt.Sprintf("listener-%d", i+1)
		}
	}
	setString(&c.AccessLog.Format, c.AccessLog.Has("format"), "off")
	setString(&c.AccessLog.Path, c.AccessLog.Has("path"), "stdout")

	s := &c.Server
	setDuration(&s.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	setDuration(&s.IdleTimeout, DefaultIdleTimeout)
	setDuration(&s.ShutdownTimeout, DefaultShutdownTimeout)
	setInt(&s.MaxHeaderBytes, s.Has("max_header_bytes"), DefaultMaxHeaderBytes)

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
