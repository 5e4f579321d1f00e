/*
 * Seccomp filters, strict mode and no_new_privs of a restored process,
 * put back last (final_state), by remote syscalls in each thread. The
 * tree is under our ptrace with PTRACE_O_SUSPEND_SECCOMP, so the filters
 * judge none of our remote syscalls, nor the next filter's install; they
 * act once the tree is let go.
 *
 * Filters every thread shares (the common start of their chains) are
 * installed once, in the leader, and synced to the other threads (TSYNC):
 * the threads share them again, and a later TSYNC of the process works as
 * before. The rest of each thread's chain is its own. Filters shared
 * across processes come back as copies in each (no process can tell).
 * Filters go in before no_new_privs: TSYNC would give the leader's
 * no_new_privs to every thread. The new process is memdump's (root), so
 * the kernel takes filters without it.
 *
 * Before any process exists, each program is tried in a throwaway child,
 * so that one this kernel refuses fails the restore there.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "restore/internal.h"

#define SCRATCH_FPROG 0
#define SCRATCH_INSNS 4096	/* up to BPF_MAXINSNS * 8 = 32 KiB */

size_t restore_seccomp_shared(const struct md_proc *p)
{
	_cleanup_free_ uint32_t *a = NULL, *b = NULL;
	int na, nb;
	size_t k;

	if (p->n_threads < 2 || !p->n_seccomp)
		return 0;
	a = calloc(p->n_seccomp, sizeof(*a));
	b = calloc(p->n_seccomp, sizeof(*b));
	if (!a || !b)
		return 0;	/* no sharing: each thread installs its whole chain */
	na = md_seccomp_chain(p, p->threads[0].seccomp_filter, a, p->n_seccomp);
	if (na <= 0)
		return 0;
	k = (size_t)na;
	for (size_t t = 1; t < p->n_threads && k; t++) {
		size_t i = 0;

		nb = md_seccomp_chain(p, p->threads[t].seccomp_filter, b, p->n_seccomp);
		if (nb < 0)
			return 0;
		while (i < k && i < (size_t)nb && a[i] == b[i])
			i++;
		k = i;
	}
	return k;
}

bool restore_has_seccomp(const struct md_proc *p)
{
	for (size_t i = 0; i < p->n_threads; i++)
		if (p->threads[i].seccomp_mode || p->threads[i].no_new_privs)
			return true;
	return false;
}

/*
 * Install one program in a new child of ours, which does nothing else:
 * 0 or the kernel's -errno. The child reports through shared memory
 * (the filter may deny it any syscall after) and is killed.
 */
static int try_program(const struct md_seccomp_filter *f)
{
	struct sock_fprog prog = { .len = (unsigned short)f->n_insns, .filter = f->insns };
	volatile int *res;
	int status, r;
	pid_t pid;

	res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED)
		return -errno;
	*res = 1;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		munmap((void *)res, sizeof(*res));
		return r;
	}
	if (pid == 0) {
		/* it may spin below (a filter can deny exit_group()): never past us */
		syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		/* no_new_privs: the kernel would take the filter from root anyway */
		if (syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			*res = -errno;
		else
			*res = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, f->flags, &prog) < 0 ? -errno : 0;
		for (;;)
			syscall(SYS_exit_group, 0);
	}
	for (int ms = 0; *res == 1 && ms < 5000; ms++) {
		struct timespec one = { 0, 1000000 };

		if (waitpid(pid, &status, WNOHANG) == pid) {
			pid = 0;
			break;
		}
		nanosleep(&one, NULL);
	}
	r = *res == 1 ? -ETIMEDOUT : *res;
	if (pid > 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	munmap((void *)res, sizeof(*res));
	return r;
}

int restore_check_seccomp(struct restore_ctx *rc)
{
	for (size_t k = 0; k < rc->n; k++) {
		const struct md_proc *p = &rc->procs[k].p;

		/* no_new_privs alone needs no suspension (nor CAP_SYS_ADMIN) */
		for (size_t i = 0; i < p->n_threads; i++)
			rc->seccomp = rc->seccomp || p->threads[i].seccomp_mode;
		for (size_t i = 0; i < p->n_seccomp; i++) {
			bool seen = false;
			int r;

			/* a tree's processes mostly share their filters: try each program once */
			for (size_t j = 0; j <= k && !seen; j++)
				for (size_t m = 0; m < (j == k ? i : rc->procs[j].p.n_seccomp) && !seen; m++)
					seen = md_seccomp_same(&rc->procs[j].p.seccomp[m], &p->seccomp[i]);
			if (seen)
				continue;
			r = try_program(&p->seccomp[i]);
			if (r == -ETIMEDOUT)
				return log_err(r, "%d: no answer from the child trying seccomp filter %zu", p->pid, i);
			if (r < 0)
				return log_err(r, "%d: this kernel refuses seccomp filter %zu of the image", p->pid, i);
		}
	}
	return 0;
}

