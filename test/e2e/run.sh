#!/usr/bin/env bash
# End-to-end tests: dump and restore real processes with BUILDDIR/memdump and check, from
# inside the restored process, that its state survived. Prints PASS/FAIL/SKIP per test and
# a final "N passed, N failed, N skipped"; exits non-zero if any test failed.
#
# Usage: test/e2e/run.sh BUILDDIR [TEST...]     (TEST names without the test_ prefix)
# Env:   E2E_KEEP=1 keeps the scratch directory; MD_TIMEOUT limits each memdump call;
#        MD_DUMP_ARGS / MD_RESTORE_ARGS: options for every dump / restore (e.g. --compress).
set -uo pipefail

if [[ $# -lt 1 || ! -d $1 ]]; then
	echo "usage: $0 BUILDDIR [TEST...]" >&2
	exit 2
fi
B=$(cd "$1" && pwd)
E2E=$B/e2e
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
shift

# A process restored with -d is reparented to the nearest subreaper: be that subreaper,
# so restored processes are reaped (and leftovers killed) here, not by init.
if [[ -z ${MEMDUMP_E2E_REAPER:-} ]]; then
	if [[ ! -x $E2E/reaper ]]; then
		echo "FAIL setup: $E2E/reaper is not built"
		echo "0 passed, 1 failed, 0 skipped"
		exit 1
	fi
	export MEMDUMP_E2E_REAPER=1
	# run from a terminal, the dumpees would have it as their controlling terminal, which
	# a dump refuses without --shell-job: a session of our own, without one
	if (: </dev/tty) 2>/dev/null; then
		exec setsid -w "$E2E/reaper" -t 30 "$HERE/run.sh" "$B" "$@"
	fi
	exec "$E2E/reaper" -t 30 "$HERE/run.sh" "$B" "$@"
fi

WORK=$(mktemp -d /tmp/memdump-e2e.XXXXXX)
# shellcheck source=test/e2e/lib.sh
source "$HERE/lib.sh"

# --- the tests -------------------------------------------------------------------------

# The dumpee's own checker passes without any dump...
test_dumpee_selftest() {
	mkdir -p "$TD/data"
	selftest_ok "$E2E/dumpee_full" "$TD/data"
}

# ...and fails when any one piece of its state is broken: a checker that cannot fail
# would make every other test meaningless.
test_dumpee_detects_corruption() {
	local what
	mkdir -p "$TD/data"
	for what in anon anon-zero protnone privfile shanon memfd huge thp offset rlimit cwd comm sigpending \
		maps tls rseq altstack itimer eventfd epoll; do
		corruption_noticed "$E2E/dumpee_full" "$what" "$TD/data"
	done
}

# 1. dump (killing it), restore detached, check everything from inside
test_dump_restore_full() {
	need_memdump
	start_full
	dump_and_kill "$PID" "$TD/img"
	restore_detached "$TD/img" "$PID"
	trigger_check "$PID"
}

# 1'. private anonymous memory goes in by UFFDIO_COPY, not by process_vm_writev() over
# zeroed pages: restore's debug line says how many pages went which way. With THP "always"
# all of it goes by process_vm_writev() on purpose (a huge-page region must come back huge).
test_fill_by_uffd_copy() {
	local n
	need_memdump
	[[ ${MD_RESTORE_ARGS:-} != *--lazy-pages* ]] || skip "a lazy restore fills through its own userfaultfd"
	grep -qs '\[always\]' /sys/kernel/mm/transparent_hugepage/enabled \
		/sys/kernel/mm/transparent_hugepage/hugepages-*/enabled &&
		skip "THP is \"always\" here: restore fills by process_vm_writev() on purpose"
	start_full
	dump_and_kill "$PID" "$TD/img"
	restore_detached "$TD/img" "$PID" -v
	# restore falls back where the kernel gives or registers no userfaultfd: nothing to test
	grep -E -m1 "no userfaultfd of its|refuses UFFDIO_API|cannot register .* with a userfaultfd" \
		"$TD/restore.err" && skip "this kernel fills no VMA by UFFDIO_COPY (see above)"
	n=$(sed -n "s/^memdump: debug: $PID: \([0-9]*\) pages in by UFFDIO_COPY, .*/\1/p" "$TD/restore.err")
	[[ -n $n ]] || fail "restore -v said nothing of UFFDIO_COPY for $PID"
	((n > 0)) || fail "no page of $PID went in by UFFDIO_COPY: $(grep -m1 "$PID: .*UFFDIO_COPY" "$TD/restore.err")"
	log "$n pages by UFFDIO_COPY"
	trigger_check "$PID"
}

# 1b'. a pipe inside the process, with bytes in flight: the same pipe comes back, bytes and all
test_pipe_in_process() {
	need_memdump
	start_full -p
	dump_and_kill "$PID" "$TD/img"
	restore_detached "$TD/img" "$PID"
	trigger_check "$PID"
}

# 1c. a restored process is an ordinary one: dump and restore it again
test_dump_restore_twice() {
	need_memdump
	start_full
	dump_and_kill "$PID" "$TD/img1"
	restore_detached "$TD/img1" "$PID"
	md dump2 dump -t "$PID" -D "$TD/img2" || fail "second dump failed: $(md_why dump2)"
	wait_until 10 gone "$PID" || fail "process $PID still runs after the second dump"
	wait_until 10 fully_gone "$PID" || fail "pid $PID is not free after the second dump"
	restore_detached "$TD/img2" "$PID"
	trigger_check "$PID"
}

# stopped_all PID: every thread of PID is in a group-stop (state T)
stopped_all() {
	local t st
	[[ -d /proc/$1/task ]] || return 1
	for t in /proc/"$1"/task/*/stat; do
		st=$(cut -d')' -f2 "$t" 2>/dev/null | awk '{print $1}')
		[[ $st == T ]] || return 1
	done
}

# thread_states PID: each thread's state, for a message
thread_states() {
	local t
	for t in /proc/"$1"/task/*/stat; do
		echo -n "$(basename "$(dirname "$t")"):$(cut -d')' -f2 "$t" 2>/dev/null | awk '{print $1}') "
	done
}

# 1d. a stopped process (kill -STOP, as by an operator or a debugger) is dumped as it is:
# dump -R leaves every thread stopped, the restored process is stopped until SIGCONT, and
# then it runs and finds everything as it was. Alone in its process group, only memdump
# would hold that group in its session: restore -d is refused (the kernel would send the
# orphaned group SIGHUP once memdump exited), before anything exists; restore without -d
# holds it as its parent until it ends
test_stopped() {
	need_memdump
	start_full
	kill -STOP "$PID"
	wait_until 10 stopped_all "$PID" || fail "dumpee_full did not stop: $(thread_states "$PID")"
	md dump0 dump -t "$PID" -D "$TD/img0" -R || fail "dump -R of a stopped process failed: $(md_why dump0)"
	wait_until 5 stopped_all "$PID" || fail "dump -R let the stopped process go: $(thread_states "$PID")"
	dump_and_kill "$PID" "$TD/img"
	track "$PID"
	md restore_d restore -D "$TD/img" -d &&
		fail "restore -d of a process that memdump's exit would orphan succeeded"
	grep -q "^memdump: error: $PID was stopped, in process group .*SIGHUP.*without -d" "$TD/restore_d.err" ||
		fail "unclear refusal: $(head -n3 "$TD/restore_d.err")"
	[[ $(wc -l <"$TD/restore_d.err") -eq 1 ]] || fail "more than one line: $(cat "$TD/restore_d.err")"
	[[ -e /proc/$PID ]] && fail "the refused restore created $PID"
	restore_background "$TD/img"
	wait_until 30 stopped_all "$PID" ||
		fail "the restored process is not stopped: $(thread_states "$PID") $(head -n1 "$TD/restore.err")"
	kill -CONT "$PID"
	trigger_check "$PID"
	restore_background_done
}

# a parent that starts a counter as a job of its own (its own process group, as a shell
# with job control does) and sleeps; writes the job's pid to ARGV[3]
JOB_CODE='
import os, sys, time
pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    os.execv(sys.argv[1], [sys.argv[1], "-i", "20", sys.argv[2]])
try:
    os.setpgid(pid, pid)
except PermissionError:
    pass  # past its exec, the child made its group itself
with open(sys.argv[3] + ".tmp", "w") as f:
    f.write("%d\n" % pid)
os.rename(sys.argv[3] + ".tmp", sys.argv[3])
while True:
    time.sleep(3600)
'

# 1e. a job stopped by SIGTSTP (Ctrl-Z) under a running parent: the image says which
# signal stopped it; the tree comes back with the job stopped (by SIGSTOP) and the parent
# running, and the job counts on from where it stopped once continued
test_stopped_job() {
	need_memdump
	command -v python3 >/dev/null || skip "python3 is not installed"
	local py kid n
	py=$(python3 -c 'import sys; print(sys.executable)') || skip "python3 does not run"
	spawn jobs "$py" -c "$JOB_CODE" "$E2E/counter" "$TD/counter.log" "$TD/job"
	PID=$SPAWNED
	wait_until 10 eval '[[ -s $TD/job && -s $TD/counter.log ]]' || fail "no job started: $(cat "$TD/jobs.err")"
	kid=$(cat "$TD/job")
	track "$kid"
	kill -TSTP "$kid"
	wait_until 10 stopped_all "$kid" || fail "SIGTSTP did not stop the job $kid: $(thread_states "$kid")"
	dump_and_kill "$PID" "$TD/img"
	wait_until 10 fully_gone "$kid" || fail "the job $kid is still there after the dump"
	md show show "$TD/img" || fail "memdump show failed"
	python3 - "$TD/show.out" "$PID" "$kid" >"$TD/stops" <<-'EOF' || fail "cannot read memdump show"
		import json, sys
		img = json.load(open(sys.argv[1]))
		for pid in sys.argv[2:]:
		    core = img["core-%s.img" % pid]
		    print(pid, core["payload"].get("stop_signo", 0), core["header"]["flags"] & 4)
	EOF
	# the header flag too (MD_CORE_F_STOPPED: a memdump before it must not let the job run)
	[[ $(cat "$TD/stops") == "$PID 0 0"$'\n'"$kid 20 4" ]] ||
		fail "stop signals in the image: $(tr '\n' ' ' <"$TD/stops")"
	restore_detached "$TD/img" "$PID"
	wait_until 5 stopped_all "$kid" || fail "the restored job is not stopped: $(thread_states "$kid")"
	stopped_all "$PID" && fail "the restored parent $PID is stopped too"
	n=$(wc -l <"$TD/counter.log")
	kill -CONT "$kid"
	wait_until 10 eval '[[ $(wc -l <"$TD/counter.log") -ge $((n + 10)) ]]' ||
		fail "the continued job does not count: $(tail -n2 "$TD/counter.log" | tr '\n' ' ')"
	consecutive "$TD/counter.log" || fail "counter lines are not consecutive: $(consecutive "$TD/counter.log")"
	alive "$PID" || fail "the restored parent $PID does not run"
}

# a counter with 256 MiB of random bytes, so that its dump takes a while
BIG_COUNTER_CODE='
import os, sys, time
blob = os.urandom(256 << 20)
f = open(sys.argv[1], "a", buffering=1)
i = 0
while True:
    f.write("%d\n" % i)
    i += 1
    time.sleep(0.02)
'

# a stopped process that a SIGCONT reaches while the dump holds it comes back running
test_stopped_continued_during_dump() {
	local out=$TD/count.log pid n
	need_memdump
	command -v python3 >/dev/null || skip "python3 is not installed"
	spawn big python3 -c "$BIG_COUNTER_CODE" "$out"
	pid=$SPAWNED
	wait_until 30 eval '[[ $(wc -l <"$out" 2>/dev/null || echo 0) -ge 5 ]]' ||
		fail "the counter did not start: $(head -n3 "$TD/big.err")"
	kill -STOP "$pid"
	wait_until 10 stopped_all "$pid" || fail "the counter did not stop: $(thread_states "$pid")"
	# SIGCONT once the dump has seized it and (30 ms on) is copying its memory; "sent" only if the
	# dump still held it then. A loop in one process (no fork per look, as a shell loop would
	# do), so that under load too the SIGCONT lands long before the dump looks for one
	python3 -c '
import os, signal, sys, time
pid, path = int(sys.argv[1]), "/proc/%s/status" % sys.argv[1]
def traced():
    try:
        with open(path) as f:
            return any(l.startswith("TracerPid:") and l.split()[1] != "0" for l in f)
    except OSError:
        return None
end = time.monotonic() + 60
while time.monotonic() < end:
    t = traced()
    if t is None:
        break
    if t:
        time.sleep(0.03)
        os.kill(pid, signal.SIGCONT)
        if traced():
            print("sent")
        break
' "$pid" >"$TD/cont" 2>/dev/null &
	local poller=$!
	sleep 0.2
	dump_and_kill "$pid" "$TD/img"
	wait "$poller"
	[[ $(cat "$TD/cont") == sent ]] || skip "the SIGCONT did not land while the dump held the process"
	# noticed; or, on a machine so loaded that it came before the dump took the process as
	# stopped, dumped as running: either way it must come back running
	if ! grep -q "^memdump: $pid was continued (SIGCONT) while the dump held it" "$TD/dump.err"; then
		"$MEMDUMP" show "$TD/img/core-$pid.img" >"$TD/core.json" || fail "memdump show failed"
		grep -q '"stop_signo"' "$TD/core.json" &&
			fail "the dump did not notice the SIGCONT: $(cat "$TD/dump.err")"
		log "the SIGCONT came before the dump took $pid as stopped"
	fi
	n=$(wc -l <"$out")
	restore_detached "$TD/img" "$pid"
	wait_until 10 eval '[[ $(wc -l <"$out") -ge $((n + 5)) ]]' ||
		fail "the restored counter does not count (state $(proc_state "$pid")): it came back stopped"
	consecutive "$out" || fail "lines are not consecutive: $(consecutive "$out")"
	kill -KILL "$pid"
}

# 1f. calls the dump interrupts come back waiting in the restored process, not failing
# with EINTR (no handler ran): poll(), epoll_wait(), futex() with a timeout, nanosleep(),
# clock_nanosleep() and sigwaitinfo() (the kernel would resume poll(), futex() and the
# sleeps from a restart block the new process does not have)
test_restart_calls_selftest() {
	selftest_ok "$E2E/dumpee_restart"
}

test_restart_calls() {
	need_memdump
	local t0
	start_dumpee restart
	t0=$SECONDS
	dump_and_kill "$PID" "$TD/img"
	# its sleepers end 6 s after they began: dumped later, they were no longer waiting
	((SECONDS - t0 < 5)) || fail "the dump took $((SECONDS - t0)) s: the test needs it within 5 s"
	restore_detached "$TD/img" "$PID"
	trigger_check "$PID"
}

# the same through a pre-dump: letting the process go, it has the kernel resume the calls
# through restart_syscall(), which the final dump finds them in; the pre-dump's image
# names each call
test_restart_calls_after_pre_dump() {
	need_memdump
	local t0
	start_dumpee restart -m runs-on
	t0=$SECONDS
	md predump pre-dump -t "$PID" -D "$TD/pre" || fail "pre-dump failed: $(md_why predump)"
	dump_and_kill "$PID" "$TD/img" --prev-images-dir ../pre
	((SECONDS - t0 < 5)) || fail "the dumps took $((SECONDS - t0)) s: the test needs them within 5 s"
	restore_detached "$TD/img" "$PID"
	trigger_check "$PID"
}

# 1g. a signal that arrives while the process is frozen for a dump -R interrupts its
# blocked syscall as the kernel says (EINTR: the handler has no SA_RESTART), not a restart
test_eintr_during_dump() {
	need_memdump
	STATUS=$TD/status
	mkdir -p "$TD/data"
	spawn dumpee_eintr "$E2E/dumpee_eintr" "$STATUS" "$TD/data"
	PID=$SPAWNED
	wait_until 30 status_ready "$STATUS" || fail "dumpee_eintr did not get ready"
	"$MEMDUMP" dump -R -t "$PID" -D "$TD/img" >"$TD/dump.out" 2>"$TD/dump.err" &
	local dpid=$! seen=""
	for _ in $(seq 400); do
		if grep -q '^TracerPid:[[:space:]]*[1-9]' "/proc/$PID/status" 2>/dev/null; then
			kill -USR2 "$PID"
			seen=yes
			break
		fi
		sleep 0.005
	done
	wait "$dpid" || fail "memdump dump -R failed: $(head -n1 "$TD/dump.err")"
	[[ -n $seen ]] || skip "the dump was too quick to signal the process while frozen"
	wait_until 10 status_final "$STATUS" || fail "the blocked futex wait did not return after the signal"
	head -n1 "$STATUS" | grep -qx OK || fail "$(head -n1 "$STATUS")"
	# it exits by itself once it has reported
	wait_until 10 gone "$PID" || fail "dumpee_eintr still runs after its report"
}

# 1h. a dump that fails half-way (the image file system fills up) removes what it wrote
# and leaves the process running exactly as before
test_failed_dump_cleans_up() {
	need_memdump
	mkdir -p "$TD/small"
	mount -t tmpfs -o size=1m memdump-e2e "$TD/small" 2>/dev/null || skip "cannot mount a tmpfs here"
	start_full
	md dump dump -t "$PID" -D "$TD/small/img"
	local rc=$? left
	left=$(find "$TD/small/img" -name '*.img' 2>/dev/null | wc -l)
	umount "$TD/small"
	[[ $rc -ne 0 ]] || fail "a dump into 1 MiB succeeded"
	grep -q "No space left" "$TD/dump.err" || fail "unexpected failure: $(md_why dump)"
	[[ $left -eq 0 ]] || fail "$left image files left behind after the failed dump"
	trigger_check "$PID"
}

# 1a. registers: GPRs, SSE/AVX/AVX-512 and MXCSR held across dump and restore
test_registers() {
	need_memdump
	STATUS=$TD/status
	mkdir -p "$TD/data"
	spawn dumpee_regs "$E2E/dumpee_regs" "$STATUS" "$TD/data"
	PID=$SPAWNED
	wait_until 20 status_ready "$STATUS" || fail "dumpee_regs did not get ready: $(cat "$TD/dumpee_regs.err")"
	dump_and_kill "$PID" "$TD/img"
	restore_detached "$TD/img" "$PID"
	trigger_check "$PID"
	log "$(sed -n 2p "$STATUS")"
}

# 1b. restore without -d waits and returns the restored process's exit status
test_restore_waits_for_exit() {
	need_memdump
	start_full
	dump_and_kill "$PID" "$TD/img"
	track "$PID"
	restore_background "$TD/img"
	wait_until 30 alive "$PID" || fail "pid $PID did not come back: $(head -n1 "$TD/restore.err")"
	trigger_check "$PID"
	restore_background_done
	cat "$TD/restore.err"
}

# 2. --leave-running: the target goes on unchanged, and the image is still good
test_leave_running() {
	need_memdump
	start_full
	md dump dump -t "$PID" -D "$TD/img" -R || fail "memdump dump -R failed: $(md_why dump)"
	sleep 0.2
	alive "$PID" || fail "process $PID died after dump -R"
	trigger_check "$PID"
	reap_child "$PID" || fail "pid $PID is not free"

	log "the -R image restores too"
	rm -f "$STATUS"
	restore_detached "$TD/img" "$PID"
	trigger_check "$PID"
}

# 2b. --leave-running twice in a row, then a normal dump: seizing leaves no trace
test_leave_running_twice() {
	need_memdump
	start_full
	md dump1 dump -t "$PID" -D "$TD/img1" -R || fail "first dump -R failed: $(md_why dump1)"
	md dump2 dump -t "$PID" -D "$TD/img2" --leave-running ||
		fail "second dump --leave-running failed: $(md_why dump2)"
	dump_and_kill "$PID" "$TD/img3"
	restore_detached "$TD/img3" "$PID"
	trigger_check "$PID"
}

# 3. an fd memdump cannot dump: refuse, name it, leave the process untouched
test_unsupported_fd_refused() {
	need_memdump
	start_full -u
	md dump dump -t "$PID" -D "$TD/img" && fail "dump of a process holding a userfaultfd and a packet socket succeeded"
	local rc=$?
	[[ $rc -ne 124 ]] || fail "dump timed out"
	grep -q '^memdump: error: ' "$TD/dump.err" || fail "no 'memdump: error:' line"
	grep -Eq '\b108\b.*userfaultfd' "$TD/dump.err" || fail "the error does not name fd 108, a userfaultfd: $(md_why dump)"
	grep -Eq '\b109\b.*packet' "$TD/dump.err" || fail "the error does not name fd 109, a packet socket: $(md_why dump)"
	alive "$PID" || fail "process $PID died after a failed dump"
	trigger_check "$PID"
}

# counts_on LOG TID: the counter thread TID runs, not held by a tracer, and LOG grows
counts_on() {
	local counted=$1 tid=$2 n
	[[ $(proc_state "$tid") == [RS] ]] || fail "the counting thread $tid is in state '$(proc_state "$tid")' after the refusal"
	grep -q '^TracerPid:[[:space:]]*0$' "/proc/$tid/status" || fail "thread $tid is still traced after the refusal"
	n=$(wc -l <"$counted")
	wait_until 10 eval '[[ $(wc -l <"$counted") -ge $((n + 5)) ]]' ||
		fail "the counter stopped at $n lines after the refusal"
}

# 3b. a process whose main thread exited while another thread counts shows in /proc as a
# zombie: refused by name (as the root and as a child), and it counts on untouched
test_exited_main_thread_refused() {
	local out=$TD/count.log pid tid shell
	need_memdump
	spawn counter "$E2E/counter" -t -i 20 "$out"
	pid=$SPAWNED
	wait_until 10 eval '[[ $(proc_state "$pid") == Z && $(wc -l <"$out" 2>/dev/null || echo 0) -ge 5 ]]' ||
		fail "counter -t did not start counting with its main thread gone: $(head -n3 "$TD/counter.err")"
	tid=$(tids_of "$pid" | tr ' ' '\n' | grep -vx "$pid" | head -n1)
	[[ -n $tid ]] || fail "no thread besides $pid counts"
	track "$tid"
	md dump1 dump -t "$pid" -D "$TD/img1" && fail "the dump of $pid, whose main thread exited, succeeded"
	grep -q "^memdump: error: process $pid: its main thread has exited, 1 other thread still running" "$TD/dump1.err" ||
		fail "the root's refusal does not say why: $(md_why dump1)"
	counts_on "$out" "$tid"

	log "the same process as the child of a shell"
	kill -KILL "$tid"
	spawn shell bash -c '"$1" -t -i 20 "$2" & wait' shell "$E2E/counter" "$out.2"
	shell=$SPAWNED
	wait_until 10 eval '[[ -n $(descendants "$shell") && $(wc -l <"$out.2" 2>/dev/null || echo 0) -ge 5 &&
		$(proc_state "$(descendants "$shell" | head -n1)") == Z ]]' ||
		fail "the shell's counter did not start with its main thread gone: $(head -n3 "$TD/shell.err")"
	pid=$(descendants "$shell" | head -n1)
	tid=$(tids_of "$pid" | tr ' ' '\n' | grep -vx "$pid" | head -n1)
	track "$tid"
	md dump2 dump -t "$shell" -D "$TD/img2" && fail "the dump of a tree holding $pid, whose main thread exited, succeeded"
	grep -q "^memdump: error: process $pid: its main thread has exited" "$TD/dump2.err" ||
		fail "the child's refusal does not say why: $(md_why dump2)"
	[[ ! -e $TD/img2/inventory.img ]] || fail "the failed dump left an image behind"
	alive "$shell" || fail "the shell $shell died in the failed dump"
	[[ $(proc_state "$shell") == [RS] ]] || fail "the shell is in state '$(proc_state "$shell")' after the refusal"
	counts_on "$out.2" "$tid"
	kill -KILL "$tid" "$shell"
}

# a tracer: seize PID (argv 1) and hold it, running, or stopped (argv 2 "stop")
TRACER_CODE='
import ctypes, sys, time
libc = ctypes.CDLL(None, use_errno=True)
pid = int(sys.argv[1])
if libc.ptrace(0x4206, pid, None, None) != 0:
    sys.exit("PTRACE_SEIZE: errno %d" % ctypes.get_errno())
if sys.argv[2] == "stop" and libc.ptrace(0x4207, pid, None, None) != 0:
    sys.exit("PTRACE_INTERRUPT: errno %d" % ctypes.get_errno())
print("seized", flush=True)
time.sleep(3600)
'

# 3c. a process another tracer holds (a debugger, strace), running or stopped by it:
# refused in one line naming the tracer, and it goes on once the tracer lets go
test_traced_refused() {
	local how out pid tracer
	need_memdump
	command -v python3 >/dev/null || skip "python3 is not installed"
	for how in run stop; do
		out=$TD/count-$how.log
		spawn "counter-$how" "$E2E/counter" -i 20 "$out"
		pid=$SPAWNED
		wait_until 10 eval '[[ $(wc -l <"$out" 2>/dev/null || echo 0) -ge 5 ]]' ||
			fail "the counter did not start: $(head -n3 "$TD/counter-$how.err")"
		# $TD on its command line: cleanup kills it if the test fails
		spawn "tracer-$how" python3 -c "$TRACER_CODE" "$pid" "$how" "$TD"
		tracer=$SPAWNED
		wait_until 10 eval 'grep -q seized "$TD/tracer-$how.out"' ||
			fail "the tracer did not seize $pid: $(head -n3 "$TD/tracer-$how.err")"
		md "dump-$how" dump -t "$pid" -D "$TD/img-$how" && fail "the dump of $pid, traced by $tracer, succeeded"
		grep -q "^memdump: error: thread $pid of process $pid is traced by process $tracer (python3): " \
			"$TD/dump-$how.err" || fail "the refusal does not name the tracer: $(md_why "dump-$how")"
		[[ $(wc -l <"$TD/dump-$how.err") -eq 1 ]] || fail "the refusal takes more than one line"
		kill -KILL "$tracer"
		wait_until 10 eval 'grep -q "^TracerPid:[[:space:]]*0$" "/proc/$pid/status"' || fail "$pid is still traced"
		counts_on "$out" "$pid"
	done
}

# bad arguments fail cleanly and leave the target alone
test_dump_errors() {
	need_memdump
	start_full
	mkdir -p "$TD/full"
	echo x >"$TD/full/something"
	md dump1 dump -t "$PID" -D "$TD/full" && fail "dump into a non-empty directory succeeded"
	grep -q '^memdump: error: ' "$TD/dump1.err" || fail "non-empty dir: no 'memdump: error:' line"
	[[ $(ls "$TD/full") == something ]] || fail "dump wrote into a non-empty directory"

	local nopid=$((PID + 100000))
	[[ -e /proc/$nopid ]] || {
		md dump2 dump -t "$nopid" -D "$TD/img2" && fail "dump of a missing pid succeeded"
		grep -q '^memdump: error: ' "$TD/dump2.err" || fail "missing pid: no 'memdump: error:' line"
	}
	md restore restore -D "$TD/does-not-exist" && fail "restore of a missing directory succeeded"
	grep -q '^memdump: error: ' "$TD/restore.err" || fail "missing image: no 'memdump: error:' line"

	alive "$PID" || fail "process $PID died"
	trigger_check "$PID"
}

# 4. restore while the pid is taken: fail clearly, create nothing
test_restore_pid_taken() {
	need_memdump
	start_full
	md dump dump -t "$PID" -D "$TD/img" -R || fail "memdump dump -R failed: $(md_why dump)"
	local before after
	before=$(count_procs "$STATUS")
	md restore restore -D "$TD/img" -d && fail "restore succeeded although pid $PID is taken"
	grep -q '^memdump: error: ' "$TD/restore.err" || fail "no 'memdump: error:' line"
	sleep 0.2
	after=$(count_procs "$STATUS")
	[[ $before -eq 1 && $after -eq 1 ]] ||
		fail "processes with our command line: $before before, $after after the failed restore"
	trigger_check "$PID"
}

