#!/usr/bin/env bash
# Benchmark: memdump dump and restore against a floor measured in the same run, on
# targets this script starts itself. RUNS alternating runs (default 3), medians printed
# as one table, ratios first. Targets:
#   heap:MIB     bench_heap: MIB of anonymous memory, half random and half never touched,
#                plus 64 MiB of repetitive log-like text and a 16 MiB THP region
#   python[:MIB] CPython holding about MIB (default 500) of dicts of strings and ints
# Measured, for each target:
#   floor    one thread: pagemap, process_vm_readv() of the present non-zero anonymous
#            pages in 4 MiB chunks, write() to a file in the images' file system; no
#            freezing, no metadata (test/bench/bench_floor.c). Its bytes are the "data".
#   dump     memdump dump, uncompressed and with --compress (zstd): wall time, the frozen
#            time memdump logs, image bytes, memdump's peak RSS
#   restore  memdump restore -d of that image, its files still in the page cache
#   gcore    gdb's core dump of a fresh instance of the target, for reference
# Each dump, each restore and gcore gets a fresh instance (gcore reads untouched memory,
# which maps the zero page there, so it never shares one with a dump). The zstd columns
# print "-" when memdump's dump has no --compress; gcore's when gdb is not installed.
# On a VM that hands free memory back to its host (free page reporting, as on the
# Firecracker development VM), the first touch of such memory costs a host fault: writing
# 2 GiB of image took 1 s, or 2.5 to 6 s, depending on what ran before. So every timed
# step is prepared the same way (prepare() below), and the floor writes 1 MiB at a time
# (bench_floor.c). Where the guest's reporter hands memory back at once (page_reporting's
# min_free_ms 0), memory prepare() frees would go back before the step could use it; and
# it also reports as soon as more than max_waiting_mib (1024 here) of free memory waits,
# which a run on the 4 GiB heap passes in every step: its dump then took 1.9 s instead
# of 0.65 s in two runs of three. For the run, the bench holds freed memory for
# BENCH_HOLD_MS (60000) and up to BENCH_HOLD_MIB (65536) before it is reported, and puts
# the old values back at the end. BENCH_VERBOSE=1 prints every value as it is measured.
# Usage: scripts/bench.sh [BUILDDIR] [TARGET...]   (as root; default build, and
#        heap:1024 heap:4096 python; a bare number N means heap:N)
# Env:   RUNS (3), ZSTD_OPT (--compress, e.g. --compress=zstd:3), BENCH_GCORE=0 leaves
#        gcore out (scripts/bench-zstd.sh runs this script once per zstd level)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
B=${1:-build}
shift || true
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=(heap:1024 heap:4096 python)
RUNS=${RUNS:-3}
ZSTD_OPT=${ZSTD_OPT:---compress}
MD=$B/memdump
BENCH=$B/bench
PYSCRIPT=$PWD/test/bench/bench_python.py

die() { echo "bench: $*" >&2; exit 1; }

[[ $EUID -eq 0 ]] || die "run as root"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive number"
for f in "$MD" "$BENCH"/bench_{heap,floor,rusage}; do
	[[ -x $f ]] || die "$f is not built: cmake -B $B && cmake --build $B"
done

W=$(mktemp -d /var/tmp/memdump-bench.XXXXXX)	# the image file system, not tmpfs
declare -A LIVE=()	# pids of targets (started or restored) that may still run

# only a process that is still one of ours: its command line names our work directory
kill_ours() {
	tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "$W" && kill -KILL "$1" 2>/dev/null
	return 0
}

# page_reporting's delay and amount before free memory goes back to the host, and the
# old values of those we changed
REPORT_PARAMS=/sys/module/page_reporting/parameters
declare -A REPORT_OLD=()

cleanup() {
	local p
	for p in "${!LIVE[@]}"; do kill_ours "$p"; done
	rm -rf "$W"
	for p in "${!REPORT_OLD[@]}"; do echo "${REPORT_OLD[$p]}" >"$REPORT_PARAMS/$p"; done
}
trap cleanup EXIT

