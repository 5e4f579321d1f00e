/*
 * A network namespace's state (memdump/netns.h): rtnetlink and nftables
 * dumps through libnl, the xtables names /proc/thread-self/net lists,
 * and a walk of /proc/sys/net. Everything is read in the calling thread's
 * namespace, which /proc/sys and a new netlink socket follow.
 */
#include "memdump/netns.h"
#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "proc/internal.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/if_addrlabel.h>
#include <linux/if_link.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/neighbour.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <linux/xfrm.h>
#include <net/if.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- one netlink answer, as a line ---- */

struct line {
	char *buf;
	size_t len, at;
	bool full;
};

static void add(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->at, l->len - l->at, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= l->len - l->at)
		l->full = true;
	else
		l->at += (size_t)n;
}

/* an attribute's bytes as an address (4 or 16 bytes), else in hex */
static void add_addr(struct line *l, const char *what, const struct nlattr *a)
{
	char s[INET6_ADDRSTRLEN];
	const uint8_t *p;

	if (!a)
		return;
	p = nla_data(a);
	if (nla_len(a) == 4 || nla_len(a) == 16) {
		inet_ntop(nla_len(a) == 4 ? AF_INET : AF_INET6, p, s, sizeof(s));
		add(l, " %s %s", what, s);
		return;
	}
	add(l, " %s ", what);
	for (int i = 0; i < nla_len(a); i++)
		add(l, "%02x", p[i]);
}

static void add_u32(struct line *l, const char *what, const struct nlattr *a)
{
	if (a && nla_len(a) >= 4)
		add(l, " %s %u", what, nla_get_u32(a));
}

/* a string attribute, up to its first NUL or its end */
static void add_str(struct line *l, const char *what, const struct nlattr *a)
{
	if (a)
		add(l, " %s %.*s", what, (int)strnlen(nla_data(a), (size_t)nla_len(a)), (const char *)nla_data(a));
}

/* flags a user sets on a link; the rest (RUNNING, LOWER_UP, ...) is its state */
#define LINK_FLAGS (IFF_UP | IFF_BROADCAST | IFF_DEBUG | IFF_LOOPBACK | IFF_POINTOPOINT | IFF_NOARP | IFF_PROMISC | \
		    IFF_ALLMULTI | IFF_MULTICAST | IFF_PORTSEL | IFF_AUTOMEDIA | IFF_DYNAMIC)
/* an address's state, which a new one reaches by itself */
#define ADDR_STATE (IFA_F_TENTATIVE | IFA_F_DADFAILED | IFA_F_DEPRECATED | IFA_F_OPTIMISTIC)

#define NFT_NEWTABLE ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE)

static int link_line(const struct nlmsghdr *nlh, struct line *l)
{
	const struct ifinfomsg *m = nlmsg_data(nlh);
	const struct nlattr *name = nlmsg_find_attr((struct nlmsghdr *)nlh, sizeof(*m), IFLA_IFNAME);
	struct nlmsghdr *h = (struct nlmsghdr *)nlh;
	struct nlattr *xdp;

	if (!name)
		return -EINVAL;
	add(l, "link");
	add_str(l, "name", name);
	add(l, " type %u flags %#x", m->ifi_type, m->ifi_flags & LINK_FLAGS);
	add_u32(l, "mtu", nlmsg_find_attr(h, sizeof(*m), IFLA_MTU));
	add_u32(l, "txqlen", nlmsg_find_attr(h, sizeof(*m), IFLA_TXQLEN));
	add_u32(l, "group", nlmsg_find_attr(h, sizeof(*m), IFLA_GROUP));
	add_u32(l, "master", nlmsg_find_attr(h, sizeof(*m), IFLA_MASTER));
	add_str(l, "qdisc", nlmsg_find_attr(h, sizeof(*m), IFLA_QDISC));
	add_str(l, "alias", nlmsg_find_attr(h, sizeof(*m), IFLA_IFALIAS));
	add_addr(l, "address", nlmsg_find_attr(h, sizeof(*m), IFLA_ADDRESS));
	xdp = nlmsg_find_attr(h, sizeof(*m), IFLA_XDP);
	if (xdp) {
		struct nlattr *a = nla_find(nla_data(xdp), nla_len(xdp), IFLA_XDP_ATTACHED);

		if (a && nla_len(a) >= 1 && nla_get_u8(a))
			add(l, " xdp %u", nla_get_u8(a));
	}
	return 0;
}

