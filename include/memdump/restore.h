#pragma once
/*
 * The restore stage: read and validate every image, then create the
 * process with its PID and TIDs, rebuild its memory, fill pages, set
 * per-thread state and let it run. Nothing is created before every image
 * has been validated; a failure at any later step kills what was created.
 */
#include <stdbool.h>

struct restore_opts {
	const char *dir;
	bool detach;		/* -d: return once the process runs */
	bool lazy;		/* --lazy-pages: run before the pages are in, fill them on demand */
	bool shell_job;		/* --shell-job: the image's terminal is memdump's, the root joins its group */
	bool tcp_established;	/* --tcp-established: the image may hold established TCP connections */
};

/* Returns the exit code memdump should exit with (restored process's status without -d), or -errno. */
int restore_run(const struct restore_opts *o);
