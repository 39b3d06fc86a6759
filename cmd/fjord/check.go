package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/fjord-gw/fjord/internal/admin"
	"github.com/fjord-gw/fjord/internal/app"
	"github.com/fjord-gw/fjord/internal/check"
)

// cmdCheck is a Nagios/Icinga plugin: it reads /status twice, --window apart, and prints one status line with
// perfdata. Its exit status is the plugin state, and every failure to get a verdict (bad flags included, where other
// commands exit 2) is UNKNOWN, 3, because a monitoring system would read 2 as CRITICAL.
func cmdCheck(args []string, stdout, stderr io.Writer) int {
	unknown := func(format string, a ...any) int {
		fmt.Fprintf(stdout, "FJORD UNKNOWN - "+format+"\n", a...)
		return int(check.Unknown)
	}
	fs := newFlags("check", "fjord check [--admin ADDR] [--service NAME] [--window 10s] [thresholds]", stderr)
	addr := fs.String("admin", app.DefaultAdminAddr, "admin address of the running fjord")
	service := fs.String("service", "", "check only this service (default: all)")
	window := fs.Duration("window", 10*time.Second, "measure errors and latency over this long; 0 uses the totals since each service appeared")
	timeout := fs.Duration("timeout", 5*time.Second, "timeout of each request to the admin interface")
	warnRate := fs.String("warn-error-rate", "1%", "WARNING when a service's share of 5xx answers reaches this")
	critRate := fs.String("crit-error-rate", "5%", "CRITICAL when a service's share of 5xx answers reaches this")
	warnP99 := fs.Duration("warn-p99", 500*time.Millisecond, "WARNING when a service's p99 latency reaches this")
	critP99 := fs.Duration("crit-p99", 2*time.Second, "CRITICAL when a service's p99 latency reaches this")
	warnDown := fs.String("warn-down", "1", "WARNING when this many instances of a service (or N%) are not usable")
	critDown := fs.String("crit-down", "50%", "CRITICAL when this many instances of a service (or N%) are not usable")
	token := fs.String("token", "", "admin token (default $FJORD_ADMIN_TOKEN)")
	if code, ok := parseFlags(fs, args); !ok {
		if code == 0 {
			return 0
		}
		return unknown("bad arguments, see fjord check --help")
	}
	if fs.NArg() > 0 || *window < 0 {
		return unknown("bad arguments, see fjord check --help")
	}
	var th check.Thresholds
	th.WarnP99, th.CritP99 = *warnP99, *critP99
	var err error
	for _, p := range []struct {
		dst *float64
		src string
	}{{&th.WarnErrorRate, *warnRate}, {&th.CritErrorRate, *critRate}} {
		if *p.dst, err = check.ParseRate(p.src); err != nil {
			return unknown("%v", err)
		}
	}
	if th.WarnDown, err = check.ParseLimit(*warnDown); err != nil {
		return unknown("%v", err)
	}
	if th.CritDown, err = check.ParseLimit(*critDown); err != nil {
		return unknown("%v", err)
	}
	cl := &http.Client{Timeout: *timeout, Transport: bearer{newAdminClient(*addr, *token).token}}
	var before *admin.Status
	if *window > 0 {
		if before, err = fetchStatus(cl, *addr); err != nil {
			return unknown("%v", err)
		}
		// A plugin runs to completion and is killed by its scheduler on timeout, so a plain sleep is what we want.
		time.Sleep(*window)
	}
	after, err := fetchStatus(cl, *addr)
	if err != nil {
		return unknown("%v", err)
	}
	res, err := check.Evaluate(before, after, *service, th)
	if err != nil {
		return unknown("%v", err)
	}
	fmt.Fprintln(stdout, res.Line(th))
	return int(res.State)
}

// fetchStatus reads and decodes /status from the admin interface at addr.
func fetchStatus(cl *http.Client, addr string) (*admin.Status, error) {
	resp, err := cl.Get("http://" + addr + "/status")
	if err != nil {
		return nil, fmt.Errorf("cannot reach the admin interface at %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s/status answered %s", addr, resp.Status)
	}
	var st admin.Status
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&st); err != nil {
		return nil, fmt.Errorf("bad status from %s: %w", addr, err)
	}
	return &st, nil
}
