package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Actions are the operations the admin API offers besides reading status. The app implements them; a nil func
// leaves its endpoint out (404). Each may be called from any goroutine, concurrently.
type Actions struct {
	// Token returns the bearer token the API requires ("" = none). Called per request, so a reload that changes
	// the token applies at once.
	Token func() string
	// Drain drains (on = true) or undrains the instance addr of service and reports its state afterwards.
	// ErrNotFound (wrapped) means no such service or instance.
	Drain func(service, addr string, on bool) (DrainResult, error)
	// Reload re-reads the configuration like SIGHUP and waits for the result (or for the request to be cancelled).
	Reload func(r *http.Request) ReloadResult
	// Config returns the configuration in force (as JSON-encodable data) and its version.
	Config func() ConfigResult
	// Explain answers GET /explain: the query parameters describe a request. An error wrapping ErrBadRequest is
	// answered 400.
	Explain func(q url.Values) (any, error)
	// Canary sets the share (percent) of a route's requests sent to its canary service (POST /canary).
	Canary func(route string, weight float64) (CanaryStatus, error)
	// Shadow reports a route's shadow counters and mismatch samples (GET /shadow).
	Shadow func(route string) (ShadowReport, error)
}

// ErrNotFound and ErrBadRequest classify action errors into 404 and 400.
var (
	ErrNotFound   = errors.New("not found")
	ErrBadRequest = errors.New("bad request")
)

// DrainResult is the answer of /instances/drain and /instances/undrain.
type DrainResult struct {
	Service  string `json:"service"`
	Address  string `json:"address"`
	State    string `json:"state"`   // as in /status: "draining", "drained", or the instance's state after undrain
	Changed  bool   `json:"changed"` // false when it already was (un)drained
	InFlight int64  `json:"in_flight"`
}

// ConfigVersion identifies a configuration in force: Generation counts the configurations applied since start
// (1 for the first), Hash is a digest of the parsed configuration, LoadedAt when it took effect.
type ConfigVersion struct {
	Generation int       `json:"generation"`
	Hash       string    `json:"hash"`
	LoadedAt   time.Time `json:"loaded_at"`
	Source     string    `json:"source"`
}

// ConfigResult is the answer of GET /config.
type ConfigResult struct {
	Version ConfigVersion `json:"version"`
	Config  any           `json:"config"`
}

// ReloadResult is the answer of POST /reload. On failure the running configuration stays in force and Errors lists
// each problem as FILE:LINE:COL: message.
type ReloadResult struct {
	OK       bool           `json:"ok"`
	Error    string         `json:"error,omitempty"`
	Errors   []string       `json:"errors,omitempty"`
	Warnings []string       `json:"warnings,omitempty"`
	Version  *ConfigVersion `json:"version,omitempty"` // the configuration in force after the attempt
}

// addActions registers the action endpoints on mux. Mutations are POST only (ServeMux answers other methods 405).
func addActions(mux *http.ServeMux, act Actions) {
	addMigration(mux, act)
	if act.Drain != nil {
		mux.HandleFunc("POST /instances/drain", drainHandler(act.Drain, true))
		mux.HandleFunc("POST /instances/undrain", drainHandler(act.Drain, false))
	}
	if act.Reload != nil {
		mux.HandleFunc("POST /reload", func(w http.ResponseWriter, r *http.Request) {
			res := act.Reload(r)
			code := http.StatusOK
			if !res.OK {
				code = http.StatusUnprocessableEntity
			}
			writeJSON(w, code, res)
		})
	}
	if act.Config != nil {
		mux.HandleFunc("GET /config", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, act.Config())
		})
	}
	if act.Explain != nil {
		mux.HandleFunc("GET /explain", func(w http.ResponseWriter, r *http.Request) {
			res, err := act.Explain(r.URL.Query())
			if err != nil {
				writeError(w, err)
				return
			}
			writeJSON(w, http.StatusOK, res)
		})
	}
}

// drainHandler reads service and address from a JSON body ({"service": …, "address": …}) or from form/query
// values, so both `curl -d` and the CLI work.
func drainHandler(drain func(string, string, bool) (DrainResult, error), on bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Service string `json:"service"`
			Address string `json:"address"`
		}
		if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/json" {
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&in); err != nil {
				writeError(w, fmt.Errorf("%w: JSON body: %v", ErrBadRequest, err))
				return
			}
		} else {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			in.Service, in.Address = r.FormValue("service"), r.FormValue("address")
		}
		if in.Service == "" || in.Address == "" {
			writeError(w, fmt.Errorf("%w: service and address are required", ErrBadRequest))
			return
		}
		res, err := drain(in.Service, in.Address, on)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	}
}

// requireToken wraps h so that every request but the open paths carries "Authorization: Bearer TOKEN" when token
// returns non-empty. The comparison is constant-time over digests, so neither the content nor the length of the
// token leaks through timing.
func requireToken(h http.Handler, token func() string, open map[string]bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := token()
		if want == "" || open[r.URL.Path] {
			h.ServeHTTP(w, r)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		g, wt := sha256.Sum256([]byte(strings.TrimSpace(got))), sha256.Sum256([]byte(want))
		if !ok || subtle.ConstantTimeCompare(g[:], wt[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="fjord admin"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong admin token (Authorization: Bearer TOKEN)"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, ErrBadRequest):
		code = http.StatusBadRequest
	}
	writeJSON(w, code, map[string]string{"error": err.Error()})
}
