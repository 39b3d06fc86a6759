package outlier

import "time"

// Defaults for the settings a Config leaves at zero, and for DefaultConfig. They match the config layer's defaults.
const (
	DefaultConsecutiveFailures = 5
	DefaultBaseEjection        = 30 * time.Second
	DefaultMaxEjection         = 5 * time.Minute
	DefaultMaxEjectedPercent   = 50
)

// Config says when an instance is ejected and for how long.
//
// Zero values: a zero BaseEjection or MaxEjection takes its default, because an ejection of no time means nothing.
// ConsecutiveFailures and MaxEjectedPercent are taken literally, so the zero Config never ejects; use DefaultConfig
// for the documented defaults.
type Config struct {
	// ConsecutiveFailures is how many failures eject an instance: in a row, or within FailWindow when that is set.
	// 0 (or less) disables ejection; the detector still counts failures for State. DefaultConfig uses 5.
	ConsecutiveFailures int

	// BaseEjection is how long the first ejection lasts; later ones double up to MaxEjection. Default 30s.
	BaseEjection time.Duration

	// MaxEjection caps the growing ejection time; it is raised to BaseEjection when smaller. It is also the decay
	// period: an instance that stays in the pool for MaxEjection after its last ejection ended starts over at
	// BaseEjection. Default 5m.
	MaxEjection time.Duration

	// MaxEjectedPercent bounds the share of the pool ejected at once, rounded down, clamped to [0, 100], with two
	// small-pool rules: when rounding down gives 0 but the percent is above 0, one instance may still be ejected;
	// and the last instance that is not ejected is never ejected, so a pool of one is never ejected at all.
	// 0 disables ejection. DefaultConfig uses 50.
	MaxEjectedPercent int

	// FailWindow > 0 switches to nginx's max_fails/fail_timeout style: ConsecutiveFailures failures within any
	// FailWindow span eject the instance, whether or not successes came in between. 0 means failures must be
	// consecutive (Envoy's consecutive_5xx style), and a success starts the count over. NginxConfig shows the mapping.
	FailWindow time.Duration
}

// DefaultConfig returns the documented defaults: 5 consecutive failures eject for 30s, doubling up to 5m, with at
// most half the pool ejected.
func DefaultConfig() Config {
	return Config{
		ConsecutiveFailures: DefaultConsecutiveFailures,
		BaseEjection:        DefaultBaseEjection,
		MaxEjection:         DefaultMaxEjection,
		MaxEjectedPercent:   DefaultMaxEjectedPercent,
	}
}

// NginxConfig maps nginx's "server ... max_fails=N fail_timeout=T": N failures within T mark the server unavailable
// for T, every time (no growth, so MaxEjection = BaseEjection = T). nginx has no pool-wide cap and may take every
// server out; the closest safe setting is 100%, which still keeps the last instance in, as nginx does for a
// single-server upstream. maxFails 0 disables ejection, as in nginx.
func NginxConfig(maxFails int, failTimeout time.Duration) Config {
	return Config{
		ConsecutiveFailures: maxFails,
		BaseEjection:        failTimeout,
		MaxEjection:         failTimeout,
		MaxEjectedPercent:   100,
		FailWindow:          failTimeout,
	}
}

// normalized fills defaults and clamps out-of-range values.
func (c Config) normalized() Config {
	if c.ConsecutiveFailures < 0 {
		c.ConsecutiveFailures = 0
	}
	if c.BaseEjection <= 0 {
		c.BaseEjection = DefaultBaseEjection
	}
	if c.MaxEjection <= 0 {
		c.MaxEjection = DefaultMaxEjection
	}
	if c.MaxEjection < c.BaseEjection {
		c.MaxEjection = c.BaseEjection
	}
	c.MaxEjectedPercent = min(max(c.MaxEjectedPercent, 0), 100)
	if c.FailWindow < 0 {
		c.FailWindow = 0
	}
	return c
}

// maxEjected is how many of n instances may be ejected at once under c (already normalized).
func (c Config) maxEjected(n int) int {
	if c.ConsecutiveFailures == 0 || c.MaxEjectedPercent == 0 || n < 2 {
		return 0
	}
	m := n * c.MaxEjectedPercent / 100
	if m == 0 {
		m = 1
	}
	return min(m, n-1)
}

// ejectionTime is how long the k-th (1-based) ejection lasts: min(base × 2^(k-1), max), without overflow.
func (c Config) ejectionTime(k int) time.Duration {
	d := c.BaseEjection
	for i := 1; i < k && d < c.MaxEjection; i++ {
		d *= 2 // may overflow when MaxEjection is near MaxInt64; the d <= 0 test catches that
		if d <= 0 || d > c.MaxEjection {
			return c.MaxEjection
		}
	}
	return min(d, c.MaxEjection)
}
