package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/fjord-gw/fjord/internal/app"
	"github.com/fjord-gw/fjord/internal/doctor"
)

// cmdDoctor checks the host's limits for many connections and prints what to change; it changes nothing. With -c it
// also checks that the configuration's connections, pools and listeners fit those limits. Exit 0 when all is well,
// 1 when something needs attention, 2 on bad flags or a configuration with errors.
func cmdDoctor(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("doctor", "fjord doctor [-c FILE] [--json]", stderr)
	file := fs.String("c", "", "also check that this configuration fits the host's limits")
	format := fs.String("format", app.FormatAuto, "configuration format: auto, native or nginx")
	asJSON := fs.Bool("json", false, "print the findings as JSON")
	root := fs.String("root", "/", "read /proc and /sys below this directory (to inspect a copied tree)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	host := doctor.System()
	host.Root = *root
	findings := host.Check()
	if *file != "" {
		needs, code := configNeeds(*file, *format, stderr)
		if code != 0 {
			return code
		}
		findings = append(findings, host.CheckNeeds(needs)...)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(findings); err != nil {
			fmt.Fprintln(stderr, "fjord doctor:", err)
			return 1
		}
	} else if err := doctor.Write(stdout, findings); err != nil {
		fmt.Fprintln(stderr, "fjord doctor:", err)
		return 1
	}
	if doctor.NeedsAttention(findings) {
		return 1
	}
	return 0
}

// configNeeds loads a configuration (native or nginx) and sums what it asks of the host; a non-zero code when it
// cannot be loaded (its diagnostics are printed).
func configNeeds(file, format string, stderr io.Writer) (doctor.Needs, int) {
	src, err := app.SourceFor(file, format)
	if err != nil {
		fmt.Fprintln(stderr, "fjord doctor:", err)
		return doctor.Needs{}, 2
	}
	b, diags := app.Load(src, nil)
	if b == nil {
		fmt.Fprintf(stderr, "fjord doctor: %s has errors:\n%s", file, diags.String())
		return doctor.Needs{}, 2
	}
	cfg := b.Config
	n := doctor.Needs{Config: file, MaxConnections: cfg.Server.MaxConnections, Listeners: len(cfg.Listeners) + 1}
	for _, name := range cfg.ServiceNames() {
		s := cfg.Services[name]
		n.Pools = append(n.Pools, doctor.Pool{Service: name, Instances: len(s.Instances), MaxIdle: s.Keepalive.MaxIdlePerInstance})
	}
	return n, 0
}
