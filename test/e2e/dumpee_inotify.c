/*
 * dumpee_inotify: inotify instances whose watches must come back under the
 * same watch descriptors, for test/e2e/run.sh.
 *
 *   I  (blocking, close-on-exec) watches DIR/a (IN_CREATE | IN_DELETE,
 *      wd 1), DIR/b (IN_CREATE | IN_MOVED_TO | IN_EXCL_UNLINK, wd 3) and
 *      the file DIR/f (IN_MODIFY | IN_ONESHOT, wd 4); wd 2 watched DIR/x
 *      and was removed, so the wds have a gap.
 *   N  (IN_NONBLOCK) watched DIR/x ten times over (wd 1 to 10, each
 *      removed) and watches DIR/a as wd 11.
 *
 * Modes: -m wait (default) writes "READY PID" to STATUS and waits for
 * SIGUSR1; -m selftest checks at once; -m corrupt -c WHAT breaks one thing
 * first (wd, mask, oneshot, flags, gone) and the check must notice. -p also
 * watches /proc/self (a file system without usable file handles: the dump
 * must refuse it). The check, after a restore:
 *   - flags: I blocking and close-on-exec, N non-blocking; nothing queued;
 *   - fdinfo shows wd 3's mask with IN_EXCL_UNLINK;
 *   - creating DIR/a/one gives I (wd 1, IN_CREATE, "one") and N (wd 11);
 *     DIR/b/two gives I (wd 3, IN_CREATE, "two");
 *   - writing DIR/f gives IN_MODIFY then IN_IGNORED on wd 4 (one shot),
 *     and writing again nothing; making DIR/x/y nothing.
 * Writes "OK" or "FAIL: <what>" to STATUS and exits 0 or 1.
 */
#define DUMPEE_NAME "dumpee_inotify"
#include "dumpee.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define WD_A 1
#define WD_B 3
#define WD_F 4
#define WD_N 11
#define MASK_A (IN_CREATE | IN_DELETE)
#define MASK_B (IN_CREATE | IN_MOVED_TO | IN_EXCL_UNLINK)
#define MASK_F (IN_MODIFY | IN_ONESHOT)

static const char *dir;
static volatile sig_atomic_t got_usr1;
static int fd_i = -1, fd_n = -1;

static void on_usr1(int sig)
{
	got_usr1 = 1;
}

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static int watch(int fd, const char *name, uint32_t mask)
{
	char p[PATH_MAX];
	int wd;

	path_of(p, sizeof(p), name);
	wd = inotify_add_watch(fd, p, mask);
	if (wd < 0)
		die_setup(p);
	return wd;
}

static void must_be(int wd, int want, const char *what)
{
	if (wd != want) {
		fprintf(stderr, "dumpee_inotify: %s: wd %d, expected %d\n", what, wd, want);
		exit(2);
	}
}

/* read away whatever is queued (setup's IN_IGNORED) */
static void drain(int fd)
{
	char buf[4096];
	int q = 0;

	while (ioctl(fd, FIONREAD, &q) == 0 && q > 0)
		if (read(fd, buf, sizeof(buf)) <= 0)
			die_setup("drain");
}

static void setup(bool proc_watch)
{
	const char *dirs[] = { "a", "b", "x" };
	char p[PATH_MAX];
	int fd;

	for (size_t i = 0; i < 3; i++) {
		path_of(p, sizeof(p), dirs[i]);
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			die_setup(p);
	}
	path_of(p, sizeof(p), "f");
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die_setup(p);
	close(fd);

	fd_i = inotify_init1(IN_CLOEXEC);
	if (fd_i < 0)
		die_setup("inotify_init1");
	must_be(watch(fd_i, "a", MASK_A), WD_A, "a");
	must_be(watch(fd_i, "x", IN_CREATE), 2, "x");
	inotify_rm_watch(fd_i, 2);
	must_be(watch(fd_i, "b", MASK_B | IN_ONLYDIR), WD_B, "b");
	must_be(watch(fd_i, "f", MASK_F), WD_F, "f");
	drain(fd_i);

	fd_n = inotify_init1(IN_NONBLOCK);
	if (fd_n < 0)
		die_setup("inotify_init1");
	for (int i = 1; i < WD_N; i++) {
		must_be(watch(fd_n, "x", IN_CREATE), i, "x in N");
		inotify_rm_watch(fd_n, i);
	}
	must_be(watch(fd_n, "a", IN_CREATE), WD_N, "a in N");
	drain(fd_n);
	if (proc_watch && inotify_add_watch(fd_i, "/proc/self", IN_ATTRIB) < 0)
		die_setup("/proc/self");
}

static void corrupt(const char *what)
{
	if (!strcmp(what, "wd")) {
		inotify_rm_watch(fd_i, WD_B);
		watch(fd_i, "b", MASK_B);
	} else if (!strcmp(what, "mask")) {
		watch(fd_i, "b", IN_DELETE);
	} else if (!strcmp(what, "oneshot")) {
		watch(fd_i, "f", IN_MODIFY);
	} else if (!strcmp(what, "flags")) {
		fcntl(fd_n, F_SETFL, 0);
	} else if (!strcmp(what, "gone")) {
		inotify_rm_watch(fd_n, WD_N);
	} else {
		fprintf(stderr, "dumpee_inotify: unknown corruption '%s'\n", what);
		exit(2);
	}
	drain(fd_i);
	drain(fd_n);
}

