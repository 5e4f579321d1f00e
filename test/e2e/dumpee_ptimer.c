/*
 * dumpee_ptimer: POSIX timers across a dump and restore, for test/e2e/run.sh.
 *
 * Two threads, main and T2. Timers (ids made non-contiguous by deleting
 * some on the way):
 *   A  CLOCK_MONOTONIC, SIGEV_SIGNAL SIGRTMIN+2 with value 0xa11ce, every 20 ms
 *   B  CLOCK_MONOTONIC, SIGEV_THREAD_ID to T2, SIGRTMIN+3, value 0xb0b, every 30 ms
 *   C  CLOCK_REALTIME, SIGEV_NONE, one-shot an hour ahead
 *   D  CLOCK_BOOTTIME, SIGEV_SIGNAL SIGUSR2, never armed
 *   E  CLOCK_MONOTONIC, SIGEV_SIGNAL SIGRTMIN+4 (blocked), value 0xe, a one-shot
 *      that fired before READY: its SI_TIMER signal is pending at the dump
 * With -G, one more timer F whose id is above 70000 (made by making and
 * deleting timers that many times).
 *
 * It runs at least 50 ms after arming C, writes "READY A B C D E [F]" to
 * STATUS and waits for SIGUSR1, then checks from inside: the same ids in
 * /proc/self/timers with their clocks, signals, values and targets; the
 * periods and time left of timer_gettime() (C has less than an hour left,
 * by at least those 50 ms, and more than an hour minus the time since it
 * was armed); that A and B keep ticking, B's ticks in T2 only, each
 * signal's si_timerid and si_value right; and that E's signal is still
 * pending with its SI_TIMER siginfo. Verdict "OK" or "FAIL: what" to STATUS.
 *
 * -m selftest: the same without a dump. -m corrupt -c WHAT breaks one
 * thing before checking (ids, interval, left, thread, ticks, pending), so
 * the test can see the checker fail.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NS 1000000000LL
#define MS 1000000LL
#define A_PERIOD (20 * MS)
#define B_PERIOD (30 * MS)
#define C_LEFT (3600 * NS)
#define RAN_BEFORE_READY (50 * MS)
#define F_MIN_ID 70000

enum { A, B, C, D, E, F, N_TIMERS };

static timer_t tm[N_TIMERS];
static int n_timers = E + 1;
static int64_t c_armed_at;		/* CLOCK_MONOTONIC when C was armed */
static volatile pid_t t2_tid;
static volatile sig_atomic_t go;
static volatile long ticks_a, ticks_b;
static volatile long bad_a, bad_b, wrong_thread_b;
static FILE *out;
static const char *status_path;
static const char *corrupt;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NS + ts.tv_nsec;
}

static int64_t ts_ns(const struct timespec *ts)
{
	return ts->tv_sec * NS + ts->tv_nsec;
}

static pid_t tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static __attribute__((noreturn, format(printf, 1, 2))) void fail(const char *fmt, ...)
{
	va_list ap;
	FILE *f = fopen(status_path, "w");

	if (f) {
		fputs("FAIL: ", f);
		va_start(ap, fmt);
		vfprintf(f, fmt, ap);
		va_end(ap);
		fputc('\n', f);
		fclose(f);
	}
	exit(1);
}

static int id_of(int k)
{
	return (int)(intptr_t)tm[k];
}

static void on_a(int sig, siginfo_t *si, void *uc)
{
	if (si->si_code != SI_TIMER || si->si_timerid != id_of(A) || si->si_value.sival_ptr != (void *)0xa11ce)
		bad_a++;
	ticks_a++;
}

static void on_b(int sig, siginfo_t *si, void *uc)
{
	if (si->si_code != SI_TIMER || si->si_timerid != id_of(B) || si->si_value.sival_ptr != (void *)0xb0b)
		bad_b++;
	if (tid() != t2_tid)
		wrong_thread_b++;
	ticks_b++;
}

static void on_usr1(int sig)
{
	go = 1;
}

/* T2 takes B's signals only: SIGUSR1 and A's go to main */
static void *t2_main(void *arg)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigaddset(&s, SIGRTMIN + 2);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	t2_tid = tid();
	for (;;)
		pause();
	return NULL;
}

