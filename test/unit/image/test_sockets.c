/*
 * Sockets in images: the Socket of an fd and sockets.img written and read
 * back field by field, malformed ones refused on reading, and the checks
 * of how an image's sockets fit together (image_check_sockets()).
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "memdump/image.h"
#include "memdump/model.h"
#include "dirsuite.h"

TestSuite(image_sockets, .init = synth_dir_setup, .fini = synth_dir_teardown);

static struct md_fd sock_fd(int fd, int kind, struct md_sock s)
{
	struct md_fd f = { .fd = fd, .kind = kind, .flags = O_RDWR | O_NONBLOCK, .dup_of = -1, .ofd = 100 + fd,
			   .mode = 0140777 };

	f.sock = s;
	return f;
}

static struct md_sock unix_sock(uint64_t ino, int type, int state, uint64_t peer)
{
	return (struct md_sock){ .ino = ino, .family = AF_UNIX, .type = type, .state = state, .peer_ino = peer,
				 .peek_off = -1, .sndbuf = 425984, .rcvbuf = 212992 };
}

static void set_name(struct md_sock *s, const char *name, size_t len)
{
	memset(s->name, 0, sizeof(s->name));
	memcpy(s->name, name, len);
	s->name_len = (uint32_t)len;
}

/* a process holding one of every kind of socket the image knows */
static void sock_proc(struct md_proc *p)
{
	struct md_sock s;
	size_t n = 0;

	memset(p, 0, sizeof(*p));
	p->pid = SYNTH_PID;
	p->umask = 022;
	p->fds = calloc(12, sizeof(*p->fds));
	cr_assert_not_null(p->fds);
	/* a stream pair, one end with options */
	s = unix_sock(1001, SOCK_STREAM, TCP_ESTABLISHED, 1002);
	s.passcred = true;
	s.peek_off = 17;
	s.shutdown = MD_SOCK_SHUT_WR;
	p->fds[n++] = sock_fd(3, MD_FD_UNIX_SOCKET, s);
	s = unix_sock(1002, SOCK_STREAM, TCP_ESTABLISHED, 1001);
	s.shutdown = MD_SOCK_SHUT_RD;
	p->fds[n++] = sock_fd(4, MD_FD_UNIX_SOCKET, s);
	/* a listener by path */
	s = unix_sock(1003, SOCK_SEQPACKET, TCP_LISTEN, 0);
	s.backlog = 17;
	set_name(&s, "/run/x.sock", 11);
	s.path_mode = 0140600;
	s.path_uid = 1000;
	s.path_gid = 100;
	p->fds[n++] = sock_fd(5, MD_FD_UNIX_SOCKET, s);
	/* a datagram socket on an abstract name, with a 0 byte inside */
	s = unix_sock(1004, SOCK_DGRAM, TCP_CLOSE, 0);
	set_name(&s, "\0ab\0c", 5);
	p->fds[n++] = sock_fd(6, MD_FD_UNIX_SOCKET, s);
	/* TCP listening on 127.0.0.1 */
	s = (struct md_sock){ .ino = 2001, .family = AF_INET, .type = SOCK_STREAM, .protocol = IPPROTO_TCP,
			      .state = TCP_LISTEN, .backlog = 9, .port = 8080, .reuseaddr = true, .peek_off = -1 };
	inet_pton(AF_INET, "127.0.0.1", s.addr);
	p->fds[n++] = sock_fd(7, MD_FD_INET_SOCKET, s);
	/* UDP over IPv6, link-local, connected */
	s = (struct md_sock){ .ino = 2002, .family = AF_INET6, .type = SOCK_DGRAM, .protocol = IPPROTO_UDP,
			      .state = TCP_ESTABLISHED, .port = 53, .scope_id = 2, .peer_port = 5353, .reuseport = true,
			      .v6only = true, .peek_off = -1 };
	inet_pton(AF_INET6, "fe80::1", s.addr);
	inet_pton(AF_INET6, "fe80::2", s.peer_addr);
	p->fds[n++] = sock_fd(8, MD_FD_INET_SOCKET, s);
	/* TCP neither bound nor connected */
	s = (struct md_sock){ .ino = 2003, .family = AF_INET6, .type = SOCK_STREAM, .protocol = IPPROTO_TCP,
			      .state = TCP_CLOSE, .peek_off = -1 };
	p->fds[n++] = sock_fd(9, MD_FD_INET_SOCKET, s);
	/* netlink: a route socket bound, in groups 1, 5 and 1000, connected to port 77; a generic one */
	s = (struct md_sock){ .ino = 3001, .family = AF_NETLINK, .type = SOCK_RAW, .protocol = 0, .state = TCP_CLOSE,
			      .nl_portid = 4242, .nl_dst_portid = 77, .nl_dst_group = 3, .passcred = true,
			      .nl_all_nsid = true,
			      .rcvbuf = 600000, .peek_off = -1 };
	s.nl_groups[0] = 1u << 0 | 1u << 4;
	s.nl_groups[31] = 1u << 7;
	p->fds[n++] = sock_fd(10, MD_FD_NETLINK_SOCKET, s);
	s = (struct md_sock){ .ino = 3002, .family = AF_NETLINK, .type = SOCK_DGRAM, .protocol = 16,
			      .state = TCP_CLOSE, .peek_off = -1 };
	p->fds[n++] = sock_fd(11, MD_FD_NETLINK_SOCKET, s);
	/* a bound seqpacket socket whose connect() waits in the backlog of the listener, shut down for writing */
	s = unix_sock(1005, SOCK_SEQPACKET, TCP_ESTABLISHED, 0);
	s.pending_on = 1003;
	s.pending_pos = 0;
	s.shutdown = MD_SOCK_SHUT_WR;
	set_name(&s, "\0client", 7);
	p->fds[n++] = sock_fd(12, MD_FD_UNIX_SOCKET, s);
	p->n_fds = n;
}

