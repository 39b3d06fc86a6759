package static

import (
	"io/fs"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
)

// file answers with the regular file f (opened for name), or its precompressed sibling: the validators, the
// conditional requests (304) and a single byte range (206, 416) are decided here.
func (s *Server) file(r *Request, name string, f *os.File, fi fs.FileInfo) Result {
	if !fi.Mode().IsRegular() {
		f.Close()
		return Result{Status: 404, Reason: "static: not a regular file"}
	}
	var h [][2]string
	if s.opt.Precompressed {
		h = append(h, [2]string{"Vary", "Accept-Encoding"})
		if enc, cf, cfi := s.sibling(name, r.AcceptEncoding); cf != nil {
			f.Close()
			f, fi = cf, cfi
			h = append(h, [2]string{"Content-Encoding", enc})
		}
	}
	etag := ETag(fi)
	mod := fi.ModTime().UTC().Truncate(time.Second)
	lastMod := mod.Format(http.TimeFormat)
	h = append(h, [2]string{"ETag", etag}, [2]string{"Last-Modified", lastMod})
	if s.opt.CacheControl != "" {
		h = append(h, [2]string{"Cache-Control", s.opt.CacheControl})
	}
	if notModified(r, etag, mod) {
		f.Close()
		return Result{Status: 304, Header: h}
	}
	h = append(h, [2]string{"Content-Type", s.contentType(name)}, [2]string{"Accept-Ranges", "bytes"})
	size := fi.Size()
	res := Result{Status: 200, Header: h, File: f, Length: size}
	if r.Method != "GET" || r.Range == "" || !ifRange(r.IfRange, etag, lastMod) {
		return res
	}
	start, n, ok, valid := parseRange(r.Range, size)
	switch {
	case !valid:
		return res // unparsable or several ranges: the whole file (RFC 9110 section 14.2 allows ignoring Range)
	case !ok:
		f.Close()
		h = append(h[:len(h)-2], [2]string{"Content-Range", "bytes */" + strconv.FormatInt(size, 10)})
		return Result{Status: 416, Header: h, Reason: "static: range not satisfiable"}
	}
	res.Status, res.Offset, res.Length = 206, start, n
	// Accept-Ranges (last in h) is left off a 206, as nginx does: the client already knows ranges work.
	res.Header = append(h[:len(h)-1], [2]string{"Content-Range", "bytes " + strconv.FormatInt(start, 10) + "-" +
		strconv.FormatInt(start+n-1, 10) + "/" + strconv.FormatInt(size, 10)})
	return res
}

// sibling opens name.br or name.gz when the client accepts that coding and the file exists; br is preferred.
func (s *Server) sibling(name, acceptEncoding string) (string, *os.File, fs.FileInfo) {
	for _, c := range [...][2]string{{"br", ".br"}, {"gzip", ".gz"}} {
		if !accepts(acceptEncoding, c[0]) {
			continue
		}
		f, fi, err := s.open(name + c[1])
		if err != nil {
			continue
		}
		if fi.Mode().IsRegular() {
			return c[0], f, fi
		}
		f.Close()
	}
	return "", nil, nil
}

// accepts reports whether an Accept-Encoding value lists coding with a non-zero q.
func accepts(header, coding string) bool {
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(name), coding) {
			continue
		}
		q, ok := strings.CutPrefix(strings.TrimSpace(params), "q=")
		if !ok {
			return true
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(q), 64)
		return err == nil && v > 0
	}
	return false
}

// ETag is the validator of a file: its modification time and size in hex, nginx's format, so that a client's cache
// stays valid when nginx is replaced by fjord.
func ETag(fi fs.FileInfo) string {
	return `"` + strconv.FormatInt(fi.ModTime().Unix(), 16) + "-" + strconv.FormatInt(fi.Size(), 16) + `"`
}

// notModified applies If-None-Match, or when it is absent If-Modified-Since (RFC 9110 section 13.2.2).
func notModified(r *Request, etag string, mod time.Time) bool {
	if r.IfNoneMatch != "" {
		return matchesETag(r.IfNoneMatch, etag)
	}
	if r.IfModifiedSince == "" {
		return false
	}
	t, err := http.ParseTime(r.IfModifiedSince)
	return err == nil && !mod.After(t)
}

// matchesETag is the weak comparison of If-None-Match: "*" or any listed tag equal to etag, W/ ignored.
func matchesETag(list, etag string) bool {
	for tag := range strings.SplitSeq(list, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == etag {
			return true
		}
	}
	return false
}

// ifRange reports whether a Range may apply: no If-Range, or one equal to the current ETag (strong) or date.
func ifRange(v, etag, lastMod string) bool {
	return v == "" || v == etag || v == lastMod
}

// parseRange reads a single "bytes=" range against size. valid is false for anything else (several ranges, other
// units, bad syntax), which is answered with the whole file; ok is false when the range is unsatisfiable.
func parseRange(v string, size int64) (start, n int64, ok, valid bool) {
	spec, found := strings.CutPrefix(v, "bytes=")
	spec = strings.TrimSpace(spec)
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, false
	}
	a, b, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false, false
	}
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if a == "" { // suffix: the last b bytes
		m, err := strconv.ParseInt(b, 10, 64)
		if err != nil || m < 0 {
			return 0, 0, false, false
		}
		if m == 0 || size == 0 {
			return 0, 0, false, true
		}
		m = min(m, size)
		return size - m, m, true, true
	}
	first, err := strconv.ParseInt(a, 10, 64)
	if err != nil || first < 0 {
		return 0, 0, false, false
	}
	last := size - 1
	if b != "" {
		if last, err = strconv.ParseInt(b, 10, 64); err != nil || last < first {
			return 0, 0, false, false
		}
		last = min(last, size-1)
	}
	if first >= size {
		return 0, 0, false, true
	}
	return first, last - first + 1, true, true
}

// contentType is the type of name by its extension.
func (s *Server) contentType(name string) string {
	if t, ok := s.opt.Types[strings.ToLower(path.Ext(name))]; ok {
		return t
	}
	return s.opt.DefaultType
}
