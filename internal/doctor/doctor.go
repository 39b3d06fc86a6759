// Package doctor checks whether a Linux host is tuned for the many concurrent connections a gateway holds: the
// open-file limit, the kernel's TCP and queue settings, and the I/O scheduler of virtual disks. It only reads; every
// finding says what to change, why, and the command that changes it. Files are read below an injectable root so that
// tests run against a fake /proc and /sys.
package doctor

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Level is how a finding rates the host.
type Level string

// The levels: Warn is something to change; Skip is a setting that could not be read (a container may hide it), which
// is reported but does not count as a problem.
const (
	OK   Level = "OK"
	Warn Level = "WARN"
	Skip Level = "SKIP"
)

// Finding is the result of one check.
type Finding struct {
	Name        string `json:"name"` // the setting, e.g. "net.core.somaxconn"
	Level       Level  `json:"level"`
	Current     string `json:"current"`
	Recommended string `json:"recommended"`
	Why         string `json:"why"`
	Fix         string `json:"fix,omitempty"` // a command or config line; empty when Level is OK
}

// TargetNoFile is the open-file limit recommended: each client and each upstream connection is a descriptor.
const TargetNoFile = 65536

// Host is the machine being checked. The zero value is not usable; use System for the real host.
type Host struct {
	// Root is prefixed to /proc and /sys paths ("/" for the real host, a t.TempDir() in tests).
	Root string
	// NoFile returns the soft and hard RLIMIT_NOFILE of this process.
	NoFile func() (soft, hard uint64, err error)
}

// System returns the Host for the machine this process runs on.
func System() Host {
	return Host{Root: "/", NoFile: func() (uint64, uint64, error) {
		var r syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
			return 0, 0, fmt.Errorf("getrlimit NOFILE: %w", err)
		}
		return r.Cur, r.Max, nil
	}}
}

// Check runs every check, in a fixed order. It never blocks beyond reading small files.
func (h Host) Check() []Finding {
	fs := []Finding{h.noFile()}
	for _, s := range sysctls {
		fs = append(fs, h.sysctl(s))
	}
	return append(fs, h.schedulers()...)
}

// NeedsAttention reports whether any finding is a warning.
func NeedsAttention(fs []Finding) bool {
	for _, f := range fs {
		if f.Level == Warn {
			return true
		}
	}
	return false
}

func (h Host) noFile() Finding {
	f := Finding{Name: "open files (RLIMIT_NOFILE)", Recommended: fmt.Sprintf("hard >= %d", TargetNoFile),
		Why: "every client and upstream connection holds a descriptor; Go raises the soft limit to the hard one at start, " +
			"so the hard limit caps fjord's connections"}
	soft, hard, err := h.NoFile()
	if err != nil {
		f.Level, f.Current = Skip, err.Error()
		return f
	}
	f.Current = fmt.Sprintf("soft %s, hard %s", limit(soft), limit(hard))
	if hard >= TargetNoFile {
		f.Level = OK
		return f
	}
	f.Level = Warn
	f.Fix = fmt.Sprintf("systemd: LimitNOFILE=%d in the unit's [Service]; otherwise '* hard nofile %d' and "+
		"'* soft nofile %d' in /etc/security/limits.conf, then log in again", TargetNoFile, TargetNoFile, TargetNoFile)
	return f
}

func limit(n uint64) string {
	if n == math.MaxUint64 { // RLIM_INFINITY
		return "unlimited"
	}
	return strconv.FormatUint(n, 10)
}

// read returns the trimmed content of a file below the root.
func (h Host) read(path string) (string, error) {
	b, err := os.ReadFile(filepath.Join(h.Root, path))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// errBadValue marks a setting whose file did not hold what the kernel writes there.
var errBadValue = errors.New("unexpected value")

// Write prints the findings for a person: per setting a line with its level, current and recommended value, a line
// saying why it matters and, under a warning, the fix.
func Write(w io.Writer, fs []Finding) error {
	for _, f := range fs {
		if _, err := fmt.Fprintf(w, "%-4s  %s: %s (recommended: %s)\n", f.Level, f.Name, f.Current, f.Recommended); err != nil {
			return fmt.Errorf("write findings: %w", err)
		}
		fmt.Fprintf(w, "      why: %s\n", f.Why)
		if f.Fix != "" {
			fmt.Fprintf(w, "      fix: %s\n", f.Fix)
		}
	}
	return nil
}
