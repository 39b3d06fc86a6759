package admin

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEndpoints(t *testing.T) {
	st := Status{Version: "v1", Ready: true, Services: []ServiceStatus{{Name: "a", Instances: []InstanceStatus{
		{Address: "127.0.0.1:1", State: "ejected"}}}}}
	srv, err := Start("127.0.0.1:0", Handler(func() Status { return st }, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "m 1\n") })), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	}()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	get := func(path string) (int, string) {
		resp, err := cl.Get("http://" + srv.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/status")
	var got Status
	if code != 200 || json.Unmarshal([]byte(body), &got) != nil || got.Services[0].Instances[0].State != "ejected" {
		t.Fatalf("/status: %d %s", code, body)
	}
	if code, _ := get("/live"); code != 200 {
		t.Fatalf("/live: %d", code)
	}
	if code, _ := get("/ready"); code != 200 {
		t.Fatalf("/ready while ready: %d", code)
	}
	st.Ready = false
	if code, _ := get("/ready"); code != 503 {
		t.Fatalf("/ready while not ready: %d, want 503", code)
	}
	if code, body := get("/metrics"); code != 200 || body != "m 1\n" {
		t.Fatalf("/metrics: %d %q", code, body)
	}
	if code, _ := get("/nope"); code != 404 {
		t.Fatalf("unknown path: %d", code)
	}
}
