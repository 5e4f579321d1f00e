/*
 * State only the process itself can ask the kernel for: sigactions,
 * itimers, limits, dumpable, POSIX timers (timers.c), the child subreaper
 * flag, THP and MDWE prctls and membarrier registrations (per process);
 * sigaltstack, clear_child_tid, securebits and timer slack (per thread).
 * Limits are read here because prlimit() of another uid's process takes
 * CAP_SYS_RESOURCE.
 * Read with remote syscalls into a scratch page mapped in the target for
 * the duration and unmapped before we return, on every path.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "compat/membarrier.h"
#include "compat/prctl.h"
#include "dump/internal.h"
#include "memdump/inject.h"
#include "memdump/log.h"
#include "memdump/model.h"

#define SCRATCH_SIZE 4096

/* the kernel's struct sigaction on x86_64 */
struct ksigaction {
	uint64_t handler;
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};

struct kitimerval {
	int64_t interval_sec, interval_usec;
	int64_t value_sec, value_usec;
};

struct kstack {
	uint64_t sp;
	int32_t flags;
	int32_t pad;
	uint64_t size;
};

static int rcall(struct inject_ctx *c, long nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
		 int64_t *ret)
{
	int r = inject_syscall(c, nr, a1, a2, a3, a4, 0, 0, ret);

	if (r < 0)
		return log_err(r, "remote syscall %ld in thread %d failed", nr, c->tid);
	return 0;
}

/* rcall(), a negative result of the call being an error too ("WHAT in thread TID") */
static int rcall_ok(struct inject_ctx *c, const char *what, long nr, uint64_t a1, uint64_t a2, int64_t *res)
{
	int r = rcall(c, nr, a1, a2, 0, 0, res);

	if (r < 0)
		return r;
	if (*res < 0)
		return log_err((int)*res, "%s in thread %d", what, c->tid);
	return 0;
}

/* leader: the process context c is reused; other threads get their own */
static int thread_remote(struct md_thread *t, struct inject_ctx *leader, uint64_t scratch, pid_t pid)
{
	struct inject_ctx own, *c = &own;
	struct kstack ks;
	int64_t res;
	int r, r2 = 0;

	if (t->tid == leader->tid) {
		c = leader;
	} else {
		r = inject_init(c, t->tid, leader->syscall_ip);
		if (r < 0) {
			log_err(r, "cannot prepare thread %d for remote syscalls", t->tid);
			goto out;
		}
	}
	r = rcall_ok(c, "sigaltstack", SYS_sigaltstack, 0, scratch, &res);
	if (r < 0)
		goto out;
	r = inject_read_mem(pid, scratch, &ks, sizeof(ks));
	if (r < 0)
		goto out;
	t->altstack.sp = ks.sp;
	t->altstack.flags = (uint32_t)ks.flags;
	t->altstack.size = ks.size;

	r = rcall_ok(c, "PR_GET_TID_ADDRESS", SYS_prctl, PR_GET_TID_ADDRESS, scratch, &res);
	if (r < 0)
		goto out;
	r = inject_read_mem(pid, scratch, &t->clear_child_tid, sizeof(t->clear_child_tid));
	if (r < 0)
		goto out;

	/* the status file has every credential but these */
	r = rcall_ok(c, "PR_GET_SECUREBITS", SYS_prctl, PR_GET_SECUREBITS, 0, &res);
	if (r < 0)
		goto out;
	t->creds.secbits = (uint32_t)res;

	r = rcall_ok(c, "PR_GET_TIMERSLACK", SYS_prctl, PR_GET_TIMERSLACK, 0, &res);
	if (r < 0)
		goto out;
	t->sched.timer_slack_ns = (uint64_t)res;
out:
	if (c == &own)
		r2 = inject_fini(c);
	if (r2 < 0 && r >= 0)
		r = log_err(r2, "cannot put thread %d back", t->tid);
	return r;
}

