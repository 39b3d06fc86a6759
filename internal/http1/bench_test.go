package http1

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// browserRequest is a typical browser navigation: 11 headers, ~600 bytes.
const browserRequest = "GET /static/app/main.js?v=1234 HTTP/1.1\r\n" +
	"Host: www.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Referer: https://www.example.com/\r\n" +
	"Connection: keep-alive\r\n" +
	"Cookie: session=0123456789abcdef0123456789abcdef; theme=dark; _ga=GA1.2.3456789.1234567890\r\n" +
	"Upgrade-Insecure-Requests: 1\r\n" +
	"Sec-Fetch-Dest: document\r\n" +
	"Sec-Fetch-Mode: navigate\r\n\r\n"

const typicalResponse = "HTTP/1.1 200 OK\r\n" +
	"Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n" +
	"Content-Type: application/javascript; charset=utf-8\r\n" +
	"Content-Length: 12345\r\n" +
	"Cache-Control: public, max-age=31536000\r\n" +
	"ETag: \"5f3a-1234567890\"\r\n" +
	"Vary: Accept-Encoding\r\n" +
	"Server: backend\r\n\r\n"

// loopReader serves the same message forever, like a keep-alive connection with back-to-back requests.
type loopReader struct {
	msg []byte
	off int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := copy(p, r.msg[r.off:])
	r.off = (r.off + n) % len(r.msg)
	return n, nil
}

func BenchmarkReadRequest(b *testing.B) {
	rd := NewReader(&loopReader{msg: []byte(browserRequest)}, 4096)
	var h Request
	b.SetBytes(int64(len(browserRequest)))
	b.ReportAllocs()
	for b.Loop() {
		if err := ReadRequest(rd, &h, Limits{}); err != nil {
			b.Fatal(err)
		}
		rd.Discard(h.HeadLen)
	}
}

func BenchmarkReadResponse(b *testing.B) {
	rd := NewReader(&loopReader{msg: []byte(typicalResponse)}, 4096)
	var h Response
	b.SetBytes(int64(len(typicalResponse)))
	b.ReportAllocs()
	for b.Loop() {
		if err := ReadResponse(rd, &h, false, Limits{}); err != nil {
			b.Fatal(err)
		}
		rd.Discard(h.HeadLen)
	}
}

func benchCopy(b *testing.B, body []byte, in, out Framing, length int64) {
	src := bytes.NewReader(body)
	rd := NewReader(src, 4096)
	wbuf := make([]byte, 32<<10)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(body)
		rd.Reset(src)
		if _, err := CopyBody(io.Discard, rd, in, length, out, wbuf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCopyBodyLength(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 64<<10)
	benchCopy(b, body, FramingLength, FramingLength, int64(len(body)))
}

func BenchmarkCopyBodyChunked(b *testing.B) {
	var body strings.Builder
	chunk := strings.Repeat("y", 4000)
	for range 16 {
		body.WriteString("fa0\r\n" + chunk + "\r\n")
	}
	body.WriteString("0\r\n\r\n")
	benchCopy(b, []byte(body.String()), FramingChunked, FramingChunked, -1)
}

func BenchmarkAppendCleanPath(b *testing.B) {
	path := []byte("/api/v1//users/./%7ejohn/../profile/%41vatar.png")
	dst := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = AppendCleanPath(dst[:0], path); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSteadyStateZeroAllocs(t *testing.T) {
	rd := NewReader(&loopReader{msg: []byte(browserRequest)}, 4096)
	var h Request
	run := func() {
		if err := ReadRequest(rd, &h, Limits{}); err != nil {
			t.Fatal(err)
		}
		rd.Discard(h.HeadLen)
	}
	run() // first request sizes h.Headers
	if a := testing.AllocsPerRun(100, run); a != 0 {
		t.Fatalf("ReadRequest: %v allocs per request", a)
	}
	body := []byte("5\r\nhello\r\n0\r\n\r\n")
	src := bytes.NewReader(body)
	crd := NewReader(src, 4096)
	wbuf := make([]byte, 1024)
	copyRun := func() {
		src.Reset(body)
		crd.Reset(src)
		if _, err := CopyBody(io.Discard, crd, FramingChunked, -1, FramingChunked, wbuf); err != nil {
			t.Fatal(err)
		}
	}
	if a := testing.AllocsPerRun(100, copyRun); a != 0 {
		t.Fatalf("CopyBody chunked: %v allocs per body", a)
	}
}
