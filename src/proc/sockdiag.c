/*
 * NETLINK_SOCK_DIAG through libnl: dump requests for unix sockets, for
 * TCP and UDP over IPv4 and IPv6 and for netlink sockets, each answer
 * parsed by a pure function.
 * Which socket belongs to whom, and whether it can be restored, is for
 * the dump stage to say.
 */
#include "memdump/sockdiag.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink_diag.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "memdump/log.h"
#include "proc/internal.h"

int sockdiag_parse_unix(struct nlmsghdr *nlh, struct sd_unix *ret)
{
	struct nlattr *tb[UNIX_DIAG_MAX + 1];
	const struct unix_diag_msg *m;
	struct sd_unix u = { 0 };

	if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY || !nlmsg_valid_hdr(nlh, sizeof(*m)))
		return -EINVAL;
	if (nlmsg_parse(nlh, sizeof(*m), tb, UNIX_DIAG_MAX, NULL) < 0)
		return -EINVAL;
	m = nlmsg_data(nlh);
	if (m->udiag_family != AF_UNIX)
		return -EINVAL;
	u.ino = m->udiag_ino;
	u.type = m->udiag_type;
	u.state = m->udiag_state;
	if (tb[UNIX_DIAG_NAME]) {
		int len = nla_len(tb[UNIX_DIAG_NAME]);

		if (len <= 0 || len > SD_NAME_MAX)
			return -EINVAL;
		memcpy(u.name, nla_data(tb[UNIX_DIAG_NAME]), (size_t)len);
		u.name_len = (uint32_t)len;
	}
	if (tb[UNIX_DIAG_VFS]) {
		struct unix_diag_vfs v;

		if (nla_len(tb[UNIX_DIAG_VFS]) < (int)sizeof(v))
			return -EINVAL;
		memcpy(&v, nla_data(tb[UNIX_DIAG_VFS]), sizeof(v));
		u.has_vfs = true;
		u.vfs_ino = v.udiag_vfs_ino;
		u.vfs_dev = v.udiag_vfs_dev;
	}
	if (tb[UNIX_DIAG_PEER]) {
		if (nla_len(tb[UNIX_DIAG_PEER]) < 4)
			return -EINVAL;
		u.peer_ino = nla_get_u32(tb[UNIX_DIAG_PEER]);
	}
	if (tb[UNIX_DIAG_ICONS]) {
		if (nla_len(tb[UNIX_DIAG_ICONS]) % 4)
			return -EINVAL;
		u.n_icons = (uint32_t)nla_len(tb[UNIX_DIAG_ICONS]) / 4;
	}
	if (tb[UNIX_DIAG_RQLEN]) {
		struct unix_diag_rqlen q;

		if (nla_len(tb[UNIX_DIAG_RQLEN]) < (int)sizeof(q))
			return -EINVAL;
		memcpy(&q, nla_data(tb[UNIX_DIAG_RQLEN]), sizeof(q));
		u.has_rqlen = true;
		u.rqueue = q.udiag_rqueue;
		u.wqueue = q.udiag_wqueue;
	}
	if (tb[UNIX_DIAG_SHUTDOWN]) {
		if (nla_len(tb[UNIX_DIAG_SHUTDOWN]) < 1)
			return -EINVAL;
		u.shutdown = nla_get_u8(tb[UNIX_DIAG_SHUTDOWN]);
	}
	*ret = u;
	return 0;
}

void sockdiag_unix_icons(struct nlmsghdr *nlh, const struct sd_unix *u, struct sd_icon *icons)
{
	struct nlattr *a = nlmsg_find_attr(nlh, sizeof(struct unix_diag_msg), UNIX_DIAG_ICONS);
	const uint8_t *p = a ? nla_data(a) : NULL;

	for (uint32_t i = 0; p && i < u->n_icons; i++) {
		uint32_t ino;

		memcpy(&ino, p + 4 * i, 4);
		icons[i] = (struct sd_icon){ .ino = ino, .listener = u->ino, .pos = i };
	}
}

