#!/usr/bin/env bash
# scale.sh runs bench/run.sh over the scaling matrix of issue 3 on a machine
# with at least 8 cores: 1 proxy core at 64 and 256 connections and with 4 KiB
# bodies, then 2 and 4 proxy cores at 256 connections, nginx with as many
# workers, HAProxy with as many threads, fjord and Caddy with as many Ps.
# Each cell's full report goes to OUT/cell-<cores>c-<conns>-<size>.md as it
# finishes (a cut-short run keeps what it measured); the median tables are
# printed together at the end. See bench/README.md, "Bigger machines".
set -euo pipefail

usage() {
	cat <<'EOF'
usage: bench/scale.sh [--out DIR] [--cells "CORES:CONNS:SIZE ..."] [run.sh options]

  --out DIR    where the per-cell reports go (default: a new temp dir)
  --cells L    the matrix, space-separated CORES:CONNS:SIZE[:MODE] cells
               (default "1:64:64 1:256:64 1:64:4096 2:256:64 4:256:64"); MODE is
               features, chunked or postN (run.sh --features, --chunked, --post N)

Any other option goes to every bench/run.sh call (--duration, --rounds, --only,
--fjord-bin, ...). Layout: CPUs 0-1 stay with the OS, the proxy gets CORES
cores from CPU 2 up, wrk and the upstream nginx get the upper half of the
machine (at least 8 cores needed).
EOF
}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=""
CELLS="1:64:64 1:256:64 1:64:4096 2:256:64 4:256:64"
PASS=()
while (($#)); do
	case "$1" in
	--out) OUT=${2:?--out needs a value}; shift ;;
	--cells) CELLS=${2:?--cells needs a value}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) PASS+=("$1") ;;
	esac
	shift
done

cpus=$(nproc)
if ((cpus < 8)); then
	echo "scale.sh: needs at least 8 CPUs, this machine has $cpus (use bench/run.sh)" >&2
	exit 1
fi
[[ -n $OUT ]] || OUT=$(mktemp -d "${TMPDIR:-/tmp}/fjord-scale.XXXXXX")
mkdir -p "$OUT"
load_cpus="$((cpus / 2))-$((cpus - 1))"
load_threads=$((cpus / 2 - 2))
((load_threads <= 8)) || load_threads=8

# mode_args MODE prints the run.sh options of a cell's MODE.
mode_args() {
	case $1 in
	"") ;;
	features) echo --features ;;
	chunked) echo --chunked ;;
	post[0-9]*) echo --post "${1#post}" ;;
	*) return 1 ;;
	esac
}

# report_of CELL is where a cell's report goes.
report_of() {
	local cores conns size mode
	IFS=: read -r cores conns size mode <<<"$1"
	echo "$OUT/cell-${cores}c-${conns}-${size}${mode:+-$mode}.md"
}

for cell in $CELLS; do
	IFS=: read -r cores conns size mode <<<"$cell"
	[[ $cores =~ ^[0-9]+$ && $conns =~ ^[0-9]+$ && $size =~ ^[0-9]+$ ]] && margs=$(mode_args "$mode") || {
		echo "scale.sh: bad cell '$cell' (want CORES:CONNS:SIZE[:features|chunked|postN])" >&2
		exit 1
	}
	((2 + cores <= cpus / 2)) || {
		echo "scale.sh: $cores proxy cores do not fit below the load CPUs ($load_cpus)" >&2
		exit 1
	}
	report=$(report_of "$cell")
	echo "[scale] $cores proxy core(s), $conns connections, $size B bodies ${mode:+($mode) }-> $report" >&2
	# shellcheck disable=SC2086 # margs is zero to two words
	"$REPO/bench/run.sh" --proxy-cpus "2-$((1 + cores))" --proxy-workers "$cores" \
		--load-cpus "$load_cpus" --load-threads "$load_threads" \
		--conns "$conns" --size "$size" $margs "${PASS[@]}" >"$report"
done

# The median table of each report, under a heading naming the cell.
for cell in $CELLS; do
	IFS=: read -r cores conns size mode <<<"$cell"
	printf '\n#### %s proxy core(s), %s connections, %s B%s\n\n' "$cores" "$conns" "$size" "${mode:+, $mode}"
	awk '/^\| proxy \| req\/s/ { on = 1 } on && /^$/ { exit } on' "$(report_of "$cell")"
done | tee "$OUT/summary.md"
