package config

import (
	"strings"
	"testing"
)

// TestTLSDiagnostics covers the listener tls block and redirect_to_tls: every case is a whole file whose
// diagnostics must match exactly (lines 1..k are the listeners under test, then a valid service and route).
func TestTLSDiagnostics(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "valid tls and redirect",
			yaml: withOK("listeners:",
				`  - {name: web, address: ":8443", tls: {certificates: [{cert: a.pem, key: a.key}], min_version: "1.3"}}`,
				`  - {name: plain, address: ":8080", redirect_to_tls: web, redirect_port: 443}`),
			want: nil,
		},
		{
			name: "bad min_version",
			yaml: withOK("listeners:", `  - {address: ":8443", tls: {certificates: [{cert: a, key: b}], min_version: "1.1"}}`),
			want: []string{`c.yaml:2:78: error: invalid min_version "1.1": want one of 1.2, 1.3 (did you mean "1.2"?)`},
		},
		{
			name: "missing certificates and key",
			yaml: withOK("listeners:", `  - {address: ":8443", tls: {min_version: "1.2"}}`,
				`  - {address: ":8444", tls: {certificates: [{cert: a}]}}`,
				`  - {address: ":8445", tls: {certificates: []}}`,
				`  - {address: ":8446", tls: {certificates: [{cert: "", key: k}]}}`),
			want: []string{
				`c.yaml:2:29: error: missing required key "certificates" in listeners[0].tls`,
				`c.yaml:3:45: error: missing required key "key" in listeners[1].tls.certificates[0]`,
				`c.yaml:4:44: error: certificates must list at least one {cert, key} pair`,
				`c.yaml:5:52: error: cert must be a file path, got an empty string`,
			},
		},
		{
			name: "ciphers",
			yaml: withOK("listeners:", `  - address: ":8443"`, `    tls:`, `      certificates: [{cert: a, key: b}]`,
				`      ciphers: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256, TLS_RSA_WITH_RC4_128_SHA, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA265]`),
			want: []string{
				`c.yaml:5:56: error: cipher "TLS_AES_128_GCM_SHA256" is a TLS 1.3 suite; TLS 1.3 suites are always enabled and cannot be chosen`,
				`c.yaml:5:80: error: cipher "TLS_RSA_WITH_RC4_128_SHA" is insecure and not allowed`,
				`c.yaml:5:106: error: unknown cipher "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA265": want a TLS 1.2 suite by its Go name, e.g. TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (did you mean "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"?)`,
			},
		},
		{
			name: "ciphers with tls 1.3 only",
			yaml: withOK("listeners:", `  - {address: ":8443", tls: {certificates: [{cert: a, key: b}], min_version: "1.3", ciphers: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]}}`),
			want: []string{`c.yaml:2:94: warning: ciphers choose TLS 1.2 suites only; with min_version "1.3" they are ignored`},
		},
		{
			name: "redirect problems",
			yaml: withOK("listeners:",
				`  - {name: web, address: ":8443", tls: {certificates: [{cert: a, key: b}]}, redirect_to_tls: web}`,
				`  - {name: p1, address: ":8080", redirect_to_tls: wbe}`,
				`  - {name: p2, address: ":8081", redirect_to_tls: p1}`,
				`  - {name: p3, address: ":8082", redirect_port: 70000}`),
			want: []string{
				`c.yaml:2:94: error: listener "web" has tls and redirect_to_tls; only a plain listener redirects to a TLS one`,
				`c.yaml:3:51: error: redirect_to_tls names unknown listener "wbe" (did you mean "web"?)`,
				`c.yaml:4:51: error: redirect_to_tls names listener "p1", which has no tls block`,
				`c.yaml:5:49: error: redirect_port must be between 1 and 65535, got 70000`,
				`c.yaml:5:49: error: redirect_port needs redirect_to_tls`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Parse("c.yaml", []byte(tt.yaml))
			got := strings.Split(strings.TrimSuffix(diags.String(), "\n"), "\n")
			if len(diags) == 0 {
				got = nil
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("diagnostics mismatch\ngot:\n%s\nwant:\n%s\ninput:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"), tt.yaml)
			}
		})
	}
}

// TestTLSDefaults: min_version defaults to 1.2 and a listener without tls stays plain.
func TestTLSDefaults(t *testing.T) {
	cfg, diags := Parse("c.yaml", []byte(withOK("listeners:", `  - {address: ":8443", tls: {certificates: [{cert: a, key: b}]}}`, `  - {address: ":8080"}`)))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if got := cfg.Listeners[0].TLS.MinVersion; got != "1.2" {
		t.Errorf("min_version = %q, want 1.2", got)
	}
	if cfg.Listeners[1].TLS != nil {
		t.Errorf("plain listener has tls %+v", cfg.Listeners[1].TLS)
	}
}