static void assert_sock_eq(const struct md_sock *a, const struct md_sock *b)
{
	cr_assert_eq(a->ino, b->ino);
	cr_assert_eq(a->family, b->family);
	cr_assert_eq(a->type, b->type);
	cr_assert_eq(a->protocol, b->protocol);
	cr_assert_eq(a->state, b->state);
	cr_assert_eq(a->backlog, b->backlog);
	cr_assert_eq(a->shutdown, b->shutdown);
	cr_assert_eq(a->peer_ino, b->peer_ino);
	cr_assert_eq(a->pending_on, b->pending_on);
	cr_assert_eq(a->pending_pos, b->pending_pos);
	cr_assert_eq(a->name_len, b->name_len);
	cr_assert_eq(memcmp(a->name, b->name, a->name_len), 0);
	if (a->name_len && a->name[0]) {
		cr_assert_eq(a->path_mode, b->path_mode);
		cr_assert_eq(a->path_uid, b->path_uid);
		cr_assert_eq(a->path_gid, b->path_gid);
	}
	cr_assert_eq(a->passcred, b->passcred);
	cr_assert_eq(a->peek_off, b->peek_off);
	if (a->family == AF_UNIX) {
		cr_assert_eq(a->sndbuf, b->sndbuf);
		cr_assert_eq(a->rcvbuf, b->rcvbuf);
		return;
	}
	cr_assert_eq(memcmp(a->addr, b->addr, sizeof(a->addr)), 0);
	cr_assert_eq(a->port, b->port);
	cr_assert_eq(a->scope_id, b->scope_id);
	cr_assert_eq(memcmp(a->peer_addr, b->peer_addr, sizeof(a->peer_addr)), 0);
	cr_assert_eq(a->peer_port, b->peer_port);
	cr_assert_eq(a->reuseaddr, b->reuseaddr);
	cr_assert_eq(a->reuseport, b->reuseport);
	cr_assert_eq(a->v6only, b->v6only);
	cr_assert_eq(a->sndbuf, b->sndbuf);
	cr_assert_eq(a->rcvbuf, b->rcvbuf);
	cr_assert_eq(a->nl_portid, b->nl_portid);
	cr_assert_eq(a->nl_dst_portid, b->nl_dst_portid);
	cr_assert_eq(a->nl_dst_group, b->nl_dst_group);
	cr_assert_eq(a->nl_all_nsid, b->nl_all_nsid);
	cr_assert_eq(memcmp(a->nl_groups, b->nl_groups, sizeof(a->nl_groups)), 0);
}

