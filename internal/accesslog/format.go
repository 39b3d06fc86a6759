package accesslog

import (
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"
)

// The appenders below are written by hand because they run once per request:
// encoding/json would reflect and allocate, time.Format parses its layout.

const hexLower = "0123456789abcdef"
const hexUpper = "0123456789ABCDEF"

var monthAbbr = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// appendJSON appends e as one JSON object and a newline. Keys are always in
// the same order; time, duration_ms, method, uri, proto, status and bytes
// are always present, the others only when non-empty.
func appendJSON(b []byte, e *Entry) []byte {
	b = append(b, `{"time":"`...)
	b = appendRFC3339Millis(b, e.Time)
	b = append(b, `","duration_ms":`...)
	b = appendMillis(b, e.Duration)
	if e.ClientIP.IsValid() {
		b = append(b, `,"client":`...)
		var tmp [64]byte
		b = appendJSONString(b, appendClient(tmp[:0], e.ClientIP, e.ClientPort))
	}
	b = append(b, `,"method":`...)
	b = appendJSONString(b, e.Method)
	b = append(b, `,"uri":`...)
	b = appendJSONString(b, e.URI)
	b = append(b, `,"proto":`...)
	b = appendJSONString(b, e.Proto)
	b = appendOptional(b, `,"host":`, e.Host)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, e.BytesSent, 10)
	b = appendOptional(b, `,"route":`, e.Route)
	b = appendOptional(b, `,"service":`, e.Service)
	b = appendOptional(b, `,"upstream":`, e.Upstream)
	b = appendOptional(b, `,"request_id":`, e.RequestID)
	b = appendOptional(b, `,"referer":`, e.Referer)
	b = appendOptional(b, `,"user_agent":`, e.UserAgent)
	b = appendOptional(b, `,"reason":`, e.Reason)
	return append(b, "}\n"...)
}

// appendClient formats ip:port, or the bare ip when port is 0. Callers pass
// a stack buffer and escape the result: IPv6 zones are arbitrary text.
func appendClient(dst []byte, ip netip.Addr, port uint16) []byte {
	if port == 0 {
		return ip.AppendTo(dst)
	}
	return netip.AddrPortFrom(ip, port).AppendTo(dst)
}

func appendOptional[T ~string | ~[]byte](b []byte, key string, v T) []byte {
	if len(v) == 0 {
		return b
	}
	b = append(b, key...)
	return appendJSONString(b, v)
}

// appendJSONString appends s as a quoted JSON string. Invalid UTF-8 becomes
// \ufffd, control bytes use \u00XX (or \n \r \t), and U+2028/U+2029 are
// escaped as encoding/json does so the line is also safe inside JavaScript.
func appendJSONString[T ~string | ~[]byte](b []byte, s T) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexLower[c>>4], hexLower[c&0xf])
			}
			i++
			start = i
			continue
		}
		// At most utf8.UTFMax bytes are converted, so the conversion uses
		// a stack buffer instead of allocating.
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexLower[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendRFC3339Millis appends t in UTC as 2006-01-02T15:04:05.000Z.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	}
	hour, minute, sec := t.Clock()
	b = appendPad(b, year, 4)
	b = append(b, '-')
	b = appendPad(b, int(month), 2)
	b = append(b, '-')
	b = appendPad(b, day, 2)
	b = append(b, 'T')
	b = appendPad(b, hour, 2)
	b = append(b, ':')
	b = appendPad(b, minute, 2)
	b = append(b, ':')
	b = appendPad(b, sec, 2)
	b = append(b, '.')
	b = appendPad(b, t.Nanosecond()/1e6, 3)
	return append(b, 'Z')
}

// appendMillis appends d in milliseconds with exactly three decimals,
// rounded to the nearest microsecond.
func appendMillis(b []byte, d time.Duration) []byte {
	us := d.Round(time.Microsecond).Microseconds()
	if us < 0 {
		b = append(b, '-')
		us = -us
	}
	b = strconv.AppendInt(b, us/1000, 10)
	b = append(b, '.')
	return appendPad(b, int(us%1000), 3)
}

// appendPad appends a non-negative v with at least width digits.
func appendPad(b []byte, v, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for v >= 10 || width > 1 {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		width--
	}
	i--
	tmp[i] = byte('0' + v)
	return append(b, tmp[i:]...)
}

// appendCombined appends e in nginx's combined format:
//
//	$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
//
// with nginx's escaping of quoted fields and "-" for empty ones.
func appendCombined(b []byte, e *Entry, loc *time.Location) []byte {
	if e.ClientIP.IsValid() {
		var tmp [64]byte
		b = appendNginxEscaped(b, e.ClientIP.AppendTo(tmp[:0]))
	} else {
		b = append(b, '-')
	}
	b = append(b, " - - ["...)
	b = appendLocalTime(b, e.Time.In(loc))
	b = append(b, `] "`...)
	b = appendNginxEscaped(b, e.Method)
	b = append(b, ' ')
	b = appendNginxEscaped(b, e.URI)
	b = append(b, ' ')
	b = appendNginxEscaped(b, e.Proto)
	b = append(b, `" `...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.BytesSent, 10)
	b = append(b, ` "`...)
	b = appendNginxField(b, e.Referer)
	b = append(b, `" "`...)
	b = appendNginxField(b, e.UserAgent)
	return append(b, "\"\n"...)
}

func appendNginxField(b []byte, v []byte) []byte {
	if len(v) == 0 {
		return append(b, '-')
	}
	return appendNginxEscaped(b, v)
}

// appendNginxEscaped escapes like nginx's default log escaping: '"', '\\',
// control bytes and bytes >= 0x7f become \xHH, so a line can never be split
// or unbalanced by a client-chosen header.
func appendNginxEscaped[T ~string | ~[]byte](b []byte, s T) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, '\\', 'x', hexUpper[c>>4], hexUpper[c&0xf])
		start = i + 1
	}
	return append(b, s[start:]...)
}

// appendLocalTime appends t as 02/Jan/2006:15:04:05 -0700.
func appendLocalTime(b []byte, t time.Time) []byte {
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	_, off := t.Zone()
	b = appendPad(b, day, 2)
	b = append(b, '/')
	b = append(b, monthAbbr[month-1]...)
	b = append(b, '/')
	if year < 0 {
		b = append(b, '-')
		year = -year
	}
	b = appendPad(b, year, 4)
	b = append(b, ':')
	b = appendPad(b, hour, 2)
	b = append(b, ':')
	b = appendPad(b, minute, 2)
	b = append(b, ':')
	b = appendPad(b, sec, 2)
	b = append(b, ' ')
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	b = append(b, sign)
	off /= 60
	b = appendPad(b, off/60, 2)
	return appendPad(b, off%60, 2)
}