int sockdiag_parse_inet(struct nlmsghdr *nlh, uint8_t protocol, struct sd_inet *ret)
{
	const struct inet_diag_msg *m;
	struct sd_inet s = { 0 };
	struct nlattr *a;
	size_t alen;

	if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY || !nlmsg_valid_hdr(nlh, sizeof(*m)))
		return -EINVAL;
	m = nlmsg_data(nlh);
	if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
		return -EINVAL;
	alen = m->idiag_family == AF_INET6 ? 16 : 4;
	s.ino = m->idiag_inode;
	s.family = m->idiag_family;
	s.protocol = protocol;
	s.state = m->idiag_state;
	s.sport = ntohs(m->id.idiag_sport);
	s.dport = ntohs(m->id.idiag_dport);
	memcpy(s.src, m->id.idiag_src, alen);
	memcpy(s.dst, m->id.idiag_dst, alen);
	s.ifindex = m->id.idiag_if;
	s.rqueue = m->idiag_rqueue;
	s.wqueue = m->idiag_wqueue;
	/* with the INFO extension, to CAP_NET_ADMIN: the TCP-MD5 keys, if any */
	s.md5 = nlmsg_find_attr(nlh, sizeof(*m), INET_DIAG_MD5SIG) != NULL;
	a = nlmsg_find_attr(nlh, sizeof(*m), INET_DIAG_SHUTDOWN);
	if (a && nla_len(a) >= 1)
		s.shutdown = nla_get_u8(a) & 3;
	*ret = s;
	return 0;
}

int sockdiag_parse_netlink(struct nlmsghdr *nlh, struct sd_netlink *ret)
{
	const struct netlink_diag_msg *m;
	struct sd_netlink s = { 0 };
	struct nlattr *a;

	if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY || !nlmsg_valid_hdr(nlh, sizeof(*m)))
		return -EINVAL;
	m = nlmsg_data(nlh);
	if (m->ndiag_family != AF_NETLINK)
		return -EINVAL;
	s.ino = m->ndiag_ino;
	s.protocol = m->ndiag_protocol;
	s.portid = m->ndiag_portid;
	a = nlmsg_find_attr(nlh, sizeof(*m), NETLINK_DIAG_MEMINFO);
	if (a) {
		if (nla_len(a) < (int)((SK_MEMINFO_RMEM_ALLOC + 1) * sizeof(uint32_t)))
			return -EINVAL;
		s.rmem = ((const uint32_t *)nla_data(a))[SK_MEMINFO_RMEM_ALLOC];
	}
	a = nlmsg_find_attr(nlh, sizeof(*m), NETLINK_DIAG_FLAGS);
	if (a) {
		if (nla_len(a) < 4)
			return -EINVAL;
		s.dump_running = nla_get_u32(a) & NDIAG_FLAG_CB_RUNNING;
		s.all_nsid = nla_get_u32(a) & NDIAG_FLAG_LISTEN_ALL_NSID;
	}
	*ret = s;
	return 0;
}

struct collect {
	struct sockdiag *d;
	int family;		/* AF_UNIX, AF_INET(6), AF_NETLINK */
	uint8_t protocol;	/* inet: of the request */
	int err;
};

static int on_msg(struct nl_msg *msg, void *arg)
{
	struct collect *c = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct sockdiag *d = c->d;
	int r;

	if (c->family == AF_NETLINK) {
		struct sd_netlink *l = reallocarray(d->nl, d->n_nl + 1, sizeof(*l));

		if (!l)
			goto oom;
		d->nl = l;
		r = sockdiag_parse_netlink(nlh, &d->nl[d->n_nl]);
		/* the kernel's own sockets (port id 0) are no one's fd */
		if (r >= 0 && d->nl[d->n_nl].ino)
			d->n_nl++;
	} else if (c->family == AF_UNIX) {
		struct sd_unix *u = reallocarray(d->unx, d->n_unix + 1, sizeof(*u));
		struct sd_icon *ic;

		if (!u)
			goto oom;
		d->unx = u;
		u += d->n_unix;
		r = sockdiag_parse_unix(nlh, u);
		if (r >= 0 && u->n_icons) {
			ic = reallocarray(d->icons, d->n_icons + u->n_icons, sizeof(*ic));
			if (!ic)
				goto oom;
			d->icons = ic;
			sockdiag_unix_icons(nlh, u, ic + d->n_icons);
			d->n_icons += u->n_icons;
		}
		if (r >= 0)
			d->n_unix++;
	} else {
		struct sd_inet *s = reallocarray(d->inet, d->n_inet + 1, sizeof(*s));

		if (!s)
			goto oom;
		d->inet = s;
		r = sockdiag_parse_inet(nlh, c->protocol, &d->inet[d->n_inet]);
		/* request sockets of a listener (TCP_NEW_SYN_RECV) have no inode */
		if (r >= 0 && d->inet[d->n_inet].ino)
			d->n_inet++;
	}
	if (r < 0) {
		log_debug("sock_diag: an answer that does not parse");
		c->err = r;
		return NL_STOP;
	}
	return NL_OK;
oom:
	c->err = -ENOMEM;
	return NL_STOP;
}

