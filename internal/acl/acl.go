// Package acl holds fjord's IP access rules: ordered allow/deny lists (nginx's allow/deny, first match wins) and
// plain prefix sets (trusted proxies). Both are compiled once from text and are immutable afterwards, so any number
// of goroutines may check addresses against them without locking; a check does not allocate.
package acl

import (
	"fmt"
	"net/netip"
	"strings"
)

// Rule is one line of a List: allow or deny the addresses in Prefix (every address when All).
type Rule struct {
	Deny   bool
	All    bool
	Prefix netip.Prefix // masked; invalid when All
	Text   string       // the rule as written, normalised ("deny 10.0.0.0/8"), for logs
	// Reason is what a refusal by this rule logs, built once so that a denial allocates nothing.
	Reason string
}

// Matches reports whether ip falls under r.
func (r *Rule) Matches(ip netip.Addr) bool {
	return r.All || r.Prefix.Contains(ip)
}

// List is an ordered allow/deny list. The zero value (and nil) allows everything.
type List struct {
	rules []Rule
}

// NoRule is what Check returns as the rule index when no rule matched.
const NoRule = -1

// Parse compiles rules written as "allow CIDR", "deny CIDR", "allow all" or "deny all" (a bare address is a /32 or
// /128). The first rule that matches an address decides; an address that matches none is allowed, as in nginx.
func Parse(rules []string) (*List, error) {
	l := &List{rules: make([]Rule, 0, len(rules))}
	for i, s := range rules {
		r, err := ParseRule(s)
		if err != nil {
			return nil, fmt.Errorf("rule %d: %w", i+1, err)
		}
		r.Reason = fmt.Sprintf("access denied by rule %d (%s)", i+1, r.Text)
		l.rules = append(l.rules, r)
	}
	return l, nil
}

// ParseRule compiles one rule (see Parse).
func ParseRule(s string) (Rule, error) {
	verb, arg, _ := strings.Cut(strings.TrimSpace(s), " ")
	arg = strings.TrimSpace(arg)
	var r Rule
	switch verb {
	case "allow":
	case "deny":
		r.Deny = true
	default:
		return Rule{}, fmt.Errorf("invalid access rule %q: want \"allow CIDR\", \"deny CIDR\", \"allow all\" or \"deny all\"", s)
	}
	if arg == "all" {
		r.All = true
		r.Text = verb + " all"
		return r, nil
	}
	p, err := ParsePrefix(arg)
	if err != nil {
		return Rule{}, fmt.Errorf("invalid access rule %q: %w", s, err)
	}
	r.Prefix = p
	r.Text = verb + " " + p.String()
	return r, nil
}

// ParsePrefix reads a CIDR ("10.0.0.0/8", "2001:db8::/32") or a single address. Host bits are masked off, and an
// IPv4-mapped IPv6 prefix becomes its IPv4 form, because client addresses are compared unmapped.
func ParsePrefix(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, fmt.Errorf("empty address")
	}
	if strings.Contains(s, "%") {
		return netip.Prefix{}, fmt.Errorf("address %q: zones are not allowed", s)
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("address %q: %w", s, err)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("CIDR %q: %w", s, err)
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// Check returns whether ip is allowed and the index of the rule that decided (NoRule when none matched: allowed).
// ip should be unmapped (an IPv4 client as IPv4). An invalid ip (a connection that is not TCP) matches only "all"
// rules.
func (l *List) Check(ip netip.Addr) (allowed bool, rule int) {
	if l == nil {
		return true, NoRule
	}
	for i := range l.rules {
		if l.rules[i].Matches(ip) {
			return !l.rules[i].Deny, i
		}
	}
	return true, NoRule
}

// Rule returns the text of rule i as Check returned it ("" for NoRule).
func (l *List) Rule(i int) string {
	if l == nil || i < 0 || i >= len(l.rules) {
		return ""
	}
	return l.rules[i].Text
}

// Reason returns the log reason of rule i ("" for NoRule).
func (l *List) Reason(i int) string {
	if l == nil || i < 0 || i >= len(l.rules) {
		return ""
	}
	return l.rules[i].Reason
}

// Len is the number of rules.
func (l *List) Len() int {
	if l == nil {
		return 0
	}
	return len(l.rules)
}

// String lists the rules, "; "-separated, for explanations and logs.
func (l *List) String() string {
	if l == nil {
		return ""
	}
	parts := make([]string, len(l.rules))
	for i := range l.rules {
		parts[i] = l.rules[i].Text
	}
	return strings.Join(parts, "; ")
}

// Set is an unordered set of prefixes (trusted proxies). The zero value (and nil) contains nothing.
type Set struct {
	prefixes []netip.Prefix
}

// ParseSet compiles CIDRs or single addresses (see ParsePrefix).
func ParseSet(cidrs []string) (*Set, error) {
	s := &Set{prefixes: make([]netip.Prefix, 0, len(cidrs))}
	for _, c := range cidrs {
		p, err := ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			return nil, err
		}
		s.prefixes = append(s.prefixes, p)
	}
	return s, nil
}

// Contains reports whether ip is in one of the prefixes.
func (s *Set) Contains(ip netip.Addr) bool {
	if s == nil {
		return false
	}
	for _, p := range s.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Empty reports whether the set has no prefixes.
func (s *Set) Empty() bool { return s == nil || len(s.prefixes) == 0 }
