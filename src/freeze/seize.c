/*
 * Seize and interrupt every thread of one process; thaw or kill it later.
 * Leaves reading the state of the stopped threads to dump/.
 */
#include "memdump/freeze.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memdump/cleanup.h"
#include "memdump/inject.h"
#include "memdump/log.h"
#include "memdump/proc.h"

#define FREEZE_MAX_ROUNDS 64
#define SEIZE_OPTIONS PTRACE_O_TRACESYSGOOD

static bool has_tid(const struct frozen *f, pid_t tid)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->tids[i] == tid)
			return true;
	return false;
}

int freeze_suspend_seccomp(pid_t tid)
{
	if (ptrace(PTRACE_SETOPTIONS, tid, NULL, (void *)(long)(SEIZE_OPTIONS | PTRACE_O_SUSPEND_SECCOMP)) < 0)
		return -errno;
	return 0;
}

#define PF_EXITING_ 0x4	/* stat's flags: the thread is on its way out */

/*
 * Whether every thread of pid but the main one is exiting: a process in
 * exit_group() shows its main thread as a zombie, and its others for as
 * long as they take to go (freeing the memory, or stuck in the kernel).
 */
static bool others_exiting(pid_t pid)
{
	_cleanup_free_ pid_t *tids = NULL;
	size_t n = 0;

	if (proc_list_tasks(pid, &tids, &n) < 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		struct proc_stat st;

		if (tids[i] == pid || proc_read_stat(pid, tids[i], &st) < 0)
			continue;
		if (st.state != 'Z' && st.state != 'X' && !(st.flags & PF_EXITING_))
			return false;
	}
	return true;
}

/*
 * Why a thread of pid cannot be seized, where we can tell: another tracer
 * (a debugger, strace) holds it, or it is the main thread and has exited
 * while other threads run (ptrace cannot attach to a zombie). 0 if neither.
 */
static int seize_refusal(pid_t pid, pid_t tid)
{
	struct proc_status ss;
	struct proc_stat st;

	if (proc_read_status(pid, tid, &ss) == 0 && ss.tracer > 0) {
		struct proc_stat ts;

		if (proc_read_stat(ss.tracer, 0, &ts) < 0)
			snprintf(ts.comm, sizeof(ts.comm), "?");
		return log_refuse("thread %d of process %d is traced by process %d (%s): detach the debugger or "
				  "tracer first", tid, pid, ss.tracer, ts.comm);
	}
	if (tid == pid && proc_read_stat(pid, 0, &st) == 0 && st.state == 'Z' && st.num_threads > 1 &&
	    !others_exiting(pid))
		return log_refuse("process %d: its main thread has exited, %lld other thread%s still running: "
				  "not supported", pid, (long long)st.num_threads - 1, st.num_threads == 2 ? "" : "s");
	return 0;
}

static int seize_one(struct frozen *f, pid_t tid)
{
	int r, sig = 0;

	if (ptrace(PTRACE_SEIZE, tid, NULL, (void *)(long)SEIZE_OPTIONS) < 0) {
		r = -errno;
		if (r == -ESRCH)
			return 0;	/* exited since we listed it */
		if (r == -EPERM) {
			int q = seize_refusal(f->pid, tid);

			if (q < 0)
				return q;
		}
		return log_err(r, "cannot seize thread %d", tid);
	}
	f->tids[f->n++] = tid;
	if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) < 0)
		return log_err(-errno, "cannot interrupt thread %d", tid);
	/* a stopped process: seized, each thread traps with the signal that stopped it */
	r = inject_wait_stop_sig(tid, &sig);
	if (r == 0 && sig) {
		if (!f->stop_sig)
			f->stop_sig = sig;
		f->n_stopped++;
	}
	if (r == -ESRCH) {
		/* died while we seized it: ptrace is gone with it */
		f->n--;
		return 0;
	}
	if (r < 0)
		return log_err(r, "cannot stop thread %d", tid);
	return 0;
}

