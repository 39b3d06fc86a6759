package compress

import "testing"

func TestNegotiate(t *testing.T) {
	both, _ := New(Options{Gzip: true, Zstd: true})
	gz, _ := New(Options{Gzip: true})
	cases := []struct {
		p      *Policy
		accept string
		ok     bool
		want   Encoding
	}{
		{both, "", false, None},
		{both, "gzip", true, Gzip},
		{both, "gzip, zstd", true, Zstd},
		{both, "ZSTD;Q=0.1, gzip;q=0.9", true, Gzip},
		{both, "zstd;q=0, gzip;q=0", true, None},
		{both, "*;q=0.5", true, Zstd},
		{both, "*, zstd;q=0", true, Gzip},
		{both, "identity", true, None},
		{both, "x-gzip", true, Gzip},
		{both, "gzip;q=0.000", true, None},
		{both, "gzip;q=garbage", true, Gzip},
		{gz, "zstd", true, None},
		{gz, "zstd, gzip;q=0.1", true, Gzip},
	}
	for _, tc := range cases {
		t.Run(tc.accept, func(t *testing.T) {
			if got := tc.p.Negotiate([]byte(tc.accept), tc.ok); got != tc.want {
				t.Fatalf("Negotiate(%q) = %v, want %v", tc.accept, got, tc.want)
			}
		})
	}
}

func TestEligible(t *testing.T) {
	p, err := New(Options{Gzip: true, Types: []string{"text/*", "application/json"}})
	if err != nil {
		t.Fatal(err)
	}
	for ct, want := range map[string]bool{"text/html; charset=utf-8": true, "TEXT/CSS": true, "application/json": true,
		"application/javascript": false, "image/png": false, "video/mp4": false, "": false} {
		if got := p.Eligible([]byte(ct), ct != ""); got != want {
			t.Errorf("Eligible(%q) = %v, want %v", ct, got, want)
		}
	}
	if _, err := New(Options{Level: 10}); err == nil {
		t.Error("level 10 accepted")
	}
}

func BenchmarkNegotiate(b *testing.B) {
	p, _ := New(Options{Gzip: true, Zstd: true})
	ae := []byte("gzip, deflate, br, zstd")
	b.ReportAllocs()
	for b.Loop() {
		p.Negotiate(ae, true)
	}
}
