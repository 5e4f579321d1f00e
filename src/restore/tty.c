/*
 * --shell-job on restore: the job gets the terminal of the memdump that
 * restores it, as it had its shell's. The root is forked by memdump, so it
 * is in memdump's session and has memdump's controlling terminal already;
 * here the root's process group becomes memdump's too (the foreground one
 * when memdump runs in the foreground: what is typed reaches the job, and
 * Ctrl-C too), and every fd that was on the old terminal is opened again
 * on memdump's. The terminal's settings (termios, window size) are left as
 * the user has them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memdump/log.h"
#include "memdump/proc.h"
#include "restore/internal.h"

/* stdin is a character device and our controlling terminal (stat field 7's encoding) */
static bool stdin_is_ctty(void)
{
	struct proc_stat st;
	struct stat sb;

	if (proc_read_stat(getpid(), 0, &st) < 0 || !st.tty_nr || fstat(0, &sb) < 0 || !S_ISCHR(sb.st_mode))
		return false;
	return sb.st_rdev == proc_tty_dev(st.tty_nr);
}

int restore_tty_prepare(struct restore_ctx *rc, const char *dir)
{
	pid_t who = 0;

	for (size_t k = 0; k < rc->n && !who; k++) {
		const struct md_proc *p = &rc->procs[k].p;

		if (p->tty_nr)
			who = p->pid;
		for (size_t i = 0; i < p->n_fds && !who; i++)
			if (p->fds[i].ctty)
				who = p->pid;
	}
	if (who && !rc->shell_job)
		return log_refuse("image '%s': process %d had the terminal of a shell (dumped with --shell-job): "
				  "restore it with --shell-job, from the terminal it should have", dir, who);
	if (!rc->shell_job)
		return 0;
	if (!stdin_is_ctty())
		return log_err(-ENOTTY, "--shell-job: memdump's standard input is not its controlling terminal; run "
					"the restore from the terminal the job should have");
	rc->tty_fd = fcntl(0, F_DUPFD_CLOEXEC, 3);
	if (rc->tty_fd < 0)
		return log_err(-errno, "cannot hold our terminal");
	return 0;
}

int restore_tty_open(const struct restore_ctx *rc, const struct md_fd *f)
{
	char path[64];
	int fd;

	if (rc->tty_fd < 0)
		return -ENOTTY;
	/* a new open file description of our terminal, with the fd's own flags */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", rc->tty_fd);
	fd = open(path, restore_open_flags(f, true));
	return fd < 0 ? -errno : fd;
}
