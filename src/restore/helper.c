/*
 * Work done in a forked child of memdump, for what memdump must not change
 * in itself: its ids (a connection made as the process holding it,
 * sockets.c), its fd table (epoll items added at the numbers the tree
 * uses, epoll.c). The child runs raw system calls on what the parent
 * prepared, and returns by _exit(). One that does nothing leaves a pidfd
 * on a process gone.
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compat/pidfd.h"
#include "restore/internal.h"

/*
 * fn(arg) in a child, waited for; with pidfd, a pidfd on the child
 * (pidfd_open() flags) is taken before it is reaped: -errno in *pidfd if
 * none could be.
 */
static int run_child(int (*fn)(void *arg), void *arg, int *pidfd, unsigned int flags)
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
	if (pid > 0 && pidfd) {
		*pidfd = md_pidfd_open_flags(pid, flags);
		*pidfd = *pidfd < 0 ? -errno : *pidfd;
	}
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

int restore_in_child(int (*fn)(void *arg), void *arg)
{
	return run_child(fn, arg, NULL, 0);
}

static int nothing(void *arg)
{
	(void)arg;
	return 0;
}

int restore_gone_pidfd(unsigned int flags)
{
	int fd = -ENOMEM, r = run_child(nothing, NULL, &fd, flags);

	if (r < 0 && fd >= 0)
		close(fd);
	return r < 0 ? r : fd;
}
