/*
 * dumpee_incr: a process whose memory changes between incremental dumps,
 * for test/e2e/run.sh.
 *
 * A 32 MiB heap, every page stamped with the round that last wrote it (the
 * stamps live in the heap's own table, so they are dumped with it). Each
 * SIGUSR2 starts a new round: about 2% of the pages are rewritten, a new
 * 1 MiB mapping appears, half of the previous round's is unmapped, and in
 * round 2 a child is forked (a process new to the tree), which rewrites a
 * few pages of its own copy. After writing "n" to STATUS.round the round is
 * done. SIGUSR1 checks: every byte of every page against its stamp, the
 * round mappings, the child (which checks itself), and that no VMA is
 * under userfaultfd write-protection any more ("uw" in smaps). The verdict
 * ("OK" or "FAIL: <what>") goes to STATUS.
 *
 * -m selftest runs three rounds and checks without any dump; -c WHAT
 * breaks one thing first (page, stamp, mapping, child, tracked). -a N
 * makes the process start a round by itself every 100 ms until round N,
 * as a workload that keeps writing while it migrates.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PG 4096UL
#define HEAP_PAGES 8192UL		/* 32 MiB */
#define ROUND_MAP (1UL << 20)
#define MAX_ROUNDS 16

struct state {
	uint32_t round;
	uint32_t stamp[HEAP_PAGES];	/* the round that last wrote each page */
	uint8_t *maps[MAX_ROUNDS + 1];	/* the mapping made in round r (its first half stays) */
	pid_t child;
};

static struct state *st;
static uint8_t *heap;
static const char *status_path, *corrupt_what;
static volatile sig_atomic_t got;
static char verdict[512];

static void on_sig(int sig)
{
	got = sig;
}

static uint64_t word(uint64_t page, uint32_t round, size_t i)
{
	return (page * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)round << 40) ^ (i * 0x100000001B3ULL);
}

static void write_page(uint8_t *base, uint64_t page, uint32_t round)
{
	uint64_t *w = (uint64_t *)(base + page * PG);

	for (size_t i = 0; i < PG / 8; i++)
		w[i] = word(page, round, i);
}

static bool page_ok(const uint8_t *base, uint64_t page, uint32_t round)
{
	const uint64_t *w = (const uint64_t *)(base + page * PG);

	for (size_t i = 0; i < PG / 8; i++)
		if (w[i] != word(page, round, i))
			return false;
	return true;
}

static bool failf(const char *fmt, ...)
{
	va_list ap;

	if (verdict[0])
		return false;
	strcpy(verdict, "FAIL: ");
	va_start(ap, fmt);
	vsnprintf(verdict + 6, sizeof(verdict) - 6, fmt, ap);
	va_end(ap);
	return false;
}

static void write_file(const char *suffix, const char *s)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s%s", status_path, suffix);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, s, strlen(s)) < 0 || write(fd, "\n", 1) < 0)
		exit(3);
	close(fd);
}

/* the child: a copy of the heap, some pages of it its own; checks itself on SIGUSR1 */
static void child_main(void)
{
	sigset_t none;

	for (uint64_t p = 5; p < HEAP_PAGES; p += 97) {
		write_page(heap, p, 100);
		st->stamp[p] = 100;
	}
	sigemptyset(&none);
	for (;;) {
		sigsuspend(&none);
		if (got == SIGUSR1)
			break;
	}
	for (uint64_t p = 0; p < HEAP_PAGES; p++)
		if (!page_ok(heap, p, st->stamp[p]))
			_exit(1);
	_exit(0);
}

static void round_start(void)
{
	uint32_t r = ++st->round;
	char buf[16];

	for (uint64_t p = 0; p < HEAP_PAGES; p++)
		if ((p * 7 + r) % 50 == 0) {
			write_page(heap, p, r);
			st->stamp[p] = r;
		}
	st->maps[r] = mmap(NULL, ROUND_MAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (st->maps[r] == MAP_FAILED)
		exit(2);
	memset(st->maps[r], (int)r, ROUND_MAP);
	if (r > 1 && st->maps[r - 1])
		munmap(st->maps[r - 1] + ROUND_MAP / 2, ROUND_MAP / 2);
	if (r == 2) {
		st->child = fork();
		if (st->child < 0)
			exit(2);
		if (st->child == 0)
			child_main();
	}
	snprintf(buf, sizeof(buf), "%u", r);
	write_file(".round", buf);
}

static bool tracked_left(void)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool found = false;

	if (!f)
		return true;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmFlags:", 8) && strstr(line, " uw"))
			found = true;
	fclose(f);
	return found;
}

