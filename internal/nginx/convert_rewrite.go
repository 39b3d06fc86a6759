package nginx

import (
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
)

// rewriteRule is one parsed `rewrite REGEX REPLACEMENT [FLAG]` directive.
type rewriteRule struct {
	d        *Directive
	re       string // the nginx (PCRE) regex, untranslated
	repl     string // the nginx replacement, untranslated
	flag     string // "", "last", "break", "redirect" or "permanent"
	redirect int    // 301 or 302 when the rewrite answers with a redirect, else 0
}

// parseRewrite checks a rewrite directive's arguments. The regex must be one
// that RE2 runs with PCRE's meaning (translateRegex's rules).
func (c *converter) parseRewrite(d *Directive) (*rewriteRule, bool) {
	if !c.nargs(d, 2, 3) {
		return nil, false
	}
	rw := &rewriteRule{d: d, re: d.Args[0].Value, repl: d.Args[1].Value}
	if len(d.Args) == 3 {
		rw.flag = d.Args[2].Value
	}
	if _, err := translateRegex(rw.re, false); err != "" {
		c.errorf(d.Args[0].Pos, "rewrite regex %q: %s", rw.re, err)
		return nil, false
	}
	switch rw.flag {
	case "redirect":
		rw.redirect = 302
	case "permanent":
		rw.redirect = 301
	case "", "last", "break":
		// nginx redirects (302) whatever the flag when the replacement is
		// an absolute URL.
		for _, p := range []string{"http://", "https://", "$scheme"} {
			if strings.HasPrefix(rw.repl, p) {
				rw.redirect = 302
			}
		}
	default:
		c.errorf(d.Args[2].Pos, `invalid parameter %q in "rewrite" directive`, rw.flag)
		return nil, false
	}
	return rw, true
}

// onlyRewrite returns the single rewrite of a level, or reports that more
// than one is not supported (nginx runs them in sequence, which a route's
// single replace_path cannot express).
func (c *converter) onlyRewrite(rws []*Directive) (*rewriteRule, bool) {
	if len(rws) == 0 {
		return nil, true
	}
	if len(rws) > 1 {
		c.errorf(rws[1].Pos, "more than one rewrite in a block: not supported yet")
		return nil, false
	}
	return c.parseRewrite(rws[0])
}

// serverRewrite converts a server-level rewrite, which nginx runs before it
// looks for a location. Only a redirect of every path is converted: it
// answers every request of the server, like a server-level return.
func (c *converter) serverRewrite(rw *rewriteRule, si *serverInfo) bool {
	if rw.redirect == 0 {
		c.errorf(rw.d.Pos, "server-level rewrite ... %s: not supported yet (fjord cannot prove which location "+
			"the rewritten URI reaches)", flagName(rw.flag))
		return false
	}
	r := &route{kind: "path_prefix", path: "/", pos: rw.d.Pos}
	if !matchesAll(rw.re, r) {
		c.errorf(rw.d.Args[0].Pos, "server-level rewrite redirect of only some paths: not supported yet")
		return false
	}
	if !c.redirectRoute(r, rw, nil, si) {
		return false
	}
	c.addRoute(r, si)
	if len(si.d.Find("location")) > 0 {
		c.diag(rw.d.Pos, SeverityInfo, "server-level rewrite redirects every request: the locations are unreachable")
	}
	return true
}

func flagName(f string) string {
	if f == "" {
		return "(no flag)"
	}
	return f
}

// locationRewrite applies the location's rewrite to its route r before the
// route is finished. It reports whether r became a redirect (a return
// route) and whether conversion may go on.
func (c *converter) locationRewrite(rw *rewriteRule, r *route, l *Directive, pass, ret *Directive,
	si *serverInfo) (redirected, ok bool) {
	if ret != nil {
		c.errorf(rw.d.Pos, "rewrite together with return in one location: not supported yet")
		return false, false
	}
	if rw.redirect != 0 {
		return c.locationRedirect(rw, r, si)
	}
	if pass == nil {
		c.errorf(rw.d.Pos, "rewrite ... %s without proxy_pass: not supported yet", flagName(rw.flag))
		return false, false
	}
	if strings.Contains(rw.repl, "?") {
		c.errorf(rw.d.Args[1].Pos, "rewrite replacement with a query string: not supported yet")
		return false, false
	}
	with, ok := goReplacement(rw.repl)
	if !ok {
		c.errorf(rw.d.Args[1].Pos, "rewrite replacement %q: only $1-style captures are supported in it yet", rw.repl)
		return false, false
	}
	if rw.flag != "break" && !c.staysInLocation(rw, r, l, si) {
		return false, false
	}
	r.replRegex, r.replWith = "^(?s:.*?)(?:"+rw.re+")(?s:.*)$", with
	return false, true
}

