/*
 * Seccomp state of a frozen process: each thread's mode and no_new_privs
 * and, in filter mode, its filters, from PTRACE_SECCOMP_GET_FILTER
 * (CAP_SYS_ADMIN). Threads share the filters they inherited or synced
 * (TSYNC), so a process's filters form a tree. The kernel does not say
 * which filters are one object: a filter is taken to be one already
 * listed with the same program, flags and parent. Two threads that each
 * installed the same program on the same base become one filter: only a
 * later TSYNC tells, which then works where it failed before.
 *
 * Our remote syscalls pass the filters: they are suspended here, before
 * any is made (the whole process is stopped, so no thread can add one).
 *
 * A filter that may hand syscalls to a supervisor (md_seccomp_notifies())
 * is refused: the supervisor's end cannot come back with it. Flags the
 * kernel does not show (SECCOMP_FILTER_FLAG_SPEC_ALLOW) are lost: the
 * restored filter turns the speculation mitigations on.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>

#include "dump/internal.h"
#include "memdump/cleanup.h"
#include "memdump/freeze.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "memdump/proc.h"

int dump_seccomp_intern(struct md_proc *p, uint32_t parent, uint32_t flags, const struct sock_filter *insns,
			size_t n)
{
	struct md_seccomp_filter *a, *f, want = { parent, flags, (struct sock_filter *)insns, n };

	for (size_t i = 0; i < p->n_seccomp; i++)
		if (p->seccomp[i].parent == parent && md_seccomp_same(&p->seccomp[i], &want))
			return (int)i + 1;
	a = realloc(p->seccomp, (p->n_seccomp + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	p->seccomp = a;
	f = &a[p->n_seccomp];
	f->insns = malloc(n * sizeof(*insns));
	if (!f->insns)
		return -ENOMEM;
	memcpy(f->insns, insns, n * sizeof(*insns));
	f->n_insns = n;
	f->parent = parent;
	f->flags = flags;
	return (int)++p->n_seccomp;
}

/* filter `off` of tid (0: the oldest) into buf: its length; -ENOENT past the newest */
static int read_filter(pid_t tid, unsigned long off, struct sock_filter *buf, uint32_t *flags)
{
	struct __ptrace_seccomp_metadata md = { .filter_off = off };
	long n;

	n = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)off, buf);
	if (n < 0)
		return -errno;
	if (n == 0 || n > BPF_MAXINSNS)
		return -EIO;
	if (ptrace(PTRACE_SECCOMP_GET_METADATA, tid, (void *)sizeof(md), &md) < 0)
		return -errno;
	*flags = (uint32_t)md.flags & SECCOMP_FILTER_FLAG_LOG;
	return (int)n;
}

/*
 * The kernel counts a thread's filters from its oldest: each one's parent
 * is the one before. expect: how many /proc says it has (0: not said).
 */
static int thread_filters(struct md_proc *p, struct md_thread *t, uint32_t expect)
{
	_cleanup_free_ struct sock_filter *buf = malloc(BPF_MAXINSNS * sizeof(*buf));
	uint32_t parent = 0, flags = 0;
	unsigned long off;
	int r;

	if (!buf)
		return -ENOMEM;
	for (off = 0;; off++) {
		r = read_filter(t->tid, off, buf, &flags);
		if (r == -ENOENT)
			break;
		if (r < 0)
			return log_err(r, "cannot read seccomp filter %lu of thread %d%s", off, t->tid,
				       r == -EPERM || r == -EACCES ? " (it takes CAP_SYS_ADMIN and a memdump not "
								     "under seccomp)" : "");
		if (md_seccomp_notifies(buf, (size_t)r))
			return log_refuse("thread %d runs a seccomp filter that hands syscalls to a supervisor "
					  "(SECCOMP_RET_USER_NOTIF, or an action it computes): not supported",
					  t->tid);
		r = dump_seccomp_intern(p, parent, flags, buf, (size_t)r);
		if (r < 0)
			return r;
		parent = (uint32_t)r;
	}
	if (!off || (expect && off != expect))
		return log_err(-EIO, "thread %d: %lu seccomp filters read, where /proc/%d/task/%d/status says %u",
			       t->tid, off, p->pid, t->tid, expect);
	t->seccomp_filter = parent;
	return 0;
}

int dump_seccomp_thread(struct md_proc *p, struct md_thread *t, const struct proc_status *st)
{
	int r;

	if (st->seccomp > SECCOMP_MODE_FILTER)
		return log_refuse("thread %d: unknown seccomp mode %u", t->tid, st->seccomp);
	t->seccomp_mode = st->seccomp;
	t->no_new_privs = st->no_new_privs;
	if (st->seccomp) {
		r = freeze_suspend_seccomp(t->tid);
		if (r < 0)
			return log_err(r, "cannot suspend the seccomp filter of thread %d of %d (it takes "
					  "CAP_SYS_ADMIN, CONFIG_CHECKPOINT_RESTORE and a memdump not under seccomp)",
				       t->tid, p->pid);
	}
	if (st->seccomp == SECCOMP_MODE_FILTER)
		return thread_filters(p, t, st->seccomp_filters);
	return 0;
}
