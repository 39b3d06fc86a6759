package nginx

import "fmt"

// maxToken mirrors nginx's 4 KiB configuration read buffer: a token that
// does not fit in it, together with the byte that ends it, is rejected with
// "too long parameter". Verified against nginx 1.22: a 4095-byte unquoted
// word is accepted and a 4096-byte one is not; a quoted one may hold 4094
// bytes (its closing quote shares the buffer); a comment may hold 4094
// bytes after the '#'.
const maxToken = 4096

// term is what ended a statement.
type term int

const (
	termSemi  term = iota // ';'
	termOpen              // '{'
	termClose             // '}' with no arguments before it
	termEOF               // end of input with no arguments pending
)

// lexer splits one file into statements the way nginx's ngx_conf_read_token
// does: it is called once per directive and returns that directive's words
// and what ended them. It is not safe for concurrent use.
type lexer struct {
	file string
	data []byte
	i    int // next byte to read
	line int
	col  int // column of data[i]
}

func newLexer(file string, data []byte) *lexer {
	return &lexer{file: file, data: data, line: 1, col: 1}
}

func (l *lexer) pos() Pos { return Pos{File: l.file, Line: l.line, Col: l.col} }

func (l *lexer) errorf(p Pos, format string, a ...any) *Error {
	return &Error{Pos: p, Msg: fmt.Sprintf(format, a...)}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// tokState is the scanner state of one statement; the fields are nginx's
// flags, named for what they mean.
type tokState struct {
	lastSpace bool // between tokens
	needSpace bool // just after a closing quote
	comment   bool // inside a # comment
	escaped   bool // previous byte was an unconsumed backslash
	variable  bool // previous byte was '$' (so '{' continues the word)
	dq, sq    bool // inside double / single quotes
	quoted    bool // current token was quoted
	start     int  // first byte of the current token (after its quote)
	startPos  Pos  // position of the token (its quote when quoted)
}

// next reads one statement: its words and the byte that ended it, whose
// position is returned as at. Errors carry nginx's messages.
func (l *lexer) next() (args []Arg, t term, at Pos, err error) {
	s := tokState{lastSpace: true, start: l.i}
	var stmt Pos // first word of the statement, for EOF errors
	for {
		if l.i >= len(l.data) {
			if len(args) > 0 || !s.lastSpace {
				e := l.errorf(l.pos(), `unexpected end of file, expecting ";" or "}"`)
				e.Open = stmt
				if s.dq || s.sq {
					e.Open = s.startPos
				}
				return nil, 0, Pos{}, e
			}
			return args, termEOF, l.pos(), nil
		}
		if (!s.lastSpace || s.comment) && l.i-s.start >= maxToken {
			return nil, 0, Pos{}, l.tooLong(&s)
		}
		ch, p := l.data[l.i], l.pos()
		l.advance(ch)

		switch {
		case s.comment:
			if ch == '\n' {
				s.comment = false
			}
			continue
		case s.escaped:
			s.escaped = false
			continue
		case s.needSpace:
			switch {
			case isSpace(ch):
				s.lastSpace, s.needSpace = true, false
				continue
			case ch == ';':
				return args, termSemi, p, nil
			case ch == '{':
				return args, termOpen, p, nil
			case ch == ')':
				// `if ($a = "b")`: nginx lets ')' follow a quote and
				// starts a new word with it.
				s.lastSpace, s.needSpace = true, false
			default:
				return nil, 0, Pos{}, l.errorf(p, `unexpected "%c"`, ch)
			}
		}

		if s.lastSpace {
			if isSpace(ch) {
				continue
			}
			s.start, s.startPos, s.quoted = l.i-1, p, false
			if len(args) == 0 && !stmt.IsValid() && ch != '#' {
				stmt = p
			}
			switch ch {
			case ';', '{':
				if len(args) == 0 {
					return nil, 0, Pos{}, l.errorf(p, `unexpected "%c"`, ch)
				}
				if ch == '{' {
					return args, termOpen, p, nil
				}
				return args, termSemi, p, nil
			case '}':
				if len(args) != 0 {
					return nil, 0, Pos{}, l.errorf(p, `unexpected "}"`)
				}
				return args, termClose, p, nil
			case '#':
				s.comment = true
				continue
			case '\\':
				s.escaped = true
			case '"':
				s.start++
				s.dq, s.quoted = true, true
			case '\'':
				s.start++
				s.sq, s.quoted = true, true
			case '$':
				s.variable = true
			}
			s.lastSpace = false
			continue
		}

		if ch == '{' && s.variable {
			continue
		}
		s.variable = false
		switch ch {
		case '\\':
			s.escaped = true
			continue
		case '$':
			s.variable = true
			continue
		}
		found := false
		switch {
		case s.dq:
			if ch == '"' {
				s.dq, s.needSpace, found = false, true, true
			}
		case s.sq:
			if ch == '\'' {
				s.sq, s.needSpace, found = false, true, true
			}
		case isSpace(ch) || ch == ';' || ch == '{':
			s.lastSpace, found = true, true
		}
		if !found {
			continue
		}
		args = append(args, Arg{
			Value:  unescape(l.data[s.start : l.i-1]),
			Pos:    s.startPos,
			Quoted: s.quoted,
		})
		switch ch {
		case ';':
			return args, termSemi, p, nil
		case '{':
			return args, termOpen, p, nil
		}
	}
}

// tooLong reports a token that would overflow nginx's read buffer, at the
// line where the token started, as nginx does.
func (l *lexer) tooLong(s *tokState) *Error {
	p := s.startPos
	switch {
	case s.dq:
		return l.errorf(p, `too long parameter, probably missing terminating """ character`)
	case s.sq:
		return l.errorf(p, `too long parameter, probably missing terminating "'" character`)
	}
	head := l.data[s.start:min(s.start+10, len(l.data))]
	return l.errorf(p, `too long parameter "%s..." started`, head)
}

func (l *lexer) advance(ch byte) {
	l.i++
	if ch == '\n' {
		l.line++
		l.col = 1
		return
	}
	l.col++
}

// unescape applies nginx's escapes to a raw token: \" \' \\ yield the
// character, \t \r \n yield the control character, and any other
// backslash is kept as is.
func unescape(raw []byte) string {
	out := make([]byte, 0, len(raw))
	for j := 0; j < len(raw); j++ {
		c := raw[j]
		if c == '\\' && j+1 < len(raw) {
			switch raw[j+1] {
			case '"', '\'', '\\':
				c = raw[j+1]
				j++
			case 't':
				c = '\t'
				j++
			case 'r':
				c = '\r'
				j++
			case 'n':
				c = '\n'
				j++
			}
		}
		out = append(out, c)
	}
	return string(out)
}