static void make(int k, clockid_t clock, int notify, int sig, uintptr_t value)
{
	struct sigevent ev = { .sigev_notify = notify, .sigev_signo = sig };

	ev.sigev_value.sival_ptr = (void *)value;
	if (notify & SIGEV_THREAD_ID)
		ev._sigev_un._tid = t2_tid;
	if (timer_create(clock, &ev, &tm[k]) < 0)
		fail("setup: timer_create %d: %s", k, strerror(errno));
}

static void arm(int k, int64_t value, int64_t interval)
{
	struct itimerspec its = { { interval / NS, interval % NS }, { value / NS, value % NS } };

	if (timer_settime(tm[k], 0, &its, NULL) < 0)
		fail("setup: timer_settime %d: %s", k, strerror(errno));
}

static void throwaway(void)
{
	timer_t t;

	if (timer_create(CLOCK_MONOTONIC, NULL, &t) < 0 || timer_delete(t) < 0)
		fail("setup: cannot make and delete a timer: %s", strerror(errno));
}

static void setup(bool far)
{
	struct sigaction sa = { .sa_flags = SA_SIGINFO | SA_RESTART };
	sigset_t e;
	pthread_t th;
	int64_t until;

	sigemptyset(&sa.sa_mask);
	sa.sa_sigaction = on_a;
	sigaction(SIGRTMIN + 2, &sa, NULL);
	sa.sa_sigaction = on_b;
	sigaction(SIGRTMIN + 3, &sa, NULL);
	/* E's signal stays pending: blocked in both threads (T2 inherits the mask) */
	sigemptyset(&e);
	sigaddset(&e, SIGRTMIN + 4);
	sigprocmask(SIG_BLOCK, &e, NULL);
	if (pthread_create(&th, NULL, t2_main, NULL) != 0)
		fail("setup: pthread_create");
	while (!t2_tid)
		usleep(1000);

	make(A, CLOCK_MONOTONIC, SIGEV_SIGNAL, SIGRTMIN + 2, 0xa11ce);
	throwaway();
	make(B, CLOCK_MONOTONIC, SIGEV_THREAD_ID, SIGRTMIN + 3, 0xb0b);
	make(C, CLOCK_REALTIME, SIGEV_NONE, 0, 0);
	throwaway();
	throwaway();
	make(D, CLOCK_BOOTTIME, SIGEV_SIGNAL, SIGUSR2, 0xd);
	make(E, CLOCK_MONOTONIC, SIGEV_SIGNAL, SIGRTMIN + 4, 0xe);
	if (far) {
		for (int i = 0; i < F_MIN_ID; i++)
			throwaway();
		make(F, CLOCK_MONOTONIC, SIGEV_NONE, 0, 0);
		n_timers = F + 1;
	}
	arm(A, A_PERIOD, A_PERIOD);
	arm(B, B_PERIOD, B_PERIOD);
	c_armed_at = now_ns();
	arm(C, C_LEFT, 0);
	arm(E, 1 * MS, 0);
	for (;;) {
		sigset_t pend;

		sigpending(&pend);
		if (sigismember(&pend, SIGRTMIN + 4))
			break;
		usleep(1000);
	}
	/* C's time left must visibly come from before the dump */
	until = now_ns() + RAN_BEFORE_READY;
	while (now_ns() < until)
		usleep(5000);
}

/* ---- the check ---- */

struct seen {
	int id, signo, clock;
	char notify[64];
	unsigned long long value;
};

static int read_timers(struct seen *s, int max)
{
	FILE *f = fopen("/proc/self/timers", "r");
	char line[128];
	int n = -1;

	if (!f)
		fail("cannot open /proc/self/timers: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "ID: %d", &s[n + 1].id) == 1 && n + 1 < max)
			n++;
		else if (n >= 0 && sscanf(line, "signal: %d/%llx", &s[n].signo, &s[n].value) == 2)
			;
		else if (n >= 0 && sscanf(line, "notify: %63s", s[n].notify) == 1)
			;
		else if (n >= 0)
			sscanf(line, "ClockID: %d", &s[n].clock);
	}
	fclose(f);
	return n + 1;
}

