package config

import (
	"path/filepath"
)

// ErrorPage replaces fjord's own answer to the statuses it generates (404 no route, 403, 413, 429, 502, 503, 504, a
// static route's 404) with a configured one: a body (inline or a file read when the config is loaded) with its
// content type, or a redirect. See docs/configuration.md, "error_pages".
type ErrorPage struct {
	Positions
	Statuses []int `yaml:"statuses,required"`
	// Status is sent instead of the original (nginx's error_page 404 =200); 0 keeps it. With Redirect it is the
	// redirect's status: 301, 302 (default), 303, 307 or 308.
	Status      int    `yaml:"status"`
	Body        string `yaml:"body"`
	File        string `yaml:"file"`         // relative to the config file's directory
	ContentType string `yaml:"content_type"` // default text/html for a file, text/plain; charset=utf-8 for a body
	Redirect    string `yaml:"redirect"`     // a URL or path sent as Location
}

// LocationRewrite replaces the prefix From of an upstream response's Location (or Refresh URL) with To.
type LocationRewrite struct {
	Positions
	From string `yaml:"from,required"`
	To   string `yaml:"to,required"`
}

// FilePath is the page's file, relative to the directory of the file the page was written in when not absolute.
func (p *ErrorPage) FilePath() string {
	if p.File == "" || filepath.IsAbs(p.File) || p.Pos.File == "" {
		return p.File
	}
	return filepath.Join(filepath.Dir(p.Pos.File), p.File)
}
