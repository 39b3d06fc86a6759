// Package shadow mirrors requests to a shadow service in the background and compares its answers with the primary's.
//
// The client only ever sees the primary. The proxy hands a Mirror a copy of the request (head and a body kept in
// memory) together with a copy of the primary's response once its head is relayed; Send then runs the shadow
// exchange on its own goroutine, under the mirror's own concurrency cap (over it the copy is dropped, never queued)
// and timeout, over the shadow service's pooled instance connections, and records the comparison in Stats.
package shadow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fjord-gw/fjord/internal/http1"
	"github.com/fjord-gw/fjord/internal/upstream"
)

// Picker picks the shadow service's instance for a request (upstream.Pool does).
type Picker interface {
	Pick(key uint64) *upstream.Instance
}

// Options configure a Mirror.
type Options struct {
	Route, Service string // names, for logs and samples
	// Percent of the eligible requests mirrored, 1..100.
	Percent int
	// Methods are the methods mirrored (upper case); a request with another method is not.
	Methods []string
	// MaxBodyBytes caps the request body mirrored and the response bodies compared: a request whose body is
	// larger (or streams) is not mirrored; a response whose body is larger is not compared.
	MaxBodyBytes int
	// MaxConcurrent shadow exchanges at once; more are dropped.
	MaxConcurrent int
	// Timeout bounds one shadow exchange, connect to last body byte.
	Timeout time.Duration
	// Headers are the response headers compared (case-insensitive names).
	Headers []string
	// IgnoreJSONFields are JSON object keys left out of a body comparison: a bare name ("updated_at") at any
	// depth, a dotted path ("meta.request_id") from the top.
	IgnoreJSONFields []string
	Log              *slog.Logger
}

// Mirror sends copies of one route's requests to its shadow service. Safe for concurrent use.
type Mirror struct {
	opts     Options
	pool     Picker
	stats    *Stats
	inflight atomic.Int32
	methods  uint16 // bit per known method (methodBit); other methods are looked up in opts.Methods
	wg       sync.WaitGroup
	// ctx ends every exchange in flight when the mirror is closed (Close).
	ctx    context.Context
	cancel context.CancelFunc
}

// New returns a mirror over pool counting into stats (carried over reloads by the owner; nil: fresh counters).
func New(opts Options, pool Picker, stats *Stats) *Mirror {
	if stats == nil {
		stats = NewStats(0)
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 16
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 64 << 10
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	m := &Mirror{opts: opts, pool: pool, stats: stats}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	for _, name := range opts.Methods {
		m.methods |= methodBit(name)
	}
	return m
}

// Stats are the mirror's counters.
func (m *Mirror) Stats() *Stats { return m.stats }

// MaxBodyBytes is the largest body mirrored or compared.
func (m *Mirror) MaxBodyBytes() int { return m.opts.MaxBodyBytes }

// Headers are the response headers compared.
func (m *Mirror) Headers() []string { return m.opts.Headers }

func methodBit(m string) uint16 {
	for i, k := range [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
		if m == k {
			return 1 << i
		}
	}
	return 1 << 15
}

// Wants reports whether a request with this method is mirrored: an allowed method, and sampled in. No allocation.
func (m *Mirror) Wants(method []byte) bool {
	bit := methodBit(string(method))
	if m.methods&bit == 0 {
		return false
	}
	if bit == 1<<15 && !m.otherMethod(string(method)) {
		return false
	}
	return m.opts.Percent >= 100 || rand.IntN(100) < m.opts.Percent
}

func (m *Mirror) otherMethod(method string) bool {
	for _, k := range m.opts.Methods {
		if k == method {
			return true
		}
	}
	return false
}

// Request is a copy of a mirrored request, owned by the mirror once sent.
type Request struct {
	Method, URI string
	Head        []byte // the upstream request head, as sent to the primary
	Body        []byte
}

// Response is one side's answer as compared: status, the compared headers, and the body when Complete.
type Response struct {
	Status   int         `json:"status"`
	Headers  [][2]string `json:"headers,omitempty"`
	Body     []byte      `json:"-"`
	Complete bool        `json:"-"` // the whole body is in Body
}

// Skip counts a request that was eligible but could not be mirrored (its body streamed or was too large).
func (m *Mirror) Skip() { m.stats.Skipped.Add(1) }

// Send mirrors req in the background and compares the shadow's answer with primary. Over MaxConcurrent the
// request is dropped at once. Send never blocks.
func (m *Mirror) Send(req Request, primary Response) {
	if m.ctx.Err() != nil { // closed by a reload or shutdown
		m.stats.Dropped.Add(1)
		return
	}
	if m.inflight.Add(1) > int32(m.opts.MaxConcurrent) {
		m.inflight.Add(-1)
		m.stats.Dropped.Add(1)
		return
	}
	m.stats.Mirrored.Add(1)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer m.inflight.Add(-1)
		ctx, cancel := context.WithTimeout(m.ctx, m.opts.Timeout)
		defer cancel()
		sh, err := m.exchange(ctx, &req)
		if err != nil {
			m.stats.fail(err)
			m.opts.Log.Debug("shadow request failed", "route", m.opts.Route, "service", m.opts.Service, "err", err)
			return
		}
		m.record(&req, &primary, sh)
	}()
}

// Close ends the shadow exchanges in flight (their connections are closed) and waits for their goroutines.
// Send must not be called afterwards.
func (m *Mirror) Close() {
	m.cancel()
	m.wg.Wait()
}