static const struct seen *find(const struct seen *s, int n, int id)
{
	for (int i = 0; i < n; i++)
		if (s[i].id == id)
			return &s[i];
	return NULL;
}

static void check_proc_timers(void)
{
	struct seen s[16];
	char want[64];
	int n = read_timers(s, 16);
	struct {
		int k, signo, clock;
		unsigned long long value;
		const char *notify;
	} exp[] = {
		{ A, SIGRTMIN + 2, CLOCK_MONOTONIC, 0xa11ce, "signal/pid" },
		{ B, SIGRTMIN + 3, CLOCK_MONOTONIC, 0xb0b, "signal/tid" },
		{ C, 0, CLOCK_REALTIME, 0, "none/pid" },
		{ D, SIGUSR2, CLOCK_BOOTTIME, 0xd, "signal/pid" },
		{ E, SIGRTMIN + 4, CLOCK_MONOTONIC, 0xe, "signal/pid" },
		{ F, 0, CLOCK_MONOTONIC, 0, "none/pid" },
	};

	if (n != n_timers)
		fail("%d timers in /proc/self/timers, expected %d", n, n_timers);
	for (int i = 0; i < n_timers; i++) {
		const struct seen *t = find(s, n, id_of(exp[i].k));

		if (!t)
			fail("timer %c (id %d) is gone", 'A' + exp[i].k, id_of(exp[i].k));
		snprintf(want, sizeof(want), "%s.%d", exp[i].notify, exp[i].k == B ? t2_tid : getpid());
		if (t->signo != exp[i].signo || t->clock != exp[i].clock || t->value != exp[i].value ||
		    strcmp(t->notify, want) != 0)
			fail("timer %c (id %d): signal %d/%llx, clock %d, notify %s; expected %d/%llx, %d, %s",
			     'A' + exp[i].k, t->id, t->signo, t->value, t->clock, t->notify, exp[i].signo, exp[i].value,
			     exp[i].clock, want);
	}
	if (n_timers > F && id_of(F) < F_MIN_ID)
		fail("timer F has id %d, expected one above %d", id_of(F), F_MIN_ID);
}

static void gettime(int k, int64_t *value, int64_t *interval)
{
	struct itimerspec its;

	if (timer_gettime(tm[k], &its) < 0)
		fail("timer_gettime of %c (id %d): %s", 'A' + k, id_of(k), strerror(errno));
	*value = ts_ns(&its.it_value);
	*interval = ts_ns(&its.it_interval);
}

static void check_times(void)
{
	int64_t v, iv, since;

	gettime(A, &v, &iv);
	if (iv != A_PERIOD || v <= 0 || v > A_PERIOD)
		fail("timer A: %lld ns left, every %lld ns; expected (0, %lld] every %lld", (long long)v, (long long)iv,
		     A_PERIOD, A_PERIOD);
	gettime(B, &v, &iv);
	if (iv != B_PERIOD || v <= 0 || v > B_PERIOD)
		fail("timer B: %lld ns left, every %lld ns; expected (0, %lld] every %lld", (long long)v, (long long)iv,
		     B_PERIOD, B_PERIOD);
	gettime(C, &v, &iv);
	/*
	 * C runs on CLOCK_REALTIME, measured here on CLOCK_MONOTONIC: 20 ms for
	 * their difference (an NTP slew of 500 ppm over a long run)
	 */
	since = now_ns() - c_armed_at + 20 * MS;
	if (iv != 0 || v > C_LEFT - RAN_BEFORE_READY || v < C_LEFT - since)
		fail("timer C: %lld ns left (period %lld); expected between %lld and %lld", (long long)v, (long long)iv,
		     (long long)(C_LEFT - since), C_LEFT - RAN_BEFORE_READY);
	gettime(D, &v, &iv);
	if (v || iv)
		fail("timer D was never armed but has %lld ns left, every %lld", (long long)v, (long long)iv);
	gettime(E, &v, &iv);
	if (v || iv)
		fail("timer E fired once but has %lld ns left, every %lld", (long long)v, (long long)iv);
}

