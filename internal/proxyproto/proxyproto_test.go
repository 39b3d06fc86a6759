package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"testing"
)

func v2(cmd, fam byte, body []byte) []byte {
	b := append([]byte(nil), sigV2...)
	b = append(b, 0x20|cmd, fam, 0, 0)
	binary.BigEndian.PutUint16(b[14:], uint16(len(body)))
	return append(b, body...)
}

func v2v4(src, dst string, sp, dp uint16) []byte {
	body := append(netip.MustParseAddr(src).AsSlice(), netip.MustParseAddr(dst).AsSlice()...)
	body = binary.BigEndian.AppendUint16(body, sp)
	body = binary.BigEndian.AppendUint16(body, dp)
	return body
}

func TestParse(t *testing.T) {
	v6body := append(netip.MustParseAddr("2001:db8::1").AsSlice(), netip.MustParseAddr("2001:db8::2").AsSlice()...)
	v6body = append(v6body, 0x1f, 0x90, 0x00, 0x50)
	withTLV := append(v2v4("192.0.2.1", "192.0.2.2", 1000, 443), 0x04, 0x00, 0x02, 'a', 'b') // a NOOP TLV
	tests := []struct {
		name    string
		in      []byte
		want    Header
		n       int
		wantErr error // nil: success; errAny: some other error
	}{
		{"v1 tcp4", []byte("PROXY TCP4 192.0.2.1 192.0.2.2 56324 443\r\nGET /"),
			Header{1, true, ap("192.0.2.1:56324"), ap("192.0.2.2:443")}, 42, nil},
		{"v1 tcp6", []byte("PROXY TCP6 2001:db8::1 2001:db8::2 8080 80\r\n"),
			Header{1, true, ap("[2001:db8::1]:8080"), ap("[2001:db8::2]:80")}, 44, nil},
		{"v1 unknown", []byte("PROXY UNKNOWN\r\n"), Header{Version: 1}, 15, nil},
		{"v1 unknown with addresses", []byte("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"), Header{Version: 1}, 35, nil},
		{"v1 partial", []byte("PROXY TCP4 192.0.2.1"), Header{}, 0, ErrIncomplete},
		{"v1 prefix only", []byte("PRO"), Header{}, 0, ErrIncomplete},
		{"v1 bare LF", []byte("PROXY TCP4 192.0.2.1 192.0.2.2 1 2\n"), Header{}, 0, errAny},
		{"v1 family mismatch", []byte("PROXY TCP4 2001:db8::1 192.0.2.2 1 2\r\n"), Header{}, 0, errAny},
		{"v1 port too big", []byte("PROXY TCP4 192.0.2.1 192.0.2.2 65536 2\r\n"), Header{}, 0, errAny},
		{"v1 leading zero port", []byte("PROXY TCP4 192.0.2.1 192.0.2.2 080 2\r\n"), Header{}, 0, errAny},
		{"v1 double space", []byte("PROXY TCP4  192.0.2.1 192.0.2.2 1 2\r\n"), Header{}, 0, errAny},
		{"v1 zone", []byte("PROXY TCP6 fe80::1%eth0 fe80::2 1 2\r\n"), Header{}, 0, errAny},
		{"v1 too long", append([]byte("PROXY TCP4 "), bytes.Repeat([]byte("1"), 120)...), Header{}, 0, errAny},
		{"not proxy", []byte("GET / HTTP/1.1\r\n"), Header{}, 0, ErrNoHeader},
		{"empty", nil, Header{}, 0, ErrIncomplete},
		{"v2 tcp4", v2(1, 0x11, v2v4("192.0.2.1", "192.0.2.2", 1000, 443)),
			Header{2, true, ap("192.0.2.1:1000"), ap("192.0.2.2:443")}, 28, nil},
		{"v2 tcp6", v2(1, 0x21, v6body), Header{2, true, ap("[2001:db8::1]:8080"), ap("[2001:db8::2]:80")}, 52, nil},
		{"v2 tlv skipped", v2(1, 0x11, withTLV), Header{2, true, ap("192.0.2.1:1000"), ap("192.0.2.2:443")}, 33, nil},
		{"v2 local", v2(0, 0x00, nil), Header{Version: 2}, 16, nil},
		{"v2 unix", v2(1, 0x31, make([]byte, 216)), Header{Version: 2}, 232, nil},
		{"v2 short", v2(1, 0x11, v2v4("192.0.2.1", "192.0.2.2", 1, 2))[:20], Header{}, 0, ErrIncomplete},
		{"v2 ipv4 body too short", v2(1, 0x11, make([]byte, 8)), Header{}, 0, errAny},
		{"v2 bad command", v2(2, 0x11, v2v4("192.0.2.1", "192.0.2.2", 1, 2)), Header{}, 0, errAny},
		{"v2 bad version", append(append([]byte(nil), sigV2...), 0x11, 0x11, 0, 0), Header{}, 0, errAny},
		{"v2 too long", append(append([]byte(nil), sigV2...), 0x21, 0x11, 0xff, 0xff), Header{}, 0, errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, n, err := Parse(tt.in)
			switch {
			case tt.wantErr == errAny:
				if err == nil || errors.Is(err, ErrIncomplete) || errors.Is(err, ErrNoHeader) {
					t.Fatalf("Parse = %+v, %d, %v; want a malformed-header error", h, n, err)
				}
				return
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Parse error = %v, want %v", err, tt.wantErr)
				}
				return
			case err != nil:
				t.Fatalf("Parse: %v", err)
			}
			if h != tt.want || n != tt.n {
				t.Fatalf("Parse = %+v, %d; want %+v, %d", h, n, tt.want, tt.n)
			}
		})
	}
}

