package acl

import (
	"net/netip"
	"testing"
)

func TestListCheck(t *testing.T) {
	l, err := Parse([]string{"allow 10.1.0.0/16", "deny 10.0.0.0/8", "allow 2001:db8::/32", "deny ::ffff:192.0.2.0/120", "allow 198.51.100.7"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ip      string
		allowed bool
		rule    int
	}{
		{"10.1.2.3", true, 0},
		{"10.2.3.4", false, 1},
		{"2001:db8::1", true, 2},
		{"192.0.2.9", false, 3}, // the mapped prefix was unmapped at parse time
		{"198.51.100.7", true, 4},
		{"198.51.100.8", true, NoRule},
		{"::1", true, NoRule},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			ok, rule := l.Check(netip.MustParseAddr(tt.ip))
			if ok != tt.allowed || rule != tt.rule {
				t.Fatalf("Check(%s) = %v, %d; want %v, %d", tt.ip, ok, rule, tt.allowed, tt.rule)
			}
		})
	}
	if got := l.Reason(1); got != "access denied by rule 2 (deny 10.0.0.0/8)" {
		t.Fatalf("Reason(1) = %q", got)
	}
	var none *List
	if ok, rule := none.Check(netip.MustParseAddr("1.2.3.4")); !ok || rule != NoRule {
		t.Fatal("a nil list must allow")
	}
}

func TestParseRuleErrors(t *testing.T) {
	for _, s := range []string{"", "permit 10.0.0.0/8", "allow", "deny 10.0.0.0/33", "allow 10.0.0", "allow fe80::1%eth0", "deny all extra"} {
		t.Run(s, func(t *testing.T) {
			if r, err := ParseRule(s); err == nil {
				t.Fatalf("ParseRule(%q) = %+v, want an error", s, r)
			}
		})
	}
	r, err := ParseRule("deny 10.1.2.3/8")
	if err != nil || r.Text != "deny 10.0.0.0/8" {
		t.Fatalf("host bits: %+v, %v; want masked to 10.0.0.0/8", r, err)
	}
}

func TestSet(t *testing.T) {
	s, err := ParseSet([]string{"127.0.0.1", " 10.0.0.0/8 ", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]bool{"127.0.0.1": true, "127.0.0.2": false, "10.9.9.9": true, "::1": true, "::2": false} {
		if s.Contains(netip.MustParseAddr(ip)) != want {
			t.Errorf("Contains(%s) != %v", ip, want)
		}
	}
	if _, err := ParseSet([]string{"nope"}); err == nil {
		t.Fatal("ParseSet accepted a bad address")
	}
}

func TestCheckDoesNotAllocate(t *testing.T) {
	l, _ := Parse([]string{"allow 10.0.0.0/8", "allow 2001:db8::/32", "deny all"})
	ip := netip.MustParseAddr("192.0.2.1")
	if n := testing.AllocsPerRun(100, func() { l.Check(ip) }); n != 0 {
		t.Fatalf("Check allocates %v times", n)
	}
}

func BenchmarkCheck(b *testing.B) {
	rules := []string{}
	for i := range 32 {
		rules = append(rules, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 16).String())
	}
	for i := range rules {
		rules[i] = "allow " + rules[i]
	}
	l, _ := Parse(append(rules, "deny all"))
	ip := netip.MustParseAddr("192.0.2.1")
	b.ReportAllocs()
	for b.Loop() {
		l.Check(ip)
	}
}
