package main

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/fjord-gw/fjord/internal/admin"
)

// cmdRoutes lists a running fjord's routes; with --migration, per path prefix, which share of the requests went to
// the monolith and which to the new services, from the live counters in /status.
func cmdRoutes(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("routes", "fjord routes [--admin ADDR] [--token T] [--migration [--monolith SERVICE]]", stderr)
	af := addAdminFlags(fs)
	migration := fs.Bool("migration", false, "show the migration map: requests per prefix by service")
	mono := fs.String("monolith", "", "the monolith's service (default: the service of the catch-all prefix /)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	var st admin.Status
	if _, err := af.client().do(http.MethodGet, "/status", nil, &st); err != nil {
		fmt.Fprintf(stderr, "fjord routes: %v\n", err)
		return 1
	}
	if !*migration {
		for _, r := range st.Routes {
			target := r.Service
			if r.Return != 0 {
				target = fmt.Sprintf("return %d", r.Return)
			}
			fmt.Fprintf(stdout, "%-20s %-28s %s%s\n", r.Name, r.Path, target, sideNote(r))
		}
		return 0
	}
	writeMigration(stdout, st.Routes, *mono)
	return 0
}

// sideNote describes a route's canary and shadow in one suffix.
func sideNote(r admin.RouteStatus) string {
	var b strings.Builder
	if c := r.Canary; c != nil {
		fmt.Fprintf(&b, "  canary %g%% -> %s", c.Weight, c.Service)
		if c.RolledBack {
			b.WriteString(" ROLLED BACK: " + c.Reason)
		}
	}
	if s := r.Shadow; s != nil {
		fmt.Fprintf(&b, "  shadow -> %s (%d match, %d mismatch)", s.Service, s.Match, s.Mismatch)
	}
	return b.String()
}

// writeMigration prints, per prefix route that has had requests, the share of its requests each service got. A
// canary route's shares count since the canary started; its current split (the guard window's) follows as "now".
func writeMigration(w io.Writer, routes []admin.RouteStatus, mono string) {
	if mono == "" {
		for _, r := range routes {
			if r.Path == "prefix /" && r.Service != "" {
				mono = r.Service
			}
		}
	}
	fmt.Fprintf(w, "%-16s %9s  %-9s %s\n", "PREFIX", "REQUESTS", "MONOLITH", "NEW SERVICES")
	var total, toMono uint64
	for _, r := range routes {
		prefix, ok := strings.CutPrefix(r.Path, "prefix ")
		if !ok || r.Service == "" {
			continue
		}
		by := map[string]uint64{}
		var n uint64
		if c := r.Canary; c != nil {
			by[c.Old.Service] += c.Old.Requests
			by[c.New.Service] += c.New.Requests
			n = c.Old.Requests + c.New.Requests
		} else if r.Traffic != nil {
			by[r.Service] = r.Traffic.Requests
			n = r.Traffic.Requests
		}
		if n == 0 {
			continue
		}
		total += n
		toMono += by[mono]
		var parts []string
		for svc, k := range by {
			if svc != mono && k > 0 {
				parts = append(parts, fmt.Sprintf("%s %s", svc, share(k, n)))
			}
		}
		sort.Strings(parts)
		if len(parts) == 0 {
			parts = []string{"-"}
		}
		now := ""
		if c := r.Canary; c != nil && c.Old.WindowRequests+c.New.WindowRequests > 0 {
			now = fmt.Sprintf("  (now %s %s)", c.New.Service, share(c.New.WindowRequests, c.Old.WindowRequests+c.New.WindowRequests))
		}
		fmt.Fprintf(w, "%-16s %9d  %-9s %s\n", prefix, n, share(by[mono], n), strings.Join(parts, ", ")+now)
	}
	fmt.Fprintf(w, "%-16s %9d  %-9s (monolith: %s)\n", "all", total, share(toMono, total), mono)
}

func share(k, n uint64) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", float64(k)*100/float64(n))
}

// migrationNotes describes a route's canary and shadow for `fjord status`, a line each: the canary's weight and
// requests per side, rolled back with the guard's reason, and the shadow's match rate.
func migrationNotes(r admin.RouteStatus) []string {
	var out []string
	if c := r.Canary; c != nil {
		line := fmt.Sprintf("canary %g%% -> %s (%d requests to %s, %d to %s)", c.Weight, c.Service, c.Old.Requests,
			c.Old.Service, c.New.Requests, c.New.Service)
		if c.RolledBack {
			line += " ROLLED BACK: " + c.Reason
		}
		out = append(out, line)
	}
	if s := r.Shadow; s != nil {
		out = append(out, fmt.Sprintf("shadow -> %s (%d mirrored, %s match, %d mismatch, %d errors, %d dropped)",
			s.Service, s.Mirrored, share(s.Match, s.Match+s.Mismatch), s.Mismatch, s.Errors, s.Dropped))
	}
	return out
}
