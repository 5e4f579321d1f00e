/*
 * What the e2e dumpees share: their status file (one line: "READY PID",
 * then "OK" or "FAIL: <what>"), the first failure a check meets, an
 * exit for a setup that cannot go on, and a byte over a pipe to hand the
 * turn between threads and processes. Each dumpee defines DUMPEE_NAME
 * before including this.
 */
#pragma once
#include <errno.h>
#include <limits.h>
#include <mqueue.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *status_path;
static char failure[512];

static void die_setup(const char *what)
{
	fprintf(stderr, DUMPEE_NAME ": %s: %s\n", what, strerror(errno));
	exit(2);
}

/* the whole line at once: the test reads it while we write */
static void write_status(const char *s)
{
	char tmp[PATH_MAX];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", status_path);
	f = fopen(tmp, "w");
	if (!f)
		die_setup("status");
	fprintf(f, "%s\n", s);
	fclose(f);
	rename(tmp, status_path);
}

/* keep the first failure; false, for `return failf(...)` */
static bool __attribute__((format(printf, 1, 2))) failf(const char *fmt, ...)
{
	va_list ap;

	if (failure[0])
		return false;
	va_start(ap, fmt);
	vsnprintf(failure, sizeof(failure), fmt, ap);
	va_end(ap);
	return false;
}

/* one byte from fd, after EINTR too (inline: not every dumpee hands turns so) */
static inline void wait_byte(int fd)
{
	char c;

	while (read(fd, &c, 1) < 0 && errno == EINTR)
		;
}

static inline void put_byte(int fd)
{
	while (write(fd, "x", 1) < 0 && errno == EINTR)
		;
}

/*
 * `DUMPEE [-m wait|selftest|corrupt] [-c WHAT] STATUS`, the options of a
 * dumpee that may be told to corrupt its setup: sets status_path, returns
 * the mode and, in corrupt mode only, WHAT in *corruption ("" otherwise);
 * exits 2 on a bad command line.
 */
static inline const char *dumpee_args(int argc, char **argv, const char **corruption)
{
	const char *mode = "wait";
	int opt;

	while ((opt = getopt(argc, argv, "m:c:")) != -1) {
		if (opt == 'm')
			mode = optarg;
		else if (opt == 'c')
			*corruption = optarg;
		else
			exit(2);
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: " DUMPEE_NAME " [-m wait|selftest|corrupt] [-c WHAT] STATUS\n");
		exit(2);
	}
	status_path = argv[optind];
	if (strcmp(mode, "corrupt"))
		*corruption = "";
	return mode;
}

/* mq_receive(), failing after 5 s rather than waiting for ever on a queue left empty */
static inline ssize_t dumpee_mq_receive(mqd_t q, char *buf, size_t len, unsigned *prio)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += 5;
	return mq_timedreceive(q, buf, len, prio, &t);
}

/* "OK" or "FAIL: <the first failure>" into the status file: the exit status, 0 or 1 */
static inline int dumpee_report(bool ok)
{
	char buf[sizeof(failure) + 8];

	if (ok) {
		write_status("OK");
		return 0;
	}
	snprintf(buf, sizeof(buf), "FAIL: %s", failure);
	write_status(buf);
	return 1;
}
