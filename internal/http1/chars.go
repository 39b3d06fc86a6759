package http1

// Byte classes as 256-entry tables: a table lookup per byte is what keeps the parsers fast without unsafe tricks.
// They are package-level but immutable after package initialisation (built by a function, not init()).
var (
	tcharTable  = buildTable(isTcharSlow)
	valueTable  = buildTable(func(c byte) bool { return c == '\t' || (c >= 0x20 && c != 0x7f) }) // field-value, obs-text ok
	targetTable = buildTable(func(c byte) bool { return c > 0x20 && c < 0x7f && c != '#' })      // request-target
	hostTable   = buildTable(isHostSlow)
)

func buildTable(f func(byte) bool) (t [256]bool) {
	for i := range t {
		t[i] = f(byte(i))
	}
	return t
}

// isTcharSlow reports whether c is a token character (RFC 9110 section 5.6.2).
func isTcharSlow(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// isHostSlow reports whether c may appear in a Host value: reg-name, IP literal in brackets, port, and
// percent-encoding. It excludes '/', '@', '?', '#', '\\' and whitespace, which would let a Host confuse routing.
func isHostSlow(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	switch c {
	case '-', '.', '_', '~', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '[', ']', '%':
		return true
	}
	return false
}

func isToken(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	for _, c := range s {
		if !tcharTable[c] {
			return false
		}
	}
	return true
}

func validHost(s []byte) bool {
	for _, c := range s {
		if !hostTable[c] {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// equalFold reports whether b equals s ignoring ASCII case; s must be lower case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

// equalFoldBytes compares two byte slices ignoring ASCII case.
func equalFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// trimOWS strips optional whitespace (SP, HTAB) from both ends.
func trimOWS(s []byte) []byte {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// nextListElem splits a comma-separated list: it returns the first element (OWS-trimmed, possibly empty) and the rest
// after the comma; ok is false when s is exhausted.
func nextListElem(s []byte) (elem, rest []byte, ok bool) {
	if len(s) == 0 {
		return nil, nil, false
	}
	for i, c := range s {
		if c == ',' {
			return trimOWS(s[:i]), s[i+1:], true
		}
	}
	return trimOWS(s), nil, true
}
