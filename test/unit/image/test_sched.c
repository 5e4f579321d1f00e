/*
 * Scheduling of threads and process-wide settings in core-PID.img:
 * written and read back, the header flag older readers refuse (only when
 * something differs from a new thread's or process's), values the kernel
 * would not have given refused.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>

#include "memdump/image.h"
#include "memdump/model.h"
#include "dirsuite.h"

TestSuite(image_sched, .init = synth_dir_setup, .fini = synth_dir_teardown);

/* a process as a dump of one that changed nothing finds it */
static void plain(struct md_proc *p)
{
	synth_proc(p, SYNTH_PID, 7);
	for (size_t i = 0; i < p->n_threads; i++) {
		p->threads[i].has_sched = true;
		p->threads[i].sched.timer_slack_ns = MD_TIMER_SLACK_DEFAULT;
	}
	p->has_attrs = true;
	p->has_loginuid = true;
	p->loginuid = 4294967295u;
}

static void roundtrip(struct md_proc *in, uint8_t flags)
{
	struct md_proc out;

	cr_assert_eq(image_write_proc(dirfd, in), 0);
	cr_expect_eq(synth_core_flags(), flags, "header flags %#x, expected %#x", synth_core_flags(), flags);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	assert_proc_eq(in, &out);
	md_proc_release(&out);
}

Test(image_sched, plain_needs_no_flag)
{
	struct md_proc in;

	plain(&in);
	cr_assert_geq(in.n_threads, 1);
	roundtrip(&in, 0);
	md_proc_release(&in);
}

Test(image_sched, every_field)
{
	struct md_proc in;
	struct md_sched *s;

	plain(&in);
	s = &in.threads[0].sched;
	s->policy = MD_SCHED_DEADLINE;
	s->flags = 7;
	s->nice = -20;
	s->dl_runtime = 1024;
	s->dl_deadline = 5000000;
	s->dl_period = 9000000;
	s->ioprio = (1 << 13) | 7;
	s->timer_slack_ns = 0;
	s->pinned = true;
	s->cpus[0] = 1ULL << 63;
	s->cpus[MD_CPU_WORDS - 1] = 1ULL << 63;	/* CPU 1023: the mask's last byte */
	in.attrs = (struct md_attrs){ -1000, true, 3, 3, MD_MEMBARRIER_REGISTERED };
	in.loginuid = 1000;
	roundtrip(&in, MD_CORE_F_ATTRS);

	*s = (struct md_sched){ .policy = SCHED_FIFO, .flags = 1, .nice = 19, .priority = 99, .timer_slack_ns = 1 };
	in.attrs = (struct md_attrs){ 1000, false, 1, 1, 0 };
	roundtrip(&in, MD_CORE_F_ATTRS);
	md_proc_release(&in);
}

/* each of these alone sets the flag */
Test(image_sched, each_setting_sets_the_flag)
{
	for (int k = 0; k < 9; k++) {
		struct md_proc in;
		struct md_sched *s;

		plain(&in);
		s = &in.threads[in.n_threads - 1].sched;
		switch (k) {
		case 0: s->nice = 1; break;
		case 1: s->ioprio = 3 << 13; break;
		case 2: s->timer_slack_ns = 1; break;
		case 3: s->pinned = true, s->cpus[0] = 1; break;
		case 4: s->policy = SCHED_BATCH; break;
		case 5: in.attrs.oom_score_adj = -1; break;
		case 6: in.attrs.child_subreaper = true; break;
		case 7: in.attrs.mdwe = 1; break;
		case 8: in.attrs.membarrier = 0x10; break;
		}
		roundtrip(&in, MD_CORE_F_ATTRS);
		flip_bits(synth_core_name(), 36, MD_CORE_F_ATTRS);
		struct md_proc out;

		cr_expect_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL, "setting %d read without the flag", k);
		md_proc_release(&in);
	}
}

Test(image_sched, older_images_have_none)
{
	struct md_proc in, out;

	synth_proc(&in, SYNTH_PID, 7);
	roundtrip(&in, 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	cr_expect_not(out.threads[0].has_sched);
	cr_expect_not(out.has_attrs);
	cr_expect_not(out.has_loginuid);
	md_proc_release(&out);
	md_proc_release(&in);
}

Test(image_sched, what_the_kernel_never_gives_is_refused)
{
	for (int k = 0; k < 17; k++) {
		struct md_proc in, out;
		struct md_sched *s;

		plain(&in);
		s = &in.threads[0].sched;
		s->policy = SCHED_FIFO;
		s->priority = 1;
		switch (k) {
		case 0: s->policy = 4; s->priority = 0; break;
		case 1: s->policy = 8; s->priority = 0; break;
		case 2: s->priority = 0; break;
		case 3: s->priority = 100; break;
		case 4: s->policy = SCHED_OTHER; break;		/* a priority for a fair policy */
		case 5: s->nice = 20; break;
		case 6: s->nice = -21; break;
		case 7: s->flags = 2; break;			/* reclaim: deadline only */
		case 8: s->flags = 8; break;
		case 9:
			*s = (struct md_sched){ .policy = MD_SCHED_DEADLINE, .dl_runtime = 1024, .dl_deadline = 2000,
						.dl_period = 1500 };
			break;
		case 10:
			*s = (struct md_sched){ .policy = MD_SCHED_DEADLINE, .dl_runtime = 2000, .dl_deadline = 1000 };
			break;
		case 11:
			*s = (struct md_sched){ .policy = MD_SCHED_DEADLINE, .dl_runtime = 100, .dl_deadline = 1000 };
			break;
		case 12: s->ioprio = 4 << 13; break;
		case 13: s->pinned = true; break;		/* pinned to no CPU */
		case 14: in.attrs.oom_score_adj = 1001; break;
		case 15: in.attrs.mdwe = 2; break;		/* no-inherit without the refusal */
		case 16: s->ioprio = 5; break;			/* class NONE takes no level */
		}
		cr_assert_eq(image_write_proc(dirfd, &in), 0);
		cr_expect_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL, "case %d was read", k);
		md_proc_release(&in);
	}
}

Test(image_sched, settings_refused)
{
	static const struct md_attrs bad[] = {
		{ 0, false, 2, 0, 0 },		/* except-advised without disabling */
		{ 0, false, 5, 0, 0 },
		{ 0, false, 0, 4, 0 },
		{ 0, false, 0, 0, 1 },		/* MEMBARRIER_CMD_GLOBAL is no registration */
		{ 0, false, 0, 0, 0x200 },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct md_proc in, out;

		plain(&in);
		in.attrs = bad[i];
		cr_assert_eq(image_write_proc(dirfd, &in), 0);
		cr_expect_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL, "settings %zu were read", i);
		md_proc_release(&in);
	}
}