/* the next event of fd within a few seconds: wd, mask (without IN_ISDIR) and name */
static bool next_event(int fd, const char *which, int wd, uint32_t mask, const char *name)
{
	static char buf[2][4096] __attribute__((aligned(8)));
	static size_t len[2], off[2];
	int k = fd == fd_i ? 0 : 1;
	struct inotify_event *e;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (off[k] == len[k]) {
		ssize_t n;

		if (poll(&pfd, 1, 5000) != 1)
			return failf("%s: no event (expected wd %d mask %#x '%s')", which, wd, mask, name);
		n = read(fd, buf[k], sizeof(buf[k]));
		if (n <= 0)
			return failf("%s: read: %s", which, n < 0 ? strerror(errno) : "EOF");
		len[k] = (size_t)n;
		off[k] = 0;
	}
	e = (struct inotify_event *)(buf[k] + off[k]);
	off[k] += sizeof(*e) + e->len;
	if (e->wd != wd || (e->mask & ~IN_ISDIR) != mask || strcmp(e->len ? e->name : "", name))
		return failf("%s: event wd %d mask %#x '%s', expected wd %d mask %#x '%s'", which, e->wd, e->mask,
			     e->len ? e->name : "", wd, mask, name);
	return true;
}

static bool nothing_queued(int fd, const char *which)
{
	int q = -1;

	if (ioctl(fd, FIONREAD, &q) < 0 || q != 0)
		return failf("%s: %d bytes of events queued, expected none", which, q);
	return true;
}

static bool touch(const char *name, bool is_dir)
{
	char p[PATH_MAX];
	int fd;

	path_of(p, sizeof(p), name);
	if (is_dir)
		return mkdir(p, 0755) == 0 || failf("mkdir %s: %s", p, strerror(errno));
	fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, "x", 1) != 1)
		return failf("write %s: %s", p, strerror(errno));
	close(fd);
	return true;
}

/* fdinfo of I shows wd 3 with its mask */
static bool mask_in_fdinfo(void)
{
	char p[64], line[512];
	bool found = false;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", fd_i);
	f = fopen(p, "r");
	if (!f)
		return failf("fdinfo: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned wd, mask;

		if (sscanf(line, "inotify wd:%x %*s %*s mask:%x", &wd, &mask) == 2 && wd == WD_B)
			found = mask == MASK_B || failf("fdinfo: wd 3 mask %#x, expected %#x", mask, MASK_B);
	}
	fclose(f);
	return found || failf("fdinfo: no wd 3");
}

static bool check(void)
{
	int fl_i = fcntl(fd_i, F_GETFL), fl_n = fcntl(fd_n, F_GETFL), fdf = fcntl(fd_i, F_GETFD);

	if (fl_i < 0 || fl_n < 0 || fdf < 0)
		return failf("fcntl: %s", strerror(errno));
	if (fl_i & O_NONBLOCK || !(fdf & FD_CLOEXEC))
		return failf("I: flags %#o, fd flags %#x", fl_i, fdf);
	if (!(fl_n & O_NONBLOCK))
		return failf("N: flags %#o, expected O_NONBLOCK", fl_n);
	if (!nothing_queued(fd_i, "I") || !nothing_queued(fd_n, "N") || !mask_in_fdinfo())
		return false;
	if (!touch("a/one", false) || !next_event(fd_i, "I", WD_A, IN_CREATE, "one") ||
	    !next_event(fd_n, "N", WD_N, IN_CREATE, "one"))
		return false;
	if (!touch("b/two", true) || !next_event(fd_i, "I", WD_B, IN_CREATE, "two"))
		return false;
	if (!touch("f", false) || !next_event(fd_i, "I", WD_F, IN_MODIFY, "") ||
	    !next_event(fd_i, "I", WD_F, IN_IGNORED, ""))
		return false;
	/* one shot: the watch on f is gone; x is not watched */
	if (!touch("f", false) || !touch("x/y", true) || !touch("a/three", false) ||
	    !next_event(fd_i, "I", WD_A, IN_CREATE, "three") || !next_event(fd_n, "N", WD_N, IN_CREATE, "three"))
		return false;
	return nothing_queued(fd_i, "I") && nothing_queued(fd_n, "N");
}

int main(int argc, char **argv)
{
	const char *mode = "wait", *what = NULL;
	bool proc_watch = false;
	char buf[64];
	sigset_t set, old;
	int c;

	while ((c = getopt(argc, argv, "m:c:p")) != -1) {
		switch (c) {
		case 'm':
			mode = optarg;
			break;
		case 'c':
			what = optarg;
			break;
		case 'p':
			proc_watch = true;
			break;
		default:
			return 2;
		}
	}
	if (optind + 2 != argc) {
		fprintf(stderr, "usage: dumpee_inotify [-m wait|selftest|corrupt] [-c WHAT] [-p] STATUS DIR\n");
		return 2;
	}
	status_path = argv[optind];
	dir = argv[optind + 1];

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	signal(SIGUSR1, on_usr1);
	setup(proc_watch);
	if (!strcmp(mode, "corrupt") && what)
		corrupt(what);
	if (!strcmp(mode, "wait")) {
		snprintf(buf, sizeof(buf), "READY %d", (int)getpid());
		write_status(buf);
		while (!got_usr1)
			sigsuspend(&old);
	}
	if (check()) {
		write_status("OK");
		return 0;
	}
	{
		char msg[600];

		snprintf(msg, sizeof(msg), "FAIL: %s", failure);
		write_status(msg);
	}
	return 1;
}