Test(image_sockets, fds_round_trip)
{
	struct md_proc in, out;

	sock_proc(&in);
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	cr_assert_eq(out.n_fds, in.n_fds);
	for (size_t i = 0; i < in.n_fds; i++) {
		cr_assert_eq(out.fds[i].kind, in.fds[i].kind);
		cr_assert_eq(out.fds[i].ofd, in.fds[i].ofd);
		assert_sock_eq(&in.fds[i].sock, &out.fds[i].sock);
	}
	md_proc_release(&out);
	md_proc_release(&in);
}

/* one thing wrong in fd i's socket, written as it is: reading it must fail */
static void assert_read_refuses(size_t i, void (*spoil)(struct md_sock *))
{
	struct md_proc in, out;

	sock_proc(&in);
	spoil(&in.fds[i].sock);
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL);
	md_proc_release(&in);
}

static void relative_path(struct md_sock *s)
{
	set_name(s, "run/x.sock", 10);
}
static void unix_type(struct md_sock *s)
{
	s->type = SOCK_RAW;
}
static void inet_state(struct md_sock *s)
{
	s->state = TCP_ESTABLISHED;	/* an established TCP connection without a peer */
}
static void listen_no_port(struct md_sock *s)
{
	s->port = 0;
}
static void own_peer(struct md_sock *s)
{
	s->peer_ino = s->ino;
}
/* a connected stream without a peer that is not shut down: its connect() was never accepted */
static void no_peer_not_shut(struct md_sock *s)
{
	s->peer_ino = 0;
}
static void v6only_v4(struct md_sock *s)
{
	s->v6only = true;
}
static void udp_without_peer_port(struct md_sock *s)
{
	s->peer_port = 0;
}
/* states only a TCP connection has, and then with a peer */
static void udp_closing(struct md_sock *s)
{
	s->state = TCP_FIN_WAIT1;
}
static void tcp_closing_without_peer(struct md_sock *s)
{
	s->state = TCP_CLOSE_WAIT;
}
static void tcp_connecting_without_peer(struct md_sock *s)
{
	s->state = TCP_SYN_SENT;
}
static void tcp_time_wait(struct md_sock *s)
{
	s->state = TCP_TIME_WAIT;
}

static void netlink_type(struct md_sock *s)
{
	s->type = SOCK_STREAM;
}

static void netlink_protocol(struct md_sock *s)
{
	s->protocol = MD_NL_PROTOCOLS;
}

static void netlink_state(struct md_sock *s)
{
	s->state = TCP_ESTABLISHED;
}

static void netlink_dst_group(struct md_sock *s)
{
	s->nl_dst_group = 33;
}

static void netlink_with_shutdown(struct md_sock *s)
{
	s->shutdown = MD_SOCK_SHUT_RD;
}

/* a connection waiting in a backlog: not one with a peer, in its own, unconnected or of datagrams */
static void pending_with_peer(struct md_sock *s)
{
	s->pending_on = 1003;
}
static void pending_own(struct md_sock *s)
{
	s->pending_on = s->ino;
}
static void pending_dgram(struct md_sock *s)
{
	s->type = SOCK_DGRAM;
}
static void pending_unconnected(struct md_sock *s)
{
	s->state = TCP_CLOSE;
}
static void not_pending(struct md_sock *s)
{
	s->pending_on = 0;
}