# 5. an interpreter mid-run: the counter it writes goes on with no gap and no restart
interp_counter() {
	local name=$1
	shift
	local out=$TD/$name.log n1 n2 pid kids p
	need_memdump
	spawn "$name" "$@" "$out"
	pid=$SPAWNED
	wait_until 30 eval '[[ $(wc -l <"$out" 2>/dev/null || echo 0) -ge 10 ]]' ||
		fail "$name did not start counting: $(head -n3 "$TD/$name.err")"
	kids=$(descendants "$pid" | sort -n | tr '\n' ' ')
	dump_and_kill "$pid" "$TD/img"
	n1=$(wc -l <"$out")
	log "$n1 lines at the dump"
	restore_detached "$TD/img" "$pid"
	[[ $(descendants "$pid" | sort -n | tr '\n' ' ') == "$kids" ]] ||
		fail "the restored tree has children '$(descendants "$pid" | tr '\n' ' ')', the dumped one had '$kids'"
	wait_until 20 eval '[[ $(wc -l <"$out") -ge $((n1 + 20)) ]]' ||
		fail "after restore the counter stopped at $(wc -l <"$out") lines (dump at $n1; alive: $(alive "$pid" && echo yes || echo no)); $(tail -n2 "$out" | tr '\n' ' ')"
	kill -KILL "$pid" $kids
	for p in "$pid" $kids; do
		wait_until 10 gone "$p" || fail "cannot kill $p"
	done
	n2=$(wc -l <"$out")
	log "$n2 lines at the end"
	grep -q BAD "$out" && fail "$name found its data changed: $(grep BAD "$out" | head -n1)"
	consecutive "$out" || fail "counter lines are not consecutive: $(consecutive "$out")"
}

PY_CODE='
import sys, time
data = {i: str(i) * 7 for i in range(100000)}
blob = bytes(range(256)) * 20000
f = open(sys.argv[1], "a", buffering=1)
i = 0
while True:
    k = (i * 7919) % 100000
    if data[k] != str(k) * 7 or blob[i % len(blob)] != i % len(blob) % 256:
        f.write("BAD %d\n" % i)
    f.write("%d\n" % i)
    i += 1
    time.sleep(0.02)
'

# python3_real: the real interpreter's path, not a version-manager shim script's (or a skip)
python3_real() {
	command -v python3 >/dev/null || skip "python3 is not installed"
	python3 -c 'import sys; print(sys.executable)' || skip "python3 does not run"
}

test_python_counter() {
	local py
	py=$(python3_real) || exit
	interp_counter python "$py" -c "$PY_CODE"
}

# CPython's multiprocessing: a pool of three workers, a manager process (a unix socket
# server), a queue (pipes and a feeder thread), and a lock and shared values in files it
# deleted in /dev/shm, one opened O_NOFOLLOW (mkstemp()). Every step checks its results.
MP_CODE='
import multiprocessing as mp, sys, time
def square(x):
    return x * x
if __name__ == "__main__":
    f = open(sys.argv[1], "a", buffering=1)
    lock, count, arr = mp.Lock(), mp.Value("i", 0), mp.Array("d", 4096)
    q, mgr = mp.Queue(), mp.Manager()
    shared = mgr.dict()
    with mp.Pool(3) as pool:
        i = 0
        while True:
            ok = sum(pool.map(square, range(i, i + 50))) == sum(x * x for x in range(i, i + 50))
            with lock:
                count.value += 1
                arr[i % 4096] = i
            q.put(i)
            ok = ok and q.get(timeout=5) == i and count.value == i + 1 and arr[i % 4096] == i
            shared[i % 100] = i
            ok = ok and shared[i % 100] == i and (i < 100 or shared[(i + 1) % 100] == i - 99)
            if not ok:
                f.write("BAD %d\n" % i)
            f.write("%d\n" % i)
            i += 1
            time.sleep(0.02)
'

test_python_multiprocessing() {
	local py
	py=$(python3_real) || exit
	interp_counter multiprocessing "$py" -c "$MP_CODE"
}

PERL_CODE='
use strict; use Time::HiRes qw(sleep);
my %data = map { $_ => "x$_" x 5 } 0 .. 99999;
open(my $f, ">>", $ARGV[0]) or die; select($f); $| = 1;
for (my $i = 0; ; $i++) {
    my $k = ($i * 7919) % 100000;
    print "BAD $i\n" if $data{$k} ne "x$k" x 5;
    print "$i\n";
    sleep(0.02);
}
'

test_perl_counter() {
	command -v perl >/dev/null || skip "perl is not installed"
	interp_counter perl perl -e "$PERL_CODE"
}

# Node.js: libuv's epoll, eventfds and thread pool; timers and the fs module. Each line
# is written by an asynchronous fs.write() (a pool thread) whose callback arms the next
# setTimeout(); a setInterval() keeps fs.stat() calls in flight, and every 25 lines the
# file is read back with fs.readFile() and its last line checked.
NODE_CODE='
const fs = require("fs");
const out = process.argv[process.argv.length - 1];
const data = new Map();
for (let k = 0; k < 100000; k++) data.set(k, "x" + k);
const fd = fs.openSync(out, "a");
let i = 0;
function tick() {
    const k = (i * 7919) % 100000;
    const line = (data.get(k) !== "x" + k ? "BAD " + i + "\n" : "") + i + "\n";
    fs.write(fd, line, (err) => {
        if (err) throw err;
        if (i % 25 == 24)
            fs.readFile(out, "utf8", (err, text) => {
                const last = text.trimEnd().split("\n").pop();
                if (err || last !== String(i - 1)) fs.writeSync(fd, "BAD readback " + last + "\n");
            });
        i++;
        setTimeout(tick, 20);
    });
}
setInterval(() => fs.stat(out, () => {}), 7);
tick();
'

test_node_counter() {
	command -v node >/dev/null || skip "node (Node.js) is not installed"
	interp_counter node node -e "$NODE_CODE"
}

# Go, built static (CGO_ENABLED=0): its own runtime, no glibc and no rseq, signal-driven
# preemption, the netpoller's epoll on a listening socket and a pipe, eight goroutines on
# a mutex and a ticker. Each line's number goes through the pipe and back first.
GO_CODE='
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

