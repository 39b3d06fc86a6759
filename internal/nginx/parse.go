package nginx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// MaxIncludeDepth bounds nested includes. nginx itself has no bound and
// recurses until it runs out of file descriptors; fjord stops earlier with a
// clear message.
const MaxIncludeDepth = 32

// Options control parsing. The zero value is ready to use and behaves like
// nginx started with `-c FILE`.
type Options struct {
	// Prefix is the directory relative include paths resolve against. nginx
	// resolves them against its conf prefix, which is the directory of the
	// main configuration file (not of the file holding the include):
	// verified with nginx 1.22, where sub/a.conf containing `include b.conf`
	// opened PREFIX/b.conf, and `-p /x -c inc/main.conf` used /x/inc as the
	// prefix. Empty means the directory of the file given to ParseFile or
	// the name given to Parse.
	Prefix string
	// KeepIncludes leaves include directives in the tree as ordinary
	// directives instead of reading the files they name. Parsing then does
	// no I/O, which suits untrusted input and fuzzing.
	KeepIncludes bool
	// Root, when set, is prepended to absolute include paths, like a
	// chroot: a config copied from another machine (or into testdata) with
	// `include /etc/nginx/mime.types;` reads ROOT/etc/nginx/mime.types.
	// Relative includes still resolve against Prefix.
	Root string
}

// ParseFile reads path and every file it includes, with zero Options.
//
// include directives are replaced by the directives of the files they
// match. A pattern with a glob character (* ? [) matches files in byte
// order, skips names starting with '.' unless the pattern spells the dot
// (POSIX glob, as nginx uses), and may match nothing; a plain path must
// exist. Include cycles and nesting deeper than MaxIncludeDepth are errors.
// Syntax and include errors are *Error.
func ParseFile(path string) ([]*Directive, error) { return Options{}.ParseFile(path) }

// Parse parses data as the configuration file name; includes resolve
// against the directory of name. See ParseFile.
func Parse(name string, data []byte) ([]*Directive, error) { return Options{}.Parse(name, data) }

// ParseFile is the package-level ParseFile with these options.
func (o Options) ParseFile(path string) ([]*Directive, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read nginx config: %w", err)
	}
	return o.Parse(path, data)
}

// Parse is the package-level Parse with these options.
func (o Options) Parse(name string, data []byte) ([]*Directive, error) {
	p := &parser{opt: o, prefix: o.Prefix}
	if p.prefix == "" {
		p.prefix = filepath.Dir(name)
	}
	return p.file(name, data)
}

// parser holds the state of one Parse call; it is not shared.
type parser struct {
	opt    Options
	prefix string
	stack  []string // absolute paths of the files being read, outermost first
}

func (p *parser) file(name string, data []byte) ([]*Directive, error) {
	abs, err := filepath.Abs(name)
	if err != nil {
		abs = name
	}
	p.stack = append(p.stack, abs)
	defer func() { p.stack = p.stack[:len(p.stack)-1] }()
	return p.block(newLexer(name, data), Pos{})
}

// block parses directives until the '}' matching the '{' at open, or to
// the end of the file when open is the zero Pos.
func (p *parser) block(lx *lexer, open Pos) ([]*Directive, error) {
	var ds []*Directive
	for {
		args, t, at, err := lx.next()
		if err != nil {
			return nil, err
		}
		switch t {
		case termEOF:
			if open.IsValid() {
				return nil, &Error{Pos: at, Msg: `unexpected end of file, expecting "}"`, Open: open}
			}
			return ds, nil
		case termClose:
			if !open.IsValid() {
				return nil, &Error{Pos: at, Msg: `unexpected "}"`}
			}
			return ds, nil
		}
		d := &Directive{Name: args[0].Value, Pos: args[0].Pos, Args: args[1:], File: lx.file}
		include := d.Name == "include" && !p.opt.KeepIncludes
		if include && t == termOpen {
			// nginx runs a directive's handler before reading its block,
			// so this is reported at the '{'.
			return nil, &Error{Pos: at, Msg: `directive "include" is not terminated by ";"`}
		}
		if t == termOpen {
			d.HasBlock = true
			if d.Block, err = p.block(lx, at); err != nil {
				return nil, err
			}
		}
		if !include {
			ds = append(ds, d)
			continue
		}
		inc, err := p.include(d, at)
		if err != nil {
			return nil, err
		}
		ds = append(ds, inc...)
	}
}

// include returns the directives of the files d names. Errors are reported
// at the ';' that ended d, the line nginx reports.
func (p *parser) include(d *Directive, at Pos) ([]*Directive, error) {
	if len(d.Args) != 1 {
		return nil, &Error{Pos: at, Msg: `invalid number of arguments in "include" directive`}
	}
	pattern := d.Args[0].Value
	switch {
	case !filepath.IsAbs(pattern):
		pattern = strings.TrimSuffix(p.prefix, "/") + "/" + pattern
	case p.opt.Root != "":
		pattern = filepath.Join(p.opt.Root, pattern)
	}
	files := []string{pattern}
	if strings.ContainsAny(pattern, "*?[") {
		var err error
		if files, err = glob(pattern); err != nil {
			return nil, &Error{Pos: at, Msg: fmt.Sprintf("glob() %q failed", pattern), Err: err}
		}
	}
	var out []*Directive
	for _, f := range files {
		ds, err := p.includeFile(f, at)
		if err != nil {
			return nil, err
		}
		out = append(out, ds...)
	}
	return out, nil
}

func (p *parser) includeFile(name string, at Pos) ([]*Directive, error) {
	if len(p.stack) > MaxIncludeDepth {
		return nil, &Error{Pos: at, Msg: fmt.Sprintf("include of %q nested deeper than %d files", name, MaxIncludeDepth)}
	}
	if abs, err := filepath.Abs(name); err == nil && slices.Contains(p.stack, abs) {
		chain := strings.Join(append(slices.Clone(p.stack), abs), " -> ")
		return nil, &Error{Pos: at, Msg: "include cycle: " + chain}
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, &Error{Pos: at, Msg: fmt.Sprintf("open() %q failed (%s)", name, errnoText(err)), Err: err}
	}
	return p.file(name, data)
}

// errnoText renders err like nginx's "(2: No such file or directory)".
func errnoText(err error) string {
	var no syscall.Errno
	if errors.As(err, &no) {
		return fmt.Sprintf("%d: %s", int(no), no.Error())
	}
	return err.Error()
}

// glob expands pattern like POSIX glob(3) without flags, which nginx uses:
// sorted in byte order (nginx runs in the C locale) and with a leading '.'
// in a name matched only by a literal '.' in the pattern. Go's
// filepath.Glob lets '*' match a leading dot, so those are filtered out.
func glob(pattern string) ([]string, error) {
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	pparts := strings.Split(filepath.Clean(pattern), "/")
	out := matches[:0]
	for _, m := range matches {
		if !hiddenMismatch(pparts, strings.Split(filepath.Clean(m), "/")) {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return out, nil
}

// hiddenMismatch reports whether some name in m starts with '.' while the
// pattern element that matched it does not.
func hiddenMismatch(pattern, m []string) bool {
	if len(pattern) != len(m) {
		return false
	}
	for i := range m {
		if strings.HasPrefix(m[i], ".") && !strings.HasPrefix(pattern[i], ".") {
			return true
		}
	}
	return false
}
