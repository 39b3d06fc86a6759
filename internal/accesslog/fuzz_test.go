package accesslog

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzAppendJSON checks that any field content yields one line that
// encoding/json parses, and that valid UTF-8 strings come back unchanged.
func FuzzAppendJSON(f *testing.F) {
	f.Add("GET", "/a?b=c", "curl/8", "ok", int64(0))
	f.Add("GE\"T", "/\\\n\t\x00", "\xff\xfe", "\u2028\u2029", int64(-5))
	f.Add("", "é🚀", "\x1f\x7f", "a\"b", int64(1<<40))
	f.Fuzz(func(t *testing.T, method, uri, ua, reason string, n int64) {
		e := &Entry{
			Time:      time.Unix(0, n).UTC(),
			Duration:  time.Duration(n),
			ClientIP:  netip.MustParseAddr("::1"),
			Method:    []byte(method),
			URI:       []byte(uri),
			UserAgent: []byte(ua),
			Reason:    reason,
			Status:    int(n % 1000),
			BytesSent: n,
		}
		line := appendJSON(nil, e)
		if bytes.IndexByte(line, '\n') != len(line)-1 {
			t.Fatalf("line is not exactly one line: %q", line)
		}
		var got map[string]any
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("output does not parse: %v\n%s", err, line)
		}
		for key, in := range map[string]string{"method": method, "uri": uri, "user_agent": ua, "reason": reason} {
			if !utf8.ValidString(in) {
				continue
			}
			v, present := got[key]
			if in == "" && (key == "user_agent" || key == "reason") {
				if present {
					t.Errorf("%s: empty optional key present", key)
				}
				continue
			}
			if v != in {
				t.Errorf("%s: round trip %q, want %q", key, v, in)
			}
		}
	})
}

// FuzzAppendCombined checks that client-chosen bytes can neither split the
// line nor leave stray quotes or non-ASCII bytes in it.
func FuzzAppendCombined(f *testing.F) {
	f.Add("GET", "/a\"b", "ref\n", "ua\xff")
	f.Fuzz(func(t *testing.T, method, uri, ref, ua string) {
		e := &Entry{
			Method: []byte(method), URI: []byte(uri), Referer: []byte(ref), UserAgent: []byte(ua),
			Proto: "HTTP/1.1", Status: 200,
		}
		line := appendCombined(nil, e, time.UTC)
		body := line[:len(line)-1]
		if line[len(line)-1] != '\n' {
			t.Fatalf("line does not end in newline: %q", line)
		}
		for _, c := range body {
			if c < 0x20 || c >= 0x7f {
				t.Fatalf("unescaped byte %#x in %q", c, line)
			}
		}
		if q := bytes.Count(body, []byte(`"`)); q != 6 {
			t.Fatalf("want 6 quotes, got %d in %q", q, line)
		}
	})
}
