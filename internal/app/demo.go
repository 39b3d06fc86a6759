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

// DemoServices are the services `fjord demo` starts, two instances each.
var DemoServices = []string{"auth", "cart", "inventory", "billing", "wishlist"}

// DemoConfig renders the demo's native configuration for fjord listening on listen, in front of the given
// instances. Each service gets a path prefix of its name; /healthz is answered by fjord itself.
func DemoConfig(listen string, insts []demo.Instance) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# fjord demo configuration (generated): five services, two instances each\n")
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
		b.WriteString("    timeouts: {connect: 1s, response_header: 5s, idle: 30s}\n    instances:\n")
		for _, in := range insts {
			if in.Service == svc {
				fmt.Fprintf(&b, "      - %q\n", in.Addr)
			}
		}
	}
	b.WriteString("routes:\n")
	b.WriteString("  - name: health\n    match: {path: /healthz}\n    return: {status: 200, body: \"ok\\n\"}\n")
	for _, svc := range DemoServices {
		fmt.Fprintf(&b, "  - name: %s\n    match: {path_prefix: /%s/}\n    service: %s\n", svc, svc, svc)
		if svc == "auth" {
			b.WriteString("    request_headers:\n      set: {X-Client: \"${client_ip}:${client_port}\"}\n")
		}
	}
	b.WriteString("  - name: default\n    match: {path_prefix: /}\n    return: {status: 404, body: \"try /auth/, /cart/, /inventory/, /billing/ or /wishlist/\\n\"}\n")
	return b.String()
}

// RunDemo starts the demo services and fjord in front of them on listen, prints the config and some curl
// commands to out, then serves until ctx is done.
func RunDemo(ctx context.Context, listen string, out io.Writer, log *slog.Logger, reload <-chan struct{}) error {
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
	cfgText := DemoConfig(addr, cluster.Instances())
	fmt.Fprintf(out, "%s\n", cfgText)
	a := New(BytesSource("demo.yaml", []byte(cfgText)), log)
	a.Ready = func(addrs []string) {
		base := "http://" + addrs[0]
		fmt.Fprintf(out, "Try:\n")
		fmt.Fprintf(out, "  curl -s %s/auth/login\n", base)
		fmt.Fprintf(out, "  curl -s %s/cart/items --cookie session=alice      # sticky: same instance every time\n", base)
		fmt.Fprintf(out, "  curl -s %s/inventory/headers\n", base)
		fmt.Fprintf(out, "  curl -s %s/billing/slow?ms=300\n", base)
		fmt.Fprintf(out, "  curl -s -H 'Accept: application/json' %s/nowhere\n", base)
		fmt.Fprintf(out, "  curl -s %s/healthz\n", base)
		fmt.Fprintf(out, "fjord demo ready on %s\n", addrs[0])
	}
	return a.Run(ctx, reload)
}
