package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/fjord-gw/fjord/internal/demo"
)

// DemoServices are the services `fjord demo` starts, two instances each. monolith is the application they are being
// split out of: it answers every path no other route takes, and the Wishlist module at /api/wishlist/ while that
// module moves to the wishlist service (docs/migration.md).
var DemoServices = []string{"auth", "cart", "inventory", "billing", "wishlist", demo.MonolithService}

// DemoMigrationRoute is the demo's route for the Wishlist module: the monolith serves it, shadowed to the wishlist
// service and with a canary to it at 0 % that `fjord canary` moves.
const DemoMigrationRoute = "wishlist-api"

// DemoConfig renders the demo's native configuration for fjord listening on listen, in front of the given
// instances and the chaos control server at control (demo.Cluster.ControlAddr). Each service gets a path prefix of
// its name, except the monolith, which takes every path no other route matches; /chaos goes to the control server;
// /healthz is answered by fjord itself. /api/wishlist/ goes to the monolith with a shadow and a canary to wishlist.
//
// The fault-isolation settings are tighter than the defaults so that a misbehaving wishlist is contained within
// about two seconds: health checks every second that give up after half a second and two misses, short outlier
// ejections, and a small bulkhead and response-header timeout on wishlist, the service the demo breaks.
func DemoConfig(listen, control string, insts []demo.Instance) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# fjord demo configuration (generated): six services, two instances each, and the chaos control\n")
	fmt.Fprintf(&b, "listeners:\n  - name: public\n    address: %q\n", listen)
	b.WriteString("access_log:\n  format: combined\n  path: stdout\n")
	b.WriteString("services:\n")
	for _, svc := range DemoServices {
		fmt.Fprintf(&b, "  %s:\n", svc)
		if svc == "cart" {
			b.WriteString("    balancer: hash\n    hash_key: cookie:session\n")
		}
		if svc == "inventory" {
			b.WriteString("    balancer: least_conn\n")
		}
		writeDemoIsolation(&b, svc)
		b.WriteString("    instances:\n")
		for _, in := range insts {
			if in.Service == svc {
				fmt.Fprintf(&b, "      - %q\n", in.Addr)
			}
		}
	}
	// The control server is a single instance the demo never breaks; a retry could only repeat the same change.
	fmt.Fprintf(&b, "  chaos:\n    timeouts: {connect: 1s, response_header: 5s, idle: 30s}\n    retries: {attempts: 0}\n")
	fmt.Fprintf(&b, "    instances: [%q]\n", control)
	b.WriteString("routes:\n")
	b.WriteString("  - name: health\n    match: {path: /healthz}\n    return: {status: 200, body: \"ok\\n\"}\n")
	for _, svc := range DemoServices {
		if svc == demo.MonolithService {
			continue // the catch-all route, last
		}
		fmt.Fprintf(&b, "  - name: %s\n    match: {path_prefix: /%s/}\n    service: %s\n", svc, svc, svc)
		if svc == "auth" {
			b.WriteString("    request_headers:\n      set: {X-Client: \"${client_ip}:${client_port}\"}\n")
		}
	}
	writeDemoMigration(&b)
	b.WriteString("  - name: chaos\n    match: {path_prefix: /chaos}\n    service: chaos\n")
	b.WriteString("  - name: monolith\n    match: {path_prefix: /}\n    service: monolith      # everything not moved out yet\n")
	return b.String()
}

// writeDemoMigration writes the Wishlist module's route: the monolith still answers it, every GET is mirrored to
// the wishlist service and compared (ignoring the fields that always differ), and a sticky canary at 0 % is ready for
// `fjord canary` to move traffic. The guard judges after 10 requests in a 10 s window so that the walkthrough's
// rollback shows within seconds.
func writeDemoMigration(b *strings.Builder) {
	fmt.Fprintf(b, "  - name: %s\n    match: {path_prefix: %s}\n    service: monolith\n", DemoMigrationRoute, demo.WishlistPrefix)
	b.WriteString("    shadow:\n      service: wishlist\n")
	b.WriteString("      compare: {headers: [Content-Type], ignore_json_fields: [served_by, updated_at]}\n")
	b.WriteString("    canary:\n      service: wishlist\n      weight: 0\n      sticky: cookie:session\n")
	b.WriteString("      guard: {max_error_rate: 0.05, min_requests: 10, window: 10s}\n")
}

