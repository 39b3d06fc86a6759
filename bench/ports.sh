# shellcheck shell=bash
# ports.sh: loopback ports for the benchmark servers. Sourced by run.sh and
# churn.sh; free_port skips the ports in the caller's associative array PORT
# and calls the caller's die.

# free_port prints a loopback TCP port no socket uses and this run has not
# handed out yet. It draws below the kernel's ephemeral range, because wrk's
# and the proxies' outgoing connections take ephemeral ports and one of them
# would make a listener's bind fail. A race with other programs remains;
# start_server and check_200 catch it.
free_port() {
	local lo=32768 p
	read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
	((lo > 12000)) || lo=61000
	for _ in $(seq 1 200); do
		p=$((10000 + (RANDOM * 32768 + RANDOM) % (lo - 10000)))
		[[ " ${PORT[*]} " == *" $p "* ]] && continue
		if command -v ss >/dev/null; then
			[[ -z $(ss -Htan "sport = :$p" 2>/dev/null) ]] || continue
		elif (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			continue
		fi
		echo "$p"
		return 0
	done
	die "no free loopback port found"
}

# wait_port PORT PID waits (max 10 s) until PORT accepts, failing early if PID dies.
wait_port() {
	for _ in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
