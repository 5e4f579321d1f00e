/* proc_parse_fdinfo() on saved samples; proc_list_tasks() and proc_read_file() live. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "memdump/cleanup.h"
#include "memdump/proc.h"

static void parse_fixture(const char *name, struct proc_fdinfo *fi)
{
	_cleanup_free_ char *buf = NULL;
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", FIXTURES_DIR, name);
	cr_assert_eq(proc_read_file(path, &buf, NULL), 0, "%s", path);
	cr_assert_eq(proc_parse_fdinfo(buf, fi), 0, "%s", path);
}

Test(proc_fdinfo, regular_file)
{
	struct proc_fdinfo fi;

	parse_fixture("fdinfo_reg.txt", &fi);
	cr_assert_eq(fi.pos, 10);
	cr_assert_eq(fi.flags, 0100000 /* O_LARGEFILE as the kernel prints it */ | O_RDONLY);
	cr_assert_eq(fi.mnt_id, 27);
	cr_assert_eq(fi.ino, 861);
}

Test(proc_fdinfo, memfd_and_eventfd_flags_are_octal)
{
	struct proc_fdinfo fi;

	parse_fixture("fdinfo_memfd.txt", &fi);
	cr_assert_eq(fi.flags, 0100000 | O_RDWR);
	cr_assert_eq(fi.ino, 28);

	parse_fixture("fdinfo_eventfd.txt", &fi);
	cr_assert_eq(fi.flags, O_CLOEXEC | O_NONBLOCK | O_RDWR);
	cr_assert_eq(fi.pos, 0);
	cr_assert_eq(fi.mnt_id, 17);
	cr_assert_eq(fi.ino, 1038);
}

Test(proc_fdinfo, optional_and_malformed)
{
	struct proc_fdinfo fi = { .pos = 5 };

	/* old kernels: no ino, no mnt_id */
	cr_assert_eq(proc_parse_fdinfo("pos:\t123\nflags:\t02000001\n", &fi), 0);
	cr_assert_eq(fi.pos, 123);
	cr_assert_eq(fi.flags, O_CLOEXEC | O_WRONLY);
	cr_assert_eq(fi.mnt_id, -1);
	cr_assert_eq(fi.ino, 0);

	fi.pos = 5;
	cr_assert_eq(proc_parse_fdinfo("flags:\t02\n", &fi), -EINVAL);
	cr_assert_eq(proc_parse_fdinfo("pos:\t1\n", &fi), -EINVAL);
	cr_assert_eq(proc_parse_fdinfo("pos:\t1\nflags:\t09\n", &fi), -EINVAL);
	cr_assert_eq(proc_parse_fdinfo("pos:\tx\nflags:\t02\n", &fi), -EINVAL);
	cr_assert_eq(proc_parse_fdinfo("pos:\t1\nflags:\t02\nino:\tabc\n", &fi), -EINVAL);
	/* "eventfd-pos:" is not "pos:" */
	cr_assert_eq(proc_parse_fdinfo("xpos:\t1\nflags:\t02\n", &fi), -EINVAL);
	cr_assert_eq(fi.pos, 5);
}

Test(proc_fdinfo, live_own_fd)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	struct proc_fdinfo fi;
	char tmp[100];

	cr_assert_geq(fd, 0);
	cr_assert_eq(read(fd, tmp, sizeof(tmp)), (ssize_t)sizeof(tmp));
	cr_assert_eq(proc_read_filef(&buf, NULL, "/proc/self/fdinfo/%d", fd), 0);
	cr_assert_eq(proc_parse_fdinfo(buf, &fi), 0);
	cr_assert_eq(fi.flags & O_ACCMODE, O_RDONLY);
	cr_assert(fi.flags & O_CLOEXEC);
	cr_assert_neq(fi.pos, 0);
}

static void *sleeper(void *arg)
{
	int *tid = arg;

	__atomic_store_n(tid, (int)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	pause();
	return NULL;
}

Test(proc_tasks, lists_threads_sorted)
{
	pthread_t t[3];
	int tids[3] = {};
	pid_t *list = NULL;
	size_t n = 0;

	for (int i = 0; i < 3; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, sleeper, &tids[i]), 0);
	for (int i = 0; i < 3; i++)
		while (!__atomic_load_n(&tids[i], __ATOMIC_SEQ_CST))
			usleep(1000);

	cr_assert_eq(proc_list_tasks(getpid(), &list, &n), 0);
	cr_assert_geq(n, 4);
	for (size_t i = 1; i < n; i++)
		cr_assert_lt(list[i - 1], list[i]);
	for (int i = 0; i < 3; i++) {
		bool found = false;

		for (size_t j = 0; j < n; j++)
			found |= list[j] == tids[i];
		cr_assert(found, "thread %d missing", tids[i]);
	}
	free(list);
	cr_assert_eq(proc_list_tasks(-1, &list, &n), -ENOENT);
}

Test(proc_file, reads_large_proc_file_whole)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;

	/* smaps of a process is far larger than one 4 KiB read */
	cr_assert_eq(proc_read_filef(&buf, &len, "/proc/%d/smaps", getpid()), 0);
	cr_assert_gt(len, 8192);
	cr_assert_eq(strlen(buf), len);
	cr_assert_eq(buf[len - 1], '\n');
	cr_assert_eq(proc_read_file("/nonexistent/x", &buf, &len), -ENOENT);
}
