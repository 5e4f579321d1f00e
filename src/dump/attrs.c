/*
 * How each thread is scheduled, asked of the kernel from outside: policy
 * and parameters (sched_getattr()), nice (getpriority(), which a
 * real-time thread keeps for later too), I/O priority and CPUs; and the
 * process's oom_score_adj and audit login uid from /proc. What only the
 * process can ask for (timer slack, PR_GET_CHILD_SUBREAPER, PR_GET_THP_DISABLE,
 * PR_GET_MDWE, membarrier registrations) is in dump/remote.c.
 *
 * A thread counts as pinned when it may not run on every CPU its cpuset
 * gives it: the mask is kept then, and only then, so that a thread that
 * never chose its CPUs gets those of the host that restores it.
 */
#include <errno.h>
#include <linux/ioprio.h>
#include <linux/sched.h>
#include <linux/sched/types.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dump/internal.h"
#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "memdump/proc.h"

static int thread_sched(pid_t tid, const uint64_t *cpuset, struct md_sched *s)
{
	struct sched_attr a;
	uint64_t mask[MD_CPU_WORDS];
	long v;

	memset(&a, 0, sizeof(a));
	if (syscall(SYS_sched_getattr, tid, &a, SCHED_ATTR_SIZE_VER0, 0) < 0)
		return log_err(-errno, "cannot read the scheduling of thread %d", tid);
	s->policy = a.sched_policy;
	s->flags = (uint32_t)a.sched_flags & MD_SCHED_FLAGS;
	if (s->policy == SCHED_FIFO || s->policy == SCHED_RR)
		s->priority = a.sched_priority;
	if (s->policy == MD_SCHED_DEADLINE) {
		s->dl_runtime = a.sched_runtime;
		s->dl_deadline = a.sched_deadline;
		s->dl_period = a.sched_period;
	} else {
		s->flags &= SCHED_FLAG_RESET_ON_FORK;
	}
	/* the raw call gives 20 - nice: 1..40 */
	v = syscall(SYS_getpriority, PRIO_PROCESS, tid);
	if (v < 0)
		return log_err(-errno, "cannot read the nice value of thread %d", tid);
	s->nice = 20 - (int32_t)v;
	v = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, tid);
	if (v < 0)
		return log_err(-errno, "cannot read the I/O priority of thread %d", tid);
	s->ioprio = (uint32_t)v;

	memset(mask, 0, sizeof(mask));
	if (syscall(SYS_sched_getaffinity, tid, sizeof(mask), mask) < 0)
		return log_err(-errno, "cannot read the CPUs of thread %d", tid);
	for (int i = 0; i < MD_CPU_WORDS; i++)
		if (cpuset[i] & ~mask[i])
			s->pinned = true;
	if (s->pinned)
		memcpy(s->cpus, mask, sizeof(mask));
	if (!md_sched_valid(s))
		return log_err(-EINVAL, "thread %d: scheduling policy %u (flags %#x, priority %u) or I/O priority %#x "
			       "unknown to memdump", tid, s->policy, s->flags, s->priority, s->ioprio);
	return 0;
}

static int read_int(pid_t pid, const char *file, long long *ret)
{
	_cleanup_free_ char *buf = NULL;
	char *end;
	int r;

	r = proc_read_filef(&buf, NULL, "/proc/%d/%s", pid, file);
	if (r < 0)
		return r;
	errno = 0;
	*ret = strtoll(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n'))
		return -EINVAL;
	return 0;
}

int dump_attrs(struct md_proc *p)
{
	_cleanup_free_ char *last = NULL;
	uint64_t cpuset[MD_CPU_WORDS];
	long long v;
	int r;

	for (size_t i = 0; i < p->n_threads; i++) {
		_cleanup_free_ char *path = NULL;
		pid_t tid = p->threads[i].tid;

		/* per thread (cgroup v1 lets threads sit in different cpusets); each cpuset read once */
		r = proc_cpuset_path(tid, &path);
		if (r >= 0 && (!last || strcmp(path, last))) {
			r = proc_cpuset_effective(path, cpuset);
			free(last);
			last = TAKE_PTR(path);
		}
		if (r < 0)
			return log_err(r, "cannot read the CPUs the cpuset of thread %d gives it", tid);
		r = thread_sched(p->threads[i].tid, cpuset, &p->threads[i].sched);
		if (r < 0)
			return r;
		p->threads[i].has_sched = true;	/* timer slack: from dump_remote_state() */
	}
	r = read_int(p->pid, "oom_score_adj", &v);
	if (r < 0 || v < -1000 || v > 1000)
		return log_err(r < 0 ? r : -EINVAL, "cannot read /proc/%d/oom_score_adj", p->pid);
	p->attrs.oom_score_adj = (int32_t)v;
	p->has_attrs = true;	/* the rest: from dump_remote_state() */
	r = read_int(p->pid, "loginuid", &v);
	if (r == -ENOENT)	/* a kernel without audit */
		return 0;
	if (r < 0 || v < 0 || v > UINT32_MAX)
		return log_err(r < 0 ? r : -EINVAL, "cannot read /proc/%d/loginuid", p->pid);
	p->loginuid = (uint32_t)v;
	p->has_loginuid = true;
	return 0;
}
