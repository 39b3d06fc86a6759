package explain

import (
	"fmt"
	"io"
	"strings"
)

// WriteText prints the report for a terminal: the verdict first, then the reasons.
func (r *Report) WriteText(w io.Writer) {
	q := r.Request
	uri := q.Path
	if q.Query != "" {
		uri += "?" + q.Query
	}
	fmt.Fprintf(w, "%s %s%s", q.Method, q.Host, uri)
	if q.Listener != "" {
		fmt.Fprintf(w, " on listener %s", q.Listener)
	}
	if r.Live {
		fmt.Fprint(w, " (live instance state)")
	}
	fmt.Fprintf(w, "\n\nhost group: %s\n", r.HostGroup)
	if r.Route != "" {
		fmt.Fprintf(w, "route:      %s (%s)\n", r.Route, r.RouteAt)
	} else {
		fmt.Fprintln(w, "route:      none")
	}
	fmt.Fprintln(w, "\ncandidates, in precedence order:")
	for _, c := range r.Candidates {
		mark := "  "
		if c.Verdict == "matched" {
			mark = "=>"
		}
		fmt.Fprintf(w, "  %s %-20s %-40s %s", mark, c.Route, c.Match, c.Verdict)
		if c.Reason != "" {
			fmt.Fprintf(w, ": %s", c.Reason)
		}
		fmt.Fprintln(w)
	}
	if rt := r.Return; rt != nil {
		fmt.Fprintf(w, "\nfixed response: %d %q\n", rt.Status, rt.Body)
	}
	if u := r.Upstream; u != nil {
		fmt.Fprintf(w, "\nupstream request to service %s:\n  %s %s HTTP/1.1   (rewrite: %s)\n  Host: %s\n", u.Service, q.Method,
			u.RequestURI, u.Rewrite, u.Host)
		for _, h := range u.Headers {
			fmt.Fprintf(w, "  %s\n", h)
		}
	}
	if l := r.Limits; l != nil {
		fmt.Fprintf(w, "\nlimits:\n  timeouts: connect %s, response_header %s, idle %s, total %s\n", l.Timeouts["connect"],
			l.Timeouts["response_header"], l.Timeouts["idle"], l.Timeouts["total"])
		body := "unlimited"
		if l.MaxBodyBytes > 0 {
			body = fmt.Sprintf("%d bytes", l.MaxBodyBytes)
		}
		fmt.Fprintf(w, "  max body: %s\n", body)
		if len(l.Access) > 0 {
			fmt.Fprintf(w, "  access: %s (first match wins; no match: allowed)\n", strings.Join(l.Access, ", "))
		}
		if l.RateLimit != "" {
			fmt.Fprintf(w, "  rate limit: %s\n", l.RateLimit)
		}
		fmt.Fprintf(w, "  retries: %s\n", l.Retries)
		if l.MaxConcurrent > 0 {
			fmt.Fprintf(w, "  bulkhead: %d/%d in flight, %d queued; queue %s\n", l.InFlight, l.MaxConcurrent, l.Queued, l.Queue)
		} else {
			fmt.Fprintln(w, "  bulkhead: unlimited")
		}
	}
	if p := r.Pick; p != nil {
		chosen := p.Chosen
		if chosen == "" {
			chosen = "none"
		}
		fmt.Fprintf(w, "\ninstance: %s", chosen)
		if p.Tier == "backup" {
			fmt.Fprint(w, " (backup)")
		}
		fmt.Fprintf(w, "\n  %s\n", p.Note)
		if p.HashKey != "" {
			fmt.Fprintf(w, "  hashing %s\n", p.HashKey)
		}
		for _, in := range p.Instances {
			role := ""
			if in.Backup {
				role = " backup"
			}
			fmt.Fprintf(w, "  %-22s weight %d%s, %d in flight: %s\n", in.Address, in.Weight, role, in.InFlight, in.Reason)
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintf(w, "\n%s\n", strings.Join(r.Notes, "\n"))
	}
}
