#!/usr/bin/env bash
# pack-tools.sh makes a tarball that runs bench/run.sh and bench/scale.sh on a
# machine that has none of the tools and cannot install them (a lent
# benchmark machine with no package registry): nginx, haproxy, wrk, curl,
# pgrep, ss and taskset from this machine with every shared library ldd lists,
# each started through the copied dynamic loader; Caddy (a static Go binary)
# when installed; and fjord built with CGO_ENABLED=0 from this checkout.
#
# usage: bench/pack-tools.sh OUT.tar.xz
#
# On the other machine:
#   mkdir -p /tmp/t && tar -C /tmp/t -xJf OUT.tar.xz && export PATH=/tmp/t/bin:$PATH
#   bench/scale.sh --fjord-bin /tmp/t/bin/fjord --out /tmp/scale
set -euo pipefail

out=${1:?usage: bench/pack-tools.sh OUT.tar.xz}
case $out in /*) ;; *) out=$PWD/$out ;; esac
REPO=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/fjord-pack.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/lib" "$work/real"

for t in nginx haproxy wrk curl pgrep ss taskset; do
	p=$(command -v "$t") || { echo "pack-tools.sh: $t is not installed here" >&2; exit 1; }
	cp "$p" "$work/real/$t"
	ldd "$p" | awk '$3 ~ /^\// { print $3 }' | xargs -r -I{} cp -L {} "$work/lib/"
	# The wrapper runs the copy through the copied loader, so the other machine's libraries never mix in.
	cat >"$work/bin/$t" <<EOF
#!/bin/sh
d=\$(dirname "\$(readlink -f "\$0")")/..
exec "\$d/lib/ld-linux-x86-64.so.2" --library-path "\$d/lib" "\$d/real/$t" "\$@"
EOF
	chmod +x "$work/bin/$t"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$work/lib/"
if p=$(command -v caddy); then
	cp "$p" "$work/bin/caddy"
fi
(cd "$REPO" && CGO_ENABLED=0 go build -ldflags "-s -w" -o "$work/bin/fjord" ./cmd/fjord)
tar -C "$work" -cJf "$out" .
echo "wrote $out ($(du -h "$out" | cut -f1)); fjord at $(cd "$REPO" && git rev-parse --short HEAD)"
