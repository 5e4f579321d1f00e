#!/usr/bin/env bash
# Benchmark of processes with many fds, ratios first. For each target (a CPython process
# holding N socket pairs, N pipes, or N socket pairs with one end of each in one epoll set:
# 2N fds), alternating, medians of RUNS (default 3):
#   - the baseline: one pass reading every fd's link and fdinfo in /proc (the least a
#     dumper reads per fd), by the same Python, while the target runs;
#   - memdump dump's frozen time, and memdump restore -d's wall time from a warm cache.
# Printed: frozen/baseline and restore/baseline, then the times.
# Usage: scripts/bench-fds.sh [BUILDDIR] [N]   (as root; N default 9000)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
B=${1:-build}
N=${2:-9000}
RUNS=${RUNS:-3}
MD=$B/memdump
[[ -x $MD && -x $B/e2e/reaper ]] || { echo "build first: cmake -B $B && cmake --build $B" >&2; exit 2; }
# restored targets outlive memdump -d: reaped here, not by init
if [[ -z ${MEMDUMP_BENCH_REAPER:-} ]]; then
	export MEMDUMP_BENCH_REAPER=1
	exec "$B/e2e/reaper" -t 10 "$0" "$@"
fi
(( $(ulimit -Hn) > 2 * N + 100 )) || { echo "the hard fd limit $(ulimit -Hn) is below 2N" >&2; exit 2; }
ulimit -n "$(ulimit -Hn)"
W=$(mktemp -d /var/tmp/memdump-bench-fds.XXXXXX)
P=
cleanup() { [[ -n $P ]] && kill -9 "$P" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

cat >"$W/target.py" <<'EOF'
import os, select, socket, sys, time
kind, n, st = sys.argv[1], int(sys.argv[2]), sys.argv[3]
keep = []
ep = select.epoll() if kind == "epoll" else None
for i in range(n):
    if kind == "pipe":
        keep += os.pipe()
    else:
        a, b = socket.socketpair()
        keep += [a, b]
        if ep:
            ep.register(a.fileno(), select.EPOLLIN)
with open(st + ".tmp", "w") as f:
    f.write("READY\n")
os.rename(st + ".tmp", st)
while True:
    time.sleep(1)
EOF
cat >"$W/walk.py" <<'EOF'
import os, sys, time
d = "/proc/%s/fd" % sys.argv[1]
t = time.monotonic()
for x in os.listdir(d):
    try:
        os.readlink(d + "/" + x)
        with open("/proc/%s/fdinfo/%s" % (sys.argv[1], x)) as f:
            f.read()
    except OSError:
        pass
print("%.4f" % (time.monotonic() - t))
EOF

start() {
	rm -f "$W/status"
	python3 "$W/target.py" "$1" "$N" "$W/status" </dev/null >/dev/null 2>&1 &
	P=$!
	for _ in $(seq 600); do [[ -f $W/status ]] && return 0; sleep 0.1; done
	echo "the $1 target did not start" >&2
	exit 1
}

gone() { [[ ! -e /proc/$1 ]] || [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) == Z ]]; }

wait_gone() {
	for _ in $(seq 300); do gone "$1" && { { wait "$1"; } 2>/dev/null || true; return 0; }; sleep 0.05; done
	echo "$1 is still there" >&2
	exit 1
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# one_run KIND: appends to $W/KIND.{base,frozen,restore}
one_run() {
	local k=$1 t0 t1
	start "$k"
	python3 "$W/walk.py" "$P" >>"$W/$k.base"
	rm -rf "$W/img"
	mkdir "$W/img"
	"$MD" dump -t "$P" -D "$W/img" 2>"$W/dump.err" || { cat "$W/dump.err" >&2; exit 1; }
	sed -n 's/.*frozen \([0-9.]*\) s$/\1/p' "$W/dump.err" >>"$W/$k.frozen"
	wait_gone "$P"
	cat "$W"/img/* >/dev/null
	t0=$(date +%s%N)
	"$MD" restore -D "$W/img" -d 2>"$W/restore.err" || { cat "$W/restore.err" >&2; exit 1; }
	t1=$(date +%s%N)
	echo "$(( (t1 - t0) / 1000 ))" | awk '{ printf "%.4f\n", $1 / 1e6 }' >>"$W/$k.restore"
	kill -9 "$P"
	wait_gone "$P"
	P=
}

KINDS=(sock pipe epoll)
for ((r = 0; r < RUNS; r++)); do
	for k in "${KINDS[@]}"; do
		one_run "$k"
	done
done

printf '%-6s %6s %15s %16s %9s %9s %9s\n' target fds frozen/baseline restore/baseline baseline frozen restore
for k in "${KINDS[@]}"; do
	b=$(median <"$W/$k.base")
	f=$(median <"$W/$k.frozen")
	rs=$(median <"$W/$k.restore")
	n=$((2 * N))
	[[ $k == epoll ]] && n=$((n + 1))
	awk -v k="$k" -v n="$n" -v b="$b" -v f="$f" -v r="$rs" \
		'BEGIN { printf "%-6s %6d %15.2f %16.2f %8.3fs %8.3fs %8.3fs\n", k, n, f / b, r / b, b, f, r }'
done
