/*
 * Controlling terminals of the tree. A job started from an interactive
 * shell has the shell's terminal, of a session led outside the tree, and
 * its fds 0, 1 and 2 on it: with --shell-job that is accepted, and the fds
 * on that terminal are marked so that the restore puts its own terminal
 * there. Without --shell-job such a process is refused (its terminal
 * cannot come back by path: the shell and its pty may be gone); its
 * termios and state are left alone. A session led inside the tree may
 * have a pty of the tree (pty.c) as its terminal: the pty records it
 * (md_pty.sid) with its foreground group; any other terminal is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "memdump/cleanup.h"
#include "memdump/dump.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "memdump/proc.h"

/* for messages: "/dev/pts/N" for the usual pty majors, else "tty MAJ:MIN" */
static const char *tty_name(uint32_t t, char *buf, size_t len)
{
	dev_t d = proc_tty_dev(t);

	if (dump_pty_slave(d))
		snprintf(buf, len, "/dev/pts/%u", dump_pty_index(d));
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
		/* /dev/tty: the terminal it was opened on */
		if (st.st_rdev == makedev(5, 0) && !(f->flags & O_PATH)) {
			int r = dump_tty_real_dev(p->pid, f->fd, &st.st_rdev);

			if (r < 0)
				return r;
		}
		f->ctty = st.st_rdev == proc_tty_dev(t);
	}
	return 0;
}

/* the pty of ptys[0..n) with index idx, or NULL */
static struct md_pty *find_pty(struct md_pty *ptys, size_t n, uint32_t idx)
{
	for (size_t i = 0; i < n; i++)
		if (ptys[i].index == idx)
			return &ptys[i];
	return NULL;
}

/* t's slave as a tty_nr's device: which pty, if any, the controlling terminal tty_nr is */
static struct md_pty *pty_of_tty(struct md_pty *ptys, size_t n, uint32_t tty_nr)
{
	dev_t d = proc_tty_dev(tty_nr);

	if (!dump_pty_slave(d))
		return NULL;
	return find_pty(ptys, n, dump_pty_index(d));
}

/*
 * A session led inside the tree: its controlling terminal, if any, must be
 * a pty of the tree, and every member must have the leader's (members get
 * it by fork from a leader that has it; one it was taken from is refused).
 */
static int check_session(const struct md_proc *procs, size_t n, const uint32_t *tty, size_t i, struct md_pty *ptys,
			 size_t n_ptys)
{
	const struct md_proc *p = &procs[i];
	size_t l = (size_t)(md_find_proc(procs, n, p->sid) - procs);
	const struct md_pty *t;
	char name[32], lead[32];

	if (tty[i] != tty[l])
		return log_refuse("process %d has %s as its controlling terminal, the leader %d of its session has %s: "
				  "not supported", p->pid, tty[i] ? tty_name(tty[i], name, sizeof(name)) : "none",
				  procs[l].pid, tty[l] ? tty_name(tty[l], lead, sizeof(lead)) : "none");
	if (!tty[i])
		return 0;
	t = pty_of_tty(ptys, n_ptys, tty[i]);
	if (!t)
		return log_refuse("process %d has the controlling terminal %s of session %d, led inside the tree, and "
				  "no process of the tree holds its master (/dev/ptmx): not supported", p->pid,
				  tty_name(tty[i], name, sizeof(name)), (int)p->sid);
	if (t->sid != p->sid)
		return log_err(-EINVAL, "/dev/pts/%u is the terminal of session %d, not of %d", t->index, (int)t->sid,
			       (int)p->sid);
	return 0;
}

/* ptys of an outer session lose it; a foreground group with no process left becomes the leader's */
static int pty_sessions(const struct md_proc *procs, size_t n, uint32_t job_tty, struct md_pty *ptys, size_t n_ptys)
{
	for (size_t k = 0; k < n_ptys; k++) {
		struct md_pty *t = &ptys[k];
		bool found = false;

		if (job_tty && pty_of_tty(ptys, n_ptys, job_tty) == t)
			return log_refuse("the shell job's terminal /dev/pts/%u is a pty whose master the tree holds: "
					  "not supported", t->index);
		if (t->sid && !md_find_proc(procs, n, t->sid)) {
			/* the tree ends with the dump, and with it the master: that session loses it anyway */
			log_debug("/dev/pts/%u: the terminal of session %d, outside the tree, not kept as such",
				  t->index, (int)t->sid);
			t->sid = 0;
		}
		if (!t->sid || t->fg_pgrp == t->sid) {
			t->fg_pgrp = 0;
			continue;
		}
		for (size_t i = 0; i < n && !found; i++)
			found = procs[i].sid == t->sid && procs[i].pgid == t->fg_pgrp;
		if (!found) {
			log_warn("/dev/pts/%u: its foreground process group %d has no process left; the group of its "
				 "session leader %d takes its place", t->index, (int)t->fg_pgrp, (int)t->sid);
			t->fg_pgrp = 0;
		}
	}
	return 0;
}

int dump_ttys(struct md_proc *procs, size_t n, bool shell_job, struct md_pty **ret, size_t *ret_n)
{
	_cleanup_free_ uint32_t *tty = calloc(n ? n : 1, sizeof(*tty));
	struct md_pty *ptys = NULL;
	size_t n_ptys = 0;
	uint32_t job_tty = 0;
	char name[32];
	int refused = 0, r;

	*ret = NULL;
	*ret_n = 0;
	if (!tty)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct md_proc *p = &procs[i];
		struct proc_stat st;

		r = proc_read_stat(p->pid, 0, &st);
		if (r < 0)
			return log_err(r, "cannot read /proc/%d/stat", p->pid);
		tty[i] = st.tty_nr;
		if (!st.tty_nr || md_find_proc(procs, n, st.session))
			continue;
		tty_name(st.tty_nr, name, sizeof(name));
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
	if (job_tty) {
		for (size_t i = 0; i < n; i++) {
			r = mark_fds(&procs[i], job_tty);
			if (r < 0)
				return r;
		}
		log_debug("shell job on %s", tty_name(job_tty, name, sizeof(name)));
	}
	/* the fds on the job's terminal are no pty of the tree's */
	r = dump_ptys(procs, n, &ptys, &n_ptys);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (md_find_proc(procs, n, procs[i].sid)) {
			r = check_session(procs, n, tty, i, ptys, n_ptys);
			if (r < 0 && r != -ENOTSUP) {
				free(ptys);
				return r;
			}
			refused = refused < 0 ? refused : r;
		}
	if (!refused)
		refused = pty_sessions(procs, n, job_tty, ptys, n_ptys);
	if (refused < 0) {
		free(ptys);
		return refused;
	}
	*ret = ptys;
	*ret_n = n_ptys;
	return 0;
}