// locationRedirect makes r a redirect route when the rewrite's regex
// matches every path of the location. An exact location has one path, so
// its captures are known now; otherwise the Location must not need any,
// because fjord's return templates cannot see regex captures.
func (c *converter) locationRedirect(rw *rewriteRule, r *route, si *serverInfo) (bool, bool) {
	if r.kind == "path" {
		m := regexp.MustCompile(rw.re).FindStringSubmatch(r.path)
		if m == nil {
			c.diag(rw.d.Pos, SeverityInfo, "rewrite never matches %s: ignored", r.path)
			return false, true
		}
		return true, c.redirectRoute(r, rw, m, si)
	}
	if !matchesAll(rw.re, r) {
		c.errorf(rw.d.Args[0].Pos, "rewrite redirect of only some paths of a location: not supported yet "+
			"(write it as its own location)")
		return false, false
	}
	return true, c.redirectRoute(r, rw, nil, si)
}

// redirectRoute turns r into the redirect the rewrite answers with. caps
// are the regex's submatches when known at conversion time, else nil: then
// the route's templates take them from the rewrite regex (r.captures), which
// provably matches every path of r (matchesAll).
func (c *converter) redirectRoute(r *route, rw *rewriteRule, caps []string, si *serverInfo) bool {
	loc, drop := strings.CutSuffix(rw.repl, "?")
	if !drop && strings.Contains(loc, "?") {
		// nginx appends "&args" only when the request has a query; a
		// template cannot add the & conditionally.
		c.errorf(rw.d.Args[1].Pos, "rewrite redirect with a query string that also keeps the request's: "+
			"not supported yet (end the replacement with ? to drop the request's)")
		return false
	}
	if caps == nil {
		r.captures = rw.re
	}
	var b strings.Builder
	for i := 0; i < len(loc); i++ {
		if loc[i] == '$' && i+1 < len(loc) && loc[i+1] >= '0' && loc[i+1] <= '9' && caps != nil {
			n := int(loc[i+1] - '0')
			if n < len(caps) {
				b.WriteString(strings.ReplaceAll(caps[n], "$", "$$")) // a literal for template()
			}
			i++
			continue
		}
		b.WriteByte(loc[i])
	}
	text, ok := c.template(b.String(), rw.d.Pos, si, "", r)
	if !ok {
		return false
	}
	if !drop {
		text += "${is_args}${query}" // nginx keeps the request's query
	}
	if !strings.Contains(text, "${") {
		r.captures = ""
	}
	r.isReturn, r.retStatus, r.retLocation = true, rw.redirect, text
	return true
}

// goReplacement translates an nginx replacement whose only variables are
// the captures $0..$9 into Go's regexp replacement syntax.
func goReplacement(repl string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		switch {
		case repl[i] != '$':
			b.WriteByte(repl[i])
		case i+1 < len(repl) && repl[i+1] >= '0' && repl[i+1] <= '9':
			// ${1}, not $1: Go would read "$1x" as the group named "1x".
			b.WriteString("${" + repl[i+1:i+2] + "}")
			i++
		default:
			if name, _ := varAt(repl[i:]); name != "" {
				return "", false
			}
			b.WriteString("$$")
		}
	}
	return b.String(), true
}

// staysInLocation proves that the URI a `last` rewrite produces is handled by
// the same location and is not rewritten again (nginx would loop and answer
// 500): the replacement starts with a literal under the location's path,
// no other location of the server can claim such a URI, and the rewrite
// regex can only match paths that begin with an unrelated literal.
func (c *converter) staysInLocation(rw *rewriteRule, r *route, l *Directive, si *serverInfo) bool {
	fail := func(why string) bool {
		c.errorf(rw.d.Pos, "rewrite ... %s: not supported yet (%s)", flagName(rw.flag), why)
		return false
	}
	lit, _, _ := strings.Cut(rw.repl, "$")
	if r.kind != "path_prefix" || !strings.HasPrefix(lit, r.path) {
		return fail("the rewritten URI must start with the location's own prefix " + strconv.Quote(r.path))
	}
	if len(l.Find("location")) > 0 || r.nested {
		return fail("the location is nested or has nested locations")
	}
	reLit, anchored := literalPrefix(rw.re)
	if !anchored || strings.HasPrefix(lit, reLit) || strings.HasPrefix(reLit, lit) {
		return fail("the rewritten URI could match the rewrite again")
	}
	claimed := false
	Walk(si.d.Block, func(d *Directive) bool {
		if d.Name != "location" || d == l {
			return true
		}
		v := d.Values()
		p := v[len(v)-1]
		switch {
		case len(v) == 2 && (v[0] == "~" || v[0] == "~*"):
			claimed = claimed || !r.prefixFirst
		case len(v) == 2 && v[0] == "=":
			claimed = claimed || strings.HasPrefix(p, lit)
		default:
			claimed = claimed || len(p) > len(r.path) && (strings.HasPrefix(p, lit) || strings.HasPrefix(lit, p))
		}
		return true
	})
	if claimed {
		return fail("another location of the server could handle the rewritten URI")
	}
	return true
}