var errAny = errors.New("any error")

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// oneByte returns one byte per Read, so Read must assemble a header over many reads.
type oneByte struct{ b []byte }

func (r *oneByte) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	p[0] = r.b[0]
	r.b = r.b[1:]
	return 1, nil
}

func TestRead(t *testing.T) {
	tests := []struct {
		name     string
		r        io.Reader
		wantRest string
		wantErr  error
	}{
		{"v1 with request", bytes.NewReader([]byte("PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\nGET / HTTP/1.1\r\n")), "GET / HTTP/1.1\r\n", nil},
		{"v2 dripped", &oneByte{append(v2(1, 0x11, v2v4("192.0.2.1", "192.0.2.2", 1, 2)), 'x')}, "", nil},
		{"truncated", bytes.NewReader([]byte("PROXY TCP4 192.0.2.1")), "", io.ErrUnexpectedEOF},
		{"plain http", bytes.NewReader([]byte("GET / HTTP/1.1\r\n\r\n")), "", ErrNoHeader},
		{"closed at once", bytes.NewReader(nil), "", io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, rest, err := Read(tt.r, make([]byte, MaxLen))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Read error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (!h.Proxied || string(rest) != tt.wantRest) {
				t.Fatalf("Read = %+v, rest %q; want proxied, rest %q", h, rest, tt.wantRest)
			}
		})
	}
}

// FuzzParse checks that Parse never panics, never claims more bytes than it was given, and that a header it
// accepts parses the same again from exactly its own bytes.
func FuzzParse(f *testing.F) {
	f.Add([]byte("PROXY TCP4 192.0.2.1 192.0.2.2 56324 443\r\n"))
	f.Add([]byte("PROXY TCP6 2001:db8::1 2001:db8::2 8080 80\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add(v2(1, 0x11, v2v4("192.0.2.1", "192.0.2.2", 1000, 443)))
	f.Add(v2(0, 0x00, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := Parse(b)
		if err != nil {
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("Parse consumed %d of %d bytes", n, len(b))
		}
		if h.Proxied && (!h.Source.IsValid() || !h.Dest.IsValid()) {
			t.Fatalf("proxied header without addresses: %+v", h)
		}
		h2, n2, err := Parse(b[:n])
		if err != nil || h2 != h || n2 != n {
			t.Fatalf("reparse of its own bytes: %+v %d %v; first %+v %d", h2, n2, err, h, n)
		}
	})
}
