package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fjord-gw/fjord/internal/accesslog"
	"github.com/fjord-gw/fjord/internal/admin"
	"github.com/fjord-gw/fjord/internal/config"
	"github.com/fjord-gw/fjord/internal/ocsp"
	"github.com/fjord-gw/fjord/internal/proxy"
	"github.com/fjord-gw/fjord/internal/tracing"
)

// Source produces a parsed configuration: from a file for `fjord run`, from memory for the demo.
type Source func() (*config.Config, config.Diagnostics)

// FileSource reads the config file at path on every call (so a reload sees the edited file).
func FileSource(path string) Source {
	return func() (*config.Config, config.Diagnostics) { return config.Load(path) }
}

// BytesSource parses a fixed config held in memory.
func BytesSource(name string, data []byte) Source {
	return func() (*config.Config, config.Diagnostics) { return config.Parse(name, data) }
}

// Load parses and compiles a configuration: everything `fjord validate` checks, including that every TLS
// certificate can be read and matches its key.
func Load(src Source, prev *Built) (*Built, config.Diagnostics) {
	b, _, diags := load(src, prev)
	return b, diags
}

// load is Load that also returns each listener's compiled mode (TLS, redirect), keyed by listenerKey.
func load(src Source, prev *Built) (*Built, map[string]*listenerSetup, config.Diagnostics) {
	cfg, diags := src()
	if diags.HasErrors() {
		return nil, nil, diags.Sorted()
	}
	stamps := stampCerts(cfg) // before the files are read: see certWatch
	setups, tlsDiags := compileListeners(cfg)
	b, more := Compile(cfg, prev)
	diags = append(append(diags, tlsDiags...), more...)
	if tlsDiags.HasErrors() {
		return nil, nil, diags.Sorted()
	}
	if b != nil {
		b.certStamps = stamps
	}
	return b, setups, diags.Sorted()
}

// App runs the gateway for one configuration source.
type App struct {
	src Source
	log *slog.Logger

	// Ready, when set, is called once all listeners accept, with their actual addresses (useful with port 0).
	Ready func(addrs []string)

	// Version and SourceName are reported by the admin interface.
	Version, SourceName string
	// AdminAddr, when set, is where the admin interface listens, whatever the config says; AdminDefault is used
	// when neither it nor the config names an address ("" or "off": no admin interface).
	AdminAddr, AdminDefault string

	cur         atomic.Pointer[Built] // the configuration in force, for Status
	reloads     atomic.Int64
	reloadFails atomic.Int64
	ready       atomic.Bool
	started     time.Time
	admin       *admin.Server
	addrMu      sync.Mutex
	listening   []string
	// Reloaded, when set, is called after each reload attempt with the listening addresses and the reload's error
	// (nil when the new configuration is in force). It runs on Run's goroutine, so requests that start after it
	// was called see the new configuration; tests and supervisors use it to know when a reload has been applied.
	Reloaded func(addrs []string, err error)

	srv       *proxy.Server
	built     *Built
	listeners map[string]net.Listener   // by configured address
	modes     map[string]*listenerState // TLS and redirect state of each socket in listeners, same keys
	serving   sync.WaitGroup
	sink      *logSink
	retired   []retiredSink // replaced access-log sinks, closed once their requests can no longer be in flight

	// tracer exports request spans (nil = tracing off); tracerSpec is its config (tracing.go). Retired tracers
	// flush in goroutines that shutdown joins through tracerStops.
	tracer      *tracing.Tracer
	tracerSpec  string
	tracerStops sync.WaitGroup

	// AdminToken, when set, is the admin API's bearer token, whatever the config's admin.token says.
	AdminToken string
	ops        adminOps // admin API state: drains, reload requests, config version (admin_api.go)

	// CertPoll is how often TLS certificate and key files are checked for changes (certs.go); 0 = 5s.
	CertPoll time.Duration
	certs    certWatch

	// OCSP tunes the OCSP staplers (ocsp.go); the zero value is production's. staples lists them for metrics.
	OCSP    ocsp.Options
	staples stapleBook
}

type retiredSink struct {
	sink *logSink
	at   time.Time
}

// retireSink queues s for closing and closes the sinks retired longer ago than the shutdown timeout (by then no
// request that started under them can still be running).
func (a *App) retireSink(s *logSink) {
	grace := a.built.Config.Server.ShutdownTimeout.Duration
	kept := a.retired[:0]
	for _, r := range a.retired {
		if time.Since(r.at) > grace {
			r.sink.close()
		} else {
			kept = append(kept, r)
		}
	}
	a.retired = append(kept, retiredSink{s, time.Now()})
}

// New returns an app that reads its configuration from src and logs to log.
func New(src Source, log *slog.Logger) *App {
	return &App{src: src, log: log, listeners: map[string]net.Listener{}, modes: map[string]*listenerState{},
		ops: newAdminOps()}
}

