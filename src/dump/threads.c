/*
 * Per-thread state that ptrace shows directly: registers, xsave area,
 * blocked mask, rseq configuration, pending signals, comm. What needs a
 * remote syscall (sigaltstack, clear_child_tid) is in dump/remote.c.
 */
#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/uio.h>
#include <sys/user.h>

#include "dump/internal.h"
#include "memdump/regs.h"
#include "memdump/cleanup.h"
#include "memdump/inject.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "memdump/proc.h"

#define XSAVE_MAX (64 * 1024)
#define FXSAVE_SW_RESERVED_OFF 464	/* struct _fpx_sw_bytes inside the legacy area */

/* struct rseq_cs of the rseq ABI (include/uapi/linux/rseq.h) */
struct rseq_cs_abi {
	uint32_t version;
	uint32_t flags;
	uint64_t start_ip;
	uint64_t post_commit_offset;
	uint64_t abort_ip;
};

#define RSEQ_CS_OFFSET 8	/* offsetof(struct rseq, rseq_cs) */

/*
 * A thread stopped inside an rseq critical section must resume at its
 * abort handler: the kernel would send it there on its next return to
 * user space, having been scheduled out. Our own remote syscalls would
 * hide that (their round trips clear rseq_cs with the ip outside the
 * section), so do it here, in the live thread and in the image alike.
 */
static int rseq_fixup(pid_t pid, pid_t tid, const struct md_rseq *rs, struct user_regs_struct *regs)
{
	struct rseq_cs_abi cs;
	uint64_t cs_ptr = 0;

	if (!rs->addr || rs->len < RSEQ_CS_OFFSET + sizeof(cs_ptr))
		return 0;
	if (inject_read_mem(pid, rs->addr + RSEQ_CS_OFFSET, &cs_ptr, sizeof(cs_ptr)) < 0 || !cs_ptr)
		return 0;
	if (inject_read_mem(pid, cs_ptr, &cs, sizeof(cs)) < 0)
		return 0;	/* a stale pointer: the kernel ignores it too until it matters */
	if (regs->rip < cs.start_ip || regs->rip - cs.start_ip >= cs.post_commit_offset)
		return 0;
	log_debug("thread %d stopped in an rseq critical section: resuming at its abort handler", tid);
	regs->rip = cs.abort_ip;
	if (ptrace(PTRACE_SETREGS, tid, NULL, regs) < 0)
		return -errno;
	return 0;
}

