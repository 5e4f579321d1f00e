/*
 * Socket options in images: every option of the table has its SockOpts
 * field (named after it, of a type that holds it) and the reverse; a
 * socket's options written and read back; values out of range, options
 * of another kind of socket, malformed filters and multicast memberships
 * refused on reading.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "memdump/image.h"
#include "memdump/model.h"
#include "memdump/sockopts.h"
#include "image/sockets.h"
#include "dirsuite.h"

TestSuite(image_sockopts, .init = synth_dir_setup, .fini = synth_dir_teardown);

static const ProtobufCFieldDescriptor *field_of(const char *name)
{
	char lower[48];
	size_t i;

	for (i = 0; name[i] && i < sizeof(lower) - 1; i++)
		lower[i] = (char)tolower((unsigned char)name[i]);
	lower[i] = '\0';
	return protobuf_c_message_descriptor_get_field_by_name(&md__sock_opts__descriptor, lower);
}

static ProtobufCType type_for(uint8_t kind)
{
	switch (kind) {
	case MD_SOCKOPT_BOOL:
		return PROTOBUF_C_TYPE_BOOL;
	case MD_SOCKOPT_INT:
	case MD_SOCKOPT_LINGER:
		return PROTOBUF_C_TYPE_INT32;
	case MD_SOCKOPT_TIMEO:
		return PROTOBUF_C_TYPE_INT64;
	case MD_SOCKOPT_U64:
		return PROTOBUF_C_TYPE_UINT64;
	default:
		return PROTOBUF_C_TYPE_STRING;
	}
}

Test(image_sockopts, table_and_message_agree)
{
	const ProtobufCMessageDescriptor *d = &md__sock_opts__descriptor;

	cr_assert_lt(md_n_sockopt_defs, MD_SOCKOPT_MAX);
	for (size_t i = 0; i < md_n_sockopt_defs; i++) {
		const ProtobufCFieldDescriptor *f = field_of(md_sockopt_defs[i].name);

		cr_assert_not_null(f, "%s has no field", md_sockopt_defs[i].name);
		cr_assert_eq(f->type, type_for(md_sockopt_defs[i].kind), "%s: field of another type",
			     md_sockopt_defs[i].name);
		cr_assert_eq(f->label, PROTOBUF_C_LABEL_OPTIONAL);
		/* the image's order is the table's: field numbers follow it */
		cr_assert_eq(f->id, i + 1, "%s is field %u, not %zu", md_sockopt_defs[i].name, f->id, i + 1);
		cr_assert_eq(md_sockopt_find(md_sockopt_defs[i].level, md_sockopt_defs[i].opt), i,
			     "%s is in the table twice", md_sockopt_defs[i].name);
	}
	/* every field but the filter and the memberships is an option of the table */
	cr_assert_eq(d->n_fields, md_n_sockopt_defs + 2);
	cr_assert_not_null(protobuf_c_message_descriptor_get_field_by_name(d, "so_filter"));
	cr_assert_not_null(protobuf_c_message_descriptor_get_field_by_name(d, "memberships"));
	cr_assert_eq(md_sockopt_find(SOL_SOCKET, SO_ACCEPTCONN), md_n_sockopt_defs);
}

static struct md_sockopts *opts_with(uint32_t n_filter)
{
	struct md_sockopts *o = calloc(1, md_sockopts_size(n_filter, 0, 0));

	cr_assert_not_null(o);
	o->n_filter = n_filter;
	for (uint32_t k = 0; k < n_filter; k++)
		o->filter[k] = (struct md_bpf_insn){ .code = (uint16_t)(6 + k), .jt = 1, .jf = 2, .k = 0xffff0000u + k };
	return o;
}

/* o grown for memberships: 239.1.2.3 on eth0, 232.1.1.1 from 10.0.0.1 and .2 only, 239.4.4.4 but from 10.9.9.9 */
static struct md_sockopts *with_mcast(struct md_sockopts *o)
{
	static const struct {
		const char *group, *ifname;
		uint32_t ifindex;
		bool include;
		const char *src[2];
	} m[] = {
		{ "239.1.2.3", "eth0", 2, false, { NULL } },
		{ "232.1.1.1", "lo", 1, true, { "10.0.0.1", "10.0.0.2" } },
		{ "239.4.4.4", "eth0.100", 7, false, { "10.9.9.9" } },
	};
	struct md_mcast *mc;
	uint8_t(*src)[16];
	uint32_t at = 0;

