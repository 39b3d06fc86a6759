package http1

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestCopyBodyChunked(t *testing.T) {
	tests := []struct {
		name      string
		in        string // chunked body followed by "NEXT" (the next message, which must stay buffered)
		reencoded string
		decoded   string
	}{
		{"simple", "5\r\nhello\r\n0\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n", "hello"},
		{"canonical hex", "000A\r\n0123456789\r\n0\r\n\r\n", "a\r\n0123456789\r\n0\r\n\r\n", "0123456789"},
		{"extensions dropped", "3;name=val;q=\"x y\"\r\nabc\r\n0;last\r\n\r\n", "3\r\nabc\r\n0\r\n\r\n", "abc"},
		{"bws before extension", "3 ;x\r\nabc\r\n0\r\n\r\n", "3\r\nabc\r\n0\r\n\r\n", "abc"},
		{"trailers", "2\r\nab\r\n1\r\nc\r\n0\r\nX-Sum: 1\r\nY:2\r\n\r\n", "2\r\nab\r\n1\r\nc\r\n0\r\nX-Sum: 1\r\nY:2\r\n\r\n", "abc"},
		{"empty body", "0\r\n\r\n", "0\r\n\r\n", ""},
		{"large chunk", "100\r\n" + strings.Repeat("z", 256) + "\r\n0\r\n\r\n", "100\r\n" + strings.Repeat("z", 256) + "\r\n0\r\n\r\n", strings.Repeat("z", 256)},
	}
	for _, tt := range tests {
		for _, oneByte := range []bool{false, true} {
			suffix := map[bool]string{false: "", true: "/bytewise"}[oneByte]
			for _, out := range []Framing{FramingChunked, FramingUntilClose} {
				t.Run(tt.name+"/"+out.String()+suffix, func(t *testing.T) {
					src := newStringReader(tt.in+"NEXT", 64, oneByte)
					var dst bytes.Buffer
					n, err := CopyBody(&dst, src, FramingChunked, -1, out, make([]byte, 64))
					if err != nil {
						t.Fatalf("CopyBody: %v", err)
					}
					want := tt.decoded
					if out == FramingChunked {
						want = tt.reencoded
					}
					if dst.String() != want {
						t.Fatalf("wrote %q, want %q", dst.String(), want)
					}
					if n != int64(len(tt.decoded)) {
						t.Fatalf("n %d, want %d", n, len(tt.decoded))
					}
					rest, _ := io.ReadAll(src)
					if string(rest) != "NEXT" {
						t.Fatalf("left %q after body, want NEXT", rest)
					}
				})
			}
		}
	}
}

func TestCopyBodyChunkedInvalid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error // nil means a *Error with status 400
	}{
		{"bare LF after size", "5\nhello\r\n0\r\n\r\n", nil},
		{"bare CR in extension", "5;a\rb\r\nhello\r\n0\r\n\r\n", nil},
		{"missing CRLF after data", "5\r\nhelloX\r\n0\r\n\r\n", nil},
		{"LF only after data", "5\r\nhello\n0\r\n\r\n", nil},
		{"no size", "\r\nhello\r\n0\r\n\r\n", nil},
		{"negative size", "-5\r\nhello\r\n0\r\n\r\n", nil},
		{"0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", nil},
		{"size with trailing space only", "5 \r\nhello\r\n0\r\n\r\n", nil},
		{"17 hex digits", "00000000000000005\r\nhello\r\n0\r\n\r\n", nil},
		{"overflow", "ffffffffffffffff\r\nhello\r\n0\r\n\r\n", nil},
		{"control in extension", "5;\x01\r\nhello\r\n0\r\n\r\n", nil},
		{"bad trailer name", "0\r\nBad Name: v\r\n\r\n", nil},
		{"trailer obs-fold", "0\r\nX: v\r\n w\r\n\r\n", nil},
		{"trailer bare LF", "0\r\nX: v\n\r\n", nil},
		{"trailer NUL", "0\r\nX: \x00\r\n\r\n", nil},
		{"line too long", strings.Repeat("0", 100) + "1\r\nx\r\n0\r\n\r\n", nil},
		{"eof in data", "5\r\nhel", io.ErrUnexpectedEOF},
		{"eof before last chunk", "5\r\nhello\r\n", io.ErrUnexpectedEOF},
		{"eof in trailers", "0\r\nX: y\r\n", io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		for _, oneByte := range []bool{false, true} {
			t.Run(tt.name+map[bool]string{false: "", true: "/bytewise"}[oneByte], func(t *testing.T) {
				src := newStringReader(tt.in, 64, oneByte)
				_, err := CopyBody(io.Discard, src, FramingChunked, -1, FramingChunked, make([]byte, 64))
				var se *SourceError
				if !errors.As(err, &se) {
					t.Fatalf("err %v: not a *SourceError", err)
				}
				if tt.want != nil {
					if !errors.Is(err, tt.want) {
						t.Fatalf("err %v, want %v", err, tt.want)
					}
				} else if statusOf(err) != 400 {
					t.Fatalf("err %v, want a 400 *Error", err)
				}
			})
		}
	}
}