// literalPrefix returns the literal text a regex begins with after ^, and
// whether it is anchored at all.
func literalPrefix(re string) (string, bool) {
	p, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return "", false
	}
	subs := []*syntax.Regexp{p}
	if p.Op == syntax.OpConcat {
		subs = p.Sub
	}
	if len(subs) == 0 || subs[0].Op != syntax.OpBeginText {
		return "", false
	}
	if len(subs) > 1 && subs[1].Op == syntax.OpLiteral && subs[1].Flags&syntax.FoldCase == 0 {
		return string(subs[1].Rune), true
	}
	return "", true
}

// matchesAll reports whether the rewrite regex re provably matches every
// path of route r: for a prefix route, re is an optional ^, an optional
// literal that begins r's path, then nothing, .* or (.*), then an optional
// $; for a regex route, re is the location's own regex. (A path holding a
// decoded newline is the exception nginx and fjord share: . stops there.)
func matchesAll(re string, r *route) bool {
	if r.kind == "path_regex" {
		t, err := translateRegex(re, false)
		return err == "" && t == r.path
	}
	if r.kind != "path_prefix" {
		return false
	}
	p, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return false
	}
	subs := []*syntax.Regexp{p}
	if p.Op == syntax.OpConcat {
		subs = p.Sub
	}
	i := 0
	if i < len(subs) && subs[i].Op == syntax.OpBeginText {
		i++
	}
	if i < len(subs) && subs[i].Op == syntax.OpLiteral {
		if subs[i].Flags&syntax.FoldCase != 0 || !strings.HasPrefix(r.path, string(subs[i].Rune)) {
			return false
		}
		i++
	}
	if i < len(subs) && isDotStar(subs[i]) {
		i++
		if i < len(subs) && subs[i].Op == syntax.OpEndText {
			i++
		}
	}
	return i == len(subs) || p.Op == syntax.OpEmptyMatch
}

// isDotStar reports whether s is .* or (.*).
func isDotStar(s *syntax.Regexp) bool {
	if s.Op == syntax.OpCapture && len(s.Sub) == 1 {
		s = s.Sub[0]
	}
	return s.Op == syntax.OpStar && len(s.Sub) == 1 && s.Sub[0].Op == syntax.OpAnyCharNotNL
}

// rewrittenLocation finishes a location that has a rewrite: a redirect
// route, or a proxy route whose path is rewritten.
func (c *converter) rewrittenLocation(rw *rewriteRule, l *Directive, r *route, pass, ret *Directive, sc *scope,
	si *serverInfo) {
	redirected, ok := c.locationRewrite(rw, r, l, pass, ret, si)
	switch {
	case !ok:
	case redirected:
		if pass != nil {
			c.diag(pass.Pos, SeverityWarning, "rewrite redirects every request of the location: proxy_pass is never used")
		}
		c.addRoute(r, si)
	case pass == nil:
		// A no-op rewrite of an exact location without proxy_pass.
		c.errorf(l.Pos, "location without proxy_pass or return serves static files: not supported yet")
	default:
		repl, with := r.replRegex, r.replWith
		if !c.proxyRoute(r, pass, sc, si) {
			return
		}
		if repl != "" && r.strip != "" {
			// nginx ignores proxy_pass's URI part once a rewrite changed
			// the URI, and uses it when the regex did not match.
			if rw.flag != "break" || !matchesAll(rw.re, r) {
				c.errorf(rw.d.Pos, "rewrite with a proxy_pass URI part: not supported yet unless "+
					"the rewrite has break and matches every path of the location")
				return
			}
			r.strip, r.add = "", ""
		}
		r.replRegex, r.replWith = repl, with
		c.addRoute(r, si)
		c.slashRedirect(l, r, si)
	}
}