static int addr_line(const struct nlmsghdr *nlh, struct line *l)
{
	const struct ifaddrmsg *m = nlmsg_data(nlh);
	struct nlmsghdr *h = (struct nlmsghdr *)nlh;
	const struct nlattr *f = nlmsg_find_attr(h, sizeof(*m), IFA_FLAGS);
	uint32_t flags = f && nla_len(f) >= 4 ? nla_get_u32((struct nlattr *)f) : m->ifa_flags;

	add(l, "addr family %u dev %u prefix %u scope %u flags %#x", m->ifa_family, m->ifa_index, m->ifa_prefixlen,
	    m->ifa_scope, flags & ~ADDR_STATE);
	add_addr(l, "local", nlmsg_find_attr(h, sizeof(*m), IFA_LOCAL));
	add_addr(l, "address", nlmsg_find_attr(h, sizeof(*m), IFA_ADDRESS));
	add_addr(l, "broadcast", nlmsg_find_attr(h, sizeof(*m), IFA_BROADCAST));
	add_str(l, "label", nlmsg_find_attr(h, sizeof(*m), IFA_LABEL));
	return 0;
}

static int route_line(const struct nlmsghdr *nlh, struct line *l)
{
	const struct rtmsg *m = nlmsg_data(nlh);
	struct nlmsghdr *h = (struct nlmsghdr *)nlh;
	const struct nlattr *t = nlmsg_find_attr(h, sizeof(*m), RTA_TABLE);

	/* a cache entry is the kernel's */
	if (m->rtm_flags & RTM_F_CLONED)
		return 1;
	add(l, "route family %u table %u type %u proto %u scope %u dst/%u src/%u tos %u", m->rtm_family,
	    t && nla_len(t) >= 4 ? nla_get_u32((struct nlattr *)t) : m->rtm_table, m->rtm_type, m->rtm_protocol,
	    m->rtm_scope, m->rtm_dst_len, m->rtm_src_len, m->rtm_tos);
	add_addr(l, "dst", nlmsg_find_attr(h, sizeof(*m), RTA_DST));
	add_addr(l, "src", nlmsg_find_attr(h, sizeof(*m), RTA_SRC));
	add_addr(l, "gateway", nlmsg_find_attr(h, sizeof(*m), RTA_GATEWAY));
	add_addr(l, "prefsrc", nlmsg_find_attr(h, sizeof(*m), RTA_PREFSRC));
	add_u32(l, "oif", nlmsg_find_attr(h, sizeof(*m), RTA_OIF));
	add_u32(l, "iif", nlmsg_find_attr(h, sizeof(*m), RTA_IIF));
	add_u32(l, "priority", nlmsg_find_attr(h, sizeof(*m), RTA_PRIORITY));
	add_u32(l, "mark", nlmsg_find_attr(h, sizeof(*m), RTA_MARK));
	/* next hops and metrics: their bytes */
	add_addr(l, "multipath", nlmsg_find_attr(h, sizeof(*m), RTA_MULTIPATH));
	add_addr(l, "metrics", nlmsg_find_attr(h, sizeof(*m), RTA_METRICS));
	return 0;
}

