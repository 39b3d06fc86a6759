package proxy

import "bytes"

// LocationRewrite rewrites the Location and Refresh headers of upstream responses that point at the upstream back
// to the client-visible URL (nginx's proxy_redirect). Rules are tried in order; the first whose From is a prefix of
// the URL replaces that prefix with To. Immutable once published.
type LocationRewrite struct {
	Rules []LocationRule
}

// LocationRule replaces the prefix From of a redirect URL with To. With ClientHost, From is matched after
// "http://" + the client's Host (the host the upstream saw when the route passes the client's Host on).
type LocationRule struct {
	From, To   string
	ClientHost bool
}

// isLocationHeader reports whether name is Location or Refresh, the headers nginx's proxy_redirect rewrites.
func isLocationHeader(name []byte) bool {
	return len(name) == len("location") && equalFold(name, "location") || isRefresh(name)
}

func isRefresh(name []byte) bool { return len(name) == len("refresh") && equalFold(name, "refresh") }

// appendRewritten writes the header value v with the first matching rule applied; refresh says v is a Refresh
// value ("5; url=http://..."), rewritten after its "url=" (any case). Nothing is allocated: the value is appended
// to b.
func (lr *LocationRewrite) appendRewritten(b, v, host []byte, refresh bool) []byte {
	off := 0
	if refresh {
		off = len(v)
		for i := 0; i+4 <= len(v); i++ {
			if equalFold(v[i:i+4], "url=") {
				off = i + 4
				break
			}
		}
	}
	b = append(b, v[:off]...)
	u := v[off:]
	for i := range lr.Rules {
		r := &lr.Rules[i]
		rest, ok := u, true
		if r.ClientHost {
			rest, ok = cutPrefix(rest, "http://")
			if ok && len(host) > 0 && len(rest) >= len(host) && bytes.EqualFold(rest[:len(host)], host) {
				rest = rest[len(host):]
			} else {
				ok = false
			}
		}
		if ok {
			if rest, ok = cutPrefix(rest, r.From); ok {
				b = append(b, r.To...)
				return append(b, rest...)
			}
		}
	}
	return append(b, u...)
}

func cutPrefix(b []byte, p string) ([]byte, bool) {
	if len(b) >= len(p) && string(b[:len(p)]) == p {
		return b[len(p):], true
	}
	return b, false
}
