package config

import (
	"strings"
	"testing"
)

// withTLS is a file whose line 6 is the tls block of service a.
func withTLS(tls string) string {
	return doc(append(append([]string{okListener}, okServices...), "    tls: "+tls, okRoutes)...)
}

// TestUpstreamTLSDiagnostics covers the shape checks of a service's tls block; reading the files is the compiler's
// job (internal/app).
func TestUpstreamTLSDiagnostics(t *testing.T) {
	tests := []struct {
		name string
		tls  string
		want []string
	}{
		{name: "full", tls: `{ca: ca.pem, server_name: api.internal, cert: c.pem, key: c.key}`},
		{name: "empty block uses system roots", tls: `{}`},
		{name: "ip server name", tls: `{server_name: 10.0.0.1}`},
		{
			name: "empty paths",
			tls:  `{ca: "", cert: " ", key: c.key}`,
			want: []string{
				`c.yaml:6:15: error: ca must be a file path, got an empty string`,
				`c.yaml:6:25: error: cert must be a file path, got an empty string`,
			},
		},
		{name: "cert without key", tls: `{cert: c.pem}`, want: []string{`c.yaml:6:17: error: cert needs key: a client certificate is useless without its private key`}},
		{name: "key without cert", tls: `{key: c.key}`, want: []string{`c.yaml:6:16: error: key needs cert: give the client certificate that goes with this key`}},
		{name: "bad server name", tls: `{server_name: "a b"}`, want: []string{`c.yaml:6:24: error: invalid server_name "a b": want a DNS name or an IP address`}},
		{
			name: "insecure is loud",
			tls:  `{insecure_skip_verify: true, ca: ca.pem}`,
			want: []string{
				`c.yaml:6:33: warning: WARNING: insecure_skip_verify is on: fjord will NOT verify the certificates of service "a"; anyone on the network path can impersonate its instances and read or alter the traffic. Trust a private CA with ca instead`,
				`c.yaml:6:43: warning: ca is ignored because insecure_skip_verify is on`,
			},
		},
		{name: "unknown key", tls: `{sever_name: x}`, want: []string{`c.yaml:6:11: error: unknown key "sever_name" in services.a.tls (did you mean "server_name"?)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := withTLS(tt.tls)
			_, diags := Parse("c.yaml", []byte(y))
			var got []string
			if len(diags) > 0 {
				got = strings.Split(strings.TrimSuffix(diags.String(), "\n"), "\n")
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("diagnostics mismatch\ngot:\n%s\nwant:\n%s\ninput:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"), y)
			}
		})
	}
}

// TestUpstreamTLSParsed: the block decodes into Service.TLS, and a service without one stays plain.
func TestUpstreamTLSParsed(t *testing.T) {
	cfg, diags := Parse("c.yaml", []byte(withTLS(`{ca: ca.pem, server_name: api.internal, cert: c.pem, key: c.key}`)))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	got := cfg.Services["a"].TLS
	if got == nil || got.CA != "ca.pem" || got.ServerName != "api.internal" || got.Cert != "c.pem" || got.Key != "c.key" || got.InsecureSkipVerify {
		t.Fatalf("tls = %+v", got)
	}
	cfg, diags = Parse("c.yaml", []byte(withOK(okListener)))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if cfg.Services["a"].TLS != nil {
		t.Errorf("service without tls has %+v", cfg.Services["a"].TLS)
	}
}
