/*
 * Controlling terminals of the tree. A job started from an interactive
 * shell has the shell's terminal, of a session led outside the tree, and
 * its fds 0, 1 and 2 on it: with --shell-job that is accepted, and the fds
 * on that terminal are marked so that the restore puts its own terminal
 * there. Without --shell-job such a process is refused (its terminal
 * cannot come back by path: the shell and its pty may be gone). A terminal
 * of a session led inside the tree would need the tty itself restored:
 * refused too. Termios and the terminal's own state are left alone.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "memdump/dump.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "memdump/proc.h"

/* for messages: "/dev/pts/N" for the usual pty majors, else "tty MAJ:MIN" */
static const char *tty_name(uint32_t t, char *buf, size_t len)
{
	dev_t d = proc_tty_dev(t);

	if (major(d) >= 136 && major(d) <= 143)
		snprintf(buf, len, "/dev/pts/%u", (major(d) - 136) * 256 + minor(d));
	else
		snprintf(buf, len, "tty %u:%u", major(d), minor(d));
	return buf;
}

/* mark p's character-device fds on terminal t */
static int mark_fds(struct md_proc *p, uint32_t t)
{
	for (size_t i = 0; i < p->n_fds; i++) {
		struct md_fd *f = &p->fds[i];
		char path[64];
		struct stat st;

		if (f->kind != MD_FD_CHR)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", p->pid, f->fd);
		if (stat(path, &st) < 0)
			return log_err(-errno, "cannot stat fd %d of %d", f->fd, p->pid);
		f->ctty = st.st_rdev == proc_tty_dev(t);
	}
	return 0;
}

int dump_ttys(struct md_proc *procs, size_t n, bool shell_job)
{
	uint32_t job_tty = 0;
	char name[32];
	int r;

	for (size_t i = 0; i < n; i++) {
		struct md_proc *p = &procs[i];
		struct proc_stat st;

		r = proc_read_stat(p->pid, 0, &st);
		if (r < 0)
			return log_err(r, "cannot read /proc/%d/stat", p->pid);
		if (!st.tty_nr)
			continue;
		tty_name(st.tty_nr, name, sizeof(name));
		if (md_find_proc(procs, n, st.session))
			return log_refuse("process %d has the controlling terminal %s of session %d, led inside "
					  "the tree: not supported yet", p->pid, name, (int)st.session);
		if (!shell_job)
			return log_refuse("process %d has the controlling terminal %s of session %d outside the "
					  "tree, as a job started from a shell has: dump it with --shell-job (and "
					  "restore it with --shell-job, from a terminal)", p->pid, name, (int)st.session);
		/* one outer session (restore_plan_tree() insists), hence one terminal */
		if (job_tty && st.tty_nr != job_tty)
			return log_refuse("processes of the tree have two controlling terminals: not supported");
		job_tty = st.tty_nr;
		p->tty_nr = st.tty_nr;
	}
	if (!job_tty)
		return 0;
	for (size_t i = 0; i < n; i++) {
		r = mark_fds(&procs[i], job_tty);
		if (r < 0)
			return r;
	}
	log_debug("shell job on %s", tty_name(job_tty, name, sizeof(name)));
	return 0;
}
