/*
 * reaper: run a command as a child subreaper, so that processes orphaned below it (a
 * process restored with `memdump restore -d` outlives its restorer) are reaped here and
 * not by init. Exits with the command's status once no descendant is left.
 *
 * Usage: reaper [-t SECS] CMD [ARGS...]
 *   -t SECS  after CMD exits, wait at most SECS (default 30) for the remaining descendants,
 *            then SIGKILL them (by pid, only our own children) and reap them.
 * CMD runs with every fd above 2 closed, so dumpees started under it inherit none of the
 * caller's pipes. SIGINT, SIGTERM and SIGHUP are forwarded to CMD.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile pid_t cmd_pid;

static void forward(int sig)
{
	if (cmd_pid > 0)
		kill(cmd_pid, sig);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Kill our direct children (orphans reparented to us) found in /proc; returns how many. */
static int kill_children(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char path[64], buf[512], *p;
		FILE *f;
		int ppid;
		pid_t pid = atoi(e->d_name);

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		f = fopen(path, "re");
		if (!f)
			continue;
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		/* comm may contain ") ": the fields start after the last ')' */
		if (!p || !(p = strrchr(buf, ')')))
			continue;
		if (sscanf(p + 1, " %*c %d", &ppid) != 1 || ppid != getpid())
			continue;
		fprintf(stderr, "reaper: killing leftover process %d\n", pid);
		kill(pid, SIGKILL);
		n++;
	}
	closedir(d);
	return n;
}

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = forward };
	double timeout = 30, deadline = 0;
	bool cmd_done = false, killed = false;
	int cmd_status = 0, opt;

	while ((opt = getopt(argc, argv, "+t:")) != -1) {
		if (opt != 't') {
			fprintf(stderr, "usage: reaper [-t SECS] CMD [ARGS...]\n");
			return 2;
		}
		timeout = atof(optarg);
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: reaper [-t SECS] CMD [ARGS...]\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		perror("reaper: PR_SET_CHILD_SUBREAPER");
		return 2;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	cmd_pid = fork();
	if (cmd_pid < 0) {
		perror("reaper: fork");
		return 2;
	}
	if (cmd_pid == 0) {
		syscall(SYS_close_range, 3U, ~0U, 0U);
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "reaper: cannot run '%s': %s\n", argv[optind], strerror(errno));
		_exit(127);
	}

	for (;;) {
		int status;
		pid_t w = waitpid(-1, &status, cmd_done ? WNOHANG : 0);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			break;	/* ECHILD: nobody left */
		}
		if (w == cmd_pid) {
			cmd_status = status;
			cmd_done = true;
			deadline = now_s() + timeout;
			continue;
		}
		if (w > 0)
			continue;
		/* w == 0: CMD is done, descendants are still running */
		if (!killed && now_s() > deadline) {
			fprintf(stderr, "reaper: descendants still running %.0f s after the command\n",
				timeout);
			kill_children();
			killed = true;
		} else if (killed && now_s() > deadline + 10) {
			kill_children();
			deadline = now_s();
		}
		usleep(20000);
	}
	return exit_code(cmd_status);
}
