/*
 * dumpee_tty: a job on a terminal, for the --shell-job tests of
 * test/e2e/run.sh (run under ptyrun).
 *
 *   dumpee_tty TAG
 *
 * Writes "tick N" (N = 0, 1, 2...) to its stdout every 20 ms, N counted in
 * its memory, so that the lines printed before a dump and after a restore
 * follow each other with no gap and no repeat. On SIGINT (Ctrl-C on its
 * terminal) it checks that its controlling terminal (/dev/tty) is the
 * device its fds 0, 1 and 2 are on, prints "SIGINT after tick N, ctty ok"
 * (or "ctty BAD: why") and exits 0 (or 1). TAG is only there for the test
 * to find it by its command line.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted;

static void on_int(int sig)
{
	interrupted = 1;
}

static void say(const char *s)
{
	size_t len = strlen(s);

	while (len) {
		ssize_t n = write(1, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		s += n;
		len -= n;
	}
}

/*
 * Why fds 0, 1 and 2 are not on our controlling terminal, or NULL.
 * TIOCGSID answers only for the caller's controlling terminal.
 */
static const char *ctty_bad(char *buf, size_t len)
{
	pid_t sid = getsid(0);

	for (int i = 0; i < 3; i++) {
		pid_t s = 0;

		if (ioctl(i, TIOCGSID, &s) < 0) {
			snprintf(buf, len, "fd %d is not on the controlling terminal: %s", i, strerror(errno));
			return buf;
		}
		if (s != sid) {
			snprintf(buf, len, "fd %d is on the terminal of session %d, not ours (%d)", i, (int)s, (int)sid);
			return buf;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_int };
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	unsigned long n = 0;
	char line[160], why[128];
	const char *bad;

	sigaction(SIGINT, &sa, NULL);
	while (!interrupted) {
		snprintf(line, sizeof(line), "tick %lu\n", n);
		say(line);
		n++;
		nanosleep(&ts, NULL);
	}
	bad = ctty_bad(why, sizeof(why));
	if (bad)
		snprintf(line, sizeof(line), "SIGINT after tick %lu, ctty BAD: %s\n", n - 1, bad);
	else
		snprintf(line, sizeof(line), "SIGINT after tick %lu, ctty ok\n", n - 1);
	say(line);
	return bad ? 1 : 0;
}
