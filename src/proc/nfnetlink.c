/*
 * /proc/net/netfilter/nfnetlink_log and nfnetlink_queue: the nflog groups
 * and NFQUEUE queues bound to a netlink port, one per line, the port in
 * the second column (nfulnl's and nfqnl's seq_show()):
 *
 *	    7  16002     0 2 65535    100  1
 *
 * An instance belongs to its port, and goes when the socket on it closes:
 * a socket restored on the same port has none.
 */
#include "memdump/proc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool proc_nfnl_port_bound(const char *buf, uint32_t portid)
{
	const char *p = buf;

	while (p && *p) {
		unsigned int num, port;

		if (sscanf(p, "%u %u", &num, &port) == 2 && port == portid)
			return true;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return false;
}

int proc_nfnl_port_used(uint32_t portid, bool *ret)
{
	static const char *const files[] = { "/proc/net/netfilter/nfnetlink_log",
					     "/proc/net/netfilter/nfnetlink_queue" };

	*ret = false;
	for (size_t i = 0; i < 2 && !*ret; i++) {
		char *buf = NULL;
		int r = proc_read_file(files[i], &buf, NULL);

		if (r == -ENOENT)
			continue;	/* the module is not loaded: no instance */
		if (r < 0)
			return r;
		*ret = proc_nfnl_port_bound(buf, portid);
		free(buf);
	}
	return 0;
}
