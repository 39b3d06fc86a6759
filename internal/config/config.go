// Package config reads fjord's YAML configuration: it parses a file,
// checks it against the schema documented in docs/configuration.md, applies
// defaults and reports every problem at once as FILE:LINE:COL diagnostics.
//
// It does not build runtime objects. The compiler that turns a Config into
// routers and balancers reports its own errors at the positions recorded in
// each struct (see Positions). Nothing here is safe for concurrent mutation;
// a returned Config is meant to be read-only.
package config

import (
	"os"
	"reflect"
)

// Load reads the file at path and parses it; see Parse.
func Load(path string) (*Config, Diagnostics) {
	data, err := os.ReadFile(path)
	if err != nil {
		var d Diagnostics
		d.Errorf(Pos{File: path}, "read configuration: %v", err)
		return nil, d
	}
	return Parse(path, data)
}

// Parse decodes and validates data; name is used as the file in positions.
// The diagnostics come sorted by position. The Config is nil only when data
// is not valid YAML; when the diagnostics contain errors it is partial and
// must not be used, but it is returned so tools can still inspect it.
// Defaults are applied as documented in defaults.go.
func Parse(name string, data []byte) (*Config, Diagnostics) {
	var diags Diagnostics
	root, ok := parseYAML(name, data, &diags)
	if !ok {
		return nil, diags
	}
	cfg := &Config{}
	d := decoder{file: name, diags: &diags, budget: maxNodes}
	d.decodeStruct(root, reflect.ValueOf(cfg).Elem(), "")
	if d.budget <= 0 {
		return cfg, diags.Sorted()
	}
	applyDefaults(cfg)
	v := validator{diags: &diags}
	v.config(cfg)
	return cfg, diags.Sorted()
}
