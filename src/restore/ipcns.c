/*
 * The tree's own IPC namespace (md_inventory.ipc_ns): memdump's thread
 * moves into a new one before it makes the tree's SysV segments and opens
 * its POSIX message queues (files.c), so that they, and the root it clones
 * (every process after it), are there. The semaphore sets and message
 * queues come first, under their ids and keys, by their creators, then the
 * POSIX queues under their names; the sysctls the dump found set
 * otherwise than in a new namespace come last, so that limits the tree
 * lowered below what it holds do not stop memdump from making it again,
 * and the limits it raised are raised first (ipcns_raise_limits()). The
 * namespace goes with memdump if nothing comes to hold it.
 */
#include <errno.h>
#include <sched.h>

#include "memdump/ipcns.h"
#include "memdump/log.h"
#include "restore/internal.h"

int restore_ipcns(struct restore_ctx *rc)
{
	char what[96] = "";
	const char *failed;
	int r;

	if (!rc->inv.ipc_ns)
		return 0;
	if (unshare(CLONE_NEWIPC) < 0)
		return log_err(-errno, "cannot make an IPC namespace for the tree");
	r = ipcns_raise_limits(rc->ipc.sysctls, rc->ipc.n_sysctls, &failed);
	if (r < 0)
		return log_err(r, "cannot raise sysctl %s of the tree's IPC namespace", failed);
	r = ipcns_make_objects(&rc->ipc, what, sizeof(what));
	if (r < 0)
		return log_err(r, "cannot make %s in the tree's IPC namespace", what);
	return 0;
}

int restore_ipcns_sysctls(struct restore_ctx *rc)
{
	const char *failed;
	int r;

	if (!rc->inv.ipc_ns)
		return 0;
	r = ipcns_write_sysctls(rc->ipc.sysctls, rc->ipc.n_sysctls, &failed);
	if (r < 0)
		return log_err(r, "cannot set sysctl %s of the tree's IPC namespace", failed);
	log_debug("made the tree's IPC namespace: %zu semaphore sets, %zu message queues, %zu sysctls",
		  rc->ipc.n_sems, rc->ipc.n_msgqs, rc->ipc.n_sysctls);
	return 0;
}
