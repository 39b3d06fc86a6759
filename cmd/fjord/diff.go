package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/fjord-gw/fjord/internal/admin"
	"github.com/fjord-gw/fjord/internal/shadow"
)

// cmdDiff prints a route's shadow counters and its latest mismatches with both sides (GET /shadow).
func cmdDiff(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("diff", "fjord diff [--admin ADDR] [--token T] [--json] ROUTE", stderr)
	af := addAdminFlags(fs)
	asJSON := fs.Bool("json", false, "print the admin API's answer as JSON")
	if code, ok := parseArgs(fs, args, 1); !ok {
		return code
	}
	var rep struct {
		admin.ShadowReport
		Samples []shadow.Sample `json:"samples"`
	}
	c := af.client()
	if _, err := c.do(http.MethodGet, "/shadow?route="+url.QueryEscape(fs.Arg(0)), nil, &rep); err != nil {
		fmt.Fprintf(stderr, "fjord diff: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
		return 0
	}
	s := rep.Shadow
	fmt.Fprintf(stdout, "route %s shadowed to %s: %d mirrored, %d match, %d mismatch, %d errors, %d dropped, %d not compared, %d skipped\n",
		rep.Route, s.Service, s.Mirrored, s.Match, s.Mismatch, s.Errors, s.Dropped, s.NotCompared, s.Skipped)
	if s.LastError != "" {
		fmt.Fprintf(stdout, "last shadow error: %s\n", s.LastError)
	}
	for _, x := range rep.Samples {
		fmt.Fprintf(stdout, "\n%s %s %s\n", x.Time.Format("15:04:05"), x.Method, x.URI)
		for _, d := range x.Diffs {
			fmt.Fprintf(stdout, "  - %s\n", d)
		}
		fmt.Fprintf(stdout, "  primary %d %s\n", x.Primary.Status, oneLine(x.Primary.Body))
		fmt.Fprintf(stdout, "  shadow  %d %s\n", x.Shadow.Status, oneLine(x.Shadow.Body))
	}
	return 0
}

// oneLine shortens a body for a terminal line.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

// cmdCanary sets the share of a route's requests sent to its canary service (POST /canary).
func cmdCanary(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("canary", "fjord canary [--admin ADDR] [--token T] ROUTE PERCENT", stderr)
	af := addAdminFlags(fs)
	if code, ok := parseArgs(fs, args, 2); !ok {
		return code
	}
	var st admin.CanaryStatus
	c := af.client()
	q := url.Values{"route": {fs.Arg(0)}, "weight": {strings.TrimSuffix(fs.Arg(1), "%")}}
	if _, err := c.do(http.MethodPost, "/canary", q, &st); err != nil {
		fmt.Fprintf(stderr, "fjord canary: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "route %s: %g%% to %s\n", fs.Arg(0), st.Weight, st.Service)
	return 0
}
