/*
 * Work done in a forked child of memdump, for what memdump must not change
 * in itself: its ids (a connection made as the process holding it,
 * sockets.c), its fd table (epoll items added at the numbers the tree
 * uses, epoll.c). The child runs raw system calls on what the parent
 * prepared, and returns by _exit(). One that ends as a process gone did
 * leaves pidfds on a process gone.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compat/pidfd.h"
#include "restore/internal.h"

/*
 * fn(arg) in a child, waited for. With n_pidfds, that many pidfds on the
 * child are taken before it is reaped (each -errno if it could not be),
 * and it may end any way: 0 once it has.
 */
static int run_child(int (*fn)(void *arg), void *arg, int *pidfds, size_t n_pidfds)
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
	for (size_t i = 0; pid > 0 && i < n_pidfds; i++) {
		pidfds[i] = md_pidfd_open(pid);
		pidfds[i] = pidfds[i] < 0 ? -errno : pidfds[i];
	}
	while (pid > 0 && waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			r = -errno;
			break;
		}
	sigaction(SIGCHLD, &old, NULL);
	if (r < 0 || n_pidfds)
		return r;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -EIO;
}

int restore_in_child(int (*fn)(void *arg), void *arg)
{
	return run_child(fn, arg, NULL, 0);
}

/*
 * The child of restore_gone_pidfds(): it ends as the process gone did,
 * *arg its wait status (-1: unknown, exit 0). Killed by a signal: that
 * signal's default action, unblocked, with no core dumped; by raw system
 * calls, as glibc keeps signals 32 and 33 for itself. A signal whose
 * default is not to end (none could have ended it) gives exit 128 + it.
 */
static int end_as(void *arg)
{
	int st = *(const int *)arg, sig = st & 0x7f;
	uint64_t dfl[4] = { 0 /* SIG_DFL */, 0, 0, 0 }, mask;

	if (st < 0 || !sig)
		return st < 0 ? 0 : (st >> 8) & 0xff;
	if (sig > 64 || sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
		return 128 + sig;
	mask = 1ULL << (sig - 1);
	prctl(PR_SET_DUMPABLE, 0);
	syscall(SYS_rt_sigaction, sig, dfl, NULL, sizeof(mask));
	syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &mask, NULL, sizeof(mask));
	syscall(SYS_kill, getpid(), sig);
	return 128 + sig;
}

int restore_gone_pidfds(int *fds, size_t n, int status)
{
	int r;

	for (size_t i = 0; i < n; i++)
		fds[i] = -ECHILD;
	r = run_child(end_as, &status, fds, n);
	for (size_t i = 0; i < n && r >= 0; i++)
		r = fds[i] < 0 ? fds[i] : 0;
	for (size_t i = 0; i < n && r < 0; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
	return r;
}
