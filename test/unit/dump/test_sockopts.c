/*
 * Socket options on live sockets of this process: the dump keeps those set
 * (and nothing for a socket left alone), restore sets them on a new socket,
 * and every option of the table then reads the same on both.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dump/internal.h"
#include "memdump/model.h"
#include "memdump/sockopts.h"
#include "restore/internal.h"

static void set_int(int fd, int level, int opt, int v)
{
	cr_assert_eq(setsockopt(fd, level, opt, &v, sizeof(v)), 0, "option %d/%d: %s", level, opt, strerror(errno));
}

static struct md_sock kind_of(int family, int type, int protocol)
{
	return (struct md_sock){ .family = family, .type = type, .protocol = protocol, .state = TCP_CLOSE,
				 .peek_off = -1 };
}

/* s read from fd, made again on a new socket: every option of the table the same on both */
static int remade(int fd, struct md_sock *s)
{
	struct dump_sockopt_refs refs = { 0 };
	char what[128] = "";
	int nfd;

	cr_assert_eq(dump_sockopts(&refs, getpid(), fd, s), 0);
	dump_sockopt_refs_release(&refs);
	nfd = socket(s->family, s->type | SOCK_CLOEXEC, s->protocol);
	cr_assert_geq(nfd, 0);
	cr_assert_eq(restore_sockopts(nfd, s, false, what, sizeof(what)), 0, "%s", what);
	cr_assert_eq(restore_sockopts(nfd, s, true, what, sizeof(what)), 0, "%s", what);
	for (size_t i = 0; i < md_n_sockopt_defs; i++) {
		const struct md_sockopt_def *d = &md_sockopt_defs[i];
		char a[MD_SOCKOPT_NAME_MAX] = "", b[MD_SOCKOPT_NAME_MAX] = "";
		int64_t va = 0, vb = 0;
		int ra, rb;

		if (!md_sockopt_applies(d, s))
			continue;
		ra = md_sockopt_get(fd, d, &va, a);
		rb = md_sockopt_get(nfd, d, &vb, b);
		cr_assert_eq(ra, rb, "%s", d->name);
		cr_assert_eq(va, vb, "%s: %lld, made again %lld", d->name, (long long)va, (long long)vb);
		cr_assert_str_eq(a, b, "%s", d->name);
	}
	return nfd;
}

static void release(struct md_sock *s, int fd, int nfd)
{
	free(s->opts);
	close(fd);
	close(nfd);
}

Test(dump_sockopts, untouched_keeps_nothing)
{
	static const int kinds[][3] = {
		{ AF_INET, SOCK_STREAM, IPPROTO_TCP }, { AF_INET6, SOCK_STREAM, IPPROTO_TCP },
		{ AF_INET, SOCK_DGRAM, IPPROTO_UDP }, { AF_INET6, SOCK_DGRAM, IPPROTO_UDP },
		{ AF_UNIX, SOCK_STREAM, 0 }, { AF_UNIX, SOCK_DGRAM, 0 },
	};

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		struct md_sock s = kind_of(kinds[k][0], kinds[k][1], kinds[k][2]);
		int fd = socket(s.family, s.type | SOCK_CLOEXEC, s.protocol), nfd;

		cr_assert_geq(fd, 0);
		nfd = remade(fd, &s);
		cr_assert_null(s.opts, "kind %zu: options kept from a socket left alone", k);
		cr_assert_eq(s.sndbuf | s.rcvbuf, 0);
		release(&s, fd, nfd);
	}
}

Test(dump_sockopts, tcp_set_come_back)
{
	struct md_sock s = kind_of(AF_INET, SOCK_STREAM, IPPROTO_TCP);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), nfd;
	struct linger lg = { 1, 0 };
	struct timeval tv = { 2, 500000 };
	unsigned long rate = 123456;

	cr_assert_geq(fd, 0);
	set_int(fd, SOL_SOCKET, SO_RCVBUF, 70000);
	set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
	set_int(fd, IPPROTO_IP, IP_TOS, 0x10);
	set_int(fd, SOL_SOCKET, SO_PRIORITY, 2);	/* after IP_TOS, which made it 6 */
	set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 33);
	set_int(fd, IPPROTO_TCP, TCP_LINGER2, 7);
	set_int(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, 9);
	set_int(fd, IPPROTO_TCP, TCP_MAXSEG, 1000);
	set_int(fd, IPPROTO_TCP, TCP_CORK, 1);
	cr_assert_eq(setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "reno", 4), 0);
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_MAX_PACING_RATE, &rate, sizeof(rate)), 0);
	nfd = remade(fd, &s);
	cr_assert_not_null(s.opts);
	cr_assert_eq(s.sndbuf, 0, "a send buffer never fixed was kept");
	cr_assert_gt(s.rcvbuf, 0, "the fixed receive buffer was not kept");
	cr_assert_str_eq(s.opts->cong, "reno");
	cr_assert_eq(s.opts->v[md_sockopt_find(SOL_SOCKET, SO_LINGER)], 0);
	cr_assert_eq(s.opts->v[md_sockopt_find(SOL_SOCKET, SO_SNDTIMEO)], 2500000);
	release(&s, fd, nfd);
}

