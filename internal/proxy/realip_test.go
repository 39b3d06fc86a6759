package proxy

import (
	"net/netip"
	"testing"

	"github.com/fjord-gw/fjord/internal/acl"
	"github.com/fjord-gw/fjord/internal/http1"
)

func TestRealIPFromHeaders(t *testing.T) {
	trusted, err := acl.ParseSet([]string{"10.0.0.0/8", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		values    []string // X-Forwarded-For header lines, in order
		recursive bool
		want      string // "" = none found
	}{
		{"single", []string{"203.0.113.7"}, true, "203.0.113.7"},
		{"skips trusted hops", []string{"198.51.100.1, 203.0.113.7, 10.0.0.2, 10.0.0.1"}, true, "203.0.113.7"},
		{"not recursive", []string{"203.0.113.7, 10.0.0.2"}, false, "10.0.0.2"},
		{"all trusted: leftmost", []string{"10.0.0.3,10.0.0.2"}, true, "10.0.0.3"},
		{"later line first", []string{"198.51.100.1", "10.0.0.2"}, true, "198.51.100.1"},
		{"empty elements skipped", []string{" , 203.0.113.7 ,, "}, true, "203.0.113.7"},
		{"garbage stops", []string{"203.0.113.7, junk, 10.0.0.2"}, true, "10.0.0.2"},
		{"garbage first", []string{"junk"}, true, ""},
		{"ipv4 with port", []string{"203.0.113.7:5555"}, true, "203.0.113.7"},
		{"ipv6 bracketed with port", []string{"[2001:db8::7]:443"}, true, "2001:db8::7"},
		{"ipv6 bare", []string{"2001:db8::7"}, true, "2001:db8::7"},
		{"mapped unmapped", []string{"::ffff:203.0.113.7"}, true, "203.0.113.7"},
		{"zone refused", []string{"fe80::1%eth0"}, true, ""},
		{"none", nil, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &http1.Request{}
			req.Headers = append(req.Headers, http1.Header{Name: []byte("Accept"), Value: []byte("*/*")})
			for _, v := range tt.values {
				req.Headers = append(req.Headers, http1.Header{Name: []byte("x-forwarded-for"), Value: []byte(v)})
			}
			ri := &RealIP{Trusted: trusted, Header: "X-Forwarded-For", Recursive: tt.recursive}
			a, ok := realIPFromHeaders(req, ri)
			got := ""
			if ok {
				got = a.String()
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestResolveClientDoesNotAllocate keeps the per-request client resolution and access check off the heap, trusted
// path with a long X-Forwarded-For included.
func TestResolveClientDoesNotAllocate(t *testing.T) {
	trusted, _ := acl.ParseSet([]string{"10.0.0.0/8", "127.0.0.1"})
	list, _ := acl.Parse([]string{"allow 10.0.0.0/8", "deny 203.0.113.0/24"})
	cfg := &Config{RealIP: RealIP{Trusted: trusted, Header: "X-Forwarded-For", Recursive: true}}
	c := &conn{client: netip.MustParseAddrPort("127.0.0.1:5000")}
	c.req.Headers = append(c.req.Headers, http1.Header{Name: []byte("X-Forwarded-For"),
		Value: []byte("198.51.100.1, [2001:db8::7]:443, 203.0.113.7, 10.0.0.2, 10.0.0.1")})
	rt := &Route{Access: list}
	n := testing.AllocsPerRun(100, func() {
		c.resolveClient(cfg)
		if !c.accessDenied(rt) {
			t.Fatal("203.0.113.7 not denied")
		}
	})
	if n != 0 {
		t.Fatalf("resolveClient+accessDenied allocate %v times per request", n)
	}
}

func FuzzRealIP(f *testing.F) {
	trusted, _ := acl.ParseSet([]string{"10.0.0.0/8"})
	f.Add("198.51.100.1, 203.0.113.7, 10.0.0.2")
	f.Add("[2001:db8::7]:443,,")
	f.Fuzz(func(t *testing.T, v string) {
		req := &http1.Request{Headers: []http1.Header{{Name: []byte("X-Forwarded-For"), Value: []byte(v)}}}
		a, ok := realIPFromHeaders(req, &RealIP{Trusted: trusted, Header: "X-Forwarded-For", Recursive: true})
		if ok && (!a.IsValid() || a.Zone() != "" || a.Is4In6()) {
			t.Fatalf("%q gave %v", v, a)
		}
	})
}
