#!/usr/bin/env bash
# run.sh measures fjord, nginx, HAProxy and Caddy side by side on one machine,
# in one run, behind the same two nginx upstreams and under the same wrk load.
# See bench/README.md for what the numbers mean and how to read them.
#
# Everything it starts is wrapped in `timeout` (so nothing outlives a killed
# script by more than the run budget) and stopped by PID from an EXIT trap.
set -euo pipefail

usage() {
	cat <<'EOF'
usage: bench/run.sh [options]

  --conns N          wrk connections (default 64)
  --duration SECS    length of each measured run, in seconds (default 10)
  --rounds N         interleaved rounds over all proxies (default 3)
  --size BYTES       upstream response body size (default 64)
  --chunked          upstreams answer with Transfer-Encoding: chunked (nginx SSI on the body file)
                     instead of Content-Length
  --post BYTES       wrk sends POST requests with a BYTES-byte body (at most 1 MiB) instead of GETs
  --post-chunked     with --post: the body goes as one chunk (Transfer-Encoding: chunked), not with a Content-Length
  --only LIST        comma-separated subset of: fjord,nginx,haproxy,caddy
                     (default: all four, caddy only when it is installed)
  --proxy-cpus LIST  taskset CPU list for the proxy under test (default 1; "" = no pinning)
  --load-cpus LIST   taskset CPU list for wrk and the upstreams (default 0; "" = no pinning)
  --proxy-workers N  nginx worker_processes / haproxy nbthread / fjord and caddy GOMAXPROCS (default 1)
  --load-threads N   wrk threads and upstream nginx workers (default 1)
  --proxy-quota PCT  cap each proxy at PCT % of one CPU (a cgroup CPU quota), so that the proxy, not the load
                     side, is the bottleneck on a machine too small to saturate it (see bench/README.md)
  --fjord-bin PATH   use this fjord binary instead of building ./cmd/fjord
  --fjord-engine E   fjord's server.engine: loop (the default) or goroutines
  --fjord-nginx-conf fjord runs the same nginx.conf as nginx (its nginx front end) instead of its own YAML
  --features         production features on: 50 routes, access log to a file (all), health checks (fjord, caddy)
  --idle N           instead of a load test: hold N idle keep-alive connections (one request each) open
                     against each proxy and report its memory per connection
  --keep             keep the temp dir (configs, logs, raw wrk output)
  -h, --help         this text

Tools: wrk, nginx, haproxy, curl, taskset (and go for fjord, caddy for Caddy).
Install on Debian/Ubuntu with: sudo apt-get install -y wrk nginx-light haproxy caddy
EOF
}

# Defaults; the 2-core layout is proxy on CPU 1, load generator + upstreams on CPU 0.
CONNS=64
DURATION=10
ROUNDS=3
SIZE=64
ONLY="" # empty: fjord,nginx,haproxy, plus caddy when it is on PATH
FJORD_ENGINE=""
FJORD_NGINX_CONF=0
PROXY_CPUS=1
LOAD_CPUS=0
WORKERS=1
LOAD_THREADS=1
KEEP=0
IDLE=0
FEATURES=0
CHUNKED=0
POST=0
WARMUP=1
QUOTA=0 # --proxy-quota: percent of one CPU, 0 = no cap
CGROUPS=() # cgroup directories made for --proxy-quota, removed on exit
FJORD_BIN="" # empty: build ./cmd/fjord into the temp dir

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=""
PROXIES=()
declare -A PORT=() SERVER=()
ALL_SERVERS=()
LOAD_PID="" # the wrk run in flight, if any
POST_SCRIPT="" # wrk's Lua script with --post
POST_CHUNKED=0

