# shellcheck shell=bash
# measure.sh drives wrk, samples the proxies' CPU and memory from /proc, and
# prints the report. Sourced by run.sh; uses its globals (WORK, PORT, SERVER,
# PROXIES, CONNS, DURATION, WARMUP, ROUNDS, SIZE, WORKERS, LOAD_THREADS, *_CPUS)
# and helpers.
#
# results.tsv holds one line per measured run:
#   round proxy rps requests p50_us p99_us cpu_s wall_s hwm_kb errors max_us

# cpu_ticks ROOT prints utime+stime, in clock ticks, summed over ROOT's
# descendants (ROOT is the timeout wrapper; nginx's worker is a grandchild).
# Field 14/15 of /proc/PID/stat, counted after the ")" that ends comm, which
# may itself contain spaces.
cpu_ticks() {
	local files=() p
	for p in $(descendants "$1"); do files+=("/proc/$p/stat"); done
	((${#files[@]})) || die "process tree of $1 is gone"
	cat "${files[@]}" 2>/dev/null | awk '{ sub(/^.*\) /, ""); t += $12 + $13 } END { print t + 0 }'
}

# hwm_kb ROOT prints VmHWM (peak RSS, kB) summed over ROOT's descendants.
hwm_kb() {
	local files=() p
	for p in $(descendants "$1"); do files+=("/proc/$p/status"); done
	cat "${files[@]}" 2>/dev/null | awk '/^VmHWM:/ { s += $2 } END { print s + 0 }'
}

# parse_wrk FILE prints "rps requests p50_us p99_us errors max_us" from wrk
# --latency output. errors counts socket errors and non-2xx/3xx responses; max
# is the slowest request, where a stall of the whole proxy shows first.
parse_wrk() {
	awk '
	function us(v) {
		if (v ~ /us$/) return v + 0
		if (v ~ /ms$/) return v * 1000
		if (v ~ /m$/) return v * 60e6
		if (v ~ /s$/) return v * 1e6
		return v + 0
	}
	/Latency Distribution/ { dist = 1 }
	!dist && $1 == "Latency" { max = us($4) }
	dist && $1 == "50%" { p50 = us($2) }
	dist && $1 == "99%" { p99 = us($2) }
	/ requests in / { req = $1 }
	/^Requests\/sec:/ { rps = $2 }
	/Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
	/Non-2xx or 3xx responses:/ { err += $NF }
	END {
		if (rps == "" || req == "" || p99 == "") exit 1
		printf "%s %s %.0f %.0f %d %.0f\n", rps, req, p50, p99, err, max
	}' "$1"
}

# wrk_run SECS URL OUT runs one bounded wrk on the load CPUs. It runs in the
# background so that `wait` returns at once on INT/TERM and cleanup can stop
# it through LOAD_PID instead of waiting out the run.
wrk_run() {
	local secs=$1 url=$2 out=$3
	timeout -s KILL $((secs + 30)) bash -c "$(declare -f pinned); pinned \"\$@\"" pinned "$LOAD_CPUS" \
		wrk -t"$LOAD_THREADS" -c"$CONNS" -d"${secs}s" --latency ${POST_SCRIPT:+-s "$POST_SCRIPT"} "$url" >"$out" 2>&1 &
	LOAD_PID=$!
	wait "$LOAD_PID" || die "wrk against $url failed: $(tail -n 3 "$out")"
	LOAD_PID=""
}

# run_one ROUND NAME warms NAME up, then loads it for DURATION while sampling
# its CPU time, and appends one line to results.tsv.
run_one() {
	local round=$1 name=$2 root=${SERVER[$2]}
	local url="http://127.0.0.1:${PORT[$2]}/" out="$WORK/run/$2/wrk.r$1.txt"
	wrk_run "$WARMUP" "$url" "$WORK/run/$name/warmup.r$round.txt"
	local t0 t1 w0 w1 parsed
	t0=$(cpu_ticks "$root")
	w0=${EPOCHREALTIME/./}
	wrk_run "$DURATION" "$url" "$out"
	w1=${EPOCHREALTIME/./}
	t1=$(cpu_ticks "$root")
	parsed=$(parse_wrk "$out") || die "cannot parse wrk output $out"
	local -a f
	read -r -a f <<<"$parsed"
	local line
	line=$(awk -v r="$round" -v n="$name" -v rps="${f[0]}" -v req="${f[1]}" -v p50="${f[2]}" \
		-v p99="${f[3]}" -v err="${f[4]}" -v max="${f[5]}" -v ticks=$((t1 - t0)) -v hz="$HZ" -v wall=$((w1 - w0)) \
		-v hwm="$(hwm_kb "$root")" \
		'BEGIN { printf "%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%.3f\t%s\t%s\t%s\n", r, n, rps, req, p50, p99, ticks / hz, wall / 1e6, hwm, err, max }')
	printf '%s\n' "$line" >>"$WORK/results.tsv"
	((f[4] == 0)) || log "warning: $name round $round: $(grep -E 'Socket errors|Non-2xx' "$out" | tr -s ' ' | paste -sd';')"
	log "round $round $name: $(cut -f3 <<<"$line") req/s, $(cut -f7 <<<"$line") CPU s"
}

run_rounds() {
	HZ=$(getconf CLK_TCK)
	: >"$WORK/results.tsv"
	# Other work on the machine steals CPU from wrk and the upstreams and
	# shows up as noise; record the load so a reader can discount a run.
	read -r LOAD_START _ </proc/loadavg
	if awk -v l="$LOAD_START" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
		log "warning: load average $LOAD_START on $(nproc) CPUs before starting; expect noisy numbers"
	fi
	local r p
	for ((r = 1; r <= ROUNDS; r++)); do
		for p in "${PROXIES[@]}"; do run_one "$r" "$p"; done
	done
	read -r LOAD_END _ </proc/loadavg
}

# header prints what was measured where, so a pasted table carries its context.
header() {
	local cpu
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	echo "### fjord bench $(date -u +%Y-%m-%dT%H:%MZ)"
	echo
	echo "- machine: $(nproc) CPUs, ${cpu:-unknown CPU}, $(uname -sr)"
	echo "- load: wrk -t$LOAD_THREADS -c$CONNS -d${DURATION}s --latency (+${WARMUP}s warm-up), $ROUNDS round(s) interleaved, body $SIZE B$( ((CHUNKED)) && echo ", chunked")$( ((POST)) && echo ", POST bodies of $POST B$( ((POST_CHUNKED)) && echo ", chunked")")"
	echo "- pinning: proxy on CPUs '${PROXY_CPUS:-any}', wrk + upstreams on CPUs '${LOAD_CPUS:-any}'; $WORKERS proxy worker(s)"
	echo "- 1-min load average: $LOAD_START before, $LOAD_END after (idle machine: close to 0)"
	echo "- versions: $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(haproxy -v 2>/dev/null | awk 'NR==1 { print $1, $3 }'), $(wrk -v 2>&1 | awk 'NR==1 { print $1, $2 }')$(command -v caddy >/dev/null && echo ", caddy $(caddy version 2>/dev/null | awk 'NR == 1 { print $1 }')")"
	echo
}

report() {
	{
		header
		awk -F'\t' -v order="${PROXIES[*]}" -f "$REPO/bench/report.awk" "$WORK/results.tsv"
	} | tee "$WORK/report.md"
}

# rss_kb ROOT prints VmRSS (current RSS, kB) summed over ROOT's descendants.
rss_kb() {
	local files=() p
	for p in $(descendants "$1"); do files+=("/proc/$p/status"); done
	cat "${files[@]}" 2>/dev/null | awk '/^VmRSS:/ { s += $2 } END { print s + 0 }'
}

# run_idle opens IDLE idle keep-alive connections to each proxy in turn (one request each, then silence), and
# prints each proxy's RSS before, with the connections open, and its peak, per connection.
run_idle() {
	local p before after hwm out
	printf '\n### idle keep-alive connections: %d per proxy\n\n' "$IDLE"
	printf '| proxy | RSS before | RSS with %d idle conns | peak RSS | KiB per idle conn (RSS) | KiB per idle conn (peak) |\n' "$IDLE"
	printf '|---|--:|--:|--:|--:|--:|\n'
	for p in "${PROXIES[@]}"; do
		before=$(rss_kb "${SERVER[$p]}")
		out=$WORK/run/$p/idle.out
		coproc IDLECLIENT { timeout -s KILL 300 "$WORK/idleconns" -addr "127.0.0.1:${PORT[$p]}" -n "$IDLE" -hold 120s 2>&1; }
		local line=""
		read -r line <&"${IDLECLIENT[0]}" || true
		echo "$line" >"$out"
		[[ $line == "ready $IDLE failed 0" ]] || log "$p: idle client said: $line"
		sleep 2
		after=$(rss_kb "${SERVER[$p]}")
		hwm=$(hwm_kb "${SERVER[$p]}")
		exec {IDLECLIENT[1]}>&-
		wait "$IDLECLIENT_PID" 2>/dev/null || true
		awk -v p="$p" -v b="$before" -v a="$after" -v h="$hwm" -v n="$IDLE" 'BEGIN {
			printf "| %s | %.1f MiB | %.1f MiB | %.1f MiB | %.1f | %.1f |\n", p, b/1024, a/1024, h/1024, (a-b)/n, (h-b)/n }'
	done
}
