package demo

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// State is one instance's current chaos setting.
type State struct {
	Instance
	Chaos
}

// Errors SetChaos wraps, so the control server can pick a status.
var (
	errNotFound = errors.New("not found")
	errInvalid  = errors.New("invalid")
	errClosed   = errors.New("demo cluster is closed")
)

// SetChaos switches every instance of service, or only the instance called
// name when that is not empty, to ch. Leaving ModeCrash listens again on
// the instance's old address; if that fails the instance stays crashed and
// the error says why. Hanging requests are released to answer as the new
// mode says. Changes are serialised; SetChaos blocks only while listeners
// are closed or opened.
func (c *Cluster) SetChaos(service, name string, ch Chaos) error {
	ch, err := ch.normalize()
	if err != nil {
		return fmt.Errorf("demo: %w: %w", errInvalid, err)
	}
	targets := c.find(service, name)
	if len(targets) == 0 {
		if name != "" {
			return fmt.Errorf("demo: instance %q of service %q: %w", name, service, errNotFound)
		}
		return fmt.Errorf("demo: service %q: %w", service, errNotFound)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("demo: set chaos of %s: %w", service, errClosed)
	}
	var errs []error
	for _, in := range targets {
		// The new mode is published before the listener changes, so a
		// request that slips in while it does already sees the new mode.
		in.h.chaos.set(ch)
		switch {
		case ch.Mode == ModeCrash && in.srv != nil:
			// Close, not Shutdown: a crash drops idle and busy connections.
			if err := in.srv.Close(); err != nil {
				errs = append(errs, fmt.Errorf("demo: crash %s: %w", in.Name, err))
			}
			in.srv = nil
		case ch.Mode != ModeCrash && in.srv == nil:
			if err := c.listen(in, in.Addr); err != nil {
				in.h.chaos.set(Chaos{Mode: ModeCrash})
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// find returns the instances of service (only the one called name when
// that is set). c.insts is fixed after Start, so no lock is needed.
func (c *Cluster) find(service, name string) []*instance {
	var out []*instance
	for _, in := range c.insts {
		if in.Service == service && (name == "" || in.Name == name) {
			out = append(out, in)
		}
	}
	return out
}

// States lists every instance's chaos setting, in Instances order.
func (c *Cluster) States() []State {
	out := make([]State, len(c.insts))
	for i, in := range c.insts {
		out[i] = State{Instance: in.Instance, Chaos: in.h.chaos.load().Chaos}
	}
	return out
}

// stateJSON and serviceJSON are the control server's answers; field order
// is the documented JSON order.
type stateJSON struct {
	Instance string `json:"instance"`
	Addr     string `json:"addr"`
	Mode     Mode   `json:"mode"`
	DelayMS  int64  `json:"delay_ms,omitempty"`
}

type serviceJSON struct {
	Service   string      `json:"service"`
	Instances []stateJSON `json:"instances"`
}

// byService groups states by service, keeping their order.
func byService(states []State) []serviceJSON {
	var out []serviceJSON
	for _, s := range states {
		if len(out) == 0 || out[len(out)-1].Service != s.Service {
			out = append(out, serviceJSON{Service: s.Service})
		}
		last := &out[len(out)-1]
		last.Instances = append(last.Instances, stateJSON{
			Instance: s.Name, Addr: s.Addr, Mode: s.Mode, DelayMS: s.Delay.Milliseconds(),
		})
	}
	return out
}

// startControl starts the chaos control server. Called only from Start.
func (c *Cluster) startControl() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo: listen for chaos control: %w", err)
	}
	c.controlAddr = ln.Addr().String()
	c.control = c.newServer(&control{c: c})
	c.serveOn(c.control, ln)
	return nil
}

// control is the chaos control server's handler. It keeps no state of its
// own; the Cluster serialises changes.
type control struct {
	c *Cluster
}

func (h *control) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		writeError(w, http.StatusMethodNotAllowed, "use GET or POST")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/chaos")
	switch {
	case ok && (rest == "" || rest == "/"):
		writeJSON(w, http.StatusOK, map[string][]serviceJSON{"services": byService(h.c.States())})
	case ok && strings.HasPrefix(rest, "/") && !strings.Contains(rest[1:], "/"):
		h.service(w, r, rest[1:])
	default:
		writeError(w, http.StatusNotFound, "try /chaos or /chaos/<service>?mode=ok|slow|error|hang|crash|flaky")
	}
}

// service answers /chaos/<svc>, changing its mode first when ?mode= is set.
func (h *control) service(w http.ResponseWriter, r *http.Request, svc string) {
	if mode := r.FormValue("mode"); mode != "" {
		ch, err := parseChaos(mode, r.FormValue("ms"))
		if err == nil {
			err = h.c.SetChaos(svc, r.FormValue("instance"), ch)
		}
		if err != nil {
			writeError(w, errStatus(err), err.Error())
			return
		}
	}
	var states []State
	for _, s := range h.c.States() {
		if s.Service == svc {
			states = append(states, s)
		}
	}
	if len(states) == 0 {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no demo service %q", svc))
		return
	}
	writeJSON(w, http.StatusOK, byService(states)[0])
}

// parseChaos reads ?mode= and ?ms= (milliseconds, slow mode only).
func parseChaos(mode, ms string) (Chaos, error) {
	m, err := ParseMode(mode)
	if err != nil {
		return Chaos{}, fmt.Errorf("%w: %w", errInvalid, err)
	}
	ch := Chaos{Mode: m}
	if ms == "" {
		return ch, nil
	}
	n, err := strconv.Atoi(ms)
	if err != nil || n < 0 {
		return Chaos{}, fmt.Errorf("%w: ms must be a non-negative integer, not %q", errInvalid, ms)
	}
	// Compared as ints first: a huge ms would overflow a Duration.
	ch.Delay = maxSlow
	if n < int(maxSlow/time.Millisecond) {
		ch.Delay = time.Duration(n) * time.Millisecond
	}
	if ch.Delay == 0 {
		ch.Delay = time.Nanosecond // ms=0 means no delay, not the default
	}
	return ch, nil
}

// errStatus maps SetChaos errors to the control server's status.
func errStatus(err error) int {
	switch {
	case errors.Is(err, errInvalid):
		return http.StatusBadRequest
	case errors.Is(err, errNotFound):
		return http.StatusNotFound
	default:
		return http.StatusInternalServerError
	}
}
