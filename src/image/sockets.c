/*
 * Sockets in the image: the Socket message of an fd (files-PID.img) and
 * sockets.img, the unread data of the tree's unix sockets. Queues live in
 * a file of their own, not in the fds: one socket may be held by fds of
 * several processes, and a queue can be megabytes that `memdump show` of
 * a files image need not print. How the pieces fit together (peers,
 * queues, fds sharing a socket) is checked here too, before restore makes
 * anything.
 */
#include "image/sockets.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "image/internal.h"
#include "memdump/cleanup.h"
#include "memdump/image.h"
#include "memdump/log.h"
#include "memdump/sockopts.h"

#define SOCKETS_NAME "sockets.img"

static size_t inet_len(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

/* ---- the options: SockOpts, field by field as md_sockopt_defs[] names them ---- */

static const ProtobufCFieldDescriptor *opt_field(const struct md_sockopt_def *d)
{
	char name[48];
	size_t i;

	for (i = 0; d->name[i] && i < sizeof(name) - 1; i++)
		name[i] = (char)tolower((unsigned char)d->name[i]);
	name[i] = '\0';
	return protobuf_c_message_descriptor_get_field_by_name(&md__sock_opts__descriptor, name);
}

/* o's memberships into m, their texts into pb's allocations */
static int mcast_fill(struct img_sock_pb *pb, Md__SockOpts *m, const struct md_sockopts *o)
{
	const struct md_mcast *mc = md_sockopts_mcast(o);
	uint8_t (*src)[16] = md_sockopts_srcs(o);
	size_t n_text = (size_t)o->n_mcast + o->n_src, t = 0;

	pb->mc = calloc(o->n_mcast, sizeof(*pb->mc));
	pb->mcp = calloc(o->n_mcast, sizeof(*pb->mcp));
	pb->texts = calloc(n_text, sizeof(*pb->texts));
	pb->text = calloc(n_text, sizeof(*pb->text));
	if (!pb->mc || !pb->mcp || !pb->texts || !pb->text)
		return -ENOMEM;
	for (uint32_t i = 0; i < o->n_mcast; i++) {
		Md__McastMembership *e = &pb->mc[i];

		md__mcast_membership__init(e);
		inet_ntop(mc[i].family, mc[i].group, pb->text[t], sizeof(pb->text[t]));
		e->group = pb->text[t++];
		e->ifname = (char *)mc[i].ifname;
		e->ifindex = mc[i].ifindex;
		e->has_include = mc[i].include;
		e->include = mc[i].include;
		e->n_sources = mc[i].n_src;
		e->sources = &pb->texts[t];
		for (uint32_t k = 0; k < mc[i].n_src; k++, t++) {
			inet_ntop(mc[i].family, src[mc[i].src + k], pb->text[t], sizeof(pb->text[t]));
			pb->texts[t] = pb->text[t];
		}
		pb->mcp[i] = e;
	}
	m->n_memberships = o->n_mcast;
	m->memberships = pb->mcp;
	return 0;
}

void img_sock_pb_release(struct img_sock_pb *pb)
{
	free(pb->mc);
	free(pb->mcp);
	free(pb->texts);
	free(pb->text);
	pb->mc = NULL;
	pb->mcp = NULL;
	pb->texts = NULL;
	pb->text = NULL;
}

static int opts_fill(struct img_sock_pb *pb, struct md_sockopts *o)
{
	Md__SockOpts *m = &pb->opts;
	bool any = false;

	md__sock_opts__init(m);
	for (size_t i = 0; o && i < md_n_sockopt_defs; i++) {
		const struct md_sockopt_def *d = &md_sockopt_defs[i];
		const ProtobufCFieldDescriptor *f = opt_field(d);
		char *p;

		/* test_sockopts checks that every option has its field */
		if (!md_sockopt_isset(o, i) || !f)
			continue;
		p = (char *)m + f->offset;
		if (f->type != PROTOBUF_C_TYPE_STRING)
			*(protobuf_c_boolean *)((char *)m + f->quantifier_offset) = true;
		switch (f->type) {
		case PROTOBUF_C_TYPE_BOOL:
			*(protobuf_c_boolean *)p = o->v[i] != 0;
			break;
		case PROTOBUF_C_TYPE_INT32:
			*(int32_t *)p = (int32_t)o->v[i];
			break;
		case PROTOBUF_C_TYPE_INT64:
			*(int64_t *)p = o->v[i];
			break;
		case PROTOBUF_C_TYPE_UINT64:
			*(uint64_t *)p = (uint64_t)o->v[i];
			break;
		default:
			*(char **)p = md_sockopt_str(o, d);
			break;
		}
		any = true;
	}
	if (o && o->n_filter) {
		/* struct sock_filter as this host lays it out (x86_64 only) */
		m->has_so_filter = true;
		m->so_filter.data = (uint8_t *)o->filter;
		m->so_filter.len = o->n_filter * sizeof(o->filter[0]);
		any = true;
	}
	if (o && o->n_mcast) {
		if (mcast_fill(pb, m, o) < 0)
			return -ENOMEM;
		any = true;
	}
	pb->m.opts = any ? m : NULL;
	return 0;
}

static bool name_valid(const char *s)
{
	size_t l = strlen(s);

	if (!l || l >= MD_SOCKOPT_NAME_MAX)
		return false;
	for (size_t i = 0; i < l; i++)
		if (s[i] <= ' ' || s[i] > '~' || s[i] == '/')
			return false;
	return true;
}

/* one option's value from field f of m, checked; -EINVAL if out of its range */
static int opt_value(const struct md_sockopt_def *d, const ProtobufCFieldDescriptor *f, const Md__SockOpts *m,
		     struct md_sockopts *o, size_t i)
{
	const char *p = (const char *)m + f->offset;
	int64_t v;

	switch (f->type) {
	case PROTOBUF_C_TYPE_BOOL:
		v = *(const protobuf_c_boolean *)p != 0;
		break;
	case PROTOBUF_C_TYPE_INT32:
		v = *(const int32_t *)p;
		break;
	case PROTOBUF_C_TYPE_INT64:
		v = *(const int64_t *)p;
		break;
	case PROTOBUF_C_TYPE_UINT64:
		v = (int64_t)*(const uint64_t *)p;
		break;
	default:
		if (d->kind == MD_SOCKOPT_DEV ? !md_ifname_valid(*(char *const *)p, strlen(*(char *const *)p))
					      : !name_valid(*(char *const *)p))
			return -EINVAL;
		strcpy(md_sockopt_str(o, d), *(char *const *)p);
		v = 0;
		break;
	}
	/* a timeout whose seconds fit a time_t; lingering, on, for so many seconds */
	if ((d->kind == MD_SOCKOPT_TIMEO && (v < 0 || v > INT64_MAX / 2)) || (d->kind == MD_SOCKOPT_LINGER && v < 0))
		return -EINVAL;
	o->v[i] = v;
	md_sockopt_mark(o, i);
	return 0;
}

/* one address of a membership: text of the family into out (16 bytes) */
static bool mcast_addr(int family, const char *text, uint8_t out[16])
{
	memset(out, 0, 16);
	return text && inet_pton(family, text, out) == 1;
}

/* how many sources om's memberships have in all, within bounds, into *n_src */
static int mcast_sources(const char *name, int fd, const struct md_sock *s, const Md__SockOpts *om, uint32_t *n_src)
{
	*n_src = 0;
	if (om->n_memberships && !md_sock_is_udp(s))
		return img_invalid(name, "socket fd %d has multicast memberships but is not UDP", fd);
	if (om->n_memberships > MD_MCAST_MAX)
		return img_invalid(name, "socket fd %d: %zu multicast memberships", fd, om->n_memberships);
	for (size_t i = 0; i < om->n_memberships; i++) {
		if (om->memberships[i]->n_sources > MD_MCAST_SRC_MAX - *n_src)
			return img_invalid(name, "socket fd %d: more than %d multicast sources", fd, MD_MCAST_SRC_MAX);
		*n_src += (uint32_t)om->memberships[i]->n_sources;
	}
	return 0;
}

/* om's memberships into o (its filter in, sized for them by mcast_sources()), each checked */
static int mcast_read(const char *name, int fd, const struct md_sock *s, const Md__SockOpts *om,
		      struct md_sockopts *o)
{
	struct md_mcast *mc = md_sockopts_mcast(o);
	uint8_t (*src)[16];
	uint32_t at = 0;

	o->n_mcast = (uint32_t)om->n_memberships;
	src = md_sockopts_srcs(o);
	for (uint32_t i = 0; i < o->n_mcast; i++) {
		const Md__McastMembership *e = om->memberships[i];
		struct md_mcast *m = &mc[i];

		memset(m, 0, sizeof(*m));
		m->family = mcast_addr(AF_INET, e->group, m->group) ? AF_INET : AF_INET6;
		if ((m->family == AF_INET && m->group[0] >> 4 != 0xe) ||
		    (m->family == AF_INET6 && (!mcast_addr(AF_INET6, e->group, m->group) || m->group[0] != 0xff ||
					       s->family != AF_INET6)))
			return img_invalid(name, "socket fd %d: bad multicast group '%s'", fd, e->group);
		if (!md_ifname_valid(e->ifname, strlen(e->ifname)) || !e->ifindex || e->ifindex > INT32_MAX)
			return img_invalid(name, "socket fd %d: multicast group %s on a bad interface", fd, e->group);
		for (uint32_t k = 0; k < i; k++)
			if (mc[k].family == m->family && !memcmp(mc[k].group, m->group, sizeof(m->group)) &&
			    !strcmp(mc[k].ifname, e->ifname))
				return img_invalid(name, "socket fd %d: multicast group %s on '%s' twice", fd, e->group,
						   e->ifname);
		if (e->include && !e->n_sources)
			return img_invalid(name, "socket fd %d: multicast group %s with %zu sources", fd, e->group,
					   e->n_sources);
		m->include = e->include;
		m->ifindex = e->ifindex;
		strcpy(m->ifname, e->ifname);
		m->src = at;
		m->n_src = (uint32_t)e->n_sources;
		for (size_t k = 0; k < e->n_sources; k++)
			if (!mcast_addr(m->family, e->sources[k], src[at++]))
				return img_invalid(name, "socket fd %d: multicast group %s, bad source '%s'", fd,
						   e->group, e->sources[k]);
	}
	o->n_src = at;
	return 0;
}

/* s, read so far, with its options (m->opts) as *ret */
static int opts_read(const char *name, int fd, const Md__Socket *m, struct md_sock *s, struct md_sock *ret)
{
	const Md__SockOpts *om = m->opts;
	struct md_sockopts *o;
	uint32_t nf = 0, n_src;
	int r;

	s->peek_off = m->has_peek_off ? m->peek_off : -1;
	s->sndbuf = m->has_sndbuf ? m->sndbuf : 0;
	s->rcvbuf = m->has_rcvbuf ? m->rcvbuf : 0;
	if (s->sndbuf > INT32_MAX || s->rcvbuf > INT32_MAX)
		return img_invalid(name, "socket fd %d: buffer of %u bytes", fd,
				   s->sndbuf > s->rcvbuf ? s->sndbuf : s->rcvbuf);
	s->opts = NULL;
	if (!om) {
		*ret = *s;
		return 0;
	}
	if (om->has_so_filter) {
		if (!om->so_filter.len || om->so_filter.len % sizeof(o->filter[0]) ||
		    om->so_filter.len / sizeof(o->filter[0]) > MD_SOCKOPT_FILTER_MAX)
			return img_invalid(name, "socket fd %d: a filter of %zu bytes", fd, om->so_filter.len);
		nf = (uint32_t)(om->so_filter.len / sizeof(o->filter[0]));
	}
	if ((r = mcast_sources(name, fd, s, om, &n_src)) < 0)
		return r;
	o = calloc(1, md_sockopts_size(nf, (uint32_t)om->n_memberships, n_src));
	if (!o)
		return -ENOMEM;
	for (size_t i = 0; i < md_n_sockopt_defs; i++) {
		const struct md_sockopt_def *d = &md_sockopt_defs[i];
		const ProtobufCFieldDescriptor *f = opt_field(d);
		const char *p = f ? (const char *)om + f->offset : NULL;
		bool has;

		if (!f)
			continue;
		if (f->type == PROTOBUF_C_TYPE_STRING)
			has = *(char *const *)p != NULL;
		else
			has = *(const protobuf_c_boolean *)((const char *)om + f->quantifier_offset);
		if (!has)
			continue;
		if (!md_sockopt_applies(d, s)) {
			free(o);
			return img_invalid(name, "socket fd %d has %s, which is not an option of its kind", fd,
					   d->name);
		}
		if (opt_value(d, f, om, o, i) < 0) {
			free(o);
			return img_invalid(name, "socket fd %d: bad value of %s", fd, d->name);
		}
	}
	o->n_filter = nf;
	if (nf)
		memcpy(o->filter, om->so_filter.data, om->so_filter.len);
	if ((r = mcast_read(name, fd, s, om, o)) < 0) {
		free(o);
		return r;
	}
	s->opts = o;
	*ret = *s;
	return 0;
}

/* ---- a socket ---- */

int img_sock_fill(struct img_sock_pb *pb, const struct md_sock *s)
{
	Md__Socket *m = &pb->m;

	md__socket__init(m);
	m->ino = s->ino;
	m->family = (uint32_t)s->family;
	m->type = (uint32_t)s->type;
	m->protocol = (uint32_t)s->protocol;
	m->state = (uint32_t)s->state;
	m->has_backlog = s->state == TCP_LISTEN;
	m->backlog = s->backlog;
	m->has_shutdown = s->shutdown != 0;
	m->shutdown = s->shutdown;
	m->has_peek_off = s->peek_off != -1;
	m->peek_off = s->peek_off;
	if (opts_fill(pb, s->opts) < 0)
		return -ENOMEM;
	if (s->family == AF_UNIX) {
		m->has_peer_ino = s->peer_ino != 0;
		m->peer_ino = s->peer_ino;
		m->has_pending_on = m->has_pending_pos = s->pending_on != 0;
		m->pending_on = s->pending_on;
		m->pending_pos = s->pending_pos;
		if (s->name_len && s->name[0]) {
			memcpy(pb->path, s->name, s->name_len);
			pb->path[s->name_len] = '\0';
			m->path = pb->path;
			m->has_path_mode = m->has_path_uid = m->has_path_gid = true;
			m->path_mode = s->path_mode;
			m->path_uid = s->path_uid;
			m->path_gid = s->path_gid;
		} else if (s->name_len) {
			m->has_abstract = true;
			m->abstract.data = (uint8_t *)s->name + 1;
			m->abstract.len = s->name_len - 1;
		}
		m->has_passcred = s->passcred;
		m->passcred = s->passcred;
		m->has_sndbuf = m->has_rcvbuf = true;
		m->sndbuf = s->sndbuf;
		m->rcvbuf = s->rcvbuf;
		return 0;
	}
	m->has_sndbuf = s->sndbuf != 0;
	m->sndbuf = s->sndbuf;
	m->has_rcvbuf = s->rcvbuf != 0;
	m->rcvbuf = s->rcvbuf;
	if (s->family == AF_NETLINK) {
		size_t words = MD_NL_GROUP_WORDS;

		while (words && !s->nl_groups[words - 1])
			words--;
		m->has_nl_portid = s->nl_portid != 0;
		m->nl_portid = s->nl_portid;
		m->n_nl_groups = words;
		m->nl_groups = (uint32_t *)s->nl_groups;
		m->has_nl_dst_portid = s->nl_dst_portid != 0;
		m->nl_dst_portid = s->nl_dst_portid;
		m->has_nl_dst_group = s->nl_dst_group != 0;
		m->nl_dst_group = s->nl_dst_group;
		m->has_nl_listen_all_nsid = s->nl_all_nsid;
		m->nl_listen_all_nsid = s->nl_all_nsid;
		m->has_passcred = s->passcred;
		m->passcred = s->passcred;
		return 0;
	}
	inet_ntop(s->family, s->addr, pb->addr, sizeof(pb->addr));
	m->addr = pb->addr;
	m->has_port = true;
	m->port = s->port;
	m->has_scope_id = s->scope_id != 0;
	m->scope_id = s->scope_id;
	if (s->peer_port) {
		inet_ntop(s->family, s->peer_addr, pb->peer, sizeof(pb->peer));
		m->peer_addr = pb->peer;
		m->has_peer_port = true;
		m->peer_port = s->peer_port;
	}
	m->has_reuseaddr = s->reuseaddr;
	m->reuseaddr = s->reuseaddr;
	m->has_reuseport = s->reuseport;
	m->reuseport = s->reuseport;
	m->has_v6only = s->v6only;
	m->v6only = s->v6only;
	return 0;
}

static bool unix_type_valid(uint32_t t)
{
	return t == SOCK_STREAM || t == SOCK_DGRAM || t == SOCK_SEQPACKET;
}

int img_sock_read(const char *name, int fd, const Md__Socket *m, struct md_sock *ret)
{
	struct md_sock s = { .peek_off = -1 };

	s.ino = m->ino;
	s.family = (int)m->family;
	s.type = (int)m->type;
	s.protocol = (int)m->protocol;
	s.state = (int)m->state;
	s.backlog = m->has_backlog ? m->backlog : 0;
	s.shutdown = m->has_shutdown ? m->shutdown : 0;
	if (!s.ino)
		return img_invalid(name, "socket fd %d has no inode", fd);
	if (s.shutdown & ~(uint32_t)(MD_SOCK_SHUT_RD | MD_SOCK_SHUT_WR))
		return img_invalid(name, "socket fd %d: shutdown %#x", fd, s.shutdown);
	if (m->backlog > (1u << 30))
		return img_invalid(name, "socket fd %d: backlog %u", fd, m->backlog);

	if (s.family != AF_NETLINK &&
	    (m->has_nl_portid || m->n_nl_groups || m->has_nl_dst_portid || m->has_nl_dst_group ||
	     m->has_nl_listen_all_nsid))
		return img_invalid(name, "socket fd %d of family %d has netlink addresses", fd, s.family);
	if (s.family == AF_UNIX) {
		if (!unix_type_valid(m->type) || m->protocol)
			return img_invalid(name, "unix socket fd %d of type %u, protocol %u", fd, m->type, m->protocol);
		if (s.state != TCP_ESTABLISHED && s.state != TCP_CLOSE && s.state != TCP_LISTEN)
			return img_invalid(name, "unix socket fd %d in state %d", fd, s.state);
		if (m->path && m->has_abstract)
			return img_invalid(name, "unix socket fd %d has a path and an abstract name", fd);
		if (m->path) {
			size_t l = strlen(m->path);

			if (m->path[0] != '/' || l >= MD_SOCK_NAME_MAX)
				return img_invalid(name, "unix socket fd %d: bad path '%s'", fd, m->path);
			memcpy(s.name, m->path, l);
			s.name_len = (uint32_t)l;
		} else if (m->has_abstract) {
			if (m->abstract.len + 1 > MD_SOCK_NAME_MAX)
				return img_invalid(name, "unix socket fd %d: abstract name of %zu bytes", fd,
						   m->abstract.len);
			s.name[0] = '\0';
			if (m->abstract.len)	/* protobuf-c gives no buffer for empty bytes */
				memcpy(s.name + 1, m->abstract.data, m->abstract.len);
			s.name_len = (uint32_t)m->abstract.len + 1;
		}
		if (s.state == TCP_LISTEN && (!s.name_len || s.type == SOCK_DGRAM))
			return img_invalid(name, "unix socket fd %d listens without a name or as a datagram socket", fd);
		s.peer_ino = m->has_peer_ino ? m->peer_ino : 0;
		if (s.peer_ino == s.ino)
			return img_invalid(name, "unix socket fd %d is its own peer", fd);
		if (s.peer_ino && s.state != TCP_ESTABLISHED)
			return img_invalid(name, "unix socket fd %d has a peer but is not connected", fd);
		s.pending_on = m->has_pending_on ? m->pending_on : 0;
		s.pending_pos = m->has_pending_pos ? m->pending_pos : 0;
		if (m->has_pending_on != m->has_pending_pos || (m->has_pending_on && !s.pending_on))
			return img_invalid(name, "unix socket fd %d: a place in a backlog without a listener, or the "
					   "other way round", fd);
		if (s.pending_on && (s.pending_on == s.ino || s.peer_ino || s.state != TCP_ESTABLISHED ||
				     s.type == SOCK_DGRAM))
			return img_invalid(name, "unix socket fd %d waits in a backlog but is its own listener, has a "
					   "peer, is not connected or is a datagram socket", fd);
		/*
		 * A connected stream without a peer: one whose peer closed (and shut
		 * it down both ways), or one waiting in a listener's backlog.
		 */
		if (!s.peer_ino && !s.pending_on && s.state == TCP_ESTABLISHED && s.type != SOCK_DGRAM &&
		    s.shutdown != (MD_SOCK_SHUT_RD | MD_SOCK_SHUT_WR))
			return img_invalid(name, "unix socket fd %d is connected to no peer but not shut down", fd);
		s.path_mode = m->path_mode;
		s.path_uid = m->path_uid;
		s.path_gid = m->path_gid;
		s.passcred = m->has_passcred && m->passcred;
		return opts_read(name, fd, m, &s, ret);
	}

	if (s.family == AF_NETLINK) {
		if ((s.type != SOCK_RAW && s.type != SOCK_DGRAM) || m->protocol >= MD_NL_PROTOCOLS ||
		    s.state != TCP_CLOSE)
			return img_invalid(name, "netlink socket fd %d of type %d, protocol %u, state %d", fd, s.type,
					   m->protocol, s.state);
		if (m->n_nl_groups > MD_NL_GROUP_WORDS || (m->has_nl_dst_group && m->nl_dst_group > 32))
			return img_invalid(name, "netlink socket fd %d: %zu words of groups, destination group %u", fd,
					   m->n_nl_groups, m->has_nl_dst_group ? m->nl_dst_group : 0);
		if (m->path || m->has_abstract || m->addr || m->peer_addr || m->has_peer_ino || m->has_pending_on ||
		    m->has_pending_pos || s.backlog || s.shutdown)
			return img_invalid(name, "netlink socket fd %d has what only unix or inet sockets have", fd);
		s.nl_portid = m->has_nl_portid ? m->nl_portid : 0;
		if (m->n_nl_groups)
			memcpy(s.nl_groups, m->nl_groups, m->n_nl_groups * sizeof(*m->nl_groups));
		s.nl_dst_portid = m->has_nl_dst_portid ? m->nl_dst_portid : 0;
		s.nl_dst_group = m->has_nl_dst_group ? m->nl_dst_group : 0;
		s.nl_all_nsid = m->has_nl_listen_all_nsid && m->nl_listen_all_nsid;
		s.passcred = m->has_passcred && m->passcred;
		return opts_read(name, fd, m, &s, ret);
	}
	if (s.family != AF_INET && s.family != AF_INET6)
		return img_invalid(name, "socket fd %d of family %d", fd, s.family);
	if (!((s.type == SOCK_STREAM && s.protocol == IPPROTO_TCP) || (s.type == SOCK_DGRAM && s.protocol == IPPROTO_UDP)))
		return img_invalid(name, "inet socket fd %d of type %d, protocol %d", fd, s.type, s.protocol);
	if (s.state != TCP_CLOSE && s.state != TCP_ESTABLISHED &&
	    (s.protocol != IPPROTO_TCP ||
	     (s.state != TCP_LISTEN && s.state != TCP_SYN_SENT && !md_tcp_state_conn(s.state))))
		return img_invalid(name, "inet socket fd %d in state %d", fd, s.state);
	if (!m->addr || inet_pton(s.family, m->addr, s.addr) != 1)
		return img_invalid(name, "inet socket fd %d: bad address '%s'", fd, m->addr ? m->addr : "");
	if (!m->has_port || m->port > 65535 || (m->has_peer_port && m->peer_port > 65535))
		return img_invalid(name, "inet socket fd %d: bad port", fd);
	s.port = (uint16_t)m->port;
	s.scope_id = m->has_scope_id ? m->scope_id : 0;
	if (s.state == TCP_LISTEN && !s.port)
		return img_invalid(name, "TCP socket fd %d listens on no port", fd);
	if ((md_tcp_state_conn(s.state) || s.state == TCP_SYN_SENT) !=
	    (m->peer_addr != NULL && m->has_peer_port && m->peer_port))
		return img_invalid(name, "inet socket fd %d: connected without a peer address, or the reverse", fd);
	if (m->peer_addr) {
		if (inet_pton(s.family, m->peer_addr, s.peer_addr) != 1)
			return img_invalid(name, "inet socket fd %d: bad peer address '%s'", fd, m->peer_addr);
		s.peer_port = (uint16_t)m->peer_port;
	}
	s.reuseaddr = m->has_reuseaddr && m->reuseaddr;
	s.reuseport = m->has_reuseport && m->reuseport;
	s.v6only = m->has_v6only && m->v6only;
	if (s.v6only && s.family != AF_INET6)
		return img_invalid(name, "IPv4 socket fd %d is IPv6-only", fd);
	return opts_read(name, fd, m, &s, ret);
}

int image_write_sockets(int dirfd, const struct md_sock_queue *q, size_t n)
{
	Md__SocketsImage m = MD__SOCKETS_IMAGE__INIT;
	_cleanup_free_ Md__SocketQueue *e = calloc(n ? n : 1, sizeof(*e));
	_cleanup_free_ Md__SocketQueue **ep = calloc(n ? n : 1, sizeof(*ep));
	size_t total = 0;
	ProtobufCBinaryData *pk;
	int r;

	for (size_t i = 0; i < n; i++)
		total += q[i].n_pkts;
	pk = calloc(total ? total : 1, sizeof(*pk));
	if (!e || !ep || !pk) {
		free(pk);
		return log_err(-ENOMEM, "cannot write image '%s'", SOCKETS_NAME);
	}
	total = 0;
	for (size_t i = 0; i < n; i++) {
		size_t off = 0;

		md__socket_queue__init(&e[i]);
		e[i].ino = q[i].ino;
		e[i].packets = &pk[total];
		e[i].n_packets = q[i].n_pkts;
		for (size_t k = 0; k < q[i].n_pkts; k++) {
			pk[total + k].data = q[i].data + off;
			pk[total + k].len = q[i].pkt_len[k];
			off += q[i].pkt_len[k];
		}
		total += q[i].n_pkts;
		ep[i] = &e[i];
	}
	m.n_queues = n;
	m.queues = ep;
	r = img_write_msg(dirfd, SOCKETS_NAME, MD_IMG_SOCKETS, &m.base);
	free(pk);
	return r;
}

static int copy_queue(const Md__SocketQueue *s, struct md_sock_queue *q)
{
	size_t len = 0, off = 0;

	for (size_t k = 0; k < s->n_packets; k++)
		len += s->packets[k].len;
	q->ino = s->ino;
	q->data = malloc(len ? len : 1);
	q->pkt_len = calloc(s->n_packets ? s->n_packets : 1, sizeof(*q->pkt_len));
	if (!q->data || !q->pkt_len)
		return -ENOMEM;
	for (size_t k = 0; k < s->n_packets; k++) {
		if (s->packets[k].len)	/* an empty packet may have no data pointer */
			memcpy(q->data + off, s->packets[k].data, s->packets[k].len);
		q->pkt_len[k] = (uint32_t)s->packets[k].len;
		off += s->packets[k].len;
	}
	q->len = len;
	q->n_pkts = s->n_packets;
	return 0;
}

static int cmp_queue(const void *a, const void *b)
{
	uint64_t x = ((const struct md_sock_queue *)a)->ino, y = ((const struct md_sock_queue *)b)->ino;

	return (x > y) - (x < y);
}

int image_read_sockets(int dirfd, struct md_sock_queue **ret, size_t *ret_n)
{
	_cleanup_msg_ ProtobufCMessage *raw = NULL;
	Md__SocketsImage *m;
	struct md_sock_queue *q;
	int r;

	*ret = NULL;
	*ret_n = 0;
	r = img_read_msg_opt(dirfd, SOCKETS_NAME, MD_IMG_SOCKETS, &raw);
	if (r <= 0)
		return r;
	m = (Md__SocketsImage *)raw;
	for (size_t i = 0; i < m->n_queues; i++) {
		if (!m->queues[i]->ino)
			return img_invalid(SOCKETS_NAME, "a queue of no socket");
		for (size_t k = 0; k < m->queues[i]->n_packets; k++)
			if (m->queues[i]->packets[k].len > UINT32_MAX)
				return img_invalid(SOCKETS_NAME, "a packet of %zu bytes", m->queues[i]->packets[k].len);
	}
	q = calloc(m->n_queues ? m->n_queues : 1, sizeof(*q));
	if (!q)
		return log_err(-ENOMEM, "cannot read image '%s'", SOCKETS_NAME);
	for (size_t i = 0; i < m->n_queues; i++) {
		if (copy_queue(m->queues[i], &q[i]) < 0) {
			for (size_t j = 0; j <= i; j++)
				md_sock_queue_release(&q[j]);
			free(q);
			return log_err(-ENOMEM, "cannot read image '%s'", SOCKETS_NAME);
		}
	}
	if (m->n_queues)
		qsort(q, m->n_queues, sizeof(*q), cmp_queue);
	for (size_t i = 1; i < m->n_queues; i++)
		if (q[i].ino == q[i - 1].ino) {
			uint64_t ino = q[i].ino;

			for (size_t j = 0; j < m->n_queues; j++)
				md_sock_queue_release(&q[j]);
			free(q);
			return img_invalid(SOCKETS_NAME, "socket %llu has two queues", (unsigned long long)ino);
		}
	*ret = q;
	*ret_n = m->n_queues;
	return 0;
}

const struct md_sock_queue *image_find_queue(const struct md_sock_queue *q, size_t n, uint64_t ino)
{
	struct md_sock_queue key = { .ino = ino };

	return n ? bsearch(&key, q, n, sizeof(*q), cmp_queue) : NULL;
}

/* ---- the whole image ---- */

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool same_sock(const struct md_sock *a, const struct md_sock *b)
{
	return a->family == b->family && a->type == b->type && a->protocol == b->protocol && a->state == b->state &&
	       a->peer_ino == b->peer_ino && a->pending_on == b->pending_on && a->pending_pos == b->pending_pos &&
	       a->name_len == b->name_len && !memcmp(a->name, b->name, a->name_len) &&
	       a->port == b->port && !memcmp(a->addr, b->addr, inet_len(a->family)) && a->nl_portid == b->nl_portid &&
	       a->nl_dst_portid == b->nl_dst_portid && a->nl_dst_group == b->nl_dst_group &&
	       a->nl_all_nsid == b->nl_all_nsid &&
	       !memcmp(a->nl_groups, b->nl_groups, sizeof(a->nl_groups));
}

/* no two connections in one place of a listener's backlog */
static int check_backlogs(const struct md_socks *socks, char *err, size_t errlen)
{
	const struct md_fd **p;
	size_t n;
	int r = md_socks_pending(socks, &p, &n);

	for (size_t i = 1; r >= 0 && i < n; i++)
		if (p[i]->sock.pending_on == p[i - 1]->sock.pending_on &&
		    p[i]->sock.pending_pos == p[i - 1]->sock.pending_pos)
			r = fail(err, errlen, "sockets %llu and %llu are both at place %u of the backlog of "
				 "socket %llu",
				 (unsigned long long)p[i - 1]->sock.ino, (unsigned long long)p[i]->sock.ino,
				 p[i]->sock.pending_pos, (unsigned long long)p[i]->sock.pending_on);
	if (r != -ENOMEM)
		free(p);
	return r;
}

int image_check_sockets(const struct md_socks *socks, const struct md_proc *procs, size_t n,
			const struct md_sock_queue *q, size_t nq, char *err, size_t errlen)
{
	int r;

	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < procs[i].n_fds; k++) {
			const struct md_fd *f = &procs[i].fds[k], *g, *peer;
			const struct md_sock *s = &f->sock;
			pid_t gp = 0;

			if (!md_fd_is_sock(f))
				continue;
			if ((f->kind == MD_FD_UNIX_SOCKET) != (s->family == AF_UNIX) ||
			    (f->kind == MD_FD_NETLINK_SOCKET) != (s->family == AF_NETLINK))
				return fail(err, errlen, "fd %d of %d: a socket of family %d as kind %d", f->fd,
					    procs[i].pid, s->family, f->kind);
			g = md_socks_find(socks, s->ino, &gp);
			if (g != f && (g->ofd != f->ofd || !same_sock(&g->sock, s)))
				return fail(err, errlen, "fd %d of %d and fd %d of %d are socket %llu but disagree about it",
					    f->fd, procs[i].pid, g->fd, gp, (unsigned long long)s->ino);
			if (f->kind == MD_FD_UNIX_SOCKET && s->pending_on) {
				peer = md_socks_find(socks, s->pending_on, NULL);
				if (!peer || peer->kind != MD_FD_UNIX_SOCKET || peer->sock.state != TCP_LISTEN ||
				    peer->sock.type != s->type)
					return fail(err, errlen, "fd %d of %d waits in the backlog of socket %llu, "
						    "which is not a listening unix socket of the image of the same "
						    "type", f->fd, procs[i].pid, (unsigned long long)s->pending_on);
			}
			if (f->kind != MD_FD_UNIX_SOCKET || !s->peer_ino)
				continue;
			peer = md_socks_find(socks, s->peer_ino, NULL);
			if (!peer || peer->kind != MD_FD_UNIX_SOCKET || peer->sock.type != s->type)
				return fail(err, errlen, "fd %d of %d: its peer, socket %llu, is not a unix socket of the "
					    "image of the same type", f->fd, procs[i].pid, (unsigned long long)s->peer_ino);
			/* a stream is connected both ways; a datagram socket may be connected to a named one */
			if (peer->sock.peer_ino != s->ino && (s->type != SOCK_DGRAM || !peer->sock.name_len))
				return fail(err, errlen, "fd %d of %d: its peer, socket %llu, is connected elsewhere",
					    f->fd, procs[i].pid, (unsigned long long)s->peer_ino);
		}
	}
	r = check_backlogs(socks, err, errlen);
	if (r < 0)
		return r;
	for (size_t i = 0; i < nq; i++) {
		const struct md_fd *f = md_socks_find(socks, q[i].ino, NULL);
		size_t len = 0;

		for (size_t k = 0; k < q[i].n_pkts; k++)
			len += q[i].pkt_len[k];
		if (len != q[i].len)
			return fail(err, errlen, "the queue of socket %llu does not add up", (unsigned long long)q[i].ino);
		if (!f)
			return fail(err, errlen, "a queue of socket %llu, which no fd holds", (unsigned long long)q[i].ino);
		if (!md_sock_refillable(socks, &f->sock))
			return fail(err, errlen, "a queue of socket %llu (fd %d), which has no peer end to send it",
				    (unsigned long long)q[i].ino, f->fd);
	}
	return 0;
}
