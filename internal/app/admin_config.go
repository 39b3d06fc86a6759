package app

import (
	"reflect"
	"strings"
	"unicode"

	"github.com/fjord-gw/fjord/internal/config"
)

// configView turns a parsed configuration into plain maps and lists keyed like the YAML file (defaults filled in),
// for GET /config and the configuration hash: positions are left out, durations become strings like "1.5s". With
// redact the admin token is replaced, so /config never hands it out.
func configView(c *config.Config, redact bool) any {
	v := viewOf(reflect.ValueOf(c))
	if m, ok := v.(map[string]any); ok && redact {
		if adm, ok := m["admin"].(map[string]any); ok && adm["token"] != "" {
			adm["token"] = "(redacted)"
		}
	}
	return v
}

var (
	durationType  = reflect.TypeFor[config.Duration]()
	positionsType = reflect.TypeFor[config.Positions]()
	posType       = reflect.TypeFor[config.Pos]()
)

// viewOf converts one value; reflection is fine here: it runs once per reload and per GET /config.
func viewOf(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return viewOf(v.Elem())
	case reflect.Struct:
		if v.Type() == durationType {
			return v.Interface().(config.Duration).Duration.String()
		}
		m := map[string]any{}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() || f.Type == positionsType || f.Type == posType {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = snake(f.Name)
			}
			m[name] = viewOf(v.Field(i))
		}
		return m
	case reflect.Slice:
		if v.IsNil() {
			return nil
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = viewOf(v.Index(i))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		out := map[string]any{}
		for it := v.MapRange(); it.Next(); {
			out[it.Key().String()] = viewOf(it.Value())
		}
		return out
	}
	return v.Interface()
}

// snake spells a Go field name (NamePos, MaxBodyBytes) like a config key (name_pos, max_body_bytes).
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
