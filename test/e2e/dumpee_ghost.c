/*
 * dumpee_ghost: files deleted while open, for test/e2e/run.sh.
 *
 *   G  DIR/ghost, mode 0640, 600 KiB + 1: 8 KiB of data, a hole, 3000
 *      bytes at 512 KiB + 100, a hole to the end; then deleted. fd 20
 *      (O_RDWR) at offset 12345, fd 21 its dup (the same description),
 *      fd 22 another description of it (O_RDONLY) at offset 777.
 *   H  DIR/ghost2, mode 0604, "abc": fd 23 O_WRONLY | O_APPEND, deleted;
 *      opened O_NOFOLLOW too, as mkstemp() does.
 *   B  (-b SIZE) DIR/big, SIZE bytes of data, deleted: fd 24, for the
 *      --ghost-limit test.
 *   D  DIR/gdir, a directory of mode 0751: fd 25 (O_RDONLY | O_DIRECTORY)
 *      and the working directory, removed.
 *
 * Modes: -m wait (default) writes "READY PID" to STATUS and waits for
 * SIGUSR1; -m selftest checks at once; -m corrupt -c WHAT breaks one thing
 * first (content, hole, offset, size, linked, share, mode, cwd, dirmode)
 * and the check must notice. The check, after a restore:
 *   - every fd is there with its flags and offset; 20 and 21 share one
 *     offset, 22 has its own;
 *   - each file is still deleted (st_nlink 0, the fd's link ends in
 *     " (deleted)" and lies in DIR), with its size and mode; 20 and 22 are
 *     the same file (a write through one is read through the other);
 *   - G's bytes are all there and its holes are holes (SEEK_HOLE/SEEK_DATA);
 *     H reads "abc" and a write appends;
 *   - D is still removed, empty, with its mode; fd 25 and the working
 *     directory are on it, and nothing can be made in it.
 * Writes "OK" or "FAIL: <what>" to STATUS and exits 0 or 1.
 */
#define DUMPEE_NAME "dumpee_ghost"
#include "dumpee.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define G_SIZE (600 * 1024 + 1)
#define G_HEAD 8192
#define G_MID (512 * 1024 + 100)
#define G_MID_LEN 3000
#define G_POS 12345
#define G_POS2 777
#define FD_G 20
#define FD_G_DUP 21
#define FD_G2 22
#define FD_H 23
#define FD_B 24
#define FD_D 25

static const char *dir;
static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	got_usr1 = 1;
}

/* G's byte at off: a pattern where it has data, 0 in its holes */
static uint8_t g_byte(uint64_t off)
{
	if (off < G_HEAD)
		return (uint8_t)(off * 7 + 1) | 1;
	if (off >= G_MID && off < G_MID + G_MID_LEN)
		return (uint8_t)(off * 13 + 5) | 0x80;
	return 0;
}

static void put(int fd, uint64_t off, size_t len)
{
	uint8_t *buf = malloc(len);

	for (size_t i = 0; i < len; i++)
		buf[i] = g_byte(off + i);
	if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len)
		die_setup("pwrite");
	free(buf);
}

/* create DIR/name with mode, as fd want, then delete it */
static int make(const char *name, int flags, mode_t mode, int want)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	unlink(p);
	fd = open(p, flags | O_CREAT | O_EXCL, mode);
	if (fd < 0 || fchmod(fd, mode) < 0)
		die_setup(p);
	if (dup2(fd, want) != want)
		die_setup("dup2");
	close(fd);
	return want;
}

static void unlink_name(const char *name)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (unlink(p) < 0)
		die_setup(p);
}

static void setup(uint64_t big)
{
	char p[64], d[PATH_MAX];

	make("ghost", O_RDWR, 0640, FD_G);
	if (ftruncate(FD_G, G_SIZE) < 0)
		die_setup("ftruncate");
	put(FD_G, 0, G_HEAD);
	put(FD_G, G_MID, G_MID_LEN);
	if (lseek(FD_G, G_POS, SEEK_SET) != G_POS || dup2(FD_G, FD_G_DUP) != FD_G_DUP)
		die_setup("lseek/dup2");
	snprintf(p, sizeof(p), "/proc/self/fd/%d", FD_G);
	if (dup2(open(p, O_RDONLY), FD_G2) != FD_G2 || lseek(FD_G2, G_POS2, SEEK_SET) != G_POS2)
		die_setup("second description");
	unlink_name("ghost");

	make("ghost2", O_WRONLY | O_APPEND | O_NOFOLLOW, 0604, FD_H);
	if (write(FD_H, "abc", 3) != 3)
		die_setup("write");
	unlink_name("ghost2");

	snprintf(d, sizeof(d), "%s/gdir", dir);
	if (mkdir(d, 0751) < 0 || chmod(d, 0751) < 0 || dup2(open(d, O_RDONLY | O_DIRECTORY), FD_D) != FD_D ||
	    chdir(d) < 0 || rmdir(d) < 0)
		die_setup("removed directory");

	if (big) {
		char buf[65536];

		memset(buf, 0x5a, sizeof(buf));
		make("big", O_RDWR, 0600, FD_B);
		for (uint64_t off = 0; off < big; off += sizeof(buf))
			if (write(FD_B, buf, big - off < sizeof(buf) ? big - off : sizeof(buf)) < 0)
				die_setup("write big");
		unlink_name("big");
	}
}

