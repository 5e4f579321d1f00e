#!/usr/bin/env bash
# Benchmark of incremental dumps (issue 5), ratios first:
#   a heap of SIZE MiB (default 2048) of random data is pre-dumped; 1% of its pages are
#   rewritten; the final dump (--prev-images-dir) copies only those. Printed: the pages each
#   copied and their ratio (target <= 0.02), the final dump's frozen time against a full
#   dump's of the same heap (target <= 0.10), and the time to write 1 GiB of the heap with
#   tracking off and on (the cost a tracked target pays, once per page per round).
# Usage: scripts/bench-incr.sh [BUILDDIR] [SIZE_MIB]   (as root)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
B=${1:-build}
SIZE=${2:-2048}
MD=$B/memdump
T=$B/bench/bench_dirty
[[ -x $MD && -x $T ]] || { echo "build first: cmake -B $B && cmake --build $B" >&2; exit 2; }
grep -q '^dirty_tracking: uffd-wp' <("$MD" check) || { echo "no dirty tracking on this kernel" >&2; exit 2; }
W=$(mktemp -d /var/tmp/memdump-bench-incr.XXXXXX)
P=
cleanup() { [[ -n $P ]] && kill -9 "$P" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

# wait_line WORD N: until the status file has N lines starting with WORD; prints the last value
wait_line() {
	for _ in $(seq 600); do
		if [[ $(grep -c "^$1" "$W/status" 2>/dev/null || true) -ge $2 ]]; then
			grep "^$1" "$W/status" | tail -n1 | awk '{ print $2 }'
			return 0
		fi
		sleep 0.1
	done
	echo "bench_dirty did not answer ($1)" >&2
	exit 1
}

# dump_stat LOG: "PAGES FROZEN" from memdump's summary line
dump_stat() {
	sed -n 's/.* \([0-9]*\) pages, frozen \([0-9.]*\) s$/\1 \2/p' "$1" | tail -n1
}

"$T" "$SIZE" "$W/status" </dev/null >/dev/null 2>&1 &
P=$!
wait_line READY 1 >/dev/null
kill -USR1 "$P"
w_off=$(wait_line WRITE 1)

"$MD" pre-dump -t "$P" -D "$W/pre" 2>"$W/pre.log"
read -r pre_pages pre_frozen < <(dump_stat "$W/pre.log")
kill -USR2 "$P"
dirty=$(wait_line DIRTY 1)
"$MD" dump -t "$P" -D "$W/final" --prev-images-dir ../pre -R --track-mem 2>"$W/final.log"
read -r fin_pages fin_frozen < <(dump_stat "$W/final.log")
kill -USR1 "$P"
w_on=$(wait_line WRITE 2)
# a full dump of the same heap, for the frozen time a migration without pre-dumps would cost
"$MD" dump -t "$P" -D "$W/full" 2>"$W/full.log"
read -r full_pages full_frozen < <(dump_stat "$W/full.log")
P=

awk -v pp="$pre_pages" -v fp="$fin_pages" -v ff="$fin_frozen" -v uf="$full_frozen" -v woff="$w_off" \
	-v won="$w_on" -v d="$dirty" -v s="$SIZE" -v upg="$full_pages" -v pf="$pre_frozen" 'BEGIN {
	printf "%-8s %14s %16s %14s\n", "heap", "final/pre pages", "final/full frozen", "write on/off"
	printf "%-8s %14.4f %16.4f %14.2f\n", s "M", fp / pp, ff / uf, won / woff
	printf "pre-dump: %d pages, frozen %.3f s; %d pages rewritten; final dump: %d pages, frozen %.3f s;\n",
		pp, pf, d, fp, ff
	printf "full dump: %d pages, frozen %.3f s; writing 1 GiB: %.3f s untracked, %.3f s tracked\n",
		upg, uf, woff, won
}'
echo "(one run; $(nproc) cores; $(uname -r))"
