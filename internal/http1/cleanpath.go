package http1

// AppendCleanPath appends to dst the normalized form of an origin-form path. The proxy routes on it and forwards it
// (so no upstream sees a path other than the one that was routed). Normalization, so that two spellings of one
// resource cannot take different routes:
//
//   - percent-encoded unreserved characters (ALPHA DIGIT - . _ ~) are decoded; other escapes are kept with
//     upper-case hex ("%2f" is not decoded, "%3a" becomes "%3A");
//   - "." and ".." segments are resolved (after decoding, so "%2e%2E" is ".."), repeated slashes are merged, and a
//     trailing slash is kept ("/a/b/.." is "/a/");
//   - a segment that some backend reads as a dot segment ("..;x", "a\..", also with %3B and %5C) is refused (see
//     hidesDotSegment);
//   - "*" (OPTIONS *) is returned as is.
//
// It returns an *Error with Status 400, and dst unchanged, for: a path not starting with '/'; a byte outside
// printable ASCII; an invalid percent-escape; an encoded '/' (%2F), because routing on the decoded form and
// forwarding the encoded one would let "/public%2F..%2Fadmin" reach a route it was not matched against; an encoded
// NUL (%00), which backends written in C truncate at; and a ".." that would climb above the root.
//
// The result never contains "//", "/./" or "/../", and AppendCleanPath is idempotent on its output. It does not
// allocate when dst has room for len(path) more bytes (the result is never longer than the input).
func AppendCleanPath(dst, path []byte) ([]byte, error) {
	if len(path) == 1 && path[0] == '*' {
		return append(dst, '*'), nil
	}
	if len(path) == 0 || path[0] != '/' {
		return dst, newError(400, "path: does not start with '/'")
	}
	base := len(dst)
	out := append(dst, '/')
	i := 1
	for i <= len(path) {
		segStart := len(out)
		var err *Error
		out, i, err = appendSegment(out, path, i)
		if err != nil {
			return dst[:base], err
		}
		last := i >= len(path)
		seg := out[segStart:]
		switch {
		case len(seg) == 0:
			// Empty segment: a repeated or trailing slash; out already ends in '/'.
		case len(seg) == 1 && seg[0] == '.':
			out = out[:segStart]
		case len(seg) == 2 && seg[0] == '.' && seg[1] == '.':
			out = out[:segStart]
			if len(out)-base == 1 {
				return dst[:base], newError(400, "path: '..' above root")
			}
			out = out[:lastSlash(out[:len(out)-1], base)+1]
		case hidesDotSegment(seg):
			return dst[:base], newError(400, `path: dot segment behind ';' or '\'`)
		case !last:
			out = append(out, '/')
		}
		i++ // skip the '/' that ended the segment (or step past the end)
	}
	return out, nil
}

// appendSegment decodes path[i:] up to the next '/' onto out and returns the index of that '/' (or len(path)).
func appendSegment(out, path []byte, i int) ([]byte, int, *Error) {
	for ; i < len(path) && path[i] != '/'; i++ {
		c := path[i]
		if c <= 0x20 || c >= 0x7f {
			return out, i, newError(400, "path: invalid byte")
		}
		if c != '%' {
			out = append(out, c)
			continue
		}
		if i+2 >= len(path) {
			return out, i, newError(400, "path: invalid percent-encoding")
		}
		hi, ok1 := hexVal(path[i+1])
		lo, ok2 := hexVal(path[i+2])
		if !ok1 || !ok2 {
			return out, i, newError(400, "path: invalid percent-encoding")
		}
		d := hi<<4 | lo
		switch {
		case d == '/':
			return out, i, newError(400, "path: encoded '/'")
		case d == 0:
			return out, i, newError(400, "path: encoded NUL")
		case isUnreserved(d):
			out = append(out, d)
		default:
			const hex = "0123456789ABCDEF"
			out = append(out, '%', hex[hi], hex[lo])
		}
		i += 2
	}
	return out, i, nil
}

// hidesDotSegment reports whether a decoded segment other than "." and ".." is read as one by some backend: Tomcat
// and other servlet containers drop path parameters (";x", also "%3B"), so "..;x" climbs like ".."; Windows
// servers (IIS, and many file-serving frameworks) split at '\' (also "%5C"), so "a\..\b" climbs too. Such a
// segment is refused rather than rewritten: no client needs it, and a route matched on it would not be the route
// of the path the backend resolves. Escapes in seg are already upper-case (appendSegment).
func hidesDotSegment(seg []byte) bool {
	start := 0
	for j := 0; j <= len(seg); j++ {
		width := 0 // of the separator at j; the end of seg counts as one
		switch {
		case j == len(seg), seg[j] == '\\':
			width = 1
		case seg[j] == '%' && j+2 < len(seg) && seg[j+1] == '5' && seg[j+2] == 'C':
			width = 3
		default:
			continue
		}
		if isDots(beforeParams(seg[start:j])) {
			return true
		}
		j += width - 1
		start = j + 1
	}
	return false
}

// beforeParams cuts a segment piece at its first ';' (raw or "%3B").
func beforeParams(p []byte) []byte {
	for j := 0; j < len(p); j++ {
		if p[j] == ';' || p[j] == '%' && j+2 < len(p) && p[j+1] == '3' && p[j+2] == 'B' {
			return p[:j]
		}
	}
	return p
}

func isDots(p []byte) bool {
	return len(p) == 1 && p[0] == '.' || len(p) == 2 && p[0] == '.' && p[1] == '.'
}

// lastSlash returns the index of the last '/' in b at or after base; b[base] is always '/'.
func lastSlash(b []byte, base int) int {
	for j := len(b) - 1; j > base; j-- {
		if b[j] == '/' {
			return j
		}
	}
	return base
}

func isUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
