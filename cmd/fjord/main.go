// Command fjord is an API gateway and reverse proxy. See `fjord help`.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/fjord-gw/fjord/internal/app"
	"github.com/fjord-gw/fjord/internal/config"
	"github.com/fjord-gw/fjord/internal/nginx"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `fjord - API gateway, reverse proxy and load balancer

Usage:
  fjord run -c FILE [--format auto|native|nginx]   serve with a configuration file, native or nginx.conf
                             (SIGHUP reloads, SIGTERM/SIGINT stop gracefully)
  fjord validate [--json] [--format F] FILE   check a configuration; exit 0 when valid, 1 when not
  fjord convert FILE         print the native equivalent of an nginx configuration (see docs/nginx.md)
  fjord demo [--listen ADDR] start demo services and fjord in front of them
  fjord status [--admin ADDR]  show services and instances of a running fjord
  fjord check [--admin ADDR] [--service NAME]  monitoring plugin: exit 0/1/2/3 = OK/WARNING/CRITICAL/UNKNOWN
  fjord doctor [--json]      check the host's limits for many connections; exit 1 when any needs attention
  fjord drain SERVICE ADDR   take an instance out of rotation (in-flight requests finish); undrain puts it back
  fjord undrain SERVICE ADDR
  fjord reload               reload a running fjord's configuration and print the result (like SIGHUP)
  fjord explain (-c FILE | --admin ADDR) URL   which route, rewrite, limits and instance a request would get, and why
  fjord routes [--migration] list the routes; --migration: share of requests per prefix to the monolith and new services
  fjord diff ROUTE           a shadowed route's match/mismatch counts and latest mismatches with both sides
  fjord canary ROUTE PERCENT set the share of a canary route's requests sent to its new service
  fjord version              print the version

Run 'fjord COMMAND --help' for a command's options.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stderr)
	case "validate":
		return cmdValidate(args[1:], stdout, stderr)
	case "convert":
		return cmdConvert(args[1:], stdout, stderr)
	case "demo":
		return cmdDemo(args[1:], stdout, stderr)
	case "status":
		return cmdStatus(args[1:], stdout, stderr)
	case "check":
		return cmdCheck(args[1:], stdout, stderr)
	case "doctor":
		return cmdDoctor(args[1:], stdout, stderr)
	case "drain", "undrain":
		return cmdDrain(args[1:], stdout, stderr, args[0] == "drain")
	case "reload":
		return cmdReload(args[1:], stdout, stderr)
	case "explain":
		return cmdExplain(args[1:], stdout, stderr)
	case "routes":
		return cmdRoutes(args[1:], stdout, stderr)
	case "diff":
		return cmdDiff(args[1:], stdout, stderr)
	case "canary":
		return cmdCanary(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "fjord %s\n", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "fjord: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s\n\nOptions:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and maps --help to exit 0 and bad flags to exit 2.
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	return 0, true
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// signals returns a context cancelled by SIGINT/SIGTERM and a channel that receives on SIGHUP.
func signals() (context.Context, <-chan struct{}, func()) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	reload := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				select {
				case reload <- struct{}{}:
				default: // a reload is already pending; bursts collapse into one
				}
			case <-done:
				return
			}
		}
	}()
	return ctx, reload, func() { signal.Stop(hup); close(done); stop() }
}

func cmdRun(args []string, stderr io.Writer) int {
	fs := newFlags("run", "fjord run -c FILE [--admin ADDR] [--log-level LEVEL]", stderr)
	file := fs.String("c", "", "configuration file (required)")
	adminAddr := fs.String("admin", "", "admin interface address (default: the config's admin.address, else "+
		app.DefaultAdminAddr+"; \"off\" disables it)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	format := fs.String("format", app.FormatAuto, "configuration format: auto, native or nginx")
	token := fs.String("admin-token", "", "bearer token the admin API requires (default $FJORD_ADMIN_TOKEN, else the config's admin.token)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *token == "" {
		*token = os.Getenv("FJORD_ADMIN_TOKEN")
	}
	if *file == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	src, err := app.SourceFor(*file, *format)
	if err != nil {
		fmt.Fprintln(stderr, "fjord:", err)
		return 2
	}
	return serve(stderr, *level, "fjord", func(ctx context.Context, log *slog.Logger, reload <-chan struct{}) error {
		a := app.New(src, log)
		a.Version, a.SourceName = version, *file
		a.AdminAddr, a.AdminDefault = *adminAddr, app.DefaultAdminAddr
		a.AdminToken = *token
		return a.Run(ctx, reload)
	})
}

// serve runs a long-lived command with a logger and signal handling: exit 0 after a clean stop, 1 on failure,
// 2 on a bad log level.
func serve(stderr io.Writer, level, prefix string, run func(context.Context, *slog.Logger, <-chan struct{}) error) int {
	log, err := newLogger(stderr, level)
	if err != nil {
		fmt.Fprintln(stderr, prefix+":", err)
		return 2
	}
	ctx, reload, stop := signals()
	defer stop()
	if err := run(ctx, log, reload); err != nil {
		fmt.Fprintln(stderr, prefix+":", err)
		return 1
	}
	return 0
}

func cmdValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("validate", "fjord validate [--json] FILE", stderr)
	asJSON := fs.Bool("json", false, "print diagnostics as JSON (for CI)")
	format := fs.String("format", app.FormatAuto, "configuration format: auto, native or nginx")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	path := fs.Arg(0)
	src, err := app.SourceFor(path, *format)
	if err != nil {
		fmt.Fprintln(stderr, "fjord:", err)
		return 2
	}
	b, diags := app.Load(src, nil)
	if *asJSON {
		out := struct {
			File        string             `json:"file"`
			Valid       bool               `json:"valid"`
			Diagnostics config.Diagnostics `json:"diagnostics"`
		}{path, b != nil, diags}
		if out.Diagnostics == nil {
			out.Diagnostics = config.Diagnostics{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
	} else {
		if len(diags) > 0 {
			fmt.Fprint(stderr, diags.String())
		}
		if b != nil {
			fmt.Fprintf(stdout, "%s: ok (%s)\n", path, b.Describe())
		}
	}
	if b == nil {
		return 1
	}
	return 0
}

func cmdDemo(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("demo", "fjord demo [--listen ADDR] [--admin ADDR]", stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address fjord listens on")
	adminAddr := fs.String("admin", app.DefaultAdminAddr, "admin interface address (status page, metrics, the admin API)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	return serve(stderr, *level, "fjord demo", func(ctx context.Context, log *slog.Logger, reload <-chan struct{}) error {
		return app.RunDemoAdmin(ctx, *listen, *adminAddr, version, stdout, log, reload)
	})
}

// cmdConvert prints the native equivalent of an nginx configuration; the
// diagnostics go to stderr, and any error makes the exit status 1.
func cmdConvert(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("convert", "fjord convert [--format nginx] FILE", stderr)
	format := fs.String("format", app.FormatNginx, "input format (only nginx)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 || *format != app.FormatNginx {
		fs.Usage()
		return 2
	}
	ds, err := nginx.ParseFile(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "fjord convert:", err)
		return 1
	}
	y, diags := nginx.Convert(ds)
	for _, d := range diags {
		fmt.Fprintln(stderr, d)
	}
	if nginx.HasErrors(diags) {
		return 1
	}
	_, _ = stdout.Write(y)
	return 0
}
