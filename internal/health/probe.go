package health

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
)

// newClient builds the probe client: no keep-alives (every probe tests a fresh connect), no proxy from the
// environment, no redirects followed (a 3xx is judged by the status range like any other status).
func newClient(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:              nil,
			DialContext:        dial,
			DisableKeepAlives:  true,
			DisableCompression: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// probe runs one check against target within Timeout.
func (c *Checker) probe(ctx context.Context, target string) Result {
	start := c.now()
	ctx, cancel := context.WithTimeout(ctx, c.check.Timeout)
	defer cancel()
	var status int
	var err error
	switch c.check.Kind {
	case HTTP:
		status, err = c.probeHTTP(ctx, target)
	case TCP:
		err = c.probeTCP(ctx, target)
	default:
		err = fmt.Errorf("unknown check kind %v", c.check.Kind)
	}
	res := Result{At: start, OK: err == nil, Status: status, Took: c.now().Sub(start)}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("timeout after %v: %w", c.check.Timeout, err)
		}
		res.Err = err.Error()
	}
	return res
}

func (c *Checker) probeTCP(ctx context.Context, target string) error {
	conn, err := c.dial(ctx, "tcp", target)
	if err != nil {
		return fmt.Errorf("connect %s: %w", target, err)
	}
	return conn.Close()
}

// probeHTTP sends the check's request and judges status and body. It returns the status whenever one arrived.
func (c *Checker) probeHTTP(ctx context.Context, target string) (int, error) {
	ck := &c.check
	req, err := http.NewRequestWithContext(ctx, ck.Method, "http://"+target+ck.Path, nil)
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	if ck.Host != "" {
		req.Host = ck.Host
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", ck.Method, target+ck.Path, unwrapURL(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode < ck.StatusMin || resp.StatusCode > ck.StatusMax {
		return resp.StatusCode, fmt.Errorf("status %d (want %d-%d)", resp.StatusCode, ck.StatusMin, ck.StatusMax)
	}
	if ck.BodyContains == "" {
		return resp.StatusCode, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("read body: %w", err)
	}
	if !bytes.Contains(body, []byte(ck.BodyContains)) {
		return resp.StatusCode, fmt.Errorf("body does not contain %q (read %d bytes)", ck.BodyContains, len(body))
	}
	return resp.StatusCode, nil
}

// unwrapURL drops the *url.Error layer (which repeats method and URL) so the reason reads once.
func unwrapURL(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}
