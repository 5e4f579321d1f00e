/*
 * dumpee_ghostmap: files deleted while mapped, for test/e2e/run.sh. It must
 * run from a copy of itself in DIR, which it deletes: its exe and the
 * mappings of its text are a deleted file too.
 *
 *   L  DIR/lib, mode 0750, 4 pages of a pattern: mapped private read-only
 *      whole (A), and private writable from page 2 (B), whose first page
 *      is then written (copy-on-write); closed and deleted: only mapped.
 *   S  DIR/shared, mode 0640, 2 pages + 100 bytes: fd 20 (O_RDWR), mapped
 *      shared writable whole (C) and its first page once more (D), then
 *      written through C; deleted.
 *   W  DIR/wonly, mode 0600, one page: mapped shared writable (E), written
 *      through it, closed and deleted: a shared mapping no fd holds.
 *
 * Modes: -m wait (default) writes "READY PID" to STATUS and waits for
 * SIGUSR1; -m selftest checks at once; -m corrupt -c WHAT breaks one thing
 * first (content, cow, share, mode, size, wonly) and the check must
 * notice. The check, after a restore:
 *   - A, B, C, E hold their bytes (B's written page, C's and E's writes);
 *   - every mapping, fd 20 and the exe are files in DIR, deleted (no
 *     links, " (deleted)" in maps and the links), with their modes and
 *     sizes; the exe is the size it was;
 *   - A and B are one file, and so are the exe and the mapping of this
 *     code; C, D and fd 20 are one file: a write through one is read
 *     through the others.
 * Writes "OK" or "FAIL: <what>" to STATUS and exits 0 or 1.
 */
#define DUMPEE_NAME "dumpee_ghostmap"
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PG 4096
#define L_PAGES 4
#define S_SIZE (2 * PG + 100)
#define FD_S 20

static const char *dir;
static volatile sig_atomic_t got_usr1;
static uint8_t *map_a, *map_b, *map_c, *map_d, *map_e;
static off_t exe_size;

static void on_usr1(int sig)
{
	got_usr1 = 1;
}

/* L's byte at off, as the file holds it */
static uint8_t l_byte(uint64_t off)
{
	return (uint8_t)(off * 11 + off / PG + 3);
}

/* B's first page after its write: L's, with a marker at its start */
static const char marker[] = "copied on write";

/* S's bytes after setup: a pattern, then C's write at PG + 7 */
static uint8_t s_byte(uint64_t off)
{
	if (off >= PG + 7 && off < PG + 7 + 5)
		return (uint8_t)"CCCCC"[off - PG - 7];
	return (uint8_t)(off * 5 + 1);
}

static int create(const char *name, mode_t mode)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	unlink(p);
	fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0 || fchmod(fd, mode) < 0)
		die_setup(p);
	return fd;
}

static void fill(int fd, uint64_t size, uint8_t (*byte)(uint64_t))
{
	uint8_t *buf = malloc(size);

	for (uint64_t i = 0; i < size; i++)
		buf[i] = byte(i);
	if (pwrite(fd, buf, size, 0) != (ssize_t)size)
		die_setup("pwrite");
	free(buf);
}

static uint8_t s_before(uint64_t off)
{
	return (uint8_t)(off * 5 + 1);
}

static void unlink_name(const char *name)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (unlink(p) < 0)
		die_setup(p);
}

static void setup(void)
{
	char exe[PATH_MAX];
	struct stat st;
	ssize_t n;
	int fd;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		die_setup("readlink exe");
	exe[n] = '\0';
	if (strncmp(exe, dir, strlen(dir)) || exe[strlen(dir)] != '/' || stat(exe, &st) < 0) {
		errno = EINVAL;
		die_setup("run me from a copy in DIR");
	}
	exe_size = st.st_size;
	if (unlink(exe) < 0)
		die_setup("unlink exe");

	fd = create("lib", 0750);
	fill(fd, L_PAGES * PG, l_byte);
	map_a = mmap(NULL, L_PAGES * PG, PROT_READ, MAP_PRIVATE, fd, 0);
	map_b = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 2 * PG);
	if (map_a == MAP_FAILED || map_b == MAP_FAILED)
		die_setup("mmap L");
	memcpy(map_b, marker, sizeof(marker));
	close(fd);
	unlink_name("lib");

	fd = create("shared", 0640);
	if (dup2(fd, FD_S) != FD_S)
		die_setup("dup2");
	close(fd);
	fill(FD_S, S_SIZE, s_before);
	map_c = mmap(NULL, S_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, FD_S, 0);
	map_d = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, FD_S, 0);
	if (map_c == MAP_FAILED || map_d == MAP_FAILED)
		die_setup("mmap S");
	memcpy(map_c + PG + 7, "CCCCC", 5);
	unlink_name("shared");

	fd = create("wonly", 0600);
	fill(fd, PG, s_before);
	map_e = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map_e == MAP_FAILED)
		die_setup("mmap W");
	memcpy(map_e + 10, "EEEE", 4);
	close(fd);
	unlink_name("wonly");
}

