package app

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"time"

	"github.com/fjord-gw/fjord/internal/admin"
	"github.com/fjord-gw/fjord/internal/config"
	"github.com/fjord-gw/fjord/internal/explain"
)

// explainGateway is what explain needs of b for the listener named listener ("" = the first one): its route table,
// the services, the config.
func (b *Built) explainGateway(listener string) (explain.Gateway, error) {
	if len(b.Listeners) == 0 {
		return explain.Gateway{}, errors.New("the configuration has no listener")
	}
	l := &b.Listeners[0]
	if listener != "" {
		l = nil
		for i := range b.Listeners {
			if b.Listeners[i].Name == listener {
				l = &b.Listeners[i]
			}
		}
		if l == nil {
			return explain.Gateway{}, fmt.Errorf("no listener named %q", listener)
		}
	}
	tbl := b.Proxy.Routes
	if t := b.Proxy.ByListener[listenerKey(*l)]; t != nil {
		tbl = t
	}
	return explain.Gateway{Config: b.Config, Routes: tbl, Services: b.Services}, nil
}

// Explain compiles the configuration from src (as `fjord validate` does) and explains req against it, with every
// instance in its initial state (healthy, not ejected). The diagnostics are the configuration's; the report is nil
// when it has errors.
func Explain(src Source, req explain.Request) (*explain.Report, config.Diagnostics, error) {
	b, diags := Load(src, nil)
	if b == nil {
		return nil, diags, errors.New("configuration has errors")
	}
	defer func() {
		for _, in := range b.Retired(nil) {
			in.Close()
		}
	}()
	g, err := b.explainGateway(req.Listener)
	if err != nil {
		return nil, diags, err
	}
	if req.Listener == "" {
		req.Listener = b.Listeners[0].Name
	}
	rep := explain.Explain(g, req, time.Now())
	return &rep, diags, nil
}

// explainLive answers GET /explain?url=…&method=…&header=Name:+v&listener=…&client_ip=… with the running
// configuration and the instances' live state.
func (a *App) explainLive(q url.Values) (any, error) {
	req, err := explain.ParseRequest(q.Get("method"), q.Get("url"), q["header"])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", admin.ErrBadRequest, err)
	}
	if ip := q.Get("client_ip"); ip != "" {
		if req.ClientIP, err = netip.ParseAddr(ip); err != nil {
			return nil, fmt.Errorf("%w: client_ip: %v", admin.ErrBadRequest, err)
		}
	}
	b := a.cur.Load()
	if b == nil {
		return nil, errors.New("no configuration in force yet")
	}
	req.Listener = q.Get("listener")
	g, err := b.explainGateway(req.Listener)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", admin.ErrBadRequest, err)
	}
	if req.Listener == "" {
		req.Listener = b.Listeners[0].Name
	}
	rep := explain.Explain(g, req, time.Now())
	rep.Live = true
	return rep, nil
}
