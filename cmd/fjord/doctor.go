package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/fjord-gw/fjord/internal/doctor"
)

// cmdDoctor checks the host's limits for many connections and prints what to change; it changes nothing. Exit 0
// when all is well, 1 when something needs attention, 2 on bad flags.
func cmdDoctor(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("doctor", "fjord doctor [--json]", stderr)
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
