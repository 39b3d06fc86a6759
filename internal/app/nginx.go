package app

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/fjord-gw/fjord/internal/config"
	"github.com/fjord-gw/fjord/internal/nginx"
)

// Config formats a Source can read.
const (
	FormatAuto   = "auto"
	FormatNative = "native"
	FormatNginx  = "nginx"
)

// nginxLooking matches the block openers of an nginx main config; YAML
// cannot contain `http {` at the start of a line without quoting.
var nginxLooking = regexp.MustCompile(`(?m)^\s*(http|events|server|upstream)\s*\{`)

// DetectFormat tells an nginx config from a native one: *.conf files and
// files with nginx block openers are nginx, everything else native.
func DetectFormat(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".conf":
		return FormatNginx
	case ".yaml", ".yml":
		return FormatNative
	}
	data, err := os.ReadFile(path)
	if err == nil && nginxLooking.Match(data) {
		return FormatNginx
	}
	return FormatNative
}

// SourceFor returns the Source for path in format (auto, native or nginx).
func SourceFor(path, format string) (Source, error) {
	switch format {
	case "", FormatAuto:
		format = DetectFormat(path)
	case FormatNative, FormatNginx:
	default:
		return nil, fmt.Errorf("unknown config format %q: want auto, native or nginx", format)
	}
	if format == FormatNginx {
		return NginxSource(path), nil
	}
	return FileSource(path), nil
}

// NginxSource reads an nginx configuration at path on every call (so SIGHUP
// sees the edited file), converts it to the native format and parses that.
// Conversion errors and warnings become diagnostics at their nginx
// positions; informational notes are dropped (`fjord convert` shows them).
// Diagnostics of the converted config are mapped back to the nginx line the
// YAML line came from.
func NginxSource(path string) Source {
	return func() (*config.Config, config.Diagnostics) {
		var diags config.Diagnostics
		ds, err := nginx.ParseFile(path)
		if err != nil {
			diags = append(diags, config.Diagnostic{Pos: config.Pos{File: path}, Msg: err.Error()})
			if pe, ok := err.(*nginx.Error); ok {
				diags[0] = config.Diagnostic{Pos: convPos(pe.Pos), Msg: pe.Msg}
			}
			return nil, diags
		}
		y, lines, nd := nginx.ConvertWithMap(ds)
		for _, d := range nd {
			switch d.Severity {
			case nginx.SeverityError:
				diags = append(diags, config.Diagnostic{Pos: convPos(d.Pos), Severity: config.Error, Msg: d.Msg})
			case nginx.SeverityWarning:
				diags = append(diags, config.Diagnostic{Pos: convPos(d.Pos), Severity: config.Warning, Msg: d.Msg})
			}
		}
		if diags.HasErrors() {
			return nil, diags.Sorted()
		}
		name := path + " (converted)"
		cfg, cd := config.Parse(name, y)
		for _, d := range cd {
			if p, ok := lines[d.Pos.Line]; ok && d.Pos.File == name {
				d.Msg += " (converted line: " + yamlLine(y, d.Pos.Line) + ")"
				d.Pos = convPos(p)
			}
			diags = append(diags, d)
		}
		return cfg, diags.Sorted()
	}
}

// yamlLine returns line n (1-based) of y without its position comment.
func yamlLine(y []byte, n int) string {
	all := bytes.Split(y, []byte("\n"))
	if n < 1 || n > len(all) {
		return ""
	}
	s := string(bytes.TrimSpace(all[n-1]))
	if i := strings.Index(s, "  # "); i >= 0 {
		s = s[:i]
	}
	return s
}

func convPos(p nginx.Pos) config.Pos { return config.Pos{File: p.File, Line: p.Line, Col: p.Col} }