static void corrupt(const char *what)
{
	char p[64];

	if (!strcmp(what, "content")) {
		pwrite(FD_G, "\xff", 1, 100);
	} else if (!strcmp(what, "hole")) {
		/* zeroes written: the same bytes, but no hole there any more */
		static const char zero[4096];

		pwrite(FD_G, zero, sizeof(zero), G_HEAD);
	} else if (!strcmp(what, "offset")) {
		lseek(FD_G2, 1, SEEK_CUR);
	} else if (!strcmp(what, "size")) {
		ftruncate(FD_G, G_SIZE + 1);
	} else if (!strcmp(what, "linked")) {
		snprintf(p, sizeof(p), "%s/linked", dir);
		/* the same as H, but with a name */
		int fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0604);

		write(fd, "abc", 3);
		fchmod(fd, 0604);
		dup2(fd, FD_H);
		close(fd);
	} else if (!strcmp(what, "share")) {
		snprintf(p, sizeof(p), "/proc/self/fd/%d", FD_G);
		int fd = open(p, O_RDWR);

		lseek(fd, G_POS, SEEK_SET);
		dup2(fd, FD_G_DUP);
		close(fd);
	} else if (!strcmp(what, "mode")) {
		fchmod(FD_G, 0600);
	} else if (!strcmp(what, "cwd")) {
		chdir(dir);
	} else if (!strcmp(what, "dirmode")) {
		fchmod(FD_D, 0750);
	} else {
		fprintf(stderr, "dumpee_ghost: unknown corruption '%s'\n", what);
		exit(2);
	}
}

/* fd is a deleted file in DIR with mode and size (UINT64_MAX: any) */
static bool deleted(int fd, const char *which, mode_t mode, uint64_t size)
{
	char p[64], link[PATH_MAX];
	struct stat st;
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	n = readlink(p, link, sizeof(link) - 1);
	if (n < 0 || fstat(fd, &st) < 0)
		return failf("%s: fd %d: %s", which, fd, strerror(errno));
	link[n] = '\0';
	if (st.st_nlink != 0)
		return failf("%s: fd %d has %lu links, expected none", which, fd, (unsigned long)st.st_nlink);
	if (n < 10 || strcmp(link + n - 10, " (deleted)") || strncmp(link, dir, strlen(dir)) ||
	    link[strlen(dir)] != '/')
		return failf("%s: fd %d is '%s', expected '%s/... (deleted)'", which, fd, link, dir);
	if ((st.st_mode & 07777) != mode || (size != UINT64_MAX && (uint64_t)st.st_size != size))
		return failf("%s: mode %o size %llu, expected %o and %llu", which, st.st_mode & 07777,
			     (unsigned long long)st.st_size, mode, (unsigned long long)size);
	return true;
}

static bool fd_state(int fd, const char *which, int acc, off_t pos)
{
	int fl = fcntl(fd, F_GETFL);
	off_t at = lseek(fd, 0, SEEK_CUR);

	if (fl < 0)
		return failf("%s: fd %d: %s", which, fd, strerror(errno));
	if ((fl & (O_ACCMODE | O_APPEND)) != acc || at != pos)
		return failf("%s: fd %d flags %#o offset %lld, expected %#o and %lld", which, fd, fl, (long long)at, acc,
			     (long long)pos);
	return true;
}

