package check

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fjord-gw/fjord/internal/admin"
)

var bounds = []float64{0.01, 0.1, 1}

func svc(name string, states []string, req, e5xx uint64, buckets ...uint64) admin.ServiceStatus {
	s := admin.ServiceStatus{Name: name, Traffic: &admin.Traffic{Requests: req, Status5xx: e5xx, LatencyBuckets: buckets}}
	for _, st := range states {
		s.Instances = append(s.Instances, admin.InstanceStatus{Address: "10.0.0.1:80", State: st})
	}
	return s
}

func status(services ...admin.ServiceStatus) *admin.Status {
	return &admin.Status{Services: services, LatencyBounds: bounds}
}

var defaults = Thresholds{
	WarnErrorRate: 0.01, CritErrorRate: 0.05,
	WarnP99: 500 * time.Millisecond, CritP99: 2 * time.Second,
	WarnDown: Limit{Value: 1}, CritDown: Limit{Value: 50, Percent: true},
}

func TestEvaluate(t *testing.T) {
	ok2 := []string{"healthy", "warming"}
	tests := []struct {
		name          string
		before, after *admin.Status
		service       string
		th            Thresholds
		want          State
		wantReasons   string
		wantRate      float64
		wantP99       time.Duration
	}{
		{name: "idle and healthy", after: status(svc("a", ok2, 0, 0, 0, 0, 0, 0)), th: defaults, want: OK},
		{name: "totals since start", after: status(svc("a", ok2, 1000, 5, 1000, 1000, 1000, 1000)), th: defaults,
			want: OK, wantRate: 0.005, wantP99: 9900 * time.Microsecond},
		{name: "error rate warning", after: status(svc("a", ok2, 100, 2, 100, 100, 100, 100)), th: defaults,
			want: Warning, wantReasons: "a 2.0% errors >= 1%", wantRate: 0.02, wantP99: 9900 * time.Microsecond},
		{name: "error rate critical in the window only",
			before: status(svc("a", ok2, 1000, 0, 1000, 1000, 1000, 1000)),
			after:  status(svc("a", ok2, 1100, 10, 1100, 1100, 1100, 1100)), th: defaults,
			want: Critical, wantReasons: "a 10.0% errors >= 5%", wantRate: 0.1, wantP99: 9900 * time.Microsecond},
		{name: "old errors outside the window do not count",
			before: status(svc("a", ok2, 100, 50, 100, 100, 100, 100)),
			after:  status(svc("a", ok2, 200, 50, 200, 200, 200, 200)), th: defaults, want: OK,
			wantP99: 9900 * time.Microsecond},
		{name: "counters reset after a restart use the totals",
			before: status(svc("a", ok2, 5000, 0, 5000, 5000, 5000, 5000)),
			after:  status(svc("a", ok2, 10, 1, 10, 10, 10, 10)), th: defaults,
			want: Critical, wantReasons: "a 10.0% errors >= 5%", wantRate: 0.1, wantP99: 9900 * time.Microsecond},
		{name: "p99 warning interpolated", after: status(svc("a", ok2, 100, 0, 0, 0, 100, 100)), th: defaults,
			want: Warning, wantReasons: "a p99 991ms >= 500ms", wantP99: 991 * time.Millisecond},
		{name: "p99 above the last bound is critical", after: status(svc("a", ok2, 100, 0, 0, 0, 0, 100)),
			th: Thresholds{WarnP99: time.Second, CritP99: time.Second, WarnDown: Limit{Value: 1}, CritDown: Limit{Value: 1},
				WarnErrorRate: 1, CritErrorRate: 1},
			want: Critical, wantReasons: "a p99 1s >= 1s", wantP99: time.Second},
		{name: "drained is not down", after: status(svc("a", []string{"healthy", "drained", "draining"}, 0, 0, 0, 0, 0, 0)),
			th: defaults, want: OK},
		{name: "down counts against the instances in rotation", after: status(svc("a", []string{"healthy", "drained", "down"}, 0, 0, 0, 0, 0, 0)),
			th: defaults, want: Critical, wantReasons: "a 1/2 instances down >= 1"},
		{name: "all drained warns", after: status(svc("a", []string{"drained", "draining"}, 0, 0, 0, 0, 0, 0)),
			th: defaults, want: Warning, wantReasons: "a all 2 instances drained"},
		{name: "one down warns", after: status(svc("a", []string{"healthy", "healthy", "ejected"}, 0, 0, 0, 0, 0, 0)),
			th: defaults, want: Warning, wantReasons: "a 1/3 instances down >= 1"},
		{name: "half down is critical", after: status(svc("a", []string{"down", "at-cap", "unhealthy", "healthy"}, 0, 0, 0, 0, 0, 0)),
			th: defaults, want: Critical, wantReasons: "a 3/4 instances down >= 2"},
		{name: "worst service wins, service filter",
			after: status(svc("a", []string{"unhealthy"}, 0, 0, 0, 0, 0, 0), svc("b", ok2, 0, 0, 0, 0, 0, 0)),
			th:    defaults, service: "b", want: OK},
		{name: "worst service wins",
			after: status(svc("a", []string{"unhealthy"}, 0, 0, 0, 0, 0, 0), svc("b", ok2, 0, 0, 0, 0, 0, 0)),
			th:    defaults, want: Critical, wantReasons: "a 1/1 instances down >= 1"},
		{name: "zero thresholds alert on anything bad only", after: status(svc("a", ok2, 10, 0, 10, 10, 10, 10)),
			th: Thresholds{}, want: Critical, wantReasons: "a p99 10ms >= 0s", wantP99: 9900 * time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Evaluate(tt.before, tt.after, tt.service, tt.th)
			if err != nil {
				t.Fatal(err)
			}
			var reasons []string
			for _, s := range res.Services {
				reasons = append(reasons, s.Reasons...)
			}
			if res.State != tt.want || strings.Join(reasons, "; ") != tt.wantReasons {
				t.Fatalf("state %v reasons %q, want %v %q", res.State, reasons, tt.want, tt.wantReasons)
			}
			s := res.Services[0]
			if s.ErrorRate != tt.wantRate || (s.P99-tt.wantP99).Abs() > time.Microsecond {
				t.Errorf("rate %v p99 %v, want %v %v", s.ErrorRate, s.P99, tt.wantRate, tt.wantP99)
			}
		})
	}
}