func main() {
	out, err := os.OpenFile(os.Args[1], os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0644)
	if err != nil {
		panic(err)
	}
	data := make(map[int]string)
	for k := 0; k < 100000; k++ {
		data[k] = fmt.Sprint("x", k)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() {
		for {
			if c, err := ln.Accept(); err == nil {
				c.Close()
			}
		}
	}()
	var mu sync.Mutex
	n := 0
	for w := 0; w < 8; w++ {
		go func() {
			for {
				mu.Lock()
				n++
				mu.Unlock()
				time.Sleep(time.Millisecond)
			}
		}()
	}
	r, w, err := os.Pipe()
	if err != nil {
		panic(err)
	}
	in := bufio.NewReader(r)
	tick := time.NewTicker(20 * time.Millisecond)
	for i := 0; ; i++ {
		<-tick.C
		k := (i * 7919) % 100000
		fmt.Fprintf(w, "%d\n", i)
		var back int
		_, err := fmt.Fscanf(in, "%d\n", &back)
		if data[k] != fmt.Sprint("x", k) || err != nil || back != i {
			fmt.Fprintf(out, "BAD %d\n", i)
		}
		fmt.Fprintf(out, "%d\n", i)
	}
}
'

test_go_counter() {
	command -v go >/dev/null || skip "go (golang-go) is not installed"
	mkdir -p "$TD/go"
	printf '%s' "$GO_CODE" >"$TD/go/main.go"
	printf 'module counter\ngo 1.19\n' >"$TD/go/go.mod"
	(cd "$TD/go" && CGO_ENABLED=0 GOCACHE=$TD/go/cache GOPATH=$TD/go/path GOPROXY=off GOFLAGS=-mod=mod \
		go build -o counter . 2>"$TD/go/build.err") || fail "go build failed: $(head -n3 "$TD/go/build.err")"
	interp_counter go "$TD/go/counter"
}

# Java 17: the JVM's own threads (GC, JIT, ...) and a pool of eight. Every line's number
# goes through a pool thread and back.
JAVA_CODE='
import java.io.*;
import java.util.*;
import java.util.concurrent.*;

public class Counter {
    public static void main(String[] args) throws Exception {
        Map<Integer, String> data = new HashMap<>();
        for (int k = 0; k < 100000; k++) data.put(k, "x" + k);
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try (PrintWriter w = new PrintWriter(new FileWriter(args[0], true), true)) {
            for (int i = 0; ; i++) {
                final int n = i;
                int k = (i * 7919) % 100000;
                if (!data.get(k).equals("x" + k)) w.println("BAD " + i);
                List<Future<Integer>> fs = new ArrayList<>();
                for (int t = 0; t < 8; t++) fs.add(pool.submit(() -> n));
                for (Future<Integer> f : fs) if (f.get() != n) w.println("BAD pool " + i);
                w.println(i);
                Thread.sleep(20);
            }
        }
    }
}
'

test_java_counter() {
	command -v java >/dev/null && command -v javac >/dev/null || skip "java and javac (a JDK) are not installed"
	java -version 2>&1 | grep -q 'version "17' || skip "java is not JDK 17: $(java -version 2>&1 | head -n1)"
	printf '%s' "$JAVA_CODE" >"$TD/Counter.java"
	javac -d "$TD" "$TD/Counter.java" 2>"$TD/javac.err" || fail "javac failed: $(head -n3 "$TD/javac.err")"
	interp_counter java java -cp "$TD" Counter
}

# the C counter, as scripts/demo.sh shows it
test_c_counter() {
	interp_counter counter "$E2E/counter" -i 20
}

# 6. show prints JSON, check reports kernel features
test_show_and_check() {
	need_memdump
	command -v python3 >/dev/null || skip "python3 is needed to validate JSON"
	local f
	spawn counter "$E2E/counter" -i 20 "$TD/counter.log"
	local pid=$SPAWNED
	md dump dump -t "$pid" -D "$TD/img" -R || fail "memdump dump -R failed: $(md_why dump)"
	kill -KILL "$pid"
	reap_child "$pid"
	md show show "$TD/img" || fail "memdump show DIR failed"
	python3 -m json.tool <"$TD/show.out" >/dev/null || fail "memdump show DIR: not valid JSON"
	for f in "$TD"/img/*; do
		md show1 show "$f" || fail "memdump show $(basename "$f") failed"
		python3 -m json.tool <"$TD/show1.out" >/dev/null ||
			fail "memdump show $(basename "$f"): not valid JSON"
	done
	md check check || fail "memdump check exited non-zero"
	[[ -s $TD/check.out ]] || fail "memdump check printed nothing"
}

# 7. a corrupt image is refused before anything is created
test_corrupt_image() {
	need_memdump
	local pid f off size
	spawn counter "$E2E/counter" -i 20 "$TD/counter.log"
	pid=$SPAWNED
	wait_until 10 eval '[[ -s $TD/counter.log ]]' || fail "counter did not start"
	dump_and_kill "$pid" "$TD/img"
	for f in pages mm; do
		[[ -f $TD/img/$f-$pid.img ]] || fail "no $f-$pid.img in the image: $(ls "$TD/img" | tr '\n' ' ')"
		rm -rf "$TD/bad-$f"
		cp -a "$TD/img" "$TD/bad-$f"
		size=$(stat -c %s "$TD/bad-$f/$f-$pid.img")
		if [[ $f == pages ]]; then
			off=$((4096 + (size - 4096) / 2))	# in the page data, past the header
		else
			off=$((size / 2 + 1))
		fi
		flip_byte "$TD/bad-$f/$f-$pid.img" "$off"
		cmp -s "$TD/img/$f-$pid.img" "$TD/bad-$f/$f-$pid.img" && fail "flip_byte did nothing"
		if md restore-$f restore -D "$TD/bad-$f" -d; then
			track "$pid"
			# lazily, page data is checked chunk by chunk as it goes in: the tree may run first
			[[ $f == pages && ${MD_RESTORE_ARGS:-} == *--lazy-pages* ]] ||
				fail "restore of an image with a corrupt $f-$pid.img succeeded"
			wait_until 10 eval '[[ ! -e /proc/$pid ]]' ||
				fail "corrupt $f, lazy: the restored process still runs"
			wait_until 10 eval 'grep -q "lazy restore: cannot fill" "$TD/restore-$f.err"' ||
				fail "corrupt $f, lazy: no error from the lazy server: $(cat "$TD/restore-$f.err")"
		fi
		grep -q '^memdump: error: ' "$TD/restore-$f.err" || fail "corrupt $f: no 'memdump: error:' line"
		grep -q "$f-$pid.img" "$TD/restore-$f.err" ||
			fail "corrupt $f: the error does not name $f-$pid.img: $(md_why restore-$f)"
		[[ ! -e /proc/$pid ]] || { track "$pid"; fail "corrupt $f: a process $pid exists after the failed restore"; }
	done
	# the untouched image is good: the failures were about the corruption
	restore_detached "$TD/img" "$pid"
	kill -KILL "$pid"
	wait_until 10 gone "$pid" || fail "cannot kill $pid"
}

# 8. process trees: dumpee_tree's own checker passes without any dump...
test_tree_selftest() {
	mkdir -p "$TD/data"
	selftest_ok "$E2E/dumpee_tree" "$TD/data"
	wait_until 10 eval '[[ $(count_procs "$TD/status") -eq 0 ]]' ||
		fail "processes of the tree are left: $(count_procs "$TD/status")"
}

# ...and names what is broken, in which process, when one thing is
test_tree_detects_corruption() {
	local what want rc
	local -A expect=(
		[heap]="heap: P" [heap-c1]="heap: C1" [shanon]="shanon: C1" [memfd]="memfd: G"
		[pipe]="pipe: C1" [pgid]="pgid: C2" [sid]="sid: G" [ppid]="ppid: G"
		[zombie]="zombie: P" [threads]="threads: P"
	)
	mkdir -p "$TD/data"
	for what in heap heap-c1 shanon memfd pipe pgid sid ppid zombie threads; do
		want="FAIL: ${expect[$what]}: "
		rm -f "$TD/status"
		"$E2E/dumpee_tree" -m corrupt -c "$what" "$TD/status" "$TD/data" </dev/null 2>/dev/null
		rc=$?
		[[ $rc -eq 1 ]] || fail "corrupting '$what': exit $rc, expected 1: $(head -n1 "$TD/status")"
		grep -q "^$want" "$TD/status" ||
			fail "corrupting '$what' was not reported as '$want...': $(head -n3 "$TD/status" | tr '\n' ' ')"
		log "$what: $(grep -m1 "^$want" "$TD/status")"
		wait_until 10 eval '[[ $(count_procs "$TD/status") -eq 0 ]]' ||
			fail "corrupting '$what': processes of the tree are left"
	done
}

# the whole tree: dump (killing it), restore detached, check from inside every process;
# on the way: every pid and tid is free after the dump and back after the restore, Z as a
# zombie; shared copy-on-write pages are stored once and shared again after the restore
tree_dump_restore() {
	local swap=${1:-} kb before after bytes tids tids_after p
	need_memdump
	start_tree ${swap:+-s}
	if [[ -n $swap ]]; then
		kb=$(sed -n 's/^SWAP //p' "$STATUS")
		log "P has ${kb:-?} kB in swap"
		[[ ${kb:-0} -gt 0 ]] || skip "nothing of the tree went to swap (VmSwap of P: ${kb:-?} kB)"
	fi
	tids=$(tids_of "${TREE[@]}")
	before=$(pss_total ${swap:+-s} "${TREE[@]}") || fail "cannot read smaps_rollup of the tree"
	log "threads: $tids; Pss${swap:+ + SwapPss}: $before kB ($(pss_each ${swap:+-s} "${TREE[@]}"))"

	md dump dump -t "$PID" -D "$TD/img" || fail "memdump dump failed: $(md_why dump)"
	reap_child "$PID" || fail "P ($PID) is not free after the dump"
	# shellcheck disable=SC2086 # tids: a list
	wait_until 20 all_fully_gone "${TREE[@]}" "$ZPID" $tids ||
		fail "not gone after the dump: $(still_there "${TREE[@]}" "$ZPID" $tids)"
	bytes=$(dir_bytes "$TD/img")
	log "image: $bytes bytes for $before kB"
	((bytes * 10 <= before * 1024 * 12)) ||
		fail "the image has $bytes bytes, more than 1.2 x the tree's $before kB: shared pages stored more than once?"

	md restore restore -D "$TD/img" -d || fail "memdump restore -d failed: $(md_why restore)"
	for p in "${TREE[@]}"; do
		alive "$p" || fail "pid $p did not come back: $(still_there "$p")"
	done
	[[ $(proc_state "$ZPID") == Z ]] || fail "Z ($ZPID) is not a zombie: $(still_there "$ZPID")"
	[[ $(proc_ppid "$ZPID") == "$PID" ]] || fail "Z ($ZPID) has parent $(proc_ppid "$ZPID"), not P ($PID)"
	tids_after=$(tids_of "${TREE[@]}")
	[[ $tids_after == "$tids" ]] || fail "threads after the restore: $tids_after, before: $tids"
	after=$(pss_total ${swap:+-s} "${TREE[@]}") || fail "cannot read smaps_rollup after the restore"
	log "Pss${swap:+ + SwapPss} after the restore: $after kB ($(pss_each ${swap:+-s} "${TREE[@]}"))"
	((after * 10 >= before * 9 && after * 10 <= before * 11)) ||
		fail "Pss${swap:+ + SwapPss} is $after kB after the restore, $before kB before: more than 10% apart"

	kill -USR1 "$PID" || fail "cannot signal P ($PID)"
	wait_until 60 status_final "$STATUS" ||
		fail "no check result within 60 s (alive: $(still_there "${TREE[@]}"))"
	head -n1 "$STATUS" | grep -qx OK || fail "tree check: $(head -n5 "$STATUS" | tr '\n' ' ')"
	# shellcheck disable=SC2086
	wait_until 20 all_fully_gone "${TREE[@]}" "$ZPID" $tids ||
		fail "left after the check: $(still_there "${TREE[@]}" "$ZPID" $tids)"
}

test_tree() {
	tree_dump_restore
}

# the same with half of the heap and of the shared memory in swap (a zram swap is set up
# for the test when no swap is active)
test_tree_swap() {
	if [[ $(wc -l </proc/swaps) -gt 1 ]]; then
		log "swap is active: $(awk 'NR > 1 { print $1 }' /proc/swaps | tr '\n' ' ')"
	else
		zram_swap_on
	fi
	tree_dump_restore -s
}

# a shell loop of external commands: bash -> sh -> sleep. LOG gets i before the child
# runs, DONE gets i from the child once its sleep is over. The test holds one child in a
# long sleep (it sees the file "hold") and dumps then: that child must die with the dump,
# come back with the restore and finish once; both files go on with no gap and no repeat.
SHELL_LOOP='i=0
while :; do
	echo $i >>"$1"
	/bin/sh -c "$4" $i "$2" "$3"
	i=$((i + 1))
done'
SHELL_CHILD='if [ -e "$2/hold" ]; then echo $$ >"$2/held"; /bin/sleep 5; else /bin/sleep 0.05; fi
echo $0 >>"$1"'

test_shell_loop() {
	local out=$TD/shell.log done=$TD/done.log pid held n1 d1 n2 d2 kids
	need_memdump
	spawn shell bash -c "$SHELL_LOOP" shell-loop "$out" "$done" "$TD" "$SHELL_CHILD"
	pid=$SPAWNED
	wait_until 20 eval '[[ $(wc -l 2>/dev/null <"$out" || echo 0) -ge 10 ]]' ||
		fail "the loop did not start: $(head -n3 "$TD/shell.err")"
	: >"$TD/hold"
	wait_until 10 eval '[[ -s $TD/held ]]' || fail "no child of the loop saw $TD/hold"
	rm -f "$TD/hold"
	held=$(cat "$TD/held")
	[[ $(proc_ppid "$held") == "$pid" ]] || fail "the held child $held is not a child of the shell $pid"
	log "child $held is in a 5 s sleep"

	dump_and_kill "$pid" "$TD/img"
	wait_until 2 fully_gone "$held" || fail "child $held still runs after the dump: the tree was not dumped"
	wait_until 10 no_orphans || fail "children of the loop still run after the dump: $(orphans | tr '\n' ' ')"
	n1=$(wc -l <"$out")
	d1=$(wc -l <"$done")
	log "$n1 lines at the dump, $d1 done"
	((d1 == n1 - 1)) || fail "$n1 iterations started and $d1 done at the dump, expected one in flight"

	restore_detached "$TD/img" "$pid"
	alive "$held" || fail "the child $held in flight at the dump did not come back"
	[[ $(proc_ppid "$held") == "$pid" ]] ||
		fail "the child $held came back with parent $(proc_ppid "$held"), not the shell $pid"
	wait_until 20 eval '[[ $(wc -l <"$out") -ge $((n1 + 20)) ]]' ||
		fail "after the restore the loop stopped at $(wc -l <"$out") lines (dump at $n1; alive: $(alive "$pid" && echo yes || echo no))"
	# stopped, it forks no more children: then kill it and every descendant, by pid
	kill -STOP "$pid"
	kids=$(descendants "$pid" | tr '\n' ' ')
	# shellcheck disable=SC2086
	[[ -z $kids ]] || kill -STOP $kids
	kids=$(descendants "$pid" | tr '\n' ' ')
	# shellcheck disable=SC2086
	kill -KILL "$pid" $kids
	# shellcheck disable=SC2086
	wait_until 10 all_fully_gone "$pid" $kids || fail "cannot kill the loop: $(still_there "$pid" $kids)"
	n2=$(wc -l <"$out")
	d2=$(wc -l <"$done")
	log "$n2 lines at the end, $d2 done"
	consecutive "$out" || fail "loop lines are not consecutive: $(consecutive "$out")"
	consecutive "$done" || fail "children's lines are not consecutive: $(consecutive "$done")"
	((d2 == n2 || d2 == n2 - 1)) || fail "$n2 iterations started but $d2 children finished"
}

# --- SysV shared memory (dumpee_sysv) ---------------------------------------------------

# the keyed segment outlives the processes: remove it however the test ends
sysv_cleanup() {
	[[ -n ${SYSV_KEY:-} ]] && ipcrm -M "$SYSV_KEY" 2>/dev/null
	[[ -n ${SYSV_OTHER:-} ]] && ipcrm -m "$SYSV_OTHER" 2>/dev/null
	return 0
}

# shm_exists ID: a SysV segment with this id exists
shm_exists() {
	awk -v id="$1" 'NR > 1 && $2 == id { found = 1 } END { exit !found }' /proc/sysvipc/shm
}

# shm_ids: the ids of every SysV segment on the machine, sorted
shm_ids() {
	awk 'NR > 1 { print $2 }' /proc/sysvipc/shm | sort -n | tr '\n' ' '
}

test_sysv_selftest() {
	selftest_ok "$E2E/dumpee_sysv"
}

test_sysv_detects_corruption() {
	local what
	for what in content private partial rmid nattch split; do
		corruption_noticed "$E2E/dumpee_sysv" "$what"
	done
}

# start_sysv: dumpee_sysv in wait mode; sets PID, CPID, SYSV_A, SYSV_B, SYSV_KEY, STATUS
start_sysv() {
	STATUS=$TD/status
	trap sysv_cleanup EXIT
	spawn sysv "$E2E/dumpee_sysv" "$STATUS"
	PID=$SPAWNED
	wait_until 20 status_ready "$STATUS" ||
		fail "dumpee_sysv did not get ready: $(cat "$STATUS" "$TD/sysv.err" 2>/dev/null)"
	read -r _ _ CPID SYSV_A SYSV_B SYSV_KEY <"$STATUS"
	track "$CPID"
	log "P $PID, C $CPID, segments A $SYSV_A (key $SYSV_KEY), B $SYSV_B (removed)"
}

# sysv_dump_restore [elsewhere]: dump P and C, restore, check from inside both. The keyed
# segment outlives the dump and is taken back, with the image's bytes over what somebody
# wrote into it meanwhile; "elsewhere" removes it first, as on another machine, and the
# restore makes it again under the same id.
sysv_dump_restore() {
	local ids
	need_memdump
	start_sysv
	md dump dump -t "$PID" -D "$TD/img" || fail "memdump dump failed: $(md_why dump)"
	reap_child "$PID" || fail "P ($PID) is not free after the dump"
	wait_until 10 fully_gone "$CPID" || fail "C ($CPID) is not free after the dump"
	wait_until 10 eval '! shm_exists "$SYSV_B"' || fail "the removed segment $SYSV_B outlived its processes"
	shm_exists "$SYSV_A" || fail "the segment $SYSV_A did not outlive its processes"
	if [[ ${1:-} == elsewhere ]]; then
		ipcrm -m "$SYSV_A" || fail "cannot remove segment $SYSV_A"
	else
		"$E2E/dumpee_sysv" -m scribble "$SYSV_A" || fail "cannot write into segment $SYSV_A"
	fi
	ids=$(shm_ids)
	md restore restore -D "$TD/img" -d || fail "memdump restore -d failed: $(md_why restore)"
	alive "$PID" && alive "$CPID" || fail "P or C did not come back"
	kill -USR1 "$PID" || fail "cannot signal P ($PID)"
	wait_until 30 status_final "$STATUS" || fail "no check result within 30 s"
	head -n1 "$STATUS" | grep -qx OK || fail "sysv check: $(head -n3 "$STATUS" | tr '\n' ' ')"
	wait_until 10 eval 'all_fully_gone "$PID" "$CPID"' || fail "P or C is left after the check"
	# P removed A at the end; B was removed before the dump: neither may be left
	wait_until 10 eval '! shm_exists "$SYSV_A" && ! shm_exists "$SYSV_B"' ||
		fail "segments left after the check: $(shm_ids) (A $SYSV_A, B $SYSV_B)"
}

test_sysv() {
	sysv_dump_restore
}

test_sysv_elsewhere() {
	sysv_dump_restore elsewhere
}

# a segment in the way (the key is another segment's) is refused before any process exists,
# and the restore leaves no segment behind
test_sysv_conflict() {
	local ids
	need_memdump
	start_sysv
	dump_and_kill "$PID" "$TD/img"
	wait_until 10 fully_gone "$CPID" || fail "C ($CPID) is not free after the dump"
	ipcrm -m "$SYSV_A" || fail "cannot remove segment $SYSV_A"
	SYSV_OTHER=$("$E2E/dumpee_sysv" -m take "$SYSV_KEY") ||
		fail "cannot make a segment with key $SYSV_KEY"
	ids=$(shm_ids)
	md restore restore -D "$TD/img" -d && fail "restore succeeded with key $SYSV_KEY taken"
	grep -q "another segment has its key" "$TD/restore.err" || fail "unclear refusal: $(md_why restore)"
	fully_gone "$PID" && fully_gone "$CPID" || fail "the failed restore left a process"
	[[ $(shm_ids) == "$ids" ]] || fail "segments before the restore: $ids; after: $(shm_ids)"
}

# --- incremental dumps (dumpee_incr) --------------------------------------------------------

test_incr_selftest() {
	selftest_ok "$E2E/dumpee_incr"
}

test_incr_detects_corruption() {
	local what rc
	for what in page stamp mapping child tracked; do
		rm -f "$TD/status"
		"$E2E/dumpee_incr" -m selftest -c "$what" "$TD/status" </dev/null 2>/dev/null
		rc=$?
		[[ $rc -eq 1 ]] || fail "corrupting '$what': exit $rc, expected 1: $(head -n1 "$TD/status")"
		log "$what: $(head -n1 "$TD/status")"
	done
}

# next_round N: SIGUSR2 to the dumpee, wait until it says round N is done
next_round() {
	ROUND=$1
	kill -USR2 "$PID" || fail "cannot signal $PID"
	wait_until 20 eval '[[ $(cat "$STATUS.round" 2>/dev/null) == "$ROUND" ]]' || fail "round $ROUND did not finish"
}

# helpers: the memory trackers (memdump-track) still running
helpers() {
	pgrep -x memdump-track | tr '\n' ' '
}

# pages_bytes DIR: the size of the root's pages file
pages_bytes() {
	stat -c %s "$1/pages-$PID.img"
}

# incremental_chain METHOD: pre-dump, the tree rewrites pages, maps and unmaps, forks;
# pre-dump again on top; then the final dump on top of that; restore follows the chain and
# every byte must be right. METHOD is the dirty tracking this kernel must use (memdump check).
incremental_chain() {
	local method=$1 s1 s2 s3 before
	need_memdump
	grep -q "^dirty_tracking: $method\$" <("$MEMDUMP" check) ||
		skip "this kernel does not track dirty pages with $method ($("$MEMDUMP" check | grep dirty_tracking))"
	before=$(helpers)
	start_dumpee incr

	md pre1 pre-dump -t "$PID" -D "$TD/img1" || fail "pre-dump failed: $(md_why pre1)"
	alive "$PID" || fail "the pre-dump did not leave $PID running"
	local want=TRACK_${method//-/_}
	grep -q "\"method\": \"${want^^}\"" <("$MEMDUMP" show "$TD/img1/track.img") ||
		fail "track.img does not say $method: $("$MEMDUMP" show "$TD/img1/track.img")"
	if [[ $method == uffd-wp ]]; then
		[[ $(helpers) != "$before" ]] || fail "no memory tracker runs after the pre-dump"
	fi
	md refused restore -D "$TD/img1" -d && fail "a pre-dump image was restored"
	grep -q "is a pre-dump" "$TD/refused.err" || fail "unclear refusal of a pre-dump: $(md_why refused)"

	next_round 2
	md pre2 pre-dump -t "$PID" -D "$TD/img2" --prev-images-dir ../img1 || fail "second pre-dump failed: $(md_why pre2)"
	[[ -L $TD/img2/parent && $(readlink "$TD/img2/parent") == ../img1 ]] || fail "img2 has no parent link"
	next_round 3
	md dump dump -t "$PID" -D "$TD/img3" --track-mem --prev-images-dir ../img2 ||
		fail "final dump failed: $(md_why dump)"
	reap_child "$PID" || fail "$PID is not free after the dump"
	wait_until 10 eval '[[ "$(helpers)" == "$before" ]]' || fail "memory trackers left: $(helpers) (before: $before)"

	s1=$(pages_bytes "$TD/img1")
	s2=$(pages_bytes "$TD/img2")
	s3=$(pages_bytes "$TD/img3")
	log "root's pages: pre-dump $s1 bytes, second pre-dump $s2, final dump $s3"
	((s2 * 10 < s1 && s3 * 10 < s1)) || fail "incremental rounds copied too much: $s1 / $s2 / $s3 bytes"

	md restore restore -D "$TD/img3" -d || fail "restore of the chain failed: $(md_why restore)"
	track "$PID"
	kill -USR1 "$PID" || fail "cannot signal the restored $PID"
	wait_until 30 status_final "$STATUS" || fail "no check result"
	head -n1 "$STATUS" | grep -qx OK || fail "incremental check: $(head -n1 "$STATUS")"
}

# the chain with userfaultfd write-protection (this machine's kernel)
test_incremental() {
	incremental_chain uffd-wp
}

# the same chain with soft-dirty bits, where the kernel has them (CONFIG_MEM_SOFT_DIRTY)
test_incremental_soft_dirty() {
	incremental_chain soft-dirty
}

# a parent image that lost a page file is refused before anything is created
test_incremental_broken_chain() {
	need_memdump
	grep -q '^uffd_wp_async: yes' <("$MEMDUMP" check) || skip "no userfaultfd write-protect (async) here"
	start_dumpee incr
	md pre1 pre-dump -t "$PID" -D "$TD/img1" || fail "pre-dump failed: $(md_why pre1)"
	next_round 2
	dump_and_kill "$PID" "$TD/img2" --prev-images-dir ../img1
	rm "$TD/img1/pages-$PID.img"
	md restore restore -D "$TD/img2" -d && fail "restored with a parent missing its pages"
	grep -q "^memdump: error: " "$TD/restore.err" || fail "no clear error: $(md_why restore)"
	fully_gone "$PID" || fail "a process was left by the failed restore"
}

# --- live migration through the page server, between two network namespaces ----------

# netns_up: namespaces $NS_SRC (10.231.0.1) and $NS_DST (10.231.0.2) joined by a veth pair;
# an EXIT trap kills whatever runs in them and removes them, however the test ends
netns_up() {
	command -v ip >/dev/null || skip "no 'ip' command (iproute2)"
	NS_SRC=md-src-$$
	NS_DST=md-dst-$$
	trap netns_down EXIT
	ip netns add "$NS_SRC" 2>"$TD/netns.err" || skip "cannot make network namespaces: $(cat "$TD/netns.err")"
	ip netns add "$NS_DST" || fail "cannot make network namespace $NS_DST"
	ip link add mdv0 netns "$NS_SRC" type veth peer name mdv1 netns "$NS_DST" 2>"$TD/netns.err" ||
		skip "cannot make a veth pair: $(cat "$TD/netns.err")"
	ip -n "$NS_SRC" addr add 10.231.0.1/24 dev mdv0 &&
		ip -n "$NS_DST" addr add 10.231.0.2/24 dev mdv1 &&
		ip -n "$NS_SRC" link set mdv0 up && ip -n "$NS_DST" link set mdv1 up &&
		ip -n "$NS_SRC" link set lo up && ip -n "$NS_DST" link set lo up ||
		fail "cannot set up the veth pair"
}

netns_down() {
	local ns
	[[ -n ${SMALL_FS:-} ]] && umount "$SMALL_FS" 2>/dev/null
	for ns in ${NS_SRC:-} ${NS_DST:-}; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	return 0
}

# in_dst: run memdump in the destination namespace
in_dst() {
	ip netns exec "$NS_DST" "$MEMDUMP" "$@"
}

# md_src NAME ARGS...: md, with memdump run in the source network namespace (where the veth is);
# only that one: a dump refuses a tree in another mount namespace, which `ip netns exec` makes
md_src() {
	printf '#!/bin/sh\nexec nsenter --net=/run/netns/%s %s "$@"\n' "$NS_SRC" "$MEMDUMP" >"$TD/memdump-src"
	chmod +x "$TD/memdump-src"
	MEMDUMP=$TD/memdump-src md "$@"
}

# scripts/migrate.sh moves a tree that keeps writing (a round every 100 ms, a child forked
# in round 2) from one namespace to the other: pre-dumps while it runs, the final dump, the
# restore there; pages go only over the veth pair, and every byte must be right
test_migrate_page_server() {
	local last rounds first later
	need_memdump
	grep -q '^dirty_tracking: none' <("$MEMDUMP" check) && skip "no dirty tracking on this kernel"
	netns_up
	start_dumpee incr -a 12
	wait_until 10 eval '[[ $(cat "$STATUS.round" 2>/dev/null) -ge 2 ]]' || fail "the tree did not fork"

	log "scripts/migrate.sh -t $PID ..."
	"$HERE/../../scripts/migrate.sh" -t "$PID" --address 10.231.0.2 --port 7777 --src "$TD/src" \
		--dst "$TD/dst" --src-exec "nsenter --net=/run/netns/$NS_SRC" --dst-exec "ip netns exec $NS_DST" \
		--memdump "$MEMDUMP" >"$TD/migrate.out" 2>"$TD/migrate.err"
	local rc=$?
	sed 's/^/    out| /' "$TD/migrate.out"
	sed 's/^/    err| /' "$TD/migrate.err" | head -n 20
	((rc == 0)) || fail "migrate.sh failed: $(tail -n1 "$TD/migrate.err")"
	track "$PID"
	grep -q '^downtime: [0-9.]* s' "$TD/migrate.out" || fail "migrate.sh printed no downtime"
	last=$(sed -n 's|^restored from .*/\([0-9]*\)$|\1|p' "$TD/migrate.out")
	rounds=$(grep -c '^[0-9]' "$TD/migrate.out")
	((rounds >= 2 && rounds == last)) || fail "expected pre-dump rounds and a final dump, got $rounds rows (last $last)"
	# tracking works through the page server: every later round sends far less than the first
	first=$(awk '$1 == 1 { print $3 }' "$TD/migrate.out")
	later=$(awk '$1 > 1 && $3 > m { m = $3 } END { print m + 0 }' "$TD/migrate.out")
	((later * 4 < first)) || fail "later rounds sent up to $later pages, the first $first"
	[[ $(ip netns identify "$PID") == "$NS_DST" ]] || fail "$PID does not run in $NS_DST"
	# the pages went over the wire only; the destination has every image of the chain
	compgen -G "$TD/src/*/pages-*.img" >/dev/null && fail "pages were written on the source side"
	for ((r = 1; r <= last; r++)); do
		[[ -f $TD/dst/$r/inventory.img && -f $TD/dst/$r/pages-$PID.img ]] || fail "round $r is missing at the destination"
		((r == 1)) || [[ $(readlink "$TD/dst/$r/parent") == ../$((r - 1)) ]] || fail "round $r has no parent link"
	done
	# the restored tree goes on with its rounds, then checks every byte
	wait_until 20 eval '[[ $(cat "$STATUS.round" 2>/dev/null) == 12 ]]' || fail "the restored tree stopped at round $(cat "$STATUS.round")"
	kill -USR1 "$PID" || fail "cannot signal the restored $PID"
	wait_until 30 status_final "$STATUS" || fail "no check result"
	head -n1 "$STATUS" | grep -qx OK || fail "after migration: $(head -n1 "$STATUS")"
}

# a page server that is not there, or a dump that fails after connecting: the tree runs on
# untouched and the page server keeps nothing
test_page_server_failures() {
	need_memdump
	netns_up
	start_dumpee incr

	md_src nobody dump -t "$PID" -D "$TD/src1" --page-server --address 10.231.0.2 --port 7777 &&
		fail "dumped to a page server that does not exist"
	grep -q "cannot connect to the page server 10.231.0.2:7777" "$TD/nobody.err" || fail "unclear error: $(md_why nobody)"
	alive "$PID" || fail "$PID did not survive"
	[[ -z $(ls -A "$TD/src1") ]] || fail "the failed dump left files: $(ls "$TD/src1")"

	# the page server's disk fills up while the tree is frozen: the dump fails, the tree is
	# thawed (not killed), and the server keeps nothing
	SMALL_FS=$TD/small
	mkdir -p "$SMALL_FS" && mount -t tmpfs -o size=1m tmpfs "$SMALL_FS" || fail "cannot mount a small tmpfs"
	in_dst page-server -D "$SMALL_FS/img" --address 10.231.0.2 --port 7777 -d -o "$TD/ps4.log" >/dev/null ||
		fail "no page server"
	md_src full dump -t "$PID" -D "$TD/src4" --page-server --address 10.231.0.2 --port 7777 &&
		fail "dumped into a full page server"
	grep -q "No space left on device" "$TD/full.err" || fail "unclear error: $(md_why full)"
	wait_until 10 grep -q removed "$TD/ps4.log" ||
		fail "the page server did not clean up: $(cat "$TD/ps4.log")"
	[[ -z $(ls -A "$SMALL_FS/img") ]] || fail "the page server kept files of a failed dump: $(ls "$SMALL_FS/img")"
	alive "$PID" || fail "the tree did not survive a failed dump"
	[[ $(proc_state "$PID") != T* ]] || fail "the tree was left stopped"
	kill -USR1 "$PID"
	wait_until 30 status_final "$STATUS" || fail "no check result"
	head -n1 "$STATUS" | grep -qx OK || fail "after the failed dump: $(head -n1 "$STATUS")"

	# the server refuses a second image into a directory that holds one
	STATUS=$TD/status2
	spawn incr2 "$E2E/dumpee_incr" "$STATUS"
	PID=$SPAWNED
	wait_until 20 status_ready "$STATUS" || fail "the second dumpee_incr did not get ready"
	in_dst page-server -D "$TD/dst1" --address 10.231.0.2 --port 7777 -d 2>"$TD/ps1.err" >/dev/null || fail "no page server"
	md_src ok pre-dump -t "$PID" -D "$TD/src2" --page-server --address 10.231.0.2 --port 7777 ||
		fail "pre-dump through the page server failed: $(md_why ok)"
	in_dst page-server -D "$TD/dst1" --address 10.231.0.2 --port 7777 -d 2>"$TD/ps2.err" >/dev/null &&
		fail "a page server took a directory that holds an image"
	grep -q "is not empty" "$TD/ps2.err" || fail "unclear page server error: $(cat "$TD/ps2.err")"

	# the target has a socket, which the dump refuses after it connected: the server drops all
	in_dst page-server -D "$TD/dst3" --address 10.231.0.2 --port 7777 2>"$TD/ps3.err" &
	local ps=$!
	wait_until 10 eval 'grep -q listening "$TD/ps3.err"' || fail "the page server did not start"
	start_full -u
	md_src refused dump -t "$PID" -D "$TD/src3" --page-server --address 10.231.0.2 --port 7777 &&
		fail "a socket was dumped"
	wait "$ps" && fail "the page server kept an image of a failed dump"
	grep -q "the dump failed" "$TD/ps3.err" || fail "the page server did not say why: $(tail -n1 "$TD/ps3.err")"
	[[ -z $(ls -A "$TD/dst3") ]] || fail "the page server kept files of a failed dump: $(ls "$TD/dst3")"
	trigger_check "$PID"
}

ALL_TESTS=(
	dumpee_selftest
	dumpee_detects_corruption
	dump_restore_full
	fill_by_uffd_copy
	pipe_in_process
	registers
	dump_restore_twice
	stopped
	stopped_job
	stopped_continued_during_dump
	restart_calls_selftest
	restart_calls
	restart_calls_after_pre_dump
	eintr_during_dump
	failed_dump_cleans_up
	restore_waits_for_exit
	leave_running
	leave_running_twice
	unsupported_fd_refused
	exited_main_thread_refused
	traced_refused
	dump_errors
	restore_pid_taken
	c_counter
	python_counter
	python_multiprocessing
	perl_counter
	node_counter
	java_counter
	go_counter
	show_and_check
	corrupt_image
	tree_selftest
	tree_detects_corruption
	tree
	tree_swap
	shell_loop
	sysv_selftest
	sysv_detects_corruption
	sysv
	sysv_elsewhere
	sysv_conflict
	incr_selftest
	incr_detects_corruption
	incremental
	incremental_soft_dirty
	incremental_broken_chain
	migrate_page_server
	page_server_failures
	lazy_selftest
	lazy_pages
	lazy_corrupt_chunk
	sock_selftest
	sock_detects_corruption
	sockets
	sock_tcp_established_refused
	sock_tcp_established
	sock_peer_outside_refused
	sock_pending
	sock_pending_data_refused
	sock_pending_outside_refused
	sock_pending_closed_refused
	sock_pending_creds
	sock_inflight_refused
	sock_path_taken
	sockopt_selftest
	sockopt_detects_corruption
	sockopts
	sockopts_tcp_established
	sockopt_ebpf_refused
	sockopt_device_missing
	sockopt_multicast
)

# --- lazy restore --------------------------------------------------------------------------

test_lazy_selftest() {
	"$E2E/dumpee_lazy" -m selftest "$TD/status" </dev/null || fail "selftest: $(cat "$TD/status")"
	grep -q '^OK' "$TD/status" || fail "selftest status: $(head -n1 "$TD/status")"
}

# start_lazy: dumpee_lazy, ready; sets PID
start_lazy() {
	spawn lazy "$E2E/dumpee_lazy" "$TD/status"
	PID=$SPAWNED
	wait_until 30 status_ready "$TD/status" || fail "dumpee_lazy did not get ready: $(cat "$TD/lazy.err")"
}

# restore --lazy-pages: the process forks, moves, drops and unmaps memory not filled yet,
# and reads every byte right
test_lazy_pages() {
	local missing
	need_memdump
	start_lazy
	dump_and_kill "$PID" "$TD/img"
	track "$PID"
	md restore restore -D "$TD/img" -d --lazy-pages || fail "restore --lazy-pages failed: $(md_why restore)"
	kill -USR1 "$PID" || fail "the restored process is not running"
	wait_until 60 status_final "$TD/status" || fail "no verdict from the restored process"
	grep -q '^OK' "$TD/status" || fail "after a lazy restore: $(head -n1 "$TD/status")"
	wait_until 10 gone "$PID" || fail "the process did not exit after its check"
	missing=$(awk '{print $2}' "$TD/status")
	log "$missing of the top 16384 pages were still missing when the process looked"
	wait_until 30 eval '! pgrep -f "memdump restore -D $TD/img" >/dev/null' ||
		fail "the lazy server still runs 30 s after its tree exited"
}

# a corrupt chunk of lazily served memory kills the tree instead of letting it run on zeroes
test_lazy_corrupt_chunk() {
	local size
	need_memdump
	start_lazy
	dump_and_kill "$PID" "$TD/img"
	track "$PID"
	size=$(stat -c %s "$TD/img/pages-$PID.img")
	# in the region's data, half way: a lazily served chunk
	flip_byte "$TD/img/pages-$PID.img" $((4096 + (size - 4096) / 2))
	md restore restore -D "$TD/img" -d --lazy-pages || fail "restore --lazy-pages failed: $(md_why restore)"
	kill -USR1 "$PID"
	wait_until 30 eval '[[ ! -e /proc/$PID ]]' || fail "the process runs on, on a corrupt chunk"
	status_final "$TD/status" && grep -q '^OK' "$TD/status" && fail "the process checked OK on a corrupt chunk"
	wait_until 10 eval 'grep -q "lazy restore: cannot fill" "$TD/restore.err"' ||
		fail "no error from the lazy server: $(cat "$TD/restore.err")"
	grep -q "checksum mismatch in chunk" "$TD/restore.err" || fail "the error does not say why: $(cat "$TD/restore.err")"
}

# --- sockets (dumpee_sock) -------------------------------------------------------------------

test_sock_selftest() {
	selftest_ok "$E2E/dumpee_sock" "$TD"
}

test_sock_detects_corruption() {
	local what
	for what in stream dgram seqpkt closed listen tcp udp passcred nonblock epoll; do
		corruption_noticed "$E2E/dumpee_sock" "$what" "$TD"
	done
}

# start_sock [MODE]: dumpee_sock (P and C) in MODE (wait); sets PID, CPID, TCPPORT, STATUS
start_sock() {
	STATUS=$TD/status
	rm -f "$STATUS"
	spawn sock "$E2E/dumpee_sock" -m "${1:-wait}" "$STATUS" "$TD"
	PID=$SPAWNED
	wait_until 20 status_ready "$STATUS" ||
		fail "dumpee_sock did not get ready: $(cat "$STATUS" "$TD/sock.err" 2>/dev/null)"
	read -r _ _ CPID TCPPORT <"$STATUS"
	track "$CPID"
	log "P $PID, C $CPID, TCP port $TCPPORT"
}

# every kind of socket the tree may hold, dumped (killing it) and restored: the queues,
# names, addresses and options, checked from inside P and C. The listening socket's file
# outlives P: the restore must take its place.
test_sockets() {
	need_memdump
	start_sock
	dump_and_kill "$PID" "$TD/img"
	wait_until 10 fully_gone "$CPID" || fail "C ($CPID) is not free after the dump"
	[[ -S $TD/listen.sock ]] || fail "the listening socket's file is gone after the dump"
	"$MEMDUMP" show "$TD/img" >"$TD/show.json" || fail "memdump show failed"
	grep -q '"kind": "FD_UNIX_SOCKET"' "$TD/show.json" || fail "memdump show prints no unix socket"
	grep -q '"packets": ' "$TD/show.json" || fail "memdump show prints no queued data"
	restore_detached "$TD/img" "$PID"
	alive "$CPID" || fail "C ($CPID) did not come back"
	trigger_check "$PID"
	wait_until 10 fully_gone "$CPID" || fail "C ($CPID) is left after the check"
}

# refusals leave both processes running with every byte still queued: the check passes
sock_refused() {
	local target=$1 want=$2
	md dump dump -t "$target" -D "$TD/img" && fail "the dump succeeded"
	local rc=$?
	[[ $rc -ne 124 ]] || fail "dump timed out"
	grep -q '^memdump: error: ' "$TD/dump.err" || fail "no 'memdump: error:' line"
	grep -qF "$want" "$TD/dump.err" || fail "the error does not say '$want': $(md_why dump)"
	[[ -z $(find "$TD/img" -name '*.img' 2>/dev/null) ]] || fail "the failed dump left image files"
	alive "$PID" && alive "$CPID" || fail "P or C died after a failed dump"
	trigger_check "$PID"
}

test_sock_tcp_established_refused() {
	need_memdump
	start_sock tcpconn
	sock_refused "$PID" "127.0.0.1:$TCPPORT: dump it with --tcp-established"
}

# both ends of a TCP connection in the tree, one accepted from the tree's listener (same
# port): kept with their queues (bytes waiting both ways, some never sent)
test_sock_tcp_established() {
	need_memdump
	need_tcp_repair
	start_sock tcpconn
	dump_and_kill "$PID" "$TD/img" --tcp-established
	wait_until 10 fully_gone "$CPID" || fail "C ($CPID) is not free after the dump"
	restore_detached "$TD/img" "$PID" --tcp-established
	alive "$CPID" || fail "C ($CPID) did not come back"
	trigger_check "$PID"
	wait_until 10 fully_gone "$CPID" || fail "C ($CPID) is left after the check"
}

# connections waiting in backlogs, not accepted yet: P's two in the path listener's (one
# bound, one shut down), C's in the abstract one's. They come back waiting, in order, each
# connected to its own socket.
test_sock_pending() {
	need_memdump
	start_sock pending
	dump_and_kill "$PID" "$TD/img"
	wait_until 10 fully_gone "$CPID" || fail "C ($CPID) is not free after the dump"
	"$MEMDUMP" show "$TD/img" >"$TD/show.json" || fail "memdump show failed"
	[[ $(grep -c '"pending_on": ' "$TD/show.json") -ge 3 ]] || fail "memdump show prints no connection waiting"
	restore_detached "$TD/img" "$PID"
	alive "$CPID" || fail "C ($CPID) did not come back"
	trigger_check "$PID"
	wait_until 10 fully_gone "$CPID" || fail "C ($CPID) is left after the check"
}

# one of them sent a byte: it waits inside the kernel, which nothing reads before accept()
test_sock_pending_data_refused() {
	need_memdump
	start_sock pendingdata
	sock_refused "$PID" "has sent data on a connection its listener has not accepted yet"
}

# the check then receives the fd still in flight
test_sock_inflight_refused() {
	need_memdump
	start_sock inflight
	sock_refused "$PID" "file descriptors in flight (SCM_RIGHTS)"
}

# C alone: its unix sockets are connected to P's, outside the dumped tree
test_sock_peer_outside_refused() {
	need_memdump
	start_sock
	sock_refused "$CPID" "outside the dumped tree"
}

# unix_backlog.py's listener, told to go on, accepts and must finish with OK
backlog_go() {
	touch "$TD/status.go"
	wait_until 20 status_final "$TD/status" || fail "the listener did not finish: $(cat "$TD/status")"
	grep -q '^OK' "$TD/status" || fail "the listener: $(cat "$TD/status")"
}

# a unix listener and a connection waiting in its backlog from another tree
# (unix_backlog.py): dumping either is refused, naming the other tree (the listener is
# dumped with --skip-in-flight, with a warning), and both go on as before: the listener
# accepts it, and it carries bytes both ways
test_sock_pending_outside_refused() {
	need_memdump
	command -v python3 >/dev/null || skip "python3 is not installed"
	local name=memdump-e2e-backlog-$$ lpid
	spawn listener python3 "$HERE/unix_backlog.py" listener "$name" "$TD/status"
	lpid=$SPAWNED
	wait_until 20 grep -q '^LISTENING' "$TD/status" || fail "the listener did not listen: $(cat "$TD/listener.err")"
	spawn client python3 "$HERE/unix_backlog.py" client "$name" "$TD/client"
	PID=$SPAWNED
	wait_until 20 grep -q CONNECTED "$TD/client" || fail "the client did not connect: $(cat "$TD/client.err")"
	wait_until 20 status_ready "$TD/status" || fail "the listener did not get ready: $(cat "$TD/listener.err")"
	dump_refused "whose connect() waits in the backlog of socket:["
	grep -qF "outside the dumped tree" "$TD/dump.err" || fail "refused for another reason: $(md_why dump)"
	PID=$lpid
	dump_refused "with a connection not accepted yet from a socket outside the dumped tree"
	[[ -z $(find "$TD/img" -name '*.img' 2>/dev/null) ]] || fail "a refused dump left image files"
	# left out with --skip-in-flight (-R: it stays queued in the running listener)
	md dump dump -t "$PID" -D "$TD/img" -R --skip-in-flight ||
		fail "memdump dump -R --skip-in-flight failed: $(md_why dump)"
	grep -q "warning: 1 connection(s) waiting for accept() on the tree's unix listeners.* are left out" \
		"$TD/dump.err" || fail "the dump did not warn of the connection left out: $(cat "$TD/dump.err")"
	backlog_go
	wait_until 20 grep -q "^OK b'ok'" "$TD/client" || fail "the client: $(cat "$TD/client" "$TD/client.err")"
}

# a connection waiting in a listener's backlog from an unprivileged child of the tree: the
# restored one names the child's uid and gid (SO_PEERCRED), not memdump's root, and takes the
# listener's SO_PASSCRED
test_sock_pending_creds() {
	need_memdump
	command -v python3 >/dev/null || skip "python3 is not installed"
	spawn tree python3 "$HERE/unix_backlog.py" tree "memdump-e2e-backlog-$$" "$TD/status"
	PID=$SPAWNED
	wait_until 20 status_ready "$TD/status" || fail "the tree did not get ready: $(cat "$TD/tree.err")"
	dump_and_kill "$PID" "$TD/img"
	restore_detached "$TD/img" "$PID"
	backlog_go
}

# a connection waiting in a backlog whose connecting socket has closed since: refused
test_sock_pending_closed_refused() {
	need_memdump
	command -v python3 >/dev/null || skip "python3 is not installed"
	spawn listener python3 "$HERE/unix_backlog.py" listener "memdump-e2e-backlog-$$" "$TD/status" closed
	PID=$SPAWNED
	wait_until 20 status_ready "$TD/status" || fail "the listener did not get ready: $(cat "$TD/listener.err")"
	dump_refused "with a connection not accepted yet whose connecting socket has closed"
	backlog_go
}

# a live socket bound on the listening socket's path: the restore is refused before any
# process exists, and the socket in the way stays
test_sock_path_taken() {
	need_memdump
	command -v python3 >/dev/null || skip "no python3 to bind a socket"
	start_sock
	dump_and_kill "$PID" "$TD/img"
	wait_until 10 fully_gone "$CPID" || fail "C ($CPID) is not free after the dump"
	rm -f "$TD/listen.sock"
	spawn squat python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(1)
print("bound", flush=True)
time.sleep(60)' "$TD/listen.sock"
	local squat=$SPAWNED
	wait_until 10 grep -q bound "$TD/squat.out" || fail "python3 did not bind '$TD/listen.sock'"
	md restore restore -D "$TD/img" -d && fail "restore succeeded with its socket's path taken"
	grep -q "a live socket is bound there" "$TD/restore.err" || fail "unclear refusal: $(md_why restore)"
	fully_gone "$PID" && fully_gone "$CPID" || fail "the failed restore left a process"
	[[ -S $TD/listen.sock ]] || fail "the restore removed the live socket's file"
	kill "$squat"
}

# --- established TCP connections to a peer outside the tree (tcp_tree.py, tcp_peer.py) ------

# --- socket options (dumpee_sockopt) ----------------------------------------------------------

test_sockopt_selftest() {
	selftest_ok "$E2E/dumpee_sockopt"
	selftest_ok "$E2E/dumpee_sockopt" -t
}

test_sockopt_detects_corruption() {
	local what
	for what in tos cong timeo buflock filter; do
		corruption_noticed "$E2E/dumpee_sockopt" "$what" -t
	done
}

# start_sockopt [ARGS]: dumpee_sockopt ARGS, ready; sets PID, STATUS
start_sockopt() {
	STATUS=$TD/status
	rm -f "$STATUS"
	spawn sockopt "$E2E/dumpee_sockopt" "$@" "$STATUS"
	PID=$SPAWNED
	wait_until 20 status_ready "$STATUS" ||
		fail "dumpee_sockopt did not get ready: $(cat "$STATUS" "$TD/sockopt.err" 2>/dev/null)"
	log "dumpee_sockopt: $(head -n1 "$STATUS")"
}

# TCP, UDP and unix sockets with some eighty options set or not (a classic BPF filter too): each
# reads the same after the restore, and those left alone are a new socket's
test_sockopts() {
	need_memdump
	start_sockopt
	dump_and_kill "$PID" "$TD/img"
	md show show "$TD/img" || fail "memdump show failed"
	grep -q '"tcp_congestion": "reno"' "$TD/show.out" || fail "show has no tcp_congestion"
	grep -q '"so_filter": ' "$TD/show.out" || fail "show has no so_filter"
	restore_detached "$TD/img" "$PID"
	trigger_check "$PID"
}

# the same with an established connection: its options, fixed send buffer, timestamping and peek
# offset are set in repair mode
test_sockopts_tcp_established() {
	need_memdump
	need_tcp_repair
	start_sockopt -t
	dump_and_kill "$PID" "$TD/img" --tcp-established
	restore_detached "$TD/img" "$PID" --tcp-established
	trigger_check "$PID"
}

# an eBPF filter cannot be read back: refused, named, and the process runs on as it was
test_sockopt_ebpf_refused() {
	need_memdump
	start_sockopt -e
	dump_refused "eBPF filter"
	grep -q '^memdump: error: ' "$TD/dump.err" || fail "no 'memdump: error:' line"
	trigger_check "$PID"
}

# drop_links DIR: remove the network interfaces a test listed in DIR/links
drop_links() {
	local l
	[[ -f $1/links ]] || return 0
	while read -r l; do
		ip link del "$l" 2>/dev/null
	done <"$1/links"
}

# a socket bound to an interface this host no longer has: the restore fails naming the option,
# leaves no process, and succeeds once the interface is back
test_sockopt_device_missing() {
	need_memdump
	local link=mde2e$$
	echo "$link" >>"$TD/links"
	ip tuntap add mode tun name "$link" 2>"$TD/ip.err" ||
		skip "cannot make a tun interface: $(head -n1 "$TD/ip.err")"
	start_sockopt -i "$link"
	dump_and_kill "$PID" "$TD/img"
	ip link del "$link" || fail "cannot remove $link"
	md restore restore -D "$TD/img" -d && fail "the restore succeeded without $link"
	grep -q "^memdump: error: .*SO_BINDTODEVICE to '$link'" "$TD/restore.err" ||
		fail "the error does not name the option: $(md_why restore)"
	wait_until 10 fully_gone "$PID" || fail "a process of the failed restore is left"
	ip tuntap add mode tun name "$link" || fail "cannot make $link again"
	restore_detached "$TD/img" "$PID"
	trigger_check "$PID"
}

# mcast_ns_up: a network namespace $NS_MC of the test's own with lo and mcast_veth_up's veth
# pair; an EXIT trap kills whatever runs there and removes it. Writes $TD/in-mc PROG ARGS...,
# which runs PROG in it (its network namespace only: the mounts stay memdump's)
mcast_ns_up() {
	command -v ip >/dev/null || skip "no 'ip' command (iproute2)"
	command -v nsenter >/dev/null || skip "no 'nsenter' command (util-linux)"
	NS_MC=md-mc-$$
	trap 'ip netns pids "$NS_MC" 2>/dev/null | xargs -r kill -9 2>/dev/null; ip netns del "$NS_MC" 2>/dev/null' EXIT
	ip netns add "$NS_MC" 2>"$TD/netns.err" || skip "cannot make a network namespace: $(cat "$TD/netns.err")"
	ip -n "$NS_MC" link set lo up || fail "cannot set lo up in $NS_MC"
	mcast_veth_up
	printf '#!/bin/sh\nexec nsenter --net=/run/netns/%s "$@"\n' "$NS_MC" >"$TD/in-mc"
	chmod +x "$TD/in-mc"
}

# mcast_veth_up: veth mdm0 (10.77.0.1/24, fd77::1/64) and its peer mdm1 in $NS_MC, both up
mcast_veth_up() {
	ip -n "$NS_MC" link add mdm0 type veth peer name mdm1 2>"$TD/netns.err" ||
		skip "cannot make a veth pair: $(cat "$TD/netns.err")"
	ip -n "$NS_MC" -6 addr add fd77::1/64 dev mdm0 nodad 2>"$TD/netns.err" ||
		skip "no IPv6 in a new network namespace: $(cat "$TD/netns.err")"
	ip -n "$NS_MC" addr add 10.77.0.1/24 dev mdm0 && ip -n "$NS_MC" link set mdm0 up &&
		ip -n "$NS_MC" link set mdm1 up || fail "cannot set up the veth pair"
}

# UDP sockets joined to IPv4 and IPv6 multicast groups (one IPv4 group on an IPv6 socket), some
# with source filters, on a veth in a namespace of the test's own: each comes back joined, with
# its filter, and gets the datagrams it got before and no other. Without the interface the
# restore fails naming the group, and leaves nothing; with the interface back (another index),
# it succeeds.
test_sockopt_multicast() {
	need_memdump
	local idx
	mcast_ns_up
	printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$TD/in-mc" "$E2E/dumpee_sockopt" >"$TD/dumpee-mc"
	printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$TD/in-mc" "$MEMDUMP" >"$TD/memdump-mc"
	chmod +x "$TD/dumpee-mc" "$TD/memdump-mc"
	selftest_ok "$TD/dumpee-mc" -g mdm0
	corruption_noticed "$TD/dumpee-mc" mcast -g mdm0
	STATUS=$TD/status
	rm -f "$STATUS"
	spawn sockopt "$TD/dumpee-mc" -g mdm0 "$STATUS"
	PID=$SPAWNED
	wait_until 20 status_ready "$STATUS" ||
		fail "dumpee_sockopt did not get ready: $(cat "$STATUS" "$TD/sockopt.err" 2>/dev/null)"
	idx=$(ip -n "$NS_MC" -o link show mdm0 | cut -d: -f1)
	MEMDUMP=$TD/memdump-mc dump_and_kill "$PID" "$TD/img"
	md show show "$TD/img" || fail "memdump show failed"
	grep -q '"group": "232.77.1.2"' "$TD/show.out" || fail "show has no membership of 232.77.1.2"
	grep -q '"group": "ff05::77:1"' "$TD/show.out" || fail "show has no membership of ff05::77:1"

	ip -n "$NS_MC" link del mdm0 || fail "cannot remove mdm0"
	MEMDUMP=$TD/memdump-mc md restore restore -D "$TD/img" -d && fail "the restore succeeded without mdm0"
	grep -q "^memdump: error: .*join multicast group .* on interface 'mdm0'" "$TD/restore.err" ||
		fail "the error does not name the group: $(md_why restore)"
	wait_until 10 fully_gone "$PID" || fail "a process of the failed restore is left"
	mcast_veth_up
	[[ $(ip -n "$NS_MC" -o link show mdm0 | cut -d: -f1) != "$idx" ]] || fail "mdm0 came back with index $idx"
	MEMDUMP=$TD/memdump-mc restore_detached "$TD/img" "$PID"
	trigger_check "$PID"
}

# note_lock DIR: the network lock of image DIR, for drop_nft_tables to remove if the test fails
note_lock() {
	"$MEMDUMP" show "$1/tcp-stream.img" 2>/dev/null | sed -n 's/.*"net_lock": "\([A-Za-z0-9_]*\)".*/\1/p' \
		>>"$TD/nft_tables"
}

# drop_nft_tables DIR: remove the nftables tables (family inet) a test listed in DIR/nft_tables
drop_nft_tables() {
	local t
	[[ -f $1/nft_tables && -x $E2E/nftctl ]] || return 0
	while read -r t; do
		[[ -n $t ]] && "$E2E/nftctl" "delete table inet $t" 2>/dev/null
	done <"$1/nft_tables"
	return 0
}

# dump_refused WANT [ARG...]: a dump of $PID (with ARGs) fails saying WANT; the tree runs on
dump_refused() {
	local want=$1
	shift
	md dump dump -t "$PID" -D "$TD/img" "$@" && fail "the dump succeeded"
	grep -qF -- "$want" "$TD/dump.err" || fail "refused for another reason: $(md_why dump)"
	alive "$PID" || fail "the tree died"
}

need_tcp_repair() {
	"$MEMDUMP" check >"$TD/check.out" 2>&1
	grep -q '^tcp_repair: yes' "$TD/check.out" || skip "no TCP repair here (memdump check: tcp_repair)"
	grep -q '^net_lock: yes' "$TD/check.out" || skip "no nftables table can be made here (memdump check: net_lock)"
}

# start_tcp [ghost] [peekoff] [oob] [fin] [shutwr] [small] [ADDRESS]: the peer on ADDRESS
# (127.0.0.1; oob: it sends urgent data; fin: it shuts down for writing), then the tree
# (tcp_tree.py: ghost, peekoff, shutwr, small) connected to it with full queues; sets PID, PEER
start_tcp() {
	command -v python3 >/dev/null || skip "python3 is not installed"
	need_tcp_repair
	local addr=127.0.0.1 a tree_args=() peer_args=()
	for a in "$@"; do
		case $a in
		ghost | peekoff | holdsend | shutrd | small | heap) tree_args+=("$a") ;;
		oob | abort) peer_args+=("$a") ;;
		fin) tree_args+=(peerfin) peer_args+=(fin) ;;
		shutwr) tree_args+=(shutwr) peer_args+=(eof) ;;
		*) addr=$a ;;
		esac
	done
	rm -f "$TD/port" "$TD/gap" "$TD/status" "$TD/status.go"
	spawn peer python3 "$HERE/tcp_peer.py" "$TD/port" "$TD/gap" "$TD/peer.status" "$addr" "${peer_args[@]}"
	PEER=$SPAWNED
	spawn tree python3 "$HERE/tcp_tree.py" "$TD/port" "$TD/status" "${tree_args[@]}" "$addr"
	PID=$SPAWNED
	if [[ " ${tree_args[*]} " == *" holdsend "* ]]; then
		wait_until 30 grep -q '^CONNECTED' "$TD/status" 2>/dev/null ||
			fail "tcp_tree.py did not connect: $(cat "$TD/status" "$TD/tree.err" "$TD/peer.err" 2>/dev/null)"
		return 0
	fi
	wait_until 30 status_ready "$TD/status" ||
		fail "tcp_tree.py did not get ready: $(cat "$TD/status" "$TD/tree.err" "$TD/peer.err" 2>/dev/null)"
	log "tree $PID, peer $PEER: $(cat "$TD/status")"
}

