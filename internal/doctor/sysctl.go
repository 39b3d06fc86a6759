package doctor

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// sysctl is one kernel setting under /proc/sys, with how to judge it.
type sysctl struct {
	name        string // dotted, as sysctl names it
	recommended string // also the value the fix sets
	why         string
	// ok judges the file's content; an error means it could not be parsed.
	ok func(v string) (bool, error)
}

// atLeast accepts a single integer >= min.
func atLeast(minimum int) func(string) (bool, error) {
	return func(v string) (bool, error) {
		n, err := strconv.Atoi(v)
		return n >= minimum, err
	}
}

// sysctls are checked in this order. The thresholds are for a host that holds tens of thousands of connections.
var sysctls = []sysctl{
	{name: "net.core.somaxconn", recommended: "4096", ok: atLeast(4096),
		why: "caps every listener's accept queue; a short one drops connections in a burst before fjord accepts them"},
	{name: "net.ipv4.ip_local_port_range", recommended: "1024 65535", ok: portRange(50000),
		why: "each upstream connection takes a local port per upstream address; a narrow range runs out under load"},
	{name: "net.ipv4.tcp_tw_reuse", recommended: "1", ok: func(v string) (bool, error) {
		n, err := strconv.Atoi(v)
		return n == 1, err
	}, why: "lets new upstream connections reuse ports in TIME_WAIT (2, the default, allows it only on loopback)"},
	{name: "net.ipv4.tcp_fin_timeout", recommended: "15", ok: func(v string) (bool, error) {
		n, err := strconv.Atoi(v)
		return n <= 30, err
	}, why: "closed connections hold their port and memory in FIN_WAIT_2 this many seconds"},
	{name: "net.core.netdev_max_backlog", recommended: "16384", ok: atLeast(16384),
		why: "packets queued per CPU before the kernel processes them; a small queue drops packets at high rates"},
}

// portRange accepts a "low high" range at least width ports wide.
func portRange(width int) func(string) (bool, error) {
	return func(v string) (bool, error) {
		f := strings.Fields(v)
		if len(f) != 2 {
			return false, errBadValue
		}
		lo, err1 := strconv.Atoi(f[0])
		hi, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil {
			return false, errBadValue
		}
		return hi-lo+1 >= width, nil
	}
}

func (h Host) sysctl(s sysctl) Finding {
	f := Finding{Name: s.name, Recommended: s.recommended, Why: s.why}
	v, err := h.read(filepath.Join("proc/sys", strings.ReplaceAll(s.name, ".", "/")))
	if err != nil {
		f.Level, f.Current = Skip, err.Error()
		return f
	}
	f.Current = strings.Join(strings.Fields(v), " ")
	ok, err := s.ok(f.Current)
	switch {
	case err != nil:
		f.Level, f.Current = Skip, fmt.Sprintf("%q: %v", f.Current, errBadValue)
	case ok:
		f.Level = OK
	default:
		f.Level = Warn
		f.Fix = fmt.Sprintf("sysctl -w %s=%q; to keep it, add '%s = %s' to /etc/sysctl.d/90-fjord.conf", s.name,
			s.recommended, s.name, s.recommended)
	}
	return f
}

// goodSchedulers are the I/O schedulers preferred on virtual disks: the hypervisor already schedules, so the guest
// should add as little as possible.
var goodSchedulers = []string{"none", "mq-deadline"}

// virtualPrefixes name the block devices of common hypervisors (virtio, Xen); other disks count as virtual when
// their vendor is a hypervisor's.
var (
	virtualPrefixes = []string{"vd", "xvd"}
	virtualVendors  = []string{"QEMU", "VMware", "Msft", "Google", "Amazon", "VBOX", "Red Hat"}
)

// schedulers returns one finding per virtual disk under /sys/block, none when there is no virtual disk.
func (h Host) schedulers() []Finding {
	entries, err := os.ReadDir(filepath.Join(h.Root, "sys/block"))
	if err != nil {
		return nil
	}
	var fs []Finding
	for _, e := range entries {
		if !h.virtual(e.Name()) {
			continue
		}
		f := Finding{Name: "I/O scheduler of " + e.Name(), Recommended: "none or mq-deadline",
			Why: "the hypervisor reorders I/O already; a guest scheduler (bfq, kyber) only adds latency to log writes"}
		path := filepath.Join("sys/block", e.Name(), "queue/scheduler")
		v, err := h.read(path)
		if err != nil {
			f.Level, f.Current = Skip, err.Error()
			fs = append(fs, f)
			continue
		}
		f.Current = active(v)
		if slices.Contains(goodSchedulers, f.Current) {
			f.Level = OK
		} else {
			f.Level = Warn
			f.Fix = fmt.Sprintf("echo none > /%s; to keep it, a udev rule: "+
				`ACTION=="add|change", KERNEL=="%s", ATTR{queue/scheduler}="none"`, path, e.Name())
		}
		fs = append(fs, f)
	}
	return fs
}

// active returns the scheduler in brackets in "mq-deadline kyber [bfq] none", or the whole line when a kernel lists
// only one without brackets.
func active(v string) string {
	if i := strings.IndexByte(v, '['); i >= 0 {
		if j := strings.IndexByte(v[i:], ']'); j > 0 {
			return v[i+1 : i+j]
		}
	}
	return v
}

func (h Host) virtual(dev string) bool {
	for _, p := range virtualPrefixes {
		if strings.HasPrefix(dev, p) {
			return true
		}
	}
	vendor, err := h.read(filepath.Join("sys/block", dev, "device/vendor"))
	if err != nil {
		return false
	}
	for _, v := range virtualVendors {
		if strings.HasPrefix(vendor, v) {
			return true
		}
	}
	return false
}
