#!/usr/bin/env bash
# The zstd level sweep behind --compress's default: scripts/bench.sh once per level on
# one target (without gcore), one row per level: compressed dump and restore against the
# floor measured in that same run, the compressed image against the data, and the times.
# Usage: scripts/bench-zstd.sh [BUILDDIR] [TARGET] [LEVEL...]   (as root; default build,
#        python, and levels -5 -1 1 2 3 6 lz4; a negative level is zstd's --fast, "lz4"
#        is --compress=lz4)
# Env:   RUNS (3), passed on to bench.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
B=${1:-build}
T=${2:-python}
shift 2 || shift $#
LEVELS=("$@")
((${#LEVELS[@]})) || LEVELS=(-5 -1 1 2 3 6 lz4)

printf '%-6s %9s %9s %9s %9s %9s %9s %9s\n' level zdump/fl zrest/fl zimg/data floor_s zdump_s \
	zrest_s rss_zdump
for l in "${LEVELS[@]}"; do
	opt=--compress=zstd:$l
	[[ $l != lz4 ]] || opt=--compress=lz4
	out=$(BENCH_GCORE=0 ZSTD_OPT="$opt" scripts/bench.sh "$B" "$T") ||
		{ echo "bench-zstd: level $l: bench.sh failed" >&2; exit 1; }
	# bench.sh's row: target dump/fl zdump/fl rest/fl zrest/fl img/data zimg/data floor_s
	# dump_s zdump_s frozen_s zfrozen_s rest_s zrest_s gcore_s data_MiB rss_dump rss_zdump ...
	awk -v l="$l" 'NR == 2 { printf "%-6s %9s %9s %9s %9s %9s %9s %9s\n", l, $3, $5, $7, $8, $10, $14, $18 }' \
		<<<"$out"
done
echo "(medians of ${RUNS:-3} runs of scripts/bench.sh $T per level; $(nproc) cores; $(uname -r))"
