# report.awk turns results.tsv (see measure.sh) into the markdown summary and
# the raw per-round table. Input is tab-separated; -v order="fjord nginx ..."
# gives the row order. Written for POSIX awk (mawk has no asort).

# median of the n values in a[1..n]; sorts a in place.
function median(a, n,    i, j, v) {
	for (i = 2; i <= n; i++) {
		v = a[i]
		for (j = i - 1; j >= 1 && a[j] > v; j--) a[j + 1] = a[j]
		a[j + 1] = v
	}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}

function ms(us) { return sprintf("%.2f ms", us / 1000) }
function mib(kb) { return sprintf("%.1f MiB", kb / 1024) }

# med(col, p) is the median of column col over proxy p's runs.
function med(col, p,    i, k, a) {
	k = 0
	for (i = 1; i <= nrow; i++) if (name[i] == p) a[++k] = val[i, col]
	return k ? median(a, k) : 0
}

# paired(p) is the median over rounds of p's per-core figure divided by nginx's in the same round. Rounds are
# interleaved, so a round's proxies ran close together in time: on a machine whose speed drifts between rounds
# (±10 % is common on shared VMs) this ratio moves less than the ratio of the medians.
function paired(p,    i, j, k, a) {
	k = 0
	for (i = 1; i <= nrow; i++) {
		if (name[i] != p) continue
		for (j = 1; j <= nrow; j++)
			if (name[j] == "nginx" && val[j, 1] == val[i, 1] && val[j, 22] > 0) a[++k] = val[i, 22] / val[j, 22]
	}
	return k ? sprintf("%.2fx", median(a, k)) : "n/a"
}

{
	nrow++
	name[nrow] = $2
	for (c = 1; c <= NF; c++) val[nrow, c] = $c
	# Derived columns: 21 = proxy CPU %, 22 = requests per proxy CPU second.
	val[nrow, 21] = $8 > 0 ? 100 * $7 / $8 : 0
	val[nrow, 22] = $7 > 0 ? $4 / $7 : 0
	if ($9 > peak[$2]) peak[$2] = $9
	# Under half a CPU second the 100 Hz tick count is too coarse for the
	# per-core figure: mark it rather than let it pass as precise.
	mark[nrow] = $7 < 0.5 ? " †" : ""
	if (mark[nrow] != "") { marked[$2] = " †"; anymark = 1 }
}

END {
	np = split(order, procs, " ")
	base = ""
	for (i = 1; i <= np; i++) if (procs[i] == "nginx") base = med(22, "nginx")

	print "| proxy | req/s (median) | p50 | p99 | proxy CPU % | req/s per proxy core (median) | peak RSS | per-core vs nginx | same round vs nginx (median) |"
	print "|---|--:|--:|--:|--:|--:|--:|--:|--:|"
	for (i = 1; i <= np; i++) {
		p = procs[i]
		pc = med(22, p)
		ratio = base > 0 ? sprintf("%.2fx", pc / base) : "n/a"
		printf "| %s | %.0f | %s | %s | %.0f%% | %.0f%s | %s | %s | %s |\n", p, med(3, p), ms(med(5, p)), ms(med(6, p)), med(21, p), pc, marked[p], mib(peak[p]), ratio, (base > 0 ? paired(p) : "n/a")
	}

	print ""
	print "Raw runs:"
	print ""
	print "| round | proxy | req/s | requests | p50 | p99 | max | proxy CPU s | proxy CPU % | req/s per proxy core | peak RSS | errors |"
	print "|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
	for (r = 1; r <= nrow; r++) {
		printf "| %s | %s | %.0f | %s | %s | %s | %s | %.2f | %.0f%% | %.0f%s | %s | %s |\n", val[r, 1], name[r], val[r, 3], val[r, 4], ms(val[r, 5]), ms(val[r, 6]), ms(val[r, 11]), val[r, 7], val[r, 21], val[r, 22], mark[r], mib(val[r, 9]), val[r, 10]
	}
	if (anymark) {
		print ""
		print "† under 0.5 proxy CPU seconds measured: the per-core figure is imprecise (CPU time comes in 10 ms ticks); use a longer --duration."
	}
}