static bool g_content(void)
{
	uint8_t *buf = malloc(G_SIZE);
	char p[64];
	int fd;
	off_t h, d;

	if (pread(FD_G2, buf, G_SIZE, 0) != G_SIZE)
		return failf("G: short read");
	for (uint64_t i = 0; i < G_SIZE; i++)
		if (buf[i] != g_byte(i)) {
			failf("G: byte %llu is %#x, expected %#x", (unsigned long long)i, buf[i], g_byte(i));
			free(buf);
			return false;
		}
	free(buf);
	/* the holes: on a description of our own, not to move the fds' offsets */
	snprintf(p, sizeof(p), "/proc/self/fd/%d", FD_G2);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return failf("G: reopen: %s", strerror(errno));
	h = lseek(fd, 0, SEEK_HOLE);
	d = lseek(fd, G_HEAD, SEEK_DATA);
	close(fd);
	if (h != G_HEAD || d != (G_MID & ~4095L))
		return failf("G: first hole at %lld, data again at %lld; expected %d and %ld", (long long)h, (long long)d,
			     G_HEAD, G_MID & ~4095L);
	return true;
}

/* D: fd 25 and the cwd on one removed directory, still empty and with its mode, that takes no new name */
static bool d_state(void)
{
	struct stat fd_st, cwd_st;
	char link[PATH_MAX];
	ssize_t n;
	int fd;

	if (!deleted(FD_D, "D", 0751, UINT64_MAX))
		return false;
	if (fstat(FD_D, &fd_st) < 0 || !S_ISDIR(fd_st.st_mode) || stat(".", &cwd_st) < 0)
		return failf("D: fd %d is no directory, or the cwd cannot be read", FD_D);
	if (fd_st.st_dev != cwd_st.st_dev || fd_st.st_ino != cwd_st.st_ino)
		return failf("D: the working directory is not the one fd %d is on", FD_D);
	n = readlink("/proc/self/cwd", link, sizeof(link) - 1);
	if (n < 10 || strncmp(link + n - 10, " (deleted)", 10))
		return failf("D: the working directory is not a removed one");
	fd = openat(FD_D, "new", O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd >= 0 || errno != ENOENT)
		return failf("D: a file could be made in it (%s)", fd >= 0 ? "made" : strerror(errno));
	return true;
}

static bool check(void)
{
	struct stat a, b;
	char c[4] = "";
	char p[64];
	int fd;

	if (!fd_state(FD_G, "G", O_RDWR, G_POS) || !fd_state(FD_G_DUP, "G dup", O_RDWR, G_POS) ||
	    !fd_state(FD_G2, "G2", O_RDONLY, G_POS2) || !fd_state(FD_H, "H", O_WRONLY | O_APPEND, 3))
		return false;
	if (!deleted(FD_G, "G", 0640, G_SIZE) || !deleted(FD_H, "H", 0604, 3) || !g_content() || !d_state())
		return false;
	/* one description for 20 and 21, another one for 22, of one file */
	if (lseek(FD_G, 4000, SEEK_SET) != 4000 || lseek(FD_G_DUP, 0, SEEK_CUR) != 4000 ||
	    lseek(FD_G2, 0, SEEK_CUR) != G_POS2)
		return failf("G: 20 and 21 do not share an offset, or 22 does");
	if (fstat(FD_G, &a) < 0 || fstat(FD_G2, &b) < 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev)
		return failf("G: 20 and 22 are not the same file");
	if (pwrite(FD_G, "Q", 1, 1) != 1 || pread(FD_G2, c, 1, 1) != 1 || c[0] != 'Q')
		return failf("G: a write through 20 is not read through 22");
	if (write(FD_H, "d", 1) != 1)
		return failf("H: write: %s", strerror(errno));
	snprintf(p, sizeof(p), "/proc/self/fd/%d", FD_H);
	fd = open(p, O_RDONLY);
	if (fd < 0 || read(fd, c, 4) != 4 || memcmp(c, "abcd", 4))
		return failf("H: does not read 'abcd' after an append");
	close(fd);
	return true;
}

int main(int argc, char **argv)
{
	const char *mode = "wait", *what = NULL;
	uint64_t big = 0;
	char buf[600];
	sigset_t set, old;
	int c;

	while ((c = getopt(argc, argv, "m:c:b:")) != -1) {
		switch (c) {
		case 'm':
			mode = optarg;
			break;
		case 'c':
			what = optarg;
			break;
		case 'b':
			big = strtoull(optarg, NULL, 0);
			break;
		default:
			return 2;
		}
	}
	if (optind + 2 != argc) {
		fprintf(stderr, "usage: dumpee_ghost [-m wait|selftest|corrupt] [-c WHAT] [-b SIZE] STATUS DIR\n");
		return 2;
	}
	status_path = argv[optind];
	dir = argv[optind + 1];

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	signal(SIGUSR1, on_usr1);
	setup(big);
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
	snprintf(buf, sizeof(buf), "FAIL: %s", failure);
	write_status(buf);
	return 1;
}
