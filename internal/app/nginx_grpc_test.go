package app_test

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
)

// levelEcho answers UnaryCall with its payload and the x-level metadata it received.
type levelEcho struct {
	testpb.UnimplementedTestServiceServer
}

func (levelEcho) UnaryCall(ctx context.Context, in *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	body := "echo:" + string(in.GetPayload().GetBody()) + " level=" + strings.Join(md.Get("x-level"), ",")
	return &testpb.SimpleResponse{Payload: &testpb.Payload{Body: []byte(body)}}, nil
}

// TestNginxGRPC runs a grpc_pass config (h2c listener, grpc_set_header,
// grpc timeouts) in nginx and fjord and makes the same grpc-go call through
// both.
func TestNginxGRPC(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	testpb.RegisterTestServiceServer(s, levelEcho{})
	go s.Serve(ln)
	t.Cleanup(s.Stop)
	tc := nginxCase{conf: `upstream g { server {{A}}; }
server { listen 127.0.0.1:{{PORT}} http2;
  grpc_set_header X-Level from-server; grpc_read_timeout 30s;
  location /grpc.testing.TestService/ { grpc_connect_timeout 5s; grpc_pass grpc://g; }
  location / { return 404; } }`}
	ups := map[string]string{"{{A}}": ln.Addr().String()}
	dir := t.TempDir()
	ps := ports(t, 4)
	fconf := writeCase(t, filepath.Join(dir, "f"), tc, ps[2:4], ups)
	targets := map[string]string{"fjord": startFjord(t, fconf)}
	if bin, err := exec.LookPath("nginx"); err == nil {
		nconf := writeCase(t, filepath.Join(dir, "n"), tc, ps[0:2], ups)
		targets["nginx"] = startNginx(t, bin, filepath.Join(dir, "n"), nconf, ps[0])
	}
	for name, addr := range targets {
		t.Run(name, func(t *testing.T) {
			cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cc.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			resp, err := testpb.NewTestServiceClient(cc).UnaryCall(ctx,
				&testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("hi")}})
			if err != nil {
				t.Fatalf("UnaryCall through %s: %v", name, err)
			}
			if got, want := string(resp.GetPayload().GetBody()), "echo:hi level=from-server"; got != want {
				t.Errorf("through %s: payload %q, want %q", name, got, want)
			}
		})
	}
}
