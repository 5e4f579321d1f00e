/* proc_parse_fdinfo() on saved samples; proc_list_tasks() and proc_read_file() live. */
#include <criterion/criterion.h>
#include <sys/sysmacros.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "memdump/cleanup.h"
#include "memdump/model.h"
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

static char *read_fixture(const char *name)
{
	char path[512], *buf = NULL;

	snprintf(path, sizeof(path), "%s/%s", FIXTURES_DIR, name);
	cr_assert_eq(proc_read_file(path, &buf, NULL), 0, "%s", path);
	return buf;
}

Test(proc_fdinfo, eventfd_count_is_hex)
{
	_cleanup_free_ char *a = read_fixture("fdinfo_eventfd.txt"), *b = read_fixture("fdinfo_eventfd_sem.txt");
	struct proc_eventfd e;

	cr_assert_eq(proc_parse_eventfd(a, &e), 0);
	cr_expect_eq(e.count, 5);
	cr_expect_not(e.semaphore);
	cr_assert_eq(proc_parse_eventfd(b, &e), 0);
	cr_expect_eq(e.count, 0x12345678eULL);
	cr_expect(e.semaphore && e.semaphore_known);
	/* older kernels print no semaphore line; no count at all is not an eventfd */
	cr_assert_eq(proc_parse_eventfd("pos:\t0\nflags:\t02\neventfd-count:  1f\n", &e), 0);
	cr_expect_eq(e.count, 0x1f);
	cr_expect_not(e.semaphore);
	cr_expect_not(e.semaphore_known);
	cr_expect_eq(proc_parse_eventfd("pos:\t0\nflags:\t02\n", &e), -EINVAL);
}

Test(proc_fdinfo, signalfd_mask)
{
	_cleanup_free_ char *a = read_fixture("fdinfo_signalfd.txt");
	uint64_t m;

	cr_assert_eq(proc_parse_signalfd(a, &m), 0);
	cr_expect_eq(m, 1ULL << (SIGUSR1 - 1) | 1ULL << (34 + 2 - 1));
	cr_expect_eq(proc_parse_signalfd("sigmask:\tzz\n", &m), -EINVAL);
}

Test(proc_fdinfo, pidfd_pid)
{
	_cleanup_free_ char *a = read_fixture("fdinfo_pidfd.txt"), *b = read_fixture("fdinfo_pidfd_gone.txt");
	struct proc_fdinfo fi;
	pid_t pid = 7;

	/* /proc's pid, not the one in the process's own namespace (NSpid's last) */
	cr_assert_eq(proc_parse_pidfd(a, &pid), 0);
	cr_expect_eq(pid, 17886);
	cr_assert_eq(proc_parse_fdinfo(a, &fi), 0);
	cr_expect_eq(fi.flags, 02004002);
	cr_assert_eq(proc_parse_pidfd(b, &pid), 0);
	cr_expect_eq(pid, -1);
	cr_assert_eq(proc_parse_pidfd("pos:\t0\nPid:\t0\n", &pid), 0);
	cr_expect_eq(pid, 0);
	/* "NSpid:" is not "Pid:"; no line, a bad number or one out of range is refused */
	pid = 7;
	cr_expect_eq(proc_parse_pidfd("pos:\t0\nNSpid:\t5\n", &pid), -EINVAL);
	cr_expect_eq(proc_parse_pidfd("Pid:\t-2\n", &pid), -EINVAL);
	cr_expect_eq(proc_parse_pidfd("Pid:\t12x\n", &pid), -EINVAL);
	cr_expect_eq(proc_parse_pidfd("Pid:\t4294967296\n", &pid), -EINVAL);
	cr_expect_eq(proc_parse_pidfd("Pid:\n5\n", &pid), -EINVAL);
	cr_expect_eq(proc_parse_pidfd(NULL, &pid), -EINVAL);
	cr_expect_eq(pid, 7);
}

