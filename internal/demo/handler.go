package demo

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// handler answers for one instance. Its only mutable state is chaos, which
// is safe for concurrent use, so net/http may call it from any number of
// goroutines.
type handler struct {
	inst  Instance
	chaos *chaosState // nil: always behave
}

// info is the default answer; field order is the documented JSON order.
type info struct {
	Service        string `json:"service"`
	Instance       string `json:"instance"`
	Method         string `json:"method"`
	Path           string `json:"path"`
	Query          string `json:"query"`
	RequestID      string `json:"request_id"`
	ForwardedFor   string `json:"forwarded_for"`
	ForwardedHost  string `json:"forwarded_host"`
	ForwardedProto string `json:"forwarded_proto"`
	Host           string `json:"host"`
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Demo-Instance", h.inst.Name)
	if h.chaos != nil && h.chaos.misbehave(w, r, h.inst) {
		return
	}
	if h.isWishlist(r) {
		h.wishlist(w, r)
		return
	}
	// Behaviours live under the service's own prefix so a gateway route
	// like /auth/ reaches them without rewriting; other paths just echo info.
	rest, ok := strings.CutPrefix(r.URL.Path, "/"+h.inst.Service+"/")
	if !ok {
		h.writeInfo(w, r, http.StatusOK)
		return
	}
	switch {
	case rest == "slow":
		h.slow(w, r)
	case strings.HasPrefix(rest, "status/"):
		code, err := strconv.Atoi(strings.TrimPrefix(rest, "status/"))
		if err != nil || code < 200 || code > 599 {
			writeError(w, http.StatusBadRequest, "status must be a number from 200 to 599")
			return
		}
		h.writeInfo(w, r, code)
	case rest == "echo":
		echo(w, r)
	case rest == "headers":
		hdr := r.Header.Clone()
		hdr["Host"] = []string{r.Host}
		writeJSON(w, http.StatusOK, hdr)
	default:
		h.writeInfo(w, r, http.StatusOK)
	}
}

func (h *handler) writeInfo(w http.ResponseWriter, r *http.Request, code int) {
	if !bodyAllowed(code) {
		w.WriteHeader(code)
		return
	}
	writeJSON(w, code, info{
		Service:        h.inst.Service,
		Instance:       h.inst.Name,
		Method:         r.Method,
		Path:           r.URL.Path,
		Query:          r.URL.RawQuery,
		RequestID:      r.Header.Get("X-Request-Id"),
		ForwardedFor:   r.Header.Get("X-Forwarded-For"),
		ForwardedHost:  r.Header.Get("X-Forwarded-Host"),
		ForwardedProto: r.Header.Get("X-Forwarded-Proto"),
		Host:           r.Host,
	})
}

// slow waits ?ms=N milliseconds (capped at maxSlow) and then answers as
// usual. A client that disconnects, or Close, ends the wait early.
func (h *handler) slow(w http.ResponseWriter, r *http.Request) {
	ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
	if err != nil || ms < 0 {
		writeError(w, http.StatusBadRequest, "ms must be a non-negative integer")
		return
	}
	d := maxSlow // compared as ints first: a huge ms would overflow a Duration
	if ms < int(maxSlow/time.Millisecond) {
		d = time.Duration(ms) * time.Millisecond
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		h.writeInfo(w, r, http.StatusOK)
	case <-r.Context().Done():
		// Nobody is listening; returning frees the goroutine.
	}
}

// echo copies the request body to the response as it arrives. Full duplex
// is needed because an HTTP/1 server otherwise stops reading the body once
// the response has started.
func echo(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	_ = rc.EnableFullDuplex() // unsupported only on HTTP/2, which is duplex anyway
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
		}
		if err != nil {
			// io.EOF is the normal end; anything else is a client that went
			// away after the status was sent, so there is nobody to tell.
			return
		}
	}
}

func bodyAllowed(code int) bool {
	return code != http.StatusNoContent && code != http.StatusNotModified
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	// The status is already sent; a failed write means the client left.
	_ = json.NewEncoder(w).Encode(v)
}
