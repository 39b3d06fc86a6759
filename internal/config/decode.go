package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// This file turns a yaml.Node tree into the schema structs of schema.go.
// Decoding from nodes rather than with yaml.Unmarshal keeps the line and
// column of every key and value, and lets one pass report every type error,
// unknown key and duplicate key instead of stopping at the first.

// maxNodes bounds the work spent on one file. Aliases are expanded while
// decoding, so a small "billion laughs" file could otherwise expand without
// limit.
const maxNodes = 1 << 18

var (
	durationType  = reflect.TypeFor[Duration]()
	positionsType = reflect.TypeFor[Positions]()
	posType       = reflect.TypeFor[Pos]()
)

// decoder walks one document. It is used by a single goroutine.
type decoder struct {
	file   string
	diags  *Diagnostics
	budget int // nodes left before giving up; see maxNodes
}

func (d *decoder) pos(n *yaml.Node) Pos { return Pos{File: d.file, Line: n.Line, Col: n.Column} }

// parseYAML parses data into its root mapping node. It returns false after
// reporting a syntax error. An empty file yields an empty mapping so that the
// "missing key" errors explain what is needed.
func parseYAML(name string, data []byte, diags *Diagnostics) (*yaml.Node, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &yaml.Node{Kind: yaml.MappingNode, Line: 1, Column: 1}, true
		}
		diags.Errorf(syntaxPos(name, err), "%s", syntaxMsg(err))
		return nil, false
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		diags.Errorf(Pos{File: name, Line: extra.Line, Col: extra.Column},
			"more than one YAML document; put the whole configuration in one document")
	} else if !errors.Is(err, io.EOF) {
		diags.Errorf(syntaxPos(name, err), "%s", syntaxMsg(err))
		return nil, false
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	return root, true
}

// yamlLine extracts the line from yaml.v3's "yaml: line N: problem" errors;
// the library reports no column for syntax errors.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

func syntaxPos(name string, err error) Pos {
	p := Pos{File: name, Line: 1, Col: 1}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		// For an unclosed flow collection yaml.v3 reports the 0-based line
		// where the collection opened; point at that line instead of the
		// one before it.
		if strings.Contains(err.Error(), "did not find expected ',' or") {
			p.Line++
		}
	}
	return p
}

func syntaxMsg(err error) string {
	msg := yamlLine.ReplaceAllString(err.Error(), "")
	return "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")
}

// field describes one tagged struct field; see the tag options in schema.go.
type field struct {
	index    int
	key      string
	required bool
	short    string
	single   string
}

func fieldsOf(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		tag, ok := t.Field(i).Tag.Lookup("yaml")
		if !ok || tag == "-" {
			continue
		}
		parts := strings.Split(tag, ",")
		f := field{index: i, key: parts[0]}
		for _, opt := range parts[1:] {
			name, val, _ := strings.Cut(opt, "=")
			switch name {
			case "required":
				f.required = true
			case "short":
				f.short = val
			case "single":
				f.single = val
			}
		}
		out = append(out, f)
	}
	return out
}

// resolve follows aliases and charges the node budget. It returns nil once
// the budget is spent (after reporting it once).
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	d.budget--
	if d.budget == 0 {
		d.diags.Errorf(d.pos(n), "configuration too large (more than %d YAML nodes after expanding aliases)", maxNodes)
	}
	if d.budget <= 0 {
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// describe names what a node holds, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case isNull(n):
		return "nothing"
	default:
		return strconv.Quote(n.Value)
	}
}