/* states: TCPF_* bits of the sockets wanted (0: none; the kernel still says whether it knows family) */
static int dump_family(struct nl_sock *sk, int family, uint8_t protocol, uint32_t states, struct sockdiag *d)
{
	struct collect c = { .d = d, .family = family, .protocol = protocol };
	int r;

	if (family == AF_UNIX) {
		struct unix_diag_req req = {
			.sdiag_family = AF_UNIX,
			.udiag_states = states,
			.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS |
				      UDIAG_SHOW_RQLEN,
		};

		r = nl_send_simple(sk, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, &req, sizeof(req));
	} else if (family == AF_NETLINK) {
		struct netlink_diag_req req = {
			.sdiag_family = AF_NETLINK,
			.sdiag_protocol = protocol,
			.ndiag_show = NDIAG_SHOW_MEMINFO | NDIAG_SHOW_FLAGS,
		};

		r = nl_send_simple(sk, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, &req, sizeof(req));
	} else {
		/* every state: TCP_BOUND_INACTIVE (bound, not listening) too where the kernel has it */
		struct inet_diag_req_v2 req = {
			.sdiag_family = (uint8_t)family,
			.sdiag_protocol = protocol,
			.idiag_states = states,
			/* and what comes with it: whether TCP-MD5 signs the connection */
			.idiag_ext = 1 << (INET_DIAG_INFO - 1),
		};

		r = nl_send_simple(sk, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, &req, sizeof(req));
	}
	if (r < 0) {
		log_debug("sock_diag: cannot send a request: %s", nl_geterror(r));
		return -EIO;
	}
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_msg, &c);
	r = nl_recvmsgs_default(sk);
	if (c.err)
		return c.err;
	if (r < 0) {
		/* the kernel refuses an unknown family or protocol: the diag module is missing */
		log_debug("sock_diag: family %d protocol %u: %s", family, protocol, nl_geterror(r));
		return r == -NLE_OBJ_NOTFOUND || r == -NLE_NOADDR || r == -NLE_OPNOTSUPP ? -EOPNOTSUPP : -EIO;
	}
	return 0;
}

int proc_nl_open(int protocol, struct nl_sock **ret)
{
	struct nl_sock *sk = nl_socket_alloc();
	int r;

	if (!sk)
		return -NLE_NOMEM;
	nl_socket_disable_auto_ack(sk);
	nl_socket_enable_msg_peek(sk);
	r = nl_connect(sk, protocol);
	if (r < 0) {
		nl_socket_free(sk);
		return r;
	}
	*ret = sk;
	return 0;
}

/* one request answered and read, so that the kernel knows the size we read with */
static void prime(struct nl_sock *sk)
{
	struct unix_diag_req req = { .sdiag_family = AF_UNIX, .udiag_ino = 0,
				     .udiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE } };
	int r = nl_send_simple(sk, SOCK_DIAG_BY_FAMILY, 0, &req, sizeof(req));

	/* the answer is an error: no socket has inode 0 */
	if (r >= 0)
		r = nl_recvmsgs_default(sk);
	log_debug("sock_diag: first answer read: %s", r < 0 ? nl_geterror(r) : "no error");
}

static int open_diag(struct nl_sock **ret)
{
	int r = proc_nl_open(NETLINK_SOCK_DIAG, ret);

	if (r == -NLE_NOMEM)
		return -ENOMEM;
	if (r < 0) {
		log_debug("sock_diag: cannot connect: %s", nl_geterror(r));
		return -EOPNOTSUPP;
	}
	/*
	 * The kernel fills each part of a dump up to the size we last read with
	 * (at most 32 KiB), and ends the dump at a socket whose answer does not
	 * fit in an empty part: a listener's waiting connections take 4 bytes
	 * each. It fills the first part as it takes the request, at a page's
	 * size unless we have read already: one answer read first, an error
	 * for a socket that does not exist, sizes every part of what follows.
	 */
	nl_socket_set_msg_buf_size(*ret, 32768);
	prime(*ret);
	return 0;
}

static int cmp_ino(uint64_t x, uint64_t y)
{
	return (x > y) - (x < y);
}

static int cmp_sd_unix(const void *a, const void *b)
{
	return cmp_ino(((const struct sd_unix *)a)->ino, ((const struct sd_unix *)b)->ino);
}

/* a socket connect()s once: only those that closed since (0) share an inode */
static int cmp_sd_icon(const void *a, const void *b)
{
	return cmp_ino(((const struct sd_icon *)a)->ino, ((const struct sd_icon *)b)->ino);
}

