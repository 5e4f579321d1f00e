/*
 * dumpee_eintr: a thread blocked in futex(FUTEX_WAIT) with a SIGUSR2
 * handler installed without SA_RESTART, and 256 MiB of touched memory so
 * a dump takes long enough to signal the process while it is frozen.
 * The kernel's rule: the wait returns EINTR once the handler has run.
 * Writes "READY pid", then "OK" if the wait returned EINTR (and nothing
 * if it went on waiting: the harness times out).
 *
 * Usage: dumpee_eintr STATUS TMPDIR
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile int handled;

static void on_usr2(int sig)
{
	(void)sig;
	handled = 1;
}

static void report(const char *path, const char *line)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fprintf(f, "%s\n", line);
		fclose(f);
	}
}

int main(int argc, char **argv)
{
	size_t size = 256u << 20;
	volatile char *mem;
	struct sigaction sa;
	char line[128];
	int word = 0;
	long r;

	if (argc != 3)
		return 2;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr2;	/* no SA_RESTART */
	if (sigaction(SIGUSR2, &sa, NULL) < 0)
		return 2;
	mem = malloc(size);
	if (!mem)
		return 2;
	for (size_t i = 0; i < size; i += 64)
		mem[i] = (char)(i >> 6);
	snprintf(line, sizeof(line), "READY %d", getpid());
	report(argv[1], line);

	r = syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	if (r < 0 && errno == EINTR && handled)
		report(argv[1], "OK");
	else
		snprintf(line, sizeof(line), "FAIL: futex returned %ld (%s), handler %s", r,
			 r < 0 ? strerror(errno) : "no error", handled ? "ran" : "did not run"),
			report(argv[1], line);
	return 0;
}
