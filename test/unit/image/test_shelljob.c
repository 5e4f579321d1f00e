/* --shell-job in the image: the controlling terminal and the fds on it, and fds that cannot be. */
#include <criterion/criterion.h>
#include <errno.h>
#include <unistd.h>

#include "memdump/image.h"
#include "memdump/model.h"
#include "dirsuite.h"

TestSuite(image_shelljob, .init = synth_dir_setup, .fini = synth_dir_teardown);

/* --shell-job: the terminal and the fds on it */
Test(image_shelljob, shell_job_terminal)
{
	struct md_proc in, out;

	synth_proc(&in, SYNTH_PID, 5);
	in.tty_nr = 136 << 8 | 3;
	for (size_t i = 0; i < in.n_fds; i++)
		if (in.fds[i].kind == MD_FD_CHR)
			in.fds[i].ctty = true;
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	cr_expect_eq(out.tty_nr, 136 << 8 | 3);
	for (size_t i = 0; i < in.n_fds; i++)
		cr_expect_eq(out.fds[i].ctty, in.fds[i].kind == MD_FD_CHR, "fd %d", in.fds[i].fd);
	md_proc_release(&out);

	/* only a character device can be on the terminal */
	for (size_t i = 0; i < in.n_fds; i++)
		in.fds[i].ctty = in.fds[i].kind != MD_FD_CHR;
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_expect_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL);
	md_proc_release(&in);
}
