/*
 * Copies of the tree's fds (pidfd_getfd()), for reading a socket, pipe,
 * pty or inotify the way only its own fd answers. The dump copies many fds
 * of one process in a row, and a pidfd_open() and close() around each copy
 * cost about as much as the copy: the last pidfd is kept, per thread. A
 * pidfd names its process for good: if that process is gone and its pid
 * taken again, pidfd_getfd() fails with ESRCH, and one new pidfd is tried.
 */
#include <errno.h>
#include <unistd.h>

#include "compat/pidfd.h"
#include "dump/internal.h"

static __thread pid_t last_pid;
static __thread int last_pidfd = -1;

void dump_copy_fd_done(void)
{
	if (last_pidfd >= 0)
		close(last_pidfd);
	last_pidfd = -1;
	last_pid = 0;
}

int dump_copy_fd(pid_t pid, int fd)
{
	for (int tries = 0;; tries++) {
		int r;

		if (last_pidfd < 0 || last_pid != pid) {
			dump_copy_fd_done();
			last_pidfd = md_pidfd_open(pid);
			if (last_pidfd < 0)
				return -errno;
			last_pid = pid;
		}
		r = md_pidfd_getfd(last_pidfd, fd);
		if (r >= 0)
			return r;
		r = -errno;
		if (r != -ESRCH || tries)
			return r;
		dump_copy_fd_done();
	}
}
