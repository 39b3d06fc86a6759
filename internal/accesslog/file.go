package accesslog

import (
	"fmt"
	"io"
	"os"
)

// OpenFile opens the access log destination. "stdout" and "stderr" map to
// the process streams, whose Close is a no-op so shutting the logger down
// does not close them; any other path is created 0644 if missing and
// opened for appending, so several processes and logrotate's copytruncate
// can share it.
func OpenFile(path string) (io.WriteCloser, error) {
	switch path {
	case "stdout":
		return nopCloser{os.Stdout}, nil
	case "stderr":
		return nopCloser{os.Stderr}, nil
	case "":
		return nil, fmt.Errorf("accesslog: open: empty path")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("accesslog: open %s: %w", path, err)
	}
	return f, nil
}

// nopCloser leaves the wrapped process stream open on Close.
type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
