/*
 * dumpee_mq: a process holding POSIX message queue "/memdump_e2e_mq" of
 * memdump's IPC namespace (the host's), for test/e2e/run.sh. The queue is
 * not the tree's: it outlives the dump, and a restore opens it again by
 * name, with whatever it holds.
 *
 *   the queue   mq_maxmsg 4, mq_msgsize 64, two messages ("low" priority 1,
 *               "high" priority 9)
 *   fd R        read-only, blocking
 *   fd W        write-only, non-blocking (O_NONBLOCK), also held by child C
 *   fd K        write-only on queue "/memdump_e2e_mq_c", empty, on which C
 *               waits in mq_receive()
 *
 * Modes: -m wait (default) writes "READY PID" to STATUS and waits for
 * SIGUSR1; -m selftest checks at once; -m corrupt -c WHAT breaks one
 * thing first (msg, fdflags, accmode), and the check must notice. -u: the
 * queue is removed (mq_unlink()) while held; -n: the process registers for
 * its notification (both for the refusal tests). -m hold -t PID -q NAME:
 * only opens queue NAME of PID's IPC namespace, goes back to its own, writes
 * "READY" and waits to be killed (an outsider holding a queue of a tree).
 *
 * The check: R and W's access modes and flags, the queue's limits, its two
 * messages received in order through R, a message through W back
 * through R, a message through K that C receives (and exits 0 for). Writes "OK" or "FAIL: <what>" to STATUS.
 */
#define DUMPEE_NAME "dumpee_mq"
#include "dumpee.h"

#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>

#define NAME "/memdump_e2e_mq"
#define NAME_C NAME "_c"

static volatile sig_atomic_t go;

static void on_usr1(int sig)
{
	go = 1;
}

/* C: the message W sends it, "child", through q */
static int child_c(mqd_t q)
{
	char buf[64];
	ssize_t n;

	while ((n = mq_receive(q, buf, sizeof(buf), NULL)) < 0 && errno == EINTR)
		;
	return n == 5 && !memcmp(buf, "child", 5) ? 0 : 4;
}

/* queue name of pid's IPC namespace held from memdump's (ours) */
static __attribute__((noreturn)) void hold(const char *pid, const char *name)
{
	char path[64];
	int theirs, ours = open("/proc/self/ns/ipc", O_RDONLY);

	snprintf(path, sizeof(path), "/proc/%s/ns/ipc", pid);
	theirs = open(path, O_RDONLY);
	if (ours < 0 || theirs < 0 || setns(theirs, CLONE_NEWIPC) < 0)
		die_setup("setns");
	if (mq_open(name, O_RDONLY) < 0)
		die_setup("mq_open");
	if (setns(ours, CLONE_NEWIPC) < 0)
		die_setup("setns back");
	write_status("READY");
	for (;;)
		pause();
}

static void check(mqd_t r, mqd_t w, mqd_t k, pid_t c)
{
	struct mq_attr a, b;
	unsigned prio;
	char buf[64];
	int st;

	if ((fcntl(r, F_GETFL) & O_ACCMODE) != O_RDONLY || (fcntl(w, F_GETFL) & O_ACCMODE) != O_WRONLY)
		failf("access modes %#o and %#o", fcntl(r, F_GETFL) & O_ACCMODE, fcntl(w, F_GETFL) & O_ACCMODE);
	if (mq_getattr(r, &a) < 0 || mq_getattr(w, &b) < 0) {
		failf("mq_getattr: %s", strerror(errno));
		return;
	}
	if (a.mq_flags != 0 || b.mq_flags != O_NONBLOCK)
		failf("flags %#lx and %#lx", a.mq_flags, b.mq_flags);
	if (a.mq_maxmsg != 4 || a.mq_msgsize != 64 || a.mq_curmsgs != 2)
		failf("%ld of %ld messages of %ld bytes", a.mq_curmsgs, a.mq_maxmsg, a.mq_msgsize);
	if (dumpee_mq_receive(r, buf, sizeof(buf), &prio) != 4 || memcmp(buf, "high", 4) || prio != 9)
		failf("the first message is not \"high\" of priority 9");
	else if (dumpee_mq_receive(r, buf, sizeof(buf), &prio) != 3 || memcmp(buf, "low", 3) || prio != 1)
		failf("the second message is not \"low\" of priority 1");
	if (mq_send(w, "back", 4, 2) < 0 || dumpee_mq_receive(r, buf, sizeof(buf), &prio) != 4 || prio != 2)
		failf("a message through W did not come back through R");
	if (mq_send(k, "child", 5, 0) < 0)
		failf("mq_send through K: %s", strerror(errno));
	if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st))
		failf("C (waiting in mq_receive()): status %#x", st);
}