// Run starts the gateway and serves until ctx is done, then shuts down gracefully (in-flight requests finish, up
// to the configured shutdown_timeout). A receive on reload re-reads the configuration and applies it atomically; a
// configuration with errors is logged and the running one stays in force.
func (a *App) Run(ctx context.Context, reload <-chan struct{}) error {
	b, setups, diags := load(a.src, nil)
	a.logDiagnostics(diags)
	if b == nil {
		return fmt.Errorf("configuration has errors:\n%s", diags.String())
	}
	sink, err := openSink(b.Config.AccessLog, a.log)
	if err != nil {
		return err
	}
	b.Proxy.AccessLog = sink.logger
	a.sink = sink
	tr, err := a.openTracer(b)
	if err != nil {
		sink.close()
		return err
	}
	b.Proxy.Tracer = tr
	a.setTracer(tr, tracerSpec(b.Config.Tracing))
	a.srv = proxy.NewServer(b.Proxy, a.log)
	a.built = b
	if err := a.openListeners(b, setups); err != nil {
		a.closeListeners(nil)
		sink.close()
		a.closeTracer()
		return err
	}
	startHealth(b, nil, a.log)
	startCanaries(b, a.log)
	a.started = time.Now()
	a.cur.Store(b)
	a.configApplied(b)
	a.setListening()
	if err := a.startAdmin(b); err != nil {
		stopHealth(b)
		stopCanaries(b)
		_ = a.srv.Shutdown(context.Background())
		a.closeListeners(nil)
		a.serving.Wait()
		sink.close()
		a.closeTracer()
		return err
	}
	a.ready.Store(true)
	a.log.Info("fjord started", "config", b.Describe())
	if a.Ready != nil {
		a.Ready(a.addrs())
	}
	certTick := time.NewTicker(a.certPoll())
	defer certTick.Stop()
	for {
		select {
		case <-ctx.Done():
			return a.shutdown()
		case <-certTick.C:
			a.pollCerts()
		case <-reload:
			a.reloadAndReport()
		case done := <-a.ops.reloadReq:
			// POST /reload: the same reload as SIGHUP, on this goroutine, with its diagnostics for the answer.
			done <- a.reloadAndReport()
		}
	}
}

func (a *App) addrs() []string {
	var out []string
	for _, l := range a.built.Listeners {
		if ln := a.listeners[listenerKey(l)]; ln != nil {
			out = append(out, ln.Addr().String())
		}
	}
	return out
}

// listenerKey identifies a listener across reloads: by address, so a reload keeps the socket. Port 0 means a new
// ephemeral port for each listener, so those are told apart by name.
func listenerKey(l config.Listener) string {
	if strings.HasSuffix(l.Address, ":0") {
		return l.Address + "#" + l.Name
	}
	return l.Address
}

// openListeners listens on every configured address that is not open yet and starts serving it with its mode from
// setups (TLS, redirect) already in force, so that no connection is ever served plain on a TLS listener.
func (a *App) openListeners(b *Built, setups map[string]*listenerSetup) error {
	var opened []config.Listener
	for _, l := range b.Listeners {
		if a.listeners[listenerKey(l)] != nil {
			continue
		}
		ln, err := net.Listen("tcp", l.Address)
		if err != nil {
			for _, o := range opened {
				_ = a.listeners[listenerKey(o)].Close()
				delete(a.listeners, listenerKey(o))
			}
			return fmt.Errorf("listener %s: %w", l.Name, err)
		}
		a.listeners[listenerKey(l)] = ln
		opened = append(opened, l)
	}
	for _, l := range opened {
		ln, name := a.listeners[listenerKey(l)], listenerKey(l)
		a.applyMode(name, setups)
		st := a.modes[name]
		a.serving.Add(1)
		go func() {
			defer a.serving.Done()
			if err := a.srv.ServeMode(ln, name, st.load); err != nil && !errors.Is(err, proxy.ErrServerClosed) {
				a.log.Error("listener stopped", "address", ln.Addr().String(), "err", err)
			}
		}()
		a.log.Info("listening", "address", ln.Addr().String())
		if s := setups[name]; s != nil && s.tls != nil {
			a.log.Info("terminating TLS", "address", ln.Addr().String(), "certificates", len(s.tls.certs.all))
		}
	}
	return nil
}

// closeListeners closes the listeners whose address b does not configure (all of them when b is nil).
func (a *App) closeListeners(b *Built) {
	keep := map[string]bool{}
	if b != nil {
		for _, l := range b.Listeners {
			keep[listenerKey(l)] = true
		}
	}
	for addr, ln := range a.listeners {
		if !keep[addr] {
			_ = a.srv.CloseListener(ln) // at once, also for the event loops that accept from it
			delete(a.listeners, addr)
			if st := a.modes[addr]; st != nil {
				st.stopStapling()
			}
			delete(a.modes, addr)
			a.log.Info("listener closed", "address", addr)
		}
	}
}

