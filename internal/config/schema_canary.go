package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Canary on a route sends a share of its requests to another service (docs/migration.md). Weight and Steps are
// percentages; Sticky keeps a client on one side: "cookie:NAME", "header:NAME" or "client_ip" ("" splits each
// request independently).
type Canary struct {
	Positions
	Service      string      `yaml:"service,required"`
	Weight       int         `yaml:"weight"` // percent of requests sent to Service; with steps, the first step
	Sticky       string      `yaml:"sticky"`
	Steps        []int       `yaml:"steps"`
	StepInterval Duration    `yaml:"step_interval"`
	Guard        CanaryGuard `yaml:"guard"`
}

// CanaryGuard is when a canary is rolled back. MaxErrorRate and MaxP99Ratio are numbers written as in the file
// (strings here, read with ParseRatio); "0" turns a check off.
type CanaryGuard struct {
	Positions
	MaxErrorRate string   `yaml:"max_error_rate"` // default 0.05: five points over the old service's 5xx share
	MaxP99Ratio  string   `yaml:"max_p99_ratio"`  // default 2: twice the old service's p99
	MinRequests  int      `yaml:"min_requests"`   // default 20
	Window       Duration `yaml:"window"`         // default 30s
}

// Canary guard defaults, used where the file does not say.
const (
	DefaultCanaryMaxErrorRate = 0.05
	DefaultCanaryMaxP99Ratio  = 2.0
	DefaultCanaryMinRequests  = 20
	DefaultCanaryWindow       = 30 * time.Second
	DefaultCanaryStepInterval = time.Minute
)

// ParseRatio reads a non-negative decimal number ("0.05", "1.5"; "5%" is 0.05).
func ParseRatio(s string) (float64, error) {
	t := strings.TrimSpace(s)
	pct := strings.HasSuffix(t, "%")
	f, err := strconv.ParseFloat(strings.TrimSuffix(t, "%"), 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("invalid number %q: want e.g. 0.05 or 5%%", s)
	}
	if pct {
		f /= 100
	}
	return f, nil
}

// Ratios returns the guard's error-rate and p99 limits with defaults for the unwritten ones (validation has
// checked the written ones).
func (g *CanaryGuard) Ratios() (errRate, p99 float64) {
	errRate, p99 = DefaultCanaryMaxErrorRate, DefaultCanaryMaxP99Ratio
	if g.Has("max_error_rate") {
		errRate, _ = ParseRatio(g.MaxErrorRate)
	}
	if g.Has("max_p99_ratio") {
		p99, _ = ParseRatio(g.MaxP99Ratio)
	}
	return errRate, p99
}

// Shadow on a route mirrors sampled requests to another service in the background and compares the answers.
type Shadow struct {
	Positions
	Service       string        `yaml:"service,required"`
	Percent       int           `yaml:"percent"`        // default 100
	MaxBodyBytes  int           `yaml:"max_body_bytes"` // default 65536
	Methods       []string      `yaml:"methods"`        // default [GET, HEAD]
	MaxConcurrent int           `yaml:"max_concurrent"` // default 16
	Timeout       Duration      `yaml:"timeout"`        // default 2s
	Compare       ShadowCompare `yaml:"compare"`
}

// ShadowCompare says what of two answers is compared besides the status: the named response headers, and the body
// (JSON structurally, without IgnoreJSONFields: a bare key at any depth or a dotted path from the top).
type ShadowCompare struct {
	Positions
	Headers          []string `yaml:"headers"`
	IgnoreJSONFields []string `yaml:"ignore_json_fields"`
}

// Shadow defaults, used where the file does not say.
const (
	DefaultShadowPercent       = 100
	DefaultShadowMaxBodyBytes  = 64 << 10
	DefaultShadowMaxConcurrent = 16
	DefaultShadowTimeout       = 2 * time.Second
)

// DefaultShadowMethods are mirrored unless the route lists others: safe methods only.
var DefaultShadowMethods = []string{"GET", "HEAD"}
