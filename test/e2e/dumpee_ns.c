/*
 * dumpee_ns: a tree in namespaces of its own, for test/e2e/run.sh. Run as
 * `unshare --pid --fork --uts dumpee_ns -p -u NAME STATUS`: it is then the
 * first process (pid 1) of its PID namespace.
 *
 * The root R sets the host name NAME and domain name NAME.dom (-u), queues
 * itself SIGUSR2 (blocked) with value 42, and forks:
 *   A  a process group of its own, with a thread T that has SIGUSR2 queued
 *      to it alone (tgkill) and is the target of a POSIX timer
 *      (SIGEV_THREAD_ID, SIGRTMIN, armed an hour ahead);
 *   B  in A's group;
 *   Z  exits with 7 at once: a zombie R has not reaped;
 *   S  (-t) leads a session of its own whose terminal is a pty R holds the
 *      master of, with its child G's group in the foreground.
 * Every id is kept as the process saw it. "READY PID" to STATUS, then on
 * SIGUSR1 each checks from inside: its pid, parent, group and thread ids
 * (with -p R's pid is 1 and its parent outside: 0), that /proc is its PID
 * namespace's (-P: unshare --mount-proc), the names (-u), that
 * each queued signal is still there with its sender's pid as the sender
 * saw it (T's own, not the process's), that the timer, set to fire now,
 * reaches T, that Z reaps with status 7, that S's terminal has S's session
 * and G's group in the foreground, and that a child forked now gets a pid
 * R can wait for. With -T SECONDS (under unshare --time --monotonic
 * SECONDS), R also checks that its CLOCK_MONOTONIC and CLOCK_BOOTTIME did
 * not go back since it got ready, that the first is still at least
 * SECONDS, that the two are as far apart as they were, and that a timerfd
 * on each, armed 2 s ahead of them by its deadline (TFD_TIMER_ABSTIME)
 * when R got ready, expires once its clock has reached that deadline. R writes "OK"
 * or "FAIL: what" to STATUS and ends the tree.
 *
 * -m selftest: the same without a dump. -m corrupt -c WHAT breaks one of
 * them first (pid, group, host, pending, timer, fg, shared, clock), so the
 * test can see the checks fail.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define DUMPEE_NAME "dumpee_ns"
#include "dumpee.h"

static const char *corrupt = "";
static bool in_pidns, own_proc;
static const char *host;
static bool with_pty;
static int master = -1;
static volatile sig_atomic_t go;

/* what each process saw before the dump */
static pid_t r_pid, a_pid, b_pid, z_pid, t_tid, s_pid, g_pid;
static timer_t timer;
/* -T: the least CLOCK_MONOTONIC may read (s), and both clocks when R got ready (ns) */
static long long clock_ahead = -1;
static int64_t mono0, boot0;
static int tfd_mono = -1, tfd_boot = -1;
/* A and its thread hand turns over these */
static int to_t[2], from_t[2];

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

static pid_t gettid_raw(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static bool is(const char *what)
{
	return !strcmp(corrupt, what);
}

/* the queued sig, blocked: with sender pid and value, without waiting */
static bool check_queued(int sig, pid_t sender, int value, const char *who)
{
	struct timespec zero = { 0, 0 };
	siginfo_t si;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, sig);
	if (sigtimedwait(&set, &si, &zero) != sig)
		return failf("%s: signal %d is no longer queued (%s)", who, sig, strerror(errno));
	if (si.si_pid != sender)
		return failf("%s: signal %d from pid %d, sent by %d", who, sig, si.si_pid, sender);
	if (value >= 0 && si.si_value.sival_int != value)
		return failf("%s: signal %d with value %d, not %d", who, sig, si.si_value.sival_int, value);
	return true;
}

static void *thread_t(void *arg)
{
	struct timespec limit = { 2, 0 };
	sigset_t set;
	siginfo_t si;

	(void)arg;
	/* SIGUSR1 is the main thread's: its pause() must end */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	t_tid = gettid_raw();
	put_byte(from_t[1]);
	wait_byte(to_t[0]);
	/* A's turn to check has come: the ids, the signal queued to T, then the timer */
	if (gettid_raw() != t_tid)
		failf("T: thread id %d, was %d", gettid_raw(), t_tid);
	check_queued(SIGUSR2, a_pid, -1, "T");
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN);
	if (sigtimedwait(&set, &si, &limit) != SIGRTMIN)
		failf("T: the timer's signal did not come (%s)", strerror(errno));
	else if (si.si_code != SI_TIMER)
		failf("T: SIGRTMIN with si_code %d, not SI_TIMER", si.si_code);
	put_byte(from_t[1]);
	return NULL;
}

