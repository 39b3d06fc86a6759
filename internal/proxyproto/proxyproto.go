// Package proxyproto parses the PROXY protocol header (versions 1 and 2, haproxy's proxy-protocol.txt) that a load
// balancer sends at the start of a TCP connection to name the client it accepted the connection from.
//
// The parser is written here rather than imported: it is about a hundred lines, the gateway needs only the
// addresses (TLVs are skipped), and owning it lets it refuse anything odd with a precise error and be fuzzed with
// the rest of fjord's parsers.
package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// Header is a parsed PROXY header. Source and Dest are set only when Proxied: a v2 LOCAL command (the balancer's own
// health check) and v1 UNKNOWN or v2 unspecified/UNIX families carry no usable addresses, and the connection's own
// addresses apply.
type Header struct {
	Version int // 1 or 2
	Proxied bool
	Source  netip.AddrPort
	Dest    netip.AddrPort
}

// MaxV2Len bounds the address and TLV part of a v2 header this parser accepts; real balancers send well under it.
const MaxV2Len = 2048

// MaxLen is the longest header Read may need: a v2 header at MaxV2Len (a v1 line is at most 107 bytes).
const MaxLen = 16 + MaxV2Len

var (
	// ErrIncomplete is returned by Parse when b holds the start of a valid header but not all of it.
	ErrIncomplete = errors.New("proxyproto: incomplete header")
	// ErrNoHeader is returned when the connection does not start with a PROXY header at all.
	ErrNoHeader = errors.New("proxyproto: no PROXY protocol header")
)

var (
	sigV1 = []byte("PROXY ")
	sigV2 = []byte("\r\n\r\n\x00\r\nQUIT\n")
)

// Parse reads a header at the start of b and returns it with its length in bytes. It returns ErrIncomplete when
// more bytes could complete a valid header, ErrNoHeader when b cannot start one, and another error for a malformed
// header.
func Parse(b []byte) (Header, int, error) {
	switch {
	case hasPrefix(b, sigV2):
		return parseV2(b)
	case hasPrefix(b, sigV1):
		return parseV1(b)
	}
	return Header{}, 0, ErrNoHeader
}

// hasPrefix reports whether b starts with sig, or is a (possibly empty) prefix of it; in the second case Parse asks
// for more bytes before deciding.
func hasPrefix(b, sig []byte) bool {
	n := min(len(b), len(sig))
	return bytes.Equal(b[:n], sig[:n])
}

// parseV1 reads "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" or "PROXY UNKNOWN ...\r\n", at most 107 bytes.
func parseV1(b []byte) (Header, int, error) {
	const maxV1 = 107
	if len(b) < len(sigV1) {
		return Header{}, 0, ErrIncomplete
	}
	end := bytes.IndexByte(b[:min(len(b), maxV1)], '\n')
	if end < 0 {
		if len(b) >= maxV1 {
			return Header{}, 0, errors.New("proxyproto: v1 header longer than 107 bytes")
		}
		return Header{}, 0, ErrIncomplete
	}
	if end == 0 || b[end-1] != '\r' {
		return Header{}, 0, errors.New("proxyproto: v1 header does not end with CRLF")
	}
	line := string(b[len(sigV1) : end-1])
	h := Header{Version: 1}
	f := strings.Split(line, " ") // single spaces, as the grammar writes them; doubled ones fail below
	if len(f) > 0 && f[0] == "UNKNOWN" {
		return h, end + 1, nil
	}
	if len(f) != 5 || f[0] != "TCP4" && f[0] != "TCP6" {
		return Header{}, 0, fmt.Errorf("proxyproto: invalid v1 header %q", line)
	}
	src, err1 := v1Addr(f[1], f[3], f[0] == "TCP4")
	dst, err2 := v1Addr(f[2], f[4], f[0] == "TCP4")
	if err := errors.Join(err1, err2); err != nil {
		return Header{}, 0, fmt.Errorf("proxyproto: invalid v1 header %q: %w", line, err)
	}
	h.Proxied, h.Source, h.Dest = true, src, dst
	return h, end + 1, nil
}