# finish_tcp: the peer sends more (the tree is gone, or not), the tree reads all, both check
finish_tcp() {
	touch "$TD/gap"
	sleep 0.5
	touch "$TD/status.go"
	wait_until 60 status_final "$TD/status" || fail "the tree did not finish: $(cat "$TD/status")"
	grep -q '^OK' "$TD/status" || fail "the tree: $(cat "$TD/status")"
	wait_until 60 test -s "$TD/peer.status" || fail "the peer did not finish: $(cat "$TD/peer.err")"
	grep -q '^OK' "$TD/peer.status" || fail "the peer: $(cat "$TD/peer.status")"
	local sent got
	sent=$(awk '{print $3}' "$TD/status")
	got=$(awk '{print $2}' "$TD/peer.status")
	[[ $sent -gt 0 && $sent == "$got" ]] || fail "the tree sent $sent bytes, the peer got $got"
}

# the network lock of a dump of the tree's: a table of memdump's in nftables
tcp_lock_held() {
	"$E2E/nftctl" 'list tables' | grep -q "^table inet memdump_${PID}_"
}

# memdump and its process group killed (SIGKILL, as timeout -k sends it) while it holds the
# lock, copying 2 GiB: its guard takes the lock away, and the tree, which the kernel lets go on
# at once, keeps its connection: its peeks meanwhile (every 5 ms) never fail, it reads and
# checks every byte, and so does the peer
test_tcp_memdump_killed() {
	local md guard
	need_memdump
	[[ -x $E2E/nftctl ]] || fail "$E2E/nftctl is not built"
	start_tcp heap
	log "memdump dump -v --tcp-established -t $PID, killed once it has the connection"
	setsid "$MEMDUMP" dump -v --tcp-established -t "$PID" -D "$TD/img" >"$TD/dump.out" 2>"$TD/dump.err" &
	md=$!
	track "$md"
	wait_until 30 grep -q 'collected processes, VMAs, threads and files' "$TD/dump.err" ||
		fail "the dump did not get to the memory: $(tail -n3 "$TD/dump.err")"
	tcp_lock_held || fail "no lock while the dump copies the memory"
	# for drop_nft_tables, should the guard fail
	"$E2E/nftctl" 'list tables' | sed -n "s/^table inet \(memdump_${PID}_[0-9_]*\)$/\1/p" >>"$TD/nft_tables"
	guard=$(sed -n 's/.*guard of the TCP connections: \([0-9]*\).*/\1/p' "$TD/dump.err")
	[[ -n $guard ]] || fail "no guard"
	kill -KILL -- "-$md"
	wait "$md" 2>/dev/null
	wait_until 10 grep -q "its guard took the network lock away" "$TD/dump.err" ||
		fail "the guard said nothing: $(tail -n3 "$TD/dump.err")"
	! tcp_lock_held || fail "the lock is still there"
	wait_until 10 gone "$guard" || fail "the guard $guard is still there"
	alive "$PID" || fail "the tree died with memdump: $(cat "$TD/status")"
	finish_tcp
}

# dumped and killed with its connection; the peer sends while the tree is gone (the lock
# must keep the kernel from resetting the connection); restored on the same host
test_tcp_established() {
	need_memdump
	start_tcp "$@"
	md dump dump -t "$PID" -D "$TD/img" && fail "a dump without --tcp-established succeeded"
	grep -q "dump it with --tcp-established" "$TD/dump.err" || fail "unclear refusal: $(md_why dump)"
	dump_and_kill "$PID" "$TD/img" --tcp-established
	note_lock "$TD/img"
	"$MEMDUMP" show "$TD/img/tcp-stream.img" >"$TD/show.json" || fail "memdump show tcp-stream.img failed"
	grep -q '"net_lock": "memdump_' "$TD/show.json" || fail "the image names no network lock"
	touch "$TD/gap"
	sleep 1
	md restore restore -D "$TD/img" -d && fail "a restore without --tcp-established succeeded"
	grep -q "restore it with --tcp-established" "$TD/restore.err" || fail "unclear refusal: $(md_why restore)"
	fully_gone "$PID" || fail "the refused restore left a process"
	restore_detached "$TD/img" "$PID" --tcp-established
	finish_tcp
}

# the connection's 4-tuple, taken by a socket connected from its address and port in repair
# mode (TCP_REPAIR, 19: no SYN is sent, and the bind ignores other sockets that connect()
# may have given the same local port): prints "took"
TUPLE_SQUAT_CODE='
import socket, sys, time
lport, pport = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket()
s.setsockopt(socket.IPPROTO_TCP, 19, 1)
s.bind(("127.0.0.1", lport))
s.connect(("127.0.0.1", pport))
print("took", flush=True)
time.sleep(120)
'

# a restore refused because a socket of this host has the connection's 4-tuple keeps the
# lock: the peer notices nothing, and the next restore gets the connection whole
test_tcp_restore_retried() {
	need_memdump
	start_tcp
	local lport pport
	read -r _ _ lport _ <"$TD/status"
	pport=$(cat "$TD/port")
	dump_and_kill "$PID" "$TD/img" --tcp-established
	note_lock "$TD/img"
	touch "$TD/gap"
	spawn squat python3 -c "$TUPLE_SQUAT_CODE" "$lport" "$pport" "$TD"
	local squat=$SPAWNED
	wait_until 20 grep -q took "$TD/squat.out" || fail "cannot take 127.0.0.1:$lport: $(cat "$TD/squat.err")"
	md restore restore -D "$TD/img" -d --tcp-established && fail "restore succeeded with the 4-tuple taken"
	grep -q "is in use on this host, by socket" "$TD/restore.err" || fail "failed for another reason: $(md_why restore)"
	fully_gone "$PID" || fail "the failed restore left a process"
	kill -KILL "$squat"
	reap_child "$squat"
	sleep 1
	[[ -s $TD/peer.status ]] && fail "the peer gave up: $(cat "$TD/peer.status")"
	restore_detached "$TD/img" "$PID" --tcp-established
	finish_tcp
}

# the same over IPv6
test_tcp_established_ipv6() {
	ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/' || skip "no IPv6 loopback address here"
	test_tcp_established ::1
}

# -R: the connection goes on as if nothing happened (out of repair mode, no lock left, the
# peek offset the process set as it was)
test_tcp_leave_running() {
	need_memdump
	start_tcp peekoff
	md dump dump -t "$PID" -D "$TD/img" -R --tcp-established || fail "dump -R failed: $(md_why dump)"
	alive "$PID" || fail "the tree died"
	# a copy on this host while the original runs: refused (its pid, its connection are taken)
	# before a lock could take the original's packets
	md restore restore -D "$TD/img" -d --tcp-established && fail "a copy was restored beside the original"
	grep -q '^memdump: error: ' "$TD/restore.err" || fail "no 'memdump: error:' line"
	finish_tcp
}

# refused after the connection was read in repair mode: all of it undone
test_tcp_failed_dump() {
	need_memdump
	start_tcp ghost
	dump_refused "--ghost-limit" --tcp-established
	finish_tcp
}

# urgent data not read yet: SIOCINQ and the peek stop at its mark, the bytes after it would
# be lost; refused once read in repair mode, all of it undone
test_tcp_urgent_refused() {
	need_memdump
	start_tcp oob
	dump_refused "urgent data (MSG_OOB)" --tcp-established
	finish_tcp
}

# a connection to itself signed with TCP-MD5 (keys on both ends): only sock_diag shows the
# keys, which repair would not carry
TCP_MD5_CODE='
import os, socket, struct, sys, time
os.closerange(3, 65536)
def sign(s):
    sa = struct.pack("=H", socket.AF_INET) + struct.pack("!H", 0) + socket.inet_aton("127.0.0.1")
    key = b"memdump"
    opt = sa.ljust(128, b"\0") + struct.pack("=BBHI", 0, 0, len(key), 0) + key.ljust(80, b"\0")
    s.setsockopt(socket.IPPROTO_TCP, 14, opt)  # TCP_MD5SIG
ls = socket.socket()
sign(ls)
ls.bind(("127.0.0.1", 0))
ls.listen(1)
c = socket.socket()
sign(c)
c.connect(ls.getsockname())
a, _ = ls.accept()
c.sendall(b"x")
assert a.recv(1) == b"x"
open(sys.argv[1], "w").write("READY\n")
while True:
    time.sleep(1)
'

test_tcp_md5_refused() {
	need_memdump
	need_tcp_repair
	command -v python3 >/dev/null || skip "python3 is not installed"
	spawn md5 python3 -c "$TCP_MD5_CODE" "$TD/status"
	PID=$SPAWNED
	wait_until 20 status_ready "$TD/status" || skip "no TCP-MD5 here: $(tail -n1 "$TD/md5.err")"
	dump_refused "TCP connection signed with TCP-MD5: not supported" --tcp-established
}

ALL_TESTS+=(tcp_established tcp_established_ipv6 tcp_leave_running tcp_failed_dump tcp_memdump_killed)
ALL_TESTS+=(tcp_urgent_refused)

# bytes sent and not acknowledged at the dump (the peer's acknowledgements dropped by a rule
# of the test's while the tree sends): they go back into the send queue in repair mode, and
# the peer gets each byte once
test_tcp_unacked() {
	need_memdump
	[[ -x $E2E/nftctl ]] || fail "$E2E/nftctl is not built"
	start_tcp holdsend
	local lport pport t=e2e_noack_$$
	read -r _ lport <"$TD/status"
	pport=$(cat "$TD/port")
	"$E2E/nftctl" "add table inet $t
add chain inet $t out { type filter hook output priority 0; }
add rule inet $t out tcp sport $pport tcp dport $lport drop" || fail "nftctl cannot add a rule"
	echo "$t" >>"$TD/nft_tables"
	touch "$TD/status.send"
	wait_until 30 status_ready "$TD/status" || fail "the tree did not send: $(cat "$TD/status" "$TD/tree.err")"
	dump_and_kill "$PID" "$TD/img" --tcp-established
	note_lock "$TD/img"
	"$E2E/nftctl" "delete table inet $t" || fail "nftctl cannot delete its rule"
	"$MEMDUMP" show "$TD/img/tcp-stream.img" | python3 -c '
import json, sys
s = json.load(sys.stdin)["payload"]["streams"][0]
sent = len(s["send_queue"]) // 2 - s["unsent"]
print(sent, "bytes sent and not acknowledged,", s["unsent"], "not sent")
sys.exit(0 if sent > 0 else 1)' >"$TD/unacked" || fail "no bytes sent and not acknowledged at the dump: $(cat "$TD/unacked")"
	log "$(cat "$TD/unacked")"
	restore_detached "$TD/img" "$PID" --tcp-established
	finish_tcp
}

# a copy of the tree's connection held by a process outside it (pidfd_getfd()): it would be
# left in repair mode: refused
HOLD_FD_CODE='
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
pidfd = os.pidfd_open(int(sys.argv[1]))
fd = libc.syscall(438, pidfd, int(sys.argv[2]), 0)  # pidfd_getfd
print("held" if fd >= 0 else "error %d" % ctypes.get_errno(), flush=True)
time.sleep(120)
'

test_tcp_outside_refused() {
	need_memdump
	start_tcp
	local fd="" f
	for f in /proc/"$PID"/fd/*; do
		[[ $(readlink "$f") == socket:* ]] && fd=${f##*/}
	done
	[[ -n $fd ]] || fail "no socket fd in the tree"
	spawn holder python3 -c "$HOLD_FD_CODE" "$PID" "$fd" "$TD"
	local holder=$SPAWNED
	wait_until 10 grep -q held "$TD/holder.out" || fail "cannot take a copy of fd $fd: $(cat "$TD/holder.out")"
	dump_refused "also held outside the dumped tree (by $holder)" --tcp-established
	kill "$holder"
	finish_tcp
}

# shut down for reading: TCP repair would not keep that; refused
test_tcp_shut_rd_refused() {
	need_memdump
	start_tcp shutrd
	dump_refused "a TCP connection shut down for reading: not supported" --tcp-established
}

ALL_TESTS+=(tcp_md5_refused tcp_restore_retried tcp_unacked tcp_outside_refused tcp_shut_rd_refused)

# test_tcp_closing STATE START_TCP_ARGS...: a connection closing half way, in TCP state STATE
# (the number) at the dump, and again once restored; then each end gets every byte of the
# other's, and the end of the stream where the other shut down
test_tcp_closing() {
	need_memdump
	local want=$1 st lport
	shift
	start_tcp "$@"
	read -r _ _ lport _ st <"$TD/status"
	[[ $st == "$want" ]] || fail "the tree is in TCP state $st, not $want"
	md dump dump -t "$PID" -D "$TD/img" && fail "a dump without --tcp-established succeeded"
	grep -q "in state .*: dump it with --tcp-established" "$TD/dump.err" || fail "unclear refusal: $(md_why dump)"
	dump_and_kill "$PID" "$TD/img" --tcp-established
	note_lock "$TD/img"
	"$MEMDUMP" show "$TD/img" >"$TD/show.json" || fail "memdump show failed"
	grep -q "\"state\": $want\b" "$TD/show.json" || fail "the image has no socket in state $want"
	sleep 1
	restore_detached "$TD/img" "$PID" --tcp-established
	# before the peer reads (FIN-WAIT-2: once it acknowledged the FIN sent again)
	wait_until 10 tcp_state_is "$lport" "$want" ||
		fail "restored, the connection is not in TCP state $want: $(grep -ih ":$(printf %04X "$lport") " /proc/net/tcp /proc/net/tcp6)"
	finish_tcp
}

# tcp_state_is PORT STATE: a TCP socket of this host on local port PORT is in state STATE
tcp_state_is() {
	awk -v p="$(printf ':%04X' "$1")" -v s="$(printf '%02X' "$2")" \
		'substr($2, length($2) - 4) == p && $4 == s { found = 1 } END { exit !found }' /proc/net/tcp /proc/net/tcp6
}

# the peer's FIN received: CLOSE-WAIT (it comes back through a raw socket)
test_tcp_close_wait() {
	test_tcp_closing 8 fin "$@"
}

test_tcp_close_wait_ipv6() {
	ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/' || skip "no IPv6 loopback address here"
	test_tcp_close_wait ::1
}

# an IPv4 connection on an IPv6 socket: the FIN goes as IPv4
test_tcp_close_wait_v4mapped() {
	test_tcp_close_wait ::ffff:127.0.0.1
}

# its FIN queued behind bytes never sent: FIN-WAIT-1
test_tcp_fin_wait1() {
	test_tcp_closing 4 shutwr
}

# its FIN sent and acknowledged: FIN-WAIT-2 (restored FIN-WAIT-1, until the peer acknowledges
# the FIN sent again)
test_tcp_fin_wait2() {
	test_tcp_closing 5 shutwr small
}

# both: the peer's FIN, then its own behind bytes never sent: LAST-ACK
test_tcp_last_ack() {
	test_tcp_closing 9 fin shutwr
}

# -R: the connection goes on closing as it was (out of repair mode, no lock left)
test_tcp_closing_leave_running() {
	need_memdump
	start_tcp fin shutwr
	md dump dump -t "$PID" -D "$TD/img" -R --tcp-established || fail "dump -R failed: $(md_why dump)"
	alive "$PID" || fail "the tree died"
	finish_tcp
}

ALL_TESTS+=(tcp_close_wait tcp_close_wait_ipv6 tcp_close_wait_v4mapped tcp_fin_wait1 tcp_fin_wait2 tcp_last_ack)
# the peer reset the connection (LAST-ACK) while the tree was gone: the restore, which no
# longer holds the lock when it sends the FIN again, still succeeds, and the process finds
# its connection reset
test_tcp_closing_peer_gone() {
	need_memdump
	start_tcp fin shutwr abort
	dump_and_kill "$PID" "$TD/img" --tcp-established
	note_lock "$TD/img"
	touch "$TD/gap"
	wait_until 20 grep -q ABORTED "$TD/peer.status" || fail "the peer did not reset: $(cat "$TD/peer.err")"
	restore_detached "$TD/img" "$PID" --tcp-established
	touch "$TD/status.go"
	wait_until 60 status_final "$TD/status" || fail "the tree did not finish: $(cat "$TD/status")"
	grep -q "Reset" "$TD/status" || fail "the tree did not find its connection reset: $(cat "$TD/status")"
}

ALL_TESTS+=(tcp_closing_leave_running tcp_closing_peer_gone)