/* Seize every thread of pid; -ESRCH (not logged) if it is gone or died meanwhile. */
static int seize_process(pid_t pid, struct frozen *ret)
{
	struct frozen f = { .pid = pid };
	struct proc_stat st;
	size_t cap = 0;
	int r;

	r = proc_read_stat(pid, 0, &st);
	if (r == 0 && (st.state == 't' || (st.state == 'Z' && st.num_threads > 1))) {
		r = seize_refusal(pid, pid);
		if (r < 0)
			return r;
		if (st.state == 't')
			return log_err(-EBUSY, "process %d is traced by another process", pid);
	}
	if (r < 0 || st.state == 'Z' || st.state == 'X')
		return -ESRCH;

	for (int round = 0;; round++) {
		_cleanup_free_ pid_t *tids = NULL;
		size_t n = 0, added = 0;

		if (round == FREEZE_MAX_ROUNDS) {
			r = log_err(-EAGAIN, "threads of %d keep appearing", pid);
			goto out_thaw;
		}
		r = proc_list_tasks(pid, &tids, &n);
		if (r < 0) {
			log_err(r, "cannot list threads of %d", pid);
			goto out_thaw;
		}
		if (f.n + n > cap) {
			size_t ncap = (f.n + n) * 2 + 8;
			pid_t *t = realloc(f.tids, ncap * sizeof(*t));

			if (!t) {
				r = -ENOMEM;
				goto out_thaw;
			}
			f.tids = t;
			cap = ncap;
		}
		/* the leader first, so tids[0] == pid */
		if (!has_tid(&f, pid)) {
			r = seize_one(&f, pid);
			if (r < 0)
				goto out_thaw;
			if (f.n == 0) {
				r = -ESRCH;
				goto out_thaw;
			}
			added++;
		}
		for (size_t i = 0; i < n; i++) {
			if (has_tid(&f, tids[i]))
				continue;
			r = seize_one(&f, tids[i]);
			if (r < 0)
				goto out_thaw;
			added++;
		}
		/* a pass that found nobody new: every thread that exists is stopped */
		if (!added)
			break;
	}
	/* a SIGCONT while we seized it: threads seized after it ran */
	if (f.n_stopped < f.n)
		f.stop_sig = 0;
	*ret = f;
	return 0;

out_thaw:
	freeze_thaw(&f);
	free(f.tids);
	return r;
}

int freeze_seize(pid_t pid, struct frozen *ret)
{
	struct proc_stat st;
	int r = seize_process(pid, ret);

	if (r != -ESRCH)
		return r;
	if (proc_read_stat(pid, 0, &st) < 0)
		return log_err(r, "no process %d", pid);
	return log_err(r, "process %d is a zombie", pid);
}

static bool in_tree(const struct frozen_tree *t, pid_t pid)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->procs[i].pid == pid)
			return true;
	for (size_t i = 0; i < t->n_zombies; i++)
		if (t->zombies[i] == pid)
			return true;
	return false;
}

static int add_zombie(struct frozen_tree *t, pid_t pid)
{
	pid_t *z = realloc(t->zombies, (t->n_zombies + 1) * sizeof(*z));

	if (!z)
		return -ENOMEM;
	t->zombies = z;
	t->zombies[t->n_zombies++] = pid;
	return 0;
}

/*
 * One child of a frozen parent: seize it, or note it as a zombie. Its
 * parent cannot reap it meanwhile (frozen), so a child that dies while we
 * seize it stays to be found as a zombie; one that is gone entirely was
 * reaped by the kernel (SIGCHLD ignored) and is no part of the tree.
 */
static int add_child(struct frozen_tree *t, pid_t pid)
{
	struct proc_stat st;
	struct frozen f;
	int r;

	r = seize_process(pid, &f);
	if (r == 0) {
		struct frozen *np = realloc(t->procs, (t->n + 1) * sizeof(*np));

		if (!np) {
			freeze_thaw(&f);
			freeze_release(&f);
			return -ENOMEM;
		}
		t->procs = np;
		t->procs[t->n++] = f;
		return 0;
	}
	if (r != -ESRCH)
		return r;
	if (proc_read_stat(pid, 0, &st) < 0)
		return 0;
	if (st.state == 'Z')
		return add_zombie(t, pid);
	return 0;
}

