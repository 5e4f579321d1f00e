#pragma once
/*
 * The tree's plan: who forks whom, and what each process must do to end
 * up in its session and process group (src/restore/tree.c, pure). The
 * restore builds the tree by it; the dump asks it before the tree is
 * gone, so that an image is never one no restore could build.
 */
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tree_node {
	pid_t pid, ppid, pgid, sid;
};

#define TREE_GROUP_OWN (-1)	/* pgid == pid: leads its group */
#define TREE_GROUP_OUTER (-2)	/* the group the root came from (memdump's) */

struct tree_plan {
	int parent;		/* index of the parent, -1 for the root */
	bool setsid;		/* leads its session: setsid() once created */
	bool early;		/* forked by its parent before the parent's setsid() */
	int group;		/* TREE_GROUP_OWN, TREE_GROUP_OUTER or the index of its group leader */
};

/*
 * Plan the tree of nodes[0..n) (nodes[0] the root, every parent before its
 * children): what each process must do to end in its session and group.
 * Sessions: a process gets its parent's at fork; a session leader calls
 * setsid(); a child may be forked before its parent's setsid() to keep the
 * old one. Groups: set once the whole tree exists, leaders first. The
 * session and group the root had outside the tree become memdump's.
 * Anything this cannot build (e.g. a group whose leader is gone) fails with
 * -ENOTSUP and a reason in err.
 */
int restore_plan_tree(const struct tree_node *nodes, size_t n, struct tree_plan *ret, char *err, size_t errlen);

/*
 * --shell-job: the group of a root that led none of its session (a job of
 * a shell) is the one memdump is in at restore: its members' pgid 0.
 */
void tree_shell_job_groups(struct tree_node *nodes, size_t n);

/* restore_plan_tree() of an image's processes (with shell_job, as --shell-job takes them): 0, -ENOTSUP or -ENOMEM */
struct md_proc;
int tree_plan_procs(const struct md_proc *procs, size_t n, bool shell_job, struct tree_plan *ret, char *err,
		    size_t errlen);
