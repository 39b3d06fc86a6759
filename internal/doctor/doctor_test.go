package doctor

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeRoot writes files (path relative to the root → content) into a temporary root.
func fakeRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func noFile(soft, hard uint64, err error) func() (uint64, uint64, error) {
	return func() (uint64, uint64, error) { return soft, hard, err }
}

func TestNoFile(t *testing.T) {
	tests := []struct {
		name       string
		soft, hard uint64
		err        error
		want       Level
		current    string
	}{
		{"raised", 65536, 1048576, nil, OK, "soft 65536, hard 1048576"},
		{"soft low but hard enough", 1024, 524288, nil, OK, "soft 1024, hard 524288"},
		{"debian default", 1024, 4096, nil, Warn, "soft 1024, hard 4096"},
		{"unlimited", 1 << 63, ^uint64(0), nil, OK, "soft 9223372036854775808, hard unlimited"},
		{"unreadable", 0, 0, errors.New("nope"), Skip, "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Host{NoFile: noFile(tt.soft, tt.hard, tt.err)}.noFile()
			if f.Level != tt.want || f.Current != tt.current {
				t.Errorf("got %s %q, want %s %q", f.Level, f.Current, tt.want, tt.current)
			}
			if (f.Level == Warn) != strings.Contains(f.Fix, "LimitNOFILE=65536") {
				t.Errorf("fix %q for level %s", f.Fix, f.Level)
			}
		})
	}
}

func TestSysctl(t *testing.T) {
	tests := []struct {
		name, value string
		want        Level
		fix         string
	}{
		{"net.core.somaxconn", "4096\n", OK, ""},
		{"net.core.somaxconn", "128\n", Warn, `sysctl -w net.core.somaxconn="4096"`},
		{"net.core.somaxconn", "lots\n", Skip, ""},
		{"net.ipv4.ip_local_port_range", "32768\t60999\n", Warn, `sysctl -w net.ipv4.ip_local_port_range="1024 65535"`},
		{"net.ipv4.ip_local_port_range", "1024\t65535\n", OK, ""},
		{"net.ipv4.ip_local_port_range", "1024\n", Skip, ""},
		{"net.ipv4.tcp_tw_reuse", "2\n", Warn, `sysctl -w net.ipv4.tcp_tw_reuse="1"`},
		{"net.ipv4.tcp_tw_reuse", "1\n", OK, ""},
		{"net.ipv4.tcp_fin_timeout", "60\n", Warn, `sysctl -w net.ipv4.tcp_fin_timeout="15"`},
		{"net.ipv4.tcp_fin_timeout", "30\n", OK, ""},
		{"net.core.netdev_max_backlog", "1000\n", Warn, `/etc/sysctl.d/90-fjord.conf`},
		{"net.core.netdev_max_backlog", "30000\n", OK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+strings.TrimSpace(tt.value), func(t *testing.T) {
			path := filepath.Join("proc/sys", strings.ReplaceAll(tt.name, ".", "/"))
			h := Host{Root: fakeRoot(t, map[string]string{path: tt.value})}
			var f Finding
			for _, s := range sysctls {
				if s.name == tt.name {
					f = h.sysctl(s)
				}
			}
			if f.Level != tt.want || !strings.Contains(f.Fix, tt.fix) || (tt.fix == "") != (f.Fix == "") {
				t.Errorf("got %+v, want %s with fix %q", f, tt.want, tt.fix)
			}
		})
	}
}

func TestSysctlMissing(t *testing.T) {
	h := Host{Root: t.TempDir()}
	if f := h.sysctl(sysctls[0]); f.Level != Skip || !strings.Contains(f.Current, "somaxconn") {
		t.Errorf("missing file: %+v", f)
	}
}

func TestSchedulers(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string // "dev LEVEL current"
	}{
		{"virtio none", map[string]string{"sys/block/vda/queue/scheduler": "[none] mq-deadline\n"},
			[]string{"vda OK none"}},
		{"virtio bfq", map[string]string{"sys/block/vdb/queue/scheduler": "mq-deadline kyber [bfq] none\n"},
			[]string{"vdb WARN bfq"}},
		{"xen mq-deadline", map[string]string{"sys/block/xvda/queue/scheduler": "[mq-deadline] none\n"},
			[]string{"xvda OK mq-deadline"}},
		{"qemu scsi disk by vendor", map[string]string{
			"sys/block/sda/queue/scheduler": "mq-deadline [kyber] none\n",
			"sys/block/sda/device/vendor":   "QEMU    \n"},
			[]string{"sda WARN kyber"}},
		{"physical disks and loops are skipped", map[string]string{
			"sys/block/sda/queue/scheduler":   "[bfq] none\n",
			"sys/block/sda/device/vendor":     "ATA     \n",
			"sys/block/loop0/queue/scheduler": "[bfq] none\n"}, nil},
		{"unreadable scheduler", map[string]string{"sys/block/vda/size": "1\n"}, []string{"vda SKIP"}},
		{"no /sys/block", map[string]string{"proc/x": ""}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, f := range (Host{Root: fakeRoot(t, tt.files)}).schedulers() {
				s := strings.TrimPrefix(f.Name, "I/O scheduler of ") + " " + string(f.Level)
				if f.Level != Skip {
					s += " " + f.Current
				}
				if (f.Level == Warn) != strings.Contains(f.Fix, "ATTR{queue/scheduler}") {
					t.Errorf("fix %q for level %s", f.Fix, f.Level)
				}
				got = append(got, s)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCheckAndWrite(t *testing.T) {
	tuned := map[string]string{
		"proc/sys/net/core/somaxconn":           "4096",
		"proc/sys/net/ipv4/ip_local_port_range": "1024 65535",
		"proc/sys/net/ipv4/tcp_tw_reuse":        "1",
		"proc/sys/net/ipv4/tcp_fin_timeout":     "15",
		"proc/sys/net/core/netdev_max_backlog":  "16384",
		"sys/block/vda/queue/scheduler":         "[none] mq-deadline",
	}
	h := Host{Root: fakeRoot(t, tuned), NoFile: noFile(65536, 65536, nil)}
	fs := h.Check()
	if len(fs) != 7 || NeedsAttention(fs) {
		t.Fatalf("tuned host: %+v", fs)
	}
	h.NoFile = noFile(1024, 4096, nil)
	fs = h.Check()
	if !NeedsAttention(fs) {
		t.Fatalf("low limit not flagged: %+v", fs)
	}
	var b strings.Builder
	if err := Write(&b, fs); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"WARN  open files (RLIMIT_NOFILE): soft 1024, hard 4096", "OK    net.core.somaxconn: 4096",
		"fix: systemd: LimitNOFILE=65536", "why: the hypervisor"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}
