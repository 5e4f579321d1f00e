#pragma once
/*
 * Test children for the dump unit tests: fork a child that keeps only fds
 * 0-2 (on /dev/null), runs setup(), tells the parent what setup wrote to
 * SYNC_FD, and sleeps. The parent returns once the child has closed
 * SYNC_FD, so its fd table is final; stop_child() kills and reaps it.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SYNC_FD 200

static inline pid_t start_child(void (*setup)(int sync_fd), void *info, size_t info_len)
{
	int p[2];
	pid_t pid;
	size_t got = 0;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int null;

		if (dup2(p[1], SYNC_FD) < 0)
			_exit(1);
		close_range(3, SYNC_FD - 1, 0);
		close_range(SYNC_FD + 1, ~0u, 0);
		null = open("/dev/null", O_RDWR);
		if (null < 0)
			_exit(1);
		for (int i = 0; i < 3; i++)
			dup2(null, i);
		if (null > 2)
			close(null);
		setup(SYNC_FD);
		close(SYNC_FD);
		for (;;)
			pause();
	}
	close(p[1]);
	for (;;) {
		char buf[256];
		ssize_t n = read(p[0], buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		cr_assert_geq(n, 0);
		if (n == 0)
			break;
		if (info && got < info_len) {
			size_t c = (size_t)n < info_len - got ? (size_t)n : info_len - got;

			memcpy((char *)info + got, buf, c);
			got += c;
		}
	}
	close(p[0]);
	cr_assert_eq(got, info_len, "the child did not set up (got %zu bytes)", got);
	return pid;
}

static inline void stop_child(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}