// InFlight is the number of shadow exchanges running.
func (m *Mirror) InFlight() int { return int(m.inflight.Load()) }

// record compares and counts one pair.
func (m *Mirror) record(req *Request, primary, sh *Response) {
	if !primary.Complete || !sh.Complete {
		m.stats.NotCompared.Add(1)
		return
	}
	diffs := compare(primary, sh, m.opts.Headers, m.opts.IgnoreJSONFields)
	if len(diffs) == 0 {
		m.stats.Match.Add(1)
		return
	}
	m.stats.Mismatch.Add(1)
	m.stats.add(Sample{Time: time.Now(), Method: req.Method, URI: req.URI, Diffs: diffs,
		Primary: side(primary), Shadow: side(sh)})
}

// exchange sends req to an instance of the shadow service and reads its answer (body up to MaxBodyBytes).
func (m *Mirror) exchange(ctx context.Context, req *Request) (*Response, error) {
	inst := m.pool.Pick(rand.Uint64())
	if inst == nil {
		return nil, errors.New("no usable instance in the shadow service")
	}
	deadline, _ := ctx.Deadline()
	uc, err := inst.Get(ctx, time.Until(deadline))
	if err != nil {
		return nil, err
	}
	inst.Begin()
	defer inst.End()
	resp, err := m.try(ctx, uc, req, deadline)
	if err != nil && uc.Reused && ctx.Err() == nil && !isTimeout(err) {
		// An idle connection the shadow closed meanwhile: once more on a fresh one.
		if uc, err = inst.Dial(ctx, time.Until(deadline)); err != nil {
			return nil, err
		}
		resp, err = m.try(ctx, uc, req, deadline)
	}
	return resp, err
}

// try runs one exchange over uc and settles uc (pooled when reusable, else closed). A closed mirror or the
// timeout closes uc at once, which unblocks a read.
func (m *Mirror) try(ctx context.Context, uc *upstream.Conn, req *Request, deadline time.Time) (*Response, error) {
	stop := context.AfterFunc(ctx, func() { _ = uc.Close() })
	resp, reusable, err := m.roundTrip(uc, req, deadline)
	if !stop() || err != nil || !reusable {
		_ = uc.Close()
	} else {
		uc.Instance().Put(uc)
	}
	return resp, err
}

// roundTrip writes the request and reads the response over uc.
func (m *Mirror) roundTrip(uc *upstream.Conn, req *Request, deadline time.Time) (*Response, bool, error) {
	if err := uc.Set(0, deadline); err != nil {
		return nil, false, fmt.Errorf("set deadline: %w", err)
	}
	msg := make([]byte, 0, len(req.Head)+len(req.Body))
	msg = append(append(msg, req.Head...), req.Body...)
	if _, err := uc.Write(msg); err != nil {
		return nil, false, fmt.Errorf("send request: %w", err)
	}
	var h http1.Response
	if err := http1.ReadResponse(uc.R, &h, req.Method == "HEAD", http1.Limits{}); err != nil {
		return nil, false, fmt.Errorf("read response head: %w", err)
	}
	for h.Status < 200 && h.Status != 101 { // interim responses are skipped
		uc.R.Discard(h.HeadLen)
		if err := http1.ReadResponse(uc.R, &h, req.Method == "HEAD", http1.Limits{}); err != nil {
			return nil, false, fmt.Errorf("read response head: %w", err)
		}
	}
	resp := &Response{Status: h.Status, Headers: pickHeaders(h.Headers, m.opts.Headers)}
	uc.R.Discard(h.HeadLen)
	if h.Status == 101 {
		return resp, false, nil
	}
	body := capped{max: m.opts.MaxBodyBytes}
	scratch := make([]byte, 16<<10)
	if _, err := http1.CopyBody(&body, uc.R, h.Framing, h.ContentLength, bodyOut(h.Framing), scratch); err != nil {
		return nil, false, fmt.Errorf("read response body: %w", err)
	}
	resp.Body, resp.Complete = body.b, !body.over
	return resp, !h.Close && h.Framing != http1.FramingUntilClose, nil
}

// bodyOut is the framing CopyBody writes a body in to get its payload bytes only.
func bodyOut(in http1.Framing) http1.Framing {
	if in == http1.FramingLength {
		return http1.FramingLength
	}
	return http1.FramingUntilClose
}

// capped keeps up to max bytes and counts the rest away.
type capped struct {
	b    []byte
	max  int
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	keep := p
	if room := c.max - len(c.b); len(p) > room {
		c.over = true
		keep = p[:max(room, 0)]
	}
	c.b = append(c.b, keep...)
	return len(p), nil
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

// pickHeaders copies the values of the named headers, in the order of names (several values joined by ", ").
func pickHeaders(hs []http1.Header, names []string) [][2]string {
	var out [][2]string
	for _, name := range names {
		var vals []string
		for i := range hs {
			if strings.EqualFold(string(hs[i].Name), name) {
				vals = append(vals, string(hs[i].Value))
			}
		}
		if len(vals) > 0 {
			out = append(out, [2]string{name, strings.Join(vals, ", ")})
		}
	}
	return out
}

// PickHeaders is pickHeaders for the proxy's copy of the primary's response.
func PickHeaders(hs []http1.Header, names []string) [][2]string { return pickHeaders(hs, names) }

// ServiceName is the name of the service the mirror sends copies to.
func (m *Mirror) ServiceName() string { return m.opts.Service }
