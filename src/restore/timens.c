/*
 * The tree's own time namespace (md_inventory.time_ns): made by
 * memdump's main thread, whose children (the root's clone3()) get it, with
 * offsets that make its clocks read what the tree's read once the dump had
 * read its timers. They run on from there: the restore's own time counts,
 * the time between the dump and the restore does not, and on another host
 * the clocks go neither back nor far ahead. Made before memdump arms the
 * tree's timerfds with the time they had left, so that none expires before
 * the clock it counts on reaches its deadline.
 */
#include <errno.h>

#include "memdump/log.h"
#include "memdump/timens.h"
#include "restore/internal.h"

int restore_timens(const struct restore_ctx *rc)
{
	int r;

	if (!rc->inv.time_ns)
		return 0;
	r = timens_make(rc->inv.time_monotonic_ns, rc->inv.time_boottime_ns);
	if (r == -EBUSY)
		return log_err(r, "cannot make a time namespace for the tree: memdump's children would be in another "
			       "one than memdump");
	if (r == -EPERM)
		return log_err(r, "cannot make a time namespace for the tree (it takes CAP_SYS_ADMIN and CAP_SYS_TIME)");
	if (r < 0)
		return log_err(r, "cannot make a time namespace for the tree");
	log_debug("made the tree's time namespace: CLOCK_MONOTONIC %.3f s, CLOCK_BOOTTIME %.3f s",
		  rc->inv.time_monotonic_ns / 1e9, rc->inv.time_boottime_ns / 1e9);
	return 0;
}
