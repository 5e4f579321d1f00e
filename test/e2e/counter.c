/*
 * counter: append 0, 1, 2, ... to LOGFILE, one line every INTERVAL_MS (default 200).
 * The smallest useful dumpee: after a restore the numbers must go on from where they
 * stopped, with no gap and no restart. Used by scripts/demo.sh and the e2e tests.
 *
 * Usage: counter [-i INTERVAL_MS] LOGFILE
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec ts;
	unsigned long i;
	long ms = 200;
	int fd;

	int opt;

	while ((opt = getopt(argc, argv, "i:")) != -1) {
		if (opt != 'i')
			goto usage;
		ms = atol(optarg);
	}
	if (argc - optind != 1 || ms <= 0)
		goto usage;
	/* an inherited pipe would make the process undumpable: keep only stdio */
	syscall(SYS_close_range, 3U, ~0U, 0U);
	fd = open(argv[optind], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "counter: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	for (i = 0;; i++) {
		char line[32];
		int n = snprintf(line, sizeof(line), "%lu\n", i);

		if (write(fd, line, n) != n) {
			fprintf(stderr, "counter: write: %s\n", strerror(errno));
			return 1;
		}
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (ms % 1000) * 1000000L;
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
usage:
	fprintf(stderr, "usage: counter [-i INTERVAL_MS] LOGFILE\n");
	return 2;
}
