package nginx

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Dump writes ds in a canonical nginx syntax: one directive per line, four
// spaces of indentation per block level, `name {}` for an empty block, no
// comments. Parsing the output yields the same names, argument values and
// Quoted flags (positions differ). Quoted arguments are written in double
// quotes; unquoted ones stay unquoted when nginx would read them back
// unchanged and are quoted otherwise (possible only for hand-built trees).
// Includes are written as they appear in ds: a tree from ParseFile has them
// expanded.
func Dump(w io.Writer, ds []*Directive) error {
	bw := bufio.NewWriter(w)
	dump(bw, ds, 0)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("dump nginx config: %w", err)
	}
	return nil
}

func dump(w *bufio.Writer, ds []*Directive, depth int) {
	indent := strings.Repeat("    ", depth)
	for _, d := range ds {
		w.WriteString(indent)
		w.WriteString(word(d.Name, false))
		for _, a := range d.Args {
			w.WriteByte(' ')
			w.WriteString(word(a.Value, a.Quoted))
		}
		switch {
		case !d.HasBlock:
			w.WriteString(";\n")
		case len(d.Block) == 0:
			w.WriteString(" {}\n")
		default:
			w.WriteString(" {\n")
			dump(w, d.Block, depth+1)
			w.WriteString(indent + "}\n")
		}
	}
}

// word encodes v as one nginx token.
func word(v string, quoted bool) string {
	if !quoted && v != "" {
		if enc := bare(v); readsAs(enc, v) {
			return enc
		}
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// bare encodes v as an unquoted word. The result may not read back as v
// (e.g. when v holds a space); readsAs checks.
func bare(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch c {
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case '"', '\'':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\\':
			// nginx keeps a backslash before a character it does not
			// unescape, and that backslash also stops the character from
			// ending the word: v = `\ ` came from exactly that.
			if i+1 < len(v) && strings.IndexByte(" \t\r\n;{}#", v[i+1]) >= 0 {
				b.WriteByte('\\')
				b.WriteByte(v[i+1])
				i++
				continue
			}
			b.WriteString(`\\`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// readsAs reports whether nginx reads enc, as a directive's only word, as
// the unquoted value v.
func readsAs(enc, v string) bool {
	lx := newLexer("", []byte(enc+";"))
	args, t, _, err := lx.next()
	return err == nil && t == termSemi && lx.i == len(lx.data) &&
		len(args) == 1 && args[0].Value == v && !args[0].Quoted
}
