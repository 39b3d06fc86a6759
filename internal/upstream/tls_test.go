package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"os"
	"testing"
	"time"
)

// TestDialTLSFailuresAreDialErrors: a handshake that fails or stalls is a DialError (a connect failure: the request
// never reached the upstream), and a stall is bounded by the connect timeout.
func TestDialTLSFailuresAreDialErrors(t *testing.T) {
	addr, _ := countingListener(t) // accepts and never speaks: the handshake stalls
	for _, tc := range []struct {
		name    string
		connect time.Duration
	}{
		{"instance connect timeout", 0},
		{"per-call connect timeout", 50 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := NewInstance(addr, 1, false, Options{ConnectTimeout: 50 * time.Millisecond, TLS: &tls.Config{}})
			defer in.Close()
			start := time.Now()
			_, err := in.Dial(context.Background(), tc.connect)
			var de *DialError
			if !errors.As(err, &de) || !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("Dial = %v, want a DialError with a deadline", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("handshake stalled for %v", d)
			}
		})
	}
}

// TestClientTLSServerName: an empty ServerName becomes the instance's host; a set one is kept.
func TestClientTLSServerName(t *testing.T) {
	for _, tc := range []struct{ set, addr, want string }{
		{"", "10.0.0.1:443", "10.0.0.1"},
		{"", "[::1]:8443", "::1"},
		{"", "api.internal:443", "api.internal"},
		{"svc.internal", "10.0.0.1:443", "svc.internal"},
	} {
		t.Run(tc.addr+"/"+tc.set, func(t *testing.T) {
			c := &tls.Config{ServerName: tc.set}
			if got := NewInstance(tc.addr, 1, false, Options{TLS: c}).tls.ServerName; got != tc.want {
				t.Errorf("ServerName = %q, want %q", got, tc.want)
			}
			if c.ServerName != tc.set {
				t.Errorf("shared config modified: %q", c.ServerName)
			}
		})
	}
}
