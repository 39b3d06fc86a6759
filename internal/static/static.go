// Package static serves files from a directory the way nginx's root, alias, index and try_files do, without ever
// reaching outside that directory.
//
// The package owns the decisions (which file, which status, which headers, which byte range); the engine owns the
// wire: it writes the head and moves the body, with sendfile where the connection allows. So the same decisions
// serve HTTP/1.1 and HTTP/2.
//
// Containment is layered, each layer enough on its own for what it checks:
//   - the request path is percent-decoded here (whatever the engine did before) and refused when it holds a NUL, a
//     backslash, a control byte or a "." or ".." segment;
//   - hidden names (a segment starting with '.') are answered 404 unless allowed;
//   - every file is opened through an os.Root for the directory, which refuses ".." and symlinks whose target lies
//     outside it, whatever the path looks like.
package static

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// Options configure a Server. The zero value of each field is documented; Root is required.
type Options struct {
	// Root is the directory served. With Prefix empty it is nginx's root: the file of "/a/b" is Root/a/b. With
	// Prefix set it is nginx's alias: the request path must start with Prefix, which is replaced by Root.
	Root   string
	Prefix string
	// Index names the files tried, in order, for a path ending in '/'; nil = ["index.html"]. A directory
	// without any of them is answered 403 (there are no listings).
	Index []string
	// TryFiles are nginx's try_files candidates: "$uri" is the request path, a candidate ending in '/' must be
	// a directory (then served by Index, or redirected to its path with a slash when the name lacks one, as
	// nginx does), any other must be a regular file. When none exists, Final decides. Empty = just the request path, with
	// nginx's plain static behaviour (a directory without a trailing slash is redirected to it).
	TryFiles []string
	// Final is the last word of try_files: "=CODE" answers that status, "/uri" serves that file, "" with
	// Fallback set hands the request to the engine's fallback route, and "" otherwise answers 404.
	Final    string
	Fallback bool
	// Precompressed serves NAME.br or NAME.gz instead of NAME when the client accepts that encoding and the
	// sibling exists; every response of such a route then says Vary: Accept-Encoding.
	Precompressed bool
	// AllowHidden serves names starting with '.'; by default they are answered 404 (.git, .env, .htpasswd).
	AllowHidden bool
	// Types maps a lower-case extension with its dot (".css") to a Content-Type; nil = the built-in table
	// (BuiltinTypes). A non-nil map replaces the table, like nginx's types block. DefaultType is used for other
	// names; "" = "application/octet-stream".
	Types       map[string]string
	DefaultType string
	// CacheControl, when set, is sent on every 200, 206 and 304.
	CacheControl string
}

// Server answers file requests under one directory. It is immutable after New and safe for concurrent use; every
// call blocks on file-system I/O.
type Server struct {
	opt   Options
	root  *os.Root
	final int // the status of a "=CODE" Final; 0 otherwise
}