	o = realloc(o, md_sockopts_size(o->n_filter, 3, 3));
	cr_assert_not_null(o);
	o->n_mcast = 3;
	o->n_src = 3;
	mc = md_sockopts_mcast(o);
	src = md_sockopts_srcs(o);
	memset(mc, 0, 3 * sizeof(*mc) + 3 * sizeof(*src));
	for (size_t i = 0; i < 3; i++) {
		mc[i].family = AF_INET;
		cr_assert_eq(inet_pton(AF_INET, m[i].group, mc[i].group), 1);
		strcpy(mc[i].ifname, m[i].ifname);
		mc[i].ifindex = m[i].ifindex;
		mc[i].include = m[i].include;
		mc[i].src = at;
		for (size_t k = 0; k < 2 && m[i].src[k]; k++, mc[i].n_src++)
			cr_assert_eq(inet_pton(AF_INET, m[i].src[k], src[at++]), 1);
	}
	return o;
}

static void set_opt(struct md_sockopts *o, int level, int opt, int64_t v)
{
	size_t i = md_sockopt_find(level, opt);

	cr_assert_lt(i, md_n_sockopt_defs);
	o->v[i] = v;
	md_sockopt_mark(o, i);
}

static struct md_fd inet_fd(int fd, uint64_t ino, int type, int state, struct md_sockopts *o)
{
	struct md_fd f = { .fd = fd, .kind = MD_FD_INET_SOCKET, .flags = O_RDWR, .dup_of = -1, .ofd = 200 + fd,
			   .mode = 0140777 };

	f.sock = (struct md_sock){ .ino = ino, .family = AF_INET, .type = type,
				   .protocol = type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP, .state = state,
				   .backlog = 5, .port = 8080, .peek_off = -1, .opts = o };
	f.sock.addr[0] = 127;
	f.sock.addr[3] = 1;
	return f;
}

static void opts_proc(struct md_proc *p)
{
	struct md_sockopts *o = opts_with(3), *u = with_mcast(opts_with(2)), *x = opts_with(0);

	memset(p, 0, sizeof(*p));
	p->pid = SYNTH_PID;
	p->umask = 022;
	p->fds = calloc(4, sizeof(*p->fds));
	cr_assert_not_null(p->fds);
	set_opt(o, SOL_SOCKET, SO_KEEPALIVE, 1);
	set_opt(o, SOL_SOCKET, SO_LINGER, 0);
	set_opt(o, SOL_SOCKET, SO_RCVTIMEO, 1500000);
	set_opt(o, SOL_SOCKET, SO_MAX_PACING_RATE, -1);
	set_opt(o, SOL_SOCKET, SO_BUF_LOCK, 3);
	set_opt(o, IPPROTO_IP, IP_TOS, 0x10);
	set_opt(o, IPPROTO_TCP, TCP_KEEPIDLE, 77);
	set_opt(o, IPPROTO_TCP, TCP_CONGESTION, 0);
	strcpy(o->cong, "reno");
	set_opt(o, SOL_SOCKET, SO_BINDTODEVICE, 0);
	strcpy(o->dev, "v\xc3\xa9.100");	/* any name the kernel takes */
	p->fds[0] = inet_fd(3, 3001, SOCK_STREAM, TCP_LISTEN, o);
	p->fds[0].sock.sndbuf = 600000;
	p->fds[0].sock.rcvbuf = 300000;
	set_opt(u, IPPROTO_IP, IP_PKTINFO, 1);
	set_opt(u, SOL_SOCKET, SO_TIMESTAMPING, 0x4000 | 0x80);
	p->fds[1] = inet_fd(4, 3002, SOCK_DGRAM, TCP_CLOSE, u);
	p->fds[1].sock.peek_off = 12;
	p->fds[2] = inet_fd(5, 3003, SOCK_DGRAM, TCP_CLOSE, NULL);
	set_opt(x, SOL_SOCKET, SO_PASSSEC, 1);
	p->fds[3] = (struct md_fd){ .fd = 6, .kind = MD_FD_UNIX_SOCKET, .flags = O_RDWR, .dup_of = -1, .ofd = 206,
				    .mode = 0140777 };
	p->fds[3].sock = (struct md_sock){ .ino = 3004, .family = AF_UNIX, .type = SOCK_DGRAM, .state = TCP_CLOSE,
					   .peek_off = -1, .sndbuf = 4608, .rcvbuf = 4608, .opts = x };
	p->n_fds = 4;
}