log() { printf '[bench] %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

parse_args() {
	while (($#)); do
		case "$1" in
		--conns) CONNS=${2:?--conns needs a value}; shift ;;
		--duration) DURATION=${2:?--duration needs a value}; shift ;;
		--rounds) ROUNDS=${2:?--rounds needs a value}; shift ;;
		--size) SIZE=${2:?--size needs a value}; shift ;;
		--only) ONLY=${2:?--only needs a value}; shift ;;
		--proxy-cpus) PROXY_CPUS=${2?--proxy-cpus needs a value}; shift ;;
		--load-cpus) LOAD_CPUS=${2?--load-cpus needs a value}; shift ;;
		--proxy-workers) WORKERS=${2:?--proxy-workers needs a value}; shift ;;
		--load-threads) LOAD_THREADS=${2:?--load-threads needs a value}; shift ;;
		--proxy-quota) QUOTA=${2:?--proxy-quota needs a value}; shift ;;
		--fjord-bin) FJORD_BIN=${2:?--fjord-bin needs a value}; shift ;;
		--fjord-engine) FJORD_ENGINE=${2:?--fjord-engine needs a value}; shift ;;
		--fjord-nginx-conf) FJORD_NGINX_CONF=1 ;;
		--idle) IDLE=${2:?--idle needs a value}; shift ;;
		--features) FEATURES=1 ;;
		--chunked) CHUNKED=1 ;;
		--post) POST=${2:?--post needs a value}; shift ;;
		--post-chunked) POST_CHUNKED=1 ;;
		--keep) KEEP=1 ;;
		-h | --help) usage; exit 0 ;;
		*) usage >&2; die "unknown option: $1" ;;
		esac
		shift
	done
	DURATION=${DURATION%s}
	local n
	for n in CONNS DURATION ROUNDS SIZE WORKERS LOAD_THREADS IDLE POST QUOTA; do
		[[ ${!n} =~ ^[0-9]+$ ]] || die "${n,,} must be a whole number, got '${!n}'"
	done
	((DURATION >= 1 && ROUNDS >= 1 && WORKERS >= 1 && LOAD_THREADS >= 1)) || die "duration, rounds and thread counts must be >= 1"
	((CONNS >= LOAD_THREADS)) || die "--conns must be at least --load-threads (wrk needs a connection per thread)"
	((SIZE <= 16777216)) || die "--size must be at most 16 MiB"
	((POST <= 1048576)) || die "--post must be at most 1 MiB"
	((!POST_CHUNKED || POST > 0)) || die "--post-chunked needs --post BYTES"
	((QUOTA == 0 || (QUOTA >= 25 && QUOTA <= 100 * WORKERS))) || die "--proxy-quota must be 25 to 100 per worker"
	# Caddy joins the default set only where it is installed: a machine without
	# it still gets the three-proxy table. Asked for by --only, a missing caddy
	# is an error (check_tools) like any other missing tool.
	if [[ -z $ONLY ]]; then
		ONLY="fjord,nginx,haproxy"
		if command -v caddy >/dev/null; then
			ONLY+=",caddy"
		else
			log "note: caddy is not installed, leaving it out (sudo apt-get install -y caddy to include it)"
		fi
	fi
	# Keep the canonical order (fjord, nginx, haproxy, caddy) whatever order
	# --only uses, so every round visits the proxies in the same sequence.
	local p want=",${ONLY},"
	for p in ${ONLY//,/ }; do
		[[ $p == fjord || $p == nginx || $p == haproxy || $p == caddy ]] || die "--only: unknown proxy '$p'"
	done
	for p in fjord nginx haproxy caddy; do
		[[ $want == *",$p,"* ]] && PROXIES+=("$p")
	done
	((${#PROXIES[@]})) || die "--only selected no proxy"
}

check_tools() {
	# nginx is always needed: it serves as the upstream for every proxy.
	local t need=(wrk nginx curl timeout pgrep) missing=()
	[[ " ${PROXIES[*]} " == *" haproxy "* ]] && need+=(haproxy)
	[[ " ${PROXIES[*]} " == *" caddy "* ]] && need+=(caddy)
	[[ " ${PROXIES[*]} " == *" fjord "* && -z $FJORD_BIN ]] && need+=(go)
	for t in "${need[@]}"; do
		command -v "$t" >/dev/null || missing+=("$t")
	done
	if ((${#missing[@]})); then
		log "missing tools: ${missing[*]}"
		log "install with: sudo apt-get install -y wrk nginx-light haproxy caddy curl procps (and Go from go.dev for fjord)"
		exit 1
	fi
	# Pinning is best effort: without taskset, or with a CPU list this machine
	# lacks, the run goes on unpinned and says so in the report header.
	local v
	for v in PROXY_CPUS LOAD_CPUS; do
		[[ -z ${!v} ]] && continue
		if ! command -v taskset >/dev/null || ! taskset -c "${!v}" true 2>/dev/null; then
			log "warning: cannot pin to CPUs '${!v}' (${v,,}); running unpinned"
			printf -v "$v" '%s' ""
		fi
	done
}

# pinned CPUS CMD... runs CMD under taskset when CPUS is set.
pinned() {
	local cpus=$1
	shift
	if [[ -n $cpus ]]; then
		exec taskset -c "$cpus" "$@"
	fi
	exec "$@"
}

# descendants PID prints PID's descendants, depth first, not PID itself.
descendants() {
	local c
	for c in $(pgrep -P "$1" || true); do
		echo "$c"
		descendants "$c"
	done
}

cleanup() {
	local rc=$? pids=() s
	for s in ${LOAD_PID:-} "${ALL_SERVERS[@]}"; do
		# Collect the whole tree first: once the root dies its children re-parent.
		mapfile -t -O "${#pids[@]}" pids < <(echo "$s"; descendants "$s")
	done
	if ((${#pids[@]})); then
		kill -TERM "${pids[@]}" 2>/dev/null || true
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "${pids[@]}" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "${pids[@]}" 2>/dev/null || true
		wait 2>/dev/null || true
	fi
	for s in "${CGROUPS[@]}"; do rmdir "$s" 2>/dev/null || true; done
	if [[ -n $WORK && -d $WORK ]]; then
		if ((KEEP)); then log "kept $WORK"; else rm -rf "$WORK"; fi
	fi
	exit "$rc"
}

# start_server NAME PORT CPUS LIFETIME CMD... starts CMD in the background,
# bounded by LIFETIME seconds, records its PID (the timeout wrapper; the server
# proper and any workers are its descendants) and waits until PORT accepts.
start_server() {
	local name=$1 port=$2 cpus=$3 life=$4
	shift 4
	timeout -s TERM "$life" bash -c "$(declare -f pinned); pinned \"\$@\"" pinned "$cpus" "$@" \
		>"$WORK/run/$name/stdout.log" 2>"$WORK/run/$name/stderr.log" &
	SERVER[$name]=$!
	ALL_SERVERS+=("$!")
	if ! wait_port "$port" "$!"; then
		tail -n 20 "$WORK/run/$name/stderr.log" "$WORK/run/$name/error.log" 2>/dev/null >&2 || true
		die "$name did not start listening on 127.0.0.1:$port"
	fi
}

# cap_cpu NAME moves NAME's process tree into a cgroup of its own that may use
# QUOTA % of one CPU (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us). The period is
# 4 ms so that a capped proxy stops for short slices rather than for tens of ms.
cap_cpu() {
	local name=$1 dir p
	if [[ -f /sys/fs/cgroup/cgroup.controllers ]] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers; then
		grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control ||
			echo +cpu >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || die "--proxy-quota: cannot enable the cgroup v2 cpu controller"
		dir=/sys/fs/cgroup/fjord-bench-$$-$name
		mkdir "$dir" || die "--proxy-quota: cannot create $dir (run as root)"
		CGROUPS+=("$dir")
		echo "$((QUOTA * 40)) 4000" >"$dir/cpu.max"
	elif [[ -d /sys/fs/cgroup/cpu ]]; then
		dir=/sys/fs/cgroup/cpu/fjord-bench-$$-$name
		mkdir "$dir" || die "--proxy-quota: cannot create $dir (run as root)"
		CGROUPS+=("$dir")
		echo 4000 >"$dir/cpu.cfs_period_us"
		echo "$((QUOTA * 40))" >"$dir/cpu.cfs_quota_us"
	else
		die "--proxy-quota: no cgroup cpu controller found under /sys/fs/cgroup"
	fi
	for p in $(descendants "${SERVER[$name]}"); do
		echo "$p" >"$dir/cgroup.procs" 2>/dev/null || true
	done
	log "$name capped at $QUOTA % of a CPU ($dir)"
}

# check_200 NAME PORT verifies one request to PORT returns 200 and SIZE bytes.
check_200() {
	local got
	got=$(curl -s -o /dev/null --max-time 5 -w '%{http_code} %{size_download}' "http://127.0.0.1:$2/" || true)
	if [[ $got != "200 $SIZE" ]]; then
		tail -n 20 "$WORK/run/$1/stderr.log" "$WORK/run/$1/error.log" 2>/dev/null >&2 || true
		die "$1: probe of 127.0.0.1:$2 got '$got', want '200 $SIZE'"
	fi
}

# shellcheck source=bench/ports.sh
source "$REPO/bench/ports.sh"
# shellcheck source=bench/configs.sh
source "$REPO/bench/configs.sh"
# shellcheck source=bench/caddy.sh
source "$REPO/bench/caddy.sh"
# shellcheck source=bench/measure.sh
source "$REPO/bench/measure.sh"

main() {
	parse_args "$@"
	check_tools
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/fjord-bench.XXXXXX")
	# nginx workers drop to "nobody" when started as root; they must reach the
	# body file and temp dirs below, so the tree is world-traversable.
	chmod 755 "$WORK"
	trap cleanup EXIT
	trap 'exit 130' INT TERM

	local n=${#PROXIES[@]}
	# Upper bound on how long anything may live: every warm-up and run plus
	# slack for start-up and probing.
	LIFETIME=$((ROUNDS * n * (WARMUP + DURATION + 20) + 120))
	if [[ " ${PROXIES[*]} " == *" fjord "* ]]; then
		if [[ -n $FJORD_BIN ]]; then
			[[ -x $FJORD_BIN ]] || die "--fjord-bin $FJORD_BIN is not an executable"
			cp "$FJORD_BIN" "$WORK/fjord"
		else
			log "building fjord"
			(cd "$REPO" && go build -o "$WORK/fjord" ./cmd/fjord) || die "go build ./cmd/fjord failed"
		fi
	fi
	if ((IDLE > 0)); then
		# Each proxy must accept IDLE client connections (worker_connections, maxconn are sized from CONNS).
		CONNS=$IDLE
		local want=$((IDLE * 2 + 4096)) hard
		hard=$(ulimit -Hn)
		[[ $hard == unlimited ]] || ((want <= hard)) || want=$hard
		ulimit -n "$want" 2>/dev/null || log "warning: cannot raise the open-file limit to $want"
		(cd "$REPO" && go build -o "$WORK/idleconns" ./bench/idleconns) || die "go build ./bench/idleconns failed"
	fi
	if ((POST > 0)); then
		# wrk's script for the POST body; every proxy and the upstreams accept bodies of up to 1 MiB.
		head -c "$POST" /dev/zero | tr '\0' p >"$WORK/post.body"
		if ((POST_CHUNKED)); then
			# The whole request is built once: wrk.format would add a Content-Length for wrk.body.
			printf 'local f = io.open("%s", "rb")\nlocal body = f:read("*a")\nf:close()\nlocal req = string.format("POST / HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nContent-Type: application/octet-stream\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n%%x\\r\\n%%s\\r\\n0\\r\\n\\r\\n", #body, body)\nfunction request() return req end\n' \
				"$WORK/post.body" >"$WORK/post.lua"
		else
			printf 'local f = io.open("%s", "rb")\nwrk.method = "POST"\nwrk.body = f:read("*a")\nf:close()\nwrk.headers["Content-Type"] = "application/octet-stream"\n' \
				"$WORK/post.body" >"$WORK/post.lua"
		fi
		POST_SCRIPT=$WORK/post.lua
	fi
	start_upstreams
	local p
	for p in "${PROXIES[@]}"; do
		start_proxy "$p"
		((QUOTA == 0)) || cap_cpu "$p"
	done
	if ((IDLE > 0)); then
		run_idle
		return
	fi
	run_rounds
	report
}

main "$@"