// decodeStruct decodes mapping n into the struct v (which embeds
// Positions). path names the struct in messages, e.g. "routes[2].match".
func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) bool {
	keys := map[string]Pos{}
	v.FieldByIndex([]int{0}).Set(reflect.ValueOf(Positions{Pos: d.pos(n), Keys: keys}))
	if n.Kind != yaml.MappingNode {
		d.diags.Errorf(d.pos(n), "expected a mapping for %s, got %s", displayPath(path), describe(n))
		return false
	}
	fields := fieldsOf(v.Type())
	seen := map[string]*yaml.Node{} // YAML key -> key node, for duplicates
	byField := map[int]string{}     // field index -> key used, for host/hosts
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], d.resolve(n.Content[i+1])
		if vn == nil {
			return true
		}
		key, ok := d.mapKey(kn, seen)
		if !ok {
			continue
		}
		f, single, ok := d.lookupField(fields, key, kn, path)
		if !ok {
			continue
		}
		if prev, dup := byField[f.index]; dup {
			d.diags.Errorf(d.pos(kn), "%q and %q are mutually exclusive", prev, key)
			continue
		}
		byField[f.index] = key
		if isNull(vn) {
			if f.required {
				d.diags.Errorf(d.pos(vn), "%s needs a value", key)
			}
			continue // an empty value means "not set"
		}
		keys[f.key] = d.pos(vn)
		if single {
			if vn.Kind != yaml.ScalarNode {
				d.diags.Errorf(d.pos(vn), "expected a single value for %s (use %q for a list), got %s", key, f.key, describe(vn))
				continue
			}
			vn = &yaml.Node{Kind: yaml.SequenceNode, Line: vn.Line, Column: vn.Column, Content: []*yaml.Node{vn}}
		}
		if !d.value(vn, v.Field(f.index), join(path, f.key), f, keys) {
			// Reported already; forget the key so that defaults apply and
			// later checks don't report the same value again.
			delete(keys, f.key)
		}
	}
	for _, f := range fields {
		if _, ok := byField[f.index]; f.required && !ok {
			if path == "" {
				d.diags.Errorf(d.pos(n), "missing required top-level key %q", f.key)
			} else {
				d.diags.Errorf(d.pos(n), "missing required key %q in %s", f.key, path)
			}
		}
	}
	return true
}

// mapKey checks one mapping key: a scalar, not a merge key, not repeated.
func (d *decoder) mapKey(kn *yaml.Node, seen map[string]*yaml.Node) (string, bool) {
	if kn.Kind != yaml.ScalarNode {
		d.diags.Errorf(d.pos(kn), "mapping keys must be plain strings, got %s", describe(kn))
		return "", false
	}
	if kn.Tag == "!!merge" {
		d.diags.Errorf(d.pos(kn), "YAML merge keys (<<) are not supported; repeat the values or use an alias for the whole value")
		return "", false
	}
	if first, dup := seen[kn.Value]; dup {
		d.diags.Errorf(d.pos(kn), "duplicate key %q (first defined at line %d)", kn.Value, first.Line)
		return "", false
	}
	seen[kn.Value] = kn
	return kn.Value, true
}

// lookupField finds the field for key, reporting unknown keys with the
// closest known key as a suggestion. single is true when key is the
// one-value alias of a list field.
func (d *decoder) lookupField(fields []field, key string, kn *yaml.Node, path string) (f field, single, ok bool) {
	var known []string
	for _, f := range fields {
		switch key {
		case f.key:
			return f, false, true
		case f.single:
			if f.single != "" {
				return f, true, true
			}
		}
		known = append(known, f.key)
		if f.single != "" {
			known = append(known, f.single)
		}
	}
	where := "in " + displayPath(path)
	if path == "" {
		where = "at top level"
	}
	d.diags.Errorf(d.pos(kn), "unknown key %q %s%s", key, where, suggest(key, known))
	return field{}, false, false
}

