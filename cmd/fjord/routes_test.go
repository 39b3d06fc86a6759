package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fjord-gw/fjord/internal/app"
)

// syncBuf is a bytes.Buffer safe for the demo's writes and the test's reads.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var demoReady = regexp.MustCompile(`fjord demo ready on (\S+)\n`)
var demoAdmin = regexp.MustCompile(`fjord status --admin (\S+)`)

// startMigrationDemo runs the demo in process, its admin interface on a free port, until the test ends; it returns
// the gateway's and the admin interface's addresses and the demo's log.
func startMigrationDemo(t *testing.T) (addr, adminAddr string, logs *syncBuf) {
	t.Helper()
	out, logs := &syncBuf{}, &syncBuf{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.RunDemoAdmin(ctx, "127.0.0.1:0", "127.0.0.1:0", "test", out, slog.New(slog.NewTextHandler(logs, nil)), nil)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunDemoAdmin: %v", err)
		}
	})
	waitFor(t, "the demo to be ready", func() bool { return demoReady.MatchString(out.String()) })
	return demoReady.FindStringSubmatch(out.String())[1], demoAdmin.FindStringSubmatch(out.String())[1], logs
}

// waitFor polls cond every 20 ms until it holds, failing the test after waitLimit.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after %v", what, waitLimit)
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline: nothing signals these states to a client
	}
}

// cli runs one fjord subcommand in process and returns its exit code, stdout and stderr.
func cli(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// wishlistUsers asks GET /api/wishlist/userN with cookie session=userN for each N in [from, to] and returns the
// service (from X-Demo-Instance) and status of each answer, keyed by user.
func wishlistUsers(t *testing.T, c *http.Client, addr string, from, to int) map[string]string {
	t.Helper()
	got := map[string]string{}
	for i := from; i <= to; i++ {
		user := fmt.Sprintf("user%d", i)
		req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/api/wishlist/"+user, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Cookie", "session="+user)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET /api/wishlist/%s: %v", user, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		svc, _, _ := strings.Cut(resp.Header.Get("X-Demo-Instance"), "-")
		got[user] = fmt.Sprintf("%s %d", svc, resp.StatusCode)
	}
	return got
}

func count(m map[string]string, v string) int {
	n := 0
	for _, x := range m {
		if x == v {
			n++
		}
	}
	return n
}

