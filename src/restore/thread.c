/*
 * Threads of the new process: created by a remote clone3() with set_tid in
 * the leader (each arrives stopped under our ptrace), then per-thread state
 * (clear_child_tid, robust futex list, sigaltstack, timer slack, rseq,
 * pending signals, comm), and at the very end registers, xsave state and
 * blocked masks.
 */
#include <elf.h>
#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "memdump/regs.h"
#include "restore/internal.h"

#define FXSAVE_SW_RESERVED_OFF 464
#define XSTATE_BV_OFF 512

/* scratch layout: clone_args at 0, set_tid at 512, then one slot per kind (used at once) */
#define SCRATCH_ALTSTACK 2048
#define SCRATCH_COMM 4096

struct kstack {
	uint64_t sp;
	int32_t flags;
	int32_t pad;
	uint64_t size;
};

static int create_thread(struct restore_proc *rp, const struct md_thread *t)
{
	pid_t tid = t->tid, set_tid[2];
	struct clone_args a = {
		.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM,
		.set_tid = rp->scratch + 512,
		.set_tid_size = restore_set_tid(t->tid, t->ns_tid, set_tid),
	};
	int64_t res;
	int r;

	r = inject_write_mem(rp->pid, rp->scratch + 512, set_tid, a.set_tid_size * sizeof(pid_t));
	if (r >= 0)
		r = inject_write_mem(rp->pid, rp->scratch, &a, sizeof(a));
	if (r < 0)
		return log_err(r, "cannot write to the new process");
	r = restore_rcall(rp, "clone3", SYS_clone3, rp->scratch, sizeof(a), 0, 0, 0, 0, &res);
	if (r < 0)
		return r;
	if (res < 0)
		return log_err((int)res, "cannot create thread %d", tid);
	/* its id in the process's PID namespace */
	if (res != set_tid[0])
		return log_err(-EEXIST, "thread %d came back as %lld", tid, (long long)res);
	rp->attached[rp->n_attached++] = tid;
	r = inject_wait_stop(tid);
	if (r < 0)
		return log_err(r, "thread %d did not stop", tid);
	return 0;
}

int restore_thread_begin(struct restore_proc *rp, pid_t tid, struct inject_ctx *own, struct inject_ctx **ret)
{
	int r;

	*ret = &rp->ic;
	if (tid == rp->pid)
		return 0;
	*ret = NULL;
	r = inject_init(own, tid, rp->ic.syscall_ip);
	if (r < 0)
		return log_err(r, "cannot prepare thread %d", tid);
	*ret = own;
	return 0;
}

int restore_thread_end(struct inject_ctx *own, struct inject_ctx *c, int r)
{
	int r2 = 0;

	if (c == own)
		r2 = inject_fini(own);
	return r < 0 ? r : r2;
}

