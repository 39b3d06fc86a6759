package shadow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// compare lists how sh differs from primary: status, each compared header, and the body. Bodies that are both
// JSON are compared structurally (key order and spacing do not matter) without the ignored fields; others byte
// for byte. No differences: nil.
func compare(primary, sh *Response, headers, ignore []string) []string {
	var diffs []string
	if primary.Status != sh.Status {
		diffs = append(diffs, fmt.Sprintf("status: %d vs %d", primary.Status, sh.Status))
	}
	for _, name := range headers {
		p, s := headerValue(primary.Headers, name), headerValue(sh.Headers, name)
		if p != s {
			diffs = append(diffs, fmt.Sprintf("header %s: %q vs %q", name, p, s))
		}
	}
	if d := compareBodies(primary.Body, sh.Body, ignore); d != "" {
		diffs = append(diffs, d)
	}
	return diffs
}

func headerValue(hs [][2]string, name string) string {
	for _, h := range hs {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

// compareBodies says how two bodies differ, or "".
func compareBodies(p, s []byte, ignore []string) string {
	if bytes.Equal(p, s) {
		return ""
	}
	pv, perr := decodeJSON(p)
	sv, serr := decodeJSON(s)
	if perr != nil || serr != nil {
		return fmt.Sprintf("body: %d bytes vs %d bytes, contents differ", len(p), len(s))
	}
	pv, sv = strip(pv, "", ignore), strip(sv, "", ignore)
	if reflect.DeepEqual(pv, sv) {
		return ""
	}
	if path := firstDiff(pv, sv, ""); path != "" {
		return "body: JSON differs at " + path
	}
	return "body: JSON differs"
}

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber() // 1 and 1.0 stay distinct, large integers exact
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return v, nil
}

// strip removes the ignored fields: a bare name at any depth, a dotted path from the top.
func strip(v any, path string, ignore []string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if ignored(k, p, ignore) {
				delete(x, k)
				continue
			}
			x[k] = strip(e, p, ignore)
		}
	case []any:
		for i, e := range x {
			x[i] = strip(e, path, ignore)
		}
	}
	return v
}

func ignored(key, path string, ignore []string) bool {
	for _, f := range ignore {
		if f == path || (!strings.Contains(f, ".") && f == key) {
			return true
		}
	}
	return false
}

// firstDiff names the first place two JSON values differ ("$" for the top), for samples.
func firstDiff(a, b any, path string) string {
	if path == "" {
		path = "$"
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		for k, av := range am {
			bv, ok := bm[k]
			if !ok {
				return path + "." + k + " (missing in shadow)"
			}
			if d := firstDiff(av, bv, path+"."+k); d != "" {
				return d
			}
		}
		for k := range bm {
			if _, ok := am[k]; !ok {
				return path + "." + k + " (only in shadow)"
			}
		}
		return ""
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok {
		if len(al) != len(bl) {
			return fmt.Sprintf("%s (%d vs %d elements)", path, len(al), len(bl))
		}
		for i := range al {
			if d := firstDiff(al[i], bl[i], fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
		return ""
	}
	if !reflect.DeepEqual(a, b) {
		return path
	}
	return ""
}
