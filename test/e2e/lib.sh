# shellcheck shell=bash disable=SC2034
# Helpers for test/e2e/run.sh: starting dumpees, running memdump with a time limit,
# waiting with timeouts, and cleaning up only the processes a test started itself.
# Sourced, not run. Expects B (build dir), E2E (e2e binaries) and WORK (scratch root).

MEMDUMP="$B/memdump"
MD_TIMEOUT=${MD_TIMEOUT:-60}	# seconds one memdump command may take

# --- verdicts (a test runs in a subshell: exit ends the test, not the run) -------------

fail() {
	echo "FAIL: $*"
	echo "$*" >"$TD/why"
	exit 1
}

skip() {
	echo "SKIP: $*"
	echo "$*" >"$TD/why"
	exit 77
}

log() {
	echo "--- $*"
}

# --- waiting ----------------------------------------------------------------------

# wait_until SECS CMD...: true as soon as CMD succeeds, false after SECS
wait_until() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 20; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	"$@"
}

# alive PID: the process exists and is not a zombie
alive() {
	local st
	st=$(cut -d')' -f2 "/proc/$1/stat" 2>/dev/null | awk '{print $1}') || return 1
	[[ -n $st && $st != Z && $st != X ]]
}

# gone PID: no process and no thread of it is left running (zombie counts as gone)
gone() {
	! alive "$1"
}

# fully_gone PID: not even a zombie: the pid is free for a restore
fully_gone() {
	[[ ! -e /proc/$1 ]]
}

# reap_child PID: for a child of this shell that died: collect it, never block on a live one
reap_child() {
	wait_until 10 gone "$1" || return 1
	{ wait "$1"; } 2>/dev/null
	wait_until 10 fully_gone "$1"
}

status_ready() {
	[[ -f $1 ]] && head -n1 "$1" | grep -q '^READY'
}

status_final() {
	[[ -f $1 ]] && ! head -n1 "$1" | grep -q '^READY'
}

# --- processes ---------------------------------------------------------------------

# spawn NAME CMD...: start CMD in the background with regular files as stdio (pipes would
# make it undumpable); sets SPAWNED and records the pid for cleanup.
spawn() {
	local name=$1
	shift
	: >"$TD/$name.stdin"
	"$@" <"$TD/$name.stdin" >"$TD/$name.out" 2>"$TD/$name.err" &
	SPAWNED=$!
	echo "$SPAWNED" >>"$TD/pids"
	log "started $name: pid $SPAWNED: $*"
}

# remember PID (e.g. a restored process) for cleanup
track() {
	echo "$1" >>"$TD/pids"
}

# kill_tracked DIR: SIGKILL every recorded pid whose command line still names DIR
# (so a pid reused by somebody else is left alone)
kill_tracked() {
	local dir=$1 pid
	[[ -f $dir/pids ]] || return 0
	while read -r pid; do
		[[ -n $pid && -r /proc/$pid/cmdline ]] || continue
		if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$dir"; then
			alive "$pid" && kill -KILL "$pid" 2>/dev/null
		fi
	done <"$dir/pids"
	return 0
}

# count_procs STRING: processes whose command line contains STRING
count_procs() {
	local n=0 f
	for f in /proc/[0-9]*/cmdline; do
		if tr '\0' ' ' <"$f" 2>/dev/null | grep -qF "$1"; then
			alive "$(basename "$(dirname "$f")")" && n=$((n + 1))
		fi
	done
	echo "$n"
}

# --- memdump -----------------------------------------------------------------------

# md NAME ARGS...: run memdump ARGS with a time limit; stdout/stderr go to
# $TD/NAME.out/.err (and the log); returns memdump's exit status
md() {
	local name=$1 rc
	shift
	log "memdump $*"
	timeout -k 5 "$MD_TIMEOUT" "$MEMDUMP" "$@" >"$TD/$name.out" 2>"$TD/$name.err"
	rc=$?
	echo "$rc" >"$TD/$name.rc"
	sed 's/^/    out| /' "$TD/$name.out" | head -n 40
	sed 's/^/    err| /' "$TD/$name.err" | head -n 40
	log "exit $rc"
	[[ $rc -eq 124 ]] && echo "memdump $* timed out after ${MD_TIMEOUT}s"
	return $rc
}

