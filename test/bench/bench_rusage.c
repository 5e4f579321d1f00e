/*
 * bench_rusage: runs a command and reports what it cost. Forks, execs
 * CMD with its arguments (stdio inherited), waits for it with wait4() and
 * writes one line "SECONDS MAXRSS_KIB" to OUT: the wall time from fork to
 * reap, and the child's peak RSS (ru_maxrss, which also covers children
 * the command itself reaped, but not ones it left running, such as a tree
 * restored with -d). Exits with the command's status, 128+N if killed by
 * signal N.
 *
 * Usage: bench_rusage OUT CMD [ARG...]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct rusage ru;
	double t0;
	pid_t pid;
	int status;
	FILE *f;

	if (argc < 3) {
		fputs("usage: bench_rusage OUT CMD [ARG...]\n", stderr);
		return 2;
	}
	t0 = now();
	pid = fork();
	if (pid < 0) {
		perror("bench_rusage: fork");
		return 127;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		fprintf(stderr, "bench_rusage: cannot run '%s': %m\n", argv[2]);
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("bench_rusage: wait4");
			return 127;
		}
	}
	f = fopen(argv[1], "w");
	if (!f) {
		perror("bench_rusage: cannot write the report");
		return 127;
	}
	fprintf(f, "%.6f %ld\n", now() - t0, ru.ru_maxrss);
	if (fclose(f) != 0)
		return 127;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