static void check_pending(void)
{
	struct timespec zero = { 0, 0 };
	sigset_t e;
	siginfo_t si;

	sigemptyset(&e);
	sigaddset(&e, SIGRTMIN + 4);
	if (sigtimedwait(&e, &si, &zero) != SIGRTMIN + 4)
		fail("timer E's signal is no longer pending");
	if (si.si_code != SI_TIMER || si.si_timerid != id_of(E) || si.si_value.sival_ptr != (void *)0xe)
		fail("timer E's pending signal: code %d, timer %d, value %p; expected %d, %d, 0xe", si.si_code,
		     si.si_timerid, si.si_value.sival_ptr, SI_TIMER, id_of(E));
	if (sigtimedwait(&e, &si, &zero) >= 0)
		fail("timer E's signal was pending twice");
}

/* A and B go on ticking, B in T2 only, each signal saying which timer it is */
static void check_ticks(void)
{
	long a0 = ticks_a, b0 = ticks_b;
	int64_t deadline = now_ns() + 10 * NS;

	while ((ticks_a < a0 + 5 || ticks_b < b0 + 5) && now_ns() < deadline)
		usleep(10000);
	if (ticks_a < a0 + 5)
		fail("timer A stopped ticking: %ld ticks in 10 s", ticks_a - a0);
	if (ticks_b < b0 + 5)
		fail("timer B stopped ticking: %ld ticks in 10 s", ticks_b - b0);
	if (wrong_thread_b)
		fail("%ld of timer B's %ld signals went to another thread than %d", wrong_thread_b, ticks_b, t2_tid);
	if (bad_a || bad_b)
		fail("%ld of A's and %ld of B's signals had a wrong siginfo", bad_a, bad_b);
}

static void spoil(const char *what)
{
	if (!strcmp(what, "ids")) {
		/* D as before, under another id than the one the process holds */
		timer_t held = tm[D];

		timer_delete(held);
		throwaway();
		make(D, CLOCK_BOOTTIME, SIGEV_SIGNAL, SIGUSR2, 0xd);
		tm[D] = held;
	} else if (!strcmp(what, "interval")) {
		arm(A, A_PERIOD, A_PERIOD + MS);
	} else if (!strcmp(what, "left")) {
		arm(C, C_LEFT, 0);
	} else if (!strcmp(what, "thread")) {
		t2_tid = getpid();
	} else if (!strcmp(what, "ticks")) {
		signal(SIGRTMIN + 3, SIG_IGN);
	} else if (!strcmp(what, "pending")) {
		struct timespec zero = { 0, 0 };
		sigset_t e;

		sigemptyset(&e);
		sigaddset(&e, SIGRTMIN + 4);
		sigtimedwait(&e, NULL, &zero);
	} else {
		fail("unknown corruption '%s'", what);
	}
}

static int check(void)
{
	if (corrupt)
		spoil(corrupt);
	check_proc_timers();
	check_times();
	check_pending();
	check_ticks();
	out = fopen(status_path, "w");
	if (!out)
		return 1;
	fputs("OK\n", out);
	fclose(out);
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	const char *mode = "wait";
	bool far = false;
	int c;

	while ((c = getopt(argc, argv, "m:c:G")) != -1) {
		switch (c) {
		case 'm':
			mode = optarg;
			break;
		case 'c':
			corrupt = optarg;
			break;
		case 'G':
			far = true;
			break;
		default:
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: dumpee_ptimer [-m wait|selftest|corrupt] [-c WHAT] [-G] STATUS\n");
		return 2;
	}
	status_path = argv[optind];
	syscall(SYS_close_range, 3U, ~0U, 0U);
	sigaction(SIGUSR1, &sa, NULL);
	setup(far);
	if (strcmp(mode, "wait") != 0)
		return check();
	out = fopen(status_path, "w");
	if (!out)
		return 1;
	fprintf(out, "READY");
	for (int k = 0; k < n_timers; k++)
		fprintf(out, " %d", id_of(k));
	fputc('\n', out);
	fclose(out);
	while (!go)
		pause();
	return check();
}
