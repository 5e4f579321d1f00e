#pragma once
/*
 * Freezing a process with ptrace: PTRACE_SEIZE + PTRACE_INTERRUPT every
 * thread, re-reading /proc/PID/task until no new thread appears. On any
 * error every thread already seized is detached as it was.
 */
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct frozen {
	pid_t pid;
	pid_t *tids;		/* tids[0] == pid, the thread-group leader */
	size_t n;
	int stop_sig;		/* the group-stop it is in (SIGSTOP, SIGTSTP...), 0 if it ran */
	size_t n_stopped;	/* threads seized in that group-stop: stop_sig holds if all were */
};

int freeze_seize(pid_t pid, struct frozen *ret);

/*
 * Suspend the seccomp filters of a seized, stopped thread until it is
 * detached (PTRACE_O_SUSPEND_SECCOMP: CAP_SYS_ADMIN), so that they judge
 * none of our remote syscalls. Only once its whole process is stopped: a
 * thread still running could give it a filter (TSYNC).
 */
int freeze_suspend_seccomp(pid_t tid);

/* Detach every thread; they resume where they were (a stopped process stays stopped). */
int freeze_thaw(struct frozen *f);
void freeze_release(struct frozen *f);

/*
 * A process tree: root and all its descendants, each frozen as above,
 * found breadth first (a parent before its children) from the ppid of
 * every process until no new one appears. Dead children not yet reaped
 * are listed as zombies. On failure everything seized is let go.
 */
struct frozen_tree {
	struct frozen *procs;	/* procs[0] is the root */
	size_t n;
	pid_t *zombies;
	size_t n_zombies;
};

int freeze_tree(pid_t root, struct frozen_tree *ret);
int freeze_tree_thaw(struct frozen_tree *t);
/*
 * SIGKILL every process while frozen: none runs again. Returns without
 * waiting for them to finish exiting (their pids stay in use until then,
 * and until their parents reap them).
 */
int freeze_tree_kill(struct frozen_tree *t);
void freeze_tree_release(struct frozen_tree *t);