static int rule_line(const struct nlmsghdr *nlh, struct line *l)
{
	const struct fib_rule_hdr *m = nlmsg_data(nlh);
	struct nlmsghdr *h = (struct nlmsghdr *)nlh;
	const struct nlattr *t = nlmsg_find_attr(h, sizeof(*m), FRA_TABLE);

	add(l, "rule family %u action %u table %u src/%u dst/%u tos %u flags %#x", m->family, m->action,
	    t && nla_len(t) >= 4 ? nla_get_u32((struct nlattr *)t) : m->table, m->src_len, m->dst_len, m->tos,
	    m->flags);
	add_u32(l, "priority", nlmsg_find_attr(h, sizeof(*m), FRA_PRIORITY));
	add_u32(l, "fwmark", nlmsg_find_attr(h, sizeof(*m), FRA_FWMARK));
	add_u32(l, "fwmask", nlmsg_find_attr(h, sizeof(*m), FRA_FWMASK));
	add_u32(l, "goto", nlmsg_find_attr(h, sizeof(*m), FRA_GOTO));
	add_addr(l, "src", nlmsg_find_attr(h, sizeof(*m), FRA_SRC));
	add_addr(l, "dst", nlmsg_find_attr(h, sizeof(*m), FRA_DST));
	add_str(l, "iif", nlmsg_find_attr(h, sizeof(*m), FRA_IIFNAME));
	add_str(l, "oif", nlmsg_find_attr(h, sizeof(*m), FRA_OIFNAME));
	add_addr(l, "proto", nlmsg_find_attr(h, sizeof(*m), FRA_PROTOCOL));
	add_addr(l, "uid", nlmsg_find_attr(h, sizeof(*m), FRA_UID_RANGE));
	return 0;
}

static int nexthop_line(const struct nlmsghdr *nlh, struct line *l)
{
	const struct nhmsg *m = nlmsg_data(nlh);
	struct nlmsghdr *h = (struct nlmsghdr *)nlh;

	add(l, "nexthop family %u scope %u protocol %u flags %#x", m->nh_family, m->nh_scope, m->nh_protocol,
	    m->nh_flags);
	add_u32(l, "id", nlmsg_find_attr(h, sizeof(*m), NHA_ID));
	add_u32(l, "oif", nlmsg_find_attr(h, sizeof(*m), NHA_OIF));
	add_addr(l, "gateway", nlmsg_find_attr(h, sizeof(*m), NHA_GATEWAY));
	add_addr(l, "group", nlmsg_find_attr(h, sizeof(*m), NHA_GROUP));
	if (nlmsg_find_attr(h, sizeof(*m), NHA_BLACKHOLE))
		add(l, " blackhole");
	return 0;
}

/* a neighbour one set (permanent); those the kernel learns come and go */
static int neigh_line(const struct nlmsghdr *nlh, struct line *l)
{
	const struct ndmsg *m = nlmsg_data(nlh);

	if (!(m->ndm_state & NUD_PERMANENT))
		return 1;
	add(l, "neighbour family %u dev %d state %#x flags %#x type %u", m->ndm_family, m->ndm_ifindex,
	    m->ndm_state, m->ndm_flags, m->ndm_type);
	add_addr(l, "dst", nlmsg_find_attr((struct nlmsghdr *)nlh, sizeof(*m), NDA_DST));
	add_addr(l, "lladdr", nlmsg_find_attr((struct nlmsghdr *)nlh, sizeof(*m), NDA_LLADDR));
	return 0;
}

/* a queueing discipline (an ingress or clsact one holds filters), with its options' bytes */
static int qdisc_line(const struct nlmsghdr *nlh, struct line *l)
{
	const struct tcmsg *m = nlmsg_data(nlh);
	struct nlmsghdr *h = (struct nlmsghdr *)nlh;

	add(l, "qdisc dev %d handle %#x parent %#x", m->tcm_ifindex, m->tcm_handle, m->tcm_parent);
	add_str(l, "kind", nlmsg_find_attr(h, sizeof(*m), TCA_KIND));
	add_addr(l, "options", nlmsg_find_attr(h, sizeof(*m), TCA_OPTIONS));
	return 0;
}