/*
 * fdinfo's flags are the file's own with O_CLOEXEC added for a
 * close-on-exec fd. A file opened otherwise than by open() may keep
 * O_CLOEXEC among its own flags whatever its fds say: a pty slave from
 * TIOCGPTPEER(O_CLOEXEC), dup2()ed to 0, 1 and 2 (systemd's --pty). For
 * character devices that say close-on-exec, the process is asked.
 */
static int cloexec_of_devices(struct md_proc *p, struct inject_ctx *c)
{
	int64_t res;
	int r;

	for (size_t i = 0; i < p->n_fds; i++) {
		struct md_fd *f = &p->fds[i];

		if (f->kind != MD_FD_CHR || !(f->flags & O_CLOEXEC))
			continue;
		r = rcall(c, SYS_fcntl, (uint64_t)f->fd, F_GETFD, 0, 0, &res);
		if (r < 0)
			return r;
		if (res < 0)
			return log_err((int)res, "fcntl(%d, F_GETFD) in %d", f->fd, p->pid);
		if (!(res & FD_CLOEXEC))
			f->flags &= ~(uint32_t)O_CLOEXEC;
	}
	return 0;
}

/* an int the kernel stores at scratch for call nr: its value */
static int get_int(struct inject_ctx *c, pid_t pid, uint64_t scratch, const char *what, long nr, uint64_t a1,
		   int *ret)
{
	int64_t res;
	int r = rcall_ok(c, what, nr, a1, scratch, &res);

	return r < 0 ? r : inject_read_mem(pid, scratch, ret, sizeof(*ret));
}

/* the result of a call kernels before 6.3 do not have (EINVAL): 0 there */
static int rcall_since_6_3(struct inject_ctx *c, const char *what, long nr, uint64_t a1, uint32_t *ret)
{
	int64_t res;
	int r = rcall(c, nr, a1, 0, 0, 0, &res);

	if (r < 0)
		return r;
	if (res < 0 && res != -EINVAL)
		return log_err((int)res, "%s in thread %d", what, c->tid);
	if (res < 0)
		log_debug("thread %d: this kernel has no %s: taken as 0", c->tid, what);
	*ret = res < 0 ? 0 : (uint32_t)res;
	return 0;
}

/* The prctl() settings of the process, and its membarrier registrations. */
static int process_settings(struct md_proc *p, struct inject_ctx *c, uint64_t scratch)
{
	struct md_attrs *a = &p->attrs;
	int64_t res;
	int r, v;

	r = get_int(c, p->pid, scratch, "prctl(PR_GET_CHILD_SUBREAPER)", SYS_prctl, PR_GET_CHILD_SUBREAPER, &v);
	if (r < 0)
		return r;
	a->child_subreaper = v != 0;
	r = rcall_ok(c, "prctl(PR_GET_THP_DISABLE)", SYS_prctl, PR_GET_THP_DISABLE, 0, &res);
	if (r < 0)
		return r;
	a->thp_disable = (uint32_t)res;
	r = rcall_since_6_3(c, "prctl(PR_GET_MDWE)", SYS_prctl, PR_GET_MDWE, &a->mdwe);
	if (r < 0)
		return r;
	r = rcall_since_6_3(c, "membarrier(MEMBARRIER_CMD_GET_REGISTRATIONS)", SYS_membarrier,
			    MD_MEMBARRIER_CMD_GET_REGISTRATIONS, &a->membarrier);
	if (r < 0)
		return r;
	if (!md_attrs_valid(a))
		return log_err(-EINVAL, "%d: THP disabled %#x, MDWE %#x or membarrier registrations %#x unknown to "
			       "memdump", p->pid, a->thp_disable, a->mdwe, a->membarrier);
	return 0;
}