Test(proc_fdinfo, epoll_items_in_kernel_order)
{
	_cleanup_free_ char *a = read_fixture("fdinfo_epoll.txt"), *b = read_fixture("fdinfo_epoll_nested.txt");
	_cleanup_free_ struct md_epoll_item *it = NULL, *nested = NULL, *none = NULL;
	struct md_epoll_item *bad = NULL;
	size_t n = 0, nn = 0, n0 = 1;

	cr_assert_eq(proc_parse_epoll(a, &it, &n), 0);
	cr_assert_eq(n, 2);
	cr_expect_eq(it[0].tfd, 4);
	cr_expect_eq(it[0].events, 0x40000000 /* EPOLLONESHOT, fired */);
	cr_expect_eq(it[0].data, 4);
	cr_expect_eq(it[1].tfd, 3);
	cr_expect_eq(it[1].events, 0x80000019 /* EPOLLET | EPOLLIN | EPOLLERR | EPOLLHUP */);
	cr_expect_eq(it[1].data, 3);
	cr_expect_eq(it[0].ofd + it[1].ofd, 0);
	/* the watched file's inode (hex) and device (the kernel's: 20 bits of minor) */
	cr_expect(it[0].file_known);
	cr_expect_eq(it[0].ino, 0x261031);
	cr_expect_eq(it[0].dev, makedev(0, 15));
	cr_assert_eq(proc_parse_epoll(b, &nested, &nn), 0);
	cr_assert_eq(nn, 1);
	cr_expect_eq(nested[0].tfd, 5);
	cr_expect_eq(nested[0].events, 0x19);
	cr_expect_eq(nested[0].ino, 0x40e);
	cr_expect_eq(nested[0].dev, makedev(0, 16));
	free(nested);
	/* without them (before 3.19): known by kcmp() alone; not taken from the next line */
	cr_assert_eq(proc_parse_epoll("tfd: 4 events: 19 data: 1\npos: 0 ino:5 sdev:3\n", &nested, &nn), 0);
	cr_assert_eq(nn, 1);
	cr_expect_not(nested[0].file_known);
	free(nested);
	cr_assert_eq(proc_parse_epoll("tfd: 4 events: 19 data: 1 pos:0 ino:5 sdev:8400003\n", &nested, &nn), 0);
	cr_expect(nested[0].file_known);
	cr_expect_eq(nested[0].dev, makedev(0x84, 3));
	/* no items: an empty list */
	cr_assert_eq(proc_parse_epoll("pos:\t0\nflags:\t02\n", &none, &n0), 0);
	cr_expect_eq(n0, 0);
	cr_expect_null(none);
	/* a torn or negative line */
	cr_expect_eq(proc_parse_epoll("tfd:        4 events: 19\n", &bad, &n), -EINVAL);
	cr_expect_eq(proc_parse_epoll("tfd: 4 events: 19 data: zz\n", &bad, &n), -EINVAL);
	cr_expect_eq(proc_parse_epoll("tfd: -4 events: 19 data: 1 pos:0\n", &bad, &n), -EINVAL);
	cr_expect_eq(proc_parse_epoll("tfd: 4 events: 19 data: 1x pos:0\n", &bad, &n), -EINVAL);
}

Test(proc_fdinfo, timerfd_relative_and_absolute)
{
	_cleanup_free_ char *a = read_fixture("fdinfo_timerfd.txt"), *b = read_fixture("fdinfo_timerfd_abs.txt");
	struct proc_timerfd t;

	cr_assert_eq(proc_parse_timerfd(a, &t), 0);
	cr_expect_eq(t.clockid, 1 /* CLOCK_MONOTONIC */);
	cr_expect_eq(t.ticks, 0);
	cr_expect_eq(t.settime_flags, 0);
	cr_expect_eq(t.value_ns, 2995586884ULL);
	cr_expect_eq(t.interval_ns, 1000000500ULL);
	cr_assert_eq(proc_parse_timerfd(b, &t), 0);
	cr_expect_eq(t.clockid, 0 /* CLOCK_REALTIME */);
	cr_expect_eq(t.settime_flags, 1 /* TFD_TIMER_ABSTIME */);
	cr_expect_gt(t.value_ns, 99000000000ULL);
	cr_expect_eq(t.interval_ns, 0);
	/* a torn time, nanoseconds out of range */
	cr_expect_eq(proc_parse_timerfd("clockid: 1\nticks: 0\nsettime flags: 00\nit_value: (2, 9\n"
					"it_interval: (0, 0)\n", &t), -EINVAL);
	cr_expect_eq(proc_parse_timerfd("clockid: 1\nticks: 0\nsettime flags: 00\nit_value: (2, 1000000000)\n"
					"it_interval: (0, 0)\n", &t), -EINVAL);
}

