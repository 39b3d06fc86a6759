package http1

import (
	"strings"
	"testing"
)

func TestReadResponseValid(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		headReq bool
		status  int
		reason  string
		framing Framing
		cl      int64
		close   bool
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", false, 200, "OK", FramingLength, 12, false},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, 200, "OK", FramingChunked, -1, false},
		{"until close", "HTTP/1.1 200 OK\r\nX: y\r\n\r\n", false, 200, "OK", FramingUntilClose, -1, true},
		{"head request", "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", true, 200, "OK", FramingNone, -1, false},
		{"204", "HTTP/1.1 204 No Content\r\n\r\n", false, 204, "No Content", FramingNone, -1, false},
		{"304 with length", "HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n", false, 304, "Not Modified", FramingNone, -1, false},
		{"100 continue", "HTTP/1.1 100 Continue\r\n\r\n", false, 100, "Continue", FramingNone, -1, false},
		{"101 switching", "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", false, 101, "Switching Protocols", FramingNone, -1, false},
		{"http/1.0 length", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false, 200, "OK", FramingLength, 1, true},
		{"http/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", false, 200, "OK", FramingLength, 1, false},
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n", false, 200, "OK", FramingLength, 1, true},
		{"empty reason", "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", false, 404, "", FramingLength, 0, false},
		{"no reason no space", "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", false, 404, "", FramingLength, 0, false},
		{"custom status", "HTTP/1.1 599 Whatever it is\r\nContent-Length: 0\r\n\r\n", false, 599, "Whatever it is", FramingLength, 0, false},
	}
	for _, tt := range tests {
		for _, oneByte := range []bool{false, true} {
			t.Run(tt.name+map[bool]string{false: "", true: "/bytewise"}[oneByte], func(t *testing.T) {
				var h Response
				if err := ReadResponse(newStringReader(tt.raw, 256, oneByte), &h, tt.headReq, Limits{}); err != nil {
					t.Fatalf("ReadResponse: %v", err)
				}
				if h.Status != tt.status || string(h.Reason) != tt.reason || h.Framing != tt.framing ||
					h.ContentLength != tt.cl || h.Close != tt.close || h.HeadLen != len(tt.raw) {
					t.Fatalf("got status %d reason %q framing %v cl %d close %v headlen %d",
						h.Status, h.Reason, h.Framing, h.ContentLength, h.Close, h.HeadLen)
				}
			})
		}
	}
}

func TestReadResponseInvalid(t *testing.T) {
	tests := []struct{ name, raw string }{
		{"cl and te", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"te and cl", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"},
		{"te gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"},
		{"te on 1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"conflicting cl", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\n"},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 5\n\n"},
		{"obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n\tb\r\n\r\n"},
		{"two digit status", "HTTP/1.1 20 OK\r\n\r\n"},
		{"status 099", "HTTP/1.1 099 OK\r\n\r\n"},
		{"status with letter", "HTTP/1.1 2x0 OK\r\n\r\n"},
		{"four digit status", "HTTP/1.1 2000 OK\r\n\r\n"},
		{"http/2", "HTTP/2.0 200 OK\r\n\r\n"},
		{"garbage", "hello world\r\n\r\n"},
		{"control in reason", "HTTP/1.1 200 O\x01K\r\n\r\n"},
		{"empty line first", "\r\nHTTP/1.1 200 OK\r\n\r\n"},
		{"head too large", "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 300) + "\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Response
			err := ReadResponse(newStringReader(tt.raw, 256, false), &h, false, Limits{})
			if got := statusOf(err); got != 502 {
				t.Fatalf("err %v: status %d, want 502", err, got)
			}
		})
	}
}