// New opens the directory and checks the options.
func New(opt Options) (*Server, error) {
	st, err := os.Stat(opt.Root)
	if err != nil {
		return nil, fmt.Errorf("static root: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("static root %s: not a directory", opt.Root)
	}
	root, err := os.OpenRoot(opt.Root)
	if err != nil {
		return nil, fmt.Errorf("static root: %w", err)
	}
	s := &Server{opt: opt, root: root}
	if s.opt.Index == nil {
		s.opt.Index = []string{"index.html"}
	}
	if s.opt.Types == nil {
		s.opt.Types = BuiltinTypes()
	}
	if s.opt.DefaultType == "" {
		s.opt.DefaultType = "application/octet-stream"
	}
	if code, ok := strings.CutPrefix(opt.Final, "="); ok {
		n, err := strconv.Atoi(code)
		if err != nil || n < 100 || n > 599 {
			root.Close()
			return nil, fmt.Errorf("static: try_files final %q: want =CODE with CODE 100-599", opt.Final)
		}
		s.final = n
	} else if opt.Final != "" && !strings.HasPrefix(opt.Final, "/") {
		root.Close()
		return nil, fmt.Errorf("static: try_files final %q: want =CODE or a path starting with '/'", opt.Final)
	}
	return s, nil
}

// Close releases the directory. Requests in flight keep the files they opened.
func (s *Server) Close() error { return s.root.Close() }

// Request is what Serve reads from a request. Path is the request path, percent-encoded or not (it is decoded
// here once); Query is the query string without '?'. Header values are raw.
type Request struct {
	Method          string
	Path            string
	Query           string
	IfNoneMatch     string
	IfModifiedSince string
	IfRange         string
	Range           string
	AcceptEncoding  string
}

// Result is the answer to one request. When File is non-nil the caller sends Length bytes from Offset as the body
// (none for HEAD) and must Close it. Header holds every header but Content-Length and the connection's own.
type Result struct {
	Status int
	Header [][2]string
	File   *os.File
	Offset int64
	Length int64
	// Fallback: try_files found nothing and the request goes to the engine's fallback route.
	Fallback bool
	// Reason says why an error status was chosen, for the log.
	Reason string
}

// Serve answers one request. It never returns an error: failures are statuses (404 for what is not there or may
// not be reached, 403 for a directory without index or a file that cannot be read).
func (s *Server) Serve(r *Request) Result {
	if r.Method != "GET" && r.Method != "HEAD" {
		return Result{Status: 405, Header: [][2]string{{"Allow", "GET, HEAD"}}, Reason: "static: method not allowed"}
	}
	uri, reason := decodePath(r.Path)
	if reason != "" {
		return Result{Status: 404, Reason: "static: " + reason}
	}
	if !s.opt.AllowHidden && hasHidden(uri) {
		return Result{Status: 404, Reason: "static: hidden name"}
	}
	if s.opt.Prefix != "" && !strings.HasPrefix(uri, s.opt.Prefix) {
		return Result{Status: 404, Reason: "static: path outside the alias prefix"}
	}
	if len(s.opt.TryFiles) == 0 {
		return s.plain(r, uri)
	}
	return s.try(r, uri)
}

// plain serves uri as nginx's static and index modules do without try_files.
func (s *Server) plain(r *Request, uri string) Result {
	f, fi, err := s.open(uri)
	if err != nil {
		return notFound(err)
	}
	if !fi.IsDir() {
		return s.file(r, uri, f, fi)
	}
	f.Close()
	if !strings.HasSuffix(uri, "/") {
		return slashRedirect(r, r.Path)
	}
	return s.index(r, uri)
}

// slashRedirect is the 301 from a directory's path without its trailing slash to the path with it, query kept.
func slashRedirect(r *Request, p string) Result {
	loc := p + "/"
	if r.Query != "" {
		loc += "?" + r.Query
	}
	return Result{Status: 301, Header: [][2]string{{"Location", loc}}}
}

// try walks the try_files candidates, then applies Final.
func (s *Server) try(r *Request, uri string) Result {
	for _, c := range s.opt.TryFiles {
		name := strings.ReplaceAll(c, "$uri", uri)
		f, fi, err := s.open(name)
		if err != nil {
			continue
		}
		// Whether a directory is wanted is the candidate's spelling, not its expansion: "$uri" never matches a
		// directory, even for "/dir/" (nginx's test_dir).
		switch dir := strings.HasSuffix(c, "/"); {
		case dir && fi.IsDir():
			f.Close()
			// nginx tests "$uri/" as "$uri" and then serves that path, so a directory asked for without its
			// slash is redirected to it, as without try_files.
			d := strings.TrimSuffix(name, "/")
			if strings.HasSuffix(d, "/") {
				return s.index(r, d)
			}
			if d == uri {
				d = r.Path // the request's own spelling, still encoded
			}
			return slashRedirect(r, d)
		case !dir && fi.Mode().IsRegular():
			return s.file(r, name, f, fi)
		}
		f.Close()
	}
	switch {
	case s.final != 0:
		return Result{Status: s.final, Reason: "static: no try_files candidate exists"}
	case s.opt.Final != "":
		f, fi, err := s.open(s.opt.Final)
		if err != nil || !fi.Mode().IsRegular() {
			if err == nil {
				f.Close()
			}
			return Result{Status: 404, Reason: "static: try_files fallback " + s.opt.Final + " does not exist"}
		}
		return s.file(r, s.opt.Final, f, fi)
	case s.opt.Fallback:
		return Result{Fallback: true}
	}
	return Result{Status: 404, Reason: "static: no try_files candidate exists"}
}

// index serves the first index file of directory dir (a path ending in '/'), or 403.
func (s *Server) index(r *Request, dir string) Result {
	for _, name := range s.opt.Index {
		f, fi, err := s.open(dir + name)
		if err != nil {
			continue
		}
		if fi.Mode().IsRegular() {
			return s.file(r, dir+name, f, fi)
		}
		f.Close()
	}
	return Result{Status: 403, Reason: "static: directory without an index file"}
}

// open opens the file of a decoded request path through the root. Candidates built from the configuration are
// checked again: "$uri" was checked, the text around it was not.
func (s *Server) open(uri string) (*os.File, fs.FileInfo, error) {
	if reason := checkClean(uri); reason != "" {
		return nil, nil, errors.New(reason)
	}
	if !s.opt.AllowHidden && hasHidden(uri) {
		return nil, nil, fs.ErrNotExist
	}
	f, err := s.root.Open(s.rel(uri))
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// rel maps a request path to a name relative to the root.
func (s *Server) rel(uri string) string {
	if s.opt.Prefix != "" {
		uri = strings.TrimPrefix(uri, s.opt.Prefix)
	}
	uri = strings.Trim(uri, "/")
	if uri == "" {
		return "."
	}
	return uri
}

func notFound(err error) Result {
	if errors.Is(err, fs.ErrPermission) {
		return Result{Status: 403, Reason: "static: " + err.Error()}
	}
	return Result{Status: 404, Reason: "static: " + err.Error()}
}
