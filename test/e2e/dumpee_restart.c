/*
 * dumpee_restart: threads blocked in calls that a dump interrupts and a
 * restored process must not see fail with EINTR (none has a signal
 * handler): poll() with no timeout and with a long one, epoll_wait(),
 * futex(FUTEX_WAIT) with a timeout, clock_nanosleep() to an absolute
 * time, nanosleep() and sigwaitinfo() (rt_sigtimedwait), each by its own
 * syscall number (glibc makes nanosleep() a clock_nanosleep(), for one).
 * On SIGUSR1 main makes the pipes readable, wakes the futex and sends the
 * sigwaitinfo() thread its SIGUSR2; the sleepers end by themselves,
 * SLEEP_S seconds after they began or (nanosleep, counted again when
 * restored) after the restore. Each call must return what it returns
 * when nothing interrupts it.
 *
 * Usage: dumpee_restart [-m selftest|runs-on] STATUS   (writes "READY pid",
 * then "OK" or "FAIL: ..."; selftest: the check at once, with no dump;
 * runs-on: epoll_wait() and sigwaitinfo() go on after EINTR, which a
 * pre-dump or a dump -R gives them in the running process)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>

#define DUMPEE_NAME "dumpee_restart"
#include "dumpee.h"

#define SLEEP_S 6

enum { POLL_INF, POLL_LONG, EPOLL, FUTEX, ABS_SLEEP, REL_SLEEP, SIGWAIT, NCALLS };

static const char *const call_name[NCALLS] = {
	"poll(-1)", "poll(600000)", "epoll_wait(-1)", "futex(FUTEX_WAIT, 600 s)", "clock_nanosleep(TIMER_ABSTIME)",
	"nanosleep", "rt_sigtimedwait(SIGUSR2, no timeout)",
};

/* what /proc/self/task/TID/syscall shows while each waits */
static const long call_nr[NCALLS] = {
	SYS_poll, SYS_poll, SYS_epoll_wait, SYS_futex, SYS_clock_nanosleep, SYS_nanosleep, SYS_rt_sigtimedwait,
};

static int pipes[3][2];	/* POLL_INF, POLL_LONG, EPOLL */
static pid_t tids[NCALLS];
static int epfd;
static uint32_t futex_word;
static struct timespec deadline;	/* of ABS_SLEEP, CLOCK_MONOTONIC */
static volatile sig_atomic_t go;
static bool runs_on;	/* -m runs-on: dumped with -R or pre-dumped before the dump */

struct result {
	long ret;
	int err;
	bool early;	/* ABS_SLEEP returned before its deadline */
};
static struct result res[NCALLS];

static void *call_main(void *arg)
{
	int which = (int)(intptr_t)arg;
	struct pollfd pfd = { .events = POLLIN };
	struct epoll_event ev;
	struct timespec ts = { .tv_sec = 600 }, now;
	sigset_t usr2;
	siginfo_t si;
	long r = -1;

	__atomic_store_n(&tids[which], (pid_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	switch (which) {
	case POLL_INF:
	case POLL_LONG:
		pfd.fd = pipes[which][0];
		r = syscall(SYS_poll, &pfd, 1, which == POLL_INF ? -1 : 600000);
		break;
	case EPOLL:
		/* a dump -R or pre-dump gives a running process EINTR here, as a stop does (signal(7)) */
		do
			r = syscall(SYS_epoll_wait, epfd, &ev, 1, -1);
		while (r < 0 && errno == EINTR && runs_on);
		break;
	case FUTEX:
		r = syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
		break;
	case ABS_SLEEP:
		r = syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL);
		break;
	case REL_SLEEP:
		ts = (struct timespec){ .tv_sec = SLEEP_S };
		r = syscall(SYS_nanosleep, &ts, NULL);
		break;
	case SIGWAIT:
		sigemptyset(&usr2);
		sigaddset(&usr2, SIGUSR2);
		/* never restarted, like epoll_wait(): EINTR after a stop in a running process */
		do
			r = syscall(SYS_rt_sigtimedwait, &usr2, &si, NULL, _NSIG / 8);
		while (r < 0 && errno == EINTR && runs_on);
		break;
	default:
		return NULL;
	}
	res[which].ret = r;
	res[which].err = r < 0 ? errno : 0;
	if (which == ABS_SLEEP) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		res[which].early = now.tv_sec < deadline.tv_sec ||
				   (now.tv_sec == deadline.tv_sec && now.tv_nsec < deadline.tv_nsec);
	}
	return NULL;
}