static int addrlabel_line(const struct nlmsghdr *nlh, struct line *l)
{
	const struct ifaddrlblmsg *m = nlmsg_data(nlh);
	struct nlmsghdr *h = (struct nlmsghdr *)nlh;

	add(l, "addrlabel family %u prefix %u flags %#x dev %u", m->ifal_family, m->ifal_prefixlen, m->ifal_flags,
	    m->ifal_index);
	add_addr(l, "address", nlmsg_find_attr(h, sizeof(*m), IFAL_ADDRESS));
	add_u32(l, "label", nlmsg_find_attr(h, sizeof(*m), IFAL_LABEL));
	return 0;
}

/* IPsec: any policy or state is more than a new namespace has */
static int xfrm_policy_line(const struct nlmsghdr *nlh, struct line *l)
{
	const struct xfrm_userpolicy_info *m = nlmsg_data(nlh);

	add(l, "xfrm policy dir %u index %u action %u priority %u", m->dir, m->index, m->action, m->priority);
	return 0;
}

static int xfrm_state_line(const struct nlmsghdr *nlh, struct line *l)
{
	const struct xfrm_usersa_info *m = nlmsg_data(nlh);

	add(l, "xfrm state proto %u spi %#x mode %u", m->id.proto, ntohl(m->id.spi), m->mode);
	return 0;
}

static int table_line(const struct nlmsghdr *nlh, struct line *l)
{
	const struct nfgenmsg *m = nlmsg_data(nlh);
	const struct nlattr *name = nlmsg_find_attr((struct nlmsghdr *)nlh, sizeof(*m), NFTA_TABLE_NAME);

	if (!name)
		return -EINVAL;
	add(l, "nftables table family %u", m->nfgen_family);
	add_str(l, "name", name);
	return 0;
}

static const struct kind {
	int protocol;
	uint16_t type;
	size_t hdr;
	int (*line)(const struct nlmsghdr *nlh, struct line *l);
} kinds[] = {
	{ NETLINK_ROUTE, RTM_NEWLINK, sizeof(struct ifinfomsg), link_line },
	{ NETLINK_ROUTE, RTM_NEWADDR, sizeof(struct ifaddrmsg), addr_line },
	{ NETLINK_ROUTE, RTM_NEWROUTE, sizeof(struct rtmsg), route_line },
	{ NETLINK_ROUTE, RTM_NEWRULE, sizeof(struct fib_rule_hdr), rule_line },
	{ NETLINK_ROUTE, RTM_NEWNEXTHOP, sizeof(struct nhmsg), nexthop_line },
	{ NETLINK_ROUTE, RTM_NEWNEIGH, sizeof(struct ndmsg), neigh_line },
	{ NETLINK_ROUTE, RTM_NEWQDISC, sizeof(struct tcmsg), qdisc_line },
	{ NETLINK_ROUTE, RTM_NEWADDRLABEL, sizeof(struct ifaddrlblmsg), addrlabel_line },
	{ NETLINK_XFRM, XFRM_MSG_NEWPOLICY, sizeof(struct xfrm_userpolicy_info), xfrm_policy_line },
	{ NETLINK_XFRM, XFRM_MSG_NEWSA, sizeof(struct xfrm_usersa_info), xfrm_state_line },
	{ NETLINK_NETFILTER, NFT_NEWTABLE, sizeof(struct nfgenmsg), table_line },
};

int netns_line(int protocol, const struct nlmsghdr *nlh, char *buf, size_t len)
{
	struct line l = { .buf = buf, .len = len };
	const struct kind *k = NULL;
	int r;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && !k; i++)
		if (kinds[i].protocol == protocol && kinds[i].type == nlh->nlmsg_type)
			k = &kinds[i];
	if (!k)
		return 0;
	if (!len)
		return -ENOSPC;
	buf[0] = '\0';
	if (nlh->nlmsg_len < NLMSG_LENGTH(k->hdr) || nlmsg_validate((struct nlmsghdr *)nlh, (int)k->hdr, 0, NULL) < 0)
		return -EINVAL;
	r = k->line(nlh, &l);
	if (r)
		return r < 0 ? r : 0;
	return l.full ? -ENOSPC : 1;
}

