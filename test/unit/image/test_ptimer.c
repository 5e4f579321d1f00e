/* POSIX timers in core-PID.img: written and read back field by field, and bad ones refused. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "memdump/image.h"
#include "memdump/model.h"
#include "dirsuite.h"

#ifndef SIGEV_THREAD_ID
#define SIGEV_THREAD_ID 4
#endif

TestSuite(image_ptimer, .init = synth_dir_setup, .fini = synth_dir_teardown);

/* synth_proc() has threads SYNTH_PID and SYNTH_PID + 1 */
static const struct md_posix_timer timers[] = {
	{ .id = 0, .clockid = CLOCK_MONOTONIC, .notify = SIGEV_SIGNAL, .signo = SIGUSR1, .sigval = 0x7ffc1234abcdULL,
	  .value_ns = 123456789, .interval_ns = 20000000, .overrun = 2 },
	{ .id = 3, .clockid = CLOCK_BOOTTIME, .notify = SIGEV_SIGNAL | SIGEV_THREAD_ID, .signo = 35,
	  .notify_tid = SYNTH_PID + 1, .sigval = 0xfffffffbULL, .value_ns = 5, .interval_ns = 1000000000ULL },
	{ .id = 7, .clockid = CLOCK_REALTIME, .notify = SIGEV_NONE, .value_ns = 3600ULL * 1000000000ULL },
	{ .id = 9, .clockid = -6 /* CLOCK_PROCESS_CPUTIME_ID as glibc gives it */, .notify = SIGEV_SIGNAL,
	  .signo = SIGALRM },
};
#define N_TIMERS (sizeof(timers) / sizeof(timers[0]))

static void with_timers(struct md_proc *p)
{
	synth_proc(p, SYNTH_PID, 5);
	p->posix_timers = calloc(N_TIMERS, sizeof(*p->posix_timers));
	cr_assert_not_null(p->posix_timers);
	memcpy(p->posix_timers, timers, sizeof(timers));
	p->n_posix_timers = N_TIMERS;
}

Test(image_ptimer, roundtrip)
{
	struct md_proc in, out;

	with_timers(&in);
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	assert_proc_eq(&in, &out);
	cr_assert_eq(out.n_posix_timers, N_TIMERS);
	for (size_t i = 0; i < N_TIMERS; i++) {
		const struct md_posix_timer *a = &timers[i], *b = &out.posix_timers[i];

		cr_expect_eq(a->id, b->id, "timer %zu", i);
		cr_expect_eq(a->clockid, b->clockid, "timer %zu", i);
		cr_expect_eq(a->notify, b->notify, "timer %zu", i);
		cr_expect_eq(a->signo, b->signo, "timer %zu", i);
		cr_expect_eq(a->notify_tid, b->notify_tid, "timer %zu", i);
		cr_expect_eq(a->sigval, b->sigval, "timer %zu", i);
		cr_expect_eq(a->value_ns, b->value_ns, "timer %zu", i);
		cr_expect_eq(a->interval_ns, b->interval_ns, "timer %zu", i);
		cr_expect_eq(a->overrun, b->overrun, "timer %zu", i);
	}
	md_proc_release(&in);
	md_proc_release(&out);
}

/* one thing wrong with timer k: the image is refused */
static void expect_refused(size_t k, void (*spoil)(struct md_posix_timer *))
{
	struct md_proc in, out;

	with_timers(&in);
	spoil(&in.posix_timers[k]);
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_expect_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL, "timer %zu accepted", k);
	md_proc_release(&in);
}

static void foreign_thread(struct md_posix_timer *t) { t->notify_tid = 1; }
static void same_id(struct md_posix_timer *t) { t->id = 0; }
static void no_signal(struct md_posix_timer *t) { t->signo = 0; }
static void big_signal(struct md_posix_timer *t) { t->signo = 65; }
static void bad_notify(struct md_posix_timer *t) { t->notify = SIGEV_NONE | SIGEV_THREAD_ID; }
static void fd_clock(struct md_posix_timer *t) { t->clockid = -5; /* CLOCKFD */ }
static void raw_clock(struct md_posix_timer *t) { t->clockid = 4; /* MONOTONIC_RAW: no timers */ }
static void forever(struct md_posix_timer *t) { t->value_ns = UINT64_MAX; }
static void negative_id(struct md_posix_timer *t) { t->id = -1; }

Test(image_ptimer, refuses_bad_timers)
{
	expect_refused(1, foreign_thread);
	expect_refused(1, same_id);
	expect_refused(0, negative_id);
	expect_refused(0, no_signal);
	expect_refused(1, big_signal);
	expect_refused(2, bad_notify);
	expect_refused(3, fd_clock);
	expect_refused(0, raw_clock);
	expect_refused(2, forever);
}

Test(image_ptimer, none_needs_no_signal)
{
	struct md_proc in, out;

	with_timers(&in);
	in.posix_timers[2].signo = 0;
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	cr_expect_eq(out.posix_timers[2].signo, 0);
	md_proc_release(&in);
	md_proc_release(&out);
}
