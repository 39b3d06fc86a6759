package doctor

import (
	"fmt"
	"strconv"
	"strings"
)

// Needs is what a configuration asks of the host (fjord doctor -c). The caller fills it from a validated config;
// doctor does not read configuration files itself.
type Needs struct {
	Config         string // the configuration's file name, shown in the findings
	MaxConnections int    // server.max_connections; 0 = unlimited
	Listeners      int    // traffic listeners, plus the admin one
	Pools          []Pool // one per service
}

// Pool is one service's upstream side.
type Pool struct {
	Service   string
	Instances int // distinct upstream addresses
	MaxIdle   int // keepalive.max_idle_per_instance
}

// FDMargin is the descriptors counted beyond connections: log files, health checks, dials in flight, the runtime.
const FDMargin = 256

// CheckNeeds compares the host with what the configuration may use: descriptors, accept queues and local ports.
// Like Check it only reads.
func (h Host) CheckNeeds(n Needs) []Finding {
	return []Finding{h.fdNeed(n), h.backlogNeed(n), h.portNeed(n)}
}

// fdNeed: client connections, idle upstream pools, listeners and a margin must fit under the hard open-file limit.
func (h Host) fdNeed(n Needs) Finding {
	idle := 0
	for _, p := range n.Pools {
		idle += p.Instances * p.MaxIdle
	}
	need := n.MaxConnections + idle + n.Listeners + FDMargin
	f := Finding{Name: "open files for " + n.Config, Recommended: fmt.Sprintf("hard >= %d", need),
		Why: fmt.Sprintf("server.max_connections %s + upstream idle pools %d (instances x max_idle_per_instance) + "+
			"%d listeners + %d spare", unlimited(n.MaxConnections), idle, n.Listeners, FDMargin)}
	_, hard, err := h.NoFile()
	if err != nil {
		f.Level, f.Current = Skip, err.Error()
		return f
	}
	f.Current = "hard " + limit(hard)
	switch {
	case n.MaxConnections == 0:
		f.Level, f.Recommended = Warn, "a finite server.max_connections"
		f.Fix = fmt.Sprintf("set server.max_connections in %s (at most %d with this limit): unlimited connections "+
			"end in 'too many open files' instead of a clean refusal", n.Config, max(0, int64(hard)-int64(need)))
	case hard >= uint64(need):
		f.Level = OK
	default:
		f.Level = Warn
		f.Fix = fmt.Sprintf("raise the limit (systemd: LimitNOFILE=%d) or lower server.max_connections in %s to %d",
			need, n.Config, max(0, int64(hard)-int64(need-n.MaxConnections)))
	}
	return f
}

// backlogNeed: fjord listens with the kernel's largest backlog (Go passes net.core.somaxconn), so somaxconn is every
// listener's accept queue; it should absorb a reconnect burst of a tenth of max_connections.
func (h Host) backlogNeed(n Needs) Finding {
	need := 4096
	if n.MaxConnections == 0 || n.MaxConnections/10 > need {
		need = 65535 // the kernel's cap
		if n.MaxConnections != 0 {
			need = min(n.MaxConnections/10, 65535)
		}
	}
	f := Finding{Name: "net.core.somaxconn for " + n.Config, Recommended: ">= " + strconv.Itoa(need),
		Why: fmt.Sprintf("every listener's accept queue (fjord asks for the kernel's maximum); with max_connections %s "+
			"a reconnect burst after a restart or failover can bring a tenth of them at once", unlimited(n.MaxConnections))}
	v, err := h.read("/proc/sys/net/core/somaxconn")
	cur, perr := strconv.Atoi(v)
	if err != nil || perr != nil {
		f.Level, f.Current = Skip, fmt.Sprint(firstErr(err, perr))
		return f
	}
	f.Current = v
	if cur >= need {
		f.Level = OK
		return f
	}
	f.Level = Warn
	f.Fix = fmt.Sprintf("sysctl -w net.core.somaxconn=%d (and in /etc/sysctl.d/90-fjord.conf), then restart fjord: "+
		"a listener keeps the backlog it was opened with", need)
	return f
}

// portNeed: each connection to one upstream address takes a local port from ip_local_port_range (per source
// address). The busiest address may hold max_connections spread over its service's instances, and never fewer
// than its idle pool.
func (h Host) portNeed(n Needs) Finding {
	need, svc := 0, ""
	for _, p := range n.Pools {
		if p.Instances == 0 {
			continue
		}
		per := p.MaxIdle
		if n.MaxConnections > 0 {
			per = max(per, (n.MaxConnections+p.Instances-1)/p.Instances)
		} else {
			per = 65535 // unlimited clients can exhaust any range
		}
		if per > need {
			need, svc = per, p.Service
		}
	}
	f := Finding{Name: "net.ipv4.ip_local_port_range for " + n.Config, Recommended: fmt.Sprintf(">= %d ports", need),
		Why: fmt.Sprintf("connections to one upstream address each take a local port; service %s may open %d to each "+
			"instance (max_connections over its instances, or its idle pool)", svc, need)}
	if need == 0 {
		f.Level, f.Current, f.Why = OK, "-", "no upstream services"
		return f
	}
	v, err := h.read("/proc/sys/net/ipv4/ip_local_port_range")
	fields := strings.Fields(v)
	if err != nil || len(fields) != 2 {
		f.Level, f.Current = Skip, fmt.Sprint(firstErr(err, errBadValue))
		return f
	}
	lo, err1 := strconv.Atoi(fields[0])
	hi, err2 := strconv.Atoi(fields[1])
	if err1 != nil || err2 != nil {
		f.Level, f.Current = Skip, errBadValue.Error()
		return f
	}
	width := hi - lo + 1
	f.Current = fmt.Sprintf("%s (%d ports)", strings.Join(fields, " "), width)
	if width >= need {
		f.Level = OK
		return f
	}
	f.Level = Warn
	if need <= 64512 {
		f.Fix = fmt.Sprintf("sysctl -w net.ipv4.ip_local_port_range=\"%d 65535\"", 65536-need)
	} else {
		f.Fix = "no port range is wide enough"
	}
	f.Fix += fmt.Sprintf("; or give service %s more instances, or lower server.max_connections in %s", svc, n.Config)
	return f
}

func unlimited(n int) string {
	if n == 0 {
		return "unlimited"
	}
	return strconv.Itoa(n)
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
