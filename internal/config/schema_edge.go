package config

// Compression compresses responses (see docs/security.md, "Response compression"). Written under server it is the
// default of every proxying route; a route's own block replaces it whole. A block with gzip and zstd both false
// turns compression off.
type Compression struct {
	Positions
	Gzip *bool `yaml:"gzip"` // default true
	Zstd *bool `yaml:"zstd"` // default true
	// Types are the media types compressed ("text/html", or "text/*"); default: common text formats (see
	// compress.DefaultTypes). Images, audio, video and archives are never compressed.
	Types []string `yaml:"types"`
	// MinBytes is the smallest body of known length compressed; default 1024 (written: Has("min_bytes")).
	MinBytes int `yaml:"min_bytes"`
	// Level is 1 (fastest) to 9 (smallest); default 5.
	Level int `yaml:"level"`
}

// BodyRate is the slowest a request body may arrive: fewer than Bytes in any Window cuts the request (408 when
// nothing went upstream yet).
type BodyRate struct {
	Positions
	Bytes  int      `yaml:"bytes,required"`
	Window Duration `yaml:"window"` // default 10s
}
