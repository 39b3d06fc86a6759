package http1

import (
	"bytes"
	"errors"
	"io"
	"net/http/httputil"
	"testing"
)

func FuzzReadRequest(f *testing.F) {
	for _, tc := range diffCorpus() {
		f.Add([]byte(tc.raw))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var h Request
		err := ReadRequest(NewReader(bytes.NewReader(data), 1024), &h, Limits{})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) && err != io.EOF && err != io.ErrUnexpectedEOF {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		checkHeaders(t, h.Headers)
		if h.HeadLen > len(data) || !bytes.HasSuffix(data[:h.HeadLen], []byte("\r\n\r\n")) {
			t.Fatalf("HeadLen %d does not end a head", h.HeadLen)
		}
		if (h.Framing == FramingLength) != (h.ContentLength >= 0) || h.Framing == FramingUntilClose {
			t.Fatalf("framing %v with length %d", h.Framing, h.ContentLength)
		}
		// The accepted head alone, read one byte at a time, must parse the same.
		var again Request
		if err := ReadRequest(NewReader(&oneByteReader{s: string(data[:h.HeadLen])}, 1024), &again, Limits{}); err != nil {
			t.Fatalf("re-parse failed: %v", err)
		}
		if !bytes.Equal(h.Method, again.Method) || !bytes.Equal(h.URI, again.URI) || !bytes.Equal(h.Host, again.Host) ||
			h.Framing != again.Framing || h.ContentLength != again.ContentLength || h.Close != again.Close ||
			len(h.Headers) != len(again.Headers) || h.HeadLen != again.HeadLen {
			t.Fatalf("re-parse differs")
		}
	})
}

func FuzzReadResponse(f *testing.F) {
	seeds := []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"HTTP/1.0 404 Not Found\r\nConnection: keep-alive\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"HTTP/1.1 204\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, headReq bool) {
		var h Response
		err := ReadResponse(NewReader(bytes.NewReader(data), 1024), &h, headReq, Limits{})
		if err != nil {
			if s := statusOf(err); s != 0 && s != 502 {
				t.Fatalf("response error with status %d", s)
			}
			return
		}
		checkHeaders(t, h.Headers)
		if h.Status < 100 || h.Status > 999 || (h.Framing == FramingUntilClose && !h.Close) {
			t.Fatalf("status %d framing %v close %v", h.Status, h.Framing, h.Close)
		}
		var again Response
		if err := ReadResponse(NewReader(&oneByteReader{s: string(data[:h.HeadLen])}, 1024), &again, headReq, Limits{}); err != nil {
			t.Fatalf("re-parse failed: %v", err)
		}
		if again.Status != h.Status || again.Framing != h.Framing || again.ContentLength != h.ContentLength ||
			len(again.Headers) != len(h.Headers) {
			t.Fatal("re-parse differs")
		}
	})
}

func checkHeaders(t *testing.T, hdrs []Header) {
	t.Helper()
	for _, hd := range hdrs {
		if !isToken(hd.Name) || bytes.ContainsAny(hd.Value, "\r\n\x00") {
			t.Fatalf("accepted bad header %q: %q", hd.Name, hd.Value)
		}
	}
}

func FuzzCopyBodyChunked(f *testing.F) {
	for _, s := range []string{
		"5\r\nhello\r\n0\r\n\r\n", "3;a=b\r\nabc\r\n0\r\nT: v\r\n\r\n", "0\r\n\r\n", "A\r\n0123456789\r\n0\r\n\r\n",
		"5\nhello\r\n0\r\n\r\n", "ffffffffffffffff\r\n", "1\r\nx\r\n0\r\n\r\nNEXT",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var enc bytes.Buffer
		n, err := CopyBody(&enc, NewReader(bytes.NewReader(data), 128), FramingChunked, -1, FramingChunked, make([]byte, 64))
		var bytewise bytes.Buffer
		n2, err2 := CopyBody(&bytewise, NewReader(&oneByteReader{s: string(data)}, 128), FramingChunked, -1, FramingChunked, make([]byte, 64))
		if (err == nil) != (err2 == nil) || n != n2 || (err == nil && !bytes.Equal(enc.Bytes(), bytewise.Bytes())) {
			t.Fatalf("split reads change the result: %v/%v %d/%d", err, err2, n, n2)
		}
		if err != nil {
			var se *SourceError
			if !errors.As(err, &se) {
				t.Fatalf("error is not a SourceError: %v", err)
			}
			return
		}
		// Canonical output re-encodes to itself, and net/http's decoder agrees on the data.
		var again bytes.Buffer
		if _, err := CopyBody(&again, NewReader(bytes.NewReader(enc.Bytes()), 128), FramingChunked, -1, FramingChunked, make([]byte, 64)); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !bytes.Equal(again.Bytes(), enc.Bytes()) {
			t.Fatalf("not canonical: %q vs %q", enc.Bytes(), again.Bytes())
		}
		var plain bytes.Buffer
		if _, err := CopyBody(&plain, NewReader(bytes.NewReader(data), 128), FramingChunked, -1, FramingUntilClose, make([]byte, 64)); err != nil {
			t.Fatalf("decode: %v", err)
		}
		theirs, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(enc.Bytes())))
		if err != nil || !bytes.Equal(theirs, plain.Bytes()) || int64(len(theirs)) != n {
			t.Fatalf("net/http decodes %q (%v), fjord %q", theirs, err, plain.Bytes())
		}
	})
}

func FuzzAppendCleanPath(f *testing.F) {
	for _, s := range []string{"/", "*", "/a/../b", "//a/./b/", "/%2e%2E/", "/%7e%41", "/a%2fb", "/a/b/..", "/..%2f"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, path []byte) {
		out, err := AppendCleanPath(nil, path)
		if err != nil {
			if len(out) != 0 {
				t.Fatalf("error with output %q", out)
			}
			return
		}
		if string(out) == "*" {
			return
		}
		if len(out) == 0 || out[0] != '/' || len(out) > len(path) {
			t.Fatalf("bad output %q for %q", out, path)
		}
		for _, bad := range []string{"//", "/./", "/../"} {
			if bytes.Contains(out, []byte(bad)) {
				t.Fatalf("output %q contains %q", out, bad)
			}
		}
		if bytes.HasSuffix(out, []byte("/.")) || bytes.HasSuffix(out, []byte("/..")) {
			t.Fatalf("output %q ends in a dot segment", out)
		}
		again, err := AppendCleanPath(nil, out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q -> %q (%v)", out, again, err)
		}
	})
}