/* A: its own group, thread T with a signal of its own and the timer's target */
static int child_a(int report)
{
	struct sigevent ev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGRTMIN };
	struct itimerspec later = { .it_value = { 3600, 0 } }, now = { .it_value = { 0, 1000000 } };
	pthread_t t;

	if (setpgid(0, 0) < 0 || pipe(to_t) < 0 || pipe(from_t) < 0)
		die_setup("A");
	a_pid = getpid();
	if (pthread_create(&t, NULL, thread_t, NULL))
		die_setup("A: thread");
	wait_byte(from_t[0]);
	ev._sigev_un._tid = t_tid;	/* SIGEV_THREAD_ID's target */
	if (timer_create(CLOCK_MONOTONIC, &ev, &timer) < 0 || timer_settime(timer, 0, &later, NULL) < 0)
		die_setup("A: timer");
	if (syscall(SYS_tgkill, a_pid, t_tid, SIGUSR2) < 0)
		die_setup("A: tgkill");
	put_byte(report);
	while (!go)
		pause();

	if (getpid() != a_pid || getpgrp() != a_pid || getppid() != r_pid)
		failf("A: pid %d, group %d, parent %d; was %d, %d, %d", getpid(), getpgrp(), getppid(), a_pid, a_pid,
		      r_pid);
	/* T's signal is T's alone: the main thread sees nothing of it */
	if (is("shared"))
		kill(a_pid, SIGUSR2);
	{
		struct timespec zero = { 0, 0 };
		sigset_t set;

		sigemptyset(&set);
		sigaddset(&set, SIGUSR2);
		sigaddset(&set, SIGRTMIN);
		if (sigtimedwait(&set, NULL, &zero) > 0)
			failf("A: a signal of T's is pending for the whole process");
	}
	/* corrupt: the timer stays an hour ahead */
	if (!is("timer") && timer_settime(timer, 0, &now, NULL) < 0)
		failf("A: timer_settime: %s", strerror(errno));
	put_byte(to_t[1]);
	wait_byte(from_t[0]);
	dprintf(report, "%s\n", failure);
	return 0;
}

/* B: in A's group */
static int child_b(int report)
{
	if (setpgid(0, a_pid) < 0)
		die_setup("B: setpgid");
	b_pid = getpid();
	put_byte(report);
	while (!go)
		pause();
	if (is("group"))
		setpgid(0, 0);
	if (getpid() != b_pid || getpgrp() != a_pid || getppid() != r_pid)
		failf("B: pid %d, group %d, parent %d; was %d, %d, %d", getpid(), getpgrp(), getppid(), b_pid, a_pid,
		      r_pid);
	dprintf(report, "%s\n", failure);
	return 0;
}

/* S: a session of its own on the pty, G's group in the foreground */
static int child_s(int report)
{
	int slave, ready[2], status;

	if (setsid() < 0 || pipe(ready) < 0)
		die_setup("S: setsid");
	/* a session leader without a terminal: the slave becomes its terminal */
	slave = open(ptsname(master), O_RDWR);
	if (slave < 0)
		die_setup("S: open the slave");
	s_pid = getpid();
	g_pid = fork();
	if (g_pid == 0) {
		setpgid(0, 0);
		put_byte(ready[1]);
		for (;;)
			pause();
	}
	if (g_pid < 0)
		die_setup("S: fork");
	setpgid(g_pid, g_pid);
	wait_byte(ready[0]);
	signal(SIGTTOU, SIG_IGN);
	if (tcsetpgrp(slave, g_pid) < 0)
		die_setup("S: tcsetpgrp");
	put_byte(report);
	while (!go)
		pause();
	if (is("fg"))
		tcsetpgrp(slave, s_pid);
	if (getpid() != s_pid || getsid(0) != s_pid || tcgetsid(slave) != s_pid || tcgetpgrp(slave) != g_pid)
		failf("S: pid %d, session %d, its terminal's session %d and foreground %d; were %d, %d, %d, %d",
		      getpid(), getsid(0), tcgetsid(slave), tcgetpgrp(slave), s_pid, s_pid, s_pid, g_pid);
	kill(g_pid, SIGKILL);
	waitpid(g_pid, &status, 0);
	dprintf(report, "%s\n", failure);
	return 0;
}

static pid_t fork_into(int (*fn)(int), int report)
{
	pid_t p = fork();

	if (p < 0)
		die_setup("fork");
	if (p == 0)
		_exit(fn(report));
	return p;
}

