#!/usr/bin/env bash
# churn.sh measures the cost of a new connection: fjord and nginx each answer a
# fixed 200 ("return") on loopback while wrk opens a new connection for every
# request (Connection: close). No upstream is involved, so the figure is the
# proxy's accept / read / write / close path. Prints requests per second per
# core of proxy CPU for each, in interleaved rounds.
#
# usage: bench/churn.sh [--fjord-bin PATH] [--rounds N] [--duration SECS] [--conns N] [--deferred]
#
# --deferred sets TCP_DEFER_ACCEPT on both listeners: fjord's defer_accept and
# nginx's `listen ... deferred`.
#
# The proxy runs on CPU 1 (GOMAXPROCS=1, worker_processes 1), wrk on CPU 0.
# Everything is bounded by timeout and stopped by PID on exit.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
FJORD_BIN="" ROUNDS=3 DURATION=5 CONNS=32 DEFERRED=0
while (($#)); do
	case $1 in
	--fjord-bin) FJORD_BIN=$2; shift 2 ;;
	--rounds) ROUNDS=$2; shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	--conns) CONNS=$2; shift 2 ;;
	--deferred) DEFERRED=1; shift ;;
	-h | --help) sed -n '2,15p' "$0"; exit 0 ;;
	*) echo "churn.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
for t in wrk nginx taskset timeout; do
	command -v "$t" >/dev/null || { echo "churn.sh: $t is missing (apt-get install -y wrk nginx-light)" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fjord-churn.XXXXXX")
chmod 755 "$WORK"
PIDS=()
cleanup() {
	((${#PIDS[@]})) && kill "${PIDS[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

if [[ -z $FJORD_BIN ]]; then
	(cd "$REPO" && go build -o "$WORK/fjord" ./cmd/fjord)
	FJORD_BIN=$WORK/fjord
fi
die() {
	echo "churn.sh: $*" >&2
	exit 1
}
# shellcheck source=bench/ports.sh
source "$REPO/bench/ports.sh"
declare -A PORT=()
PORT[fjord]=$(free_port)
PORT[nginx]=$(free_port)
FPORT=${PORT[fjord]} NPORT=${PORT[nginx]}
LIFE=$((ROUNDS * 2 * (DURATION + 5) + 30))
FDEFER="" NDEFER=""
if ((DEFERRED)); then
	FDEFER="
    defer_accept: true" NDEFER=" deferred"
fi

cat >"$WORK/fjord.yaml" <<EOF
listeners:
  - name: churn
    address: "127.0.0.1:$FPORT"$FDEFER
routes:
  - name: ok
    match: {path_prefix: /}
    return: {status: 200, body: "ok\n"}
EOF
mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    server {
        listen 127.0.0.1:$NPORT$NDEFER;
        location / { return 200 "ok\n"; }
    }
}
EOF

GOMAXPROCS=1 timeout "$LIFE" taskset -c 1 "$FJORD_BIN" run -c "$WORK/fjord.yaml" >"$WORK/fjord.log" 2>&1 &
PIDS+=($!)
timeout "$LIFE" taskset -c 1 nginx -p "$WORK/nginx/" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' 2>>"$WORK/nginx/error.log" &
PIDS+=($!)
wait_port "$FPORT" "${PIDS[0]}" || die "fjord did not start: $(tail -n 3 "$WORK/fjord.log")"
wait_port "$NPORT" "${PIDS[1]}" || die "nginx did not start: $(tail -n 3 "$WORK/nginx/error.log")"

# cpu_ticks PID...: utime+stime of the processes and their children threads, in clock ticks.
cpu_ticks() {
	local t=0 p
	for p in "$@"; do
		[[ -r /proc/$p/stat ]] || continue
		t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	echo "$t"
}
# procs_of PID: the processes below the timeout wrapper PID (fjord; nginx's master and its worker).
procs_of() {
	local c
	for c in $(pgrep -P "$1" || true); do
		echo "$c"
		procs_of "$c"
	done
}

HZ=$(getconf CLK_TCK)
echo "| round | proxy | requests | proxy CPU s | requests per core-second |"
echo "|--:|---|--:|--:|--:|"
for r in $(seq 1 "$ROUNDS"); do
	for p in fjord nginx; do
		port=$FPORT root=${PIDS[0]}
		[[ $p == nginx ]] && port=$NPORT root=${PIDS[1]}
		mapfile -t ps < <(procs_of "$root")
		c0=$(cpu_ticks "${ps[@]}")
		n=$(timeout $((DURATION + 10)) taskset -c 0 wrk -t1 -c"$CONNS" -d"${DURATION}s" -H "Connection: close" \
			"http://127.0.0.1:$port/" | awk '/requests in/ {print $1}')
		c1=$(cpu_ticks "${ps[@]}")
		awk -v r="$r" -v p="$p" -v n="$n" -v c=$((c1 - c0)) -v hz="$HZ" \
			'BEGIN { s = c / hz; printf "| %d | %s | %d | %.2f | %.0f |\n", r, p, n, s, (s > 0 ? n / s : 0) }'
	done
done
