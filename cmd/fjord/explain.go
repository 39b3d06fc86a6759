package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/fjord-gw/fjord/internal/app"
	"github.com/fjord-gw/fjord/internal/explain"
)

// headerFlags collects repeated --header 'Name: value' flags.
type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

// cmdExplain explains what fjord does with one request: offline against -c FILE, or live against --admin ADDR.
func cmdExplain(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("explain", "fjord explain (-c FILE | --admin ADDR) [--method M] [--header 'Name: v']... [--listener NAME] [--client-ip IP] [--json] URL", stderr)
	file := fs.String("c", "", "configuration file to explain against (offline)")
	format := fs.String("format", app.FormatAuto, "configuration format: auto, native or nginx")
	addr := fs.String("admin", "", "admin address of a running fjord to ask instead (live instance state)")
	token := fs.String("token", "", "admin token (default $FJORD_ADMIN_TOKEN)")
	method := fs.String("method", "GET", "request method")
	listener := fs.String("listener", "", "listener name (default: the first listener)")
	clientIP := fs.String("client-ip", "", "client address (for hash balancing and ${client_ip})")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	var headers headerFlags
	fs.Var(&headers, "header", "request header 'Name: value' (repeatable)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 || (*file == "") == (*addr == "") {
		fmt.Fprintln(stderr, "fjord explain: give one URL, and either -c FILE or --admin ADDR")
		fs.Usage()
		return 2
	}
	var rep *explain.Report
	if *addr != "" {
		q := url.Values{"url": {fs.Arg(0)}, "method": {*method}, "header": headers, "listener": {*listener}, "client_ip": {*clientIP}}
		rep = new(explain.Report)
		if _, err := newAdminClient(*addr, *token).do(http.MethodGet, "/explain?"+q.Encode(), nil, rep); err != nil {
			fmt.Fprintf(stderr, "fjord explain: %v\n", err)
			return 1
		}
	} else {
		req, err := explain.ParseRequest(*method, fs.Arg(0), headers)
		if err == nil && *clientIP != "" {
			req.ClientIP, err = netip.ParseAddr(*clientIP)
		}
		if err != nil {
			fmt.Fprintf(stderr, "fjord explain: %v\n", err)
			return 2
		}
		req.Listener = *listener
		src, err := app.SourceFor(*file, *format)
		if err != nil {
			fmt.Fprintln(stderr, "fjord explain:", err)
			return 2
		}
		r, diags, err := app.Explain(src, req)
		if err != nil {
			fmt.Fprint(stderr, diags.String())
			fmt.Fprintf(stderr, "fjord explain: %s: %v\n", *file, err)
			return 1
		}
		rep = r
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
		return 0
	}
	rep.WriteText(stdout)
	return 0
}
