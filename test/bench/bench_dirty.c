/*
 * bench_dirty: the target of scripts/bench-incr.sh. Maps SIZE_MIB of
 * anonymous memory filled with random bytes, writes "READY" to STATUS and
 * waits. SIGUSR2 rewrites 8 bytes in 1 page of every 100 (a new value each
 * time) and appends "DIRTY <pages>"; SIGUSR1 writes every byte of the first
 * GiB once and appends "WRITE <seconds>".
 *
 * Usage: bench_dirty SIZE_MIB STATUS
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_sig(int sig)
{
	got = sig;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void say(const char *path, const char *line)
{
	FILE *f = fopen(path, "a");

	if (!f)
		exit(1);
	fputs(line, f);
	fclose(f);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_sig };
	size_t size, pages, wlen;
	uint64_t *p, x = 0x9e3779b97f4a7c15ULL, round = 0;
	sigset_t block, none;
	char line[64];

	if (argc != 3)
		return 2;
	syscall(SYS_close_range, 3U, ~0U, 0U);
	size = (size_t)atol(argv[1]) << 20;
	pages = size / 4096;
	wlen = size < (1UL << 30) ? size : (1UL << 30);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	for (size_t i = 0; i < size / sizeof(*p); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = x;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigemptyset(&none);
	say(argv[2], "READY\n");
	for (;;) {
		got = 0;
		sigsuspend(&none);
		if (got == SIGUSR2) {
			size_t n = 0;

			round++;
			for (size_t pg = 0; pg < pages; pg += 100, n++)
				p[pg * 512] = round * 0x100000001b3ULL + pg;
			snprintf(line, sizeof(line), "DIRTY %zu\n", n);
			say(argv[2], line);
		} else if (got == SIGUSR1) {
			double t = now();

			memset(p, (int)((0x5a + round) & 0xff), wlen);
			snprintf(line, sizeof(line), "WRITE %.4f\n", now() - t);
			say(argv[2], line);
		}
	}
}