# hold PARAM VALUE: set a page_reporting parameter for the run, remembering the old value
hold() {
	local f=$REPORT_PARAMS/$1 old
	[[ -w $f ]] || return 0
	old=$(cat "$f")
	if echo "$2" >"$f" 2>/dev/null; then
		REPORT_OLD[$1]=$old
	else
		echo "bench: cannot set $f to $2; freed memory may go back to the host during the run" >&2
	fi
}
hold min_free_ms "${BENCH_HOLD_MS:-60000}"
hold max_waiting_mib "${BENCH_HOLD_MIB:-65536}"

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "-" }'; }

# wait_gone PID: until not even a zombie is left, so that a restore may take the pid
wait_gone() {
	local i
	for ((i = 0; i < 400; i++)); do
		[[ -e /proc/$1 ]] || { unset 'LIVE[$1]'; return 0; }
		sleep 0.05
	done
	die "pid $1 is still there"
}

# prepare MIB: untimed, before every timed step. Write and delete MIB of scratch file, so
# that the memory the step will allocate (page cache for its output, a restored process)
# was in use a moment ago and is still backed by the host (see above; a step that
# followed another's file deletion ran 2 to 6 times as fast as one that did not), then
# sync, so that no writeback of an earlier step goes on during this one.
prepare() {
	dd if=/dev/zero of="$W/scratch" bs=1M count="$1" status=none
	rm -f "$W/scratch"
	sync
}

# footprint TARGET: MiB its data (and so the floor's file, an image, a restore) takes, or
# more; with "core": what gcore writes (every mapping, touched or not)
footprint() {
	local kind=${1%%:*} size=${1#*:}
	case $kind:${2:-} in
	heap:) echo $((size / 2 + 80 + 64)) ;;
	heap:core) echo $((size + 80 + 64)) ;;
	python:*) echo $((size + 64)) ;;
	esac
}

# record TARGET METRIC VALUE: one value of one run
record() {
	echo "$3" >>"$W/res/$1.$2"
	[[ -z ${BENCH_VERBOSE:-} ]] || echo "run $i $(label "$1") $2 $3" >&2
}

# stages TARGET STEP LOG: with BENCH_VERBOSE, the time of each stage memdump -v logged
stages() {
	[[ -z ${BENCH_VERBOSE:-} ]] ||
		sed -n 's/^memdump: debug: \(.* in [0-9.]* s\)$/\1/p' "$3" | sed "s/^/run $i $(label "$1") $2: /" >&2
}

# med TARGET METRIC: the median of the runs, "-" if never measured
med() { if [[ -s $W/res/$1.$2 ]]; then median <"$W/res/$1.$2"; else echo -; fi; }

# ratio A B [FORMAT]: A/B, "-" if either is missing
ratio() {
	[[ $1 != - && $2 != - ]] || { echo -; return; }
	awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN { printf f "\n", a / b }'
}

# fmt VALUE FORMAT [DIVISOR]: VALUE/DIVISOR printed with FORMAT, or "-"
fmt() {
	[[ $1 != - ]] || { echo -; return; }
	awk -v v="$1" -v f="$2" -v d="${3:-1}" 'BEGIN { printf f "\n", v / d }'
}

python_exe() {
	command -v python3 >/dev/null || return 1
	python3 -c 'import sys; print(sys.executable)'
}

# start TARGET: start a fresh instance, not our child (init reaps it once a dump kills it);
# sets TP to its pid once it has written READY
start() {
	local kind=${1%%:*} size=${1#*:} st=$W/status
	rm -f "$st"
	case $kind in
	heap) TP=$("$BENCH/bench_heap" "$size" "$st" </dev/null >/dev/null 2>&1 & echo $!) ;;
	python) TP=$("$PY" "$PYSCRIPT" "$size" "$st" </dev/null >/dev/null 2>&1 & echo $!) ;;
	esac
	LIVE[$TP]=1
	local i
	for ((i = 0; i < 1200; i++)); do
		[[ -s $st ]] && return 0
		[[ -e /proc/$TP ]] || die "$1 died while starting"
		sleep 0.1
	done
	die "$1 did not start"
}

stop() { kill_ours "$TP"; wait_gone "$TP"; }

anon_huge_kib() { awk '/^AnonHugePages:/ { print $2 }' "/proc/$1/smaps_rollup"; }

# timed OUT CMD...: runs CMD under bench_rusage; OUT gets "SECONDS MAXRSS_KIB"
timed() { "$BENCH/bench_rusage" "$@"; }