int main(int argc, char **argv)
{
	struct mq_attr attr = { .mq_maxmsg = 4, .mq_msgsize = 64 };
	struct sigevent sev = { .sigev_notify = SIGEV_NONE };
	struct sigaction sa = { .sa_handler = on_usr1 };
	const char *mode = "wait", *corrupt = "", *hold_pid = NULL, *hold_name = NULL;
	bool unlinked = false, notify = false;
	char line[64];
	mqd_t r, w, k, cq;
	pid_t c;
	int opt;

	while ((opt = getopt(argc, argv, "m:c:unt:q:")) != -1) {
		if (opt == 'm')
			mode = optarg;
		else if (opt == 't')
			hold_pid = optarg;
		else if (opt == 'q')
			hold_name = optarg;
		else if (opt == 'c')
			corrupt = optarg;
		else if (opt == 'u')
			unlinked = true;
		else if (opt == 'n')
			notify = true;
		else
			goto usage;
	}
	if (optind + 1 != argc)
		goto usage;
	status_path = argv[optind];
	if (!strcmp(mode, "hold")) {
		if (!hold_pid || !hold_name)
			goto usage;
		hold(hold_pid, hold_name);
	}
	sigaction(SIGUSR1, &sa, NULL);
	mq_unlink(NAME);
	mq_unlink(NAME_C);
	w = mq_open(NAME, O_CREAT | O_EXCL | O_WRONLY | O_NONBLOCK, 0600, &attr);
	r = mq_open(NAME, O_RDONLY);
	k = mq_open(NAME_C, O_CREAT | O_EXCL | O_WRONLY, 0600, &attr);
	cq = mq_open(NAME_C, O_RDONLY);
	if (w < 0 || r < 0 || k < 0 || cq < 0)
		die_setup("mq_open");
	if (mq_send(w, "low", 3, 1) < 0 || mq_send(w, "high", 4, 9) < 0)
		die_setup("mq_send");
	c = fork();
	if (c < 0)
		die_setup("fork");
	if (!c)
		_exit(child_c(cq));
	close(cq);
	if (unlinked)
		mq_unlink(NAME);
	if (notify && mq_notify(r, &sev) < 0)
		die_setup("mq_notify");

	if (!strcmp(mode, "wait")) {
		snprintf(line, sizeof(line), "READY %d", getpid());
		write_status(line);
		while (!go)
			pause();
	} else if (strcmp(mode, "selftest") && strcmp(mode, "corrupt")) {
		goto usage;
	}
	if (!strcmp(corrupt, "msg"))
		mq_receive(r, line, sizeof(line), NULL);
	if (!strcmp(corrupt, "fdflags"))
		mq_setattr(w, &(struct mq_attr){ .mq_flags = 0 }, NULL);
	if (!strcmp(corrupt, "accmode")) {
		close(r);
		if (mq_open(NAME, O_RDWR) != r)
			die_setup("mq_open again");
	}
	check(r, w, k, c);
	if (failure[0])
		kill(c, SIGKILL);
	return dumpee_report(!failure[0]);
usage:
	fprintf(stderr, "usage: dumpee_mq [-m wait|selftest|corrupt] [-c WHAT] [-u] [-n] STATUS\n"
			"       dumpee_mq -m hold -t PID -q NAME STATUS\n");
	return 2;
}
