/*
 * The new root process's own work, in plain C, before memdump rebuilds it
 * by remote syscalls: block signals, keep only the socket its fds will
 * arrive through (at the number every process of the tree will have it
 * at), and stop itself with SIGSTOP for memdump to take over. Its children
 * are forked from it later, after its memory is back. It never returns.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "compat/fs.h"
#include "restore/internal.h"


static __attribute__((noreturn)) void fail(struct restore_ctx *rc, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rc->rep->msg, sizeof(rc->rep->msg), fmt, ap);
	va_end(ap);
	rc->rep->status = err < 0 ? err : -EINVAL;
	_exit(1);
}

void restore_child_main(struct restore_ctx *rc)
{
	struct rlimit rl;
	sigset_t all;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	/*
	 * Children are forked from us before each gets its own actions: none
	 * of memdump's (an ignored SIGCHLD would have the kernel reap a zombie
	 * we recreate).
	 */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* our SIGSTOP must reach memdump as a ptrace stop, not stop us unseen */
	while (!rc->rep->go)
		usleep(100);

	/* in the UTS namespace create_root() made for the tree */
	if (rc->inv.uts_host && (sethostname(rc->inv.uts_host, strlen(rc->inv.uts_host)) < 0 ||
				 setdomainname(rc->inv.uts_domain, strlen(rc->inv.uts_domain)) < 0))
		fail(rc, -errno, "cannot set the host and domain names of the tree's UTS namespace");
	/* in the mount namespace create_root() made: private, with a /proc of the new PID namespace */
	if (rc->inv.mnt_ns && (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
			       mount("proc", "/proc", "proc", rc->inv.proc_flags, rc->inv.proc_opts) < 0))
		fail(rc, -errno, "cannot mount a /proc for the tree's PID namespace");
	/* the image's fd numbers may pass memdump's soft limit; children inherit this */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rc->sock != rc->sock_remote && dup2(rc->sock, rc->sock_remote) < 0)
		fail(rc, -errno, "cannot move the restore socket to fd %d", rc->sock_remote);
	/* nothing of memdump's: every fd the process has will come from the image */
	if (rc->sock_remote > 0 && syscall(SYS_close_range, 0, rc->sock_remote - 1, 0) < 0)
		fail(rc, -errno, "cannot close memdump's fds");
	if (syscall(SYS_close_range, rc->sock_remote + 1, ~0U, 0) < 0)
		fail(rc, -errno, "cannot close memdump's fds");

	rc->rep->status = 0;
	/* raw syscalls: glibc's cached thread id is memdump's, not ours */
	syscall(SYS_tgkill, syscall(SYS_getpid), syscall(SYS_gettid), SIGSTOP);
	/* memdump never lets us get here */
	_exit(127);
}
