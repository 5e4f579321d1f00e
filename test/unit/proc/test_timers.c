/* proc_parse_timers() on a saved /proc/PID/timers, on broken text, and on our own timers live. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "memdump/cleanup.h"
#include "memdump/model.h"
#include "memdump/proc.h"

#ifndef SIGEV_THREAD_ID
#define SIGEV_THREAD_ID 4
#endif

/*
 * timers.txt: pid 27579 made ids 0 (MONOTONIC, SIGUSR1, value 0x7ffc1234abcd),
 * 1 (deleted), 2 (REALTIME, SIGEV_NONE), 3 (BOOTTIME, SIGEV_THREAD_ID to
 * itself, SIGRTMIN+1 = 35, value -5 as an int), 4 (glibc's
 * CLOCK_PROCESS_CPUTIME_ID, -6) and 5 (CLOCK_THREAD_CPUTIME_ID, -2), the
 * last two without a sigevent (SIGALRM). The kernel lists the newest first.
 */
Test(proc_timers, parses_the_fixture)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_free_ struct md_posix_timer *t = NULL;
	char path[512];
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/timers.txt", FIXTURES_DIR);
	cr_assert_eq(proc_read_file(path, &buf, NULL), 0);
	cr_assert_eq(proc_parse_timers(buf, &t, &n), 0);
	cr_assert_eq(n, 5);
	/* sorted by id */
	cr_expect_eq(t[0].id, 0);
	cr_expect_eq(t[0].clockid, CLOCK_MONOTONIC);
	cr_expect_eq(t[0].signo, SIGUSR1);
	cr_expect_eq(t[0].sigval, 0x7ffc1234abcdULL);
	cr_expect_eq(t[0].notify, SIGEV_SIGNAL);
	cr_expect_eq(t[0].notify_tid, 0);

	cr_expect_eq(t[1].id, 2);
	cr_expect_eq(t[1].notify, SIGEV_NONE);
	cr_expect_eq(t[1].clockid, CLOCK_REALTIME);

	cr_expect_eq(t[2].id, 3);
	cr_expect_eq(t[2].notify, SIGEV_SIGNAL | SIGEV_THREAD_ID);
	cr_expect_eq(t[2].notify_tid, 27579);
	cr_expect_eq(t[2].signo, 35);
	cr_expect_eq(t[2].sigval, 0xfffffffbULL);
	cr_expect_eq(t[2].clockid, CLOCK_BOOTTIME);

	cr_expect_eq(t[3].id, 4);
	cr_expect_eq(t[3].clockid, -6);
	cr_expect_eq(t[3].signo, SIGALRM);
	cr_expect_eq(t[4].id, 5);
	cr_expect_eq(t[4].clockid, -2);
	for (size_t i = 0; i < n; i++)
		cr_expect_eq(t[i].value_ns + t[i].interval_ns, 0, "times are not in /proc");
}

Test(proc_timers, empty_is_none)
{
	struct md_posix_timer *t = (void *)1;
	size_t n = 7;

	cr_assert_eq(proc_parse_timers("", &t, &n), 0);
	cr_expect_eq(n, 0);
	cr_expect_null(t);
}

Test(proc_timers, rejects_broken_text)
{
	static const char *const bad[] = {
		"ID: 1\n",						/* truncated */
		"ID: x\nsignal: 14/0\nnotify: signal/pid.1\nClockID: 0\n",
		"ID: -1\nsignal: 14/0\nnotify: signal/pid.1\nClockID: 0\n",
		"ID: 1\nsignal: 14\nnotify: signal/pid.1\nClockID: 0\n",	/* no value */
		"ID: 1\nsignal: 14/zz\nnotify: signal/pid.1\nClockID: 0\n",
		"ID: 1\nsignal: 14/0\nnotify: bogus/pid.1\nClockID: 0\n",
		"ID: 1\nsignal: 14/0\nnotify: signal/xid.1\nClockID: 0\n",
		"ID: 1\nsignal: 14/0\nnotify: signal/pid\nClockID: 0\n",
		"ID: 1\nsignal: 14/0\nnotify: signal/pid.1\nClock: 0\n",
		"ID: 1\nsignal: 14/0\nnotify: signal/pid.1\nClockID: 0\n"
		"ID: 1\nsignal: 14/0\nnotify: signal/pid.1\nClockID: 0\n",	/* one id twice */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct md_posix_timer *t = NULL;
		size_t n = 0;

		cr_expect_eq(proc_parse_timers(bad[i], &t, &n), -EINVAL, "accepted: %s", bad[i]);
		free(t);
	}
}

Test(proc_timers, reads_our_own)
{
	_cleanup_free_ struct md_posix_timer *t = NULL;
	struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR2 };
	timer_t a, b;
	size_t n = 0;

	ev.sigev_value.sival_ptr = (void *)0xabcdef;
	cr_assert_eq(timer_create(CLOCK_MONOTONIC, &ev, &a), 0);
	ev.sigev_notify = SIGEV_NONE;
	cr_assert_eq(timer_create(CLOCK_BOOTTIME, &ev, &b), 0);
	cr_assert_eq(proc_read_timers(getpid(), &t, &n), 0);
	cr_assert_eq(n, 2);
	cr_expect_eq(t[0].id, (int)(intptr_t)a);
	cr_expect_eq(t[0].sigval, 0xabcdef);
	cr_expect_eq(t[0].signo, SIGUSR2);
	cr_expect_eq(t[1].id, (int)(intptr_t)b);
	cr_expect_eq(t[1].notify, SIGEV_NONE);
	cr_expect_eq(t[1].clockid, CLOCK_BOOTTIME);
	timer_delete(a);
	timer_delete(b);
}
