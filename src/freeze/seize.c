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

static bool has_tid(const struct frozen *f, pid_t tid)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->tids[i] == tid)
			return true;
	return false;
}

static int seize_one(struct frozen *f, pid_t tid)
{
	int r;

	if (ptrace(PTRACE_SEIZE, tid, NULL, (void *)(long)PTRACE_O_TRACESYSGOOD) < 0) {
		r = -errno;
		if (r == -ESRCH)
			return 0;	/* exited since we listed it */
		return log_err(r, "cannot seize thread %d", tid);
	}
	f->tids[f->n++] = tid;
	if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) < 0)
		return log_err(-errno, "cannot interrupt thread %d", tid);
	r = inject_wait_stop(tid);
	if (r == -ESRCH) {
		/* died while we seized it: ptrace is gone with it */
		f->n--;
		return 0;
	}
	if (r < 0)
		return log_err(r, "cannot stop thread %d", tid);
	return 0;
}

int freeze_seize(pid_t pid, struct frozen *ret)
{
	struct frozen f = { .pid = pid };
	struct proc_stat st;
	size_t cap = 0;
	int r;

	r = proc_read_stat(pid, 0, &st);
	if (r < 0)
		return log_err(r, "no process %d", pid);
	if (st.state == 'Z' || st.state == 'X')
		return log_err(-ESRCH, "process %d is a zombie", pid);
	if (st.state == 'T' || st.state == 't')
		return log_err(-EBUSY, "process %d is stopped or traced; not supported yet", pid);

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
				r = log_err(-ESRCH, "process %d exited", pid);
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
	*ret = f;
	return 0;

out_thaw:
	freeze_thaw(&f);
	free(f.tids);
	return r;
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

int freeze_kill(struct frozen *f)
{
	int status;

	if (kill(f->pid, SIGKILL) < 0)
		return log_err(-errno, "cannot kill %d", f->pid);
	/*
	 * Collect the ptrace exit reports so the parent can reap the process.
	 * The leader's report waits until every other thread's is collected:
	 * take it last.
	 */
	for (size_t i = f->n; i-- > 0;)
		while (waitpid(f->tids[i], &status, __WALL) >= 0 && !WIFEXITED(status) && !WIFSIGNALED(status))
			;
	f->n = 0;
	return 0;
}

void freeze_release(struct frozen *f)
{
	if (!f)
		return;
	free(f->tids);
	memset(f, 0, sizeof(*f));
}
