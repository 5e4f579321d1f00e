/*
 * dumpee_lazy: what a process does to memory a lazy restore has not filled
 * yet, for test/e2e/run.sh.
 *
 * Maps a 256 MiB private anonymous region, every word a function of its
 * address, writes "READY" to STATUS and waits. On SIGUSR1 it works from the
 * top of the region down (a lazy server fills from the bottom up):
 *   - mprotect of one page read-only: its VMA splits under pieces of 1 MiB;
 *   - a kernel-mode fault: read() from a pipe into a page not yet touched;
 *   - fork: the child checks the top 8 MiB it has never touched itself;
 *   - mremap: 4 MiB move elsewhere and must read there as before;
 *   - MADV_DONTNEED on 1 MiB: zeroes from then on, never the old data;
 *   - munmap then mmap of 1 MiB in the same place: zeroes;
 *   - then every other byte of the region, as dumped.
 * It notes how many pages of the top 64 MiB were still missing when it
 * started (from /proc/self/pagemap, bit 63), so the test can tell whether
 * the lazy path was exercised. The verdict ("OK N" or "FAIL: what") goes to
 * STATUS and the process exits.
 *
 * -m selftest does the same without any dump.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096UL
#define MiB (1UL << 20)
#define REGION (256 * MiB)

static uint8_t *region;
static volatile sig_atomic_t go;

static uint64_t word_at(uint64_t off)
{
	return (off * 0x9E3779B97F4A7C15ULL) ^ 0x5bd1e995ULL;
}

/* first bad offset in [from, to) of the region as dumped, or -1 */
static long check_range(const uint8_t *base, uint64_t from, uint64_t to)
{
	for (uint64_t off = from; off < to; off += 8)
		if (*(const uint64_t *)(base + off - from) != word_at(off))
			return (long)off;
	return -1;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static long missing_pages(uint64_t from, uint64_t to)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	long n = 0;

	if (fd < 0)
		return -1;
	for (uint64_t off = from; off < to; off += PG) {
		uint64_t e;

		if (pread(fd, &e, 8, (off_t)((uintptr_t)(region + off) / PG * 8)) != 8) {
			n = -1;
			break;
		}
		n += !(e >> 63 & 1);
	}
	close(fd);
	return n;
}

static int fail(const char *status, const char *what, long detail)
{
	FILE *f = fopen(status, "w");

	if (f) {
		fprintf(f, "FAIL: %s (%ld)\n", what, detail);
		fclose(f);
	}
	return 1;
}

static int check(const char *status)
{
	uint64_t top = REGION;
	long missing = missing_pages(REGION - 64 * MiB, REGION), bad;
	int p[2], st;
	uint8_t *moved;
	pid_t child;
	FILE *f;

	if (mprotect(region + top - 56 * MiB + 3 * PG, PG, PROT_READ) < 0)
		return fail(status, "mprotect", errno);
	/* a kernel-mode fault: read() writes into a page nobody touched since the restore */
	if (pipe(p) < 0 || write(p[1], "lazy", 4) != 4 || read(p[0], region + top - PG + 100, 4) != 4)
		return fail(status, "read into the region", errno);
	if (memcmp(region + top - PG + 100, "lazy", 4))
		return fail(status, "read() did not land", 0);
	/* put back what check_range expects */
	for (uint64_t off = top - PG; off < top; off += 8)
		*(uint64_t *)(region + off) = word_at(off);

	child = fork();
	if (child < 0)
		return fail(status, "fork", errno);
	if (!child)
		_exit(check_range(region + top - 16 * MiB, top - 16 * MiB, top - 8 * MiB) < 0 ? 0 : 1);
	if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st))
		return fail(status, "the forked child saw wrong data", st);

	moved = mremap(region + top - 32 * MiB, 4 * MiB, 4 * MiB, MREMAP_MAYMOVE | MREMAP_FIXED,
		       region + REGION + 64 * MiB);
	if (moved == MAP_FAILED)
		return fail(status, "mremap", errno);
	bad = check_range(moved, top - 32 * MiB, top - 28 * MiB);
	if (bad >= 0)
		return fail(status, "moved data", bad);

	if (madvise(region + top - 40 * MiB, MiB, MADV_DONTNEED) < 0)
		return fail(status, "madvise", errno);
	if (!all_zero(region + top - 40 * MiB, MiB))
		return fail(status, "MADV_DONTNEED range is not zero", 0);

	if (munmap(region + top - 48 * MiB, MiB) < 0 ||
	    mmap(region + top - 48 * MiB, MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
		 0) == MAP_FAILED)
		return fail(status, "munmap and mmap", errno);
	if (!all_zero(region + top - 48 * MiB, MiB))
		return fail(status, "remapped range is not zero", 0);

	/* the rest, as dumped */
	bad = check_range(region, 0, top - 48 * MiB);
	if (bad < 0)
		bad = check_range(region + top - 47 * MiB, top - 47 * MiB, top - 40 * MiB);
	if (bad < 0)
		bad = check_range(region + top - 39 * MiB, top - 39 * MiB, top - 32 * MiB);
	if (bad < 0)
		bad = check_range(region + top - 28 * MiB, top - 28 * MiB, top);
	if (bad >= 0)
		return fail(status, "data", bad);
	f = fopen(status, "w");
	if (!f)
		return 1;
	fprintf(f, "OK %ld\n", missing);
	fclose(f);
	return 0;
}

static void on_usr1(int sig)
{
	go = 1;
}

int main(int argc, char **argv)
{
	bool selftest = argc == 4 && !strcmp(argv[1], "-m") && !strcmp(argv[2], "selftest");
	const char *status = argv[argc - 1];
	struct sigaction sa = { .sa_handler = on_usr1 };
	FILE *f;

	if (argc != 2 && !selftest) {
		fprintf(stderr, "usage: dumpee_lazy [-m selftest] STATUS\n");
		return 2;
	}
	syscall(SYS_close_range, 3U, ~0U, 0U);
	/* room above the region for the mremap target */
	region = mmap(NULL, REGION + 128 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED)
		return 1;
	munmap(region + REGION, 128 * MiB);
	madvise(region, REGION, MADV_NOHUGEPAGE);
	for (uint64_t off = 0; off < REGION; off += 8)
		*(uint64_t *)(region + off) = word_at(off);
	if (selftest)
		return check(status);
	sigaction(SIGUSR1, &sa, NULL);
	f = fopen(status, "w");
	if (!f)
		return 1;
	fputs("READY\n", f);
	fclose(f);
	while (!go)
		pause();
	return check(status);
}
