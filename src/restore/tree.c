/*
 * Which process forks which, and what each must do to end up in its
 * session and process group. Pure: unit-tested with made-up trees.
 *
 * A process gets its session and group from its parent at fork. setsid()
 * makes a new session (and group) led by the caller; setpgid() moves a
 * process into a group of its own session, or makes a new one led by
 * itself. So a session is rebuilt by its leader calling setsid() before
 * forking its members, while a child that stayed in the parent's old
 * session (forked before the parent's setsid()) is forked first. Groups
 * are set once every process exists, leaders first, and before any
 * zombie dies: a zombie still counts as a member and may lead.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "memdump/cleanup.h"
#include "memdump/model.h"
#include "restore/internal.h"

#define SID_OUTER (-1)	/* the root's outer session: memdump's */

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -ENOTSUP;
}

static int index_of(const struct tree_node *nodes, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (nodes[i].pid == pid)
			return (int)i;
	return -1;
}

/* a session as an index of its leader, or SID_OUTER */
static int session_of(const struct tree_node *nodes, size_t n, pid_t sid)
{
	int i = index_of(nodes, n, sid);

	return i < 0 ? SID_OUTER : i;
}

int restore_plan_tree(const struct tree_node *nodes, size_t n, struct tree_plan *ret, char *err, size_t errlen)
{
	int initial[n ? n : 1], final[n ? n : 1];
	pid_t outer_sid = 0, outer_pgid = 0;

	if (!n)
		return fail(err, errlen, "no process");
	for (size_t i = 0; i < n; i++) {
		const struct tree_node *t = &nodes[i];
		struct tree_plan *p = &ret[i];
		int s = session_of(nodes, n, t->sid);

		*p = (struct tree_plan){ .parent = -1, .group = TREE_GROUP_OWN };
		if (index_of(nodes, n, t->pid) != (int)i)
			return fail(err, errlen, "process %d appears twice", t->pid);
		if (s == SID_OUTER) {
			if (outer_sid && outer_sid != t->sid)
				return fail(err, errlen, "processes %d and %d are in sessions %d and %d, neither led from "
							 "inside the tree", nodes[0].pid, t->pid, outer_sid, t->sid);
			outer_sid = t->sid;
		}

		if (i == 0) {
			/* the root starts in memdump's session */
			initial[i] = SID_OUTER;
			p->setsid = t->sid == t->pid;
			if (!p->setsid && s != SID_OUTER)
				return fail(err, errlen, "the root %d is in session %d, led by its descendant", t->pid,
					    t->sid);
		} else {
			int q = index_of(nodes, n, t->ppid);

			if (q < 0 || q >= (int)i)
				return fail(err, errlen, "process %d: its parent %d is not before it in the image",
					    t->pid, t->ppid);
			p->parent = q;
			if (t->sid == t->pid) {
				p->setsid = true;
				initial[i] = final[q];
			} else if (s == final[q]) {
				initial[i] = final[q];
			} else if (ret[q].setsid && s == initial[q]) {
				p->early = true;
				initial[i] = initial[q];
			} else {
				return fail(err, errlen, "process %d is in session %d, which it cannot have from its "
							 "parent %d; not supported yet", t->pid, t->sid, t->ppid);
			}
		}
		final[i] = p->setsid ? (int)i : initial[i];
		if (final[i] != s)
			return fail(err, errlen, "process %d cannot be put in session %d", t->pid, t->sid);
	}

	for (size_t i = 0; i < n; i++) {
		const struct tree_node *t = &nodes[i];
		int g = index_of(nodes, n, t->pgid);

		if (t->pgid == t->pid) {
			ret[i].group = TREE_GROUP_OWN;
		} else if (ret[i].setsid) {
			return fail(err, errlen, "session leader %d is in group %d, not its own", t->pid, t->pgid);
		} else if (g >= 0) {
			if (nodes[g].pgid != nodes[g].pid)
				return fail(err, errlen, "process %d is in group %d, whose leader left it; not supported "
							 "yet", t->pid, t->pgid);
			if (final[g] != final[i])
				return fail(err, errlen, "process %d and its group leader %d are in different sessions",
					    t->pid, t->pgid);
			ret[i].group = g;
		} else {
			/* a group outside the tree: the root's, which lives in the outer session */
			if (outer_pgid && outer_pgid != t->pgid)
				return fail(err, errlen, "processes are in groups %d and %d, neither led from inside the "
							 "tree; not supported yet", outer_pgid, t->pgid);
			if (final[i] != SID_OUTER)
				return fail(err, errlen, "process %d is in group %d, which has no leader in the tree; "
							 "not supported yet", t->pid, t->pgid);
			outer_pgid = t->pgid;
			ret[i].group = TREE_GROUP_OUTER;
		}
	}
	return 0;
}

void tree_shell_job_groups(struct tree_node *nodes, size_t n)
{
	pid_t old;

	/* a session leader has no terminal of a shell: nothing is a shell's here */
	if (!n || nodes[0].sid == nodes[0].pid)
		return;
	/* 0 is no pid of the tree: restore_plan_tree() takes it for the outer group, memdump's */
	old = nodes[0].pgid;
	for (size_t i = 0; i < n; i++)
		if (nodes[i].pgid == old)
			nodes[i].pgid = 0;
}

int tree_plan_procs(const struct md_proc *procs, size_t n, bool shell_job, struct tree_plan *ret, char *err,
		    size_t errlen)
{
	_cleanup_free_ struct tree_node *nodes = calloc(n ? n : 1, sizeof(*nodes));

	if (!nodes)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		nodes[i] = (struct tree_node){ procs[i].pid, procs[i].ppid, procs[i].pgid, procs[i].sid };
	if (shell_job)
		tree_shell_job_groups(nodes, n);
	return restore_plan_tree(nodes, n, ret, err, errlen);
}
