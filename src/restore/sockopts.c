/*
 * The options a socket of the image had set (memdump/sockopts.h), set on
 * the socket made for it in two steps: early, right after socket(), for
 * those that count only before bind(), listen() or connect()
 * (IP_FREEBIND, SO_BINDTODEVICE, TCP_FASTOPEN...); late, once its queues
 * are in, for the buffer sizes (the queues may need more meanwhile), the
 * lock on them, the peek offset and timestamping (a TCP socket takes
 * SOF_TIMESTAMPING_OPT_ID only connected). Multicast memberships go in
 * early, before bind(), so that no datagram comes in before their filters
 * are set. An option this kernel refuses (TCP_CONGESTION of a module it
 * lacks, SO_BINDTODEVICE of an interface it has not got, a group on one)
 * fails the restore, naming it: the process relied on it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "memdump/cleanup.h"
#include "memdump/sockopts.h"
#include "restore/internal.h"

void restore_sock_buf(int fd, int force, int plain, uint32_t bytes)
{
	/* getsockopt() said twice what setsockopt() takes; FORCE passes net.core.*mem_max (CAP_NET_ADMIN) */
	int v = (int)(bytes / 2);

	if (!v)
		return;
	if (setsockopt(fd, SOL_SOCKET, force, &v, sizeof(v)) < 0)
		setsockopt(fd, SOL_SOCKET, plain, &v, sizeof(v));
}

static void describe(char *what, size_t len, const struct md_sockopt_def *d, const struct md_sockopts *o, size_t i)
{
	if (md_sockopt_is_name(d))
		snprintf(what, len, "set %s to '%s'", d->name, md_sockopt_str((struct md_sockopts *)o, d));
	else
		snprintf(what, len, "set %s to %lld", d->name, (long long)o->v[i]);
}

static int filter(int fd, const struct md_sockopts *o, char *what, size_t len)
{
	struct sock_fprog prog = { .len = (unsigned short)o->n_filter, .filter = (struct sock_filter *)o->filter };

	if (!o->n_filter)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0) {
		snprintf(what, len, "attach its filter (%u instructions)", o->n_filter);
		return -errno;
	}
	return 0;
}

/*
 * The multicast groups the socket had joined, each on the interface of
 * the same name (its index may differ here), with its source filter.
 */
static int memberships(int fd, const struct md_sockopts *o, char *what, size_t len)
{
	const struct md_mcast *mc = md_sockopts_mcast(o);
	uint8_t (*src)[16] = md_sockopts_srcs(o);
	_cleanup_free_ struct group_filter *gf = NULL;
	uint32_t cap = 0;

	for (uint32_t i = 0; i < o->n_mcast; i++) {
		const struct md_mcast *m = &mc[i];
		int level = m->family == AF_INET ? SOL_IP : SOL_IPV6;
		unsigned ifindex = if_nametoindex(m->ifname);
		struct group_req gr = { .gr_interface = ifindex };
		char g[INET6_ADDRSTRLEN];

		/* an empty MCAST_INCLUDE is no membership (the image refuses it) */
		if (m->include && !m->n_src)
			continue;
		inet_ntop(m->family, m->group, g, sizeof(g));
		snprintf(what, len, "join multicast group %s on interface '%s'", g, m->ifname);
		if (!ifindex)
			return -ENODEV;
		md_inet_sockaddr(m->family, m->group, 0, 0, &gr.gr_group);
		if (setsockopt(fd, level, MCAST_JOIN_GROUP, &gr, sizeof(gr)) < 0)
			return -errno;
		/* joined as MCAST_EXCLUDE of none: anything else is its filter */
		if (!m->n_src)
			continue;
		if (m->n_src > cap) {
			struct group_filter *grown = realloc(gf, GROUP_FILTER_SIZE(m->n_src));

			if (!grown)
				return -ENOMEM;
			gf = grown;
			cap = m->n_src;
		}
		memset(gf, 0, GROUP_FILTER_SIZE(cap));
		gf->gf_interface = ifindex;
		gf->gf_fmode = m->include ? MCAST_INCLUDE : MCAST_EXCLUDE;
		gf->gf_numsrc = m->n_src;
		md_inet_sockaddr(m->family, m->group, 0, 0, &gf->gf_group);
		for (uint32_t k = 0; k < m->n_src; k++)
			md_inet_sockaddr(m->family, src[m->src + k], 0, 0, &gf->gf_slist[k]);
		snprintf(what, len, "set the source filter of multicast group %s on interface '%s' (%u sources)",
			 g, m->ifname, m->n_src);
		if (setsockopt(fd, level, MCAST_MSFILTER, gf, (socklen_t)GROUP_FILTER_SIZE(m->n_src)) < 0)
			return -errno;
	}
	return 0;
}

int restore_sockopts(int fd, const struct md_sock *s, bool late, char *what, size_t len)
{
	const struct md_sockopts *o = s->opts;
	size_t lock = md_sockopt_find(SOL_SOCKET, SO_BUF_LOCK);
	int r;

	if (!late && o && (r = filter(fd, o, what, len)) < 0)
		return r;
	/* before bind(): no datagram reaches the socket while a filter is half set */
	if (!late && o && (r = memberships(fd, o, what, len)) < 0)
		return r;
	if (late) {
		restore_sock_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, s->sndbuf);
		restore_sock_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, s->rcvbuf);
		/*
		 * Setting a size fixes it (as may refilling the queues): the
		 * lock goes back to what it was, on kernels that have it.
		 */
		if (!md_sockopt_isset(o, lock) &&
		    (r = md_sockopt_put(fd, &md_sockopt_defs[lock], 0, NULL)) < 0 && r != -ENOPROTOOPT) {
			snprintf(what, len, "clear SO_BUF_LOCK");
			return r;
		}
		if (s->peek_off != -1 &&
		    setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &s->peek_off, sizeof(s->peek_off)) < 0) {
			snprintf(what, len, "set SO_PEEK_OFF to %d", s->peek_off);
			return -errno;
		}
	}
	for (size_t i = 0; o && i < md_n_sockopt_defs; i++) {
		const struct md_sockopt_def *d = &md_sockopt_defs[i];

		if (!md_sockopt_isset(o, i) || !(d->flags & MD_SOCKOPT_LATE) != !late)
			continue;
		r = md_sockopt_put(fd, d, o->v[i], md_sockopt_str((struct md_sockopts *)o, d));
		if (r < 0) {
			describe(what, len, d, o, i);
			return r;
		}
	}
	return 0;
}