static int check(void)
{
	bool ok = true;
	int status;

	if (corrupt_what) {
		if (!strcmp(corrupt_what, "page"))
			heap[77 * PG + 100] ^= 1;
		else if (!strcmp(corrupt_what, "stamp"))
			st->stamp[50]++;
		else if (!strcmp(corrupt_what, "mapping"))
			st->maps[st->round][10] ^= 1;
		else if (!strcmp(corrupt_what, "child"))
			kill(st->child, SIGKILL);
	}
	for (uint64_t p = 0; ok && p < HEAP_PAGES; p++)
		if (!page_ok(heap, p, st->stamp[p]))
			ok = failf("heap page %lu does not hold round %u", (unsigned long)p, st->stamp[p]);
	for (uint32_t r = 1; ok && r <= st->round; r++) {
		size_t len = r == st->round ? ROUND_MAP : ROUND_MAP / 2;

		for (size_t i = 0; ok && i < len; i++)
			if (st->maps[r][i] != (uint8_t)r)
				ok = failf("round %u mapping: byte %zu is %u", r, i, st->maps[r][i]);
	}
	if (st->child > 0) {
		/* a check that failed already only ends the child */
		kill(st->child, ok ? SIGUSR1 : SIGKILL);
		if (waitpid(st->child, &status, 0) != st->child ||
		    (ok && (!WIFEXITED(status) || WEXITSTATUS(status))))
			ok = failf("the child's memory (status %#x)", status);
	}
	if (ok && (tracked_left() || (corrupt_what && !strcmp(corrupt_what, "tracked"))))
		ok = failf("memory is still under userfaultfd write-protection");
	write_file("", ok ? "OK" : verdict);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_sig };
	const char *mode = "wait";
	sigset_t block, none;
	char ready[64];
	unsigned auto_to = 0;
	int opt;

	syscall(SYS_close_range, 3U, ~0U, 0U);
	while ((opt = getopt(argc, argv, "m:c:a:")) != -1) {
		if (opt == 'm')
			mode = optarg;
		else if (opt == 'c')
			corrupt_what = optarg;
		else if (opt == 'a')
			auto_to = (unsigned)atoi(optarg);
		else
			return 2;
	}
	if (argc - optind != 1 || argv[optind][0] != '/' || (strcmp(mode, "wait") && strcmp(mode, "selftest")) ||
	    auto_to > MAX_ROUNDS) {
		fprintf(stderr, "usage: dumpee_incr [-m wait|selftest] [-c WHAT] [-a ROUNDS] /STATUS\n");
		return 2;
	}
	status_path = argv[optind];
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigemptyset(&none);

	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	heap = mmap(NULL, HEAP_PAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (st == MAP_FAILED || heap == MAP_FAILED)
		return 2;
	for (uint64_t p = 0; p < HEAP_PAGES; p++)
		write_page(heap, p, 0);
	round_start();

	if (!strcmp(mode, "selftest")) {
		round_start();
		round_start();
		return check();
	}
	snprintf(ready, sizeof(ready), "READY %d", getpid());
	write_file("", ready);
	for (;;) {
		struct timespec tick = { 0, 100000000 };
		int sig;

		if (st->round < auto_to) {
			/* a freeze for a dump may cut the wait short: then just wait again */
			sig = sigtimedwait(&block, NULL, &tick);
			if (sig < 0 && errno == EAGAIN)
				sig = SIGUSR2;
		} else {
			got = 0;
			sigsuspend(&none);
			sig = got;
		}
		if (sig == SIGUSR2)
			round_start();
		else if (sig == SIGUSR1)
			return check();
	}
}
