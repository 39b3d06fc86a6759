package proxy

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/fjord-gw/fjord/internal/balancer"
)

// testService is a gRPC server for the four call shapes. A unary payload "hang" waits until the call ends.
type testService struct {
	testpb.UnimplementedTestServiceServer
}

func (testService) UnaryCall(ctx context.Context, in *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if string(in.GetPayload().GetBody()) == "hang" {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	md, _ := metadata.FromIncomingContext(ctx)
	_ = grpc.SetTrailer(ctx, metadata.Pairs("x-trailer", "t1"))
	body := append([]byte("echo:"), in.GetPayload().GetBody()...)
	if len(md.Get("x-forwarded-for")) > 0 {
		body = append(body, " xff"...)
	}
	return &testpb.SimpleResponse{Payload: &testpb.Payload{Body: body}}, nil
}

func (testService) StreamingOutputCall(in *testpb.StreamingOutputCallRequest, s testpb.TestService_StreamingOutputCallServer) error {
	for _, p := range in.GetResponseParameters() {
		if err := s.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: make([]byte, p.GetSize())}}); err != nil {
			return err
		}
	}
	return nil
}

func (testService) StreamingInputCall(s testpb.TestService_StreamingInputCallServer) error {
	total := 0
	for {
		m, err := s.Recv()
		if err == io.EOF {
			return s.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: int32(total)})
		}
		if err != nil {
			return err
		}
		total += len(m.GetPayload().GetBody())
	}
}

func (testService) FullDuplexCall(s testpb.TestService_FullDuplexCallServer) error {
	for {
		m, err := s.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.Send(&testpb.StreamingOutputCallResponse{Payload: m.GetPayload()}); err != nil {
			return err
		}
	}
}

// grpcUpstream serves testService over h2c on loopback until the test ends.
func grpcUpstream(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	testpb.RegisterTestServiceServer(s, testService{})
	go s.Serve(ln)
	t.Cleanup(s.Stop)
	return ln.Addr().String()
}

// grpcThrough is a TestService client through a proxy in front of the h2c service at addrs.
func grpcThrough(t *testing.T, rt *Route) testpb.TestServiceClient {
	addr := startModeProxy(t, cfgOf(t, prefix("/", rt)), &ListenerMode{H2C: true})
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return testpb.NewTestServiceClient(cc)
}

func grpcRoute(t *testing.T, addrs ...string) *Route {
	svc := newService(t, balancer.RoundRobin, addrs)
	tr := NewH2Transport(H2Options{ConnectTimeout: time.Second})
	t.Cleanup(tr.CloseIdleConnections)
	svc.Protocol, svc.H2 = ProtoH2C, tr
	return &Route{Name: "grpc", Service: svc}
}

func TestGRPCThroughProxy(t *testing.T) {
	cl := grpcThrough(t, grpcRoute(t, grpcUpstream(t)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t.Run("unary with trailers", func(t *testing.T) {
		var tr metadata.MD
		resp, err := cl.UnaryCall(ctx, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("hi")}}, grpc.Trailer(&tr))
		if err != nil {
			t.Fatal(err)
		}
		if got := string(resp.GetPayload().GetBody()); got != "echo:hi xff" {
			t.Errorf("payload %q, want \"echo:hi xff\" (X-Forwarded-For added)", got)
		}
		if got := tr.Get("x-trailer"); len(got) != 1 || got[0] != "t1" {
			t.Errorf("trailer x-trailer = %v, want [t1]", got)
		}
	})
	t.Run("server streaming", func(t *testing.T) {
		s, err := cl.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 1}, {Size: 70000}, {Size: 3}}})
		if err != nil {
			t.Fatal(err)
		}
		var sizes []int
		for {
			m, err := s.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, len(m.GetPayload().GetBody()))
		}
		if len(sizes) != 3 || sizes[0] != 1 || sizes[1] != 70000 || sizes[2] != 3 {
			t.Errorf("sizes %v, want [1 70000 3]", sizes)
		}
	})
	t.Run("client streaming", func(t *testing.T) {
		s, err := cl.StreamingInputCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{10, 20000, 5} {
			if err := s.Send(&testpb.StreamingInputCallRequest{Payload: &testpb.Payload{Body: make([]byte, n)}}); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := s.CloseAndRecv()
		if err != nil || resp.GetAggregatedPayloadSize() != 20015 {
			t.Fatalf("%v, %v: want 20015", resp, err)
		}
	})
	t.Run("bidi, one message at a time", func(t *testing.T) {
		// Each reply is read before the next message is sent: a proxy that buffered either direction would hang.
		s, err := cl.FullDuplexCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, msg := range []string{"a", "bb", "ccc"} {
			if err := s.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte(msg)}}); err != nil {
				t.Fatal(err)
			}
			m, err := s.Recv()
			if err != nil || string(m.GetPayload().GetBody()) != msg {
				t.Fatalf("reply %v, %v: want %q", m, err, msg)
			}
		}
		if err := s.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != io.EOF {
			t.Errorf("after close: %v, want EOF", err)
		}
	})
}

// TestGRPCGatewayErrors checks that the gateway's own failures reach gRPC clients as gRPC statuses.
func TestGRPCGatewayErrors(t *testing.T) {
	slow := grpcRoute(t, grpcUpstream(t))
	slow.Timeouts.ResponseHeader = 100 * time.Millisecond
	cases := []struct {
		name string
		rt   *Route
		want codes.Code
	}{
		{"upstream down", grpcRoute(t, h2DeadAddr(t)), codes.Unavailable},
		{"response timeout", slow, codes.DeadlineExceeded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl := grpcThrough(t, tc.rt)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := cl.UnaryCall(ctx, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("hang")}})
			if st, _ := status.FromError(err); st.Code() != tc.want {
				t.Fatalf("status %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("client deadline", func(t *testing.T) {
		cl := grpcThrough(t, grpcRoute(t, grpcUpstream(t)))
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		_, err := cl.UnaryCall(ctx, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("hang")}})
		if status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("status %v, want DeadlineExceeded", err)
		}
	})
}

func TestGRPCTimeoutHeader(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{{"100m", 100 * time.Millisecond, true}, {"2S", 2 * time.Second, true}, {"1H", time.Hour, true},
		{"5n", 5, true}, {"", 0, false}, {"m", 0, false}, {"123456789S", 0, false}, {"10x", 0, false}, {"-1S", 0, false}} {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := grpcTimeout(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Errorf("grpcTimeout(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}