/* whether thread i is in its call (not just about to make it) */
static bool waiting(int i)
{
	char path[64], buf[64] = "";
	pid_t tid = __atomic_load_n(&tids[i], __ATOMIC_SEQ_CST);
	FILE *f;

	if (!tid)
		return false;
	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	f = fopen(path, "r");
	if (!f)
		die_setup(path);
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return atol(buf) == call_nr[i];
}

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

static bool check(void)
{
	for (int i = 0; i < NCALLS; i++) {
		long want = i == SIGWAIT ? SIGUSR2 : i < FUTEX ? 1 : 0;

		if (res[i].ret != want)
			return failf("%s returned %ld (%s), expected %ld", call_name[i], res[i].ret,
				     res[i].ret < 0 ? strerror(res[i].err) : "no error", want);
	}
	if (res[ABS_SLEEP].early)
		return failf("%s returned before its deadline", call_name[ABS_SLEEP]);
	return true;
}

int main(int argc, char **argv)
{
	struct epoll_event ev = { .events = EPOLLIN };
	pthread_t th[NCALLS];
	sigset_t usr12, wait_mask;
	char line[600];
	bool mode = argc == 4 && !strcmp(argv[1], "-m");
	bool selftest = mode && !strcmp(argv[2], "selftest");

	runs_on = mode && !strcmp(argv[2], "runs-on");
	if (argc != 2 && !selftest && !runs_on) {
		fprintf(stderr, "usage: dumpee_restart [-m selftest|runs-on] STATUS\n");
		return 2;
	}
	status_path = argv[argc - 1];
	for (int i = 0; i < 3; i++)
		if (pipe(pipes[i]) < 0)
			die_setup("pipe");
	epfd = epoll_create1(0);
	if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, pipes[EPOLL][0], &ev) < 0)
		die_setup("epoll");
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += SLEEP_S;
	signal(SIGUSR1, on_usr1);
	sigemptyset(&usr12);
	sigaddset(&usr12, SIGUSR1);
	sigaddset(&usr12, SIGUSR2);
	/* only main takes SIGUSR1: no call may be interrupted by a handler; SIGUSR2 is waited for */
	pthread_sigmask(SIG_BLOCK, &usr12, NULL);
	for (int i = 0; i < NCALLS; i++)
		if (pthread_create(&th[i], NULL, call_main, (void *)(intptr_t)i))
			die_setup("pthread_create");
	for (int i = 0; i < NCALLS; i++)
		while (!waiting(i))
			usleep(1000);
	snprintf(line, sizeof(line), "READY %d", getpid());
	write_status(line);
	/* SIGUSR1 stays blocked but while we wait for it: none can slip in before we do */
	pthread_sigmask(SIG_SETMASK, NULL, &wait_mask);
	sigdelset(&wait_mask, SIGUSR1);
	while (!go && !selftest)
		sigsuspend(&wait_mask);
	for (int i = 0; i < 3; i++)
		put_byte(pipes[i][1]);
	__atomic_store_n(&futex_word, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	/* ESRCH: its call has returned already, which check() reports */
	if (syscall(SYS_tgkill, getpid(), tids[SIGWAIT], SIGUSR2) < 0 && errno != ESRCH)
		die_setup("tgkill");
	for (int i = 0; i < NCALLS; i++)
		pthread_join(th[i], NULL);
	if (check())
		snprintf(line, sizeof(line), "OK");
	else
		snprintf(line, sizeof(line), "FAIL: %s", failure);
	write_status(line);
	return failure[0] != 0;
}