static int peek_siginfo(pid_t tid, bool shared, struct md_siginfo **ret, size_t *ret_n)
{
	struct md_siginfo *v = NULL;
	size_t n = 0;

	for (;;) {
		struct __ptrace_peeksiginfo_args a = {
			.off = n,
			.flags = shared ? PTRACE_PEEKSIGINFO_SHARED : 0,
			.nr = 32,
		};
		struct md_siginfo *nv = realloc(v, (n + 32) * sizeof(*v));
		long got;

		if (!nv) {
			free(v);
			return -ENOMEM;
		}
		v = nv;
		got = ptrace(PTRACE_PEEKSIGINFO, tid, &a, &v[n]);
		if (got < 0) {
			int r = -errno;

			free(v);
			return r;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static bool has_signal(const struct md_siginfo *q, size_t n, int sig)
{
	for (size_t i = 0; i < n; i++)
		if (md_siginfo_signo(&q[i]) == sig)
			return true;
	return false;
}

/*
 * A SIGCONT sent to a stopped process while the dump holds it ends the
 * group stop, and the kernel queues the signal (a traced process ignores
 * none) for a handler to see. Looked for once the dump is done, before
 * the images are written: found, the process comes back running, with
 * the signals pending now. A SIGCONT after this look is not seen.
 */
int dump_recheck_stop(struct md_proc *p)
{
	struct md_siginfo *shared = NULL, **priv;
	size_t n_shared = 0, *n_priv;
	bool cont;
	int r;

	if (!p->stop_sig || p->zombie || !p->n_threads)
		return 0;
	r = peek_siginfo(p->threads[0].tid, true, &shared, &n_shared);
	if (r < 0)
		return log_err(r, "cannot read the signals pending for %d", p->pid);
	priv = calloc(p->n_threads, sizeof(*priv));
	n_priv = calloc(p->n_threads, sizeof(*n_priv));
	if (!priv || !n_priv) {
		r = -ENOMEM;
		goto out;
	}
	cont = has_signal(shared, n_shared, SIGCONT);
	for (size_t i = 0; i < p->n_threads; i++) {
		r = peek_siginfo(p->threads[i].tid, false, &priv[i], &n_priv[i]);
		if (r < 0) {
			log_err(r, "cannot read the signals pending for thread %d of %d", p->threads[i].tid, p->pid);
			goto out;
		}
		cont = cont || has_signal(priv[i], n_priv[i], SIGCONT);
	}
	r = 0;
	if (!cont)
		goto out;
	log_info("%d was continued (SIGCONT) while the dump held it: it comes back running", p->pid);
	p->stop_sig = 0;
	free(p->shared_pending);
	p->shared_pending = TAKE_PTR(shared);
	p->n_shared_pending = n_shared;
	for (size_t i = 0; i < p->n_threads; i++) {
		free(p->threads[i].pending);
		p->threads[i].pending = TAKE_PTR(priv[i]);
		p->threads[i].n_pending = n_priv[i];
	}
out:
	for (size_t i = 0; priv && i < p->n_threads; i++)
		free(priv[i]);
	free(priv);
	free(n_priv);
	free(shared);
	return r;
}

static int first_deliverable(const struct md_proc *p, uint64_t blocked, const struct md_siginfo *q, size_t n)
{
	int best = 0;

	for (size_t i = 0; i < n; i++) {
		int sig = md_siginfo_signo(&q[i]);

		if (sig < 1 || sig > MD_NSIG || blocked & (1ULL << (sig - 1)))
			continue;
		/* SIG_DFL and SIG_IGN run no handler: the syscall restarts (or the process dies) */
		if (p->sigactions[sig - 1].handler <= 1)
			continue;
		if (!best || sig < best)
			best = sig;
	}
	return best;
}

int dump_pending_policy(const struct md_proc *p, const struct md_thread *t)
{
	int sig = first_deliverable(p, t->sigmask, t->pending, t->n_pending);

	if (!sig)
		sig = first_deliverable(p, t->sigmask, p->shared_pending, p->n_shared_pending);
	if (!sig)
		return INJECT_PENDING_NONE;
	return p->sigactions[sig - 1].flags & SA_RESTART ? INJECT_PENDING_RESTART : INJECT_PENDING_NORESTART;
}

/*
 * A thread the previous dump found in a call that the kernel resumed when
 * that dump let it go is in restart_syscall() now, the call's arguments
 * still in its registers: the previous image names the call. Taken only
 * where its syscall instruction and every argument register are the same
 * (that image has rip where the call returns, or 2 bytes before it).
 */
static void name_restarted(struct md_regs *r, pid_t tid, const struct md_proc *prev)
{
	if (!prev || r->orig_rax != SYS_restart_syscall || r->rax != (uint64_t)-ERESTART_RESTARTBLOCK)
		return;
	for (size_t i = 0; i < prev->n_threads; i++) {
		const struct md_regs *o = &prev->threads[i].regs;

		if (prev->threads[i].tid != tid)
			continue;
		if ((int64_t)o->orig_rax >= 0 && o->orig_rax != SYS_restart_syscall &&
		    (o->rip == r->rip || o->rip == r->rip - 2) && o->rdi == r->rdi && o->rsi == r->rsi &&
		    o->rdx == r->rdx && o->r10 == r->r10 && o->r8 == r->r8 && o->r9 == r->r9)
			r->orig_rax = o->orig_rax;
		return;
	}
}

void dump_settle_regs(const struct md_proc *p, struct md_thread *t, const struct md_proc *prev, bool stopped)
{
	struct user_regs_struct regs;

	name_restarted(&t->regs, t->tid, prev);
	memset(&regs, 0, sizeof(regs));
	md_regs_to_user(&regs, &t->regs);
	if (stopped && (int64_t)regs.rax == -EINTR)
		return;
	/* the image is for a new process: it has no restart block to come back to */
	inject_normalize_restart(&regs, (enum inject_pending)dump_pending_policy(p, t));
	md_regs_from_user(&t->regs, &regs);
}

int dump_thread_state(pid_t pid, pid_t tid, struct md_thread *t, struct md_siginfo **ret_shared,
		      size_t *ret_n_shared)
{
	struct user_regs_struct regs;
	struct __ptrace_rseq_configuration rc;
	struct iovec iov;
	_cleanup_free_ char *comm = NULL;
	int r;

	t->tid = tid;
	if (ptrace(PTRACE_GETREGS, tid, NULL, &regs) < 0)
		return log_err(-errno, "cannot read registers of thread %d", tid);

	t->xsave = calloc(1, XSAVE_MAX);
	if (!t->xsave)
		return -ENOMEM;
	iov.iov_base = t->xsave;
	iov.iov_len = XSAVE_MAX;
	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_X86_XSTATE, &iov) < 0)
		return log_err(-errno, "cannot read xsave state of thread %d", tid);
	t->xsave_size = iov.iov_len;
	/* keep what the kernel filled (a few KiB), not the 64 KiB we offered */
	{
		uint8_t *x = realloc(t->xsave, t->xsave_size);

		if (x)
			t->xsave = x;
	}
	if (t->xsave_size >= FXSAVE_SW_RESERVED_OFF + 16)
		memcpy(&t->xfeatures, t->xsave + FXSAVE_SW_RESERVED_OFF + 8, sizeof(t->xfeatures));

	if (ptrace(PTRACE_GETSIGMASK, tid, sizeof(t->sigmask), &t->sigmask) < 0)
		return log_err(-errno, "cannot read signal mask of thread %d", tid);

	memset(&rc, 0, sizeof(rc));
	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, tid, sizeof(rc), &rc) < 0) {
		if (errno != EIO && errno != EINVAL)
			return log_err(-errno, "cannot read rseq configuration of thread %d", tid);
		log_warn("thread %d: this kernel cannot report rseq; not restored", tid);
	} else {
		t->rseq.addr = rc.rseq_abi_pointer;
		t->rseq.len = rc.rseq_abi_size;
		t->rseq.flags = rc.flags;
		t->rseq.sig = rc.signature;
	}

	{
		uint64_t head = 0;
		size_t len = 0;

		if (syscall(SYS_get_robust_list, tid, &head, &len) < 0)
			return log_err(-errno, "cannot read the robust futex list of thread %d", tid);
		t->robust_list = head;
		t->robust_list_len = len;
	}

	r = rseq_fixup(pid, tid, &t->rseq, &regs);
	if (r < 0)
		return log_err(r, "cannot move thread %d out of its rseq critical section", tid);
	/* raw: settled by dump_settle_regs() once the sigactions are known */
	md_regs_from_user(&t->regs, &regs);

	r = peek_siginfo(tid, false, &t->pending, &t->n_pending);
	if (r < 0)
		return log_err(r, "cannot read pending signals of thread %d", tid);
	if (ret_shared) {
		r = peek_siginfo(tid, true, ret_shared, ret_n_shared);
		if (r < 0)
			return log_err(r, "cannot read shared pending signals of %d", pid);
	}

	r = proc_read_filef(&comm, NULL, "/proc/%d/task/%d/comm", pid, tid);
	if (r >= 0) {
		comm[strcspn(comm, "\n")] = 0;
		snprintf(t->comm, sizeof(t->comm), "%s", comm);
	}
	return 0;
}
