package config

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Pos is a position in a configuration file. Line and Col are 1-based; a zero
// Line means the position is the whole file (for example when it cannot be
// read).
type Pos struct {
	File      string
	Line, Col int
}

// String formats p as "file:line:col", the form editors and CI annotators
// recognise.
func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// before orders positions by file, then line, then column.
func (p Pos) before(q Pos) bool {
	if p.File != q.File {
		return p.File < q.File
	}
	if p.Line != q.Line {
		return p.Line < q.Line
	}
	return p.Col < q.Col
}

// Severity tells whether a diagnostic stops the configuration from loading.
type Severity int

const (
	// Error makes the configuration unusable.
	Error Severity = iota
	// Warning flags a risky but valid choice.
	Warning
)

// String returns "error" or "warning".
func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// MarshalText makes a Severity encode as its name in JSON.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Diagnostic is one problem found in a configuration file.
type Diagnostic struct {
	Pos      Pos
	Severity Severity
	Msg      string
}

// String formats d as "FILE:LINE:COL: error: msg".
func (d Diagnostic) String() string {
	return fmt.Sprintf("%s: %s: %s", d.Pos, d.Severity, d.Msg)
}

// diagnosticJSON is the stable wire shape of a Diagnostic, used by tools
// (e.g. `fjord check -json`) that annotate files.
type diagnosticJSON struct {
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Column   int      `json:"column"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

// MarshalJSON encodes d as {"file","line","column","severity","message"}.
func (d Diagnostic) MarshalJSON() ([]byte, error) {
	return json.Marshal(diagnosticJSON{
		File: d.Pos.File, Line: d.Pos.Line, Column: d.Pos.Col,
		Severity: d.Severity, Message: d.Msg,
	})
}

// Diagnostics collects every problem found while loading a configuration, so
// a user sees all of them in one run instead of fixing them one at a time.
// The zero value is an empty list ready to use. It is not safe for concurrent
// use.
type Diagnostics []Diagnostic

// Errorf records an error at p.
func (d *Diagnostics) Errorf(p Pos, format string, args ...any) {
	*d = append(*d, Diagnostic{Pos: p, Severity: Error, Msg: fmt.Sprintf(format, args...)})
}

// Warnf records a warning at p.
func (d *Diagnostics) Warnf(p Pos, format string, args ...any) {
	*d = append(*d, Diagnostic{Pos: p, Severity: Warning, Msg: fmt.Sprintf(format, args...)})
}

// HasErrors reports whether d holds at least one Error; warnings don't count.
func (d Diagnostics) HasErrors() bool {
	for _, x := range d {
		if x.Severity == Error {
			return true
		}
	}
	return false
}

// Sorted returns a copy of d ordered by position. Diagnostics at the same
// position keep the order in which they were found.
func (d Diagnostics) Sorted() Diagnostics {
	out := append(Diagnostics(nil), d...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Pos.before(out[j].Pos) })
	return out
}

// String returns one line per diagnostic, sorted by position.
func (d Diagnostics) String() string {
	var b strings.Builder
	for _, x := range d.Sorted() {
		b.WriteString(x.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// Err returns nil if d holds no errors, otherwise a *LoadError carrying the
// errors (not the warnings) in position order.
func (d Diagnostics) Err() error {
	var errs Diagnostics
	for _, x := range d.Sorted() {
		if x.Severity == Error {
			errs = append(errs, x)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &LoadError{Diagnostics: errs}
}

// LoadError is the error returned by Diagnostics.Err. Use errors.As to reach the
// individual positions.
type LoadError struct {
	Diagnostics Diagnostics // only Severity == Error, sorted by position
}

// Error lists every diagnostic, one per line.
func (e *LoadError) Error() string {
	return strings.TrimSuffix(e.Diagnostics.String(), "\n")
}