static int cmp_sd_inet(const void *a, const void *b)
{
	return cmp_ino(((const struct sd_inet *)a)->ino, ((const struct sd_inet *)b)->ino);
}

static int cmp_sd_netlink(const void *a, const void *b)
{
	return cmp_ino(((const struct sd_netlink *)a)->ino, ((const struct sd_netlink *)b)->ino);
}

/* the answers by inode, for sockdiag_find_*() */
static void sort_answers(struct sockdiag *d)
{
	if (d->n_unix)
		qsort(d->unx, d->n_unix, sizeof(*d->unx), cmp_sd_unix);
	if (d->n_icons)
		qsort(d->icons, d->n_icons, sizeof(*d->icons), cmp_sd_icon);
	if (d->n_inet)
		qsort(d->inet, d->n_inet, sizeof(*d->inet), cmp_sd_inet);
	if (d->n_nl)
		qsort(d->nl, d->n_nl, sizeof(*d->nl), cmp_sd_netlink);
}

int sockdiag_collect(bool with_unix, bool with_inet, struct sockdiag *ret)
{
	static const int families[] = { AF_INET, AF_INET6 };
	static const uint8_t protocols[] = { IPPROTO_TCP, IPPROTO_UDP };
	struct sockdiag d = { 0 };
	struct nl_sock *sk;
	int r;

	r = open_diag(&sk);
	if (r < 0)
		return r;
	if (with_unix)
		r = dump_family(sk, AF_UNIX, 0, ~0u, &d);
	for (size_t f = 0; with_inet && r >= 0 && f < 2; f++)
		for (size_t p = 0; r >= 0 && p < 2; p++)
			r = dump_family(sk, families[f], protocols[p], ~0u, &d);
	nl_socket_free(sk);
	if (r < 0) {
		sockdiag_release(&d);
		return r;
	}
	sort_answers(&d);
	*ret = d;
	return 0;
}

int sockdiag_add_netlink(struct sockdiag *d, uint8_t protocol)
{
	size_t had = d->n_nl, k = had;
	struct nl_sock *sk;
	int r = open_diag(&sk);

	if (r < 0)
		return r;
	r = dump_family(sk, AF_NETLINK, protocol, 0, d);
	nl_socket_free(sk);
	/* those listed before keep their first answer */
	for (size_t i = had; i < d->n_nl; i++)
		if (!had || !bsearch(&d->nl[i], d->nl, had, sizeof(*d->nl), cmp_sd_netlink))
			d->nl[k++] = d->nl[i];
	d->n_nl = k;
	if (d->n_nl)
		qsort(d->nl, d->n_nl, sizeof(*d->nl), cmp_sd_netlink);
	return r;
}

void sockdiag_release(struct sockdiag *d)
{
	if (!d)
		return;
	free(d->unx);
	free(d->icons);
	free(d->inet);
	free(d->nl);
	memset(d, 0, sizeof(*d));
}

const struct sd_unix *sockdiag_find_unix(const struct sockdiag *d, uint64_t ino)
{
	struct sd_unix key = { .ino = ino };

	return d->n_unix ? bsearch(&key, d->unx, d->n_unix, sizeof(key), cmp_sd_unix) : NULL;
}

const struct sd_icon *sockdiag_find_icon(const struct sockdiag *d, uint64_t ino)
{
	struct sd_icon key = { .ino = ino };

	return d->n_icons && ino ? bsearch(&key, d->icons, d->n_icons, sizeof(key), cmp_sd_icon) : NULL;
}

const struct sd_inet *sockdiag_find_inet(const struct sockdiag *d, uint64_t ino)
{
	struct sd_inet key = { .ino = ino };

	return d->n_inet ? bsearch(&key, d->inet, d->n_inet, sizeof(key), cmp_sd_inet) : NULL;
}

const struct sd_netlink *sockdiag_find_netlink(const struct sockdiag *d, uint64_t ino)
{
	struct sd_netlink key = { .ino = ino };

	return d->n_nl ? bsearch(&key, d->nl, d->n_nl, sizeof(key), cmp_sd_netlink) : NULL;
}

bool sockdiag_probe(int family, uint8_t protocol)
{
	struct sockdiag d = { 0 };
	struct nl_sock *sk;
	int r;

	if (open_diag(&sk) < 0)
		return false;
	r = dump_family(sk, family, protocol, 0, &d);
	nl_socket_free(sk);
	sockdiag_release(&d);
	return r >= 0;
}