Test(image_sockets, malformed_refused)
{
	assert_read_refuses(0, pending_with_peer);
	assert_read_refuses(9, pending_own);
	assert_read_refuses(9, pending_dgram);
	assert_read_refuses(9, pending_unconnected);
	assert_read_refuses(9, not_pending);
	assert_read_refuses(7, netlink_type);
	assert_read_refuses(8, netlink_protocol);
	assert_read_refuses(7, netlink_state);
	assert_read_refuses(7, netlink_dst_group);
	assert_read_refuses(7, netlink_with_shutdown);
	assert_read_refuses(2, relative_path);
	assert_read_refuses(3, unix_type);
	assert_read_refuses(4, inet_state);
	assert_read_refuses(4, listen_no_port);
	assert_read_refuses(0, own_peer);
	assert_read_refuses(0, no_peer_not_shut);
	assert_read_refuses(4, v6only_v4);
	assert_read_refuses(5, udp_without_peer_port);
	assert_read_refuses(5, udp_closing);
	assert_read_refuses(6, tcp_closing_without_peer);
	assert_read_refuses(6, tcp_connecting_without_peer);
	assert_read_refuses(6, tcp_time_wait);
}

static struct md_sock_queue queue(uint64_t ino, const char *const *pkts, size_t n)
{
	struct md_sock_queue q = { .ino = ino };
	size_t len = 0;

	for (size_t i = 0; i < n; i++)
		len += strlen(pkts[i]);
	q.data = malloc(len + 1);
	q.pkt_len = calloc(n + 1, sizeof(*q.pkt_len));
	cr_assert(q.data && q.pkt_len);
	for (size_t i = 0; i < n; i++) {
		memcpy(q.data + q.len, pkts[i], strlen(pkts[i]));
		q.len += strlen(pkts[i]);
		q.pkt_len[i] = (uint32_t)strlen(pkts[i]);
	}
	q.n_pkts = n;
	return q;
}

Test(image_sockets, queues_round_trip)
{
	static const char *const a[] = { "hello", "", "datagram three" }, *const b[] = { "x" };
	struct md_sock_queue in[2] = { queue(1001, a, 3), queue(1002, b, 1) }, *out;
	size_t n;

	cr_assert_eq(image_read_sockets(dirfd, &out, &n), 0);
	cr_assert_eq(n, 0, "no sockets.img reads as no queues");
	free(out);
	cr_assert_eq(image_write_sockets(dirfd, in, 2), 0);
	cr_assert_eq(image_read_sockets(dirfd, &out, &n), 0);
	cr_assert_eq(n, 2);
	for (size_t i = 0; i < 2; i++) {
		cr_assert_eq(out[i].ino, in[i].ino);
		cr_assert_eq(out[i].len, in[i].len);
		cr_assert_eq(out[i].n_pkts, in[i].n_pkts);
		cr_assert_eq(memcmp(out[i].data, in[i].data, in[i].len), 0);
		cr_assert_eq(memcmp(out[i].pkt_len, in[i].pkt_len, in[i].n_pkts * sizeof(uint32_t)), 0);
		md_sock_queue_release(&out[i]);
		md_sock_queue_release(&in[i]);
	}
	free(out);
}

Test(image_sockets, queue_twice_refused)
{
	static const char *const a[] = { "a" };
	struct md_sock_queue in[2] = { queue(7, a, 1), queue(7, a, 1) }, *out = NULL;
	size_t n;

	cr_assert_eq(image_write_sockets(dirfd, in, 2), 0);
	cr_assert_eq(image_read_sockets(dirfd, &out, &n), -EINVAL);
	md_sock_queue_release(&in[0]);
	md_sock_queue_release(&in[1]);
}

/* ---- image_check_sockets() ---- */

static char err[256];

static int check(const struct md_proc *p, size_t n, const struct md_sock_queue *q, size_t nq)
{
	struct md_socks socks;
	int r;

	err[0] = '\0';
	cr_assert_eq(md_socks_make(&socks, p, n), 0);
	r = image_check_sockets(&socks, p, n, q, nq, err, sizeof(err));
	md_socks_release(&socks);
	return r;
}

