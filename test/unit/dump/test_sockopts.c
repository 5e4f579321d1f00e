/*
 * Socket options on live sockets of this process: the dump keeps those set
 * (and nothing for a socket left alone), restore sets them on a new socket,
 * and every option of the table then reads the same on both.
 */
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
