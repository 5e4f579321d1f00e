/*
 * inject_normalize_restart(): the registers an image gets for a thread the
 * dump found inside an interrupted syscall, for every restart code, with
 * and without a handler about to run; dump_settle_regs(): a call resumed
 * through restart_syscall() since the previous image, named by it.
 */
#include "dump/internal.h"
#include "memdump/inject.h"
#include "memdump/model.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>

#define IP 0x401002ull	/* just past a `syscall` */

enum outcome { RERUN, EINTR_, KEPT };

struct row {
	long nr;
	long rax;
	enum inject_pending pending;
	enum outcome want;
};

static const struct row rows[] = {
	/* -ERESTARTSYS: again, unless a handler without SA_RESTART runs */
	{ SYS_read, -ERESTARTSYS, INJECT_PENDING_NONE, RERUN },
	{ SYS_read, -ERESTARTSYS, INJECT_PENDING_RESTART, RERUN },
	{ SYS_read, -ERESTARTSYS, INJECT_PENDING_NORESTART, EINTR_ },
	{ SYS_read, -ERESTARTNOINTR, INJECT_PENDING_NORESTART, RERUN },
	/* -ERESTARTNOHAND: again only if no handler runs */
	{ SYS_pause, -ERESTARTNOHAND, INJECT_PENDING_NONE, RERUN },
	{ SYS_pause, -ERESTARTNOHAND, INJECT_PENDING_RESTART, EINTR_ },
	/* -ERESTART_RESTARTBLOCK: the calls whose registers say it all run again */
	{ SYS_poll, -ERESTART_RESTARTBLOCK, INJECT_PENDING_NONE, RERUN },
	{ SYS_nanosleep, -ERESTART_RESTARTBLOCK, INJECT_PENDING_NONE, RERUN },
	{ SYS_clock_nanosleep, -ERESTART_RESTARTBLOCK, INJECT_PENDING_NONE, RERUN },
	{ SYS_futex, -ERESTART_RESTARTBLOCK, INJECT_PENDING_NONE, RERUN },
	{ SYS_poll, -ERESTART_RESTARTBLOCK, INJECT_PENDING_RESTART, EINTR_ },
	{ SYS_nanosleep, -ERESTART_RESTARTBLOCK, INJECT_PENDING_NORESTART, EINTR_ },
	{ SYS_restart_syscall, -ERESTART_RESTARTBLOCK, INJECT_PENDING_NONE, EINTR_ },
	/* -EINTR: epoll, signal and semaphore waits the freeze interrupted run again, if no handler is to see it */
	{ SYS_epoll_wait, -EINTR, INJECT_PENDING_NONE, RERUN },
	{ SYS_epoll_pwait, -EINTR, INJECT_PENDING_NONE, RERUN },
	{ SYS_epoll_pwait2, -EINTR, INJECT_PENDING_NONE, RERUN },
	{ SYS_rt_sigtimedwait, -EINTR, INJECT_PENDING_NONE, RERUN },
	{ SYS_semop, -EINTR, INJECT_PENDING_NONE, RERUN },
	{ SYS_semtimedop, -EINTR, INJECT_PENDING_NONE, RERUN },
	{ SYS_semop, -EINTR, INJECT_PENDING_RESTART, KEPT },
	{ SYS_epoll_wait, -EINTR, INJECT_PENDING_RESTART, KEPT },
	{ SYS_rt_sigtimedwait, -EINTR, INJECT_PENDING_NORESTART, KEPT },
	{ SYS_read, -EINTR, INJECT_PENDING_NONE, KEPT },
	{ SYS_rt_sigtimedwait, SIGUSR2, INJECT_PENDING_NONE, KEPT },
	{ SYS_rt_sigtimedwait, -EAGAIN, INJECT_PENDING_NONE, KEPT },
	/* finished calls and no call at all are left alone */
	{ SYS_epoll_wait, 1, INJECT_PENDING_NONE, KEPT },
	{ SYS_read, -EAGAIN, INJECT_PENDING_NONE, KEPT },
	{ -1, -ERESTARTSYS, INJECT_PENDING_NONE, KEPT },
};

