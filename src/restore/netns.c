/*
 * The tree's own network namespace (md_inventory.net_ns): memdump moves
 * its own thread into a new one before it makes the tree's sockets, so
 * that they, the network lock and the root it clones (every process
 * after it) are all there. The loopback device gets its state back, and
 * the sysctls the dump found set otherwise than in a new namespace their
 * values. The namespace goes with memdump if nothing comes to hold it.
 */
#include <errno.h>
#include <sched.h>

#include "memdump/log.h"
#include "memdump/netns.h"
#include "restore/internal.h"

int restore_netns(struct restore_ctx *rc)
{
	const struct md_inventory *inv = &rc->inv;
	const char *failed;
	int r;

	if (!inv->net_ns)
		return 0;
	if (unshare(CLONE_NEWNET) < 0)
		return log_err(-errno, "cannot make a network namespace for the tree");
	r = netns_set_lo(inv->lo_up, inv->lo_mtu);
	if (r < 0)
		return log_err(r, "cannot set the loopback device of the tree's network namespace %s (mtu %u)",
			       inv->lo_up ? "up" : "down", inv->lo_mtu);
	r = netns_write_sysctls(inv->net_sysctls, inv->n_net_sysctls, &failed);
	if (r < 0)
		return log_err(r, "cannot set sysctl net/%s of the tree's network namespace", failed);
	log_debug("made the tree's network namespace: loopback %s, %zu sysctls", inv->lo_up ? "up" : "down",
		  inv->n_net_sysctls);
	return 0;
}