// reload builds the new configuration next to the running one, opens new listeners, swaps the snapshot, then retires
// what the new one does not use. Any failure before the swap leaves the running configuration untouched.
func (a *App) reload() error {
	start := time.Now()
	b, setups, diags := load(a.src, a.built)
	a.logDiagnostics(diags)
	a.ops.lastDiags = diags
	if b == nil {
		return fmt.Errorf("configuration has %d errors", countErrors(diags))
	}
	sink := a.sink
	if sink.spec != b.Config.AccessLog.Format+"\x00"+b.Config.AccessLog.Path {
		s, err := openSink(b.Config.AccessLog, a.log)
		if err != nil {
			return err
		}
		sink = s
	}
	b.Proxy.AccessLog = sink.logger
	tr, err := a.openTracer(b)
	if err != nil {
		return err
	}
	b.Proxy.Tracer = tr
	if err := a.openListeners(b, setups); err != nil {
		if sink != a.sink {
			sink.close()
		}
		if tr != nil && tr != a.tracer {
			a.stopTracer(tr) // never used: nothing to flush
		}
		return err
	}
	a.ops.drains.apply(b) // before the swap: a drained instance that was re-created gets no request
	a.srv.Update(b.Proxy)
	// Kept sockets take their new mode now: new certificates for the next handshakes, connections open stay as
	// they are.
	for _, l := range b.Listeners {
		a.applyMode(listenerKey(l), setups)
	}
	startHealth(b, a.built, a.log)
	stopCanaries(a.built) // the carried-over canaries get one guard each: the new Built's
	startCanaries(b, a.log)
	closeMirrors(a.built) // the new Built has its own; the old ones' exchanges in flight are cut
	a.closeListeners(b)
	for _, in := range a.built.Retired(b) {
		in.Close()
	}
	if sink != a.sink {
		// Requests still in flight may log to the old sink: close it only once they are surely done.
		a.retireSink(a.sink)
		a.sink = sink
	}
	a.setTracer(tr, tracerSpec(b.Config.Tracing))
	a.built = b
	a.cur.Store(b)
	a.configApplied(b)
	a.setListening()
	a.reloads.Add(1)
	a.log.Info("configuration reloaded", "config", b.Describe(), "took", time.Since(start).Round(time.Microsecond))
	return nil
}

func (a *App) shutdown() error {
	timeout := a.built.Config.Server.ShutdownTimeout.Duration
	a.log.Info("shutting down", "timeout", timeout, "connections", a.srv.Connections())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	a.ready.Store(false)
	close(a.ops.closing) // admin reload requests stop waiting for this goroutine
	stopHealth(a.built)
	stopCanaries(a.built)
	err := a.srv.Shutdown(ctx)
	a.closeListeners(nil)
	a.serving.Wait()
	for _, in := range a.built.Retired(nil) {
		in.Close()
	}
	a.stopAdmin()
	closeMirrors(a.built)
	a.sink.close()
	for _, r := range a.retired {
		r.sink.close()
	}
	a.closeTracer() // flushes what requests exported before the server stopped
	if err != nil {
		return err
	}
	a.log.Info("stopped")
	return nil
}

func (a *App) logDiagnostics(diags config.Diagnostics) {
	for _, d := range diags {
		if d.Severity == config.Error {
			a.log.Error("config: " + d.String())
		} else {
			a.log.Warn("config: " + d.String())
		}
	}
}

func countErrors(diags config.Diagnostics) int {
	n := 0
	for _, d := range diags {
		if d.Severity == config.Error {
			n++
		}
	}
	return n
}

// logSink is an access logger with its flusher goroutine and output.
type logSink struct {
	spec   string
	logger *accesslog.Logger // nil when off
	out    io.WriteCloser
	cancel context.CancelFunc
	done   chan struct{}
}

func openSink(c config.AccessLog, log *slog.Logger) (*logSink, error) {
	s := &logSink{spec: c.Format + "\x00" + c.Path}
	f, err := accesslog.ParseFormat(c.Format)
	if err != nil {
		return nil, fmt.Errorf("%s: access_log: %w", c.At("format"), err)
	}
	if f == accesslog.Off {
		return s, nil
	}
	out, err := accesslog.OpenFile(c.Path)
	if err != nil {
		return nil, fmt.Errorf("%s: access_log: %w", c.At("path"), err)
	}
	s.out = out
	s.logger = accesslog.New(out, f, accesslog.Options{
		OnError: func(err error) { log.Error("access log write failed", "path", c.Path, "err", err) },
	})
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		_ = s.logger.Run(ctx)
	}()
	return s, nil
}

// close flushes and stops the logger; stdout and stderr stay open.
func (s *logSink) close() {
	if s.logger == nil {
		return
	}
	s.cancel()
	<-s.done
	if s.out != os.Stdout && s.out != os.Stderr {
		_ = s.out.Close()
	}
}