static int process_remote(struct md_proc *p, struct inject_ctx *c, uint64_t scratch)
{
	struct ksigaction ksa;
	struct kitimerval kit;
	int64_t res;
	int r;

	for (int sig = 1; sig <= MD_NSIG; sig++) {
		struct md_sigaction *sa = &p->sigactions[sig - 1];

		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		r = rcall(c, SYS_rt_sigaction, (uint64_t)sig, 0, scratch, 8, &res);
		if (r < 0)
			return r;
		if (res < 0)
			return log_err((int)res, "rt_sigaction(%d) in %d", sig, p->pid);
		r = inject_read_mem(p->pid, scratch, &ksa, sizeof(ksa));
		if (r < 0)
			return log_err(r, "cannot read sigaction of %d", p->pid);
		sa->handler = ksa.handler;
		sa->flags = ksa.flags;
		sa->restorer = ksa.restorer;
		sa->mask = ksa.mask;
	}
	for (int which = 0; which < 3; which++) {
		r = rcall(c, SYS_getitimer, (uint64_t)which, scratch, 0, 0, &res);
		if (r < 0)
			return r;
		if (res < 0)
			return log_err((int)res, "getitimer(%d) in %d", which, p->pid);
		r = inject_read_mem(p->pid, scratch, &kit, sizeof(kit));
		if (r < 0)
			return r;
		p->itimers[which].interval_sec = kit.interval_sec;
		p->itimers[which].interval_usec = kit.interval_usec;
		p->itimers[which].value_sec = kit.value_sec;
		p->itimers[which].value_usec = kit.value_usec;
	}
	for (int lim = 0; lim < MD_RLIM_NLIMITS; lim++) {
		struct md_rlimit *rl = &p->rlimits[lim];	/* struct rlimit64: RLIM64_INFINITY is ~0 */

		r = rcall(c, SYS_prlimit64, 0, (uint64_t)lim, 0, scratch, &res);
		if (r < 0)
			return r;
		if (res < 0)
			return log_err((int)res, "prlimit64(%d) in %d", lim, p->pid);
		r = inject_read_mem(p->pid, scratch, rl, sizeof(*rl));
		if (r < 0)
			return r;
	}
	r = dump_posix_timers(p, c, scratch);
	if (r < 0)
		return r;
	/* the parent-death signal, as the leader has it */
	r = get_int(c, p->pid, scratch, "prctl(PR_GET_PDEATHSIG)", SYS_prctl, PR_GET_PDEATHSIG, &p->pdeathsig);
	if (r < 0)
		return r;
	r = rcall(c, SYS_prctl, PR_GET_DUMPABLE, 0, 0, 0, &res);
	if (r < 0)
		return r;
	if (res < 0)
		return log_err((int)res, "prctl(PR_GET_DUMPABLE) in %d", p->pid);
	p->dumpable = (int)res;
	r = process_settings(p, c, scratch);
	if (r < 0)
		return r;
	return cloexec_of_devices(p, c);
}

int dump_remote_state(struct md_proc *p)
{
	struct inject_ctx c;
	uint64_t ip, scratch = 0;
	int64_t res;
	int r, r2;

	r = inject_find_syscall(p->pid, &ip);
	if (r < 0)
		return log_err(r, "no syscall instruction in the vdso of %d", p->pid);
	r = inject_init(&c, p->pid, ip);
	if (r < 0) {
		log_err(r, "cannot prepare %d for remote syscalls", p->pid);
		goto out_fini;
	}
	r = rcall(&c, SYS_mmap, 0, SCRATCH_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, &res);
	if (r < 0)
		goto out_fini;
	if (res < 0 && res > -4096) {
		r = log_err((int)res, "cannot map a scratch page in %d", p->pid);
		goto out_fini;
	}
	scratch = (uint64_t)res;

	r = process_remote(p, &c, scratch);
	for (size_t i = 0; r >= 0 && i < p->n_threads; i++)
		r = thread_remote(&p->threads[i], &c, scratch, p->pid);

	r2 = rcall(&c, SYS_munmap, scratch, SCRATCH_SIZE, 0, 0, &res);
	if (r2 < 0 || res < 0) {
		r = r < 0 ? r : log_err(r2 < 0 ? r2 : (int)res, "cannot unmap the scratch page of %d", p->pid);
	}
out_fini:
	r2 = inject_fini(&c);
	if (r2 < 0 && r >= 0)
		r = log_err(r2, "cannot put thread %d back", p->pid);
	return r;
}