# floor_run T: the floor on a fresh instance (kept for dump_run: the floor touches nothing)
floor_run() {
	local t=$1 secs rss
	prepare "$(footprint "$t")"
	timed "$W/ru" "$BENCH/bench_floor" "$TP" "$W/floor.out" >"$W/floor.bytes" ||
		die "$t: bench_floor failed"
	read -r secs rss <"$W/ru"
	record "$t" floor "$secs"
	record "$t" data "$(cat "$W/floor.bytes")"
	rm -f "$W/floor.out"
}

# dump_run T SUFFIX [DUMP OPTIONS...]: dump the running instance, restore it warm, end it.
# SUFFIX "" is the uncompressed dump, "z" the zstd one.
dump_run() {
	local t=$1 z=$2 img=$W/img secs rss frozen pid=$TP
	shift 2
	rm -rf "$img"
	prepare "$(footprint "$t")"
	timed "$W/ru" "$MD" dump -t "$pid" -D "$img" "$@" -v 2>"$W/dump.log" ||
		die "$t: memdump dump $* failed: $(grep -v debug: "$W/dump.log" | tail -n3)"
	read -r secs rss <"$W/ru"
	stages "$t" "${z}dump" "$W/dump.log"
	frozen=$(sed -n 's/.* frozen \([0-9.]*\) s$/\1/p' "$W/dump.log" | tail -n1)
	record "$t" "${z}dump" "$secs"
	record "$t" "${z}dump_rss" "$rss"
	[[ -z $frozen ]] || record "$t" "${z}frozen" "$frozen"
	record "$t" "${z}image" "$(du -sb "$img" | cut -f1)"
	wait_gone "$pid"

	prepare "$(footprint "$t")"	# the images stay in the page cache, clean: a warm restore
	timed "$W/ru" "$MD" restore -D "$img" -d -v 2>"$W/restore.log" ||
		die "$t: memdump restore failed: $(grep -v debug: "$W/restore.log" | tail -n3)"
	LIVE[$pid]=1
	read -r secs rss <"$W/ru"
	stages "$t" "${z}restore" "$W/restore.log"
	record "$t" "${z}restore" "$secs"
	record "$t" "${z}restore_rss" "$rss"
	[[ -e /proc/$pid ]] || die "$t: the restored process $pid is not there"
	stop
	rm -rf "$img"
}

gcore_run() {
	local t=$1 secs rss
	prepare "$(footprint "$t" core)"
	if timed "$W/ru" gcore -o "$W/core" "$TP" >"$W/gcore.log" 2>&1; then
		read -r secs rss <"$W/ru"
		record "$t" gcore "$secs"
	else
		echo "bench: $t: gcore failed: $(tail -n1 "$W/gcore.log")" >&2
	fi
	stop
	rm -f "$W"/core*
}

# warm_up: whatever is timed first must not pay for loading the programs. The page cache
# is never dropped: the first large write after a drop_caches took several times as long
# here (the memory it freed had gone back to the host), and it always hit the floor.
warm_up() {
	"$MD" --version >/dev/null
	"$BENCH/bench_rusage" 2>/dev/null || true
	"$BENCH/bench_floor" 2>/dev/null || true
	[[ -z $HAVE_GCORE ]] || gdb --version >/dev/null
}

# one_run T I: one run of every measurement on target T; every other run does zstd first
one_run() {
	local t=$1 i=$2 order=(plain zstd) step
	((i % 2 == 0)) || order=(zstd plain)
	for step in "${order[@]}"; do
		case $step in
		plain)
			start "$t"
			[[ $t != heap:* ]] || record "$t" thp "$(anon_huge_kib "$TP")"
			floor_run "$t"
			dump_run "$t" ""
			;;
		zstd)
			[[ -n $HAVE_ZSTD ]] || continue
			start "$t"
			dump_run "$t" z "$ZSTD_OPT"
			;;
		esac
	done
	if [[ -n $HAVE_GCORE ]]; then
		start "$t"
		gcore_run "$t"
	fi
}

label() {
	local kind=${1%%:*} size=${1#*:}
	case $kind in
	heap) ((size % 1024)) && echo "heap-${size}M" || echo "heap-$((size / 1024))G" ;;
	python) [[ $size == 500 ]] && echo python || echo "python-${size}M" ;;
	esac
}