// writeDemoIsolation writes svc's timeouts, health check, outlier detection, limits and retries. wishlist, the
// service the README breaks on purpose, gets a 1.5 s response-header timeout so a hang shows as 504 quickly, a
// bulkhead of 20 requests plus 10 queued for at most 500 ms, and counts its own 500s as failures so that error mode
// ejects instances; the others keep room for /slow?ms=N.
func writeDemoIsolation(b *strings.Builder, svc string) {
	responseHeader, statuses := "5s", ""
	if svc == "wishlist" {
		responseHeader, statuses = "1500ms", ", failure_statuses: [500, 502, 503, 504]"
	}
	fmt.Fprintf(b, "    timeouts: {connect: 1s, response_header: %s, idle: 30s}\n", responseHeader)
	b.WriteString("    health_check: {path: /healthz, interval: 1s, timeout: 500ms, rise: 2, fall: 2}\n")
	fmt.Fprintf(b, "    outlier: {consecutive_failures: 3, base_ejection: 5s, max_ejection: 30s%s}\n", statuses)
	if svc == "wishlist" {
		b.WriteString("    limits: {max_concurrent: 20, queue: 10, queue_timeout: 500ms}\n")
		b.WriteString("    retries: {attempts: 1, budget_percent: 20, min_per_second: 3}   # the defaults, spelled out\n")
	}
}

// RunDemo starts the demo services, their chaos control and fjord in front of them on listen, prints the config
// and some curl commands (the chaos ones included) to out, then serves until ctx is done. The admin interface is on
// DefaultAdminAddr when that is free.
func RunDemo(ctx context.Context, listen, version string, out io.Writer, log *slog.Logger, reload <-chan struct{}) error {
	return RunDemoAdmin(ctx, listen, DefaultAdminAddr, version, out, log, reload)
}

// RunDemoAdmin is RunDemo with the admin interface on adminAddr ("127.0.0.1:0" for any free port, as tests use).
func RunDemoAdmin(ctx context.Context, listen, adminAddr, version string, out io.Writer, log *slog.Logger,
	reload <-chan struct{}) error {
	cluster, err := demo.Start(ctx, DemoServices, 2)
	if err != nil {
		return fmt.Errorf("demo services: %w", err)
	}
	defer cluster.Close()
	// Reserve the address first so that ":0" resolves to a real port in the printed config.
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("demo listener: %w", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	cfgText := DemoConfig(addr, cluster.ControlAddr(), cluster.Instances())
	fmt.Fprintf(out, "%s\n", cfgText)
	a := New(BytesSource("demo.yaml", []byte(cfgText)), log)
	a.Version, a.SourceName, a.AdminDefault = version, "demo.yaml (generated)", adminAddr
	a.Ready = func(addrs []string) {
		base := "http://" + addrs[0]
		fmt.Fprintf(out, "Try:\n")
		fmt.Fprintf(out, "  curl -s %s/auth/login\n", base)
		fmt.Fprintf(out, "  curl -s %s/cart/items --cookie session=alice      # sticky: same instance every time\n", base)
		fmt.Fprintf(out, "  curl -s %s/inventory/headers\n", base)
		fmt.Fprintf(out, "  curl -s %s/billing/slow?ms=300\n", base)
		fmt.Fprintf(out, "  curl -s %s/account/orders                          # anything else: still the monolith\n", base)
		fmt.Fprintf(out, "  curl -s %s%salice --cookie session=alice   # the monolith, shadowed to wishlist (docs/migration.md)\n", base, demo.WishlistPrefix)
		fmt.Fprintf(out, "  curl -s %s/healthz\n", base)
		fmt.Fprintf(out, "Break wishlist and watch fjord contain it (the log says why; the other services stay fast):\n")
		for _, mode := range []string{"hang", "slow", "error", "flaky", "crash", "ok"} {
			fmt.Fprintf(out, "  curl -s '%s/chaos/wishlist?mode=%s'\n", base, mode)
		}
		fmt.Fprintf(out, "  curl -s %s/chaos                                  # every instance's mode\n", base)
		if admin := a.AdminAddress(); admin != "" {
			fmt.Fprintf(out, "  fjord status --admin %s                     # what fjord thinks of every instance\n", admin)
			fmt.Fprintf(out, "Move the Wishlist module out of the monolith (docs/migration.md):\n")
			fmt.Fprintf(out, "  fjord diff --admin %s %s                # shadow: how wishlist's answers compare\n", admin, DemoMigrationRoute)
			fmt.Fprintf(out, "  fjord canary --admin %s %s 5            # send 5%% of users to wishlist\n", admin, DemoMigrationRoute)
			fmt.Fprintf(out, "  fjord routes --admin %s --migration            # who serves what\n", admin)
		}
		fmt.Fprintf(out, "fjord demo ready on %s\n", addrs[0])
	}
	return a.Run(ctx, reload)
}
