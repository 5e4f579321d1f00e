/*
 * Work done in a forked child of memdump, for what memdump must not change
 * in itself: its ids (a connection made as the process holding it,
 * sockets.c), its fd table (epoll items added at the numbers the tree
 * uses, epoll.c). The child runs raw system calls on what the parent
 * prepared, and returns by _exit().
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "restore/internal.h"

int restore_in_child(int (*fn)(void *arg), void *arg)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL }, old;
	int st, r = 0;
	pid_t pid;

	/* a SIGCHLD ignored would reap the child before we could */
	sigaction(SIGCHLD, &dfl, &old);
	pid = fork();
	if (pid == 0)
		_exit(fn(arg) & 0xff);
	if (pid < 0)
		r = -errno;
	while (pid > 0 && waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			r = -errno;
			break;
		}
	sigaction(SIGCHLD, &old, NULL);
	if (r < 0)
		return r;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -EIO;
}