# a connect() in progress (SYN-SENT: the peer's full backlog drops its SYNs), without
# --tcp-established: restore starts it again, and once the peer accepts, the process, waiting
# in poll(), finds it connected and talks
test_tcp_connecting() {
	need_memdump
	command -v python3 >/dev/null || skip "python3 is not installed"
	local addr=${1:-127.0.0.1} st
	spawn peer python3 "$HERE/tcp_connecting.py" peer "$TD/port" "$TD/go" "$TD/peer.status" "$addr"
	spawn tree python3 "$HERE/tcp_connecting.py" tree "$TD/port" "$TD/status" "$addr"
	PID=$SPAWNED
	wait_until 30 status_ready "$TD/status" ||
		fail "tcp_connecting.py did not get ready: $(cat "$TD/status" "$TD/tree.err" "$TD/peer.err" 2>/dev/null)"
	read -r _ _ _ st <"$TD/status"
	[[ $st == 2 ]] || fail "the tree is in TCP state $st, not SYN-SENT (2)"
	dump_and_kill "$PID" "$TD/img"
	"$MEMDUMP" show "$TD/img" >"$TD/show.json" || fail "memdump show failed"
	grep -q '"state": 2\b' "$TD/show.json" || fail "the image has no socket in state 2"
	restore_detached "$TD/img" "$PID"
	touch "$TD/go"
	wait_until 60 status_final "$TD/status" || fail "the tree did not finish: $(cat "$TD/status")"
	grep -q '^OK' "$TD/status" || fail "the tree: $(cat "$TD/status")"
	wait_until 30 test -s "$TD/peer.status" || fail "the peer did not finish: $(cat "$TD/peer.err")"
	grep -q '^OK' "$TD/peer.status" || fail "the peer: $(cat "$TD/peer.status")"
}

test_tcp_connecting_ipv6() {
	ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/' || skip "no IPv6 loopback address here"
	test_tcp_connecting ::1
}

ALL_TESTS+=(tcp_connecting tcp_connecting_ipv6)

# a listener with a connection it has not accepted (tcp_backlog.py): the dump refuses it, naming
# --skip-in-flight, and leaves the tree running; with --skip-in-flight (no --tcp-established
# needed) it is dumped without that connection, whose client sees it reset, and the restored
# listener accepts a new one (the one it accepts first must be the new)
test_tcp_skip_in_flight() {
	need_memdump
	command -v python3 >/dev/null || skip "python3 is not installed"
	local port
	spawn server python3 "$HERE/tcp_backlog.py" server "$TD/status"
	PID=$SPAWNED
	wait_until 20 grep -q '^LISTENING' "$TD/status" || fail "tcp_backlog.py did not listen: $(cat "$TD/server.err")"
	read -r _ port <"$TD/status"
	spawn old python3 "$HERE/tcp_backlog.py" client "$port" "$TD/old" old
	wait_until 20 status_ready "$TD/status" || fail "tcp_backlog.py did not get ready: $(cat "$TD/status")"
	wait_until 20 grep -q CONNECTED "$TD/old" || fail "the old client did not connect: $(cat "$TD/old.err")"

	dump_refused "with 1 connection(s) not accepted yet: not supported (accept them first, or dump with --skip-in-flight"
	[[ -z $(find "$TD/img" -name '*.img' 2>/dev/null) ]] || fail "the refused dump left image files"
	dump_and_kill "$PID" "$TD/img" --skip-in-flight
	grep -q "warning: .*1 connection(s) waiting for accept() on TCP socket 127.0.0.1:$port are left out" \
		"$TD/dump.err" || fail "the dump did not warn of the connection left out: $(cat "$TD/dump.err")"
	restore_detached "$TD/img" "$PID"
	touch "$TD/status.go"
	python3 "$HERE/tcp_backlog.py" client "$port" "$TD/new" new 2>"$TD/new.err" ||
		fail "the new client failed: $(tail -n1 "$TD/new.err")"
	grep -q "ANSWER b'ok'" "$TD/new" || fail "the new client: $(cat "$TD/new")"
	wait_until 20 status_final "$TD/status" || fail "the listener did not finish: $(cat "$TD/status")"
	grep -q '^OK' "$TD/status" || fail "the listener: $(cat "$TD/status")"
	touch "$TD/old.go"
	wait_until 20 grep -qv CONNECTED "$TD/old" || fail "the old client did not finish: $(cat "$TD/old.err")"
	grep -qx RESET "$TD/old" || fail "the connection left out was not reset: $(cat "$TD/old")"
}

ALL_TESTS+=(tcp_skip_in_flight)

# --- file locks (file_locks.py) -----------------------------------------------------------

# start_locks [lease]: file_locks.py's tree in $TD/locks, ready; sets PID, CPID
start_locks() {
	command -v python3 >/dev/null || skip "python3 is not installed"
	mkdir -p "$TD/locks"
	spawn locks python3 "$HERE/file_locks.py" tree "$TD/locks" "$TD/status" "$@"
	PID=$SPAWNED
	wait_until 20 status_ready "$TD/status" || fail "file_locks.py did not get ready: $(cat "$TD/locks.err")"
	read -r _ _ CPID <"$TD/status"
}

# probe_locks WANT: file_locks.py probe prints WANT (LOCKED: every lock of the tree is in the way)
probe_locks() {
	local got
	got=$(python3 "$HERE/file_locks.py" probe "$TD/locks" 2>&1)
	[[ $got == "$1" ]] || fail "probing the locks: $got, expected $1"
}

# flock, POSIX (one range read, one write; the file also mapped) and OFD locks, one flock shared
# by a child: each fd holds the same locks after the restore, and they keep others out. A
# process that took one (a flock, or a POSIX lock in the way of one) meanwhile makes the restore
# fail, naming the file and leaving nothing; once it lets go, the restore works.
test_file_locks() {
	need_memdump
	local how want
	start_locks
	track "$CPID"
	probe_locks LOCKED
	dump_and_kill "$PID" "$TD/img"
	wait_until 10 fully_gone "$CPID" || fail "the child $CPID is not gone after the dump"
	probe_locks "FREE flock on a"

	for how in flock posix; do
		rm -f "$TD/locks/held" "$TD/locks/release"
		spawn holder python3 "$HERE/file_locks.py" hold "$TD/locks" "$how"
		wait_until 10 test -e "$TD/locks/held" || fail "the holder did not take its lock: $(cat "$TD/holder.err")"
		md restore restore -D "$TD/img" -d && fail "the restore succeeded with a lock of the image taken ($how)"
		if [[ $how == flock ]]; then
			want="cannot take back the flock() write lock of fd [0-9]* of $PID on the whole file of '$TD/locks/a'"
		else
			want="cannot take back the POSIX write lock of $PID on bytes 10 to 109 of '$TD/locks/b': process $SPAWNED holds a lock in its way"
		fi
		grep -q "^memdump: error: $want" "$TD/restore.err" || fail "the error does not name the lock: $(md_why restore)"
		[[ $(grep -c '^memdump: error: ' "$TD/restore.err") == 1 ]] || fail "more than one error line: $(cat "$TD/restore.err")"
		fully_gone "$PID" && fully_gone "$CPID" || fail "a process of the failed restore is left"
		touch "$TD/locks/release"
		wait_until 10 gone "$SPAWNED" || fail "the holder did not end"
	done

	restore_detached "$TD/img" "$PID"
	track "$CPID"
	probe_locks LOCKED
	touch "$TD/locks/go"
	wait_until 20 status_final "$TD/status" || fail "no result from $PID: $(cat "$TD/status")"
	grep -qx OK "$TD/status" || fail "$PID: $(cat "$TD/status")"
	wait_until 20 status_final "$TD/status.child" || fail "no result from $CPID"
	grep -qx OK "$TD/status.child" || fail "$CPID: $(cat "$TD/status.child")"
	touch "$TD/locks/end"
	wait_until 10 gone "$PID" || fail "$PID did not end"
}

# a lease (F_SETLEASE) cannot come back: refused, named, and the tree runs on
test_file_lease_refused() {
	need_memdump
	start_locks lease
	track "$CPID"
	dump_refused "holds a lease or delegation (F_SETLEASE) on '$TD/locks/d': not supported"
	alive "$CPID" || fail "the child died"
	probe_locks LOCKED
	touch "$TD/locks/go"
	wait_until 20 status_final "$TD/status" || fail "no result from $PID"
	grep -qx OK "$TD/status" || fail "$PID: $(cat "$TD/status")"
	touch "$TD/locks/end"
}

ALL_TESTS+=(file_locks file_lease_refused)

# --- pidfds (pidfd_tree.py) ----------------------------------------------------------------

# start_pidfds [outside PID | thread]: pidfd_tree.py's tree, ready; sets PID, A, B, Z
start_pidfds() {
	command -v python3 >/dev/null || skip "python3 is not installed"
	spawn pidfds python3 "$HERE/pidfd_tree.py" "$TD/status" "$@"
	PID=$SPAWNED
	wait_until 20 status_ready "$TD/status" || fail "pidfd_tree.py did not get ready: $(cat "$TD/pidfds.err")"
	read -r _ A B Z <"$TD/status"
	track "$A"
	track "$B"
}

# pidfds_go [WHEN]: let the tree check its pidfds, and expect OK
pidfds_go() {
	touch "$TD/status.go"
	wait_until 30 status_final "$TD/status" || fail "no result from $PID: $(cat "$TD/status")"
	grep -qx OK "$TD/status" || fail "$PID${1-}: $(cat "$TD/status")"
}

# pidfds on children (one non-blocking, one dup'ed, one watched by epoll), on a zombie child,
# on a child already reaped, on the process itself, and a child's on its sibling and its
# parent: each names its process again after the restore, polls and waits as it did
test_pidfd() {
	need_memdump
	start_pidfds
	dump_and_kill "$PID" "$TD/img"
	wait_until 10 all_fully_gone "$A" "$B" "$Z" || fail "left after the dump: $(still_there "$A" "$B" "$Z")"
	restore_detached "$TD/img" "$PID"
	alive "$A" && alive "$B" || fail "the children did not come back: $(still_there "$A" "$B")"
	[[ $(proc_state "$Z") == Z ]] || fail "$Z is not a zombie again: $(still_there "$Z")"
	pidfds_go
	wait_until 10 gone "$PID" || fail "$PID did not end"
}

# the same tree in a PID namespace of its own (with its /proc): the pidfds name the same
# processes there, and the one on a process gone is of that namespace (else it could not signal)
test_pidfd_pidns() {
	need_memdump
	need_unshare
	command -v python3 >/dev/null || skip "python3 is not installed"
	unshare --pid --fork --mount-proc true 2>/dev/null || skip "cannot mount a /proc in a new namespace"
	spawn pidfds unshare --pid --fork --mount-proc python3 "$HERE/pidfd_tree.py" "$TD/status"
	wait_until 20 status_ready "$TD/status" || fail "pidfd_tree.py did not get ready: $(cat "$TD/pidfds.err")"
	PID=$(first_child "$SPAWNED")
	[[ -n $PID ]] || fail "unshare has no child"
	track "$PID"
	dump_and_kill "$PID" "$TD/img"
	restore_detached "$TD/img" "$PID"
	pidfds_go
	wait_until 10 gone "$PID" || fail "$PID did not end"
}

# a pidfd on a process outside the tree, or on a thread (PIDFD_THREAD): refused, named, and
# the tree runs on
test_pidfd_refused() {
	need_memdump
	local other
	spawn other sleep 600
	other=$SPAWNED
	start_pidfds outside "$other"
	dump_refused "fd 3 of $PID is the pidfd of process $other, which is not in the dumped tree"
	kill -KILL "$other"
	pidfds_go " after the refused dump"
	wait_until 10 gone "$PID" || fail "$PID did not end"

	rm -f "$TD/status" "$TD/status.go" "$TD/status.child"
	start_pidfds thread
	dump_refused "fd 3 of $PID is the pidfd of thread"
	pidfds_go " after the refused dump"
}

ALL_TESTS+=(pidfd pidfd_pidns pidfd_refused)

# --- thousands of fds (many_fds.py) -------------------------------------------------------

# A parent and a child with thousands of fds laid out for restore's batches: runs of close-on-
# exec and not, gaps small and large, dups, one fd far past the rest, an epoll fd watching
# hundreds of sockets; each comes back at its number with its flag and its own file
test_many_fds() {
	local child
	need_memdump
	command -v python3 >/dev/null || skip "python3 is not installed"
	head -c 4096 /dev/urandom >"$TD/file"
	spawn many python3 "$HERE/many_fds.py" "$TD/file" "$TD/status"
	PID=$SPAWNED
	wait_until 30 test -s "$TD/status"
	grep -q '^SKIP' "$TD/status" && skip "$(cut -c7- "$TD/status")"
	status_ready "$TD/status" || fail "many_fds.py did not get ready: $(cat "$TD/status" "$TD/many.err" 2>/dev/null)"
	child=$(awk '{print $2}' "$TD/status")
	track "$child"
	dump_and_kill "$PID" "$TD/img"
	wait_until 10 fully_gone "$child" || fail "the child $child is not gone after the dump"
	restore_detached "$TD/img" "$PID"
	touch "$TD/status.go"
	wait_until 60 status_final "$TD/status" || fail "the parent did not check its fds"
	grep -q '^OK' "$TD/status" || fail "the parent: $(cat "$TD/status")"
	wait_until 60 status_final "$TD/status.child" || fail "the child did not check its fds"
	grep -q '^OK' "$TD/status.child" || fail "the child: $(cat "$TD/status.child")"
}

ALL_TESTS+=(many_fds)

# --- servers as packaged: PostgreSQL, nginx -------------------------------------------------

# as_user USER CMD...: CMD run as USER with USER's groups
as_user() {
	local u=$1
	shift
	setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups -- "$@"
}

# PostgreSQL 15 as Debian packages it: a postmaster and five children sharing anonymous
# shared memory, a SysV segment and pipes, each waiting in epoll on a signalfd (its latch),
# the postmaster listening on a unix socket. Data written before the dump reads the same
# after; new sessions, writes, a checkpoint and a clean shutdown work.
test_postgres() {
	local bin q1 want got
	need_memdump
	bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
	[[ -n $bin && -x $bin/postgres ]] || skip "PostgreSQL is not installed"
	id postgres >/dev/null 2>&1 || skip "there is no postgres user"
	chmod a+x "$WORK" "$TD"
	mkdir "$TD/pg" && chown postgres: "$TD/pg"
	as_user postgres "$bin/initdb" -D "$TD/pg/data" >"$TD/initdb.log" 2>&1 ||
		fail "initdb failed: $(tail -3 "$TD/initdb.log")"
	# not through as_user: spawn's pid must be the postmaster's
	spawn pg setpriv --reuid=postgres --regid="$(id -g postgres)" --init-groups -- \
		"$bin/postgres" -D "$TD/pg/data" -k "$TD/pg" -p 5499 -c listen_addresses=
	PID=$SPAWNED
	wait_until 30 grep -q 'ready to accept connections' "$TD/pg.err" ||
		fail "postgres did not start: $(tail -3 "$TD/pg.err")"
	q() { as_user postgres timeout 60 "$bin/psql" -X -h "$TD/pg" -p 5499 -d postgres -Atqc "$1" 2>>"$TD/psql.err"; }
	q "create table t (a int primary key, b text); insert into t select i, md5(i::text)
	   from generate_series(1, 100000) i" || fail "psql: $(tail -3 "$TD/psql.err")"
	want=$(q "select count(*), md5(string_agg(b, ',' order by a)) from t")
	[[ $want == 100000\|* ]] || fail "psql: the table reads '$want'"
	wait_until 10 test "$(pgrep -c -P "$PID")" -ge 5 || fail "postgres has not started its children"
	dump_and_kill "$PID" "$TD/img"
	restore_detached "$TD/img" "$PID"
	got=$(q "select count(*), md5(string_agg(b, ',' order by a)) from t")
	[[ $got == "$want" ]] || fail "after the restore the table reads '$got', not '$want': $(tail -3 "$TD/psql.err")"
	for q1 in "insert into t select i, md5(i::text) from generate_series(100001, 110000) i" checkpoint \
		"vacuum t"; do
		q "$q1" || fail "psql after the restore: $q1: $(tail -3 "$TD/psql.err")"
	done
	[[ $(q "select count(*) from t where a > 100000") == 10000 ]] || fail "the new rows are not there"
	as_user postgres "$bin/pg_ctl" -D "$TD/pg/data" stop -m fast -t 30 >"$TD/stop.log" 2>&1 ||
		fail "pg_ctl stop failed: $(tail -3 "$TD/stop.log")"
	wait_until 10 gone "$PID" || fail "the postmaster did not exit"
	grep -q 'database system is shut down' "$TD/pg.err" || fail "no clean shutdown: $(tail -3 "$TD/pg.err")"
}

# nginx as Debian packages it: a master (root) and two workers (www-data, their ids given by
# the master) sharing the listening socket, each in its own epoll set; requests are served
# after the restore, a reload (SIGHUP) starts new workers, and SIGQUIT ends it all.
test_nginx() {
	local workers port
	need_memdump
	command -v nginx >/dev/null || skip "nginx is not installed"
	id www-data >/dev/null 2>&1 || skip "there is no www-data user"
	command -v python3 >/dev/null || skip "python3 is not installed"
	chmod a+x "$WORK" "$TD"
	mkdir "$TD/html" "$TD/tmp"
	head -c 100000 /dev/urandom | base64 >"$TD/html/index.html"
	# a port nobody holds now (another run of this suite may be at this test too)
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cat >"$TD/nginx.conf" <<-EOF
		daemon off;
		user www-data;
		master_process on;
		worker_processes 2;
		pid $TD/nginx.pid;
		error_log $TD/error.log;
		events { worker_connections 64; }
		http {
			access_log $TD/access.log;
			client_body_temp_path $TD/tmp;
			proxy_temp_path $TD/tmp;
			fastcgi_temp_path $TD/tmp;
			uwsgi_temp_path $TD/tmp;
			scgi_temp_path $TD/tmp;
			server { listen 127.0.0.1:$port; root $TD/html; }
		}
	EOF
	spawn nginx nginx -c "$TD/nginx.conf" -p "$TD"
	PID=$SPAWNED
	# get N: N requests, each body compared with the file
	get() {
		python3 - "$1" "$TD/html/index.html" "$port" <<-'EOF'
			import sys, urllib.request
			want = open(sys.argv[2], "rb").read()
			for i in range(int(sys.argv[1])):
			    url = "http://127.0.0.1:%s/" % sys.argv[3]
			    got = urllib.request.urlopen(url, timeout=10).read()
			    if got != want:
			        sys.exit("request %d: %d bytes, not the file's %d" % (i, len(got), len(want)))
		EOF
	}
	wait_until 20 get 1 2>/dev/null || fail "nginx does not answer: $(tail -3 "$TD/error.log" "$TD/nginx.err")"
	wait_until 10 test "$(pgrep -c -P "$PID")" -eq 2 || fail "nginx has not two workers"
	[[ $(ps -o user= -p "$(pgrep -P "$PID" | head -1)") == www-data ]] || fail "the workers are not www-data's"
	get 20 || fail "nginx before the dump"
	dump_and_kill "$PID" "$TD/img"
	restore_detached "$TD/img" "$PID"
	[[ $(ps -o user= -p "$(pgrep -P "$PID" | head -1)") == www-data ]] ||
		fail "the restored workers are not www-data's"
	get 40 || fail "nginx after the restore: $(tail -3 "$TD/error.log")"
	workers=$(pgrep -P "$PID" | sort)
	kill -HUP "$PID"
	# the old workers end once idle, two new ones take their place
	wait_until 20 eval '[[ $(pgrep -P "$PID" | sort) != "$workers" && $(pgrep -c -P "$PID") -eq 2 ]]' ||
		fail "no new workers after a reload: $(pgrep -P "$PID" | tr '\n' ' ')"
	get 20 || fail "nginx after a reload: $(tail -3 "$TD/error.log")"
	kill -QUIT "$PID"
	wait_until 20 gone "$PID" || fail "nginx did not end on SIGQUIT"
	if grep -q '\[alert\]\|\[emerg\]' "$TD/error.log"; then
		fail "nginx logged: $(grep '\[alert\]\|\[emerg\]' "$TD/error.log" | head -3)"
	fi
	return 0
}

ALL_TESTS+=(postgres nginx)

# --- named pipes (fifo_tree.py) -----------------------------------------------------------

# start_fifo [lone]: DIR/f1, f2 (and f3) made, the tree holding them; sets PID
start_fifo() {
	command -v python3 >/dev/null || skip "python3 is not installed"
	mkfifo "$TD/f1" "$TD/f2" "$TD/f3" || fail "mkfifo failed"
	spawn fifo python3 "$HERE/fifo_tree.py" "$TD" "$TD/status" "$@"
	PID=$SPAWNED
	wait_until 20 status_ready "$TD/status" || fail "fifo_tree.py did not get ready: $(cat "$TD/fifo.err")"
}

# finish_fifo: a writer outside opens f2 and writes; the tree checks everything
finish_fifo() {
	touch "$TD/status.go"
	wait_until 20 grep -q '^WAITF2\|^FAIL' "$TD/status" || fail "the tree did not check f1"
	grep -q '^FAIL' "$TD/status" && fail "the tree: $(cat "$TD/status")"
	timeout 20 sh -c 'echo hello >"$1"' sh "$TD/f2" || fail "nobody reads f2"
	# not status_final: WAITF2 is not READY either
	wait_until 30 grep -q '^OK\|^FAIL' "$TD/status" || fail "the tree did not finish: $(cat "$TD/status")"
	grep -q '^OK' "$TD/status" || fail "the tree: $(cat "$TD/status")"
}

# FIFOs come back by name with their bytes, and a writer outside reaches the restored reader
test_fifo() {
	need_memdump
	start_fifo
	dump_and_kill "$PID" "$TD/img"
	[[ -p $TD/f1 && -p $TD/f2 ]] || fail "the FIFOs are gone"
	restore_detached "$TD/img" "$PID"
	finish_fifo
}

# held outside the tree too, by the same name or another link to it: refused, and the tree
# goes on as before
test_fifo_outside_refused() {
	local w
	need_memdump
	start_fifo
	exec {w}<>"$TD/f1"
	dump_refused "is FIFO '$TD/f1', also open outside the dumped tree"
	exec {w}>&-
	ln "$TD/f1" "$TD/f1.link" || fail "cannot link f1"
	exec {w}<>"$TD/f1.link"
	dump_refused "is FIFO '$TD/f1', also open outside the dumped tree"
	exec {w}>&-
	finish_fifo
}

# bytes in a FIFO no process of the tree reads: refused
test_fifo_unread_refused() {
	need_memdump
	start_fifo lone
	dump_refused "which holds 17 bytes no process of the tree reads"
	finish_fifo
}

ALL_TESTS+=(fifo fifo_outside_refused fifo_unread_refused)

# --- POSIX timers (dumpee_ptimer) ------------------------------------------------------------

test_ptimer_selftest() {
	"$E2E/dumpee_ptimer" -m selftest "$TD/status" </dev/null || fail "selftest: $(cat "$TD/status")"
	grep -qx OK "$TD/status" || fail "selftest status: $(head -n1 "$TD/status")"
}

test_ptimer_detects_corruption() {
	local what
	for what in ids interval left thread ticks pending; do
		corruption_noticed "$E2E/dumpee_ptimer" "$what"
	done
}

# start_ptimer [ARGS...]: dumpee_ptimer, ready; sets PID, STATUS and IDS (its timer ids)
start_ptimer() {
	start_dumpee ptimer "$@"
	IDS=$(head -n1 "$STATUS" | cut -d' ' -f2-)
	log "timer ids: $IDS"
}

# ptimer_ids PID: the ids /proc/PID/timers lists, ascending, on one line
ptimer_ids() {
	awk '$1 == "ID:" { print $2 }' "/proc/$1/timers" | sort -n | tr '\n' ' ' | sed 's/ $//'
}

# timers with their ids, clocks, signals, targets, periods and time left; ticks at the right thread
test_ptimer() {
	need_memdump
	start_ptimer
	dump_and_kill "$PID" "$TD/img"
	restore_detached "$TD/img" "$PID"
	[[ $(ptimer_ids "$PID") == "$IDS" ]] || fail "timer ids after the restore: $(ptimer_ids "$PID"), expected $IDS"
	trigger_check "$PID"
}

# the same where the kernel could not make a timer with a given id: made in order, gaps deleted
test_ptimer_fallback() {
	need_memdump
	start_ptimer
	dump_and_kill "$PID" "$TD/img"
	track "$PID"
	MEMDUMP_KFEAT_OFF=posix_timer_ids md restore restore -D "$TD/img" -d ||
		fail "restore without PR_TIMER_CREATE_RESTORE_IDS failed: $(md_why restore)"
	[[ $(ptimer_ids "$PID") == "$IDS" ]] || fail "timer ids after the restore: $(ptimer_ids "$PID"), expected $IDS"
	trigger_check "$PID"
}

# an id too far to reach by making timers in order is refused before anything is created;
# with PR_TIMER_CREATE_RESTORE_IDS the same image restores
test_ptimer_far_id() {
	need_memdump
	start_ptimer -G
	dump_and_kill "$PID" "$TD/img"
	track "$PID"
	MEMDUMP_KFEAT_OFF=posix_timer_ids md restore0 restore -D "$TD/img" -d &&
		fail "a timer id above 70000 was restored without PR_TIMER_CREATE_RESTORE_IDS"
	grep -q "posix_timer_ids" "$TD/restore0.err" || fail "the refusal does not say why: $(md_why restore0)"
	fully_gone "$PID" || fail "the refused restore left process $PID behind"
	grep -q '^posix_timer_ids: yes' <("$MEMDUMP" check) || skip "this kernel lacks PR_TIMER_CREATE_RESTORE_IDS"
	restore_detached "$TD/img" "$PID"
	[[ $(ptimer_ids "$PID") == "$IDS" ]] || fail "timer ids after the restore: $(ptimer_ids "$PID"), expected $IDS"
	trigger_check "$PID"
}

ALL_TESTS+=(ptimer_selftest ptimer_detects_corruption ptimer ptimer_fallback ptimer_far_id)

# --- shell jobs on a terminal (--shell-job; ptyrun, dumpee_tty) -------------------------------

# tick_numbers FILE: N of every "tick N" line a job printed on a pty (CR LF line ends)
tick_numbers() {
	tr -d '\r' <"$1" | sed -n 's/^tick \([0-9][0-9]*\)$/\1/p'
}

last_tick() {
	tick_numbers "$1" | tail -n1
}