static void assert_opts_eq(const struct md_sock *a, const struct md_sock *b)
{
	cr_assert_eq(a->sndbuf, b->sndbuf);
	cr_assert_eq(a->rcvbuf, b->rcvbuf);
	cr_assert_eq(a->peek_off, b->peek_off);
	cr_assert_eq(!a->opts, !b->opts);
	if (!a->opts)
		return;
	for (size_t i = 0; i < md_n_sockopt_defs; i++) {
		cr_assert_eq(md_sockopt_isset(a->opts, i), md_sockopt_isset(b->opts, i), "%s", md_sockopt_defs[i].name);
		if (md_sockopt_isset(a->opts, i))
			cr_assert_eq(a->opts->v[i], b->opts->v[i], "%s", md_sockopt_defs[i].name);
	}
	cr_assert_str_eq(a->opts->cong, b->opts->cong);
	cr_assert_str_eq(a->opts->dev, b->opts->dev);
	cr_assert_eq(a->opts->n_filter, b->opts->n_filter);
	cr_assert_eq(memcmp(a->opts->filter, b->opts->filter, a->opts->n_filter * sizeof(a->opts->filter[0])), 0);
	cr_assert_eq(a->opts->n_mcast, b->opts->n_mcast);
	cr_assert_eq(a->opts->n_src, b->opts->n_src);
	cr_assert_eq(memcmp(md_sockopts_mcast(a->opts), md_sockopts_mcast(b->opts),
			    a->opts->n_mcast * sizeof(struct md_mcast) + a->opts->n_src * 16), 0);
}

Test(image_sockopts, round_trip)
{
	struct md_proc in, out;

	opts_proc(&in);
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	cr_assert_eq(out.n_fds, in.n_fds);
	for (size_t i = 0; i < in.n_fds; i++)
		assert_opts_eq(&in.fds[i].sock, &out.fds[i].sock);
	cr_assert_eq(out.fds[0].sock.opts->v[md_sockopt_find(SOL_SOCKET, SO_MAX_PACING_RATE)], -1);
	cr_assert_eq(out.fds[1].sock.opts->n_mcast, 3);
	cr_assert_eq(md_sockopts_mcast(out.fds[1].sock.opts)[1].n_src, 2);
	md_proc_release(&out);
	md_proc_release(&in);
}

/* fd i with one thing wrong, written as it is: reading it must fail */
static void assert_read_refuses(size_t i, int level, int opt, int64_t v, const char *str)
{
	struct md_proc in, out;
	struct md_sockopts *o;

	opts_proc(&in);
	o = in.fds[i].sock.opts;
	if (!o)
		o = in.fds[i].sock.opts = opts_with(0);
	o->v[md_sockopt_find(level, opt)] = v;
	md_sockopt_mark(o, md_sockopt_find(level, opt));
	if (str)
		strcpy(md_sockopt_str(o, &md_sockopt_defs[md_sockopt_find(level, opt)]), str);
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL, "%d/%d = %lld '%s' read", level, opt,
		     (long long)v, str ? str : "");
	md_proc_release(&in);
}

