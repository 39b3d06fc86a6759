package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestSampleNew checks the ratio bound on trace ids at the edges of the range.
func TestSampleNew(t *testing.T) {
	low := [16]byte{}                                                   // last 8 bytes 0: below any bound but 0
	high := [16]byte{8: 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff} // above any bound but 1
	mid := [16]byte{8: 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}  // just under half the range
	tests := []struct {
		ratio          float64
		low, mid, high bool
	}{
		{0, false, false, false},
		{0.5, true, true, false},
		{0.25, true, false, false},
		{1, true, true, true},
	}
	for _, tt := range tests {
		tr := &Tracer{threshold: ratioThreshold(tt.ratio)}
		if got := [3]bool{tr.SampleNew(&low), tr.SampleNew(&mid), tr.SampleNew(&high)}; got != [3]bool{tt.low, tt.mid, tt.high} {
			t.Errorf("ratio %v: sampled low/mid/high = %v", tt.ratio, got)
		}
	}
}

// TestQueueFullDrops: with the collector stuck on the first batch, Export neither blocks nor queues past the bound;
// every span is either exported or counted as dropped.
func TestQueueFullDrops(t *testing.T) {
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer ts.Close()
	tr, err := New(Options{Endpoint: ts.URL, SampleRatio: 1, QueueSize: 4, BatchTimeout: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	start := time.Now()
	for i := range n {
		s := Span{Name: "r", Start: start, End: start.Add(time.Millisecond), Status: 200}
		s.TraceID[0], s.SpanID[0] = byte(i), byte(i)|1
		tr.Export(&s)
	}
	if d := tr.Stats().Dropped; d < n-4 {
		t.Errorf("dropped %d of %d with a queue of 4", d, n)
	}
	close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if st := tr.Stats(); st.Exported+st.Failed+st.Dropped != n {
		t.Errorf("stats %+v do not add up to %d", st, n)
	}
}

func TestNewRejects(t *testing.T) {
	for _, o := range []Options{{}, {Endpoint: "127.0.0.1:4318"}, {Endpoint: "http://h:4318", SampleRatio: 2}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}