# tty_nr_of PATH: the terminal PATH as /proc/PID/stat field 7 encodes it
tty_nr_of() {
	local maj min
	maj=$((16#$(stat -c %t "$1")))
	min=$((16#$(stat -c %T "$1")))
	echo $(((min & 0xff) | (maj << 8) | ((min & ~0xff) << 12)))
}

# stat_field PID N: field N (3 and up) of /proc/PID/stat
stat_field() {
	cut -d')' -f2 "/proc/$1/stat" 2>/dev/null | awk -v n="$2" '{ print $(n - 2) }'
}

# the job's checker: Ctrl-C finds fds 0-2 on its controlling terminal, and sees when they are not
test_shell_job_selftest() {
	local w
	mkfifo "$TD/in"
	exec {w}<>"$TD/in"
	"$E2E/ptyrun" -o "$TD/out" -t "$TD/tty" -p "$TD/job" -- "$E2E/dumpee_tty" "$TD" <"$TD/in" {w}>&- &
	local p=$!
	track "$p"
	wait_until 10 eval '[[ $(tick_numbers "$TD/out" | wc -l) -ge 3 ]]' || fail "the job does not tick on its pty"
	printf '\003' >&"$w"
	wait "$p" || fail "the job failed its check: $(tr -d '\r' <"$TD/out" | tail -n1)"
	grep -q "ctty ok" "$TD/out" || fail "no verdict: $(tr -d '\r' <"$TD/out" | tail -n1)"
	# stdin elsewhere: the checker must say so
	"$E2E/ptyrun" -o "$TD/out2" -t "$TD/tty2" -p "$TD/job2" -- \
		sh -c 'exec "$1" "$2" </dev/null' sh "$E2E/dumpee_tty" "$TD" <"$TD/in" {w}>&- &
	p=$!
	track "$p"
	wait_until 10 eval '[[ $(tick_numbers "$TD/out2" | wc -l) -ge 3 ]]' || fail "the second job does not tick"
	printf '\003' >&"$w"
	wait "$p" && fail "the checker passed a job whose stdin is not its terminal"
	grep -q "ctty BAD: fd 0" "$TD/out2" || fail "no complaint about fd 0: $(tr -d '\r' <"$TD/out2" | tail -n1)"
	exec {w}>&-
}

# a job of a shell's terminal: refused without --shell-job, dumped with it, restored with it
# onto another terminal (memdump's), where it goes on printing and takes Ctrl-C
test_shell_job() {
	local w p1 p2 job2 tty1 tty2 n1 f
	need_memdump
	mkfifo "$TD/in2"
	exec {w}<>"$TD/in2"
	"$E2E/ptyrun" -o "$TD/out1" -t "$TD/tty1" -p "$TD/job1" -- "$E2E/dumpee_tty" "$TD" </dev/null {w}>&- &
	p1=$!
	track "$p1"
	wait_until 10 eval '[[ -s $TD/job1 && $(tick_numbers "$TD/out1" | wc -l) -ge 5 ]]' ||
		fail "the job does not tick on its pty: $(cat "$TD/out1")"
	PID=$(cat "$TD/job1")
	track "$PID"
	# the restoring terminal exists already: it cannot be the first one again
	"$E2E/ptyrun" -o "$TD/out2" -t "$TD/tty2" -p "$TD/job2" -- sh -c \
		'while [ ! -e "$1/go" ]; do sleep 0.05; done; exec "$2" restore --shell-job -D "$1/img"' \
		sh "$TD" "$MEMDUMP" <"$TD/in2" {w}>&- &
	p2=$!
	track "$p2"
	wait_until 10 eval '[[ -s $TD/job2 ]]' || fail "the second pty did not start"
	tty1=$(cat "$TD/tty1")
	tty2=$(cat "$TD/tty2")
	log "job $PID on $tty1, restore to come on $tty2"

	md dump0 dump -t "$PID" -D "$TD/img0" && fail "a job on a shell's terminal was dumped without --shell-job"
	grep -q -- "--shell-job" "$TD/dump0.err" || fail "the refusal does not suggest --shell-job: $(md_why dump0)"
	n1=$(last_tick "$TD/out1")
	wait_until 10 eval '[[ $(last_tick "$TD/out1") -ge $((n1 + 3)) ]]' || fail "the job stopped after the refused dump"

	dump_and_kill "$PID" "$TD/img" --shell-job
	wait "$p1"
	n1=$(last_tick "$TD/out1")
	log "the job printed up to tick $n1 on $tty1"

	md restore0 restore -D "$TD/img" -d && fail "a shell job was restored without --shell-job"
	grep -q -- "--shell-job" "$TD/restore0.err" || fail "the refusal does not say --shell-job: $(md_why restore0)"
	md restore1 restore -D "$TD/img" -d --shell-job </dev/null && fail "restored --shell-job without a terminal"
	grep -q "controlling terminal" "$TD/restore1.err" || fail "the refusal does not say why: $(md_why restore1)"
	fully_gone "$PID" || fail "a refused restore left $PID behind"

	: >"$TD/go"
	wait_until 20 eval 'alive "$PID" && [[ $(tick_numbers "$TD/out2" | wc -l) -ge 5 ]]' ||
		fail "the job does not tick on $tty2 after the restore: $(tr -d '\r' <"$TD/out2" | head -n5)"
	job2=$(cat "$TD/job2")
	[[ $(stat_field "$PID" 7) == $(tty_nr_of "$tty2") ]] ||
		fail "controlling terminal $(stat_field "$PID" 7), expected $(tty_nr_of "$tty2") ($tty2)"
	for f in 0 1 2; do
		[[ $(readlink "/proc/$PID/fd/$f") == "$tty2" ]] ||
			fail "fd $f is $(readlink "/proc/$PID/fd/$f"), expected $tty2"
	done
	[[ $(stat_field "$PID" 5) == "$job2" ]] || fail "group $(stat_field "$PID" 5), expected memdump's $job2"
	[[ $(stat_field "$PID" 8) == "$job2" ]] || fail "foreground group of $tty2 is $(stat_field "$PID" 8), not the job's"
	printf '\003' >&"$w"
	wait "$p2" || fail "after Ctrl-C: exit $?: $(tr -d '\r' <"$TD/out2" | grep -v '^tick' | head -n3)"
	grep -q "ctty ok" "$TD/out2" || fail "no verdict after Ctrl-C: $(tr -d '\r' <"$TD/out2" | tail -n2)"
	{ tick_numbers "$TD/out1"; tick_numbers "$TD/out2"; } >"$TD/ticks"
	consecutive "$TD/ticks" || fail "ticks across the dump: $(consecutive "$TD/ticks")"
	[[ $(tick_numbers "$TD/out2" | head -n1) == $((n1 + 1)) ]] || fail "the restored job did not go on from $n1"
	exec {w}>&-
}

ALL_TESTS+=(shell_job_selftest shell_job)

# --- inotify and files deleted while open (dumpee_inotify, dumpee_ghost) ------------------

test_inotify_selftest() {
	mkdir -p "$TD/w"
	selftest_ok "$E2E/dumpee_inotify" "$TD/w"
}

test_inotify_detects_corruption() {
	local what
	for what in wd mask oneshot flags gone; do
		rm -rf "$TD/status" "$TD/w"
		mkdir -p "$TD/w"
		corruption_noticed "$E2E/dumpee_inotify" "$what" "$TD/w"
	done
}

# start_inotify [ARGS...]: dumpee_inotify in wait mode on $TD/w; sets PID and STATUS
start_inotify() {
	STATUS=$TD/status
	mkdir -p "$TD/w"
	spawn inotify "$E2E/dumpee_inotify" "$@" "$STATUS" "$TD/w"
	PID=$SPAWNED
	wait_until 20 status_ready "$STATUS" ||
		fail "dumpee_inotify did not get ready: $(cat "$STATUS" "$TD/inotify.err" 2>/dev/null)"
}

# two instances whose watches have gaps in their wds come back with the same wds, masks and
# flags, and deliver the events of the restored tree
test_inotify() {
	need_memdump
	start_inotify
	dump_and_kill "$PID" "$TD/img"
	md show show "$TD/img" || fail "memdump show failed"
	grep -q '"FD_INOTIFY"' "$TD/show.out" || fail "show has no inotify fd"
	grep -q "\"path\": \"$TD/w/b\"" "$TD/show.out" || fail "show does not name the watched '$TD/w/b'"
	restore_detached "$TD/img" "$PID"
	trigger_check "$PID"
}

# a watch on a file system whose handles cannot be opened again (proc): refused, named, and
# the process runs on untouched
test_inotify_unresolvable_refused() {
	need_memdump
	start_inotify -p
	md dump dump -t "$PID" -D "$TD/img" && fail "dump of a watch on /proc succeeded"
	grep -q '^memdump: error: fd 3 of [0-9]* is inotify, watch 5 (inode [0-9]* on 0:[0-9]*): cannot find its path' \
		"$TD/dump.err" ||
		fail "unclear refusal: $(md_why dump)"
	alive "$PID" || fail "process $PID died after a failed dump"
	trigger_check "$PID"
}

test_ghost_selftest() {
	mkdir -p "$TD/g"
	selftest_ok "$E2E/dumpee_ghost" "$TD/g"
}

test_ghost_detects_corruption() {
	local what
	for what in content hole offset size linked share mode cwd dirmode; do
		rm -rf "$TD/status" "$TD/g"
		mkdir -p "$TD/g"
		corruption_noticed "$E2E/dumpee_ghost" "$what" "$TD/g"
	done
}

# start_ghost [ARGS...]: dumpee_ghost in wait mode on $TD/g; sets PID and STATUS
start_ghost() {
	STATUS=$TD/status
	mkdir -p "$TD/g"
	spawn ghost "$E2E/dumpee_ghost" "$@" "$STATUS" "$TD/g"
	PID=$SPAWNED
	wait_until 20 status_ready "$STATUS" ||
		fail "dumpee_ghost did not get ready: $(cat "$STATUS" "$TD/ghost.err" 2>/dev/null)"
}

# deleted files come back deleted, with their bytes, holes, size, mode, offsets and sharing,
# a removed directory (an fd's and the cwd) removed and empty, and they leave no name behind
test_ghost() {
	need_memdump
	start_ghost
	dump_and_kill "$PID" "$TD/img"
	[[ -f $TD/img/pages-ghost-1.img && -f $TD/img/pages-ghost-2.img ]] ||
		fail "no data files for the two deleted files: $(ls "$TD/img")"
	restore_detached "$TD/img" "$PID"
	[[ -z $(ls -A "$TD/g") ]] || fail "the restore left names in $TD/g: $(ls -A "$TD/g")"
	trigger_check "$PID"
}

# a deleted file over --ghost-limit: refused with the fd, path, size and the option, the
# process left running; a higher limit dumps it
test_ghost_too_big() {
	need_memdump
	start_ghost -b 2097152
	md dump dump -t "$PID" -D "$TD/img" && fail "dump of a 2 MiB deleted file succeeded with the default limit"
	grep -q "^memdump: error: fd 24 of $PID is the deleted file '$TD/g/big' of 2097152 bytes.*--ghost-limit" \
		"$TD/dump.err" || fail "unclear refusal: $(md_why dump)"
	[[ -z $(ls -A "$TD/img" 2>/dev/null) ]] || fail "the failed dump left files: $(ls "$TD/img")"
	alive "$PID" || fail "process $PID died after a failed dump"
	dump_and_kill "$PID" "$TD/img2" --ghost-limit 2M
	restore_detached "$TD/img2" "$PID"
	[[ $(stat -L -c %s "/proc/$PID/fd/24") == 2097152 ]] || fail "the big file did not come back whole"
	trigger_check "$PID"
}

# a working directory removed with its parent (rm -rf): refused with the reason, as restore
# makes a removed directory again in its parent; the process runs on, and once it leaves
# for the parent's parent the dump takes it
test_ghost_parent_removed() {
	local py
	need_memdump
	py=$(python3_real) || exit
	mkdir -p "$TD/x/y"
	spawn cwdgone "$py" -c 'import os, sys, time
os.chdir(sys.argv[1] + "/x/y")
open(sys.argv[1] + "/ready", "w").close()
while not os.path.exists(sys.argv[1] + "/leave"):
    time.sleep(0.02)
os.chdir(sys.argv[1])
open(sys.argv[1] + "/left", "w").close()
time.sleep(1000)' "$TD"
	PID=$SPAWNED
	wait_until 20 test -e "$TD/ready" || fail "the process did not start: $(cat "$TD/cwdgone.err")"
	rm -rf "$TD/x"
	md dump dump -t "$PID" -D "$TD/img" && fail "the dump of a cwd removed with its parent succeeded"
	grep -q "the working directory of $PID: '$TD/x/y (deleted)' is in a directory removed too" "$TD/dump.err" ||
		fail "unclear refusal: $(md_why dump)"
	alive "$PID" || fail "process $PID died after a failed dump"
	touch "$TD/leave"
	wait_until 20 test -e "$TD/left" || fail "the process did not go on after the failed dump"
	rm -rf "$TD/img"
	dump_and_kill "$PID" "$TD/img"
}

# a missing, truncated or corrupt data file of a deleted file: refused before any process
test_ghost_corrupt_image() {
	local how
	need_memdump
	start_ghost
	dump_and_kill "$PID" "$TD/img"
	for how in missing truncated flipped; do
		rm -rf "$TD/bad"
		cp -a "$TD/img" "$TD/bad"
		case $how in
		missing) rm "$TD/bad/pages-ghost-1.img" ;;
		truncated) truncate -s -4096 "$TD/bad/pages-ghost-1.img" ;;
		flipped) flip_byte "$TD/bad/pages-ghost-1.img" 4100 ;; # in the first chunk, raw or zstd
		esac
		md "restore-$how" restore -D "$TD/bad" -d && fail "restore with a $how ghost data file succeeded"
		grep -q "pages-ghost-1.img" "$TD/restore-$how.err" || fail "$how: unclear refusal: $(md_why "restore-$how")"
		fully_gone "$PID" || fail "$how: the failed restore left process $PID"
		[[ -z $(ls -A "$TD/g") ]] || fail "$how: the failed restore left files in $TD/g: $(ls -A "$TD/g")"
	done
	restore_detached "$TD/img" "$PID"
	trigger_check "$PID"
}

# --- files deleted while mapped, and a deleted exe (dumpee_ghostmap) -----------------------

# ghostmap_copy: a copy of dumpee_ghostmap in $TD/gm, for it to run from and delete
ghostmap_copy() {
	rm -rf "$TD/gm" "$TD/status"
	mkdir -p "$TD/gm"
	install -m 0755 "$E2E/dumpee_ghostmap" "$TD/gm/exe"
}

test_ghostmap_selftest() {
	ghostmap_copy
	selftest_ok "$TD/gm/exe" "$TD/gm"
}

test_ghostmap_detects_corruption() {
	local what
	for what in content cow share mode size wonly; do
		ghostmap_copy
		corruption_noticed "$TD/gm/exe" "$what" "$TD/gm"
	done
}

# start_ghostmap: dumpee_ghostmap in wait mode from its copy; sets PID and STATUS
start_ghostmap() {
	STATUS=$TD/status
	ghostmap_copy
	spawn ghostmap "$TD/gm/exe" "$STATUS" "$TD/gm"
	PID=$SPAWNED
	wait_until 20 status_ready "$STATUS" ||
		fail "dumpee_ghostmap did not get ready: $(cat "$STATUS" "$TD/ghostmap.err" 2>/dev/null)"
}

# files deleted while mapped (private, written copy-on-write, shared twice and held by an
# fd) and the deleted exe come back deleted, with their bytes, modes, sizes and sharing
test_ghostmap() {
	need_memdump
	start_ghostmap
	dump_and_kill "$PID" "$TD/img"
	md show show "$TD/img" || fail "memdump show failed"
	grep -q '"mapped"' "$TD/show.out" || fail "show has no mapped deleted files"
	grep -q '"exe_ghost"' "$TD/show.out" || fail "show does not give the exe as a deleted file"
	restore_detached "$TD/img" "$PID"
	[[ -z $(ls -A "$TD/gm") ]] || fail "the restore left names in $TD/gm: $(ls -A "$TD/gm")"
	trigger_check "$PID"
}

# the names are taken when the restore comes (an upgraded library and binary): the new files
# are left alone, and the deleted ones come back under temporary names
test_ghostmap_name_taken() {
	need_memdump
	start_ghostmap
	dump_and_kill "$PID" "$TD/img"
	echo new library >"$TD/gm/lib"
	echo new binary >"$TD/gm/exe"
	restore_detached "$TD/img" "$PID"
	[[ $(cat "$TD/gm/lib") == "new library" && $(cat "$TD/gm/exe") == "new binary" ]] ||
		fail "the restore changed the files that took the names"
	[[ $(ls -A "$TD/gm" | tr '\n' ' ') == "exe lib " ]] ||
		fail "the restore left names in $TD/gm: $(ls -A "$TD/gm")"
	readlink "/proc/$PID/exe" | grep -q "^$TD/gm/\.memdump-ghost-[0-9]*-[0-9]* (deleted)$" ||
		fail "the exe is $(readlink "/proc/$PID/exe")"
	trigger_check "$PID"
}

# a mapped deleted file over --ghost-limit: refused with the mapping, path, size and the
# option, the process left running
test_ghostmap_too_big() {
	need_memdump
	start_ghostmap
	md dump dump -t "$PID" -D "$TD/img" --ghost-limit 8K && fail "dump of a 16 KiB mapped deleted file succeeded"
	local want="^memdump: error: mapping 0x[0-9a-f]*-0x[0-9a-f]* of $PID is the deleted file '$TD/gm/lib'"
	grep -q "$want of 16384 bytes.*--ghost-limit" \
		"$TD/dump.err" || fail "unclear refusal: $(md_why dump)"
	[[ -z $(ls -A "$TD/img" 2>/dev/null) ]] || fail "the failed dump left files: $(ls "$TD/img")"
	alive "$PID" || fail "process $PID died after a failed dump"
	trigger_check "$PID"
}

ALL_TESTS+=(
	inotify_selftest
	inotify_detects_corruption
	inotify
	inotify_unresolvable_refused
	ghost_selftest
	ghost_detects_corruption
	ghost
	ghost_too_big
	ghost_corrupt_image
	ghost_parent_removed
	ghostmap_selftest
	ghostmap_detects_corruption
	ghostmap
	ghostmap_name_taken
	ghostmap_too_big
)

# --- seccomp filters, strict mode and no_new_privs (dumpee_seccomp) ----------------------

test_seccomp_selftest() {
	selftest_ok "$E2E/dumpee_seccomp"
}

test_seccomp_detects_corruption() {
	local what
	for what in nofilter nonnp notsync nostrict; do
		corruption_noticed "$E2E/dumpee_seccomp" "$what"
	done
}

# start_seccomp [ARGS...]: dumpee_seccomp in wait mode; sets PID and STATUS
start_seccomp() {
	grep -q '^seccomp_filters: yes' <("$MEMDUMP" check) ||
		skip "memdump cannot suspend and read seccomp filters here (memdump check: seccomp_filters)"
	start_dumpee seccomp "$@"
}

# seccomp_state DIR: each process's threads (mode, newest filter, no_new_privs) and filters
seccomp_state() {
	"$MEMDUMP" show "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for name in sorted(k for k in d if k.startswith("core-")):
    c = d[name]["payload"]
    for t in c["threads"]:
        print(name, t["tid"], t.get("seccomp_mode", 0), t.get("seccomp_filter", 0), t.get("no_new_privs", False))
    for i, f in enumerate(c.get("seccomp_filters", [])):
        print(name, "filter", i, f.get("parent", 0), f.get("flags", 0), f["prog"])
'
}

# a tree whose filters kill it for syscalls memdump runs in it: dumped and restored with every
# thread's filters, strict mode and no_new_privs, threads sharing filters as before; a dump of
# the restored tree finds what the first one found
test_seccomp() {
	need_memdump
	command -v python3 >/dev/null || skip "python3 is needed to read memdump show"
	start_seccomp
	dump_and_kill "$PID" "$TD/img"
	seccomp_state "$TD/img" >"$TD/state1" || fail "memdump show failed"
	[[ $(grep -c ' filter ' "$TD/state1") -eq 4 ]] || fail "not 4 filters (A, C, A, E): $(cat "$TD/state1")"
	grep -q ' filter [0-9]* [0-9]* 2 ' "$TD/state1" ||
		fail "no filter with SECCOMP_FILTER_FLAG_LOG: $(cat "$TD/state1")"
	restore_detached "$TD/img" "$PID"
	md dump2 dump -t "$PID" -D "$TD/img2" --leave-running || fail "second dump failed: $(md_why dump2)"
	seccomp_state "$TD/img2" >"$TD/state2" || fail "memdump show failed"
	diff "$TD/state1" "$TD/state2" >"$TD/state.diff" ||
		fail "the restored tree's seccomp state differs: $(cat "$TD/state.diff")"
	trigger_check "$PID"
}

# a filter that hands syscalls to a supervisor: refused, named, the tree left running
test_seccomp_notify_refused() {
	need_memdump
	start_seccomp -n
	md dump dump -t "$PID" -D "$TD/img" && fail "dump of a SECCOMP_RET_USER_NOTIF filter succeeded"
	grep -q "^memdump: error: thread $PID runs a seccomp filter that hands syscalls to a supervisor" \
		"$TD/dump.err" ||
		fail "unclear refusal: $(md_why dump)"
	[[ -z $(ls -A "$TD/img" 2>/dev/null) ]] || fail "the failed dump left files: $(ls "$TD/img")"
	alive "$PID" || fail "process $PID died after a failed dump"
	trigger_check "$PID"
}

ALL_TESTS+=(seccomp_selftest seccomp_detects_corruption seccomp seccomp_notify_refused)

# --- scheduling and process-wide settings (dumpee_sched) ---------------------------------

test_sched_selftest() {
	selftest_ok "$E2E/dumpee_sched"
}

test_sched_detects_corruption() {
	local what
	for what in nice slack ioprio pin fifo oom subreaper thp mdwe membarrier childthp childoom; do
		corruption_noticed "$E2E/dumpee_sched" "$what"
	done
}

# sched_state DIR: each process's header flags and settings, each thread's scheduling
sched_state() {
	"$MEMDUMP" show "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for name in sorted(k for k in d if k.startswith("core-")):
    c = d[name]["payload"]
    print(name, "flags", d[name]["header"]["flags"], *(c.get(k) for k in
          ("oom_score_adj", "child_subreaper", "thp_disable", "mdwe", "membarrier", "loginuid")))
    for t in c["threads"]:
        print(name, t["tid"], json.dumps(t.get("sched"), sort_keys=True))
'
}

# threads under five policies, with their own nice values, I/O priorities, timer slack and
# CPUs, in processes with their own OOM adjustment, subreaper flag, THP and MDWE settings,
# membarrier registrations and login uid: restored with all of it by a memdump confined to
# CPU 0, whose CPUs the threads that were not pinned must not get; a dump of the restored
# tree finds what the first one found
test_sched() {
	need_memdump
	command -v python3 >/dev/null || skip "python3 is needed to read memdump show"
	command -v taskset >/dev/null || skip "taskset (util-linux) is needed"
	start_dumpee sched
	dump_and_kill "$PID" "$TD/img"
	sched_state "$TD/img" >"$TD/state1" || fail "memdump show failed"
	grep -q "^core-$PID.img flags 8 321 True" "$TD/state1" ||
		fail "R's settings or the header flag are not in the image: $(cat "$TD/state1")"
	grep -q '"policy": 1, "priority": 10' "$TD/state1" || fail "T1's SCHED_FIFO is not in the image"
	printf '#!/bin/sh\nexec taskset -c 0 "%s" "$@"\n' "$MEMDUMP" >"$TD/memdump-cpu0"
	chmod +x "$TD/memdump-cpu0"
	MEMDUMP=$TD/memdump-cpu0 restore_detached "$TD/img" "$PID"
	md dump2 dump -t "$PID" -D "$TD/img2" --leave-running || fail "second dump failed: $(md_why dump2)"
	sched_state "$TD/img2" >"$TD/state2" || fail "memdump show failed"
	diff "$TD/state1" "$TD/state2" >"$TD/state.diff" ||
		fail "the restored tree's scheduling or settings differ: $(cat "$TD/state.diff")"
	trigger_check "$PID"
}

ALL_TESTS+=(sched_selftest sched_detects_corruption sched)

# --- credentials: ids, groups, capabilities, securebits, dumpable (dumpee_creds) ----------

test_creds_selftest() {
	selftest_ok "$E2E/dumpee_creds"
}

test_creds_detects_corruption() {
	local what
	for what in rootgroups rootbnd groups fsuid bounding ambient secbits dumpable pdeathsig; do
		corruption_noticed "$E2E/dumpee_creds" "$what"
	done
}

# creds_state DIR: each process's dumpable and each thread's credentials, as memdump show gives them
creds_state() {
	"$MEMDUMP" show "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for name in sorted(k for k in d if k.startswith("core-")):
    c = d[name]["payload"]
    print(name, "dumpable", c.get("dumpable"), "flags", d[name]["header"]["flags"])
    for t in c["threads"]:
        print(name, t["tid"], json.dumps(t.get("creds"), sort_keys=True))
'
}

# a tree of threads with their own ids, groups, capability sets and securebits, dumpable or
# not, one under a seccomp filter that fails setresuid(): restored with every thread's
# credentials; a dump of the restored tree finds what the first one found
test_creds() {
	need_memdump
	command -v python3 >/dev/null || skip "python3 is needed to read memdump show"
	start_dumpee creds
	dump_and_kill "$PID" "$TD/img"
	creds_state "$TD/img" >"$TD/state1" || fail "memdump show failed"
	grep -q '"uid": \[4250, 4251, 4252, 4253\]' "$TD/state1" || fail "P1's uids are not in the image: $(cat "$TD/state1")"
	restore_detached "$TD/img" "$PID"
	md dump2 dump -t "$PID" -D "$TD/img2" --leave-running || fail "second dump failed: $(md_why dump2)"
	creds_state "$TD/img2" >"$TD/state2" || fail "memdump show failed"
	diff "$TD/state1" "$TD/state2" >"$TD/state.diff" ||
		fail "the restored tree's credentials differ: $(cat "$TD/state.diff")"
	trigger_check "$PID"
}

# a memdump without a capability a thread of the image holds refuses before any process
# exists, naming the thread and the capability
test_creds_cap_lacking_refused() {
	need_memdump
	command -v setpriv >/dev/null || skip "setpriv (util-linux) is needed"
	start_dumpee creds
	dump_and_kill "$PID" "$TD/img"
	log "setpriv --bounding-set -chown memdump restore"
	timeout -k 5 "$MD_TIMEOUT" setpriv --bounding-set -chown "$MEMDUMP" restore -D "$TD/img" -d \
		>"$TD/restore.out" 2>"$TD/restore.err" && fail "restore by a memdump without CAP_CHOWN succeeded"
	grep -q "^memdump: error: thread [0-9]* of [0-9]* holds capabilities memdump lacks: CAP_CHOWN:" "$TD/restore.err" ||
		fail "unclear refusal: $(head -n3 "$TD/restore.err")"
	[[ $(wc -l <"$TD/restore.err") -eq 1 ]] || fail "more than one line: $(cat "$TD/restore.err")"
	alive "$PID" && fail "the refused restore created $PID"
	return 0
}

# a memdump whose bounding set lacks a capability that an unprivileged process has in its
# bounding set only restores it, warning once, without that capability; the rest is kept
test_creds_bounding_dropped() {
	need_memdump
	command -v setpriv >/dev/null || skip "setpriv (util-linux) is needed"
	local before after b1 b2 n
	# the log is its stdout, which spawn opens: the scratch directory is root's alone
	: >"$TD/counter.out"
	chown 4260:4261 "$TD/counter.out"
	ln -s counter.out "$TD/counter.log"
	spawn counter setpriv --reuid 4260 --regid 4261 --clear-groups "$E2E/counter" -i 20 /dev/stdout
	PID=$SPAWNED
	wait_until 10 eval '[[ -s $TD/counter.log ]]' || fail "counter did not start: $(cat "$TD/counter.err")"
	before=$(grep -E '^(Uid|Gid|Groups|Cap(Inh|Prm|Eff|Bnd|Amb)):' "/proc/$PID/status")
	grep -q '^CapBnd:.*[13579bdf]$' <<<"$before" || skip "the counter's bounding set lacks CAP_CHOWN already"
	dump_and_kill "$PID" "$TD/img"
	log "setpriv --bounding-set -chown memdump restore"
	timeout -k 5 "$MD_TIMEOUT" setpriv --bounding-set -chown "$MEMDUMP" restore -D "$TD/img" -d \
		>"$TD/restore.out" 2>"$TD/restore.err" ||
		fail "restore without CAP_CHOWN failed: $(cat "$TD/restore.err")"
	[[ $(cat "$TD/restore.err") =~ ^"memdump: warning: thread $PID of $PID (and maybe others): bounding and "\
"inheritable capabilities memdump lacks are dropped: CAP_CHOWN"$ ]] ||
		fail "no single warning naming CAP_CHOWN: $(cat "$TD/restore.err")"
	alive "$PID" || fail "the restored counter does not run"
	after=$(grep -E '^(Uid|Gid|Groups|Cap(Inh|Prm|Eff|Bnd|Amb)):' "/proc/$PID/status")
	# CapBnd's last hex digit loses bit 0 (CAP_CHOWN); every other line is as it was
	diff <(sed -E '/^CapBnd:/s/.$//' <<<"$before") <(sed -E '/^CapBnd:/s/.$//' <<<"$after") >"$TD/creds.diff" ||
		fail "credentials changed: $(cat "$TD/creds.diff")"
	b1=$(sed -n 's/^CapBnd:\t*//p' <<<"$before")
	b2=$(sed -n 's/^CapBnd:\t*//p' <<<"$after")
	[[ $((0x$b1 & ~1)) -eq $((0x$b2)) ]] ||
		fail "bounding set: before $(grep CapBnd <<<"$before"), after $(grep CapBnd <<<"$after")"
	n=$(wc -l <"$TD/counter.log")
	wait_until 10 eval '[[ $(wc -l <"$TD/counter.log") -ge $((n + 10)) ]]' ||
		fail "the restored counter does not count: $(tail -n2 "$TD/counter.log" | tr '\n' ' ')"
	consecutive "$TD/counter.log" || fail "counter lines are not consecutive: $(consecutive "$TD/counter.log")"
	# its command line does not name $TD, which kill_tracked looks for
	kill -KILL "$PID"
	wait_until 10 gone "$PID" || fail "cannot kill $PID"
}

ALL_TESTS+=(creds_selftest creds_detects_corruption creds creds_cap_lacking_refused creds_bounding_dropped)

# --- pseudo-terminals (dumpee_pty) -------------------------------------------------------

test_pty_selftest() {
	selftest_ok "$E2E/dumpee_pty"
}

test_pty_detects_corruption() {
	local what
	for what in winsize fg hup lock; do
		corruption_noticed "$E2E/dumpee_pty" "$what"
	done
}

# start_pty: dumpee_pty ready, its children tracked too; sets PID, STATUS and PTY_A (its
# session's terminal's index, as the image will say)
start_pty() {
	local p
	start_dumpee pty
	for p in $(descendants "$PID"); do
		track "$p"
	done
	PTY_A=$(awk '$1 == "tty-index:" { print $2; exit }' "/proc/$PID/fdinfo/3")
	[[ -n $PTY_A ]] || fail "no tty-index in the fdinfo of the master of pty A"
}

# a session's terminal with its foreground group and termios, a hung-up pty, a locked one in
# packet mode, a second description of a slave; the same through a session of ptys' users
test_pty() {
	need_memdump
	start_pty
	dump_and_kill "$PID" "$TD/img"
	grep -q '"sid"' <("$MEMDUMP" show "$TD/img/ptys.img") || fail "ptys.img names no session"
	restore_detached "$TD/img" "$PID"
	trigger_check "$PID"
}

# twice: what the first restore made dumps and restores the same (no flag of memdump's own left)
test_pty_twice() {
	need_memdump
	start_pty
	dump_and_kill "$PID" "$TD/img"
	restore_detached "$TD/img" "$PID"
	dump_and_kill "$PID" "$TD/img2"
	restore_detached "$TD/img2" "$PID"
	trigger_check "$PID"
}

# a pty end held by a process outside the tree: refused (that process would keep the index and
# lose its pty), the tree left running
test_pty_outside_refused() {
	need_memdump
	start_pty
	exec {h}<>"/dev/pts/$PTY_A"
	dump_refused "/dev/pts/$PTY_A of the tree is also held by process"
	exec {h}>&-
	trigger_check "$PID"
}

# a dump that leaves the tree running changes nothing in its ptys (no slave opened or closed)
test_pty_leave_running() {
	need_memdump
	start_pty
	md dump dump -t "$PID" -D "$TD/img" -R || fail "memdump dump -R failed: $(md_why dump)"
	trigger_check "$PID"
}

# the pty's index taken on this host meanwhile: refused before any process exists, restored
# once it is free again
test_pty_index_taken() {
	need_memdump
	start_pty
	dump_and_kill "$PID" "$TD/img"
	spawn hold python3 "$HERE/pty_hold.py" take "$PTY_A" "$TD/hold"
	local hold=$SPAWNED
	wait_until 20 grep -q '^READY' "$TD/hold" || fail "pty_hold.py: $(cat "$TD/hold" "$TD/hold.err" 2>/dev/null)"
	track "$PID"
	md restore0 restore -D "$TD/img" -d && fail "restored with /dev/pts/$PTY_A in use"
	grep -qF "/dev/pts/$PTY_A is in use" "$TD/restore0.err" || fail "refused for another reason: $(md_why restore0)"
	fully_gone "$PID" || fail "the refused restore left process $PID behind"
	kill -KILL "$hold"
	wait "$hold" 2>/dev/null
	restore_detached "$TD/img" "$PID"
	trigger_check "$PID"
}

# a slave whose master is held outside the tree: refused, the process left running
test_pty_slave_only_refused() {
	need_memdump
	spawn hold python3 "$HERE/pty_hold.py" slave "$TD/hold"
	wait_until 20 grep -q '^READY' "$TD/hold" || fail "pty_hold.py: $(cat "$TD/hold" "$TD/hold.err" 2>/dev/null)"
	PID=$(cut -d' ' -f2 "$TD/hold")
	track "$PID"
	dump_refused "whose master (/dev/ptmx) no process of the tree holds"
}

ALL_TESTS+=(pty_selftest pty_detects_corruption pty pty_twice pty_leave_running pty_index_taken pty_slave_only_refused
	pty_outside_refused)

# --- netlink sockets (netlink_tree.py) ---------------------------------------------------

# nl_ns_up: a network namespace of the test's own, $NS_NL, lo up; $TD/in-nl CMD runs CMD in it
nl_ns_up() {
	command -v ip >/dev/null || skip "no 'ip' command (iproute2)"
	command -v nsenter >/dev/null || skip "no 'nsenter' command (util-linux)"
	NS_NL=md-nl-$$
	trap 'ip netns pids "$NS_NL" 2>/dev/null | xargs -r kill -9 2>/dev/null; ip netns del "$NS_NL" 2>/dev/null' EXIT
	ip netns add "$NS_NL" 2>"$TD/netns.err" || skip "cannot make a network namespace: $(cat "$TD/netns.err")"
	ip -n "$NS_NL" link set lo up || fail "cannot set lo up in $NS_NL"
	printf '#!/bin/sh\nexec nsenter --net=/run/netns/%s "$@"\n' "$NS_NL" >"$TD/in-nl"
	printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$TD/in-nl" "$MEMDUMP" >"$TD/memdump-nl"
	chmod +x "$TD/in-nl" "$TD/memdump-nl"
}

# start_netlink MODE: netlink_tree.py MODE in $NS_NL, ready; sets PID and STATUS
start_netlink() {
	STATUS=$TD/status
	rm -f "$STATUS"
	spawn netlink "$TD/in-nl" python3 "$HERE/netlink_tree.py" "$1" "$STATUS"
	PID=$SPAWNED
	wait_until 20 status_ready "$STATUS" ||
		fail "netlink_tree.py did not get ready: $(cat "$STATUS" "$TD/netlink.err" 2>/dev/null)"
}

# route, uevent and generic netlink sockets come back bound to their port ids, in their groups,
# connected, with their options; the route socket then gets the notification of an address
# added after the restore and answers a request
test_netlink() {
	need_memdump
	nl_ns_up
	"$TD/in-nl" python3 "$HERE/netlink_tree.py" selftest "$TD/self" </dev/null ||
		fail "selftest: $(cat "$TD/self" 2>/dev/null)"
	start_netlink wait
	MEMDUMP=$TD/memdump-nl dump_and_kill "$PID" "$TD/img"
	MEMDUMP=$TD/memdump-nl restore_detached "$TD/img" "$PID"
	ip -n "$NS_NL" addr add 10.78.0.1/32 dev lo || fail "cannot add 10.78.0.1 to lo in $NS_NL"
	trigger_check "$PID"
}

# the answer to a request the process has not read: refused (it would wait for it forever); so
# is one on a socket in groups, where notifications arrive too
test_netlink_unread_refused() {
	need_memdump
	local mode
	nl_ns_up
	for mode in unread grouped; do
		start_netlink "$mode"
		MEMDUMP=$TD/memdump-nl dump_refused "netlink socket (protocol 0)"
		grep -qE "holding messages it has not read|still answering" "$TD/dump.err" ||
			fail "$mode: refused for another reason: $(md_why dump)"
		kill -KILL "$PID"
	done
}

ALL_TESTS+=(netlink netlink_unread_refused)

# --- namespaces (dumpee_ns) ----------------------------------------------------------------

need_unshare() {
	command -v unshare >/dev/null || skip "no 'unshare' command (util-linux)"
	unshare --pid --fork --uts true 2>"$TD/unshare.err" || skip "cannot make namespaces: $(cat "$TD/unshare.err")"
}

# start_ns UNSHARE_OPTS DUMPEE_OPTS: dumpee_ns under unshare, ready; PID is the dumpee (not unshare)
start_ns() {
	local opts=$1 child
	STATUS=$TD/status
	rm -f "$STATUS"
	# shellcheck disable=SC2086
	spawn ns unshare $opts "$E2E/dumpee_ns" $2 "$STATUS"
	wait_until 20 status_ready "$STATUS" || fail "dumpee_ns did not get ready: $(cat "$STATUS" "$TD/ns.err" 2>/dev/null)"
	PID=$SPAWNED
	# with --fork, the dumpee is unshare's child; without, unshare runs it itself
	if [[ $opts == *--fork* ]]; then
		PID=$(first_child "$SPAWNED")
		[[ -n $PID ]] || fail "unshare has no child"
	fi
	track "$PID"
}

# first_child PID: its first child's pid (empty if none)
first_child() {
	local kids
	kids=$(cat "/proc/$1/task/$1/children" 2>/dev/null)
	echo "${kids%% *}"
}

# ns_of PID KIND: the namespace's link (kind:[inode])
ns_of() {
	readlink "/proc/$1/ns/$2"
}

# the checks of dumpee_ns pass without a dump and fail when something is broken
test_ns_selftest() {
	need_unshare
	local what rc
	unshare --pid --fork --uts "$E2E/dumpee_ns" -m selftest -p -t -u md-self "$TD/status" </dev/null ||
		fail "selftest: $(head -n1 "$TD/status")"
	head -n1 "$TD/status" | grep -qx OK || fail "selftest: $(head -n1 "$TD/status")"
	for what in pid group host pending timer fg shared; do
		rm -f "$TD/status"
		unshare --pid --fork --uts "$E2E/dumpee_ns" -m corrupt -c "$what" -p -t -u md-self "$TD/status" \
			</dev/null 2>/dev/null
		rc=$?
		((rc == 1)) || fail "corrupting '$what': exit $rc, expected 1: $(head -n1 "$TD/status")"
		grep -q '^FAIL: ' "$TD/status" || fail "corrupting '$what' was not reported"
		log "$what: $(head -n1 "$TD/status")"
	done
}

# a tree in a UTS namespace of its own (not a PID one) comes back in a new one with its names;
# a signal queued by tgkill() to a thread other than the leader comes back too
test_ns_uts() {
	need_memdump
	need_unshare
	local host
	host=$(hostname)
	start_ns --uts "-u md-uts-$$"
	[[ $(ns_of "$PID" uts) != "$(ns_of self uts)" ]] || fail "the dumpee is in our UTS namespace"
	dump_and_kill "$PID" "$TD/img"
	"$MEMDUMP" show "$TD/img/inventory.img" | grep -q "\"uts_hostname\": \"md-uts-$$\"" ||
		fail "the inventory has no host name: $("$MEMDUMP" show "$TD/img/inventory.img")"
	restore_detached "$TD/img" "$PID"
	[[ $(ns_of "$PID" uts) != "$(ns_of self uts)" ]] || fail "restored into memdump's UTS namespace"
	[[ $(hostname) == "$host" ]] || fail "the host's name is now $(hostname)"
	trigger_check "$PID"
}

# a tree whose root is the init of a PID namespace of its own (and in a UTS one, with a pty
# session): the same ids at both levels, twice over
test_ns_pid() {
	need_memdump
	need_unshare
	local host round kids k
	host=$(hostname)
	start_ns "--pid --fork --uts" "-p -t -u md-pid-$$"
	kids=$(cat "/proc/$PID/task/$PID/children")
	[[ $(grep NSpid "/proc/$PID/status") == "NSpid:"$'\t'"$PID"$'\t'1 ]] || fail "the root is not pid 1 inside"
	for round in 1 2; do
		dump_and_kill "$PID" "$TD/img$round"
		for k in $kids; do
			wait_until 10 fully_gone "$k" || fail "$k is still there after the dump"
		done
		"$MEMDUMP" show "$TD/img$round/inventory.img" | grep -q '"pid_ns": true' || fail "round $round: no pid_ns"
		restore_detached "$TD/img$round" "$PID"
		[[ $(ns_of "$PID" pid) != "$(ns_of self pid)" ]] || fail "round $round: restored into memdump's PID namespace"
		[[ $(grep NSpid "/proc/$PID/status") == "NSpid:"$'\t'"$PID"$'\t'1 ]] ||
			fail "round $round: $(grep NSpid "/proc/$PID/status")"
		[[ $(cat "/proc/$PID/task/$PID/children") == "$kids" ]] ||
			fail "round $round: children $(cat "/proc/$PID/task/$PID/children"), were $kids"
		for k in $kids; do
			# a zombie has none
			[[ $(proc_state "$k") == Z || $(ns_of "$k" pid) == "$(ns_of "$PID" pid)" ]] ||
				fail "round $round: $k is in $(ns_of "$k" pid), $PID in $(ns_of "$PID" pid)"
		done
		[[ $(hostname) == "$host" ]] || fail "the host's name is now $(hostname)"
	done
	trigger_check "$PID"
}

# spawn_nested NAME CMD...: spawn CMD (unshare --fork ...), whose child (INIT) has a child (PID)
spawn_nested() {
	spawn "$@"
	sleep 0.3
	INIT=$(first_child "$SPAWNED")
	PID=$(first_child "$INIT")
	track "$PID"
}

# the same in a PID namespace alone, the usual `unshare --pid --fork`
test_ns_pid_only() {
	need_memdump
	need_unshare
	start_ns "--pid --fork" "-p"
	dump_and_kill "$PID" "$TD/img"
	restore_detached "$TD/img" "$PID"
	[[ $(ns_of "$PID" pid) != "$(ns_of self pid)" ]] || fail "restored into memdump's PID namespace"
	[[ $(ns_of "$PID" uts) == "$(ns_of self uts)" ]] || fail "restored into a UTS namespace of its own"
	trigger_check "$PID"
}

# `unshare --pid --fork --mount-proc`: the mount namespace comes back, with a /proc of the new
# PID namespace; one with other mounts, or a file of that /proc open, is refused
test_ns_mount_proc() {
	need_memdump
	need_unshare
	unshare --pid --fork --mount-proc true 2>/dev/null || skip "cannot mount a /proc in a new namespace"
	start_ns "--pid --fork --mount-proc" "-p -P -t"
	dump_and_kill "$PID" "$TD/img"
	"$MEMDUMP" show "$TD/img/inventory.img" | grep -q '"mnt_ns": true' || fail "no mnt_ns in the inventory"
	restore_detached "$TD/img" "$PID"
	[[ $(ns_of "$PID" mnt) != "$(ns_of self mnt)" ]] || fail "restored into memdump's mount namespace"
	[[ $(tr '\0' ' ' <"/proc/$PID/root/proc/1/cmdline") == *dumpee_ns* ]] || fail "its /proc/1 is not the root"
	trigger_check "$PID"

	rm -rf "$TD/img"
	spawn_nested mounted unshare --pid --fork --mount-proc sh -c 'mount -t tmpfs md-test /mnt && exec sleep 1000'
	PID=$INIT
	dump_refused "differs from memdump's at '/mnt' (a mount the tree has and memdump has not"
	kill -KILL "$INIT" "$SPAWNED" 2>/dev/null
	spawn_nested procfd unshare --pid --fork --mount-proc sh -c 'exec 7</proc/1/status; exec sleep 1000'
	PID=$INIT
	dump_refused "fd 7 of $INIT is a file of /proc (/proc/1/status)"
	kill -KILL "$INIT" "$SPAWNED" 2>/dev/null
	# mounts that propagate: the restore would make them private
	spawn_nested shared unshare --pid --fork --mount-proc --propagation shared sleep 1000
	PID=$INIT
	dump_refused "is shared or a slave"
	kill -KILL "$INIT" "$SPAWNED" 2>/dev/null
	# a working directory in memdump's /proc, which the tree's covers
	spawn_nested procdir sh -c 'cd /proc/self && exec unshare --pid --fork --mount-proc sleep 1000'
	PID=$INIT
	dump_refused "the working directory of $INIT is in /proc"
	kill -KILL "$INIT" "$SPAWNED" 2>/dev/null

	# the same mounts nested otherwise: here x on a and y on a/b (in x); in the tree y on a/b
	# (in the directory under a), hidden under x on a
	mkdir -p "$TD/srv/x/b" "$TD/srv/y" "$TD/a/b"
	echo x >"$TD/srv/x/b/which"
	echo y >"$TD/srv/y/which"
	trap 'umount -l "$TD/a/b" "$TD/a" 2>/dev/null' EXIT
	mount --bind "$TD/srv/x" "$TD/a" && mount --bind "$TD/srv/y" "$TD/a/b" || fail "cannot bind-mount in $TD"
	spawn_nested nested unshare --pid --fork --mount-proc sh -c \
		'umount "$1/a/b" && umount "$1/a" && mount --bind "$1/srv/y" "$1/a/b" && mount --bind "$1/srv/x" "$1/a" &&
		 exec sleep 1000' sh "$TD"
	PID=$INIT
	wait_until 10 eval '[[ $(cat "/proc/$INIT/root$TD/a/b/which" 2>/dev/null) == x ]]' ||
		fail "the tree did not remount: $(cat "$TD/nested.err")"
	[[ $(cat "$TD/a/b/which") == y ]] || fail "our own a/b is not y"
	dump_refused "the tree's mount namespace differs from memdump's at"
	kill -KILL "$INIT" "$SPAWNED" 2>/dev/null
}

# ns_refused WHAT PATTERN CMD...: a dump of CMD's process (of its child if CMD is unshare
# --fork) is refused with PATTERN, and the process runs on
ns_refused() {
	local what=$1 want=$2
	shift 2
	spawn "$what" "$@"
	PID=$SPAWNED
	sleep 0.3
	[[ $* == unshare*--fork* ]] && PID=$(first_child "$SPAWNED")
	track "$PID"
	md dump dump -t "$PID" -D "$TD/img-$what" && fail "$what: the dump succeeded"
	grep -qE -- "$want" "$TD/dump.err" || fail "$what: refused for another reason: $(md_why dump)"
	[[ $(proc_state "$PID") == S ]] || fail "$what: $PID is in state $(proc_state "$PID") after the refusal"
	[[ -z $(ls -A "$TD/img-$what") ]] || fail "$what: the refused dump left files"
	pkill -KILL -P "$PID"
	kill -KILL "$PID" "$SPAWNED" 2>/dev/null
}

# user namespaces, nested ones, other mount forms, a time namespace for children only and a
# chroot are refused
test_ns_refused() {
	need_memdump
	need_unshare
	ns_refused user "another user namespace" unshare --user --map-root-user sleep 1000
	ns_refused mnt "another mount namespace than memdump's: not supported without a PID namespace.*nsenter -m" \
		unshare --mount sleep 1000
	ns_refused pidkids "another PID namespace for its children" unshare --pid sleep 1000
	# the innermost of two levels, and the outer init, which has the inner one for its children
	spawn_nested pid2 unshare --pid --fork unshare --pid --fork sleep 1000
	dump_refused "in a PID namespace 2 levels below memdump's"
	PID=$INIT
	dump_refused "another PID namespace for its children than the tree's root"
	kill -KILL "$SPAWNED" "$INIT" 2>/dev/null
	# a time namespace for its children that it is not in, or a process below the root in
	# another (the restore makes only one)
	if unshare --time true 2>/dev/null; then
		ns_refused timenested "is in another time namespace (for its children )?than the tree's root" \
			sh -c 'unshare --time --fork --kill-child sleep 1000 & wait'
		ns_refused timekids "another time namespace for its children than the tree's root" \
			python3 -c 'import ctypes, time; assert ctypes.CDLL(None).unshare(0x80) == 0; time.sleep(1000)'
	fi
	# a thread with a working directory of its own (unshare(CLONE_FS), 0x200)
	ns_refused threadcwd "has another working directory than its process" python3 -c '
import ctypes, os, threading, time
def own():
    assert ctypes.CDLL(None).unshare(0x200) == 0
    os.chdir("/tmp")
    time.sleep(1000)
threading.Thread(target=own).start()
time.sleep(1000)

	# the root of the tree must be the namespace's init: here the shell is, the sleep its child
	spawn_nested notinit unshare --pid --fork sh -c 'sleep 1000 & wait'
	dump_refused "must be that namespace's first process, pid 1"
	# a process that entered the namespace by setns() is not in the tree
	PID=$INIT
	nsenter -t "$INIT" -p sleep 1000 </dev/null >/dev/null 2>&1 &
	track $!
	sleep 0.3
	dump_refused "but not in the tree (it entered it with setns())"
	kill -KILL "$SPAWNED" "$INIT" 2>/dev/null
	# one process of the tree with a UTS namespace of its own
	ns_refused nested "another UTS namespace than the tree's root" sh -c 'unshare --uts sleep 1000 & wait'
	mkdir -p "$TD/jail"
	ns_refused chroot "another root directory than memdump's \(chroot\)" \
		python3 -c 'import os, time; os.chroot(os.sys.argv[1]); time.sleep(1000)' "$TD/jail"
}

# A double-forked daemon in a PID namespace: the namespace's init adopts it, in a session whose
# leader is gone, which no restore could rebuild: the dump refuses and the tree runs on
NS_DAEMON_CODE='
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(1000)
    os._exit(0)
time.sleep(1000)
'

# A zombie in a PID namespace below the process: its pid 1 there, exited (ctypes: Python 3.11
# has no os.unshare); the process itself is back in its own namespace for its children
NS_ZOMBIE_CODE='
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
own = os.open("/proc/self/ns/pid_for_children", os.O_RDONLY)
assert libc.unshare(0x20000000) == 0
if os.fork() == 0:
    os._exit(7)
assert libc.setns(own, 0x20000000) == 0
time.sleep(1000)
'

# refused_before_seize VICTIM NAME PREFIX...: `PREFIX memdump dump -t VICTIM` is refused, its /proc
# not of its PID namespace, and VICTIM is neither stopped nor traced
refused_before_seize() {
	local victim=$1 name=$2
	shift 2
	printf '#!/bin/sh\nexec %s %s "$@"\n' "$*" "$MEMDUMP" >"$TD/memdump-$name"
	chmod +x "$TD/memdump-$name"
	MEMDUMP=$TD/memdump-$name md "$name" dump -t "$victim" -D "$TD/img-$name" &&
		fail "$name: a dump with another PID namespace's /proc succeeded"
	grep -q "memdump's /proc is not of memdump's PID namespace" "$TD/$name.err" ||
		fail "$name: refused for another reason: $(md_why "$name")"
	[[ $(proc_state "$victim") == S ]] || fail "$name: $victim is in state $(proc_state "$victim")"
	grep -q '^TracerPid:[[:space:]]*0$' "/proc/$victim/status" || fail "$name: $victim is traced"
}

# trees whose image no restore could build are refused while they can still run, and a memdump
# whose /proc is of another PID namespace refuses before it seizes anything
test_ns_unrestorable_refused() {
	need_memdump
	need_unshare
	local victim init
	spawn_nested daemon unshare --pid --fork python3 -c "$NS_DAEMON_CODE"
	PID=$INIT
	# the daemon, adopted by the init once its parent is gone
	wait_until 10 eval '[[ $(pgrep -c -P "$INIT") -ge 1 ]]' || fail "no daemon in the namespace"
	dump_refused "a restore could not rebuild the tree: process"
	[[ $(proc_state "$INIT") == S ]] || fail "the daemon's init is in state $(proc_state "$INIT")"
	kill -KILL "$INIT" "$SPAWNED" 2>/dev/null

	spawn zombie python3 -c "$NS_ZOMBIE_CODE"
	PID=$SPAWNED
	sleep 0.5
	dump_refused "zombie"
	kill -KILL "$PID"

	# /proc of a namespace below memdump's: its pids are not the ones memdump would seize
	spawn victim sleep 1000
	victim=$SPAWNED
	spawn_nested mountproc unshare --pid --fork --mount-proc sleep 1000
	init=$INIT
	refused_before_seize "$victim" nsproc nsenter -m -t "$init"
	kill -KILL "$init" "$SPAWNED" 2>/dev/null
	# memdump in a PID namespace of its own, with the host's /proc
	refused_before_seize "$victim" inpidns unshare --pid --fork
	kill -KILL "$victim"
}

need_unshare_net() {
	command -v ip >/dev/null || skip "no 'ip' command (iproute2)"
	unshare --net ip link set lo up 2>"$TD/unshare.err" || skip "cannot make a network namespace: $(cat "$TD/unshare.err")"
}

# in_netns SETUP CMD...: exec CMD in a network namespace of its own, after the shell commands SETUP there
in_netns() {
	local setup=$1
	shift
	exec unshare --net sh -c "$setup"' && exec "$0" "$@"' "$@"
}

# netns_sysctl PID NAME: the sysctl net/NAME in the network namespace of PID
netns_sysctl() {
	nsenter -t "$1" -n cat "/proc/sys/net/$2"
}

# netns_sysctls PID: every readable and writable sysctl of the network namespace of PID, NAME:VALUE
netns_sysctls() {
	nsenter -t "$1" -n sh -c 'cd /proc/sys/net && find . -type f -perm -u=rw -exec grep -s -H "" {} + | sort'
}

# a tree in a network namespace of its own (unshare --net), holding every kind of socket and an
# established TCP connection over its loopback, with the loopback's MTU and three sysctls set:
# restored in a new namespace with them, the sockets working there; the host's sysctls untouched
test_ns_net() {
	need_memdump
	need_unshare_net
	need_tcp_repair
	local host_somaxconn pid_ns
	host_somaxconn=$(cat /proc/sys/net/core/somaxconn)
	STATUS=$TD/status
	rm -f "$STATUS"
	# and sysctls that take others along (all/ to every device) or depend on others (the local
	# port range must not go below the unprivileged start): their order matters
	spawn sock in_netns 'ip link set lo up mtu 9000 && echo "0 0" >/proc/sys/net/ipv4/ping_group_range &&
		echo 900 >/proc/sys/net/core/somaxconn && echo 2 >/proc/sys/net/ipv4/tcp_ecn &&
		echo 1 >/proc/sys/net/ipv4/conf/all/forwarding && echo 0 >/proc/sys/net/ipv4/conf/lo/forwarding &&
		echo 1 >/proc/sys/net/ipv6/conf/all/forwarding && echo 0 >/proc/sys/net/ipv6/conf/lo/forwarding &&
		echo 500 >/proc/sys/net/ipv4/ip_unprivileged_port_start &&
		echo "600 30000" >/proc/sys/net/ipv4/ip_local_port_range' \
		"$E2E/dumpee_sock" -m tcpconn "$STATUS" "$TD"
	PID=$SPAWNED
	wait_until 20 status_ready "$STATUS" ||
		fail "dumpee_sock did not get ready: $(cat "$STATUS" "$TD/sock.err" 2>/dev/null)"
	read -r _ _ CPID _ <"$STATUS"
	track "$CPID"
	[[ $(ns_of "$PID" net) != "$(ns_of self net)" ]] || fail "the dumpee is in our network namespace"
	netns_sysctls "$PID" >"$TD/sysctls.before"
	[[ $(wc -l <"$TD/sysctls.before") -gt 100 ]] || fail "read $(wc -l <"$TD/sysctls.before") sysctls"
	dump_and_kill "$PID" "$TD/img" --tcp-established
	wait_until 10 fully_gone "$CPID" || fail "C ($CPID) is not free after the dump"
	"$MEMDUMP" show "$TD/img/inventory.img" >"$TD/inv.json" || fail "memdump show failed"
	grep -q '"net_ns": true' "$TD/inv.json" || fail "the inventory has no net_ns: $(cat "$TD/inv.json")"
	grep -q '"name": "core/somaxconn"' "$TD/inv.json" || fail "the inventory lacks core/somaxconn"
	restore_detached "$TD/img" "$PID" --tcp-established
	alive "$CPID" || fail "C ($CPID) did not come back"
	pid_ns=$(ns_of "$PID" net)
	[[ $pid_ns != "$(ns_of self net)" ]] || fail "restored into memdump's network namespace"
	[[ $(ns_of "$CPID" net) == "$pid_ns" ]] || fail "C is in $(ns_of "$CPID" net), P in $pid_ns"
	[[ $(netns_sysctl "$PID" core/somaxconn) == 900 ]] || fail "somaxconn: $(netns_sysctl "$PID" core/somaxconn)"
	[[ $(netns_sysctl "$PID" ipv4/ping_group_range) == 0$'\t'0 ]] ||
		fail "ping_group_range: $(netns_sysctl "$PID" ipv4/ping_group_range)"
	[[ $(netns_sysctl "$PID" ipv4/tcp_ecn) == 2 ]] || fail "tcp_ecn: $(netns_sysctl "$PID" ipv4/tcp_ecn)"
	nsenter -t "$PID" -n ip -o link show lo | grep -q 'LOOPBACK,UP.* mtu 9000 ' ||
		fail "the loopback: $(nsenter -t "$PID" -n ip -o link show lo)"
	[[ $(cat /proc/sys/net/core/somaxconn) == "$host_somaxconn" ]] || fail "the host's somaxconn changed"
	# every sysctl as it was, the ones the writes took along too
	netns_sysctls "$PID" >"$TD/sysctls.after"
	diff "$TD/sysctls.before" "$TD/sysctls.after" >"$TD/sysctls.diff" ||
		fail "sysctls differ after the restore: $(head -n 5 "$TD/sysctls.diff" | tr '\n' ' ')"
	# only what a new namespace has otherwise is in the image
	(($(grep -c '"name": ' "$TD/inv.json") < 40)) || fail "the image has $(grep -c '"name": ' "$TD/inv.json") sysctls"
	# the restored namespace, dumped again, differs from a new one as the first did
	md dump2 dump -t "$PID" -D "$TD/img2" --tcp-established --leave-running || fail "dump again: $(md_why dump2)"
	"$MEMDUMP" show "$TD/img2/inventory.img" >"$TD/inv2.json" || fail "memdump show failed"
	diff <(sed -n '/"net_ns"/,$p' "$TD/inv.json") <(sed -n '/"net_ns"/,$p' "$TD/inv2.json") >"$TD/inv.diff" ||
		fail "the namespace dumped again differs: $(cat "$TD/inv.diff")"
	trigger_check "$PID"
	wait_until 10 fully_gone "$CPID" || fail "C ($CPID) is left after the check"
}

# the plainest: `unshare --net` with its loopback down, no sockets, a process that forks
test_ns_net_plain() {
	need_memdump
	need_unshare_net
	local kid
	spawn plain in_netns true sh -c 'sleep 1000 & wait'
	PID=$SPAWNED
	wait_until 10 eval '[[ -n $(first_child "$PID") ]]' || fail "no child"
	kid=$(first_child "$PID")
	# incremental: the tracker the pre-dump leaves is no outsider of the tree's namespace
	md pre pre-dump -t "$PID" -D "$TD/pre" || fail "pre-dump failed: $(md_why pre)"
	dump_and_kill "$PID" "$TD/img" --prev-images-dir ../pre
	wait_until 10 fully_gone "$kid" || fail "$kid is still there after the dump"
	restore_detached "$TD/img" "$PID"
	track "$kid"
	# (not compared with the dumped one, gone: the new one may have its number)
	[[ $(ns_of "$PID" net) != "$(ns_of self net)" ]] || fail "restored into memdump's network namespace"
	[[ $(ns_of "$kid" net) == "$(ns_of "$PID" net)" ]] || fail "the child is in $(ns_of "$kid" net)"
	nsenter -t "$PID" -n ip -o link show lo | grep -q '<LOOPBACK> ' ||
		fail "the loopback: $(nsenter -t "$PID" -n ip -o link show lo)"
	kill -KILL "$kid" "$PID"
}

# a network namespace with more than memdump keeps, or shared with others, is refused; the
# tree runs on
test_ns_net_refused() {
	need_memdump
	need_unshare_net
	ns_refused veth "has what a new one has not: 'link name v" \
		in_netns 'ip link add v0 type veth peer name v1' sleep 1000
	ns_refused addr "has what a new one has not: 'addr family 2 .* local 10.1.2.3 " \
		in_netns 'ip link set lo up && ip addr add 10.1.2.3/32 dev lo' sleep 1000
	ns_refused route "has what a new one has not: 'route family 2 table 254 .* dst 10.9.0.0 " \
		in_netns 'ip link set lo up && ip route add 10.9.0.0/16 dev lo' sleep 1000
	ns_refused rule "has what a new one has not: 'rule family 2 .*table 100 " \
		in_netns 'ip rule add from 10.0.0.0/8 table 100' sleep 1000
	ns_refused lo_addr_gone "lacks what a new one has: 'addr family 2 " \
		in_netns 'ip link set lo up && ip addr del 127.0.0.1/8 dev lo' sleep 1000
	[[ -x $E2E/nftctl ]] || fail "$E2E/nftctl is not built"
	ns_refused nft "has what a new one has not: 'nftables table family 1 name md_t'" \
		in_netns "$E2E/nftctl 'add table inet md_t'" sleep 1000
	# a process of the tree in yet another one
	ns_refused nested "another network namespace than the tree's root" \
		in_netns true sh -c 'unshare --net sleep 1000 & wait'
	# an outsider that entered it, and a bind mount of it
	spawn outsider in_netns true sleep 1000
	PID=$SPAWNED
	sleep 0.3
	nsenter -t "$PID" -n sleep 1000 </dev/null >/dev/null 2>&1 &
	track $!
	sleep 0.3
	dump_refused "is in the tree's network namespace but not in the tree"
	kill -KILL $! "$PID" 2>/dev/null
	# a thread of an outsider that entered it alone
	spawn thread in_netns true sleep 1000
	PID=$SPAWNED
	sleep 0.3
	python3 -c 'import ctypes, os, sys, threading, time
fd = os.open(sys.argv[1], os.O_RDONLY)
def enter():
    assert ctypes.CDLL(None).setns(fd, 0x40000000) == 0
    time.sleep(1000)
threading.Thread(target=enter, daemon=True).start()
time.sleep(1000)' "/proc/$PID/ns/net" </dev/null >/dev/null 2>&1 &
	track $!
	sleep 0.5
	dump_refused "is in the tree's network namespace but not in the tree"
	kill -KILL $! "$PID" 2>/dev/null
	spawn bound in_netns true sleep 1000
	PID=$SPAWNED
	sleep 0.3
	: >"$TD/netns"
	mount --bind "/proc/$PID/ns/net" "$TD/netns" || fail "cannot bind-mount the network namespace"
	dump_refused "network namespace is bind-mounted on $TD/netns"
	umount "$TD/netns"
	kill -KILL "$PID"
}

ALL_TESTS+=(ns_selftest ns_uts ns_pid ns_pid_only ns_mount_proc ns_refused ns_unrestorable_refused ns_net
	    ns_net_plain ns_net_refused)

# --- the tree's own time namespace (dumpee_ns -T) ------------------------------------------

need_timens() {
	need_unshare
	command -v nsenter >/dev/null || skip "no 'nsenter' command (util-linux)"
	unshare --time --fork --monotonic 1 true 2>"$TD/unshare.err" ||
		skip "cannot make a time namespace: $(cat "$TD/unshare.err")"
}

# uptime_of PID|self: CLOCK_BOOTTIME in PID's time namespace, as its /proc/uptime shows it
uptime_of() {
	if [[ $1 == self ]]; then
		cut -d' ' -f1 /proc/uptime
	else
		nsenter --time --target "$1" cut -d' ' -f1 /proc/uptime
	fi
}

# the clock checks of dumpee_ns -T pass in a time namespace that moves them and fail otherwise
test_ns_time_selftest() {
	need_timens
	local ahead=(--time --fork --monotonic 1000000000 --boottime 2000000000)
	unshare "${ahead[@]}" "$E2E/dumpee_ns" -m selftest -T 1000000000 "$TD/status" </dev/null ||
		fail "selftest: $(head -n1 "$TD/status")"
	unshare "${ahead[@]}" "$E2E/dumpee_ns" -m corrupt -c clock -T 1000000000 "$TD/status" </dev/null 2>/dev/null &&
		fail "a clock gone back was not seen"
	grep -q '^FAIL: R: the clocks went back' "$TD/status" || fail "corrupting 'clock': $(head -n1 "$TD/status")"
	"$E2E/dumpee_ns" -m selftest -T 1000000000 "$TD/status" </dev/null 2>/dev/null &&
		fail "the host's clock was taken for a namespace's"
	grep -q '^FAIL: R: CLOCK_MONOTONIC reads' "$TD/status" || fail "in the host's: $(head -n1 "$TD/status")"
}

# A tree in a time namespace of its own (unshare --time, its clocks 10^9 and 2 * 10^9 s ahead)
# comes back in a new one where they go on from the dump: never back, and not by the 3 s
# between the dump and the restore. Twice over (the second dump is of a restored tree), alone
# and with a PID namespace of its own.
test_ns_time() {
	need_memdump
	need_timens
	local opts round h1 t1 h2 t2
	for opts in "--time --fork" "--pid --fork --time"; do
		start_ns "$opts --monotonic 1000000000 --boottime 2000000000" "-T 1000000000 $([[ $opts == --pid* ]] && echo -p)"
		[[ $(ns_of "$PID" time) != "$(ns_of self time)" ]] || fail "the dumpee is in our time namespace"
		for round in 1 2; do
			h1=$(uptime_of self)
			t1=$(uptime_of "$PID")
			dump_and_kill "$PID" "$TD/img$round"
			"$MEMDUMP" show "$TD/img$round/inventory.img" | grep -q '"time_ns": true' ||
				fail "$opts, round $round: no time_ns in the inventory"
			sleep 3
			# without CAP_SYS_TIME no namespace can be made: refused before anything is
			if [[ $round == 1 ]] && command -v setpriv >/dev/null; then
				setpriv --inh-caps=-sys_time --bounding-set=-sys_time "$MEMDUMP" restore -D "$TD/img1" -d \
					>"$TD/nocap.out" 2>&1 && fail "restored without CAP_SYS_TIME"
				grep -q "memdump cannot make one here" "$TD/nocap.out" ||
					fail "without CAP_SYS_TIME: $(head -n1 "$TD/nocap.out")"
				alive "$PID" && fail "a process was left by the refused restore"
			fi
			restore_detached "$TD/img$round" "$PID"
			t2=$(uptime_of "$PID")
			h2=$(uptime_of self)
			[[ $(ns_of "$PID" time) != "$(ns_of self time)" ]] ||
				fail "$opts, round $round: restored into memdump's time namespace"
			log "$opts, round $round: the tree's CLOCK_BOOTTIME went from $t1 to $t2, the host's from $h1 to $h2"
			awk -v h1="$h1" -v h2="$h2" -v t1="$t1" -v t2="$t2" \
				'BEGIN { exit !(t1 >= 2000000000 && t2 >= t1 && t2 - t1 <= h2 - h1 - 2.5) }' ||
				fail "$opts, round $round: the tree's CLOCK_BOOTTIME went from $t1 to $t2, the host's from $h1 to $h2"
		done
		trigger_check "$PID"
		rm -rf "$TD/img1" "$TD/img2"
	done
}

ALL_TESTS+=(ns_time_selftest ns_time)

# --- the tree's own cgroup namespace ---------------------------------------------------------

# cgroups_seen PID: /proc/PID/cgroup as PID sees it (from inside its cgroup namespace)
cgroups_seen() {
	nsenter --cgroup --target "$1" cat "/proc/$1/cgroup"
}

# A tree in a cgroup namespace of its own, at its root (unshare --cgroup), comes back in a new
# one where it sees the same: alone, and with PID, mount, UTS and time namespaces of its own
# (the dumpee then checks its pids, names, terminal and clocks from inside; unshare itself
# would be in IPC and network ones). A thread not at the
# root (moved below it after the unshare) is refused.
test_ns_cgroup() {
	need_memdump
	need_unshare
	command -v nsenter >/dev/null || skip "no 'nsenter' command (util-linux)"
	unshare --cgroup --fork true 2>"$TD/unshare.err" || skip "cannot make a cgroup namespace: $(cat "$TD/unshare.err")"
	local before mnt self_path dir
	start_ns "--cgroup --fork" ""
	[[ $(ns_of "$PID" cgroup) != "$(ns_of self cgroup)" ]] || fail "the dumpee is in our cgroup namespace"
	before=$(cgroups_seen "$PID")
	grep -qv ':/$' <<<"$before" && fail "the dumpee is not at its namespace's root: $before"
	dump_and_kill "$PID" "$TD/img"
	"$MEMDUMP" show "$TD/img/inventory.img" | grep -q '"cgroup_ns": true' || fail "no cgroup_ns in the inventory"
	restore_detached "$TD/img" "$PID"
	[[ $(ns_of "$PID" cgroup) != "$(ns_of self cgroup)" ]] || fail "restored into memdump's cgroup namespace"
	[[ $(cgroups_seen "$PID") == "$before" ]] || fail "the tree sees $(cgroups_seen "$PID"), saw $before"
	trigger_check "$PID"
	rm -rf "$TD/img"

	if unshare --pid --fork --mount-proc --time true 2>/dev/null; then
		start_ns "--pid --fork --mount-proc --uts --time --monotonic 1000000000 --cgroup" \
			"-p -P -t -u md-all-$$ -T 1000000000"
		dump_and_kill "$PID" "$TD/img"
		restore_detached "$TD/img" "$PID"
		local k
		for k in pid mnt uts time cgroup; do
			[[ $(ns_of "$PID" $k) != "$(ns_of self $k)" ]] || fail "all: restored into memdump's $k namespace"
		done
		[[ $(cgroups_seen "$PID") == "$before" ]] || fail "all: the tree sees $(cgroups_seen "$PID"), saw $before"
		trigger_check "$PID"
		rm -rf "$TD/img"
	fi

	# a process moved below the namespace's root, in cgroup v2's hierarchy
	mnt=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
	self_path=$(sed -n 's/^0:://p' /proc/self/cgroup)
	dir=$mnt$self_path/md-e2e-$$
	if [[ -n $mnt ]] && mkdir "$dir" 2>/dev/null; then
		spawn below unshare --cgroup --fork sh -c "echo \$\$ >'$dir/cgroup.procs' && exec sleep 1000"
		sleep 0.3
		PID=$(first_child "$SPAWNED")
		track "$PID"
		dump_refused "process $PID (thread $PID) is not at the root of the tree's cgroup namespace ('0::/md-e2e-$$')"
		kill -KILL "$PID" "$SPAWNED" 2>/dev/null
		wait_until 10 gone "$PID"
		rmdir "$dir" || fail "cannot remove $dir"
	else
		log "no cgroup v2 hierarchy to make a cgroup in: the refusal is not tried"
	fi
	return 0
}

ALL_TESTS+=(ns_cgroup)

# --- the tree's own IPC namespace (dumpee_ipc) -------------------------------------------

test_ipc_selftest() {
	selftest_ok "$E2E/dumpee_ipc"
}

test_ipc_detects_corruption() {
	local what
	for what in semval big msg owner unattached id sysctl pmsg pmode pfd; do
		corruption_noticed "$E2E/dumpee_ipc" "$what"
	done
}

# ipc_objects PID: the SysV objects of PID's IPC namespace, as one line each (kind, key, id,
# mode, size, counts, owner, creator of a set or queue), its POSIX queues (name, mode, owner,
# bytes queued, from an mqueue file system mounted in a mount namespace of the call's own)
# and its sysctls
ipc_objects() {
	mkdir -p "$TD/mqueue"
	{
		nsenter -t "$1" -i sh -c '
			awk "NR > 1 { print \"shm\", \$1, \$2, \$3, \$4, \$7, \$8, \$9 }" /proc/sysvipc/shm
			awk "NR > 1 { print \"sem\", \$1, \$2, \$3, \$4, \$5, \$6, \$7, \$8 }" /proc/sysvipc/sem
			awk "NR > 1 { print \"msg\", \$1, \$2, \$3, \$4, \$5, \$8, \$9, \$10, \$11 }" /proc/sysvipc/msg
			cd /proc/sys && grep . kernel/shm* kernel/msgm* kernel/sem fs/mqueue/*'
		nsenter -t "$1" -i unshare -m sh -c 'mount -t mqueue none "$1" && cd "$1" &&
			for q in *; do echo "mq $q $(stat -c "%a %u %g" "$q") $(head -c 16 "$q")"; done' sh "$TD/mqueue"
	} 2>&1 | sort
}

# dumped and restored, every object and sysctl comes back under its id, the blocked children
# go on, and the host's IPC namespace has nothing more
test_ns_ipc() {
	local before host
	need_memdump
	# dump -R gives the semop() waiting in it EINTR, as a stop does: -e takes it again
	start_dumpee ipc -e
	read -r _ PID <"$STATUS"
	before=$(ipc_objects "$PID")
	log "objects: $before"
	# the keyed objects (0x4d495301..3, in decimal)
	[[ $(grep -cE '^[a-z]+ 12966510(09|10|11) ' <<<"$before") -eq 3 ]] ||
		fail "the dumpee's objects are not all there: $before"
	[[ $(grep -c '^mq dumpee_ipc_' <<<"$before") -eq 4 ]] ||
		fail "the dumpee's POSIX queues are not all there: $before"
	# a dump that lets the tree go on takes the POSIX queues' messages out and puts them back as they were
	md dump dump -R -t "$PID" -D "$TD/img-R" || fail "memdump dump -R failed: $(md_why dump)"
	[[ $(ipc_objects "$PID") == "$before" ]] ||
		fail "objects after dump -R differ: $(diff <(echo "$before") <(ipc_objects "$PID") | tr '\n' ' ')"
	host=$(cat /proc/sysvipc/shm /proc/sysvipc/sem /proc/sysvipc/msg | awk 'NR > 1 { print $2 }' | sort)
	dump_and_kill "$PID" "$TD/img"
	[[ -s $TD/img/ipcns.img ]] || fail "the image has no ipcns.img"
	"$MEMDUMP" show "$TD/img/ipcns.img" >"$TD/ipcns.json" || fail "memdump show ipcns.img failed"
	grep -q '"kernel/msgmnb"' "$TD/ipcns.json" || fail "kernel/msgmnb is not in the image"
	grep -q '"fs/mqueue/msg_max"' "$TD/ipcns.json" || fail "fs/mqueue/msg_max is not in the image"
	grep -q '"dumpee_ipc_jobs"' "$TD/ipcns.json" || fail "POSIX queue dumpee_ipc_jobs is not in the image"
	! grep -q '"kernel/msgmax"' "$TD/ipcns.json" || fail "kernel/msgmax, left alone, is in the image"
	restore_detached "$TD/img" "$PID"
	[[ $(ns_of "$PID" ipc) != "$(ns_of self ipc)" ]] || fail "restored into memdump's IPC namespace"
	[[ $(ipc_objects "$PID") == "$before" ]] ||
		fail "objects after the restore differ: $(diff <(echo "$before") <(ipc_objects "$PID") | tr '\n' ' ')"
	[[ $(cat /proc/sysvipc/shm /proc/sysvipc/sem /proc/sysvipc/msg | awk 'NR > 1 { print $2 }' | sort) == "$host" ]] ||
		fail "the restore left objects in memdump's IPC namespace"
	kill -USR1 "$PID" || fail "cannot signal $PID"
	wait_until 30 status_final "$STATUS" || fail "no check result within 30 s"
	head -n1 "$STATUS" | grep -qx OK || fail "ipc check: $(head -n1 "$STATUS")"
}

# ipc_refused WHAT WANT [DUMPEE ARGS...]: the dump of dumpee_ipc refuses with WANT, changes
# nothing (the dumpee's checks pass after it)
ipc_refused() {
	local what=$1 want=$2
	shift 2
	start_dumpee ipc "$@"
	read -r _ PID <"$STATUS"
	md dump dump -t "$PID" -D "$TD/img-$what" && fail "$what: the dump succeeded"
	grep -qF -- "$want" "$TD/dump.err" || fail "$what: refused for another reason: $(md_why dump)"
	[[ -z $(ls -A "$TD/img-$what") ]] || fail "$what: the refused dump left files"
}

# dumpee_ok WHAT: the dumpee $PID, told to check (SIGUSR1), reports OK
dumpee_ok() {
	kill -USR1 "$PID" || fail "cannot signal $PID"
	wait_until 30 status_final "$STATUS" || fail "$1: no check result within 30 s"
	head -n1 "$STATUS" | grep -qx OK || fail "$1: the dumpee's check: $(head -n1 "$STATUS")"
}

test_ns_ipc_refused() {
	need_memdump
	need_unshare
	# the freeze gives the semop() waiting in it EINTR, as a stop does: -e takes it again
	ipc_refused notify "POSIX message queue '/dumpee_ipc_jobs' of the tree's IPC namespace" -n -e
	dumpee_ok notify
	ipc_refused rmid "attached by no process, with kernel.shm_rmid_forced set" -r -e
	dumpee_ok rmid
	# a process outside, in memdump's namespace, holding one of the tree's POSIX queues
	start_dumpee ipc -e
	read -r _ PID <"$STATUS"
	spawn holder "$E2E/dumpee_mq" -m hold -t "$PID" -q /dumpee_ipc_jobs "$TD/holder.status"
	wait_until 30 status_ready "$TD/holder.status" || fail "the holder did not get ready: $(cat "$TD/holder.err")"
	dump_refused "POSIX message queue '/dumpee_ipc_jobs' of the tree's IPC namespace (of $PID) is held by $SPAWNED"
	kill -KILL "$SPAWNED"
	dumpee_ok holder
	# an outsider that entered it, and a bind mount of it
	start_dumpee ipc -e
	read -r _ PID <"$STATUS"
	nsenter -t "$PID" -i sleep 1000 </dev/null >/dev/null 2>&1 &
	track $!
	sleep 0.3
	dump_refused "is in the tree's IPC namespace but not in the tree"
	kill -KILL $!
	: >"$TD/ipcns"
	mount --bind "/proc/$PID/ns/ipc" "$TD/ipcns" || fail "cannot bind-mount the IPC namespace"
	dump_refused "IPC namespace is bind-mounted on $TD/ipcns"
	umount "$TD/ipcns"
	dumpee_ok outsider
	# a process of the tree in yet another one
	ns_refused nested "another IPC namespace than the tree's root" sh -c 'unshare --ipc sleep 1000 & wait'
	return 0
}

ALL_TESTS+=(ipc_selftest ipc_detects_corruption ns_ipc ns_ipc_refused)

# --- a POSIX message queue of memdump's IPC namespace (dumpee_mq) -------------------------

MQ_PATH=/memdump_e2e_mq

# the queue outlives the processes: remove it however the test ends
mq_cleanup() {
	python3 -c 'import ctypes, sys
for n in sys.argv[1:]: ctypes.CDLL(None).mq_unlink(n.encode())' "$MQ_PATH" "${MQ_PATH}_c" 2>/dev/null
	return 0
}

test_mq_selftest() {
	trap mq_cleanup EXIT
	selftest_ok "$E2E/dumpee_mq"
}

test_mq_detects_corruption() {
	local what
	trap mq_cleanup EXIT
	for what in msg fdflags accmode; do
		corruption_noticed "$E2E/dumpee_mq" "$what"
	done
}

# the queue is the host's: it outlives the dump, with its messages, and the restored fds are on it
test_mq() {
	need_memdump
	trap mq_cleanup EXIT
	start_dumpee mq
	read -r _ PID <"$STATUS"
	dump_and_kill "$PID" "$TD/img"
	"$MEMDUMP" show "$TD/img" >"$TD/show.json" || fail "memdump show failed"
	grep -q '"FD_MQUEUE"' "$TD/show.json" || fail "no FD_MQUEUE in the image"
	grep -q "\"$MQ_PATH\"" "$TD/show.json" || fail "the queue's name is not in the image"
	[[ ! -e $TD/img/ipcns.img ]] || fail "the host's IPC namespace went into the image"
	restore_detached "$TD/img" "$PID"
	dumpee_ok mq
}

# the queue removed between the dump and the restore: the restore fails before any process, naming it
test_mq_gone() {
	need_memdump
	trap mq_cleanup EXIT
	start_dumpee mq
	read -r _ PID <"$STATUS"
	dump_and_kill "$PID" "$TD/img"
	mq_cleanup
	md restore restore -D "$TD/img" -d && fail "restore succeeded without the queue"
	grep -qF "('$MQ_PATH'): No such file or directory" "$TD/restore.err" ||
		fail "unclear refusal: $(md_why restore)"
	fully_gone "$PID" || fail "the failed restore left a process"
}

# refused with WANT, and the dumpee goes on untouched
mq_refused() {
	local what=$1 want=$2
	shift 2
	start_dumpee mq "$@"
	read -r _ PID <"$STATUS"
	dump_refused "$want"
	[[ -z $(ls -A "$TD/img") ]] || fail "$what: the refused dump left files"
	dumpee_ok "$what"
}

test_mq_refused() {
	need_memdump
	trap mq_cleanup EXIT
	mq_refused unlinked "is POSIX message queue '$MQ_PATH (deleted)', removed (mq_unlink()) while open" -u
	mq_refused notify "is POSIX message queue '$MQ_PATH', for whose notification" -n
}

ALL_TESTS+=(mq_selftest mq_detects_corruption mq mq_gone mq_refused)

# --- the runner --------------------------------------------------------------------------

PASSED=0
FAILED=0
SKIPPED=0

cleanup() {
	local d
	for d in "$WORK"/*/; do
		kill_tracked "${d%/}"
	done
	if [[ $FAILED -eq 0 && -z ${E2E_KEEP:-} ]]; then
		rm -rf "$WORK"
	else
		echo "scratch directory kept: $WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

run_one() {
	local name=$1 rc why
	TD=$WORK/$name
	mkdir -p "$TD"
	(
		cd "$TD" || exit 1
		"test_$name"
	) >"$TD/log" 2>&1
	rc=$?
	kill_tracked "$TD"
	drop_nft_tables "$TD"
	drop_links "$TD"
	why=$(head -n1 "$TD/why" 2>/dev/null)
	case $rc in
	0)
		echo "PASS $name"
		PASSED=$((PASSED + 1))
		;;
	77)
		echo "SKIP $name: ${why:-skipped}"
		SKIPPED=$((SKIPPED + 1))
		;;
	*)
		echo "FAIL $name: ${why:-exit status $rc}"
		sed 's/^/    | /' "$TD/log" | tail -n 60
		FAILED=$((FAILED + 1))
		;;
	esac
}

if [[ $# -gt 0 ]]; then
	TESTS=("$@")
else
	TESTS=("${ALL_TESTS[@]}")
fi
for t in "${TESTS[@]}"; do
	if ! declare -F "test_$t" >/dev/null; then
		echo "FAIL $t: no such test"
		FAILED=$((FAILED + 1))
		continue
	fi
	run_one "$t"
done

echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[[ $FAILED -eq 0 ]]