func v1Addr(ip, port string, v4 bool) (netip.AddrPort, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Zone() != "" || a.Is4() != v4 {
		return netip.AddrPort{}, fmt.Errorf("bad address %q", ip)
	}
	// Ports are decimal without sign or leading zeros (except "0" itself), 0-65535.
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || port[0] == '+' || len(port) > 1 && port[0] == '0' {
		return netip.AddrPort{}, fmt.Errorf("bad port %q", port)
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}

// parseV2 reads the binary header: 12-byte signature, version/command, family/protocol, length, then addresses and
// TLVs (skipped).
func parseV2(b []byte) (Header, int, error) {
	if len(b) < 16 {
		return Header{}, 0, ErrIncomplete
	}
	verCmd, fam := b[12], b[13]
	n := int(binary.BigEndian.Uint16(b[14:16]))
	if verCmd>>4 != 2 {
		return Header{}, 0, fmt.Errorf("proxyproto: unsupported v2 version %d", verCmd>>4)
	}
	if n > MaxV2Len {
		return Header{}, 0, fmt.Errorf("proxyproto: v2 header length %d over %d", n, MaxV2Len)
	}
	if len(b) < 16+n {
		return Header{}, 0, ErrIncomplete
	}
	body := b[16 : 16+n]
	h := Header{Version: 2}
	switch verCmd & 0xf {
	case 0x0: // LOCAL: the addresses, if any, are to be ignored
		return h, 16 + n, nil
	case 0x1: // PROXY
	default:
		return Header{}, 0, fmt.Errorf("proxyproto: unsupported v2 command %d", verCmd&0xf)
	}
	switch fam {
	case 0x11, 0x12: // TCP or UDP over IPv4
		if n < 12 {
			return Header{}, 0, fmt.Errorf("proxyproto: v2 IPv4 addresses need 12 bytes, header has %d", n)
		}
		h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[0:4])), binary.BigEndian.Uint16(body[8:10]))
		h.Dest = netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[4:8])), binary.BigEndian.Uint16(body[10:12]))
	case 0x21, 0x22: // TCP or UDP over IPv6
		if n < 36 {
			return Header{}, 0, fmt.Errorf("proxyproto: v2 IPv6 addresses need 36 bytes, header has %d", n)
		}
		h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[0:16])).Unmap(),
			binary.BigEndian.Uint16(body[32:34]))
		h.Dest = netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[16:32])).Unmap(),
			binary.BigEndian.Uint16(body[34:36]))
	default: // unspecified or UNIX: no address to use
		return h, 16 + n, nil
	}
	h.Proxied = true
	return h, 16 + n, nil
}

// Read reads a header from r into buf (at least MaxLen bytes, or shorter headers only) and returns it with the bytes
// read past it, which belong to the connection's own stream (buf[n:m], aliasing buf). It returns ErrNoHeader when the
// stream does not start with a header, and io.ErrUnexpectedEOF when it ends inside one.
func Read(r io.Reader, buf []byte) (Header, []byte, error) {
	m := 0
	for {
		h, n, err := Parse(buf[:m])
		if err == nil {
			return h, buf[n:m], nil
		}
		if !errors.Is(err, ErrIncomplete) && !(m == 0 && errors.Is(err, ErrNoHeader)) {
			return Header{}, nil, err
		}
		if m == len(buf) {
			return Header{}, nil, errors.New("proxyproto: header longer than the read buffer")
		}
		k, rerr := r.Read(buf[m:])
		m += k
		if rerr != nil && k == 0 {
			if errors.Is(rerr, io.EOF) {
				if m == 0 {
					return Header{}, nil, io.EOF
				}
				return Header{}, nil, io.ErrUnexpectedEOF
			}
			return Header{}, nil, rerr
		}
	}
}