Test(inject_restart, every_code)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *w = &rows[i];
		struct user_regs_struct r = { .orig_rax = (uint64_t)w->nr, .rax = (uint64_t)w->rax, .rip = IP };

		inject_normalize_restart(&r, w->pending);
		switch (w->want) {
		case RERUN:
			cr_expect(r.rax == (uint64_t)w->nr && r.rip == IP - 2,
				  "row %zu (nr %ld, rax %ld): not run again", i, w->nr, w->rax);
			break;
		case EINTR_:
			cr_expect(r.rax == (uint64_t)-EINTR && r.rip == IP, "row %zu (nr %ld, rax %ld): not EINTR", i,
				  w->nr, w->rax);
			break;
		case KEPT:
			cr_expect(r.rax == (uint64_t)w->rax && r.rip == IP, "row %zu (nr %ld, rax %ld): changed", i,
				  w->nr, w->rax);
			break;
		}
		cr_expect_eq(r.orig_rax, (uint64_t)w->nr, "row %zu: orig_rax changed", i);
	}
}

/* a thread in restart_syscall() now; in prev, the poll() it resumes (rip 2 bytes back, as settled) */
static void resumed_poll(struct md_thread *now, struct md_thread *then)
{
	*now = (struct md_thread){ .tid = 77 };
	now->regs = (struct md_regs){ .orig_rax = SYS_restart_syscall, .rax = (uint64_t)-ERESTART_RESTARTBLOCK,
				      .rip = IP, .rdi = 0x7000, .rsi = 1, .rdx = (uint64_t)-1 };
	*then = *now;
	then->regs.orig_rax = SYS_poll;
	then->regs.rax = SYS_poll;
	then->regs.rip = IP - 2;
}

static void settle(struct md_thread *now, struct md_thread *then, bool with_prev)
{
	struct md_proc p = { .threads = now, .n_threads = 1 }, prev = { .threads = then, .n_threads = 1 };

	dump_settle_regs(&p, now, with_prev ? &prev : NULL, false);
}

Test(inject_restart, restart_syscall_named_by_the_previous_image)
{
	struct md_thread now, then;

	resumed_poll(&now, &then);
	settle(&now, &then, true);
	cr_expect(now.regs.orig_rax == SYS_poll && now.regs.rax == SYS_poll && now.regs.rip == IP - 2,
		  "the resumed poll() does not run again: orig_rax %llu rax %#llx",
		  (unsigned long long)now.regs.orig_rax, (unsigned long long)now.regs.rax);
	/* the previous image kept rip where the call returns (it was to give EINTR) */
	resumed_poll(&now, &then);
	then.regs.rip = IP;
	settle(&now, &then, true);
	cr_expect_eq(now.regs.rip, IP - 2);

	/* no previous image, another thread, another argument: EINTR, as before */
	resumed_poll(&now, &then);
	settle(&now, &then, false);
	cr_expect_eq(now.regs.rax, (uint64_t)-EINTR);
	resumed_poll(&now, &then);
	then.tid = 78;
	settle(&now, &then, true);
	cr_expect_eq(now.regs.rax, (uint64_t)-EINTR, "named by another thread");
	resumed_poll(&now, &then);
	then.regs.rsi = 2;
	settle(&now, &then, true);
	cr_expect_eq(now.regs.rax, (uint64_t)-EINTR, "named by a call with other arguments");
	resumed_poll(&now, &then);
	then.regs.rip = IP + 16;
	settle(&now, &then, true);
	cr_expect_eq(now.regs.rax, (uint64_t)-EINTR, "named by a call elsewhere");
	/* a call the previous image found in restart_syscall() too names nothing */
	resumed_poll(&now, &then);
	then.regs.orig_rax = SYS_restart_syscall;
	settle(&now, &then, true);
	cr_expect_eq(now.regs.rax, (uint64_t)-EINTR);
}

/* a process stopped at the freeze: the EINTR its stop gave an epoll wait stays, a restart still reruns */
Test(inject_restart, stopped_process_keeps_its_eintr)
{
	struct md_thread t = { .tid = 77 };
	struct md_proc p = { .threads = &t, .n_threads = 1 };

	t.regs = (struct md_regs){ .orig_rax = SYS_epoll_wait, .rax = (uint64_t)-EINTR, .rip = IP };
	dump_settle_regs(&p, &t, NULL, true);
	cr_expect(t.regs.rax == (uint64_t)-EINTR && t.regs.rip == IP, "stopped: the epoll wait runs again");
	dump_settle_regs(&p, &t, NULL, false);
	cr_expect(t.regs.rax == SYS_epoll_wait && t.regs.rip == IP - 2, "running: the epoll wait gives EINTR");

	t.regs = (struct md_regs){ .orig_rax = SYS_read, .rax = (uint64_t)-ERESTARTSYS, .rip = IP };
	dump_settle_regs(&p, &t, NULL, true);
	cr_expect(t.regs.rax == SYS_read && t.regs.rip == IP - 2, "stopped: read() does not run again");
}
