package app

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fjord-gw/fjord/internal/config"
	"github.com/fjord-gw/fjord/internal/tracing"
)

// tracerFlushTimeout bounds how long a retired tracer may take to export what it has queued.
const tracerFlushTimeout = 5 * time.Second

// tracerSpec identifies a tracing section: a reload that keeps it keeps the running tracer and its queue.
func tracerSpec(t *config.Tracing) string {
	if t == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(t.OTLPEndpoint + "\x00" + strconv.FormatFloat(t.SampleRatioValue(), 'g', -1, 64) + "\x00" + t.ServiceName)
	for _, k := range slices.Sorted(maps.Keys(t.Headers)) {
		b.WriteString("\x00" + k + "\x00" + t.Headers[k])
	}
	return b.String()
}

// openTracer returns the tracer for b's tracing section: the running one when the section is unchanged, a new
// one when it changed, nil when tracing is off. The caller owns a new tracer until it is installed (setTracer).
func (a *App) openTracer(b *Built) (*tracing.Tracer, error) {
	t := b.Config.Tracing
	if spec := tracerSpec(t); spec == a.tracerSpec {
		return a.tracer, nil
	} else if spec == "" {
		return nil, nil
	}
	tr, err := tracing.New(tracing.Options{Endpoint: t.OTLPEndpoint, SampleRatio: t.SampleRatioValue(),
		ServiceName: t.ServiceName, Headers: t.Headers, Logger: a.log})
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	return tr, nil
}

// setTracer installs tr (after the snapshot using it is in force) and retires the previous tracer if it differs:
// it flushes its queue and stops in the background, joined by shutdown. Requests still in flight under the old
// snapshot export nothing more (their spans are dropped by the stopped tracer).
func (a *App) setTracer(tr *tracing.Tracer, spec string) {
	old := a.tracer
	a.tracer, a.tracerSpec = tr, spec
	if old == nil || old == tr {
		return
	}
	a.tracerStops.Add(1)
	go func() {
		defer a.tracerStops.Done()
		a.stopTracer(old)
	}()
}

// stopTracer flushes and stops tr within tracerFlushTimeout, and logs what it exported and lost.
func (a *App) stopTracer(tr *tracing.Tracer) {
	ctx, cancel := context.WithTimeout(context.Background(), tracerFlushTimeout)
	defer cancel()
	err := tr.Shutdown(ctx)
	st := tr.Stats()
	a.log.Info("tracing: exporter stopped", "exported", st.Exported, "failed", st.Failed, "dropped", st.Dropped,
		"err", err)
}

// closeTracer stops the tracer in force and waits until every retired tracer has flushed and stopped.
func (a *App) closeTracer() {
	a.setTracer(nil, "")
	a.tracerStops.Wait()
}