/* W's bytes after setup */
static uint8_t w_byte(uint64_t off)
{
	return off >= 10 && off < 14 ? 'E' : s_before(off);
}

static void corrupt(const char *what)
{
	if (!strcmp(what, "content")) {
		mprotect(map_a, PG, PROT_READ | PROT_WRITE);
		map_a[100] ^= 1;
		mprotect(map_a, PG, PROT_READ);
	} else if (!strcmp(what, "cow")) {
		map_b[0] = l_byte(2 * PG);
	} else if (!strcmp(what, "share")) {
		/* D on a file of its own with the same bytes */
		int fd = create("other", 0640);

		fill(fd, S_SIZE, s_byte);
		mmap(map_d, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
		close(fd);
		unlink_name("other");
	} else if (!strcmp(what, "mode")) {
		fchmod(FD_S, 0600);
	} else if (!strcmp(what, "size")) {
		ftruncate(FD_S, S_SIZE + 1);
	} else if (!strcmp(what, "wonly")) {
		map_e[11] = 'X';
	} else {
		fprintf(stderr, "dumpee_ghostmap: unknown corruption '%s'\n", what);
		exit(2);
	}
}

/* path is a deleted file in DIR, as a link shows it (fd, exe, map_files) or maps does */
static bool deleted_in_dir(const char *which, const char *path)
{
	size_t n = strlen(path);

	if (n < 10 || strcmp(path + n - 10, " (deleted)") || strncmp(path, dir, strlen(dir)) ||
	    path[strlen(dir)] != '/')
		return failf("%s is '%s', expected '%s/... (deleted)'", which, path, dir);
	return true;
}

/* the link at p: a deleted file in DIR with mode and size */
static bool deleted_link(const char *which, const char *p, mode_t mode, off_t size)
{
	char link[PATH_MAX];
	struct stat st;
	ssize_t n;

	n = readlink(p, link, sizeof(link) - 1);
	if (n < 0 || stat(p, &st) < 0)
		return failf("%s: %s: %s", which, p, strerror(errno));
	link[n] = '\0';
	if (!deleted_in_dir(which, link))
		return false;
	if (st.st_nlink != 0)
		return failf("%s has %lu links, expected none", which, (unsigned long)st.st_nlink);
	if ((st.st_mode & 07777) != mode || st.st_size != size)
		return failf("%s: mode %o size %lld, expected %o and %lld", which, st.st_mode & 07777,
			     (long long)st.st_size, mode, (long long)size);
	return true;
}

static bool mapping(const char *which, const uint8_t *at, size_t len, mode_t mode, off_t size)
{
	char p[96];

	snprintf(p, sizeof(p), "/proc/self/map_files/%lx-%lx", (unsigned long)at, (unsigned long)(at + len));
	return deleted_link(which, p, mode, size);
}

/* maps shows each of ours in DIR and deleted */
static bool maps_lines(void)
{
	const uint8_t *want[] = { map_a, map_b, map_c, map_d, map_e };
	char line[PATH_MAX + 128];
	unsigned found = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return failf("maps: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned long start;
		char *path = strchr(line, '/');

		if (sscanf(line, "%lx-", &start) != 1)
			continue;
		for (unsigned i = 0; i < 5; i++) {
			if (start != (unsigned long)want[i])
				continue;
			line[strcspn(line, "\n")] = '\0';
			if (!path || !deleted_in_dir("a line of maps", path)) {
				fclose(f);
				return failf("maps line of mapping %c: '%s'", 'A' + i, line);
			}
			found |= 1u << i;
		}
	}
	fclose(f);
	if (found != 31)
		return failf("maps shows only mappings %#x of 0x1f", found);
	return true;
}

static bool contents(void)
{
	for (uint64_t i = 0; i < L_PAGES * PG; i++)
		if (map_a[i] != l_byte(i))
			return failf("A: byte %llu is %#x, expected %#x", (unsigned long long)i, map_a[i], l_byte(i));
	if (memcmp(map_b, marker, sizeof(marker)))
		return failf("B: the page written is not");
	for (uint64_t i = sizeof(marker); i < 2 * PG; i++)
		if (map_b[i] != l_byte(2 * PG + i))
			return failf("B: byte %llu is %#x, expected %#x", (unsigned long long)i, map_b[i],
				     l_byte(2 * PG + i));
	for (uint64_t i = 0; i < S_SIZE; i++)
		if (map_c[i] != s_byte(i))
			return failf("C: byte %llu is %#x, expected %#x", (unsigned long long)i, map_c[i], s_byte(i));
	for (uint64_t i = 0; i < PG; i++)
		if (map_e[i] != w_byte(i))
			return failf("E: byte %llu is %#x, expected %#x", (unsigned long long)i, map_e[i], w_byte(i));
	return true;
}

/* the /proc links a and b reach one file */
static bool same_file(const char *which, const char *a, const char *b)
{
	struct stat x, y;

	if (stat(a, &x) < 0 || stat(b, &y) < 0)
		return failf("%s: %s", which, strerror(errno));
	if (x.st_dev != y.st_dev || x.st_ino != y.st_ino)
		return failf("%s are two files", which);
	return true;
}

/* map_files' link of the mapping that holds addr, into buf */
static bool map_files_of(const void *addr, char *buf, size_t len)
{
	char line[PATH_MAX + 128];
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "r");

	while (f && !found && fgets(line, sizeof(line), f)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx", &s, &e) == 2 && (unsigned long)addr >= s && (unsigned long)addr < e) {
			snprintf(buf, len, "/proc/self/map_files/%lx-%lx", s, e);
			found = true;
		}
	}
	if (f)
		fclose(f);
	return found || failf("no mapping holds %p", addr);
}

