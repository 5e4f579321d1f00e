/*
 * How each thread is scheduled (policy, priority, nice, I/O priority,
 * CPUs; its timer slack is set by the thread itself, in thread.c) and the
 * process-wide settings: oom_score_adj, child subreaper, THP disabled,
 * MDWE, membarrier registrations, the audit login uid. Images from before
 * them leave the restored process with memdump's.
 *
 * THP first of all (restore_thp(), before the memory goes in: it decides
 * the first fault's page size); the login uid next, before threads and
 * children exist, which take it over (and its session); the settings
 * late, before seccomp, which may forbid the calls, and before the
 * credentials, which may take the right to make them (MDWE is for good:
 * nothing after it maps memory); the scheduling last of all, from outside,
 * once no more syscalls run in the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/ioprio.h>
#include <linux/sched.h>
#include <linux/sched/types.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "compat/prctl.h"
#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "memdump/proc.h"
#include "restore/internal.h"

#define SCRATCH_LOGINUID 0	/* the path, then the value at +64 */

int restore_thp(struct restore_proc *rp)
{
	const struct md_attrs *a = &rp->p.attrs;
	int64_t res;
	int r;

	if (!rp->p.has_attrs)
		return 0;
	/* always: a child inherits its parent's */
	r = restore_rcall(rp, "prctl(PR_SET_THP_DISABLE)", SYS_prctl, PR_SET_THP_DISABLE, a->thp_disable & 1,
			  a->thp_disable & ~1u, 0, 0, 0, &res);
	if (r < 0)
		return r;
	if (res == -EINVAL && (a->thp_disable & PR_THP_DISABLE_EXCEPT_ADVISED)) {
		log_warn("%d: this kernel cannot leave THP to MADV_HUGEPAGE regions (PR_THP_DISABLE_EXCEPT_ADVISED): "
			 "THP disabled for all", rp->pid);
		return restore_rcall_ok(rp, "prctl(PR_SET_THP_DISABLE)", SYS_prctl, PR_SET_THP_DISABLE, 1, 0, 0, 0, 0);
	}
	if (res < 0)
		return log_err((int)res, "prctl(PR_SET_THP_DISABLE, %u) in %d", a->thp_disable, rp->pid);
	return 0;
}

static const char *policy_name(uint32_t policy)
{
	static const char *const names[] = { "SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "4",
					     "SCHED_IDLE", "SCHED_DEADLINE", "SCHED_EXT" };

	return policy < sizeof(names) / sizeof(names[0]) ? names[policy] : "?";
}

/*
 * From memdump (CAP_SYS_NICE). CPUs first: a deadline thread must be
 * allowed every CPU of its root domain. A thread that was not pinned gets
 * every CPU its cpuset has here, not memdump's own. The nice value goes in
 * by setpriority() too: sched_setattr() takes it for the fair policies
 * only, and a real-time thread keeps one for when it leaves its policy.
 */
static int thread_sched(pid_t tid, const struct md_sched *s)
{
	uint64_t all[MD_CPU_WORDS];
	struct sched_attr a = {
		.size = SCHED_ATTR_SIZE_VER0,
		.sched_policy = s->policy,
		.sched_flags = s->flags,
		.sched_nice = s->nice,
		.sched_priority = s->priority,
		.sched_runtime = s->dl_runtime,
		.sched_deadline = s->dl_deadline,
		.sched_period = s->dl_period,
	};
	long cur;

	memset(all, 0xff, sizeof(all));
	if (syscall(SYS_sched_setaffinity, tid, sizeof(all), s->pinned ? s->cpus : all) < 0) {
		if (errno != EINVAL || !s->pinned)
			return log_err(-errno, "cannot set the CPUs of thread %d", tid);
		log_warn("thread %d: none of the CPUs it was pinned to is here or in its cpuset: it runs on any", tid);
		if (syscall(SYS_sched_setaffinity, tid, sizeof(all), all) < 0)
			return log_err(-errno, "cannot set the CPUs of thread %d", tid);
	}
	if (setpriority(PRIO_PROCESS, (id_t)tid, s->nice) < 0)
		return log_err(-errno, "cannot set the nice value of thread %d to %d", tid, s->nice);
	if (syscall(SYS_sched_setattr, tid, &a, 0) < 0)
		return log_err(-errno, "cannot give thread %d %s (priority %u, flags %#x, deadline %llu/%llu/%llu ns)",
			       tid, policy_name(s->policy), s->priority, s->flags, (unsigned long long)s->dl_runtime,
			       (unsigned long long)s->dl_deadline, (unsigned long long)s->dl_period);
	cur = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, tid);
	if (cur != (long)s->ioprio && syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, tid, s->ioprio) < 0)
		return log_err(-errno, "cannot give thread %d I/O priority class %u level %u", tid, s->ioprio >> 13,
			       s->ioprio & 7);
	return 0;
}

static int write_oom(const char *path, const char *want, size_t n)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	r = write(fd, want, n) == (ssize_t)n ? 0 : -errno;
	close(fd);
	return r;
}

/*
 * A writer with CAP_SYS_RESOURCE also fixes the process's floor
 * (oom_score_adj_min) at what it writes: the process could not go back
 * under it itself. So memdump writes without that capability in its
 * effective set, and with it only where the value is below the floor the
 * process inherited from memdump (the original needed it too).
 */
