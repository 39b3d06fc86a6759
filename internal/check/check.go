// Package check turns two reports of a running fjord's admin /status into a monitoring verdict in the form that
// Nagios and Icinga plugins use: a state (OK, WARNING, CRITICAL, UNKNOWN, which are also the exit statuses 0-3), one
// status line and perfdata. It does no I/O; `fjord check` fetches the reports and prints the result.
package check

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/fjord-gw/fjord/internal/admin"
)

// State is a plugin state; its value is the exit status Nagios expects.
type State int

// The plugin states, ordered so that a larger one is worse.
const (
	OK State = iota
	Warning
	Critical
	Unknown
)

func (s State) String() string {
	switch s {
	case OK:
		return "OK"
	case Warning:
		return "WARNING"
	case Critical:
		return "CRITICAL"
	}
	return "UNKNOWN"
}

// Limit is a threshold on instances not usable: a count, or a percentage of the service's instances.
type Limit struct {
	Value   float64
	Percent bool
}

// Of returns the number of down instances, out of total, at which the limit is reached: a count as is, a percentage
// rounded up and never below 1, so that "50%" of one instance means that one instance.
func (l Limit) Of(total int) int {
	if !l.Percent {
		return int(math.Ceil(l.Value))
	}
	return max(1, int(math.Ceil(l.Value*float64(total)/100)))
}

func (l Limit) String() string {
	if l.Percent {
		return strconv.FormatFloat(l.Value, 'f', -1, 64) + "%"
	}
	return strconv.FormatFloat(l.Value, 'f', -1, 64)
}

// ParseLimit reads "3" (instances) or "50%" (of the service's instances).
func ParseLimit(s string) (Limit, error) {
	num, pct := strings.CutSuffix(strings.TrimSpace(s), "%")
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return Limit{}, fmt.Errorf("instances limit %q: want a count like 2 or a percentage like 50%%", s)
	}
	return Limit{Value: v, Percent: pct}, nil
}

// ParseRate reads an error rate as a percentage ("1%", "0.5%") or a fraction ("0.01") and returns the fraction.
func ParseRate(s string) (float64, error) {
	num, pct := strings.CutSuffix(strings.TrimSpace(s), "%")
	v, err := strconv.ParseFloat(num, 64)
	if pct {
		v /= 100
	}
	if err != nil || v < 0 || v > 1 || math.IsNaN(v) {
		return 0, fmt.Errorf("error rate %q: want a percentage like 1%% or a fraction like 0.01", s)
	}
	return v, nil
}

// Thresholds say when a service is WARNING or CRITICAL. A measurement reaches a threshold when it is at or above it
// and not zero, so a zero threshold alerts on any error, latency or instance down, never on an idle healthy service.
type Thresholds struct {
	WarnErrorRate, CritErrorRate float64 // fraction of finished requests answered 5xx
	WarnP99, CritP99             time.Duration
	WarnDown, CritDown           Limit // instances not healthy or warming
}

// ServiceResult is one service's measurements over the window and the state they put it in.
type ServiceResult struct {
	Name      string
	Requests  uint64        // finished in the window
	Errors    uint64        // of which answered 5xx
	ErrorRate float64       // Errors/Requests, 0 without requests
	P99       time.Duration // 0 without requests; the last bound when above it
	Instances int
	Down      int // instances whose state is neither healthy nor warming, nor drained by an operator
	// Drained counts instances an operator drained ("draining" or "drained"): taken out on purpose, so they are
	// not down; the down thresholds apply to the instances left in rotation.
	Drained  int
	WarnDown int // WarnDown and CritDown are the thresholds as instance counts for this service
	CritDown int
	State    State
	Reasons  []string // why State is not OK, e.g. "cart 7.1% errors >= 5%"
}

// Result is the verdict over all the services checked.
type Result struct {
	State    State
	Services []ServiceResult
}

// ErrNoService is returned when the service asked for is not in the status.
var ErrNoService = errors.New("no such service")

// Evaluate measures each service (only the one named by service, when not empty) between before and after, two
// reports of the same fjord taken a window apart. With before nil, or for a service whose counters went backwards
// (fjord restarted, or the service was removed and added again), the totals in after are used instead.
func Evaluate(before, after *admin.Status, service string, th Thresholds) (Result, error) {
	if after == nil {
		return Result{State: Unknown}, errors.New("no status")
	}
	prev := map[string]*admin.Traffic{}
	if before != nil {
		for i := range before.Services {
			prev[before.Services[i].Name] = before.Services[i].Traffic
		}
	}
	var res Result
	for _, s := range after.Services {
		if service != "" && s.Name != service {
			continue
		}
		sr := measure(s, prev[s.Name], after.LatencyBounds)
		judge(&sr, th)
		res.State = max(res.State, sr.State)
		res.Services = append(res.Services, sr)
	}
	if service != "" && len(res.Services) == 0 {
		return Result{State: Unknown}, fmt.Errorf("service %q: %w", service, ErrNoService)
	}
	return res, nil
}

