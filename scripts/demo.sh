#!/usr/bin/env bash
# Show memdump at work on a tiny counter: dump it (which ends it), restore it, and see the
# count go on from where it stopped.
# Usage: scripts/demo.sh [BUILDDIR]   (default: build)
set -euo pipefail

B=$(cd "${1:-build}" && pwd)
MEMDUMP=$B/memdump
COUNTER=$B/e2e/counter
for f in "$MEMDUMP" "$COUNTER"; do
	[[ -x $f ]] || { echo "demo: $f is not built; run: cmake -B build && cmake --build build" >&2; exit 1; }
done

DIR=$(mktemp -d /tmp/memdump-demo.XXXXXX)
LOG=$DIR/counter.log
IMG=$DIR/img
PID=

cleanup() {
	# only the counter we started, and only while it is still ours
	if [[ -n $PID ]] && tr '\0' ' ' <"/proc/$PID/cmdline" 2>/dev/null | grep -qF "$LOG"; then
		kill -KILL "$PID" 2>/dev/null || true
	fi
}
trap cleanup EXIT

say() {
	printf '\n== %s\n' "$*"
}

last() {
	tail -n1 "$LOG" 2>/dev/null || true
}

say "start a counter that appends a number to $LOG every 200 ms"
# started from a subshell that exits at once, so the counter is not our child (init reaps
# it) and the shell has no job to report on when it dies; in a session of its own, so that
# it has no terminal even when the demo runs in one (a dump refuses a shell's terminal
# without --shell-job)
PID=$(
	setsid "$COUNTER" "$LOG" </dev/null >"$DIR/counter.out" 2>&1 &
	echo $!
)
sleep 2
echo "pid $PID is running; last number written: $(last)"

say "memdump dump -t $PID -D $IMG"
"$MEMDUMP" dump -t "$PID" -D "$IMG"
for _ in $(seq 50); do [[ -e /proc/$PID ]] || break; sleep 0.1; done
AT_DUMP=$(last)
echo "dumped; the last number before the dump: $AT_DUMP"
if [[ -e /proc/$PID ]]; then
	echo "pid $PID still exists: the dump did not end it" >&2
	exit 1
fi
echo "pid $PID is gone (no /proc/$PID); the image:"
ls -l "$IMG"

say "waiting 2 s: nothing is counting now"
sleep 2
echo "last number still: $(last)"

say "memdump restore -D $IMG -d"
"$MEMDUMP" restore -D "$IMG" -d
echo "pid $PID is back: $(tr '\0' ' ' <"/proc/$PID/cmdline")"
sleep 2
echo "numbers written after the restore: $(awk -v n="$AT_DUMP" '$1 > n' "$LOG" | head -n5 | tr '\n' ' ')..."

say "stop it"
kill -KILL "$PID"
for _ in $(seq 50); do [[ -e /proc/$PID ]] || break; sleep 0.1; done
PID_DONE=$PID
PID=

if awk 'NR - 1 != $1 { exit 1 }' "$LOG"; then
	echo "the log holds 0..$(last) with no gap and no restart: the counter went on from $AT_DUMP"
else
	echo "the log is NOT consecutive:" >&2
	awk 'NR - 1 != $1 { printf "line %d: %s\n", NR, $0; exit }' "$LOG" >&2
	exit 1
fi
echo "(pid $PID_DONE; files in $DIR)"