# ---- targets, and what this memdump and machine have

T=()
for a in "${TARGETS[@]}"; do
	case $a in
	[0-9]*) a=heap:$a ;;
	python) a=python:500 ;;
	esac
	[[ $a =~ ^(heap|python):[1-9][0-9]*$ ]] || die "unknown target '$a' (heap:MIB, python[:MIB])"
	T+=("$a")
done
PY=
if [[ " ${T[*]}" == *" python:"* ]]; then
	PY=$(python_exe) || die "python3 is not installed: leave out the python target"
fi
usage_text=$("$MD" dump --help 2>&1 || true)
HAVE_ZSTD=
[[ $usage_text == *--compress* ]] && HAVE_ZSTD=1
HAVE_GCORE=
[[ ${BENCH_GCORE:-1} == 0 ]] || ! command -v gcore >/dev/null || HAVE_GCORE=1
mkdir "$W/res"

t_start=$(date +%s)
load_start=$(cut -d' ' -f1 /proc/loadavg)
warm_up
for ((i = 0; i < RUNS; i++)); do
	for t in "${T[@]}"; do
		one_run "$t" "$i"
	done
done
t_total=$(($(date +%s) - t_start))

# ---- the table: ratios, seconds, MiB

cols=(target dump/fl zdump/fl rest/fl zrest/fl img/data zimg/data floor_s dump_s zdump_s
	frozen_s zfrozen_s rest_s zrest_s gcore_s data_MiB rss_dump rss_zdump rss_rest rss_zrest)
hdr='%-10s'
for ((c = 1; c < ${#cols[@]}; c++)); do hdr+=' %9s'; done
hdr+='\n'
# shellcheck disable=SC2059
printf "$hdr" "${cols[@]}"
for t in "${T[@]}"; do
	declare -A m=()
	for k in floor data dump zdump frozen zfrozen restore zrestore gcore image zimage \
		dump_rss zdump_rss restore_rss zrestore_rss; do
		m[$k]=$(med "$t" "$k")
	done
	# shellcheck disable=SC2059
	printf "$hdr" "$(label "$t")" \
		"$(ratio "${m[dump]}" "${m[floor]}")" "$(ratio "${m[zdump]}" "${m[floor]}")" \
		"$(ratio "${m[restore]}" "${m[floor]}")" "$(ratio "${m[zrestore]}" "${m[floor]}")" \
		"$(ratio "${m[image]}" "${m[data]}" %.3f)" "$(ratio "${m[zimage]}" "${m[data]}" %.3f)" \
		"$(fmt "${m[floor]}" %.3f)" "$(fmt "${m[dump]}" %.3f)" "$(fmt "${m[zdump]}" %.3f)" \
		"$(fmt "${m[frozen]}" %.3f)" "$(fmt "${m[zfrozen]}" %.3f)" \
		"$(fmt "${m[restore]}" %.3f)" "$(fmt "${m[zrestore]}" %.3f)" "$(fmt "${m[gcore]}" %.3f)" \
		"$(fmt "${m[data]}" %.0f 1048576)" \
		"$(fmt "${m[dump_rss]}" %.1f 1024)" "$(fmt "${m[zdump_rss]}" %.1f 1024)" \
		"$(fmt "${m[restore_rss]}" %.1f 1024)" "$(fmt "${m[zrestore_rss]}" %.1f 1024)"
	unset m
done
echo "(medians of $RUNS alternating runs; z = dump $ZSTD_OPT$([[ -n $HAVE_ZSTD ]] || echo ": not in this memdump"); \
rss = memdump's peak RSS in MiB; $(nproc) cores; $(uname -r); $t_total s in all;
load average $load_start at the start, $(cut -d' ' -f1 /proc/loadavg) at the end\
$([[ -z ${REPORT_OLD[min_free_ms]:-} ]] || echo "; free memory held $(cat "$REPORT_PARAMS/min_free_ms") ms \
and $(cat "$REPORT_PARAMS/max_waiting_mib" 2>/dev/null || echo "?") MiB before it went back to the host"))"
for t in "${T[@]}"; do
	[[ $t == heap:* ]] || continue
	thp=$(med "$t" thp)
	[[ $thp != - && $thp -ge 16384 ]] || echo "warning: $(label "$t"): only $thp KiB of AnonHugePages, not 16384"
done
