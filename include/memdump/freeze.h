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
};

int freeze_seize(pid_t pid, struct frozen *ret);

/* Detach every thread; they resume where they were. */
int freeze_thaw(struct frozen *f);
/* SIGKILL the process while frozen and wait until its threads are gone from ptrace. */
int freeze_kill(struct frozen *f);
void freeze_release(struct frozen *f);
