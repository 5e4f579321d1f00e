# shellcheck shell=bash disable=SC2034
# Helpers for test/e2e/run.sh: starting dumpees, running memdump with a time limit,
# waiting with timeouts, and cleaning up only the processes a test started itself.
# Sourced, not run. Expects B (build dir), E2E (e2e binaries) and WORK (scratch root).

MEMDUMP="$B/memdump"
# The suite again with options: MD_DUMP_ARGS go to every dump and pre-dump,
# MD_RESTORE_ARGS to every restore, through a wrapper every test (and
# migrate.sh) calls as memdump.
if [[ -n ${MD_DUMP_ARGS:-}${MD_RESTORE_ARGS:-} ]]; then
	cat >"$WORK/memdump" <<-EOF
		#!/bin/sh
		cmd=\$1
		shift
		case \$cmd in
		dump | pre-dump) exec "$MEMDUMP" "\$cmd" ${MD_DUMP_ARGS:-} "\$@" ;;
		restore) exec "$MEMDUMP" "\$cmd" ${MD_RESTORE_ARGS:-} "\$@" ;;
		*) exec "$MEMDUMP" "\$cmd" "\$@" ;;
		esac
	EOF
	chmod +x "$WORK/memdump"
	MEMDUMP=$WORK/memdump
fi
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

# selftest_ok PROG [ARG...]: `PROG -m selftest $TD/status ARG...` exits 0 and reports OK
selftest_ok() {
	local prog=$1 rc
	shift
	"$prog" -m selftest "$TD/status" "$@" </dev/null
	rc=$?
	[[ $rc -eq 0 ]] || fail "selftest exited $rc: $(head -n3 "$TD/status" | tr '\n' ' ')"
	head -n1 "$TD/status" | grep -qx OK || fail "selftest status: $(head -n1 "$TD/status")"
}

# corruption_noticed PROG WHAT [ARG...]: `PROG -m corrupt -c WHAT $TD/status ARG...` exits 1
# and reports the failure its check found
corruption_noticed() {
	local prog=$1 what=$2 rc
	shift 2
	rm -f "$TD/status"
	"$prog" -m corrupt -c "$what" "$TD/status" "$@" </dev/null 2>/dev/null
	rc=$?
	[[ $rc -eq 1 ]] || fail "corrupting '$what': exit $rc, expected 1: $(head -n1 "$TD/status")"
	grep -q '^FAIL: ' "$TD/status" || fail "corrupting '$what' was not reported"
	log "$what: $(head -n1 "$TD/status")"
}

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
		if tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF "$dir"; then
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

# start_dumpee NAME [ARG...]: run $E2E/dumpee_NAME ARG... $TD/status and wait until it says
# it is ready; sets STATUS and PID
start_dumpee() {
	local name=$1
	shift
	STATUS=$TD/status
	spawn "$name" "$E2E/dumpee_$name" "$@" "$STATUS"
	PID=$SPAWNED
	wait_until 30 status_ready "$STATUS" ||
		fail "dumpee_$name did not get ready: $(cat "$STATUS" "$TD/$name.err" 2>/dev/null)"
}

# restore_background DIR: start `memdump restore -D DIR` (no -d: it stays the root's
# parent) in the background; sets RPID
restore_background() {
	log "memdump restore -D $1 (background)"
	timeout -k 5 "$MD_TIMEOUT" "$MEMDUMP" restore -D "$1" >"$TD/restore.out" 2>"$TD/restore.err" &
	RPID=$!
}