/* a line from a child's report pipe: "" (a newline) when it found nothing wrong */
static void take_report(FILE *f, const char *who)
{
	char line[512];

	if (!fgets(line, sizeof(line), f))
		failf("%s reported nothing", who);
	line[strcspn(line, "\n")] = '\0';
	if (line[0])
		failf("%.500s", line);
}

static int64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#define DEADLINE_NS 2000000000ll

/* a timerfd on clock c armed for DEADLINE_NS after from (TFD_TIMER_ABSTIME) */
static int arm_deadline(clockid_t c, int64_t from)
{
	int64_t at = from + DEADLINE_NS;
	struct itimerspec it = { .it_value = { at / 1000000000, at % 1000000000 } };
	int fd = timerfd_create(c, TFD_CLOEXEC);

	if (fd < 0 || timerfd_settime(fd, TFD_TIMER_ABSTIME, &it, NULL) < 0)
		die_setup("timerfd");
	return fd;
}

/* it expires (now, or when it is due) once c reads its deadline, not before */
static void check_deadline(int fd, clockid_t c, int64_t from, const char *name)
{
	uint64_t n = 0;
	int64_t now;

	if (read(fd, &n, sizeof(n)) != sizeof(n) || n != 1)
		failf("R: the %s timerfd read %llu expirations (%s)", name, (unsigned long long)n, strerror(errno));
	now = clock_ns(c);
	if (now < from + DEADLINE_NS)
		failf("R: the %s timerfd expired %.6f s before its deadline", name, (from + DEADLINE_NS - now) / 1e9);
}

/* -T: the clocks went on from where they were, in a time namespace that moves them */
static void check_clocks(void)
{
	int64_t mono = clock_ns(CLOCK_MONOTONIC), boot = clock_ns(CLOCK_BOOTTIME), apart;

	if (is("clock"))
		mono0 += 1000000 * 1000000000ll;
	if (mono < mono0 || boot < boot0)
		failf("R: the clocks went back: CLOCK_MONOTONIC %.3f s, was %.3f; CLOCK_BOOTTIME %.3f s, was %.3f",
		      mono / 1e9, mono0 / 1e9, boot / 1e9, boot0 / 1e9);
	if (mono / 1000000000 < clock_ahead)
		failf("R: CLOCK_MONOTONIC reads %.3f s, less than the %lld s its time namespace set", mono / 1e9,
		      clock_ahead);
	apart = (boot - mono) - (boot0 - mono0);
	if (apart > 50000000 || apart < -50000000)
		failf("R: CLOCK_BOOTTIME - CLOCK_MONOTONIC moved by %.3f s", apart / 1e9);
	check_deadline(tfd_mono, CLOCK_MONOTONIC, mono0, "CLOCK_MONOTONIC");
	check_deadline(tfd_boot, CLOCK_BOOTTIME, boot0, "CLOCK_BOOTTIME");
}

static void check_root(void)
{
	char name[65];
	struct utsname u;
	int status, p[2];
	pid_t c, got;

	if (getpid() != r_pid || (in_pidns && (r_pid != 1 || getppid() != 0)))
		failf("R: pid %d, parent %d; was %d%s", getpid(), getppid(), r_pid, in_pidns ? ", parent 0" : "");
	if (host) {
		snprintf(name, sizeof(name), "%s.dom", host);
		if (uname(&u) < 0 || strcmp(u.nodename, host) || strcmp(u.domainname, name))
			failf("R: host name '%s', domain '%s'; expected '%s', '%s'", u.nodename, u.domainname, host,
			      name);
	}
	check_queued(SIGUSR2, r_pid, 42, "R");
	if (clock_ahead >= 0)
		check_clocks();
	/* -P: /proc is the namespace's, where R is */
	if (own_proc) {
		char self[32] = "", want[32];
		ssize_t len = readlink("/proc/self", self, sizeof(self) - 1);

		self[len > 0 ? len : 0] = '\0';
		snprintf(want, sizeof(want), "%d", r_pid);
		if (strcmp(self, want))
			failf("R: /proc/self is '%s', not %s: /proc is not of R's PID namespace", self, want);
	}
	got = waitpid(z_pid, &status, WNOHANG);
	if (got != z_pid || !WIFEXITED(status) || WEXITSTATUS(status) != 7)
		failf("R: waitpid(%d) of the zombie gave %d, status %#x", z_pid, got, status);
	/* a new child: the kernel gives it a pid of R's namespace, R waits for it */
	if (pipe(p) < 0)
		die_setup("pipe");
	c = fork();
	if (c == 0) {
		pid_t ids[2] = { getpid(), getppid() };

		_exit(write(p[1], ids, sizeof(ids)) == sizeof(ids) ? 0 : 1);
	}
	if (c < 0) {
		failf("R: fork after the restore: %s", strerror(errno));
		return;
	}
	pid_t seen[2] = { 0, 0 };
	if (read(p[0], seen, sizeof(seen)) != sizeof(seen) || seen[0] != c || seen[1] != r_pid)
		failf("R: a new child %d says it is %d, child of %d", c, seen[0], seen[1]);
	if (waitpid(c, &status, 0) != c || !WIFEXITED(status) || WEXITSTATUS(status))
		failf("R: waiting for the new child %d: status %#x", c, status);
}

