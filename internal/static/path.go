package static

import "strings"

// decodePath percent-decodes a request path once and checks the result with checkClean. It returns the reason for
// refusing it, or "". Decoding here, whatever the engine already did, means that "%2e%2e", "%2f" and "%5c" are seen
// as the bytes the file system would see.
func decodePath(p string) (string, string) {
	if !strings.HasPrefix(p, "/") {
		return "", "path does not start with '/'"
	}
	if strings.IndexByte(p, '%') >= 0 {
		b := make([]byte, 0, len(p))
		for i := 0; i < len(p); i++ {
			if p[i] != '%' {
				b = append(b, p[i])
				continue
			}
			if i+2 >= len(p) {
				return "", "invalid percent-encoding"
			}
			hi, ok1 := unhex(p[i+1])
			lo, ok2 := unhex(p[i+2])
			if !ok1 || !ok2 {
				return "", "invalid percent-encoding"
			}
			b = append(b, hi<<4|lo)
			i += 2
		}
		p = string(b)
	}
	return p, checkClean(p)
}

// checkClean refuses a decoded path that could name something other than what it seems: a NUL or other control
// byte (C libraries stop at a NUL), a backslash (a separator on some systems and in some tools), or a "." or ".."
// segment (the path must already be normalised, so one here is an attempt to climb).
func checkClean(p string) string {
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == 0:
			return "NUL byte in path"
		case c < 0x20 || c == 0x7f:
			return "control byte in path"
		case c == '\\':
			return "backslash in path"
		}
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return "dot segment in path"
		}
	}
	return ""
}

// hasHidden reports whether a segment of p starts with '.'.
func hasHidden(p string) bool {
	for seg := range strings.SplitSeq(p, "/") {
		if strings.HasPrefix(seg, ".") {
			return true
		}
	}
	return false
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
