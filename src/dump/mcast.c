/*
 * The multicast groups a UDP socket joined. The kernel lists memberships
 * by interface (/proc/net/igmp, /proc/net/igmp6: whoever joined), not by
 * socket; each group an interface joined is asked of the socket with
 * getsockopt(MCAST_MSFILTER), which gives the socket's source filter for
 * the group on that interface where it is a member and fails with
 * EADDRNOTAVAIL where it is not. IPv4 groups are asked at SOL_IP, of IPv6
 * sockets too (a dual-stack socket may join them so). Reading changes
 * nothing: --leave-running keeps the socket as it was.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dump/internal.h"
#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "memdump/proc.h"
#include "memdump/sockopts.h"

static int read_groups(struct dump_sockopt_refs *refs)
{
	int r;

	if (refs->groups_read)
		return 0;
	r = proc_read_mcast_groups(&refs->groups, &refs->n_groups);
	if (r < 0) {
		free(refs->groups);
		refs->groups = NULL;
		refs->n_groups = 0;
		return log_err(r, "cannot read the multicast groups of this host's interfaces (/proc/net/igmp)");
	}
	refs->groups_read = true;
	return 0;
}

/*
 * Socket sk's filter for group g into *gf (grown as needed, *cap sources):
 * 1 if it is a member, 0 if not, -errno.
 */
static int ask(int sk, const struct proc_mcast_group *g, struct group_filter **gf, uint32_t *cap)
{
	for (;;) {
		socklen_t len = (socklen_t)GROUP_FILTER_SIZE(*cap);
		struct group_filter *grown;

		memset(*gf, 0, len);
		(*gf)->gf_interface = g->ifindex;
		(*gf)->gf_numsrc = *cap;
		md_inet_sockaddr(g->family, g->group, 0, 0, &(*gf)->gf_group);
		if (getsockopt(sk, g->family == AF_INET ? SOL_IP : SOL_IPV6, MCAST_MSFILTER, *gf, &len) < 0)
			return errno == EADDRNOTAVAIL || errno == ENODEV ? 0 : -errno;
		if ((*gf)->gf_numsrc <= *cap)
			return 1;
		/* more sources than room: it says how many */
		if ((*gf)->gf_numsrc > MD_MCAST_SRC_MAX)
			return -E2BIG;
		grown = realloc(*gf, GROUP_FILTER_SIZE((*gf)->gf_numsrc));
		if (!grown)
			return -ENOMEM;
		*cap = grown->gf_numsrc;
		*gf = grown;
	}
}

int dump_mcast(struct dump_sockopt_refs *refs, int sk, pid_t pid, int fd, const struct md_sock *s,
	       struct md_sockopts **o)
{
	_cleanup_free_ struct group_filter *gf = NULL;
	_cleanup_free_ struct md_mcast *mc = NULL;
	_cleanup_free_ uint8_t (*src)[16] = NULL;
	uint32_t cap = 16, n_mc = 0, n_src = 0;
	struct md_sockopts *grown;
	int r;

	if ((r = read_groups(refs)) < 0)
		return r;
	gf = malloc(GROUP_FILTER_SIZE(cap));
	if (!gf)
		return -ENOMEM;
	for (size_t i = 0; i < refs->n_groups; i++) {
		const struct proc_mcast_group *g = &refs->groups[i];
		struct md_mcast *m;
		void *p;

		if (g->family == AF_INET6 && s->family != AF_INET6)
			continue;
		r = ask(sk, g, &gf, &cap);
		if (r < 0)
			return log_err(r, "cannot read the multicast memberships of socket fd %d of %d", fd, pid);
		/* an empty INCLUDE filter is no membership (the kernel leaves the group then) */
		if (!r || (gf->gf_fmode == MCAST_INCLUDE && !gf->gf_numsrc))
			continue;
		if (n_mc == MD_MCAST_MAX || gf->gf_numsrc > MD_MCAST_SRC_MAX - n_src)
			return log_err(-E2BIG, "socket fd %d of %d: more than %d multicast memberships or %d "
				       "sources", fd, pid, MD_MCAST_MAX, MD_MCAST_SRC_MAX);
		if (!(p = realloc(mc, (n_mc + 1) * sizeof(*mc))))
			return -ENOMEM;
		mc = p;
		if (gf->gf_numsrc) {
			if (!(p = realloc(src, (n_src + gf->gf_numsrc) * sizeof(*src))))
				return -ENOMEM;
			src = p;
		}
		m = &mc[n_mc++];
		memset(m, 0, sizeof(*m));
		m->family = (uint8_t)g->family;
		m->include = gf->gf_fmode == MCAST_INCLUDE;
		memcpy(m->group, g->group, sizeof(m->group));
		m->ifindex = g->ifindex;
		memcpy(m->ifname, g->ifname, sizeof(g->ifname));
		m->src = n_src;
		m->n_src = gf->gf_numsrc;
		for (uint32_t k = 0; k < gf->gf_numsrc; k++, n_src++) {
			uint16_t port;

			if (gf->gf_slist[k].ss_family != g->family)
				return log_err(-EPROTO, "socket fd %d of %d: a multicast source of another family",
					       fd, pid);
			memset(src[n_src], 0, sizeof(src[n_src]));
			dump_take_inet_addr(&gf->gf_slist[k], src[n_src], &port, NULL);
		}
	}
	if (!n_mc)
		return 0;
	grown = realloc(*o, md_sockopts_size((*o)->n_filter, n_mc, n_src));
	if (!grown)
		return -ENOMEM;
	*o = grown;
	grown->n_mcast = n_mc;
	grown->n_src = n_src;
	memcpy(md_sockopts_mcast(grown), mc, n_mc * sizeof(*mc));
	if (n_src)
		memcpy(md_sockopts_srcs(grown), src, n_src * sizeof(*src));
	return 0;
}
