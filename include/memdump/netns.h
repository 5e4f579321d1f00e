#pragma once
/*
 * A network namespace's state (src/proc/netns.c), read in the calling
 * thread's: what a tree's own namespace must share with a new one for a
 * restore to make it again. The configuration memdump does not keep is
 * read as text lines, one per link, address, route, rule and netfilter
 * table, with the fields a user can set (no counters, timers or states),
 * so that two namespaces compare line by line; the loopback's state and
 * the sysctls under /proc/sys/net, which memdump keeps, are read apart.
 * The parsers take one netlink message, so tests need no namespace.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memdump/model.h"

struct nlmsghdr;

#define NETNS_LINE_MAX 1024

struct netns_state {
	char **lines;			/* sorted */
	size_t n_lines;
	bool lo_up;			/* the loopback device is up (IFF_UP) */
	uint32_t lo_mtu;
	struct md_sysctl *sysctls;	/* sorted by name: each readable and writable one */
	size_t n_sysctls;
};

/*
 * One answer of protocol (NETLINK_ROUTE, NETLINK_XFRM, NETLINK_NETFILTER)
 * to a dump of links, addresses, routes, rules, next hops, neighbours
 * (permanent ones), queueing disciplines, address labels, IPsec policies
 * and states or nftables tables, as a line: 1 (the line in buf), 0 (a
 * message that says nothing: the dump's end), -EINVAL (malformed) or
 * -ENOSPC (buf too small).
 */
int netns_line(int protocol, const struct nlmsghdr *nlh, char *buf, size_t len);

/* the calling thread's network namespace; -errno (logged at debug) */
int netns_read(struct netns_state *ret);
void netns_state_release(struct netns_state *s);

/* the loopback device of the calling thread's namespace: up or down, and its MTU (0: as it is) */
int netns_set_lo(bool up, uint32_t mtu);

/*
 * Each sysctl (relative to /proc/sys/net) set in the calling thread's
 * namespace, in order, those the kernel refuses again after the others
 * while a pass sets any; else -errno of the first refused, its name in
 * *failed.
 */
int netns_write_sysctls(const struct md_sysctl *s, size_t n, const char **failed);