# md_why NAME: one line saying how the memdump call NAME ended
md_why() {
	local rc
	rc=$(cat "$TD/$1.rc" 2>/dev/null)
	case $rc in
	124 | 137) echo "timed out after ${MD_TIMEOUT}s" ;;
	*)
		if grep -q '^memdump: error: ' "$TD/$1.err"; then
			grep -m1 '^memdump: error: ' "$TD/$1.err"
		else
			echo "exit $rc: $(tail -n1 "$TD/$1.err")"
		fi
		;;
	esac
}

need_memdump() {
	[[ -x $MEMDUMP ]] || fail "memdump is not built ($MEMDUMP)"
}

# --- dumpee_full -------------------------------------------------------------------

# start_full [ARGS...]: start dumpee_full in wait mode; sets PID and STATUS
start_full() {
	STATUS=$TD/status
	mkdir -p "$TD/data"
	rm -f "$STATUS"
	spawn dumpee "$E2E/dumpee_full" "$@" "$STATUS" "$TD/data"
	PID=$SPAWNED
	wait_until 20 status_ready "$STATUS" ||
		fail "dumpee_full did not get ready: $(cat "$STATUS" "$TD/dumpee.err" 2>/dev/null)"
}

# trigger_check PID: SIGUSR1, then expect "OK" in the status file and the process to exit
trigger_check() {
	local pid=$1
	alive "$pid" || fail "process $pid is not running before the check"
	kill -USR1 "$pid" || fail "cannot signal $pid"
	wait_until 30 status_final "$STATUS" ||
		fail "no check result from $pid within 30 s (alive: $(alive "$pid" && echo yes || echo no))"
	head -n1 "$STATUS" | grep -qx OK || fail "dumpee check: $(head -n3 "$STATUS" | tr '\n' ' ')"
	wait_until 10 gone "$pid" || fail "process $pid still runs after its check"
}

# dump_and_kill PID DIR [ARGS]: dump, expect success and the process gone and reaped
dump_and_kill() {
	local pid=$1 dir=$2
	shift 2
	md dump dump -t "$pid" -D "$dir" "$@" || fail "memdump dump failed: $(md_why dump)"
	wait_until 10 gone "$pid" || fail "process $pid still runs after the dump"
	reap_child "$pid" || fail "pid $pid is not free after the dump"
	local t
	for t in /proc/"$pid"/task/*; do
		[[ -e $t ]] && fail "thread $(basename "$t") of $pid still exists"
	done
	return 0
}

# restore_detached DIR PID: restore -d and expect PID to run again
restore_detached() {
	local dir=$1 pid=$2
	track "$pid"
	md restore restore -D "$dir" -d || fail "memdump restore -d failed: $(md_why restore)"
	alive "$pid" || fail "restore -d returned but pid $pid is not running"
}

# flip_byte FILE OFFSET: invert one byte in place
flip_byte() {
	local file=$1 off=$2 b
	b=$(od -An -tu1 -j "$off" -N1 "$file" | tr -d ' ')
	[[ -n $b ]] || fail "cannot read byte $off of $file"
	printf "$(printf '\\%03o' $((b ^ 0xff)))" |
		dd of="$file" bs=1 seek="$off" count=1 conv=notrunc status=none
}

# consecutive FILE: lines are 0, 1, 2, ... with no gap, repeat or restart
consecutive() {
	awk 'NR - 1 != $1 { printf "line %d is \"%s\", expected %d\n", NR, $0, NR - 1; bad = 1; exit }
	     END { exit bad }' "$1"
}
