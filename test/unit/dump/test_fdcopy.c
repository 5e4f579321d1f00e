/*
 * dump_copy_fd(): copies of two children's fds, one after the other and
 * back, are copies of the right process's file; a child gone since its
 * pidfd was kept gives ESRCH, not a copy of whatever holds its pid now;
 * dump_copy_fd_done() leaves no fd of ours behind.
 */
#include "dump/internal.h"
#include "child.h"
#include "../fdtest.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>

static void open_file(int sync_fd)
{
	const char *path = getenv("FDCOPY_PATH");
	int fd = open(path, O_RDONLY);

	if (fd < 0 || dup2(fd, 42) < 0)
		_exit(1);
	if (write(sync_fd, "k", 1) != 1)
		_exit(1);
}

static size_t count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	size_t n = 0;

	cr_assert_not_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static pid_t child_on(const char *path, ino_t *ino)
{
	char k;
	struct stat st;
	pid_t pid;

	cr_assert_eq(setenv("FDCOPY_PATH", path, 1), 0);
	pid = start_child(open_file, &k, 1);
	cr_assert_eq(stat(path, &st), 0);
	*ino = st.st_ino;
	return pid;
}

Test(fdcopy, by_process_then_gone)
{
	size_t before = count_fds();
	ino_t ia, ib;
	pid_t a = child_on("/proc/self/exe", &ia), b = child_on("/dev/null", &ib);
	int fd;

	cr_assert_neq(ia, ib);
	for (int round = 0; round < 2; round++) {
		fd = dump_copy_fd(a, 42);
		cr_assert_geq(fd, 0, "%s", strerror(-fd));
		cr_expect_eq(ino_of(fd), ia, "a's file, round %d", round);
		close(fd);
		fd = dump_copy_fd(a, 42);
		cr_assert_geq(fd, 0);
		cr_expect_eq(ino_of(fd), ia);
		close(fd);
		fd = dump_copy_fd(b, 42);
		cr_assert_geq(fd, 0);
		cr_expect_eq(ino_of(fd), ib, "b's file, round %d", round);
		close(fd);
	}
	cr_expect_eq(dump_copy_fd(b, 43), -EBADF);
	/* b's pidfd is kept: b gone, the copy fails as for any process that is gone */
	stop_child(b);
	cr_expect_eq(dump_copy_fd(b, 42), -ESRCH);
	fd = dump_copy_fd(a, 42);
	cr_assert_geq(fd, 0);
	close(fd);
	stop_child(a);
	cr_expect_eq(dump_copy_fd(a, 42), -ESRCH);
	dump_copy_fd_done();
	cr_expect_eq(count_fds(), before, "an fd of ours left open");
	dump_copy_fd_done();
}
