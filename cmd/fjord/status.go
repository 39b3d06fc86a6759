package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fjord-gw/fjord/internal/admin"
	"github.com/fjord-gw/fjord/internal/app"
)

// cmdStatus prints the state of a running fjord, read from its admin interface.
func cmdStatus(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("status", "fjord status [--admin ADDR] [--token T] [--json]", stderr)
	addr := fs.String("admin", app.DefaultAdminAddr, "admin address of the running fjord")
	asJSON := fs.Bool("json", false, "print the raw JSON status")
	token := fs.String("token", "", "admin token (default $FJORD_ADMIN_TOKEN)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cl := &http.Client{Timeout: 5 * time.Second}
	req, err := http.NewRequest(http.MethodGet, "http://"+*addr+"/status", nil)
	if err != nil {
		fmt.Fprintf(stderr, "fjord status: %v\n", err)
		return 2
	}
	if t := newAdminClient(*addr, *token).token; t != "" {
		req.Header.Set("Authorization", "Bearer "+t)
	}
	resp, err := cl.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "fjord status: cannot reach the admin interface at %s: %v\n", *addr, err)
		return 1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "fjord status: %s/status answered %s: %v\n", *addr, resp.Status, err)
		return 1
	}
	if *asJSON {
		_, _ = stdout.Write(body)
		return 0
	}
	var st admin.Status
	if err := json.Unmarshal(body, &st); err != nil {
		fmt.Fprintf(stderr, "fjord status: bad status from %s: %v\n", *addr, err)
		return 1
	}
	printStatus(stdout, &st)
	return 0
}

func printStatus(w io.Writer, st *admin.Status) {
	ready := "ready"
	if !st.Ready {
		ready = "NOT READY"
	}
	fmt.Fprintf(w, "fjord %s — %s, up %s, %d reloads, config %s, listening on %s\n\n", st.Version, ready,
		st.Now.Sub(st.Started).Round(time.Second), st.Reloads, st.Config, strings.Join(st.Listeners, ", "))
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tIN-FLIGHT\tQUEUED\tINSTANCE\tSTATE\tIN-FLIGHT\tEJECTIONS\tNOTE")
	for _, s := range st.Services {
		limit := "∞"
		if s.MaxConcurrent > 0 {
			limit = fmt.Sprint(s.MaxConcurrent)
		}
		for i, in := range s.Instances {
			name, inflight, queued := "", "", ""
			if i == 0 {
				name, inflight, queued = s.Name, fmt.Sprintf("%d/%s", s.InFlight, limit), fmt.Sprint(s.Queued)
			}
			addr := in.Address
			if in.Backup {
				addr += " (backup)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", name, inflight, queued, addr, in.State, in.InFlight,
				in.Ejections, instanceNote(in, st.Now))
		}
	}
	_ = tw.Flush()
	printMigration(w, st.Routes)
}

// printMigration lists the routes with a canary or a shadow (docs/migration.md), one line each.
func printMigration(w io.Writer, routes []admin.RouteStatus) {
	first := true
	for _, r := range routes {
		if r.Canary == nil && r.Shadow == nil {
			continue
		}
		if first {
			fmt.Fprintf(w, "\nMIGRATION\n")
			first = false
		}
		for _, line := range migrationNotes(r) {
			fmt.Fprintf(w, "  %-16s %s\n", r.Name, line)
		}
	}
}

func instanceNote(in admin.InstanceStatus, now time.Time) string {
	until := func(what string, t *time.Time) string {
		return fmt.Sprintf("%s until %s (%s)", what, t.Format("15:04:05"), t.Sub(now).Round(time.Second))
	}
	switch {
	case in.EjectedUntil != nil:
		return until("ejected", in.EjectedUntil)
	case in.DownUntil != nil:
		return until("skipped after a refused connection", in.DownUntil)
	case in.WarmingUntil != nil:
		return until("slow start", in.WarmingUntil)
	case in.Failures > 0:
		return fmt.Sprintf("%d failures in a row", in.Failures)
	}
	return ""
}