/* state a thread must set itself: run in that thread */
static int thread_self_state(struct restore_proc *rp, const struct md_thread *t)
{
	struct inject_ctx own, *c;
	int64_t res;
	int r;

	r = restore_thread_begin(rp, t->tid, &own, &c);
	if (r < 0)
		return r;

	r = inject_syscall(c, SYS_set_tid_address, t->clear_child_tid, 0, 0, 0, 0, 0, &res);
	if (r < 0)
		goto out_log;

	if (t->robust_list) {
		r = inject_syscall(c, SYS_set_robust_list, t->robust_list, t->robust_list_len, 0, 0, 0, 0, &res);
		if (r < 0)
			goto out_log;
		if (res < 0) {
			r = log_err((int)res, "cannot set the robust futex list of thread %d", t->tid);
			goto out;
		}
	}
	/*
	 * Always: a process gets the signal stack of the one it was forked
	 * from (memdump's own, for the root, where a sanitizer gave it one).
	 */
	{
		struct kstack ks = { t->altstack.sp, (int32_t)(t->altstack.flags & ~SS_ONSTACK), 0, t->altstack.size };

		if (t->altstack.flags & SS_DISABLE)
			ks = (struct kstack){ 0, SS_DISABLE, 0, 0 };
		r = inject_write_mem(rp->pid, rp->scratch + SCRATCH_ALTSTACK, &ks, sizeof(ks));
		if (r < 0)
			goto out_log;
		r = inject_syscall(c, SYS_sigaltstack, rp->scratch + SCRATCH_ALTSTACK, 0, 0, 0,
				   0, 0, &res);
		if (r < 0)
			goto out_log;
		if (res < 0) {
			r = log_err((int)res, "cannot set the signal stack of thread %d", t->tid);
			goto out;
		}
	}
	/* /proc/PID/task/TID/comm takes writes only from the thread group itself */
	{
		uint64_t name = rp->scratch + SCRATCH_COMM;
		char comm[16];

		memset(comm, 0, sizeof(comm));
		memcpy(comm, t->comm, strnlen(t->comm, sizeof(comm) - 1));
		r = inject_write_mem(rp->pid, name, comm, sizeof(comm));
		if (r < 0)
			goto out_log;
		r = inject_syscall(c, SYS_prctl, PR_SET_NAME, name, 0, 0, 0, 0, &res);
		if (r < 0)
			goto out_log;
	}
	/* 0 for real-time threads: their policy, set later, gives it */
	if (t->has_sched && t->sched.timer_slack_ns) {
		r = inject_syscall(c, SYS_prctl, PR_SET_TIMERSLACK, t->sched.timer_slack_ns, 0, 0, 0, 0, &res);
		if (r < 0)
			goto out_log;
		if (res < 0) {
			r = log_err((int)res, "cannot set the timer slack of thread %d", t->tid);
			goto out;
		}
	}
	if (t->rseq.addr) {
		r = inject_syscall(c, SYS_rseq, t->rseq.addr, t->rseq.len, 0, t->rseq.sig, 0, 0, &res);
		if (r < 0)
			goto out_log;
		if (res < 0) {
			r = log_err((int)res, "cannot register rseq of thread %d", t->tid);
			goto out;
		}
	}
	goto out;
out_log:
	log_err(r, "remote syscall in thread %d failed", t->tid);
out:
	return restore_thread_end(&own, c, r);
}

/*
 * Pending signals go back with rt_[tg]sigqueueinfo: the kernel lets a
 * process queue any si_code (tgkill()'s SI_TKILL, the kernel's own) only
 * from the thread whose id it names, so a thread's own signals are queued
 * from that thread (t), the shared ones from the leader (t NULL). The ids
 * are those the process has in its own PID namespace.
 */
static int queue_signals(struct restore_proc *rp, const struct md_thread *t, const struct md_siginfo *si, size_t n)
{
	pid_t pid = rp->p.ns_pid ? rp->p.ns_pid : rp->p.pid, tid = !t ? 0 : t->ns_tid ? t->ns_tid : t->tid;
	struct inject_ctx own, *c;
	int r = 0;

	if (!n)
		return 0;
	r = restore_thread_begin(rp, t ? t->tid : rp->pid, &own, &c);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r >= 0; i++) {
		int sig = md_siginfo_signo(&si[i]);
		int64_t res;

		r = inject_write_mem(rp->pid, rp->scratch, si[i].raw, MD_SIGINFO_SIZE);
		if (r < 0) {
			r = log_err(r, "cannot write to the new process");
			break;
		}
		if (tid)
			r = inject_syscall(c, SYS_rt_tgsigqueueinfo, (uint64_t)pid, (uint64_t)tid, (uint64_t)sig,
					   rp->scratch, 0, 0, &res);
		else
			r = inject_syscall(c, SYS_rt_sigqueueinfo, (uint64_t)pid, (uint64_t)sig, rp->scratch, 0, 0, 0,
					   &res);
		if (r < 0)
			r = log_err(r, "remote rt_[tg]sigqueueinfo in %d (thread %d) failed", rp->pid,
				    t ? t->tid : rp->pid);
		else if (res < 0)
			r = log_err((int)res, "cannot queue signal %d to %d (thread %d)", sig, rp->pid,
				    t ? t->tid : rp->pid);
	}
	return restore_thread_end(&own, c, r);
}

