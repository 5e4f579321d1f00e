/*
 * counter: append 0, 1, 2, ... to LOGFILE, one line every INTERVAL_MS (default 200).
 * The smallest useful dumpee: after a restore the numbers must go on from where they
 * stopped, with no gap and no restart. Used by scripts/demo.sh and the e2e tests.
 * With -t a second thread counts and the main thread exits (pthread_exit()): the
 * process then shows as a zombie in /proc while it runs.
 *
 * Usage: counter [-i INTERVAL_MS] [-t] LOGFILE
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long interval_ms = 200;
static int log_fd;

static void *count(void *arg)
{
	struct timespec ts;

	for (unsigned long i = 0;; i++) {
		char line[32];
		int n = snprintf(line, sizeof(line), "%lu\n", i);

		if (write(log_fd, line, n) != n) {
			fprintf(stderr, "counter: write: %s\n", strerror(errno));
			exit(1);
		}
		ts.tv_sec = interval_ms / 1000;
		ts.tv_nsec = (interval_ms % 1000) * 1000000L;
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	return arg;
}

int main(int argc, char **argv)
{
	bool in_thread = false;
	pthread_t t;
	int opt;

	while ((opt = getopt(argc, argv, "i:t")) != -1) {
		if (opt == 'i')
			interval_ms = atol(optarg);
		else if (opt == 't')
			in_thread = true;
		else
			goto usage;
	}
	if (argc - optind != 1 || interval_ms <= 0)
		goto usage;
	/* an inherited pipe would make the process undumpable: keep only stdio */
	syscall(SYS_close_range, 3U, ~0U, 0U);
	log_fd = open(argv[optind], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (log_fd < 0) {
		fprintf(stderr, "counter: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	if (!in_thread)
		count(NULL);
	errno = pthread_create(&t, NULL, count, NULL);
	if (errno) {
		fprintf(stderr, "counter: pthread_create: %s\n", strerror(errno));
		return 1;
	}
	pthread_exit(NULL);
usage:
	fprintf(stderr, "usage: counter [-i INTERVAL_MS] [-t] LOGFILE\n");
	return 2;
}
