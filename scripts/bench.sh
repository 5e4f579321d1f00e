#!/usr/bin/env bash
# Benchmark: memdump dump and restore of a heap against baselines measured in
# the same run, alternating, medians of RUNS. Prints ratios first.
#   floor   = one thread: pagemap + process_vm_readv (4 MiB chunks) + write()
#   memcpy  = memcpy of the same number of bytes
#   gcore   = gdb's core dump of the same process (reference, once per size)
# Usage: scripts/bench.sh [BUILDDIR] [SIZE_MIB...]   (as root; default build, 1024)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
B=${1:-build}
shift || true
SIZES=("${@:-1024}")
RUNS=${RUNS:-3}
MD=$B/memdump
BENCH=$B/bench
[[ -x $MD && -x $BENCH/bench_heap ]] || { echo "build first: cmake -B $B && cmake --build $B" >&2; exit 2; }
W=$(mktemp -d /var/tmp/memdump-bench.XXXXXX)	# the image file system, not tmpfs
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.6f\\n\", $* }"; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

start_heap() {	# size -> sets HP
	rm -f "$W/ready"
	"$BENCH/bench_heap" "$1" "$W/ready" </dev/null >/dev/null 2>&1 &
	HP=$!
	PIDS+=("$HP")
	for _ in $(seq 600); do [[ -s $W/ready ]] && return 0; sleep 0.1; done
	echo "bench_heap did not start" >&2
	exit 1
}

gone() { for _ in $(seq 200); do [[ -e /proc/$1 ]] || return 0; sleep 0.05; done; return 1; }

printf '%-8s %10s %10s %12s %10s %10s %10s %10s %10s %9s\n' size dump/floor restore/floor image/data \
	memcpy_s floor_s dump_s restore_s gcore_s data_MiB
for size in "${SIZES[@]}"; do
	: >"$W/floor"; : >"$W/dump"; : >"$W/restore"
	for ((i = 0; i < RUNS; i++)); do
		start_heap "$size"
		sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
		t0=$(now); data=$("$BENCH/bench_floor" "$HP" "$W/floor.out"); t1=$(now)
		calc "$t1 - $t0" >>"$W/floor"
		rm -f "$W/floor.out"

		rm -rf "$W/img"
		t0=$(now); "$MD" dump -t "$HP" -D "$W/img" 2>/dev/null; t1=$(now)
		calc "$t1 - $t0" >>"$W/dump"
		wait "$HP" 2>/dev/null || true
		gone "$HP"
		imgbytes=$(du -sb "$W/img" | cut -f1)

		t0=$(now); "$MD" restore -D "$W/img" -d 2>/dev/null; t1=$(now)
		calc "$t1 - $t0" >>"$W/restore"
		PIDS+=("$HP")
		kill -9 "$HP" 2>/dev/null || true
		gone "$HP" || true
	done
	mc=$("$BENCH/bench_memcpy" "$((data >> 20))" | cut -d' ' -f1)
	gc=-
	if command -v gcore >/dev/null; then
		start_heap "$size"
		t0=$(now); gcore -o "$W/core" "$HP" >/dev/null 2>&1 && t1=$(now) && gc=$(calc "$t1 - $t0")
		kill -9 "$HP"; rm -f "$W"/core*
	fi
	f=$(median <"$W/floor"); d=$(median <"$W/dump"); r=$(median <"$W/restore")
	printf '%-8s %10.2f %10.2f %12.3f %10.3f %10.3f %10.3f %10.3f %10s %9d\n' "${size}M" \
		"$(calc "$d / $f")" "$(calc "$r / $f")" "$(calc "$imgbytes / $data")" \
		"$mc" "$f" "$d" "$r" "$gc" "$((data >> 20))"
done
echo "(medians of $RUNS alternating runs; $(nproc) cores; $(uname -r))"
