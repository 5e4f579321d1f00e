/*
 * ptyrun: run a command as a shell job on a new pseudo-terminal, for
 * test/e2e/run.sh (CI has no terminal).
 *
 *   ptyrun -o OUT -t TTYFILE -p PIDFILE [-T SECS] -- CMD [ARG...]
 *
 * Makes a pty pair; a child L becomes a session leader with the pty as its
 * controlling terminal (like a login shell), and forks the job J: its own
 * process group, made the terminal's foreground group, fds 0, 1 and 2 on
 * the pty, CMD exec'ed. L waits for J and exits with its status (128+N if
 * killed by N). ptyrun itself copies everything the pty prints to OUT
 * (appended as it comes) and its own stdin to the pty (type there: a
 * 0x03 byte is Ctrl-C), until nobody has the pty open any more; then it
 * exits with L's status. TTYFILE gets the pty's path, PIDFILE J's pid once
 * J is in the foreground. After SECS (default 60) the job's group is killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static int write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(s, f);
	return fclose(f);
}

static int status_code(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* the session leader: a minimal interactive shell running one job */
static int leader(const char *slave, const char *pidfile, char **cmd)
{
	char buf[32];
	int fd, sync[2], st;
	pid_t job;

	if (setsid() < 0)
		return 127;
	fd = open(slave, O_RDWR);	/* the first terminal a session leader opens becomes its own */
	if (fd < 0 || pipe2(sync, O_CLOEXEC) < 0)
		return 127;
	job = fork();
	if (job < 0)
		return 127;
	if (job == 0) {
		char c;

		setpgid(0, 0);
		close(sync[1]);
		/* wait until we are the foreground group */
		if (read(sync[0], &c, 1) < 0)
			_exit(127);
		if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		if (fd > 2)
			close(fd);
		signal(SIGTTOU, SIG_DFL);
		execvp(cmd[0], cmd);
		_exit(127);
	}
	setpgid(job, job);
	if (tcsetpgrp(fd, job) < 0)
		return 127;
	snprintf(buf, sizeof(buf), "%d\n", (int)job);
	write_file(pidfile, buf);
	close(sync[1]);
	while (waitpid(job, &st, 0) < 0)
		if (errno != EINTR)
			return 127;
	return status_code(st);
}

int main(int argc, char **argv)
{
	const char *out = NULL, *ttyfile = NULL, *pidfile = NULL;
	int secs = 60, c, master, outfd, st = 0;
	bool in_open = true;
	char *slave;
	time_t end;
	pid_t l;

	while ((c = getopt(argc, argv, "+o:t:p:T:")) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 't':
			ttyfile = optarg;
			break;
		case 'p':
			pidfile = optarg;
			break;
		case 'T':
			secs = atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (!out || !ttyfile || !pidfile || optind >= argc) {
		fprintf(stderr, "usage: ptyrun -o OUT -t TTYFILE -p PIDFILE [-T SECS] -- CMD [ARG...]\n");
		return 2;
	}
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || !(slave = ptsname(master))) {
		perror("ptyrun: pty");
		return 1;
	}
	outfd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (outfd < 0 || write_file(ttyfile, slave) < 0) {
		perror("ptyrun: output files");
		return 1;
	}
	l = fork();
	if (l < 0)
		return 1;
	if (l == 0)
		_exit(leader(slave, pidfile, argv + optind));

	end = time(NULL) + secs;
	for (;;) {
		struct pollfd p[2] = { { master, POLLIN, 0 }, { 0, POLLIN, 0 } };
		char buf[4096];
		ssize_t n;

		if (time(NULL) > end) {
			FILE *f = fopen(pidfile, "r");
			int job = 0;

			if (f && fscanf(f, "%d", &job) == 1 && job > 0)
				kill(-job, SIGKILL);
			if (f)
				fclose(f);
			end = time(NULL) + 3600;
		}
		if (poll(p, in_open ? 2 : 1, 200) < 0 && errno != EINTR)
			break;
		if (p[0].revents) {
			n = read(master, buf, sizeof(buf));
			/* EIO: the last slave fd is closed */
			if (n <= 0 && (n == 0 || errno != EINTR))
				break;
			if (n > 0 && write(outfd, buf, n) != n)
				break;
		}
		if (in_open && p[1].revents) {
			n = read(0, buf, sizeof(buf));
			if (n <= 0)
				in_open = false;
			else if (write(master, buf, n) != n)
				in_open = false;
		}
	}
	while (waitpid(l, &st, 0) < 0)
		if (errno != EINTR)
			return 1;
	return status_code(st);
}