Test(image_sockopts, malformed_refused)
{
	/* options of another kind of socket */
	assert_read_refuses(3, IPPROTO_IP, IP_TOS, 4, NULL);
	assert_read_refuses(1, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
	assert_read_refuses(0, IPPROTO_UDP, UDP_SEGMENT, 1000, NULL);
	assert_read_refuses(0, IPPROTO_IPV6, IPV6_TCLASS, 4, NULL);
	assert_read_refuses(0, SOL_SOCKET, SO_PASSSEC, 1, NULL);
	/* values out of range */
	assert_read_refuses(0, SOL_SOCKET, SO_LINGER, -1, NULL);
	assert_read_refuses(2, SOL_SOCKET, SO_SNDTIMEO, -5, NULL);
	/* names: empty, with a slash, with a space */
	assert_read_refuses(0, SOL_SOCKET, SO_BINDTODEVICE, 0, "a/b");
	assert_read_refuses(0, SOL_SOCKET, SO_BINDTODEVICE, 0, "a:b");
	assert_read_refuses(0, SOL_SOCKET, SO_BINDTODEVICE, 0, "..");
	assert_read_refuses(0, SOL_SOCKET, SO_BINDTODEVICE, 0, "a b");
	assert_read_refuses(0, IPPROTO_TCP, TCP_CONGESTION, 0, "");
}

/* an unconnected socket of family and protocol with options om, as a writer other than ours could make it */
static void sock_msg(Md__Socket *m, int family, int protocol, Md__SockOpts *om)
{
	md__socket__init(m);
	m->ino = 9;
	m->family = (uint32_t)family;
	m->type = protocol == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM;
	m->protocol = (uint32_t)protocol;
	m->state = TCP_CLOSE;
	m->addr = family == AF_INET ? "0.0.0.0" : "::";
	m->has_port = true;
	m->opts = om;
}

static int read_msg(Md__SockOpts *om)
{
	Md__Socket m;
	struct md_sock s;
	int r;

	sock_msg(&m, AF_INET, IPPROTO_UDP, om);
	r = img_sock_read("files-1.img", 3, &m, &s);
	if (!r)
		free(s.opts);
	return r;
}

Test(image_sockopts, filter_checked)
{
	Md__SockOpts om = MD__SOCK_OPTS__INIT;
	uint8_t prog[8 * 4] = { 6, 0, 0, 0, 0xff, 0xff, 0, 0 };

	om.has_so_filter = true;
	om.so_filter.data = prog;
	om.so_filter.len = 8;
	cr_assert_eq(read_msg(&om), 0);
	om.so_filter.len = 12;
	cr_assert_eq(read_msg(&om), -EINVAL);
	om.so_filter.len = 0;
	cr_assert_eq(read_msg(&om), -EINVAL);
	om.has_so_filter = false;
	om.has_so_rcvtimeo = true;
	om.so_rcvtimeo = INT64_MAX;
	cr_assert_eq(read_msg(&om), -EINVAL);
	om.so_rcvtimeo = 20000000;
	cr_assert_eq(read_msg(&om), 0);
}

/* one membership as a writer other than ours could make it: read alone on a socket of family and protocol */
static int read_membership(int family, int protocol, const char *group, const char *ifname, uint32_t ifindex,
			   bool include, const char *source)
{
	Md__SockOpts om = MD__SOCK_OPTS__INIT;
	Md__McastMembership e = MD__MCAST_MEMBERSHIP__INIT, *ep = &e;
	char *src[1] = { (char *)source };
	Md__Socket m;
	struct md_sock s;
	int r;

	e.group = (char *)group;
	e.ifname = (char *)ifname;
	e.ifindex = ifindex;
	e.has_include = include;
	e.include = include;
	e.n_sources = source ? 1 : 0;
	e.sources = src;
	om.n_memberships = 1;
	om.memberships = &ep;
	sock_msg(&m, family, protocol, &om);
	r = img_sock_read("files-1.img", 3, &m, &s);
	if (!r) {
		const struct md_mcast *mc = md_sockopts_mcast(s.opts);

		cr_assert_eq(s.opts->n_mcast, 1);
		cr_assert_eq(s.opts->n_src, source ? 1 : 0);
		cr_assert_eq(mc->ifindex, ifindex);
		cr_assert_str_eq(mc->ifname, ifname);
		cr_assert_eq(mc->include, include);
		cr_assert_eq(mc->family, strchr(group, ':') ? AF_INET6 : AF_INET);
		free(s.opts);
	}
	return r;
}

Test(image_sockopts, memberships_checked)
{
	cr_assert_eq(read_membership(AF_INET, IPPROTO_UDP, "239.1.2.3", "eth0", 2, false, NULL), 0);
	cr_assert_eq(read_membership(AF_INET, IPPROTO_UDP, "232.1.1.1", "eth0", 2, true, "10.0.0.1"), 0);
	cr_assert_eq(read_membership(AF_INET6, IPPROTO_UDP, "ff05::1", "lo", 1, false, "fd00::1"), 0);
	/* an IPv4 group on an IPv6 socket (joined at SOL_IP) */
	cr_assert_eq(read_membership(AF_INET6, IPPROTO_UDP, "224.0.0.251", "lo", 1, false, NULL), 0);
	/* not a group; an IPv6 group on an IPv4 socket; a TCP socket */
	cr_assert_eq(read_membership(AF_INET, IPPROTO_UDP, "10.1.2.3", "eth0", 2, false, NULL), -EINVAL);
	cr_assert_eq(read_membership(AF_INET6, IPPROTO_UDP, "fd00::1", "eth0", 2, false, NULL), -EINVAL);
	cr_assert_eq(read_membership(AF_INET, IPPROTO_UDP, "ff05::1", "eth0", 2, false, NULL), -EINVAL);
	cr_assert_eq(read_membership(AF_INET, IPPROTO_TCP, "239.1.2.3", "eth0", 2, false, NULL), -EINVAL);
	/* interfaces: any name the kernel takes; a bad name, no index */
	cr_assert_eq(read_membership(AF_INET, IPPROTO_UDP, "239.1.2.3", "v\xc3\xa9\x01", 2, false, NULL), 0);
	cr_assert_eq(read_membership(AF_INET, IPPROTO_UDP, "239.1.2.3", "a:b", 2, false, NULL), -EINVAL);
	cr_assert_eq(read_membership(AF_INET, IPPROTO_UDP, "239.1.2.3", "a/b", 2, false, NULL), -EINVAL);
	cr_assert_eq(read_membership(AF_INET, IPPROTO_UDP, "239.1.2.3", "", 2, false, NULL), -EINVAL);
	cr_assert_eq(read_membership(AF_INET, IPPROTO_UDP, "239.1.2.3", "eth0", 0, false, NULL), -EINVAL);
	/* sources: none to include from, one of the other family, no address */
	cr_assert_eq(read_membership(AF_INET, IPPROTO_UDP, "232.1.1.1", "eth0", 2, true, NULL), -EINVAL);
	cr_assert_eq(read_membership(AF_INET, IPPROTO_UDP, "232.1.1.1", "eth0", 2, true, "fd00::1"), -EINVAL);
	cr_assert_eq(read_membership(AF_INET, IPPROTO_UDP, "239.1.2.3", "eth0", 2, false, "nowhere"), -EINVAL);
}

/* the same group on the same interface twice (however written): refused; on two interfaces: fine */
Test(image_sockopts, membership_twice_refused)
{
	Md__McastMembership a = MD__MCAST_MEMBERSHIP__INIT, b = MD__MCAST_MEMBERSHIP__INIT, *ep[2] = { &a, &b };
	Md__SockOpts om = MD__SOCK_OPTS__INIT;
	Md__Socket m;
	struct md_sock s;

	a.group = "ff05::1";
	b.group = "ff05:0::1";
	a.ifname = b.ifname = "lo";
	a.ifindex = b.ifindex = 1;
	om.n_memberships = 2;
	om.memberships = ep;
	sock_msg(&m, AF_INET6, IPPROTO_UDP, &om);
	cr_assert_eq(img_sock_read("files-1.img", 3, &m, &s), -EINVAL);
	b.ifname = "eth0";
	cr_assert_eq(img_sock_read("files-1.img", 3, &m, &s), 0);
	cr_assert_eq(s.opts->n_mcast, 2);
	free(s.opts);
}
