/*
 * restore_gone_pidfds(): pidfds on a process gone, each its own
 * description of one process, which ended as the image says.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "compat/pidfd.h"
#include "restore/internal.h"

/* the wait status the kernel tells of fd's process (6.15 on), or -1 */
static int exit_told(int fd)
{
	struct md_pidfd_info info = { .mask = PIDFD_INFO_EXIT };

	if (ioctl(fd, MD_PIDFD_GET_INFO, &info) < 0 || !(info.mask & PIDFD_INFO_EXIT))
		return -1;
	return info.exit_code;
}

static void expect_gone(int status, int want)
{
	int fds[3];
	struct stat a, b;

	cr_assert_eq(restore_gone_pidfds(fds, 3, status), 0);
	for (int i = 0; i < 3; i++) {
		struct pollfd p = { .fd = fds[i], .events = POLLIN };

		cr_assert_geq(fds[i], 0);
		cr_expect_eq(poll(&p, 1, 0), 1, "a pidfd on a process gone does not poll readable");
		cr_expect_eq(md_pidfd_send_signal(fds[i], 0), -1);
		cr_expect_eq(errno, ESRCH);
		cr_assert_eq(fstat(fds[i], &a), 0);
		cr_assert_eq(fstat(fds[0], &b), 0);
		/* one process, one inode (pidfs; before it, one for every pidfd) */
		cr_expect_eq(a.st_ino, b.st_ino, "pidfds %d and 0 on two processes", i);
		if (exit_told(fds[i]) >= 0)
			cr_expect_eq(exit_told(fds[i]), want, "wait status %#x, not %#x", exit_told(fds[i]), want);
	}
	/* three descriptions: a flag set on one is not on the others */
	cr_assert_eq(fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);
	cr_expect_not(fcntl(fds[0], F_GETFL) & O_NONBLOCK);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
}

Test(restore_pidfd, gone_exited) { expect_gone(3 << 8, 3 << 8); }
Test(restore_pidfd, gone_killed) { expect_gone(SIGTERM, SIGTERM); }
/* no core dump is made again: the status lacks 0x80 */
Test(restore_pidfd, gone_killed_core) { expect_gone(SIGSEGV | 0x80, SIGSEGV); }
Test(restore_pidfd, gone_unknown) { expect_gone(-1, 0); }
/* glibc keeps 32 and 33 for itself: its signal() and raise() refuse them */
Test(restore_pidfd, gone_killed_by_32) { expect_gone(32, 32); }
Test(restore_pidfd, gone_killed_by_rt_max) { expect_gone(64, 64); }
/* no process can end by a stop signal: it exits 128 + it, and nobody waits for ever */
Test(restore_pidfd, gone_stop_signal) { expect_gone(SIGSTOP, (128 + SIGSTOP) << 8); }

Test(restore_pidfd, gone_different_processes)
{
	int x, y;
	struct stat a, b;

	struct statfs fs;

	cr_assert_eq(restore_gone_pidfds(&x, 1, 0), 0);
	cr_assert_eq(restore_gone_pidfds(&y, 1, 0), 0);
	cr_assert_eq(fstatfs(x, &fs), 0);
	if (fs.f_type != PID_FS_MAGIC)
		cr_skip_test("pidfds are no pidfs inodes here (before 6.9): one inode for all");
	cr_assert_eq(fstat(x, &a), 0);
	cr_assert_eq(fstat(y, &b), 0);
	cr_expect_neq(a.st_ino, b.st_ino);
	close(x);
	close(y);
}