int main(int argc, char **argv)
{
	const char *mode = "wait";
	union sigval v = { .sival_int = 42 };
	struct sigaction sa = { .sa_handler = on_usr1 };
	char line[sizeof(failure) + 8], dom[72];
	int report[2], c;
	sigset_t block;
	FILE *rf;

	while ((c = getopt(argc, argv, "m:c:pPtT:u:")) != -1) {
		if (c == 'm')
			mode = optarg;
		else if (c == 'c')
			corrupt = optarg;
		else if (c == 'p')
			in_pidns = true;
		else if (c == 't')
			with_pty = true;
		else if (c == 'P')
			own_proc = true;
		else if (c == 'u')
			host = optarg;
		else if (c == 'T')
			clock_ahead = atoll(optarg);
		else
			goto usage;
	}
	if (optind != argc - 1)
		goto usage;
	status_path = argv[optind];

	/* blocked everywhere: they wait, queued, for the checks; SIGUSR1 is taken by a handler */
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, SIGRTMIN);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	if (host) {
		snprintf(dom, sizeof(dom), "%s.dom", host);
		if (sethostname(host, strlen(host)) < 0 || setdomainname(dom, strlen(dom)) < 0)
			die_setup("sethostname");
	}
	r_pid = getpid();
	if (in_pidns && r_pid != 1) {
		fprintf(stderr, "dumpee_ns: -p: pid %d, not 1 (run it under unshare --pid --fork)\n", r_pid);
		return 2;
	}
	if (sigqueue(r_pid, SIGUSR2, v) < 0)
		die_setup("sigqueue");
	if (pipe(report) < 0)
		die_setup("pipe");
	a_pid = fork_into(child_a, report[1]);
	wait_byte(report[0]);
	b_pid = fork_into(child_b, report[1]);
	wait_byte(report[0]);
	if (with_pty) {
		master = posix_openpt(O_RDWR | O_NOCTTY);
		if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
			die_setup("posix_openpt");
		s_pid = fork_into(child_s, report[1]);
		wait_byte(report[0]);
	}
	z_pid = fork();
	if (z_pid == 0)
		_exit(7);
	if (z_pid < 0)
		die_setup("fork");
	while (waitid(P_PID, z_pid, NULL, WEXITED | WNOWAIT) < 0 && errno == EINTR)
		;

	mono0 = clock_ns(CLOCK_MONOTONIC);
	boot0 = clock_ns(CLOCK_BOOTTIME);
	if (clock_ahead >= 0) {
		tfd_mono = arm_deadline(CLOCK_MONOTONIC, mono0);
		tfd_boot = arm_deadline(CLOCK_BOOTTIME, boot0);
	}
	if (!strcmp(mode, "wait")) {
		snprintf(line, sizeof(line), "READY %d", getpid());
		write_status(line);
		while (!go)
			pause();
	} else if (strcmp(mode, "selftest") && strcmp(mode, "corrupt")) {
		goto usage;
	}
	if (is("pid"))
		r_pid++;
	if (is("host"))
		sethostname("corrupted", 9);
	if (is("pending"))
		check_queued(SIGUSR2, r_pid, 42, "corrupting");
	check_root();
	kill(a_pid, SIGUSR1);
	kill(b_pid, SIGUSR1);
	if (with_pty)
		kill(s_pid, SIGUSR1);
	rf = fdopen(report[0], "r");
	take_report(rf, "A");
	take_report(rf, "B");
	if (with_pty)
		take_report(rf, "S");
	kill(a_pid, SIGKILL);
	kill(b_pid, SIGKILL);
	if (with_pty)
		kill(s_pid, SIGKILL);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	if (failure[0]) {
		snprintf(line, sizeof(line), "FAIL: %s", failure);
		write_status(line);
		fprintf(stderr, "dumpee_ns: %s\n", failure);
		return 1;
	}
	write_status("OK");
	return 0;
usage:
	fprintf(stderr, "usage: dumpee_ns [-m wait|selftest|corrupt] [-c WHAT] [-p] [-P] [-t] [-T SECONDS] [-u NAME] "
			"STATUS\n");
	return 2;
}
