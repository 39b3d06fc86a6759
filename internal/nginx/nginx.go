// Package nginx reads nginx configuration files at the syntax level: it
// tokenizes and nests them exactly as nginx does (ngx_conf_file.c's rules,
// re-implemented from nginx's documented and observed behaviour), follows
// include directives, and keeps file:line:col for every directive and
// argument so that later stages can report errors where they belong.
//
// It does not know what any directive means; `types`, `map` and similar
// blocks whose entries are not directives parse as directives with
// arguments, which is how nginx tokenizes them too.
//
// Everything in this package is safe for concurrent use: there is no shared
// state, and a parsed tree is plain data owned by the caller.
package nginx

import (
	"fmt"
	"strconv"
)

// Pos is a place in a configuration file. Line and Col are 1-based; Col
// counts bytes, not runes, and a tab counts as one byte. The zero Pos means
// "no position".
type Pos struct {
	File      string
	Line, Col int
}

// String returns "file:line:col", the form editors and nginx users expect.
func (p Pos) String() string {
	return p.File + ":" + strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Col)
}

// IsValid reports whether p points somewhere (Line > 0).
func (p Pos) IsValid() bool { return p.Line > 0 }

// Arg is one argument of a directive.
type Arg struct {
	// Value is the argument with its quotes removed and nginx's escapes
	// applied: \" \' \\ become the escaped character, \n \t \r become
	// newline, tab and carriage return, and any other backslash is kept
	// (so regexes like \d survive). This happens inside and outside quotes,
	// as in nginx. Variables ($var, ${var}) stay verbatim.
	Value string
	// Pos is the first byte of the argument: the opening quote when quoted.
	Pos Pos
	// Quoted is true when the argument was written in single or double
	// quotes. Dump keeps such arguments quoted.
	Quoted bool
}

// Directive is one simple (`name args;`) or block (`name args { ... }`)
// directive.
type Directive struct {
	Name string
	// Pos is the first byte of the name.
	Pos  Pos
	Args []Arg
	// Block holds the children of a block directive; nil or empty for a
	// simple directive and for an empty block (see HasBlock).
	Block []*Directive
	// HasBlock tells `events {}` (a block with no children) from `events;`.
	HasBlock bool
	// File is the file the directive was read from; after include
	// expansion it names the included file, not the one that included it.
	File string
}

// Values returns the argument values without positions.
func (d *Directive) Values() []string {
	vs := make([]string, len(d.Args))
	for i, a := range d.Args {
		vs[i] = a.Value
	}
	return vs
}

// Find returns the direct children of d named name, in order.
func (d *Directive) Find(name string) []*Directive {
	return Find(d.Block, name)
}

// Find returns the directives in ds named name, in order. It does not
// descend into blocks; use Walk for that.
func Find(ds []*Directive, name string) []*Directive {
	var out []*Directive
	for _, d := range ds {
		if d.Name == name {
			out = append(out, d)
		}
	}
	return out
}

// Walk calls fn for every directive in ds, depth first, parents before
// children. If fn returns false, Walk does not descend into that
// directive's block (siblings are still visited).
func Walk(ds []*Directive, fn func(d *Directive) bool) {
	for _, d := range ds {
		if fn(d) {
			Walk(d.Block, fn)
		}
	}
}

// Error is a syntax or include error. Pos is where nginx itself reports the
// problem (so `nginx -t` and fjord name the same line); for errors at end of
// file that means the end of the file, and Open then points at the block or
// string that was left open.
type Error struct {
	Pos Pos
	// Msg uses nginx's wording, e.g. `unexpected "}"`.
	Msg string
	// Open is the opening `{` or quote of an unterminated block or string,
	// or the start of an unterminated directive; zero otherwise.
	Open Pos
	// Err is the underlying cause (e.g. from os.ReadFile for a failed
	// include), or nil; Unwrap returns it so errors.Is works.
	Err error
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// Error returns "file:line:col: msg", followed by where the unterminated
// construct began when Open is set.
func (e *Error) Error() string {
	s := e.Pos.String() + ": " + e.Msg
	if e.Open.IsValid() {
		s += fmt.Sprintf(" (opened at %d:%d)", e.Open.Line, e.Open.Col)
	}
	return s
}
