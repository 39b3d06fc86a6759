package app

import (
	"github.com/fjord-gw/fjord/internal/compress"
	"github.com/fjord-gw/fjord/internal/config"
)

// compileCompression returns the compression policy of route r: its own block, else server.compression, compiled
// once per build for all the routes that share the server's (so they share its encoder pools); nil when off.
func (b *Built) compileCompression(cfg *config.Config, r *config.Route, diags *config.Diagnostics) *compress.Policy {
	if r.Compression != nil {
		return newCompression(r.Compression, diags)
	}
	if cfg.Server.Compression == nil {
		return nil
	}
	if !b.serverCompressDone {
		b.serverCompress = newCompression(cfg.Server.Compression, diags)
		b.serverCompressDone = true
	}
	return b.serverCompress
}

func newCompression(c *config.Compression, diags *config.Diagnostics) *compress.Policy {
	o := compress.Options{Gzip: c.Gzip == nil || *c.Gzip, Zstd: c.Zstd == nil || *c.Zstd, Types: c.Types,
		MinBytes: compress.DefaultMinBytes, Level: c.Level}
	if c.Has("min_bytes") {
		o.MinBytes = int64(c.MinBytes)
	}
	if !o.Gzip && !o.Zstd {
		return nil
	}
	p, err := compress.New(o)
	if err != nil {
		diags.Errorf(c.Pos, "compression: %v", err) // validation reports these first, at the key
		return nil
	}
	return p
}