static bool one_file_each(void)
{
	char a[96], b[96], text[96];

	snprintf(a, sizeof(a), "/proc/self/map_files/%lx-%lx", (unsigned long)map_a,
		 (unsigned long)(map_a + L_PAGES * PG));
	snprintf(b, sizeof(b), "/proc/self/map_files/%lx-%lx", (unsigned long)map_b, (unsigned long)(map_b + 2 * PG));
	return same_file("A and B", a, b) && map_files_of((const void *)same_file, text, sizeof(text)) &&
	       same_file("the exe and the mapping of this code", "/proc/self/exe", text);
}

static bool check(void)
{
	char c = 0;

	if (!contents() || !maps_lines())
		return false;
	if (!mapping("A", map_a, L_PAGES * PG, 0750, L_PAGES * PG) ||
	    !mapping("B", map_b, 2 * PG, 0750, L_PAGES * PG) || !mapping("C", map_c, 3 * PG, 0640, S_SIZE) ||
	    !mapping("D", map_d, PG, 0640, S_SIZE) || !mapping("E", map_e, PG, 0600, PG) ||
	    !deleted_link("fd 20", "/proc/self/fd/20", 0640, S_SIZE) ||
	    !deleted_link("the exe", "/proc/self/exe", 0755, exe_size) || !one_file_each())
		return false;
	/* one file under C, D and fd 20 */
	map_d[3] = 'D';
	if (map_c[3] != 'D' || pread(FD_S, &c, 1, 3) != 1 || c != 'D')
		return failf("S: a write through D is not read through C and fd 20");
	if (pwrite(FD_S, "F", 1, PG + 1) != 1 || map_c[PG + 1] != 'F')
		return failf("S: a write through fd 20 is not read through C");
	return true;
}

int main(int argc, char **argv)
{
	const char *mode = "wait", *what = NULL;
	char buf[600];
	sigset_t set, old;
	int c;

	while ((c = getopt(argc, argv, "m:c:")) != -1) {
		switch (c) {
		case 'm':
			mode = optarg;
			break;
		case 'c':
			what = optarg;
			break;
		default:
			return 2;
		}
	}
	if (optind + 2 != argc) {
		fprintf(stderr, "usage: dumpee_ghostmap [-m wait|selftest|corrupt] [-c WHAT] STATUS DIR\n");
		return 2;
	}
	status_path = argv[optind];
	dir = argv[optind + 1];

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	signal(SIGUSR1, on_usr1);
	setup();
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
