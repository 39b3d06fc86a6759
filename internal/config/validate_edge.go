package config

import "strings"

// compression checks a compression block: a level in range, media types of the form TYPE/SUBTYPE or TYPE/*, and
// a non-negative min_bytes. where names the block in messages ("server" or `route "x"`).
func (v *validator) compression(c *Compression, where string) {
	if c == nil {
		return
	}
	if c.Level < 0 || c.Level > 9 {
		v.diags.Errorf(c.At("level"), "%s: compression level must be 1 to 9 (0 = default 5), got %d", where, c.Level)
	}
	if c.MinBytes < 0 {
		v.diags.Errorf(c.At("min_bytes"), "%s: compression min_bytes must not be negative, got %d", where, c.MinBytes)
	}
	for i, t := range c.Types {
		top, sub, ok := strings.Cut(strings.TrimSpace(t), "/")
		if !ok || top == "" || sub == "" || strings.ContainsAny(t, " ;,") || top == "*" {
			v.diags.Errorf(c.At("types."+itoa(i)), "%s: compression type %q: want TYPE/SUBTYPE or TYPE/*", where, t)
		}
	}
}

// bodyRate checks server.min_body_rate.
func (v *validator) bodyRate(r *BodyRate) {
	if r == nil {
		return
	}
	if r.Bytes <= 0 && r.Has("bytes") {
		v.diags.Errorf(r.At("bytes"), "min_body_rate: bytes must be greater than zero, got %d", r.Bytes)
	}
	v.positive(r.Positions, "window", r.Window, false)
}