Test(image_sockets, check_good)
{
	static const char *const a[] = { "ab", "c" };
	struct md_sock_queue q[2] = { queue(1001, a, 2), queue(1002, a, 1) };
	struct md_proc p;

	sock_proc(&p);
	cr_assert_eq(check(&p, 1, q, 2), 0, "%s", err);
	md_sock_queue_release(&q[0]);
	md_sock_queue_release(&q[1]);
	md_proc_release(&p);
}

/* the pair split over two processes, and a socket held by both (one description) */
Test(image_sockets, check_across_processes)
{
	struct md_proc p[2];

	sock_proc(&p[0]);
	sock_proc(&p[1]);
	p[1].pid = SYNTH_PID + 1;
	p[0].fds[1].kind = MD_FD_CHR;	/* 1002 only in p[1] */
	p[1].fds[0].kind = MD_FD_CHR;	/* 1001 only in p[0] */
	cr_assert_eq(check(p, 2, NULL, 0), 0, "%s", err);
	/* the listener in both, but as two descriptions: a socket is one */
	p[1].fds[2].ofd = 999;
	cr_assert_eq(check(p, 2, NULL, 0), -EINVAL);
	cr_assert_not_null(strstr(err, "disagree"), "%s", err);
	md_proc_release(&p[0]);
	md_proc_release(&p[1]);
}

Test(image_sockets, check_peer_missing)
{
	struct md_proc p;

	sock_proc(&p);
	p.fds[0].sock.peer_ino = 4242;
	cr_assert_eq(check(&p, 1, NULL, 0), -EINVAL);
	cr_assert_not_null(strstr(err, "4242"), "%s", err);
	md_proc_release(&p);
}

Test(image_sockets, check_stream_peer_connected_elsewhere)
{
	struct md_proc p;

	sock_proc(&p);
	p.fds[1].sock.peer_ino = 0;	/* 1001 says 1002, 1002 says none */
	cr_assert_eq(check(&p, 1, NULL, 0), -EINVAL);
	cr_assert_not_null(strstr(err, "connected elsewhere"), "%s", err);
	md_proc_release(&p);
}

/* a datagram socket may be connected to a named one that is not connected back */
Test(image_sockets, check_dgram_to_named)
{
	struct md_proc p;

	sock_proc(&p);
	p.fds[0].sock = unix_sock(1001, SOCK_DGRAM, TCP_ESTABLISHED, 1004);
	p.fds[1].kind = MD_FD_CHR;
	cr_assert_eq(check(&p, 1, NULL, 0), 0, "%s", err);
	/* ... but not to an unnamed one */
	set_name(&p.fds[3].sock, "", 0);
	cr_assert_eq(check(&p, 1, NULL, 0), -EINVAL);
	md_proc_release(&p);
}

Test(image_sockets, check_queue_refused)
{
	static const char *const a[] = { "ab" };
	struct md_sock_queue q = queue(5555, a, 1);
	struct md_proc p;

	sock_proc(&p);
	/* of a socket no fd holds */
	cr_assert_eq(check(&p, 1, &q, 1), -EINVAL);
	cr_assert_not_null(strstr(err, "5555"), "%s", err);
	/* of a listener: restore has nothing to send it from */
	q.ino = 1003;
	cr_assert_eq(check(&p, 1, &q, 1), -EINVAL);
	cr_assert_not_null(strstr(err, "no peer end"), "%s", err);
	/* whose packets do not add up */
	q.ino = 1001;
	q.len = 3;
	cr_assert_eq(check(&p, 1, &q, 1), -EINVAL);
	q.len = 2;
	cr_assert_eq(check(&p, 1, &q, 1), 0, "%s", err);
	md_sock_queue_release(&q);
	md_proc_release(&p);
}