Test(dump_sockopts, udp_and_filter_come_back)
{
	struct sock_filter prog[] = {
		{ BPF_LD | BPF_W | BPF_LEN, 0, 0, 0 },
		{ BPF_JMP | BPF_JGE | BPF_K, 0, 1, 100 },
		{ BPF_RET | BPF_K, 0, 0, 0 },
		{ BPF_RET | BPF_K, 0, 0, 0xffff },
	};
	struct sock_fprog fp = { 4, prog };
	struct sock_filter got[4];
	socklen_t n = 4;
	struct md_sock s = kind_of(AF_INET6, SOCK_DGRAM, IPPROTO_UDP);
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0), nfd;

	cr_assert_geq(fd, 0);
	set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
	set_int(fd, IPPROTO_IPV6, IPV6_TCLASS, 0x28);
	set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 4);
	set_int(fd, IPPROTO_UDP, UDP_NO_CHECK6_RX, 1);
	set_int(fd, IPPROTO_UDP, UDP_SEGMENT, 1200);
	set_int(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1);
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)), 0);
	set_int(fd, SOL_SOCKET, SO_LOCK_FILTER, 1);
	nfd = remade(fd, &s);
	cr_assert_eq(s.opts->n_filter, 4);
	cr_assert_eq(getsockopt(nfd, SOL_SOCKET, SO_GET_FILTER, got, &n), 0);
	cr_assert_eq(n, 4);
	cr_assert_eq(memcmp(got, prog, sizeof(prog)), 0);
	release(&s, fd, nfd);
}

Test(dump_sockopts, unix_come_back)
{
	struct md_sock s = kind_of(AF_UNIX, SOCK_DGRAM, 0);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), nfd;
	struct timeval tv = { 0, 250000 };

	cr_assert_geq(fd, 0);
	set_int(fd, SOL_SOCKET, SO_PASSSEC, 1);
	set_int(fd, SOL_SOCKET, SO_MARK, 5);
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	nfd = remade(fd, &s);
	cr_assert_not_null(s.opts);
	release(&s, fd, nfd);
}

/* group (of family) on lo, with a source filter of n sources a.b.c.(1..n) or fd00::(1..n) */
static void join(int fd, int family, const char *group, uint32_t fmode, uint32_t n)
{
	struct group_filter *gf = calloc(1, GROUP_FILTER_SIZE(n));
	struct group_req gr = { .gr_interface = 1 };
	int level = family == AF_INET ? SOL_IP : SOL_IPV6;
	uint8_t a[16] = { 0 };

	cr_assert_not_null(gf);
	cr_assert_eq(inet_pton(family, group, a), 1);
	md_inet_sockaddr(family, a, 0, 0, &gr.gr_group);
	cr_assert_eq(setsockopt(fd, level, MCAST_JOIN_GROUP, &gr, sizeof(gr)), 0, "%s: %s", group, strerror(errno));
	if (fmode == MCAST_EXCLUDE && !n) {
		free(gf);
		return;
	}
	gf->gf_interface = 1;
	gf->gf_group = gr.gr_group;
	gf->gf_fmode = fmode;
	gf->gf_numsrc = n;
	for (uint32_t k = 0; k < n; k++) {
		memset(a, 0, sizeof(a));
		if (family == AF_INET)
			a[0] = 10, a[3] = (uint8_t)(k + 1);
		else
			a[0] = 0xfd, a[15] = (uint8_t)(k + 1);
		md_inet_sockaddr(family, a, 0, 0, &gf->gf_slist[k]);
	}
	cr_assert_eq(setsockopt(fd, level, MCAST_MSFILTER, gf, GROUP_FILTER_SIZE(n)), 0, "%s: %s", group,
		     strerror(errno));
	free(gf);
}