/* ---- reading a namespace ---- */

static int add_line(struct netns_state *s, const char *line)
{
	char **grown = reallocarray(s->lines, s->n_lines + 1, sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	s->lines = grown;
	s->lines[s->n_lines] = strdup(line);
	if (!s->lines[s->n_lines])
		return -ENOMEM;
	s->n_lines++;
	return 0;
}

struct collect {
	struct netns_state *s;
	int protocol;
	int err;
};

static int on_msg(struct nl_msg *msg, void *arg)
{
	struct collect *c = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	char buf[NETNS_LINE_MAX];
	int r = netns_line(c->protocol, nlh, buf, sizeof(buf));

	if (r > 0 && c->protocol == NETLINK_ROUTE && nlh->nlmsg_type == RTM_NEWLINK) {
		const struct ifinfomsg *m = nlmsg_data(nlh);
		struct nlattr *mtu = nlmsg_find_attr(nlh, sizeof(*m), IFLA_MTU);

		if (m->ifi_flags & IFF_LOOPBACK) {
			c->s->lo_up = m->ifi_flags & IFF_UP;
			c->s->lo_mtu = mtu && nla_len(mtu) >= 4 ? nla_get_u32(mtu) : 0;
		}
	}
	if (r > 0)
		r = add_line(c->s, buf);
	if (r < 0) {
		c->err = r;
		return NL_STOP;
	}
	return NL_OK;
}

/* a dump of type (with its header) through a new socket of protocol; what the kernel has not: none */
static int dump(int protocol, int type, const void *hdr, size_t hdr_len, struct netns_state *s)
{
	struct collect c = { .s = s, .protocol = protocol };
	struct nl_sock *sk = NULL;
	int r = proc_nl_open(protocol, &sk);

	if (r == -NLE_NOMEM)
		return -ENOMEM;
	if (r >= 0)
		r = nl_send_simple(sk, type, NLM_F_DUMP, (void *)hdr, hdr_len);
	if (r >= 0) {
		nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_msg, &c);
		r = nl_recvmsgs_default(sk);
	}
	nl_socket_free(sk);
	if (c.err)
		return c.err;
	if (r == -NLE_PROTO_MISMATCH || r == -NLE_OPNOTSUPP || r == -NLE_OBJ_NOTFOUND || r == -NLE_NOADDR) {
		log_debug("netlink protocol %d, request %d: %s (taken as none)", protocol, type, nl_geterror(r));
		return 0;
	}
	if (r < 0) {
		log_debug("netlink protocol %d, request %d: %s", protocol, type, nl_geterror(r));
		return -EIO;
	}
	return 0;
}

