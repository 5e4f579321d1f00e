/*
 * A stopped process in core-PID.img: the signal that stopped it written
 * and read back, the header flag older readers refuse (only when it was
 * stopped), and signals that stop nothing refused.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>

#include "memdump/image.h"
#include "memdump/model.h"
#include "dirsuite.h"

TestSuite(image_stopped, .init = synth_dir_setup, .fini = synth_dir_teardown);

Test(image_stopped, roundtrip)
{
	static const int sigs[] = { 0, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU };

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct md_proc in, out;

		synth_proc(&in, SYNTH_PID, 7 + i);
		in.stop_sig = sigs[i];
		cr_assert_eq(image_write_proc(dirfd, &in), 0);
		cr_expect_eq(synth_core_flags(), sigs[i] ? MD_CORE_F_STOPPED : 0, "signal %d: header flags %#x", sigs[i],
			     synth_core_flags());
		cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
		assert_proc_eq(&in, &out);
		cr_expect_eq(out.stop_sig, sigs[i]);
		md_proc_release(&out);
		md_proc_release(&in);
	}
}

Test(image_stopped, the_flag_guards_older_readers)
{
	struct md_proc in, out;

	synth_proc(&in, SYNTH_PID, 7);
	in.stop_sig = SIGTSTP;
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	flip_bits(synth_core_name(), 36, MD_CORE_F_STOPPED);
	cr_expect_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL, "a stop signal without the flag was read");
	flip_bits(synth_core_name(), 36, MD_CORE_F_STOPPED);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	cr_expect_eq(out.stop_sig, SIGTSTP);
	md_proc_release(&out);
	md_proc_release(&in);
}

Test(image_stopped, signals_that_stop_nothing_refused)
{
	static const int bad[] = { SIGKILL, SIGCONT, SIGTRAP, -1, 65 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct md_proc in, out;

		synth_proc(&in, SYNTH_PID, 7);
		in.stop_sig = bad[i];
		cr_assert_eq(image_write_proc(dirfd, &in), 0);
		cr_expect_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL, "stopped by signal %d was read", bad[i]);
		md_proc_release(&in);
	}
}