/* the filter of group on lo as socket fd has it: NULL if not a member */
static struct group_filter *filter_of(int fd, int family, const char *group)
{
	socklen_t len = GROUP_FILTER_SIZE(64);
	struct group_filter *gf = calloc(1, len);
	uint8_t a[16] = { 0 };

	cr_assert_not_null(gf);
	cr_assert_eq(inet_pton(family, group, a), 1);
	gf->gf_interface = 1;
	gf->gf_numsrc = 64;
	md_inet_sockaddr(family, a, 0, 0, &gf->gf_group);
	if (getsockopt(fd, family == AF_INET ? SOL_IP : SOL_IPV6, MCAST_MSFILTER, gf, &len) < 0) {
		cr_assert_eq(errno, EADDRNOTAVAIL, "%s: %s", group, strerror(errno));
		free(gf);
		return NULL;
	}
	return gf;
}

/*
 * An IPv6 UDP socket with a filter, joined on lo to IPv6 groups (one with
 * more sources than the dump's first guess) and an IPv4 one: each comes
 * back on the new socket with the same source filter, and nothing else.
 */
Test(dump_sockopts, memberships_come_back)
{
	static const struct {
		int family;
		const char *group;
		uint32_t fmode, n;
	} groups[] = {
		{ AF_INET6, "ff05::7701", MCAST_EXCLUDE, 0 },
		{ AF_INET6, "ff35::7702", MCAST_INCLUDE, 2 },
		{ AF_INET6, "ff05::7703", MCAST_INCLUDE, 20 },
		{ AF_INET, "239.77.0.4", MCAST_EXCLUDE, 1 },
	};
	struct sock_filter prog[] = { { BPF_RET | BPF_K, 0, 0, 0xffff } };
	struct sock_fprog fp = { 1, prog };
	struct md_sock s = kind_of(AF_INET6, SOCK_DGRAM, IPPROTO_UDP);
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0), nfd;
	struct group_filter *a, *b;

	cr_assert_geq(fd, 0);
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)), 0);
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		join(fd, groups[i].family, groups[i].group, groups[i].fmode, groups[i].n);
	nfd = remade(fd, &s);
	cr_assert_eq(s.opts->n_filter, 1);
	cr_assert_eq(s.opts->n_mcast, 4);
	cr_assert_eq(s.opts->n_src, 23);
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		a = filter_of(fd, groups[i].family, groups[i].group);
		b = filter_of(nfd, groups[i].family, groups[i].group);
		cr_assert_not_null(a);
		cr_assert_not_null(b, "%s is not joined on the new socket", groups[i].group);
		cr_assert_eq(b->gf_fmode, groups[i].fmode, "%s", groups[i].group);
		cr_assert_eq(b->gf_numsrc, groups[i].n, "%s", groups[i].group);
		cr_assert_eq(memcmp(a->gf_slist, b->gf_slist, groups[i].n * sizeof(b->gf_slist[0])), 0, "%s",
			     groups[i].group);
		free(a);
		free(b);
	}
	cr_assert_null(filter_of(nfd, AF_INET6, "ff05::7704"));
	cr_assert_null(filter_of(nfd, AF_INET, "239.77.0.5"));
	release(&s, fd, nfd);
}

/* a group on an interface the restoring host has not got: the restore names it */
Test(dump_sockopts, membership_interface_missing)
{
	struct md_sock s = kind_of(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
	struct dump_sockopt_refs refs = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), nfd;
	char what[128] = "";

	cr_assert_geq(fd, 0);
	join(fd, AF_INET, "239.77.0.6", MCAST_EXCLUDE, 0);
	cr_assert_eq(dump_sockopts(&refs, getpid(), fd, &s), 0);
	dump_sockopt_refs_release(&refs);
	cr_assert_eq(s.opts->n_mcast, 1);
	strcpy(md_sockopts_mcast(s.opts)->ifname, "md-no-such-if");
	nfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(restore_sockopts(nfd, &s, false, what, sizeof(what)), -ENODEV);
	cr_assert_str_eq(what, "join multicast group 239.77.0.6 on interface 'md-no-such-if'");
	release(&s, fd, nfd);
}
