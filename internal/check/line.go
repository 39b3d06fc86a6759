package check

import (
	"fmt"
	"strconv"
	"strings"
)

// Line returns the plugin output: one status line, then " | " and the perfdata, e.g.
//
//	FJORD WARNING - cart 1.2% errors >= 1%; 2 services, 4/4 instances usable, 0.6% errors | 'cart_error_rate'=1.2%;1;5 ...
//
// Per service the perfdata has <name>_error_rate (%), <name>_p99 (s) and <name>_down (instances), each with its
// warning and critical thresholds, in Nagios' 'label'=value[UOM];warn;crit format, and <name>_drained (instances an
// operator drained, no thresholds: they are neither usable nor down).
func (r Result) Line(th Thresholds) string {
	var b strings.Builder
	b.WriteString("FJORD " + r.State.String() + " - ")
	var reasons []string
	var instances, down, drained int
	var requests, errors uint64
	for _, s := range r.Services {
		reasons = append(reasons, s.Reasons...)
		instances += s.Instances
		down += s.Down
		drained += s.Drained
		requests += s.Requests
		errors += s.Errors
	}
	if len(reasons) > 0 {
		b.WriteString(strings.Join(reasons, ", ") + "; ")
	}
	rate := 0.0
	if requests > 0 {
		rate = float64(errors) / float64(requests) * 100
	}
	noun := "services"
	if len(r.Services) == 1 {
		noun = "service"
	}
	fmt.Fprintf(&b, "%d %s, %d/%d instances usable", len(r.Services), noun, instances-down-drained, instances)
	if drained > 0 {
		fmt.Fprintf(&b, " (%d drained)", drained)
	}
	fmt.Fprintf(&b, ", %s%% errors", num(rate, 1))
	sep := " | "
	for _, s := range r.Services {
		l := strings.ReplaceAll(s.Name, "'", "''")
		fmt.Fprintf(&b, "%s'%s_error_rate'=%s%%;%s;%s '%s_p99'=%ss;%s;%s '%s_down'=%d;%d;%d '%s_drained'=%d", sep,
			l, num(s.ErrorRate*100, 3), num(th.WarnErrorRate*100, -1), num(th.CritErrorRate*100, -1),
			l, num(s.P99.Seconds(), 6), num(th.WarnP99.Seconds(), -1), num(th.CritP99.Seconds(), -1),
			l, s.Down, s.WarnDown, s.CritDown, l, s.Drained)
		sep = " "
	}
	return b.String()
}

// num formats v with at most prec decimals (all it needs with -1), without trailing zeros.
func num(v float64, prec int) string {
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if prec > 0 && strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
