/*
 * inject_normalize_restart(): the registers an image gets for a thread the
 * dump found inside an interrupted syscall, for every restart code, with
 * and without a handler about to run.
 */
#include "memdump/inject.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <sys/syscall.h>

/* the kernel's, not in uapi headers */
#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

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
	/* -EINTR: epoll waits the freeze interrupted run again, if no handler is to see it */
	{ SYS_epoll_wait, -EINTR, INJECT_PENDING_NONE, RERUN },
	{ SYS_epoll_pwait, -EINTR, INJECT_PENDING_NONE, RERUN },
	{ SYS_epoll_pwait2, -EINTR, INJECT_PENDING_NONE, RERUN },
	{ SYS_epoll_wait, -EINTR, INJECT_PENDING_RESTART, KEPT },
	{ SYS_read, -EINTR, INJECT_PENDING_NONE, KEPT },
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