static int oom_score_adj(const struct restore_proc *rp)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2], off[2];
	_cleanup_free_ char *cur = NULL;
	char path[64], want[16];
	bool had;
	int r, n;

	n = snprintf(want, sizeof(want), "%d\n", rp->p.attrs.oom_score_adj);
	r = proc_read_filef(&cur, NULL, "/proc/%d/oom_score_adj", rp->pid);
	if (r < 0)
		return log_err(r, "cannot read the oom_score_adj of %d", rp->pid);
	if (!strcmp(cur, want))
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", rp->pid);
	if (syscall(SYS_capget, &h, d) < 0)
		return log_err(-errno, "cannot read our capabilities");
	had = d[0].effective & (1u << CAP_SYS_RESOURCE);
	memcpy(off, d, sizeof(off));
	off[0].effective &= ~(1u << CAP_SYS_RESOURCE);
	if (had && syscall(SYS_capset, &h, off) < 0)
		return log_err(-errno, "cannot set our capabilities");
	r = write_oom(path, want, (size_t)n);
	if (had && syscall(SYS_capset, &h, d) < 0)
		return log_err(-errno, "cannot set our capabilities back");
	if (r == -EACCES && had)
		r = write_oom(path, want, (size_t)n);
	if (r == -EACCES) {
		log_warn("%d: oom_score_adj %d is below what memdump may give without CAP_SYS_RESOURCE: left at %.*s",
			 rp->pid, rp->p.attrs.oom_score_adj, (int)strcspn(cur, "\n"), cur);
		return 0;
	}
	if (r < 0)
		return log_err(r, "cannot set the oom_score_adj of %d to %d", rp->pid, rp->p.attrs.oom_score_adj);
	return 0;
}

/*
 * Only the process itself writes its login uid, with CAP_AUDIT_CONTROL;
 * the audit session id is a new one. A kernel that refuses (login uids
 * immutable or settable once, and memdump's set) leaves memdump's: a
 * warning.
 */
int restore_loginuid(struct restore_proc *rp)
{
	_cleanup_free_ char *cur = NULL;
	char want[16];
	int64_t fd, res;
	int r, n;

	if (!rp->p.has_loginuid)
		return 0;
	n = snprintf(want, sizeof(want), "%u", rp->p.loginuid);
	r = proc_read_filef(&cur, NULL, "/proc/%d/loginuid", rp->pid);
	if (r == -ENOENT) {
		log_warn("%d: this kernel keeps no audit login uids: %u not restored", rp->pid, rp->p.loginuid);
		return 0;
	}
	if (r < 0)
		return log_err(r, "cannot read the login uid of %d", rp->pid);
	if (!strcmp(cur, want))
		return 0;
	r = restore_put_string(rp, SCRATCH_LOGINUID, "/proc/self/loginuid");
	if (r >= 0)
		r = inject_write_mem(rp->pid, rp->scratch + SCRATCH_LOGINUID + 64, want, (size_t)n);
	if (r < 0)
		return log_err(r, "cannot write to %d", rp->pid);
	r = restore_rcall(rp, "open", SYS_openat, (uint64_t)AT_FDCWD, rp->scratch + SCRATCH_LOGINUID,
			  O_WRONLY | O_CLOEXEC, 0, 0, 0, &fd);
	if (r < 0)
		return r;
	if (fd < 0)
		return log_err((int)fd, "cannot open /proc/self/loginuid in %d", rp->pid);
	r = restore_rcall(rp, "write", SYS_write, (uint64_t)fd, rp->scratch + SCRATCH_LOGINUID + 64, (uint64_t)n, 0,
			  0, 0, &res);
	if (r >= 0)
		r = restore_rcall_ok(rp, "close", SYS_close, (uint64_t)fd, 0, 0, 0, 0, 0);
	if (r < 0)
		return r;
	if (res == -EPERM) {
		log_warn("%d: login uid %s not restored, refused by this kernel (login uids immutable or set "
			 "once only, or no CAP_AUDIT_CONTROL): it keeps memdump's (%s)", rp->pid, want, cur);
		return 0;
	}
	if (res != n)
		return log_err(res < 0 ? (int)res : -EIO, "cannot set the login uid of %d to %s", rp->pid, want);
	return 0;
}

int restore_sched(struct restore_proc *rp)
{
	const struct md_proc *p = &rp->p;
	int r;

	for (size_t i = 0; i < p->n_threads; i++) {
		if (!p->threads[i].has_sched)
			continue;
		r = thread_sched(p->threads[i].tid, &p->threads[i].sched);
		if (r < 0)
			return r;
	}
	return 0;
}

int restore_attrs(struct restore_proc *rp)
{
	const struct md_attrs *a = &rp->p.attrs;
	int r;

	if (!rp->p.has_attrs)
		return 0;
	r = oom_score_adj(rp);
	if (r < 0)
		return r;
	if (a->child_subreaper) {
		r = restore_rcall_ok(rp, "prctl(PR_SET_CHILD_SUBREAPER)", SYS_prctl, PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0,
				     0);
		if (r < 0)
			return r;
	}
	for (uint32_t cmd = 1; cmd && cmd <= a->membarrier; cmd <<= 1) {
		if (!(a->membarrier & cmd))
			continue;
		r = restore_rcall_ok(rp, "membarrier(MEMBARRIER_CMD_REGISTER_*)", SYS_membarrier, cmd, 0, 0, 0, 0, 0);
		if (r < 0)
			return r;
	}
	if (a->mdwe)
		return restore_rcall_ok(rp, "prctl(PR_SET_MDWE)", SYS_prctl, PR_SET_MDWE, a->mdwe, 0, 0, 0, 0);
	return 0;
}