/* a connection waits in a listening unix socket of its type, alone at its place, with nothing queued */
Test(image_sockets, check_pending)
{
	static const char *const a[] = { "ab" };
	struct md_sock_queue q = queue(1005, a, 1);
	struct md_proc p;

	sock_proc(&p);
	p.fds[p.n_fds] = p.fds[p.n_fds - 1];
	p.fds[p.n_fds].fd = 13;
	p.fds[p.n_fds].ofd = 113;
	p.fds[p.n_fds].sock.ino = 1006;
	p.fds[p.n_fds++].sock.pending_pos = 1;
	cr_assert_eq(check(&p, 1, NULL, 0), 0, "%s", err);
	p.fds[p.n_fds - 1].sock.pending_pos = 0;
	cr_assert_eq(check(&p, 1, NULL, 0), -EINVAL);
	cr_assert_not_null(strstr(err, "both at place 0 of the backlog of socket 1003"), "%s", err);
	p.fds[p.n_fds - 1].sock.pending_pos = 7;
	cr_assert_eq(check(&p, 1, NULL, 0), 0, "%s", err);
	/* its other end is the kernel's: nothing to send a queue from */
	cr_assert_eq(check(&p, 1, &q, 1), -EINVAL);
	cr_assert_not_null(strstr(err, "no peer end"), "%s", err);
	p.fds[p.n_fds - 1].sock.pending_on = 1001;
	cr_assert_eq(check(&p, 1, NULL, 0), -EINVAL);
	cr_assert_not_null(strstr(err, "fd 13 of"), "%s", err);
	cr_assert_not_null(strstr(err, "not a listening unix socket"), "%s", err);
	p.fds[p.n_fds - 1].sock.pending_on = 4242;
	cr_assert_eq(check(&p, 1, NULL, 0), -EINVAL);
	p.fds[p.n_fds - 1].sock.pending_on = 1003;
	p.fds[p.n_fds - 1].sock.type = SOCK_STREAM;
	cr_assert_eq(check(&p, 1, NULL, 0), -EINVAL);
	cr_assert_not_null(strstr(err, "of the same type"), "%s", err);
	md_sock_queue_release(&q);
	md_proc_release(&p);
}

Test(image_sockets, check_kind_and_family_agree)
{
	struct md_proc p;

	sock_proc(&p);
	p.fds[4].kind = MD_FD_UNIX_SOCKET;
	cr_assert_eq(check(&p, 1, NULL, 0), -EINVAL);
	p.fds[4].kind = MD_FD_INET_SOCKET;
	cr_assert_eq(check(&p, 1, NULL, 0), 0, "%s", err);
	p.fds[7].kind = MD_FD_INET_SOCKET;
	cr_assert_eq(check(&p, 1, NULL, 0), -EINVAL);
	p.fds[7].kind = MD_FD_NETLINK_SOCKET;
	p.fds[4].kind = MD_FD_NETLINK_SOCKET;
	cr_assert_eq(check(&p, 1, NULL, 0), -EINVAL);
	md_proc_release(&p);
}

/* read sorted by inode, as image_find_queue() looks them up */
Test(image_sockets, queues_by_inode)
{
	static const char *const a[] = { "a" }, *const b[] = { "bb" }, *const c[] = { "ccc" };
	struct md_sock_queue in[3] = { queue(30, a, 1), queue(10, b, 1), queue(20, c, 1) }, *out = NULL;
	size_t n;

	cr_assert_eq(image_write_sockets(dirfd, in, 3), 0);
	cr_assert_eq(image_read_sockets(dirfd, &out, &n), 0);
	cr_assert_eq(n, 3);
	for (size_t i = 0; i < 3; i++) {
		const struct md_sock_queue *q = image_find_queue(out, n, in[i].ino);

		cr_assert_not_null(q);
		cr_expect_eq(q->len, in[i].len);
		cr_expect_eq(out[i].ino, 10 * (i + 1));
	}
	cr_expect_null(image_find_queue(out, n, 15));
	cr_expect_null(image_find_queue(out, 0, 10));
	for (size_t i = 0; i < 3; i++) {
		md_sock_queue_release(&out[i]);
		md_sock_queue_release(&in[i]);
	}
	free(out);
}