int restore_threads(struct restore_proc *rp)
{
	const struct md_proc *p = &rp->p;
	int r;

	for (size_t i = 1; i < p->n_threads; i++) {
		r = create_thread(rp, &p->threads[i]);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < p->n_threads; i++) {
		r = thread_self_state(rp, &p->threads[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * The signals the restore itself raised wait blocked in the leader: the
 * exit signals of the zombies it ended. Take those (only those: a signal
 * somebody sent meanwhile is the process's), then queue the dumped ones.
 */
static int drain_signals(struct restore_proc *rp, uint64_t set)
{
	struct {
		uint64_t set;
		int64_t ts[2];
	} arg = { set, { 0, 0 } };
	int64_t res = 0;
	int r;

	r = inject_write_mem(rp->pid, rp->scratch, &arg, sizeof(arg));
	if (r < 0)
		return log_err(r, "cannot write to %d", rp->pid);
	for (int i = 0; i < 4096; i++) {
		r = restore_rcall(rp, "rt_sigtimedwait", SYS_rt_sigtimedwait, rp->scratch, 0, rp->scratch + 8, 8, 0, 0,
				  &res);
		if (r < 0)
			return r;
		if (res < 0)
			break;
		log_debug("%d: dropped signal %lld raised while restoring", rp->pid, (long long)res);
	}
	if (res != -EAGAIN)
		return log_err(res < 0 ? (int)res : -EAGAIN, "cannot clear the signals of %d", rp->pid);
	return 0;
}

int restore_signals(struct restore_ctx *rc, struct restore_proc *rp)
{
	const struct md_proc *p = &rp->p;
	uint64_t raised = 0;
	int r;

	for (size_t i = 0; i < rc->n; i++)
		if (rc->procs[i].parent == rp && rc->procs[i].p.zombie && rc->procs[i].p.exit_signal > 0)
			raised |= 1ULL << (rc->procs[i].p.exit_signal - 1);
	if (raised) {
		r = drain_signals(rp, raised);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < p->n_threads; i++) {
		r = queue_signals(rp, &p->threads[i], p->threads[i].pending, p->threads[i].n_pending);
		if (r < 0)
			return r;
	}
	return queue_signals(rp, NULL, p->shared_pending, p->n_shared_pending);
}

/*
 * The kernel takes an xsave area only of its own size. Components are at
 * architectural offsets in the standard format, so a shorter or longer
 * dumped area is carried over up to the common size (validation already
 * refused features this CPU lacks).
 */
static int set_xstate(pid_t tid, const struct md_thread *t, size_t cur_size)
{
	_cleanup_free_ uint8_t *buf = calloc(1, cur_size);
	struct iovec iov = { buf, cur_size };

	if (!buf)
		return -ENOMEM;
	memcpy(buf, t->xsave, t->xsave_size < cur_size ? t->xsave_size : cur_size);
	if (ptrace(PTRACE_SETREGSET, tid, (void *)NT_X86_XSTATE, &iov) < 0)
		return -errno;
	return 0;
}

int restore_finish_threads(struct restore_ctx *rc, struct restore_proc *rp)
{
	const struct md_proc *p = &rp->p;
	int r;

	/* our own saved state of the leader must not be put back over the image's */
	rp->ic.restore_regs = false;
	rp->ic.restore_mask = false;
	for (size_t i = 0; i < p->n_threads; i++) {
		const struct md_thread *t = &p->threads[i];
		struct user_regs_struct regs;

		memset(&regs, 0, sizeof(regs));
		md_regs_to_user(&regs, &t->regs);
		if (ptrace(PTRACE_SETREGS, t->tid, NULL, &regs) < 0)
			return log_err(-errno, "cannot set registers of thread %d", t->tid);
		r = set_xstate(t->tid, t, rc->kf.xsave_size);
		if (r < 0)
			return log_err(r, "cannot set xsave state of thread %d", t->tid);
		if (ptrace(PTRACE_SETSIGMASK, t->tid, sizeof(t->sigmask), &t->sigmask) < 0)
			return log_err(-errno, "cannot set the signal mask of thread %d", t->tid);
	}
	return 0;
}
