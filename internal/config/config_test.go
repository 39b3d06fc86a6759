package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// clearPositions zeroes every Positions and NamePos reachable from v so that
// tests can compare decoded values without spelling out positions; the
// positions have their own tests.
func clearPositions(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			clearPositions(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Field(i)
			switch f.Type() {
			case positionsType, posType:
				f.SetZero()
			default:
				clearPositions(f)
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			clearPositions(v.Index(i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			clearPositions(e)
			v.SetMapIndex(k, e)
		}
	}
}

func dur(d time.Duration) Duration       { return Duration{Duration: d, Set: true} }
func defaulted(d time.Duration) Duration { return Duration{Duration: d} }

func TestFullConfigRoundTrip(t *testing.T) {
	cfg, diags := Load(filepath.Join("testdata", "full.yaml"))
	if len(diags) != 0 {
		t.Fatalf("full.yaml: unexpected diagnostics:\n%s", diags)
	}
	clearPositions(reflect.ValueOf(cfg))
	want := &Config{
		Listeners: []Listener{{Name: "public", Address: "127.0.0.1:8080"}, {Name: "listener-2", Address: "[::1]:8080"}},
		Admin:     &Admin{Address: "127.0.0.1:9901"},
		AccessLog: AccessLog{Format: "json", Path: "stdout"},
		Server: Server{ReadHeaderTimeout: dur(5 * time.Second), IdleTimeout: dur(90 * time.Second),
			MaxHeaderBytes: 32768, ShutdownTimeout: dur(20 * time.Second), MaxBodyBytes: DefaultMaxBodyBytes,
			MaxConnections: DefaultMaxConnections},
		Services: map[string]*Service{
			"auth": {Name: "auth", Balancer: "hash", HashKey: "header:X-User",
				Instances: []Instance{
					{Address: "127.0.0.1:9001", Weight: 3},
					{Address: "auth-2.internal:9001", Weight: 1},
					{Address: "127.0.0.1:9003", Weight: 1, Backup: true},
				},
				Timeouts: Timeouts{Connect: dur(2 * time.Second), ResponseHeader: dur(30 * time.Second),
					Idle: dur(time.Minute), Total: dur(90 * time.Second)},
				Keepalive: Keepalive{MaxIdlePerInstance: 32, IdleTimeout: dur(45 * time.Second)},
				HealthCheck: &HealthCheck{Type: "http", Method: "GET", Path: "/healthz", ExpectStatus: "200-299",
					BodyContains: "ok", Interval: dur(2 * time.Second), Jitter: defaulted(200 * time.Millisecond),
					Timeout: dur(time.Second), Rise: 1, Fall: 2, StatusMin: 200, StatusMax: 299},
				Outlier: Outlier{ConsecutiveFailures: 3, BaseEjection: dur(10 * time.Second), MaxEjection: dur(2 * time.Minute),
					MaxEjectedPercent: 34, FailureStatuses: []int{500, 503}},
				Limits: Limits{MaxConcurrent: 100, MaxPerInstance: 40, Queue: 20, QueueTimeout: dur(500 * time.Millisecond)},
				Retries: Retries{Attempts: 2, On: []string{"connect_failure", "timeout", "503"}, BudgetPercent: 10,
					MinPerSecond: 1, PerTryTimeout: dur(3 * time.Second)},
			},
			"users": {Name: "users", Balancer: "least_conn",
				Instances: []Instance{{Address: "127.0.0.1:9101", Weight: 1}, {Address: "127.0.0.1:9102", Weight: 1}},
				Timeouts: Timeouts{Connect: dur(time.Second), ResponseHeader: defaulted(60 * time.Second),
					Idle: defaulted(60 * time.Second)},
				Keepalive: Keepalive{MaxIdlePerInstance: 64, IdleTimeout: defaulted(60 * time.Second)},
				Outlier: Outlier{ConsecutiveFailures: 5, BaseEjection: defaulted(30 * time.Second),
					MaxEjection: defaulted(5 * time.Minute), MaxEjectedPercent: 50, FailureStatuses: []int{502, 503, 504}},
				Limits: Limits{MaxConcurrent: 1024, Queue: 256, QueueTimeout: defaulted(time.Second)},
				Retries: Retries{Attempts: 1, On: []string{"connect_failure", "reset", "502", "503"}, BudgetPercent: 20,
					MinPerSecond: 3},
			},
		},
		Routes: []Route{
			{Name: "health",
				Match:   Match{Path: "/healthz", Methods: []string{"GET", "HEAD"}},
				Return:  &Return{Status: 200, Body: "ok\n", Headers: map[string]string{"Content-Type": "text/plain"}},
				Rewrite: Rewrite{Host: "pass"}},
			{Name: "auth",
				Match: Match{Hosts: []string{"api.example.no", "*.example.no"}, PathPrefix: "/auth/",
					Headers: map[string]string{"X-Canary": "1", "Authorization": "*", "X-Tenant": "~^[a-z]+$"}},
				Service: "auth",
				Rewrite: Rewrite{StripPrefix: "/auth", Host: "upstream"},
				RequestHeaders: HeaderOps{
					Set:    map[string]string{"X-User-Ip": "${client_ip}", "X-Request-Id": "${request_id}"},
					Add:    map[string]string{"Via": "1.1 fjord"},
					Remove: []string{"X-Debug"}},
				ResponseHeaders: HeaderOps{Set: map[string]string{"X-Served-By": "fjord ${host}$$"}, Remove: []string{"Server"}},
				Timeouts:        Timeouts{ResponseHeader: dur(5 * time.Second), Total: dur(10 * time.Second)}},
			{Name: "route-3",
				Match:   Match{Hosts: []string{"users.example.no"}, PathRegex: "^/users/[0-9]+$", Methods: []string{"GET"}},
				Service: "users",
				Rewrite: Rewrite{ReplacePath: &ReplacePath{Regex: "^/users/(.*)$", With: "/v1/users/$1"}, Host: "${header.X-Forwarded-Host}"}},
			{Name: "route-4", Match: Match{PathPrefix: "/"}, Service: "users", Rewrite: Rewrite{Host: "pass"}},
		},
	}
	if !reflect.DeepEqual(cfg, want) {
		gotJSON, _ := json.MarshalIndent(cfg, "", " ")
		wantJSON, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("decoded config differs\ngot:  %s\nwant: %s", gotJSON, wantJSON)
	}
	if got, want := cfg.ServiceNames(), []string{"auth", "users"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ServiceNames() = %v, want %v", got, want)
	}
}

func TestPositions(t *testing.T) {
	cfg, diags := Load(filepath.Join("testdata", "full.yaml"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	f := filepath.Join("testdata", "full.yaml")
	auth := cfg.Services["auth"]
	r := &cfg.Routes[1]
	tests := []struct {
		name string
		got  Pos
		want Pos
	}{
		{"config", cfg.Pos, Pos{f, 3, 1}},
		{"listener value", cfg.Listeners[0].At("address"), Pos{f, 5, 14}},
		{"service name key", auth.NamePos, Pos{f, 22, 3}},
		{"service mapping", auth.Pos, Pos{f, 23, 5}},
		{"short-form instance", cfg.Services["users"].Instances[0].Pos, Pos{f, 67, 9}},
		{"short-form instance address", cfg.Services["users"].Instances[0].At("address"), Pos{f, 67, 9}},
		{"list element", r.Match.At("hosts.1"), Pos{f, 84, 33}},
		{"map value", r.Match.At("headers.X-Canary"), Pos{f, 87, 19}},
		{"header op value", r.RequestHeaders.At("set.X-User-Ip"), Pos{f, 95, 24}},
		{"single host alias", cfg.Routes[2].Match.At("hosts.0"), Pos{f, 104, 13}},
		{"fallback to struct", r.Timeouts.At("connect"), Pos{f, 101, 15}},
		{"route timeout", r.Timeouts.At("total"), Pos{f, 101, 44}},
		{"retry condition", auth.Retries.At("on.2"), Pos{f, 60, 38}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
	if !r.Timeouts.Has("total") || r.Timeouts.Has("connect") {
		t.Errorf("Has: total=%v connect=%v, want true,false", r.Timeouts.Has("total"), r.Timeouts.Has("connect"))
	}
}

func TestDefaultsAndRouteTimeouts(t *testing.T) {
	cfg, diags := Parse("d.yaml", []byte(withOK(okListener)))
	if len(diags) != 0 {
		t.Fatal(diags)
	}
	s := cfg.Services["a"]
	checks := []struct {
		name      string
		got, want any
	}{
		{"listener name", cfg.Listeners[0].Name, "listener-1"},
		{"access log", cfg.AccessLog, AccessLog{Positions: cfg.AccessLog.Positions, Format: "off", Path: "stdout"}},
		{"server", cfg.Server, Server{Positions: cfg.Server.Positions, ReadHeaderTimeout: defaulted(10 * time.Second),
			IdleTimeout: defaulted(time.Minute), MaxHeaderBytes: 16384, ShutdownTimeout: defaulted(30 * time.Second), MaxBodyBytes: DefaultMaxBodyBytes,
			MaxConnections: DefaultMaxConnections}},
		{"balancer", s.Balancer, "round_robin"},
		{"weight", s.Instances[0].Weight, 1},
		{"connect set", s.Timeouts.Connect, dur(time.Second)},
		{"response_header default", s.Timeouts.ResponseHeader, defaulted(time.Minute)},
		{"total default", s.Timeouts.Total, Duration{}},
		{"keepalive", s.Keepalive.MaxIdlePerInstance, 64},
		{"route name", cfg.Routes[0].Name, "route-1"},
		{"default path", cfg.Routes[0].Match.PathPrefix, "/"},
		{"path written", cfg.Routes[0].Match.Has("path_prefix"), false},
		{"rewrite host", cfg.Routes[0].Rewrite.Host, "pass"},
		{"admin", cfg.Admin, (*Admin)(nil)},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("got %+v, want %+v", c.got, c.want)
			}
		})
	}

	r := Route{Service: "a", Timeouts: Timeouts{Idle: dur(3 * time.Second)}}
	got := cfg.RouteTimeouts(&r)
	if got.Idle != dur(3*time.Second) || got.Connect != dur(time.Second) || got.ResponseHeader != defaulted(time.Minute) {
		t.Errorf("RouteTimeouts = %+v", got)
	}
}

func TestMultipleErrorsInOrder(t *testing.T) {
	// Problems found by the decoder (unknown key, bad duration) and by
	// validation (unknown service) interleave by position.
	src := doc(
		"routes: [{service: nope}]",
		"listeners: [{address: ':80', nmae: x}]",
		"services:",
		"  a: {instances: ['h:1'], timeouts: {connect: soon}}",
	)
	_, diags := Parse("m.yaml", []byte(src))
	got := diags.String()
	want := `m.yaml:1:20: error: route "route-1" refers to unknown service "nope"
m.yaml:2:30: error: unknown key "nmae" in listeners[0] (did you mean "name"?)
m.yaml:4:3: warning: service "a" sets no timeouts; the defaults apply (connect 5s, response_header 1m, idle 1m, no total limit)
m.yaml:4:47: error: invalid duration "soon" (use e.g. 500ms, 2s, 1m)
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	err := diags.Err()
	var le *LoadError
	if !errors.As(err, &le) || len(le.Diagnostics) != 3 {
		t.Fatalf("Err() = %v, want a *LoadError with 3 errors", err)
	}
	if strings.Contains(err.Error(), "warning") || !strings.HasPrefix(err.Error(), "m.yaml:1:20: error:") {
		t.Errorf("Err().Error() = %q, want errors only, in order", err.Error())
	}
}

func TestErrIgnoresWarnings(t *testing.T) {
	var d Diagnostics
	d.Warnf(Pos{"w.yaml", 1, 1}, "risky %s", "thing")
	if d.HasErrors() || d.Err() != nil {
		t.Fatalf("warnings only: HasErrors=%v Err=%v, want false, nil", d.HasErrors(), d.Err())
	}
	d.Errorf(Pos{"w.yaml", 2, 3}, "bad %d", 7)
	if !d.HasErrors() || d.Err() == nil || d.Err().Error() != "w.yaml:2:3: error: bad 7" {
		t.Fatalf("with an error: HasErrors=%v Err=%v", d.HasErrors(), d.Err())
	}
}

func TestDiagnosticJSON(t *testing.T) {
	d := Diagnostics{
		{Pos: Pos{"a.yaml", 3, 7}, Severity: Error, Msg: "bad"},
		{Pos: Pos{"a.yaml", 4, 1}, Severity: Warning, Msg: "risky"},
	}
	got, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"file":"a.yaml","line":3,"column":7,"severity":"error","message":"bad"},` +
		`{"file":"a.yaml","line":4,"column":1,"severity":"warning","message":"risky"}]`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content *string
		want    string
	}{
		{"missing file", nil, "error: read configuration: open "},
		{"valid file", ptr(withOK(okListener)), ""},
		{"invalid file", ptr(withOK("listeners: [{address: nope}]")), ":1:23: error: invalid listener address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".yaml")
			if tt.content != nil {
				if err := os.WriteFile(path, []byte(*tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfg, diags := Load(path)
			got := diags.String()
			if tt.want == "" {
				if got != "" || cfg == nil {
					t.Fatalf("got cfg=%v diags=%q, want a config and no diagnostics", cfg, got)
				}
				return
			}
			if !strings.HasPrefix(got, path) || !strings.Contains(got, tt.want) {
				t.Errorf("got %q, want it to start with %q and contain %q", got, path, tt.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestAliasExpansionIsBounded(t *testing.T) {
	// 600 aliased routes, each with 600 aliased methods: a 6 KB file that
	// expands to 360,000 nodes, past maxNodes.
	items := strings.Repeat("x, ", 600)
	routes := strings.Repeat("*r, ", 600)
	src := doc(
		"m: &m ["+items+"]",
		"r: &r {service: a, match: {methods: *m}}",
		"listeners: [{address: ':80'}]",
		"services: {a: {instances: ['h:1']}}",
		"routes: ["+routes+"]",
	)
	done := make(chan Diagnostics, 1)
	go func() { _, d := Parse("bomb.yaml", []byte(src)); done <- d }()
	select {
	case d := <-done:
		if !strings.Contains(d.String(), "configuration too large") {
			t.Errorf("want a size error, got:\n%.500s", d)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Parse did not stop expanding aliases")
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"instances", "timeouts", "keepalive", "balancer", "name"}
	tests := []struct{ word, want string }{
		{"instnces", ` (did you mean "instances"?)`},
		{"timeout", ` (did you mean "timeouts"?)`},
		{"nmae", ` (did you mean "name"?)`},
		{"balancr", ` (did you mean "balancer"?)`},
		{"zzz", ""},
		{"routes", ""},
	}
	for _, tt := range tests {
		t.Run(tt.word, func(t *testing.T) {
			if got := suggest(tt.word, keys); got != tt.want {
				t.Errorf("suggest(%q) = %q, want %q", tt.word, got, tt.want)
			}
		})
	}
}

// TestNginxMatchForms checks that the nginx-derived match forms decode and
// validate without diagnostics.
func TestNginxMatchForms(t *testing.T) {
	tests := []struct {
		name      string
		match     string
		wantHosts []string
		wantFirst bool
	}{
		{"prefix_first", "{path_prefix: /i/, prefix_first: true}", nil, true},
		{"prefix_first on default prefix", "{prefix_first: true}", nil, true},
		{"prefix_first false with path", "{path: /x, prefix_first: false}", nil, false},
		{"dot host", `{host: .example.no}`, []string{".example.no"}, false},
		{"trailing host", `{hosts: ["www.example.*", "10.0.0.*"]}`, []string{"www.example.*", "10.0.0.*"}, false},
		{"regex host", `{host: "~^(www\\.)?example\\.no$"}`, []string{`~^(www\.)?example\.no$`}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, diags := Parse("c.yaml", []byte(withSvc("routes:", "  - service: a", "    match: "+tc.match)))
			if len(diags) != 0 {
				t.Fatalf("diagnostics: %s", diags)
			}
			m := cfg.Routes[0].Match
			if m.PrefixFirst != tc.wantFirst || !reflect.DeepEqual(m.Hosts, tc.wantHosts) {
				t.Fatalf("prefix_first %v hosts %q, want %v %q", m.PrefixFirst, m.Hosts, tc.wantFirst, tc.wantHosts)
			}
		})
	}
}
