package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Checks of the per-service fault-isolation settings: health checks, outlier ejection, limits and retries.

// retryConditions are the named conditions of retries.on; status codes 500-599 are accepted too.
var retryConditions = []string{"connect_failure", "reset", "timeout"}

func (v *validator) resilience(s *Service) {
	v.positive(s.Positions, "slow_start", s.SlowStart, true)
	if h := s.HealthCheck; h != nil {
		v.healthCheck(h)
	}
	o := &s.Outlier
	v.between(o.Positions, "consecutive_failures", o.ConsecutiveFailures, 0, 1000)
	v.positive(o.Positions, "base_ejection", o.BaseEjection, false)
	v.positive(o.Positions, "max_ejection", o.MaxEjection, false)
	if o.MaxEjection.Duration < o.BaseEjection.Duration {
		v.diags.Errorf(o.At("max_ejection"), "max_ejection (%s) is shorter than base_ejection (%s)",
			fmtDuration(o.MaxEjection.Duration), fmtDuration(o.BaseEjection.Duration))
	}
	v.between(o.Positions, "max_ejected_percent", o.MaxEjectedPercent, 0, 100)
	v.positive(o.Positions, "fail_window", o.FailWindow, true)
	for i, st := range o.FailureStatuses {
		if st < 400 || st > 599 {
			v.diags.Errorf(o.At(fmt.Sprintf("failure_statuses.%d", i)), "failure status %d is not an error status (400-599)", st)
		}
	}

	l := &s.Limits
	v.between(l.Positions, "max_concurrent", l.MaxConcurrent, 0, 1<<20)
	v.between(l.Positions, "max_per_instance", l.MaxPerInstance, 0, 1<<20)
	v.between(l.Positions, "queue", l.Queue, 0, 1<<20)
	v.positive(l.Positions, "queue_timeout", l.QueueTimeout, false)
	if l.Has("queue") && l.Queue > 0 && l.MaxConcurrent == 0 {
		v.diags.Warnf(l.At("queue"), "queue has no effect without max_concurrent")
	}

	r := &s.Retries
	v.between(r.Positions, "attempts", r.Attempts, 0, 10)
	for i, cond := range r.On {
		if !validRetryCondition(cond) {
			v.diags.Errorf(r.At(fmt.Sprintf("on.%d", i)), "invalid retry condition %q: want one of %s, or a status 500-599%s",
				cond, strings.Join(retryConditions, ", "), suggest(cond, retryConditions))
		}
	}
	v.between(r.Positions, "budget_percent", r.BudgetPercent, 0, 100)
	v.between(r.Positions, "min_per_second", r.MinPerSecond, 0, 1<<20)
	v.positive(r.Positions, "per_try_timeout", r.PerTryTimeout, false)
}

func validRetryCondition(c string) bool {
	for _, n := range retryConditions {
		if c == n {
			return true
		}
	}
	st, err := strconv.Atoi(c)
	return err == nil && st >= 500 && st <= 599
}

func (v *validator) healthCheck(h *HealthCheck) {
	v.oneOf(h.Positions, "type", h.Type, []string{"http", "tcp"})
	if !isToken(h.Method) {
		v.diags.Errorf(h.At("method"), "invalid method %q", h.Method)
	}
	if !strings.HasPrefix(h.Path, "/") {
		v.diags.Errorf(h.At("path"), "health check path %q must start with /", h.Path)
	}
	lo, hi, err := parseStatusRange(h.ExpectStatus)
	if err != nil {
		v.diags.Errorf(h.At("expect_status"), "invalid expect_status %q: %v (want e.g. 200 or 200-399)", h.ExpectStatus, err)
	}
	h.StatusMin, h.StatusMax = lo, hi
	v.positive(h.Positions, "interval", h.Interval, false)
	v.positive(h.Positions, "timeout", h.Timeout, false)
	v.positive(h.Positions, "jitter", h.Jitter, true)
	if h.Timeout.Duration > h.Interval.Duration {
		v.diags.Warnf(h.At("timeout"), "timeout (%s) is longer than interval (%s): probes will overlap the next one",
			fmtDuration(h.Timeout.Duration), fmtDuration(h.Interval.Duration))
	}
	if h.Jitter.Duration >= h.Interval.Duration && h.Interval.Duration > 0 {
		v.diags.Errorf(h.At("jitter"), "jitter (%s) must be shorter than interval (%s)",
			fmtDuration(h.Jitter.Duration), fmtDuration(h.Interval.Duration))
	}
	v.between(h.Positions, "rise", h.Rise, 1, 100)
	v.between(h.Positions, "fall", h.Fall, 1, 100)
}

// parseStatusRange reads "200" or "200-399".
func parseStatusRange(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = strconv.Atoi(strings.TrimSpace(a)); err != nil {
		return 0, 0, fmt.Errorf("not a status code")
	}
	hi = lo
	if isRange {
		if hi, err = strconv.Atoi(strings.TrimSpace(b)); err != nil {
			return 0, 0, fmt.Errorf("not a status range")
		}
	}
	if lo < 100 || hi > 599 || lo > hi {
		return 0, 0, fmt.Errorf("statuses must be 100-599, low to high")
	}
	return lo, hi, nil
}

// between reports an int outside [lo, hi].
func (v *validator) between(p Positions, key string, n, lo, hi int) {
	if n < lo || n > hi {
		v.diags.Errorf(p.At(key), "%s must be between %d and %d, got %d", key, lo, hi, n)
	}
}
