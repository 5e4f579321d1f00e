/*
 * POSIX timers of a restored process, by remote syscalls in its leader:
 * made (with their ids) once its threads exist, since a timer may signal
 * one of them, and armed with the time they had left as late as the
 * process allows, right before it runs. The ids come back through
 * PR_TIMER_CREATE_RESTORE_IDS where the kernel has it; elsewhere by making
 * timers in id order from a new process's first id (0) and deleting those
 * in the gaps. Pending timer signals are queued with the others (thread.c).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>

#include "compat/prctl.h"
#include "memdump/log.h"
#include "restore/internal.h"

/* scratch layout: past files.c's SCRATCH_PATH + PATH_MAX */
#define SCRATCH_SIGEVENT 20480	/* struct sigevent, 64 bytes */
#define SCRATCH_TIMER_ID 20608	/* int */
#define SCRATCH_ITIMERSPEC 20672	/* struct itimerspec, 32 bytes */

/* the kernel's sigevent_t on x86_64 */
struct ksigevent {
	uint64_t value;
	int32_t signo;
	int32_t notify;
	int32_t tid;
	int32_t pad[11];
};

/* one timer_create() in rp for t; the id it got (or -errno of the target) in *ret */
static int create_one(struct restore_proc *rp, const struct md_posix_timer *t, int32_t want, int32_t *ret)
{
	struct ksigevent ev = {
		.value = t->sigval,
		.signo = t->signo,
		.notify = t->notify,
		.tid = t->notify & SIGEV_THREAD_ID ? restore_thread_ns_id(&rp->p, t->notify_tid) : 0,
	};
	int64_t res;
	int r;

	r = inject_write_mem(rp->pid, rp->scratch + SCRATCH_SIGEVENT, &ev, sizeof(ev));
	if (r >= 0)
		r = inject_write_mem(rp->pid, rp->scratch + SCRATCH_TIMER_ID, &want, sizeof(want));
	if (r < 0)
		return log_err(r, "cannot write to %d", rp->pid);
	r = restore_rcall(rp, "timer_create", SYS_timer_create, (uint64_t)(int64_t)t->clockid,
			  rp->scratch + SCRATCH_SIGEVENT, rp->scratch + SCRATCH_TIMER_ID, 0, 0, 0, &res);
	if (r < 0)
		return r;
	if (res < 0) {
		*ret = (int32_t)res;
		return 0;
	}
	r = inject_read_mem(rp->pid, rp->scratch + SCRATCH_TIMER_ID, ret, sizeof(*ret));
	if (r < 0)
		return log_err(r, "cannot read from %d", rp->pid);
	return 0;
}

/* each with its id asked for: PR_TIMER_CREATE_RESTORE_IDS on while we make them */
static int make_with_ids(struct restore_proc *rp)
{
	const struct md_proc *p = &rp->p;
	int r, r2;

	r = restore_rcall_ok(rp, "prctl(PR_TIMER_CREATE_RESTORE_IDS)", SYS_prctl, PR_TIMER_CREATE_RESTORE_IDS,
			     PR_TIMER_CREATE_RESTORE_IDS_ON, 0, 0, 0, 0);
	if (r < 0)
		return r;
	for (size_t i = 0; i < p->n_posix_timers && r >= 0; i++) {
		const struct md_posix_timer *t = &p->posix_timers[i];
		int32_t got = -1;

		r = create_one(rp, t, t->id, &got);
		if (r >= 0 && got != t->id)
			r = log_err(got < 0 ? got : -EEXIST, "cannot make timer %d of %d again%s", t->id, p->pid,
				    got < 0 ? "" : " with its id");
	}
	r2 = restore_rcall_ok(rp, "prctl(PR_TIMER_CREATE_RESTORE_IDS)", SYS_prctl, PR_TIMER_CREATE_RESTORE_IDS,
			      PR_TIMER_CREATE_RESTORE_IDS_OFF, 0, 0, 0, 0);
	return r < 0 ? r : r2;
}

/* without the prctl: a new process gives ids 0, 1, 2...; those in gaps are deleted again */
static int make_in_order(struct restore_proc *rp)
{
	const struct md_proc *p = &rp->p;

	for (size_t i = 0; i < p->n_posix_timers; i++) {
		const struct md_posix_timer *t = &p->posix_timers[i];
		int32_t got = -1;
		int r;

		for (;;) {
			r = create_one(rp, t, 0, &got);
			if (r < 0)
				return r;
			if (got < 0)
				return log_err(got, "cannot make timer %d of %d again", t->id, p->pid);
			if (got >= t->id)
				break;
			r = restore_rcall_ok(rp, "timer_delete", SYS_timer_delete, (uint64_t)got, 0, 0, 0, 0, 0);
			if (r < 0)
				return r;
		}
		if (got != t->id)
			return log_err(-EEXIST, "timer %d of %d came back as timer %d: this kernel cannot make a timer "
						"with a given id (memdump check: posix_timer_ids)", t->id, p->pid, got);
	}
	return 0;
}

int restore_check_timers(const struct restore_ctx *rc, const struct md_proc *p)
{
	uint64_t gaps;

	if (!p->n_posix_timers || rc->kf.posix_timer_ids)
		return 0;
	/* ascending ids (image_read_proc() checked): so many made and deleted on the way */
	gaps = (uint64_t)p->posix_timers[p->n_posix_timers - 1].id + 1 - p->n_posix_timers;
	if (gaps > RESTORE_TIMER_GAPS_MAX)
		return log_refuse("process %d has timer %d: without PR_TIMER_CREATE_RESTORE_IDS (memdump check: "
				  "posix_timer_ids) its id would take making and deleting %llu timers first; "
				  "not supported above %d", p->pid, p->posix_timers[p->n_posix_timers - 1].id,
				  (unsigned long long)gaps, RESTORE_TIMER_GAPS_MAX);
	return 0;
}

int restore_make_timers(struct restore_ctx *rc, struct restore_proc *rp)
{
	if (!rp->p.n_posix_timers)
		return 0;
	return rc->kf.posix_timer_ids ? make_with_ids(rp) : make_in_order(rp);
}

int restore_arm_timers(struct restore_proc *rp)
{
	const struct md_proc *p = &rp->p;

	for (size_t i = 0; i < p->n_posix_timers; i++) {
		const struct md_posix_timer *t = &p->posix_timers[i];
		/* the kernel's on x86_64 */
		struct itimerspec its = { md_ns_timespec(t->interval_ns), md_ns_timespec(t->value_ns) };
		int r;

		if (!t->value_ns)
			continue;	/* disarmed (or a one-shot SIGEV_NONE timer that expired) */
		r = inject_write_mem(rp->pid, rp->scratch + SCRATCH_ITIMERSPEC, &its, sizeof(its));
		if (r < 0)
			return log_err(r, "cannot write to %d", rp->pid);
		/* relative: the time left counts from now, the process did not run meanwhile */
		r = restore_rcall_ok(rp, "timer_settime", SYS_timer_settime, (uint64_t)t->id, 0,
				     rp->scratch + SCRATCH_ITIMERSPEC, 0, 0, 0);
		if (r < 0)
			return log_err(r, "cannot arm timer %d of %d", t->id, p->pid);
	}
	return 0;
}
