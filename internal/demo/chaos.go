package demo

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// Mode is how a demo instance misbehaves. Its values are the ones the
// control server accepts in ?mode=.
type Mode string

// The chaos modes. Each applies to every request an instance receives,
// /healthz included: a real hung or broken process fails its health checks
// too, and watching fjord notice that is the point of the demo.
const (
	ModeOK    Mode = "ok"    // answer normally
	ModeSlow  Mode = "slow"  // wait Chaos.Delay, then answer normally
	ModeError Mode = "error" // answer 500 with a JSON error body
	ModeHang  Mode = "hang"  // read the request, never answer until the mode changes or the client leaves
	ModeCrash Mode = "crash" // stop listening: connections are refused until the mode changes
	ModeFlaky Mode = "flaky" // every second request answers 503
)

// modes lists the valid modes, in the order the docs name them.
var modes = []Mode{ModeOK, ModeSlow, ModeError, ModeHang, ModeCrash, ModeFlaky}

// DefaultSlowDelay is the delay of ModeSlow when Chaos.Delay is zero.
const DefaultSlowDelay = 2 * time.Second

// Chaos is the misbehaviour of one instance. The zero value is ModeOK.
type Chaos struct {
	Mode  Mode
	Delay time.Duration // ModeSlow only: 0 means DefaultSlowDelay; at most 10 s
}

// ParseMode returns the Mode named s, or an error listing the valid ones.
func ParseMode(s string) (Mode, error) {
	for _, m := range modes {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown chaos mode %q (want one of %v)", s, modes)
}

// normalize fills defaults and rejects what the handler cannot do.
func (ch Chaos) normalize() (Chaos, error) {
	if ch.Mode == "" {
		ch.Mode = ModeOK
	}
	if _, err := ParseMode(string(ch.Mode)); err != nil {
		return ch, err
	}
	if ch.Mode != ModeSlow {
		ch.Delay = 0
		return ch, nil
	}
	switch {
	case ch.Delay < 0:
		return ch, fmt.Errorf("slow delay %v is negative", ch.Delay)
	case ch.Delay == 0:
		ch.Delay = DefaultSlowDelay
	case ch.Delay > maxSlow:
		ch.Delay = maxSlow
	}
	return ch, nil
}

// chaosState is the mode of one instance. Its methods are safe for
// concurrent use: handlers read it on every request while the control
// server replaces it.
type chaosState struct {
	cur   atomic.Pointer[chaosNow]
	flaky atomic.Uint64 // requests seen in ModeFlaky, to fail every second one

	// onHang, when set, is called as a request starts waiting in ModeHang.
	// A test hook, atomic because tests set it while the instance serves.
	onHang atomic.Pointer[func()]
}

// chaosNow is one immutable setting. changed is closed when the setting is
// replaced, which is what wakes hanging requests.
type chaosNow struct {
	Chaos
	changed chan struct{}
}

func newChaosState() *chaosState {
	s := &chaosState{}
	s.cur.Store(&chaosNow{Chaos: Chaos{Mode: ModeOK}, changed: make(chan struct{})})
	return s
}

func (s *chaosState) load() *chaosNow { return s.cur.Load() }

// set publishes ch (already normalized) and wakes every request waiting on
// the previous setting. Swap hands each old setting to exactly one caller,
// so each channel is closed once.
func (s *chaosState) set(ch Chaos) {
	old := s.cur.Swap(&chaosNow{Chaos: ch, changed: make(chan struct{})})
	if ch.Mode == ModeFlaky && old.Mode != ModeFlaky {
		s.flaky.Store(0)
	}
	close(old.changed)
}

// misbehave applies the instance's chaos to one request. It returns true
// when the request has been answered (or abandoned) and the handler must
// stop; false means answer normally. It blocks in ModeSlow and ModeHang,
// until the delay passes, the mode changes (hang only), or the request's
// context ends (client gone or Cluster.Close).
func (s *chaosState) misbehave(w http.ResponseWriter, r *http.Request, inst Instance) bool {
	for {
		now := s.load()
		switch now.Mode {
		case ModeSlow:
			t := time.NewTimer(now.Delay)
			select {
			case <-t.C:
				return false
			case <-r.Context().Done():
				t.Stop()
				dropConn(w)
				return true
			}
		case ModeError:
			writeError(w, http.StatusInternalServerError, fmt.Sprintf("demo chaos: %s is in error mode", inst.Name))
			return true
		case ModeFlaky:
			if s.flaky.Add(1)%2 == 0 {
				writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("demo chaos: %s is flaky", inst.Name))
				return true
			}
			return false
		case ModeHang:
			if f := s.onHang.Load(); f != nil {
				(*f)()
			}
			select {
			case <-now.changed:
				continue // answer as the new mode says
			case <-r.Context().Done():
				// The client left or the cluster is closing. Returning
				// normally would let net/http send an empty 200, so the
				// connection goes away unanswered instead.
				dropConn(w)
				return true
			}
		case ModeCrash:
			// Only a request that raced the listener's close lands here;
			// drop its connection as a crashed process would.
			dropConn(w)
			return true
		default:
			return false
		}
	}
}

// dropConn closes the request's connection without an answer, as a crashed
// or killed process would.
func dropConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (never the case for these HTTP/1 servers): a bare
		// 503 is the closest honest answer.
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	_ = conn.Close() // nothing to report to: the point is that it goes away
}