/* the "lock:" lines of fdinfos this machine printed for flock(), lockf(), F_SETLK and F_OFD_SETLK */
Test(proc_fdinfo, locks)
{
	static const char text[] = "pos:\t0\nflags:\t02100002\nmnt_id:\t27\nino:\t10977625\n"
				   "lock:\t1: FLOCK  ADVISORY  WRITE 7402 fe:00:10977546 0 EOF\n"
				   "lock:\t2: POSIX  ADVISORY  WRITE 7402 fe:00:10977624 10 109\n"
				   "lock:\t3: POSIX  ADVISORY  READ 7402 fe:00:10977624 200 EOF\n"
				   "lock:\t4: OFDLCK ADVISORY  WRITE -1 fe:00:10977625 5 11\n"
				   "lock:\t5: LEASE  ACTIVE    READ  7402 fe:00:10977626 0 EOF\n";
	_cleanup_free_ struct md_file_lock *l = NULL, *none = NULL;
	struct md_file_lock *bad = NULL;
	size_t n = 0, n0 = 1;

	cr_assert_eq(proc_parse_locks(text, &l, &n), 0);
	cr_assert_eq(n, 5);
	cr_expect_eq(l[0].kind, MD_LOCK_FLOCK);
	cr_expect(l[0].write);
	cr_expect_eq(l[0].start, 0);
	cr_expect_eq(l[0].end, MD_LOCK_EOF);
	cr_expect_eq(l[1].kind, MD_LOCK_POSIX);
	cr_expect(l[1].write);
	cr_expect_eq(l[1].start, 10);
	cr_expect_eq(l[1].end, 109);
	cr_expect_eq(l[2].kind, MD_LOCK_POSIX);
	cr_expect(!l[2].write);
	cr_expect_eq(l[2].start, 200);
	cr_expect_eq(l[2].end, MD_LOCK_EOF);
	cr_expect_eq(l[3].kind, MD_LOCK_OFD);
	cr_expect_eq(l[3].start, 5);
	cr_expect_eq(l[3].end, 11);
	cr_expect_eq(l[4].kind, MD_LOCK_OTHER);
	/* no lock, and whatever a lease line says */
	cr_assert_eq(proc_parse_locks("pos:\t0\nflags:\t02\n", &none, &n0), 0);
	cr_expect_eq(n0, 0);
	cr_expect_null(none);
	cr_expect_eq(proc_parse_locks("lock:\t1: DELEG  ACTIVE    READ\n", &bad, &n), 0);
	free(bad);
	bad = NULL;
	/* torn, of another mode or type, a negative offset, an end before the start, a flock() on a range */
	cr_expect_eq(proc_parse_locks("lock:\t1: POSIX  ADVISORY  WRITE 7402 fe:00:1 10\n", &bad, &n), -EINVAL);
	cr_expect_eq(proc_parse_locks("lock:\t1: POSIX  MANDATORY WRITE 7402 fe:00:1 10 EOF\n", &bad, &n), -EINVAL);
	cr_expect_eq(proc_parse_locks("lock:\t1: POSIX  ADVISORY  UNLCK 7402 fe:00:1 10 EOF\n", &bad, &n), -EINVAL);
	cr_expect_eq(proc_parse_locks("lock:\t1: POSIX  ADVISORY  READ 7402 fe:00:1 -1 EOF\n", &bad, &n), -EINVAL);
	cr_expect_eq(proc_parse_locks("lock:\t1: POSIX  ADVISORY  READ 7402 fe:00:1 10 9\n", &bad, &n), -EINVAL);
	cr_expect_eq(proc_parse_locks("lock:\t1: FLOCK  ADVISORY  READ 7402 fe:00:1 10 EOF\n", &bad, &n), -EINVAL);
	cr_expect_eq(proc_parse_locks("lock:\t1: POSIX  ADVISORY  READ 7402 fe:00:1 10 EOF x\n", &bad, &n), -EINVAL);
	/* the kernel's last offset reads "EOF", never as a number */
	cr_expect_eq(proc_parse_locks("lock:\t1: POSIX  ADVISORY  READ 7402 fe:00:1 0 9223372036854775807\n", &bad, &n),
		     -EINVAL);
}