// TestMigrationWalkthrough runs the key steps of docs/migration.md against the demo with the real subcommands:
// shadow and `fjord diff`, `fjord canary` at 25 % (split and stickiness), `fjord routes --migration`, a rollback by
// the guard when wishlist fails (in `fjord status` and /metrics), and 100 % once it is healthy again.
func TestMigrationWalkthrough(t *testing.T) {
	addr, adminAddr, logs := startMigrationDemo(t)
	c := newClient(t)
	adm := "--admin=" + adminAddr

	// 1. Shadow: the monolith answers everyone; every request is compared with wishlist's answer.
	first := wishlistUsers(t, c, addr, 1, 60)
	if n := count(first, "monolith 200"); n != 60 {
		t.Fatalf("with the canary at 0%%, %d of 60 answers came from the monolith with 200: %v", n, first)
	}
	diffLine := regexp.MustCompile(`(\d+) mirrored, (\d+) match, (\d+) mismatch, 0 errors`)
	var out string
	waitFor(t, "60 shadow comparisons", func() bool {
		_, out, _ = cli("diff", adm, app.DemoMigrationRoute)
		m := diffLine.FindStringSubmatch(out)
		return m != nil && m[1] == "60" && atoi(m[2])+atoi(m[3]) == 60
	})
	m := diffLine.FindStringSubmatch(out)
	if atoi(m[2]) == 0 || atoi(m[3]) == 0 || !strings.Contains(out, "JSON differs at $.items") ||
		!strings.Contains(out, `"items":null`) {
		t.Errorf("fjord diff: want matches (reordered keys, ignored fields) and the items:null mismatches:\n%s", out)
	}

	// 2. Canary at 25 %: about a quarter of the users go to wishlist, and each user stays on one side.
	if code, out, errOut := cli("canary", adm, app.DemoMigrationRoute, "25"); code != 0 ||
		out != "route wishlist-api: 25% to wishlist\n" {
		t.Fatalf("fjord canary 25: exit %d, %q %q", code, out, errOut)
	}
	split := wishlistUsers(t, c, addr, 1, 200)
	if n := count(split, "wishlist 200"); n < 30 || n > 70 || count(split, "monolith 200")+n != 200 {
		t.Errorf("at 25%%, %d of 200 users went to wishlist (want about 50), all 200 OK: %v", n, split)
	}
	again := wishlistUsers(t, c, addr, 1, 200)
	for user, side := range split {
		if again[user] != side {
			t.Errorf("%s: %s, then %s: not sticky", user, side, again[user])
		}
	}
	_, out, _ = cli("routes", adm, "--migration")
	if !regexp.MustCompile(`(?m)^/api/wishlist/\s+460\s+\d+\.\d%\s+wishlist \d+\.\d%  \(now wishlist \d+\.\d%\)$`).MatchString(out) ||
		!strings.Contains(out, "(monolith: monolith)") {
		t.Errorf("fjord routes --migration:\n%s", out)
	}

	// 3. Rollback: wishlist fails; the guard moves everyone back to the monolith and says why.
	if _, _, err := getURL(c, "http://"+addr+"/chaos/wishlist?mode=error"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the canary to be rolled back", func() bool {
		wishlistUsers(t, c, addr, 1, 40)
		_, out, _ = cli("status", adm)
		return strings.Contains(out, "ROLLED BACK")
	})
	if !regexp.MustCompile(`wishlist-api +canary 0% -> wishlist \(\d+ requests to monolith, \d+ to wishlist\) ROLLED BACK: error rate`).MatchString(out) ||
		!regexp.MustCompile(`wishlist-api +shadow -> wishlist \(\d+ mirrored, \d+\.\d% match`).MatchString(out) {
		t.Errorf("fjord status does not show the rollback and the shadow:\n%s", out)
	}
	if !strings.Contains(logs.String(), `msg="canary rolled back" route=wishlist-api`) {
		t.Errorf("log lacks the rollback:\n%s", logs)
	}
	if back := wishlistUsers(t, c, addr, 1, 50); count(back, "monolith 200") != 50 {
		t.Errorf("after the rollback, not everyone is on the monolith: %v", back)
	}
	_, metrics, err := getURL(c, "http://"+adminAddr+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`fjord_canary_rolled_back{route="wishlist-api",service="wishlist"} 1`,
		`fjord_canary_weight_percent{route="wishlist-api",service="wishlist"} 0`,
		`fjord_canary_requests_total{route="wishlist-api",service="wishlist",side="new"} `,
		`fjord_shadow_mirrored_total{route="wishlist-api",service="wishlist"} `,
		`fjord_shadow_compared_total{result="mismatch",route="wishlist-api",service="wishlist"} `,
		`fjord_shadow_not_mirrored_total{reason="dropped",route="wishlist-api",service="wishlist"} `, // drops depend on timing
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// 4. Healthy again: all users to wishlist.
	if _, _, err := getURL(c, "http://"+addr+"/chaos/wishlist?mode=ok"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "wishlist to be healthy again", func() bool {
		_, out, _ = cli("status", adm)
		return regexp.MustCompile(`(?m)^wishlist .* healthy .*\n\s+\S+\s+healthy`).MatchString(out)
	})
	if code, out, errOut := cli("canary", adm, app.DemoMigrationRoute, "100"); code != 0 || !strings.Contains(out, "100% to wishlist") {
		t.Fatalf("fjord canary 100: exit %d, %q %q", code, out, errOut)
	}
	if all := wishlistUsers(t, c, addr, 1, 50); count(all, "wishlist 200") != 50 {
		t.Errorf("at 100%%, not everyone is on wishlist: %v", all)
	}
}

// TestMigrationCommandErrors: the migration subcommands' usage and the admin API's refusals.
func TestMigrationCommandErrors(t *testing.T) {
	_, adminAddr, _ := startMigrationDemo(t)
	adm := "--admin=" + adminAddr
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"diff without route", []string{"diff", adm}, 2, "usage"},
		{"diff of a route without shadow", []string{"diff", adm, "auth"}, 1, `route "auth" has no shadow`},
		{"canary without weight", []string{"canary", adm, "wishlist-api"}, 2, "usage"},
		{"canary of a route without canary", []string{"canary", adm, "auth", "5"}, 1, `route "auth" has no canary`},
		{"canary over 100", []string{"canary", adm, "wishlist-api", "150"}, 1, "between 0 and 100"},
		{"canary not a number", []string{"canary", adm, "wishlist-api", "lots"}, 1, "weight (percent, 0-100) are required"},
		{"routes unreachable", []string{"routes", "--admin=127.0.0.1:1", "--migration"}, 1, "fjord routes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := cli(tt.args...)
			if code != tt.code || !strings.Contains(strings.ToLower(stderr), strings.ToLower(tt.stderr)) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr, tt.code, tt.stderr)
			}
		})
	}
}

func atoi(s string) int {
	n := 0
	fmt.Sscan(s, &n)
	return n
}

// getURL does a GET and returns the status and body.
func getURL(c *http.Client, url string) (int, string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