func TestEvaluateErrors(t *testing.T) {
	if _, err := Evaluate(nil, status(svc("a", nil, 0, 0)), "nope", defaults); !errors.Is(err, ErrNoService) {
		t.Errorf("unknown service: %v", err)
	}
	if res, err := Evaluate(nil, nil, "", defaults); err == nil || res.State != Unknown {
		t.Errorf("no status: %v %v", res.State, err)
	}
}

func TestLine(t *testing.T) {
	after := status(svc("cart", []string{"healthy", "healthy"}, 1000, 2, 990, 1000, 1000, 1000),
		svc("it's", []string{"healthy", "down"}, 0, 0, 0, 0, 0, 0))
	res, err := Evaluate(nil, after, "", defaults)
	if err != nil {
		t.Fatal(err)
	}
	want := "FJORD CRITICAL - it's 1/2 instances down >= 1; 2 services, 3/4 instances usable, 0.2% errors | " +
		"'cart_error_rate'=0.2%;1;5 'cart_p99'=0.01s;0.5;2 'cart_down'=0;1;1 'cart_drained'=0 " +
		"'it''s_error_rate'=0%;1;5 'it''s_p99'=0s;0.5;2 'it''s_down'=1;1;1 'it''s_drained'=0"
	if got := res.Line(defaults); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestQuantile(t *testing.T) {
	tests := []struct {
		name string
		cum  []uint64
		want time.Duration
	}{
		{"empty", nil, 0},
		{"no observations", []uint64{0, 0, 0, 0}, 0},
		{"first bucket", []uint64{100, 100, 100, 100}, 9900 * time.Microsecond},
		{"between", []uint64{50, 98, 100, 100}, 550 * time.Millisecond},
		{"overflow", []uint64{0, 0, 0, 10}, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Quantile(0.99, bounds, tt.cum); (got - tt.want).Abs() > time.Microsecond {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	rates := []struct {
		in   string
		want float64
		ok   bool
	}{{"1%", 0.01, true}, {"0.5%", 0.005, true}, {"0.02", 0.02, true}, {"150%", 0, false}, {"x", 0, false}, {"-1%", 0, false}}
	for _, tt := range rates {
		t.Run("rate "+tt.in, func(t *testing.T) {
			got, err := ParseRate(tt.in)
			if (err == nil) != tt.ok || (tt.ok && math.Abs(got-tt.want) > 1e-12) {
				t.Errorf("ParseRate(%q) = %v, %v", tt.in, got, err)
			}
		})
	}
	limits := []struct {
		in      string
		ok      bool
		total   int
		wantCnt int
	}{{"1", true, 10, 1}, {"50%", true, 10, 5}, {"50%", true, 3, 2}, {"50%", true, 1, 1}, {"10%", true, 0, 1}, {"x%", false, 0, 0}, {"-2", false, 0, 0}}
	for _, tt := range limits {
		t.Run("limit "+tt.in, func(t *testing.T) {
			l, err := ParseLimit(tt.in)
			if (err == nil) != tt.ok || (tt.ok && l.Of(tt.total) != tt.wantCnt) {
				t.Errorf("ParseLimit(%q).Of(%d) = %v, %v", tt.in, tt.total, l.Of(tt.total), err)
			}
		})
	}
}

// TestLineDrained: drained instances are reported apart, neither usable nor down, and fjord check stays OK.
func TestLineDrained(t *testing.T) {
	after := status(svc("cart", []string{"healthy", "drained", "draining"}, 0, 0, 0, 0, 0, 0))
	res, err := Evaluate(nil, after, "", defaults)
	if err != nil {
		t.Fatal(err)
	}
	want := "FJORD OK - 1 service, 1/3 instances usable (2 drained), 0% errors | " +
		"'cart_error_rate'=0%;1;5 'cart_p99'=0s;0.5;2 'cart_down'=0;1;1 'cart_drained'=2"
	if got := res.Line(defaults); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