# restore_background_done: the restore started by restore_background ends, with status 0
# (the restored root exited 0)
restore_background_done() {
	local rc
	wait_until 30 gone "$RPID" || fail "memdump restore still waits after the process exited"
	wait "$RPID"
	rc=$?
	[[ $rc -eq 0 ]] || fail "memdump restore exited $rc, the process exited 0: $(cat "$TD/restore.err")"
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

# restore_detached DIR PID [OPTION...]: restore -d (with the OPTIONs) and expect PID to run again
restore_detached() {
	local dir=$1 pid=$2
	shift 2
	track "$pid"
	md restore restore -D "$dir" -d "$@" || fail "memdump restore -d failed: $(md_why restore)"
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

# --- process trees -----------------------------------------------------------------

# all_fully_gone PID...: not one of them exists, not even as a zombie or a thread
all_fully_gone() {
	local p
	for p; do
		fully_gone "$p" || return 1
	done
}

# still_there PID...: the ones that still exist, with their state (for messages)
still_there() {
	local p out=""
	for p; do
		[[ -e /proc/$p ]] && out+="$p($(proc_state "$p")) "
	done
	echo "${out:-none}"
}

# proc_state PID / proc_ppid PID: fields 3 and 4 of /proc/PID/stat
proc_state() {
	cut -d')' -f2 "/proc/$1/stat" 2>/dev/null | awk '{print $1}'
}

proc_ppid() {
	cut -d')' -f2 "/proc/$1/stat" 2>/dev/null | awk '{print $2}'
}

# tids_of PID...: every thread id of the processes, sorted, on one line
tids_of() {
	local p t
	for p; do
		for t in /proc/"$p"/task/*; do
			[[ -e $t ]] && echo "${t##*/}"
		done
	done | sort -n | tr '\n' ' '
}

# descendants PID: its children, their children... (not PID itself)
descendants() {
	local c
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		echo "$c"
		descendants "$c"
	done
}

# orphans: processes reparented to run.sh's reaper (its children other than run.sh)
orphans() {
	[[ $(cat "/proc/$PPID/comm" 2>/dev/null) == reaper ]] || return 0
	cat /proc/"$PPID"/task/*/children 2>/dev/null | tr ' ' '\n' | grep -vx -e "$$" -e ''
}

no_orphans() {
	[[ -z $(orphans) ]]
}

# pss_total [-s] PID...: kB of Pss (-s: Pss + SwapPss) summed over the processes'
# smaps_rollup; fails if one cannot be read
pss_total() {
	local swap="" p
	if [[ $1 == -s ]]; then
		swap=1
		shift
	fi
	for p; do
		[[ -r /proc/$p/smaps_rollup ]] || return 1
	done
	for p; do
		cat "/proc/$p/smaps_rollup"
	done | awk -v swap="$swap" '$1 == "Pss:" || (swap && $1 == "SwapPss:") { s += $2 }
		END { print s + 0 }'
}

# pss_each [-s] PID...: "PID:kB" for each process, for the log
pss_each() {
	local opt=() p
	if [[ $1 == -s ]]; then
		opt=(-s)
		shift
	fi
	for p; do
		echo -n "$p:$(pss_total "${opt[@]}" "$p") "
	done
}

# dir_bytes DIR: the sum of the (apparent) sizes of the files in DIR
dir_bytes() {
	find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'
}

# --- dumpee_tree -------------------------------------------------------------------

# start_tree [ARGS...]: start dumpee_tree in wait mode and wait for READY; sets PID (the
# root P), TREE (its live processes P C1 C2 C3 G), ZPID (the zombie Z) and STATUS, and
# tracks every pid for cleanup
start_tree() {
	local p c1 c2 c3 g z
	STATUS=$TD/status
	mkdir -p "$TD/data"
	rm -f "$STATUS"
	spawn tree "$E2E/dumpee_tree" "$@" "$STATUS" "$TD/data"
	PID=$SPAWNED
	wait_until 30 status_ready "$STATUS" ||
		fail "dumpee_tree did not get ready: $(cat "$STATUS" "$TD/tree.err" 2>/dev/null)"
	read -r _ p c1 c2 c3 g z <"$STATUS"
	[[ $p == "$PID" && -n $z ]] || fail "bad READY line: $(head -n1 "$STATUS")"
	TREE=("$p" "$c1" "$c2" "$c3" "$g")
	ZPID=$z
	log "tree: P $p C1 $c1 C2 $c2 C3 $c3 G $g, zombie Z $z"
	for p in "$c1" "$c2" "$c3" "$g"; do
		track "$p"
	done
}

# zram_swap_on: a 1 GiB swap on /dev/zram0 for this test (skips when there is no free
# zram device); arms an EXIT trap that undoes exactly what was done, even on failure
zram_swap_on() {
	command -v mkswap >/dev/null && command -v swapon >/dev/null ||
		skip "no swap active, and mkswap/swapon are not installed"
	[[ -e /sys/block/zram0/disksize ]] || skip "no swap active and no zram device"
	[[ $(cat /sys/block/zram0/disksize) == 0 ]] ||
		skip "no swap active and /dev/zram0 is in use already"
	trap zram_swap_off EXIT
	echo 1G >/sys/block/zram0/disksize || skip "cannot size /dev/zram0"
	ZRAM_SIZED=1
	mkswap /dev/zram0 >/dev/null || skip "mkswap /dev/zram0 failed"
	swapon /dev/zram0 || skip "swapon /dev/zram0 failed"
	ZRAM_SWAPON=1
	log "swap on /dev/zram0 (1 GiB)"
}

zram_swap_off() {
	[[ -n ${ZRAM_SIZED:-} ]] || return 0
	# our processes first, or swapoff would read their pages back in
	kill_tracked "$TD"
	if [[ -n ${ZRAM_SWAPON:-} ]]; then
		swapoff /dev/zram0 || echo "zram_swap_off: swapoff /dev/zram0 failed"
		ZRAM_SWAPON=
	fi
	echo 1 >/sys/block/zram0/reset || echo "zram_swap_off: cannot reset /dev/zram0"
	ZRAM_SIZED=
	log "zram swap removed"
}
