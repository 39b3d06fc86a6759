package http1

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReaderFillOneReadPerCall(t *testing.T) {
	src := &countingReader{r: &oneByteReader{s: "abcdef"}}
	b := NewReader(src, 64)
	for i := 1; i <= 6; i++ {
		if err := b.Fill(); err != nil {
			t.Fatalf("fill %d: %v", i, err)
		}
		if src.reads != i {
			t.Fatalf("after fill %d: %d reads, want %d", i, src.reads, i)
		}
	}
	if got := string(b.Buffered()); got != "abcdef" {
		t.Fatalf("buffered %q", got)
	}
	if err := b.Fill(); !errors.Is(err, io.EOF) {
		t.Fatalf("fill at end: %v, want EOF", err)
	}
}

func TestReaderFillCompactsAndReportsFull(t *testing.T) {
	b := NewReader(strings.NewReader(strings.Repeat("x", 200)), 64)
	if err := b.Fill(); err != nil {
		t.Fatal(err)
	}
	if err := b.Fill(); !errors.Is(err, ErrBufferFull) {
		t.Fatalf("fill on full buffer: %v, want ErrBufferFull", err)
	}
	b.Discard(10)
	if err := b.Fill(); err != nil {
		t.Fatalf("fill after discard: %v", err)
	}
	if n := len(b.Buffered()); n != 64 {
		t.Fatalf("buffered %d after compaction, want 64", n)
	}
}

// TestReaderSpareKeepsConsumedBytes: bytes read into Spare and made unread with Extend come right after the consumed
// ones, which stay in place (a parsed head still in use), in the space of the truncated ones.
func TestReaderSpareKeepsConsumedBytes(t *testing.T) {
	b := NewReader(strings.NewReader("HEAD|body"), 64)
	if err := b.Fill(); err != nil {
		t.Fatal(err)
	}
	head := b.Buffered()[:5]
	b.Discard(len(head))
	b.Truncate(len(b.Buffered())) // "body", copied elsewhere: its space is free
	if len(b.Buffered()) != 0 || len(b.Spare()) != 64-5 {
		t.Fatalf("after Truncate: %d buffered, %d spare; want 0 and %d", len(b.Buffered()), len(b.Spare()), 64-5)
	}
	if n := copy(b.Spare(), "NEXT"); n != 4 {
		t.Fatalf("spare took %d bytes", n)
	}
	b.Extend(4)
	if got := string(head) + "+" + string(b.Buffered()); got != "HEAD|+NEXT" {
		t.Fatalf("head and buffered: %q", got)
	}
	for name, f := range map[string]func(){
		"Extend past Spare":      func() { b.Extend(len(b.Spare()) + 1) },
		"Truncate past Buffered": func() { b.Truncate(5) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			f()
		}()
	}
}

func TestReaderKeepsErrorThatCameWithData(t *testing.T) {
	b := NewReader(iotest.DataErrReader(strings.NewReader("hi")), 64)
	if err := b.Fill(); err != nil {
		t.Fatalf("first fill: %v (data must come first)", err)
	}
	if got := string(b.Buffered()); got != "hi" {
		t.Fatalf("buffered %q", got)
	}
	if err := b.Fill(); !errors.Is(err, io.EOF) {
		t.Fatalf("second fill: %v, want EOF", err)
	}
}

func TestReaderRead(t *testing.T) {
	tests := []struct {
		name      string
		bufSize   int
		pSize     int
		wantReads int // source reads to drain 256 bytes
	}{
		{"small p goes through buffer", 64, 16, 4},
		{"large p reads directly", 64, 128, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := strings.Repeat("0123456789abcdef", 16)
			src := &countingReader{r: strings.NewReader(data)}
			b := NewReader(src, tt.bufSize)
			got, err := io.ReadAll(readerOnly{b, tt.pSize})
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != data {
				t.Fatal("data mismatch")
			}
			if src.reads != tt.wantReads+1 { // +1 for the final EOF read
				t.Fatalf("%d source reads, want %d", src.reads, tt.wantReads+1)
			}
		})
	}
}

// readerOnly reads from b in pieces of size n.
type readerOnly struct {
	b *Reader
	n int
}

func (r readerOnly) Read(p []byte) (int, error) {
	if len(p) > r.n {
		p = p[:r.n]
	}
	return r.b.Read(p)
}

func TestReaderResetAndDiscard(t *testing.T) {
	b := NewReader(strings.NewReader("hello"), 8)
	if b.Size() != minReaderSize {
		t.Fatalf("size %d, want minimum %d", b.Size(), minReaderSize)
	}
	if err := b.Fill(); err != nil {
		t.Fatal(err)
	}
	b.Discard(2)
	if got := string(b.Buffered()); got != "llo" {
		t.Fatalf("after discard %q", got)
	}
	b.Reset(strings.NewReader("x"))
	if len(b.Buffered()) != 0 {
		t.Fatal("reset kept data")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("discard past buffered did not panic")
		}
	}()
	b.Discard(1)
}

func TestReaderDetachAttach(t *testing.T) {
	b := NewReader(strings.NewReader("GET / HTTP/1.1\r\n"), 64)
	if err := b.Fill(); err != nil {
		t.Fatal(err)
	}
	if buf := b.Detach(); buf != nil {
		t.Fatal("Detach handed out a buffer holding unread data")
	}
	b.Discard(len(b.Buffered()))
	buf := b.Detach()
	if buf == nil || b.Attached() {
		t.Fatal("Detach on an empty reader kept the buffer")
	}
	copy(buf, "abc")
	b.Attach(buf, 3)
	if got := string(b.Buffered()); got != "abc" {
		t.Fatalf("after Attach: buffered %q, want %q", got, "abc")
	}
}