// value decodes n into v, whose field or element is called path. Positions of
// nested scalars go into keys under the dotted name built from f.key.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string, f field, keys map[string]Pos) bool {
	name := lastSegment(path)
	t := v.Type()
	switch {
	case t == durationType:
		s, ok := d.scalar(n, "a duration", name)
		if !ok {
			return false
		}
		dur, err := time.ParseDuration(s)
		if err != nil {
			d.diags.Errorf(d.pos(n), "invalid duration %q (use e.g. 500ms, 2s, 1m)", s)
			return false
		}
		v.Set(reflect.ValueOf(Duration{Duration: dur, Set: true}))
		return true
	case t.Kind() == reflect.Pointer:
		v.Set(reflect.New(t.Elem()))
		return d.value(n, v.Elem(), path, f, keys)
	case t.Kind() == reflect.Struct:
		return d.decodeStruct(n, v, path)
	case t.Kind() == reflect.Slice:
		return d.decodeList(n, v, path, f, keys)
	case t.Kind() == reflect.Map:
		return d.decodeMap(n, v, path, f, keys)
	case t.Kind() == reflect.String:
		s, ok := d.scalar(n, "a string", name)
		v.SetString(s)
		return ok
	case t.Kind() == reflect.Int:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
			if i, err := strconv.ParseInt(n.Value, 0, strconv.IntSize); err == nil {
				v.SetInt(i)
				return true
			}
		}
		d.diags.Errorf(d.pos(n), "expected an integer for %s, got %s", name, describe(n))
		return false
	case t.Kind() == reflect.Bool:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
			if b, err := strconv.ParseBool(strings.ToLower(n.Value)); err == nil {
				v.SetBool(b)
				return true
			}
		}
		d.diags.Errorf(d.pos(n), "expected true or false for %s, got %s", name, describe(n))
		return false
	}
	panic(fmt.Sprintf("config: unsupported schema type %s", t)) // programming error in schema.go
}

// scalar returns the text of a scalar node. Numbers and booleans are
// accepted as text ("body: 200"), lists, mappings and nulls are not.
func (d *decoder) scalar(n *yaml.Node, want, name string) (string, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.diags.Errorf(d.pos(n), "expected %s for %s, got %s", want, name, describe(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) decodeList(n *yaml.Node, v reflect.Value, path string, f field, keys map[string]Pos) bool {
	if n.Kind != yaml.SequenceNode {
		d.diags.Errorf(d.pos(n), "expected a list for %s, got %s", lastSegment(path), describe(n))
		return false
	}
	elemType := v.Type().Elem()
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, en := range n.Content {
		if en = d.resolve(en); en == nil {
			return true
		}
		keys[f.key+"."+strconv.Itoa(i)] = d.pos(en)
		ep := fmt.Sprintf("%s[%d]", path, i)
		if f.short != "" && elemType.Kind() == reflect.Struct && en.Kind == yaml.ScalarNode && !isNull(en) {
			en = &yaml.Node{Kind: yaml.MappingNode, Line: en.Line, Column: en.Column, Content: []*yaml.Node{
				{Kind: yaml.ScalarNode, Tag: "!!str", Value: f.short, Line: en.Line, Column: en.Column}, en,
			}}
		}
		d.value(en, out.Index(i), ep, field{key: f.key + "." + strconv.Itoa(i)}, keys)
	}
	v.Set(out)
	return true
}

// decodeMap decodes a mapping with free-form keys (service names, header
// names). Struct elements that have Name and NamePos fields receive their key
// and its position.
func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string, f field, keys map[string]Pos) bool {
	if n.Kind != yaml.MappingNode {
		d.diags.Errorf(d.pos(n), "expected a mapping for %s, got %s", lastSegment(path), describe(n))
		return false
	}
	out := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], d.resolve(n.Content[i+1])
		if vn == nil {
			return true
		}
		key, ok := d.mapKey(kn, seen)
		if !ok {
			continue
		}
		sub := f.key + "." + key
		keys[sub] = d.pos(vn)
		ev := reflect.New(v.Type().Elem()).Elem()
		if isNull(vn) && ev.Kind() == reflect.Pointer {
			// "name:" with nothing under it: an empty element, so that
			// validation explains what it lacks.
			vn = &yaml.Node{Kind: yaml.MappingNode, Line: vn.Line, Column: vn.Column}
		}
		d.value(vn, ev, join(path, key), field{key: sub}, keys)
		if el := reflect.Indirect(ev); el.Kind() == reflect.Struct {
			if np := el.FieldByName("NamePos"); np.IsValid() && np.Type() == posType {
				np.Set(reflect.ValueOf(d.pos(kn)))
				el.FieldByName("Name").SetString(key)
			}
		}
		out.SetMapIndex(reflect.ValueOf(key), ev)
	}
	v.Set(out)
	return true
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func displayPath(path string) string {
	if path == "" {
		return "the configuration"
	}
	return path
}

// lastSegment returns the final key of a dotted path ("weight" for
// "services.a.instances[0].weight").
func lastSegment(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[i+1:]
	}
	return path
}