func TestCopyBodyRaw(t *testing.T) {
	tests := []struct {
		name    string
		in      Framing
		length  int64
		out     Framing
		src     string
		want    string
		rest    string
		wantErr error
	}{
		{"length exact", FramingLength, 5, FramingLength, "helloNEXT", "hello", "NEXT", nil},
		{"length zero", FramingLength, 0, FramingLength, "NEXT", "", "NEXT", nil},
		{"length large", FramingLength, 300, FramingUntilClose, strings.Repeat("x", 300) + "NEXT", strings.Repeat("x", 300), "NEXT", nil},
		{"length short", FramingLength, 10, FramingLength, "hello", "hello", "", io.ErrUnexpectedEOF},
		{"none", FramingNone, -1, FramingChunked, "NEXT", "", "NEXT", nil},
		{"until close raw", FramingUntilClose, -1, FramingUntilClose, "all of it", "all of it", "", nil},
		{"until close empty to chunked", FramingUntilClose, -1, FramingChunked, "", "0\r\n\r\n", "", nil},
	}
	for _, tt := range tests {
		for _, oneByte := range []bool{false, true} {
			t.Run(tt.name+map[bool]string{false: "", true: "/bytewise"}[oneByte], func(t *testing.T) {
				src := newStringReader(tt.src, 64, oneByte)
				var dst bytes.Buffer
				_, err := CopyBody(&dst, src, tt.in, tt.length, tt.out, make([]byte, 128))
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
				if dst.String() != tt.want {
					t.Fatalf("wrote %q, want %q", dst.String(), tt.want)
				}
				if rest, _ := io.ReadAll(src); string(rest) != tt.rest {
					t.Fatalf("left %q, want %q", rest, tt.rest)
				}
			})
		}
	}
}

func TestCopyBodyUntilCloseToChunked(t *testing.T) {
	src := newStringReader("abcdefg", 64, true)
	var dst bytes.Buffer
	n, err := CopyBody(&dst, src, FramingUntilClose, -1, FramingChunked, make([]byte, 64))
	if err != nil || n != 7 {
		t.Fatalf("n %d err %v", n, err)
	}
	// Each one-byte read becomes its own chunk: data is written as soon as it arrives.
	var want strings.Builder
	for _, c := range "abcdefg" {
		want.WriteString("1\r\n" + string(c) + "\r\n")
	}
	want.WriteString("0\r\n\r\n")
	if dst.String() != want.String() {
		t.Fatalf("encoded %q, want %q", dst.String(), want.String())
	}
	if dec, err := decodeForTest(dst.String()); err != nil || dec != "abcdefg" {
		t.Fatalf("round trip: %q %v", dec, err)
	}
}

// decodeForTest decodes a chunked body with CopyBody itself, to check encoder output round-trips.
func decodeForTest(s string) (string, error) {
	var out bytes.Buffer
	_, err := CopyBody(&out, NewReader(strings.NewReader(s), 64), FramingChunked, -1, FramingUntilClose, make([]byte, 64))
	return out.String(), err
}

// writeLog records each Write so tests can check that data is not held back.
type writeLog struct{ writes []string }

func (w *writeLog) Write(p []byte) (int, error) {
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

// stepReader hands out one string per Read, then EOF.
type stepReader struct{ steps []string }

func (r *stepReader) Read(p []byte) (int, error) {
	if len(r.steps) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.steps[0])
	r.steps = r.steps[1:]
	return n, nil
}

func TestCopyBodyWritesBeforeEachRead(t *testing.T) {
	// Two events arrive in two reads; each must be written before the next read, re-encoded in one write.
	src := NewReader(&stepReader{steps: []string{"6\r\nevent1\r\n", "6\r\nevent2\r\n", "0\r\n\r\n"}}, 64)
	var w writeLog
	if _, err := CopyBody(&w, src, FramingChunked, -1, FramingChunked, make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	want := []string{"6\r\nevent1\r\n", "6\r\nevent2\r\n", "0\r\n\r\n"}
	if strings.Join(w.writes, "|") != strings.Join(want, "|") {
		t.Fatalf("writes %q, want %q", w.writes, want)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("client went away") }

func TestCopyBodyErrorSides(t *testing.T) {
	tests := []struct {
		name     string
		in, out  Framing
		src      string
		wantDest bool
	}{
		{"length dest", FramingLength, FramingLength, "hello", true},
		{"chunked dest", FramingChunked, FramingChunked, "5\r\nhello\r\n0\r\n\r\n", true},
		{"until close dest", FramingUntilClose, FramingChunked, "hello", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CopyBody(failWriter{}, newStringReader(tt.src, 64, false), tt.in, 5, tt.out, make([]byte, 64))
			var de *DestError
			var se *SourceError
			if errors.As(err, &de) != tt.wantDest || errors.As(err, &se) == tt.wantDest {
				t.Fatalf("err %v: dest %v source %v", err, errors.As(err, &de), errors.As(err, &se))
			}
		})
	}
	if _, err := CopyBody(io.Discard, newStringReader("", 64, false), FramingChunked, -1, FramingLength, make([]byte, 64)); !errors.Is(err, errUnsupportedFraming) {
		t.Fatalf("chunked->length: %v", err)
	}
}