int freeze_tree(pid_t root, struct frozen_tree *ret)
{
	struct frozen_tree t = { 0 };
	int r;

	t.procs = calloc(1, sizeof(*t.procs));
	if (!t.procs)
		return -ENOMEM;
	r = freeze_seize(root, &t.procs[0]);
	if (r < 0) {
		free(t.procs);
		return r;
	}
	t.n = 1;
	/*
	 * Breadth first, a generation at a time: once every thread of a
	 * process is stopped it can fork no more, so one look at the children
	 * of a frozen generation is enough. One pass over /proc finds them
	 * all; the tree ends with a generation that has none.
	 */
	for (size_t first = 0; first < t.n;) {
		_cleanup_free_ pid_t *parents = NULL, *kids = NULL;
		size_t n_parents = t.n - first, n = 0;

		parents = calloc(n_parents, sizeof(*parents));
		if (!parents) {
			r = -ENOMEM;
			goto fail;
		}
		for (size_t i = 0; i < n_parents; i++)
			parents[i] = t.procs[first + i].pid;
		first = t.n;
		r = proc_list_children(parents, n_parents, &kids, &n);
		if (r < 0) {
			log_err(r, "cannot list the children of %d and its descendants", root);
			goto fail;
		}
		for (size_t k = 0; k < n; k++) {
			if (in_tree(&t, kids[k]))
				continue;
			r = add_child(&t, kids[k]);
			if (r < 0) {
				if (r != -ENOTSUP)	/* a refusal names the process already */
					log_err(r, "cannot freeze process %d of the tree of %d", kids[k], root);
				goto fail;
			}
		}
	}
	*ret = t;
	return 0;
fail:
	freeze_tree_thaw(&t);
	freeze_tree_release(&t);
	return r;
}

int freeze_tree_thaw(struct frozen_tree *t)
{
	int r = 0;

	/* children first: a parent let go first could see them still stopped */
	for (size_t i = t->n; i-- > 0;) {
		int q = freeze_thaw(&t->procs[i]);

		if (q < 0 && !r)
			r = q;
	}
	return r;
}

/*
 * A SIGKILL wakes a ptrace-stopped thread only to exit: no process of the
 * tree runs another instruction after this. The kernel frees their memory
 * as they exit (0.14 s for 2 GiB here); we do not wait for it. When we
 * exit (or detach), the dying threads go back to their parents, who reap
 * them.
 */
int freeze_tree_kill(struct frozen_tree *t)
{
	int r = 0;

	for (size_t i = 0; i < t->n; i++) {
		if (kill(t->procs[i].pid, SIGKILL) < 0 && errno != ESRCH && !r)
			r = log_err(-errno, "cannot kill %d", t->procs[i].pid);
		t->procs[i].n = 0;	/* nothing left to thaw */
	}
	return r;
}

void freeze_tree_release(struct frozen_tree *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		freeze_release(&t->procs[i]);
	free(t->procs);
	free(t->zombies);
	memset(t, 0, sizeof(*t));
}

int freeze_thaw(struct frozen *f)
{
	int r = 0;

	for (size_t i = 0; i < f->n; i++) {
		pid_t tid = f->tids[i];

		if (ptrace(PTRACE_DETACH, tid, NULL, NULL) == 0)
			continue;
		if (errno != ESRCH) {
			if (!r)
				r = log_err(-errno, "cannot detach thread %d", tid);
			continue;
		}
		/*
		 * ESRCH: gone, or traced but not stopped (a wait that failed
		 * half-way). Stop it, then let go; a thread that is gone or dies
		 * meanwhile needs nothing more.
		 */
		if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) < 0 || inject_wait_stop(tid) < 0)
			continue;
		if (ptrace(PTRACE_DETACH, tid, NULL, NULL) < 0 && errno != ESRCH && !r)
			r = log_err(-errno, "cannot detach thread %d", tid);
	}
	f->n = 0;
	return r;
}

void freeze_release(struct frozen *f)
{
	if (!f)
		return;
	free(f->tids);
	memset(f, 0, sizeof(*f));
}
