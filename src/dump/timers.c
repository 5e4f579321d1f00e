/*
 * The POSIX timers of a frozen process: what /proc/PID/timers shows, and
 * the time left and period that only timer_gettime() in the process
 * tells, by remote syscalls. Timers the restore could not make again the
 * same way are refused here, each with one line. Pending timer signals
 * are none of this file's business: they are in the pending queues.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <sys/syscall.h>

#include "dump/internal.h"
#include "memdump/inject.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "memdump/proc.h"

/* CPU-time clocks (include/linux/posix-timers.h): ~pid << 3 | per-thread << 2 | which */
#define CPUCLOCK_PID(c) ((pid_t) ~((c) >> 3))
#define CPUCLOCK_PERTHREAD(c) (((c) & 4) != 0)
#define CPUCLOCK_WHICH(c) ((c) & 3)
#define CPUCLOCK_MAX 3		/* 3 is CLOCKFD: a dynamic clock behind an fd */

static bool has_thread(const struct md_proc *p, pid_t tid)
{
	for (size_t i = 0; i < p->n_threads; i++)
		if (p->threads[i].tid == tid)
			return true;
	return false;
}

/* whether the restore can make t again with its clock and its target; logs why not */
static int check_timer(const struct md_proc *p, const struct md_posix_timer *t)
{
	int c = t->clockid;
	bool thread_clock = c == CLOCK_THREAD_CPUTIME_ID;

	if (c < 0) {
		pid_t who = CPUCLOCK_PID(c);

		if (CPUCLOCK_WHICH(c) >= CPUCLOCK_MAX)
			return log_refuse("timer %d of %d runs on a dynamic clock (clock id %d): not supported",
					  t->id, p->pid, c);
		if (who && (CPUCLOCK_PERTHREAD(c) ? !has_thread(p, who) : who != p->pid))
			return log_refuse("timer %d of %d counts the CPU time of %s %d, outside the process: "
					  "not supported", t->id, p->pid,
					  CPUCLOCK_PERTHREAD(c) ? "thread" : "process", who);
		thread_clock = !who && CPUCLOCK_PERTHREAD(c);
	} else if (!md_timer_clock_fixed(c)) {
		return log_refuse("timer %d of %d runs on clock %d: not supported", t->id, p->pid, c);
	}
	/* the thread that called timer_create() is not shown: with one thread, there is no doubt */
	if (thread_clock && p->n_threads > 1)
		return log_refuse("timer %d of %d counts the CPU time of the thread that made it, which "
				  "the kernel does not show: not supported in a process of %zu threads",
				  t->id, p->pid, p->n_threads);
	if (t->notify & SIGEV_THREAD_ID && !has_thread(p, t->notify_tid))
		return log_refuse("timer %d of %d signals thread %d, which is not one of its threads",
				  t->id, p->pid, t->notify_tid);
	return 0;
}

int dump_posix_timers(struct md_proc *p, struct inject_ctx *c, uint64_t scratch)
{
	struct md_posix_timer *t = NULL;
	size_t n = 0;
	int r;

	r = proc_read_timers(p->pid, &t, &n);
	if (r < 0)
		return log_err(r, "cannot read /proc/%d/timers", p->pid);
	for (size_t i = 0; i < n; i++) {
		struct itimerspec its;	/* the kernel's on x86_64 */
		int64_t res;

		r = check_timer(p, &t[i]);
		if (r < 0)
			goto fail;
		r = inject_syscall(c, SYS_timer_gettime, (uint64_t)t[i].id, scratch, 0, 0, 0, 0, &res);
		if (r >= 0 && res < 0)
			r = (int)res;
		if (r >= 0)
			r = inject_read_mem(p->pid, scratch, &its, sizeof(its));
		if (r < 0) {
			log_err(r, "cannot read timer %d of %d (timer_gettime)", t[i].id, p->pid);
			goto fail;
		}
		t[i].interval_ns = md_timespec_ns(&its.it_interval);
		t[i].value_ns = md_timespec_ns(&its.it_value);
		r = inject_syscall(c, SYS_timer_getoverrun, (uint64_t)t[i].id, 0, 0, 0, 0, 0, &res);
		if (r < 0) {
			log_err(r, "cannot read timer %d of %d (timer_getoverrun)", t[i].id, p->pid);
			goto fail;
		}
		t[i].overrun = res < 0 ? 0 : (int32_t)res;
	}
	free(p->posix_timers);
	p->posix_timers = t;
	p->n_posix_timers = n;
	return 0;
fail:
	free(t);
	return r;
}