func measure(s admin.ServiceStatus, before *admin.Traffic, bounds []float64) ServiceResult {
	sr := ServiceResult{Name: s.Name, Instances: len(s.Instances)}
	for _, in := range s.Instances {
		switch in.State {
		case "healthy", "warming":
		case "draining", "drained":
			sr.Drained++
		default:
			sr.Down++
		}
	}
	d := delta(before, s.Traffic)
	sr.Requests, sr.Errors = d.Requests, d.Status5xx
	if d.Requests > 0 {
		sr.ErrorRate = float64(d.Status5xx) / float64(d.Requests)
	}
	sr.P99 = Quantile(0.99, bounds, d.LatencyBuckets)
	return sr
}

// delta returns after minus before, or after alone when before is absent or any counter went backwards.
func delta(before, after *admin.Traffic) admin.Traffic {
	if after == nil {
		return admin.Traffic{}
	}
	if before == nil || before.Requests > after.Requests || before.Status5xx > after.Status5xx ||
		len(before.LatencyBuckets) != len(after.LatencyBuckets) {
		return *after
	}
	d := admin.Traffic{
		Requests:       after.Requests - before.Requests,
		Status5xx:      after.Status5xx - before.Status5xx,
		LatencyBuckets: make([]uint64, len(after.LatencyBuckets)),
	}
	for i := range after.LatencyBuckets {
		if before.LatencyBuckets[i] > after.LatencyBuckets[i] {
			return *after
		}
		d.LatencyBuckets[i] = after.LatencyBuckets[i] - before.LatencyBuckets[i]
	}
	return d
}

// Quantile estimates the q-quantile from cumulative buckets whose upper bounds are bounds plus a last +Inf bucket,
// interpolating linearly inside the bucket where it falls, as Prometheus' histogram_quantile does. It returns 0 when
// nothing was observed, and the last bound when the quantile falls in the +Inf bucket (the truth is at least that).
func Quantile(q float64, bounds []float64, cum []uint64) time.Duration {
	if len(cum) == 0 || cum[len(cum)-1] == 0 {
		return 0
	}
	rank := q * float64(cum[len(cum)-1])
	for i, c := range cum {
		if float64(c) < rank {
			continue
		}
		if i >= len(bounds) {
			break
		}
		lo, below := 0.0, uint64(0)
		if i > 0 {
			lo, below = bounds[i-1], cum[i-1]
		}
		frac := 1.0
		if c > below {
			frac = (rank - float64(below)) / float64(c-below)
		}
		return seconds(lo + (bounds[i]-lo)*frac)
	}
	if len(bounds) == 0 {
		return 0
	}
	return seconds(bounds[len(bounds)-1])
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func judge(sr *ServiceResult, th Thresholds) {
	inRotation := sr.Instances - sr.Drained
	sr.WarnDown, sr.CritDown = th.WarnDown.Of(inRotation), th.CritDown.Of(inRotation)
	rate := func(v float64) string { return strconv.FormatFloat(v*100, 'f', -1, 64) + "%" }
	checks := []struct {
		warn, crit           bool
		what, warnAt, critAt string
	}{
		{sr.Errors > 0 && sr.ErrorRate >= th.WarnErrorRate, sr.Errors > 0 && sr.ErrorRate >= th.CritErrorRate,
			fmt.Sprintf("%.1f%% errors", sr.ErrorRate*100), rate(th.WarnErrorRate), rate(th.CritErrorRate)},
		{sr.P99 > 0 && sr.P99 >= th.WarnP99, sr.P99 > 0 && sr.P99 >= th.CritP99, "p99 " + sr.P99.Round(time.Millisecond).String(),
			th.WarnP99.String(), th.CritP99.String()},
		{sr.Down > 0 && sr.Down >= sr.WarnDown, sr.Down > 0 && sr.Down >= sr.CritDown, fmt.Sprintf("%d/%d instances down", sr.Down, inRotation),
			strconv.Itoa(sr.WarnDown), strconv.Itoa(sr.CritDown)},
	}
	for _, c := range checks {
		switch {
		case c.crit:
			sr.State = Critical
			sr.Reasons = append(sr.Reasons, fmt.Sprintf("%s %s >= %s", sr.Name, c.what, c.critAt))
		case c.warn:
			sr.State = max(sr.State, Warning)
			sr.Reasons = append(sr.Reasons, fmt.Sprintf("%s %s >= %s", sr.Name, c.what, c.warnAt))
		}
	}
	if sr.Instances > 0 && inRotation == 0 {
		// Every instance drained: deliberate, but nothing serves the service.
		sr.State = max(sr.State, Warning)
		sr.Reasons = append(sr.Reasons, fmt.Sprintf("%s all %d instances drained", sr.Name, sr.Instances))
	}
}
