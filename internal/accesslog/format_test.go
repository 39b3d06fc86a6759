package accesslog

import (
	"net/netip"
	"testing"
	"time"
)

func fullEntry() *Entry {
	return &Entry{
		Time:       time.Date(2024, 3, 5, 14, 7, 9, 123456789, time.FixedZone("CEST", 2*3600)),
		Duration:   1234567 * time.Nanosecond,
		ClientIP:   netip.MustParseAddr("192.0.2.1"),
		ClientPort: 51234,
		Method:     []byte("GET"),
		URI:        []byte("/auth/login?x=1"),
		Host:       []byte("api.example.com"),
		Referer:    []byte("https://ref.example/"),
		UserAgent:  []byte("curl/8.5.0"),
		RequestID:  []byte("req-1"),
		Proto:      "HTTP/1.1",
		Status:     200,
		BytesSent:  123,
		Route:      "auth",
		Service:    "auth-svc",
		Upstream:   "127.0.0.1:9001",
		Reason:     "",
	}
}

func TestAppendJSON(t *testing.T) {
	tests := []struct {
		name string
		e    *Entry
		want string
	}{
		{
			name: "full",
			e:    fullEntry(),
			want: `{"time":"2024-03-05T12:07:09.123Z","duration_ms":1.235,"client":"192.0.2.1:51234","method":"GET",` +
				`"uri":"/auth/login?x=1","proto":"HTTP/1.1","host":"api.example.com","status":200,"bytes":123,` +
				`"route":"auth","service":"auth-svc","upstream":"127.0.0.1:9001","request_id":"req-1",` +
				`"referer":"https://ref.example/","user_agent":"curl/8.5.0"}` + "\n",
		},
		{
			name: "zero entry keeps required keys only",
			e:    &Entry{},
			want: `{"time":"0001-01-01T00:00:00.000Z","duration_ms":0.000,"method":"","uri":"","proto":"",` +
				`"status":0,"bytes":0}` + "\n",
		},
		{
			name: "escaping",
			e: &Entry{
				Time:      time.Date(2024, 12, 31, 23, 59, 59, 999999999, time.UTC),
				Duration:  -1500 * time.Microsecond,
				ClientIP:  netip.MustParseAddr("fe80::1%eth\"0"),
				Method:    []byte(`GE"T`),
				URI:       []byte("/a\\b\n\t\r\x01\x7f"),
				UserAgent: []byte("bad\xff\xfeutf8 \u2028\u2029 ok é 🚀"),
				Proto:     "HTTP/2.0",
				Status:    502,
				Reason:    "dial tcp: connection refused",
			},
			want: `{"time":"2024-12-31T23:59:59.999Z","duration_ms":-1.500,"client":"fe80::1%eth\"0","method":"GE\"T",` +
				`"uri":"/a\\b\n\t\r\u0001` + "\x7f" + `","proto":"HTTP/2.0","status":502,"bytes":0,` +
				`"user_agent":"bad\ufffd\ufffdutf8 \u2028\u2029 ok é 🚀","reason":"dial tcp: connection refused"}` + "\n",
		},
		{
			name: "ipv6 with port, long duration",
			e: &Entry{
				Time:       time.Date(2024, 1, 2, 3, 4, 5, 6_000_000, time.UTC),
				Duration:   83*time.Second + 400*time.Nanosecond,
				ClientIP:   netip.MustParseAddr("2001:db8::7"),
				ClientPort: 443,
				Status:     204,
			},
			want: `{"time":"2024-01-02T03:04:05.006Z","duration_ms":83000.000,"client":"[2001:db8::7]:443",` +
				`"method":"","uri":"","proto":"","status":204,"bytes":0}` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(appendJSON(nil, tt.e))
			if got != tt.want {
				t.Errorf("appendJSON:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestAppendCombined(t *testing.T) {
	plus2 := time.FixedZone("CEST", 2*3600)
	minus330 := time.FixedZone("NST", -(3*3600 + 30*60))
	tests := []struct {
		name string
		e    *Entry
		loc  *time.Location
		want string
	}{
		{
			name: "full",
			e:    fullEntry(),
			loc:  plus2,
			want: `192.0.2.1 - - [05/Mar/2024:14:07:09 +0200] "GET /auth/login?x=1 HTTP/1.1" 200 123 ` +
				`"https://ref.example/" "curl/8.5.0"` + "\n",
		},
		{
			name: "converted to location with negative offset",
			e:    fullEntry(),
			loc:  minus330,
			want: `192.0.2.1 - - [05/Mar/2024:08:37:09 -0330] "GET /auth/login?x=1 HTTP/1.1" 200 123 ` +
				`"https://ref.example/" "curl/8.5.0"` + "\n",
		},
		{
			name: "empty fields become dashes",
			e: &Entry{
				Time:   time.Date(2023, 11, 9, 1, 2, 3, 0, time.UTC),
				Method: []byte("POST"), URI: []byte("/x"), Proto: "HTTP/1.0", Status: 404,
			},
			loc:  time.UTC,
			want: `- - - [09/Nov/2023:01:02:03 +0000] "POST /x HTTP/1.0" 404 0 "-" "-"` + "\n",
		},
		{
			name: "nginx escaping",
			e: &Entry{
				Time:      time.Date(2023, 11, 9, 1, 2, 3, 0, time.UTC),
				ClientIP:  netip.MustParseAddr("2001:db8::1"),
				Method:    []byte("GET"),
				URI:       []byte("/a\"b\\c\n\xff"),
				Proto:     "HTTP/1.1",
				Status:    200,
				BytesSent: 5,
				Referer:   []byte(`x" "y`),
				UserAgent: []byte("é\t\x7f"),
			},
			loc: time.UTC,
			want: `2001:db8::1 - - [09/Nov/2023:01:02:03 +0000] "GET /a\x22b\x5Cc\x0A\xFF HTTP/1.1" 200 5 ` +
				`"x\x22 \x22y" "\xC3\xA9\x09\x7F"` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(appendCombined(nil, tt.e, tt.loc))
			if got != tt.want {
				t.Errorf("appendCombined:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}
