# bench-lib.sh: what scripts/bench and scripts/bench-audit share, sourced
# by both: the tools of a build, and a budgetd of its own on a throw-away
# data directory (fsync on, as in production) that is stopped and removed
# however the script ends.
#
#   bench_tools BUILD    sets budgetd, budgetctl, bench, audit_bench, rules
#   bench_start          makes $dir, starts budgetd on $sock; sets $pid
#   bench_stop           SIGTERM, waits; returns non-zero if budgetd failed
#
# BENCH_DIR says where the directory goes (/var/tmp). Not a tmpfs: an
# fsync there costs nothing, which is not what a benchmark measures.

bench_tools() {
	top=$(cd "$(dirname "$0")/.." && pwd)
	budgetd="$top/$1/daemon/budgetd"
	budgetctl="$top/$1/client/budgetctl"
	bench="$top/$1/bench/budget-bench"
	audit_bench="$top/$1/bench/audit-bench"
	rules="$top/rules/vlaio-cybersecurity.rules"
	for f in "$budgetd" "$budgetctl" "$bench" "$audit_bench"; do
		if [ ! -x "$f" ]; then
			echo "bench: $f is missing: build first (make build)" >&2
			exit 2
		fi
	done
}

bench_cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}

bench_start() {
	dir=$(mktemp -d "${BENCH_DIR:-/var/tmp}/budgetd-bench.XXXXXX")
	sock="$dir/budgetd.sock"
	pid=""
	trap bench_cleanup EXIT HUP INT PIPE TERM

	# Room for many connections (budget-bench --connections 1000), and
	# for benchmark clients that sit idle between runs.
	cat >"$dir/budgetd.conf" <<EOC
[limits]
max_connections = 4096
max_connections_per_uid = 4096
idle_timeout = 1h
write_timeout = 1h
EOC
	ulimit -n 8192 2>/dev/null || true

	echo "bench: budgetd on $dir ($(df -PT "$dir" |
	    awk 'NR == 2 { print $2 }') filesystem), $(nproc) cpus," \
	    "$(uptime | sed 's/^ *//')"
	"$budgetd" -c "$dir/budgetd.conf" -d "$dir/data" -s "$sock" \
	    2>"$dir/budgetd.log" &
	pid=$!
	i=0
	until "$budgetctl" -s "$sock" status >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
			echo "bench: budgetd did not start:" >&2
			cat "$dir/budgetd.log" >&2
			exit 1
		fi
		sleep 0.1
	done
}

bench_stop() {
	echo "bench: stopping budgetd (SIGTERM)"
	kill -TERM "$pid"
	status=0
	wait "$pid" || status=$?
	pid=""
	if [ "$status" -ne 0 ]; then
		echo "bench: budgetd exited with status $status:" >&2
		cat "$dir/budgetd.log" >&2
		return 1
	fi
}