/* remote syscalls in one thread of rp */
struct thread_call {
	struct restore_proc *rp;
	struct inject_ctx own, *c;
};

static int call_begin(struct thread_call *tc, struct restore_proc *rp, pid_t tid)
{
	tc->rp = rp;
	return restore_thread_begin(rp, tid, &tc->own, &tc->c);
}

static int call_end(struct thread_call *tc, int r)
{
	return restore_thread_end(&tc->own, tc->c, r);
}

/* seccomp(op, flags, args) in the thread: its result, or our -errno (logged) if ptrace failed */
static int call(struct thread_call *tc, pid_t tid, uint64_t op, uint64_t flags, uint64_t args, int64_t *res)
{
	int r = inject_syscall(tc->c, SYS_seccomp, op, flags, args, 0, 0, 0, res);

	if (r < 0)
		return log_err(r, "remote seccomp() in thread %d failed", tid);
	return 0;
}

static int install(struct thread_call *tc, pid_t tid, const struct md_seccomp_filter *f, uint32_t flags)
{
	struct restore_proc *rp = tc->rp;
	struct {
		uint16_t len;
		uint16_t pad[3];
		uint64_t filter;
	} prog = { (uint16_t)f->n_insns, { 0 }, rp->scratch + SCRATCH_INSNS };
	int64_t res;
	int r;

	r = inject_write_mem(rp->pid, rp->scratch + SCRATCH_INSNS, f->insns, f->n_insns * sizeof(*f->insns));
	if (r >= 0)
		r = inject_write_mem(rp->pid, rp->scratch + SCRATCH_FPROG, &prog, sizeof(prog));
	if (r < 0)
		return log_err(r, "cannot write to %d", rp->pid);
	r = call(tc, tid, SECCOMP_SET_MODE_FILTER, f->flags | flags, rp->scratch + SCRATCH_FPROG, &res);
	if (r < 0)
		return r;
	if (res > 0)
		return log_err(-EBUSY, "cannot sync the seccomp filter of %d: thread %lld has another", rp->pid,
			       (long long)res);
	if (res < 0)
		return log_err((int)res, "cannot install a seccomp filter in thread %d", tid);
	return 0;
}

/* the chain of t from filter `from` on, in t */
static int install_chain(struct restore_proc *rp, const struct md_thread *t, size_t from, size_t upto,
			 uint32_t last_flags, uint32_t *chain)
{
	const struct md_proc *p = &rp->p;
	struct thread_call tc;
	int n, r;

	n = md_seccomp_chain(p, t->seccomp_filter, chain, p->n_seccomp);
	if (n < 0)
		return log_err(-EINVAL, "thread %d: broken seccomp chain", t->tid);
	if (upto > (size_t)n)
		upto = (size_t)n;
	if (from >= upto)
		return 0;
	r = call_begin(&tc, rp, t->tid);
	if (r < 0)
		return r;
	for (size_t i = from; i < upto && r >= 0; i++)
		r = install(&tc, t->tid, &p->seccomp[chain[i]], i + 1 == upto ? last_flags : 0);
	return call_end(&tc, r);
}

int restore_seccomp(struct restore_proc *rp)
{
	const struct md_proc *p = &rp->p;
	_cleanup_free_ uint32_t *chain = NULL;
	size_t shared;
	int r;

	if (!restore_has_seccomp(p))
		return 0;
	chain = calloc(p->n_seccomp ? p->n_seccomp : 1, sizeof(*chain));
	if (!chain)
		return -ENOMEM;
	shared = restore_seccomp_shared(p);
	if (shared) {
		r = install_chain(rp, &p->threads[0], 0, shared, SECCOMP_FILTER_FLAG_TSYNC, chain);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < p->n_threads; i++) {
		const struct md_thread *t = &p->threads[i];

		r = install_chain(rp, t, shared, SIZE_MAX, 0, chain);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < p->n_threads; i++) {
		const struct md_thread *t = &p->threads[i];
		struct thread_call tc;
		int64_t res = 0;

		if (!t->no_new_privs && t->seccomp_mode != SECCOMP_MODE_STRICT)
			continue;
		r = call_begin(&tc, rp, t->tid);
		if (r < 0)
			return r;
		if (t->no_new_privs) {
			r = inject_syscall(tc.c, SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0, &res);
			if (r < 0)
				log_err(r, "remote prctl() in thread %d failed", t->tid);
			else if (res < 0)
				r = log_err((int)res, "cannot set no_new_privs in thread %d", t->tid);
		}
		/* strict last: after it, only our suspension lets the thread make another syscall */
		if (r >= 0 && t->seccomp_mode == SECCOMP_MODE_STRICT) {
			r = call(&tc, t->tid, SECCOMP_SET_MODE_STRICT, 0, 0, &res);
			if (r >= 0 && res < 0)
				r = log_err((int)res, "cannot put thread %d in seccomp strict mode", t->tid);
		}
		r = call_end(&tc, r);
		if (r < 0)
			return r;
	}
	return 0;
}
