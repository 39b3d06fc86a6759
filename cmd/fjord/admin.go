package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/fjord-gw/fjord/internal/admin"
	"github.com/fjord-gw/fjord/internal/app"
)

// adminClient talks to a running fjord's admin API, with the token from --token or FJORD_ADMIN_TOKEN.
type adminClient struct {
	addr, token string
	cl          *http.Client
}

func newAdminClient(addr, token string) *adminClient {
	if token == "" {
		token = os.Getenv("FJORD_ADMIN_TOKEN")
	}
	return &adminClient{addr: addr, token: token, cl: &http.Client{Timeout: 60 * time.Second}}
}

// adminFlags are the --admin and --token flags of the commands that talk to a running fjord.
type adminFlags struct{ addr, token *string }

func addAdminFlags(fs *flag.FlagSet) adminFlags {
	return adminFlags{
		addr:  fs.String("admin", app.DefaultAdminAddr, "admin address of the running fjord"),
		token: fs.String("token", "", "admin token (default $FJORD_ADMIN_TOKEN)"),
	}
}

// client is the admin client the parsed flags name.
func (a adminFlags) client() *adminClient { return newAdminClient(*a.addr, *a.token) }

// parseArgs is parseFlags that also wants exactly n positional arguments, printing the usage otherwise.
func parseArgs(fs *flag.FlagSet, args []string, n int) (code int, ok bool) {
	if code, ok := parseFlags(fs, args); !ok {
		return code, false
	}
	if fs.NArg() != n {
		fs.Usage()
		return 2, false
	}
	return 0, true
}

// do sends a request and decodes a JSON answer into out; it returns the status code. A transport failure or a
// non-JSON answer is an error.
func (c *adminClient) do(method, path string, form url.Values, out any) (int, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, "http://"+c.addr+path, body)
	if err != nil {
		return 0, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.cl.Do(req)
	if err != nil {
		return 0, fmt.Errorf("cannot reach the admin interface at %s: %w", c.addr, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s%s: %w", c.addr, path, err)
	}
	var e struct {
		Error string `json:"error"`
	}
	if resp.StatusCode >= 400 && json.Unmarshal(data, &e) == nil && e.Error != "" && resp.StatusCode != http.StatusUnprocessableEntity {
		return resp.StatusCode, fmt.Errorf("%s%s answered %s: %s", c.addr, path, resp.Status, e.Error)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return resp.StatusCode, fmt.Errorf("%s%s answered %s, not JSON: %.200s", c.addr, path, resp.Status, data)
	}
	return resp.StatusCode, nil
}

// bearer adds the admin token, when there is one, to every request.
type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if b.token != "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// cmdDrain drains (on) or undrains an instance of a running fjord.
func cmdDrain(args []string, stdout, stderr io.Writer, on bool) int {
	name := map[bool]string{true: "drain", false: "undrain"}[on]
	fs := newFlags(name, "fjord "+name+" [--admin ADDR] [--token T] SERVICE ADDRESS", stderr)
	af := addAdminFlags(fs)
	if code, ok := parseArgs(fs, args, 2); !ok {
		return code
	}
	var res admin.DrainResult
	c := af.client()
	if _, err := c.do(http.MethodPost, "/instances/"+name, url.Values{"service": {fs.Arg(0)}, "address": {fs.Arg(1)}}, &res); err != nil {
		fmt.Fprintf(stderr, "fjord %s: %v\n", name, err)
		return 1
	}
	already := ""
	if !res.Changed {
		already = " (it already was)"
	}
	fmt.Fprintf(stdout, "%s %s: %s, %d in flight%s\n", res.Service, res.Address, res.State, res.InFlight, already)
	return 0
}

// cmdReload asks a running fjord to reload its configuration and prints the outcome: exit 0 when the new
// configuration is in force, 1 when it was rejected (the running one stays).
func cmdReload(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("reload", "fjord reload [--admin ADDR] [--token T]", stderr)
	af := addAdminFlags(fs)
	if code, ok := parseArgs(fs, args, 0); !ok {
		return code
	}
	var res admin.ReloadResult
	if _, err := af.client().do(http.MethodPost, "/reload", url.Values{}, &res); err != nil {
		fmt.Fprintf(stderr, "fjord reload: %v\n", err)
		return 1
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(stderr, w)
	}
	version := ""
	if v := res.Version; v != nil {
		version = fmt.Sprintf("generation %d, hash %s, loaded %s", v.Generation, v.Hash, v.LoadedAt.Format(time.RFC3339))
	}
	if !res.OK {
		for _, e := range res.Errors {
			fmt.Fprintln(stderr, e)
		}
		fmt.Fprintf(stderr, "fjord reload: %s; the running configuration stays (%s)\n", res.Error, version)
		return 1
	}
	fmt.Fprintf(stdout, "reloaded: %s\n", version)
	return 0
}