/* the legacy iptables tables made in the namespace, one line each */
static int read_xtables(struct netns_state *s)
{
	static const char *const families[] = { "ip", "ip6", "arp" };
	char path[64], name[128], line[NETNS_LINE_MAX];
	int r = 0;

	for (size_t k = 0; r >= 0 && k < sizeof(families) / sizeof(families[0]); k++) {
		_cleanup_fclose_ FILE *f = NULL;

		snprintf(path, sizeof(path), "/proc/thread-self/net/%s_tables_names", families[k]);
		f = fopen(path, "re");
		if (!f) {
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		while (r >= 0 && fgets(name, sizeof(name), f)) {
			name[strcspn(name, "\n")] = '\0';
			snprintf(line, sizeof(line), "xtables %s %s", families[k], name);
			r = add_line(s, line);
		}
	}
	return r;
}

static int add_sysctl(struct netns_state *s, const char *name, const char *value, size_t len)
{
	struct md_sysctl *grown = reallocarray(s->sysctls, s->n_sysctls + 1, sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	s->sysctls = grown;
	grown += s->n_sysctls;
	grown->name = strdup(name);
	grown->value = strndup(value, len);
	if (!grown->name || !grown->value) {
		free(grown->name);
		free(grown->value);
		return -ENOMEM;
	}
	s->n_sysctls++;
	return 0;
}

/* one sysctl file: its value if it reads (some say EIO until set), else nothing */
static int read_sysctl(int dirfd, const char *file, const char *name, struct netns_state *s)
{
	_cleanup_close_ int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char buf[MD_NET_SYSCTL_VALUE_MAX + 2];
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		return 0;
	while (len < sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		len += (size_t)n;
	}
	if (len && buf[len - 1] == '\n')
		len--;
	if (len > MD_NET_SYSCTL_VALUE_MAX || memchr(buf, '\0', len)) {
		log_debug("sysctl net/%s: a value memdump does not keep", name);
		return 0;
	}
	return add_sysctl(s, name, buf, len);
}

/* the sysctls under dirfd (net/PREFIX), readable and writable by their owner */
static int walk_sysctls(int dir, const char *prefix, struct netns_state *s, int depth)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	char name[MD_NET_SYSCTL_NAME_MAX + 2];
	int r = 0, fd;

	if (depth > 8) {
		close(dir);
		return 0;
	}
	d = fdopendir(dir);
	if (!d) {
		close(dir);
		return -errno;
	}
	while (r >= 0 && (de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(name, sizeof(name), "%s%s%s", prefix, *prefix ? "/" : "", de->d_name) >=
		    MD_NET_SYSCTL_NAME_MAX + 1 || !md_net_sysctl_name_ok(name))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
			if (fd >= 0)
				r = walk_sysctls(fd, name, s, depth + 1);
		} else if (S_ISREG(st.st_mode) && (st.st_mode & S_IRUSR) && (st.st_mode & S_IWUSR)) {
			r = read_sysctl(dirfd(d), de->d_name, name, s);
		}
	}
	return r;
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_sysctl(const void *a, const void *b)
{
	return strcmp(((const struct md_sysctl *)a)->name, ((const struct md_sysctl *)b)->name);
}

int netns_read(struct netns_state *ret)
{
	const struct ifinfomsg link = { .ifi_family = AF_UNSPEC };
	const struct ifaddrmsg addr = { .ifa_family = AF_UNSPEC };
	const struct rtmsg route = { .rtm_family = AF_UNSPEC };
	const struct fib_rule_hdr rule = { .family = AF_UNSPEC };
	const struct nhmsg nh = { .nh_family = AF_UNSPEC };
	const struct ndmsg neigh = { .ndm_family = AF_UNSPEC };
	const struct tcmsg qdisc = { .tcm_family = AF_UNSPEC };
	const struct ifaddrlblmsg label = { .ifal_family = AF_INET6 };
	const struct nfgenmsg table = { .nfgen_family = NFPROTO_UNSPEC, .version = NFNETLINK_V0 };
	struct netns_state s = { 0 };
	int r, fd;

	r = dump(NETLINK_ROUTE, RTM_GETLINK, &link, sizeof(link), &s);
	if (r >= 0)
		r = dump(NETLINK_ROUTE, RTM_GETADDR, &addr, sizeof(addr), &s);
	if (r >= 0)
		r = dump(NETLINK_ROUTE, RTM_GETROUTE, &route, sizeof(route), &s);
	if (r >= 0)
		r = dump(NETLINK_ROUTE, RTM_GETRULE, &rule, sizeof(rule), &s);
	if (r >= 0)
		r = dump(NETLINK_ROUTE, RTM_GETNEXTHOP, &nh, sizeof(nh), &s);
	if (r >= 0)
		r = dump(NETLINK_ROUTE, RTM_GETNEIGH, &neigh, sizeof(neigh), &s);
	if (r >= 0)
		r = dump(NETLINK_ROUTE, RTM_GETQDISC, &qdisc, sizeof(qdisc), &s);
	if (r >= 0)
		r = dump(NETLINK_ROUTE, RTM_GETADDRLABEL, &label, sizeof(label), &s);
	if (r >= 0)
		r = dump(NETLINK_XFRM, XFRM_MSG_GETPOLICY, NULL, 0, &s);
	if (r >= 0)
		r = dump(NETLINK_XFRM, XFRM_MSG_GETSA, NULL, 0, &s);
	if (r >= 0)
		r = dump(NETLINK_NETFILTER, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE, &table, sizeof(table), &s);
	if (r >= 0)
		r = read_xtables(&s);
	if (r >= 0) {
		fd = open("/proc/sys/net", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		r = fd < 0 ? -errno : walk_sysctls(fd, "", &s, 0);
	}
	if (r < 0) {
		netns_state_release(&s);
		return r;
	}
	if (s.n_lines)
		qsort(s.lines, s.n_lines, sizeof(*s.lines), cmp_line);
	if (s.n_sysctls)
		qsort(s.sysctls, s.n_sysctls, sizeof(*s.sysctls), cmp_sysctl);
	*ret = s;
	return 0;
}

void netns_state_release(struct netns_state *s)
{
	for (size_t i = 0; i < s->n_lines; i++)
		free(s->lines[i]);
	free(s->lines);
	md_sysctls_free(s->sysctls, s->n_sysctls);
	memset(s, 0, sizeof(*s));
}

/* ---- setting a namespace up ---- */

int netns_set_lo(bool up, uint32_t mtu)
{
	_cleanup_close_ int sk = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { .ifr_name = "lo" };

	if (sk < 0)
		return -errno;
	if (mtu) {
		ifr.ifr_mtu = (int)mtu;
		if (ioctl(sk, SIOCSIFMTU, &ifr) < 0)
			return -errno;
	}
	if (ioctl(sk, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	if (!(ifr.ifr_flags & IFF_UP) == !up)
		return 0;
	ifr.ifr_flags = (short)(up ? ifr.ifr_flags | IFF_UP : ifr.ifr_flags & ~IFF_UP);
	return ioctl(sk, SIOCSIFFLAGS, &ifr) < 0 ? -errno : 0;
}

static int write_sysctl(int dir, const struct md_sysctl *s)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *text = NULL;
	ssize_t w;
	int len;

	if (!md_net_sysctl_name_ok(s->name))
		return -EINVAL;
	fd = openat(dir, s->name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	len = asprintf(&text, "%s\n", s->value);
	if (len < 0) {
		text = NULL;
		return -ENOMEM;
	}
	w = write(fd, text, (size_t)len);
	if (w < 0)
		return -errno;
	return w == len ? 0 : -EIO;
}

/*
 * In order; one the kernel refuses (a port range below the unprivileged
 * start not yet written) again after the others, as long as a pass
 * writes any
 */
int netns_write_sysctls(const struct md_sysctl *s, size_t n, const char **failed)
{
	_cleanup_close_ int dir = open("/proc/sys/net", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ bool *done = NULL;
	size_t left = n;

	*failed = NULL;
	if (dir < 0) {
		*failed = "/proc/sys/net";
		return -errno;
	}
	if (n && !(done = calloc(n, sizeof(*done))))
		return -ENOMEM;
	while (left) {
		size_t before = left;
		int first = 0;

		for (size_t i = 0; i < n; i++) {
			int r;

			if (done[i])
				continue;
			r = write_sysctl(dir, &s[i]);
			if (r == 0) {
				done[i] = true;
				left--;
			} else if (!first) {
				first = r;
				*failed = s[i].name;
			}
		}
		if (left == before)
			return first;
		*failed = NULL;
	}
	return 0;
}
