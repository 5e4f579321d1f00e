/*
 * sock_diag parsing: netlink replies saved from a kernel, messages built
 * here with every attribute (and broken ones), and sockdiag_collect()
 * live on sockets this test makes.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <linux/inet_diag.h>
#include <linux/netlink_diag.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <netlink/attr.h>
#include <netlink/msg.h>

#include "memdump/sockdiag.h"
#include "../fdtest.h"

static void *load(const char *name, size_t *len)
{
	char path[512];
	void *buf = malloc(4096);
	FILE *f;

	snprintf(path, sizeof(path), "%s/sockdiag/%s", FIXTURES_DIR, name);
	f = fopen(path, "rb");
	cr_assert_not_null(f, "%s", path);
	*len = fread(buf, 1, 4096, f);
	fclose(f);
	cr_assert_gt(*len, sizeof(struct nlmsghdr));
	cr_assert_eq(((struct nlmsghdr *)buf)->nlmsg_len, *len);
	return buf;
}

Test(sockdiag, saved_unix_listener)
{
	size_t len;
	struct nlmsghdr *h = load("unix_listener.bin", &len);
	struct sd_unix u;

	cr_assert_eq(sockdiag_parse_unix(h, &u), 0);
	cr_assert_eq(u.ino, 2579155);
	cr_assert_eq(u.type, SOCK_STREAM);
	cr_assert_eq(u.state, TCP_LISTEN);
	/* a path name comes with its NUL */
	cr_assert_eq(u.name_len, strlen("/tmp/memdump-fixture.sock") + 1);
	cr_assert_str_eq(u.name, "/tmp/memdump-fixture.sock");
	cr_assert(u.has_vfs);
	cr_assert(u.has_rqlen);
	cr_assert_eq(u.wqueue, 5, "the backlog");
	cr_assert_eq(u.rqueue, 1, "one connection not accepted");
	cr_assert_eq(u.n_icons, 1);
	cr_assert_eq(u.peer_ino, 0);
	free(h);
}

Test(sockdiag, saved_unix_pair)
{
	size_t len;
	struct nlmsghdr *h = load("unix_pair.bin", &len);
	struct sd_unix u;

	cr_assert_eq(sockdiag_parse_unix(h, &u), 0);
	cr_assert_eq(u.ino, 2579158);
	cr_assert_eq(u.state, TCP_ESTABLISHED);
	cr_assert_eq(u.peer_ino, 2579157);
	cr_assert_eq(u.name_len, 0);
	cr_assert(!u.has_vfs);
	cr_assert_eq(u.rqueue, 5, "bytes unread");
	cr_assert_eq(u.shutdown, 1, "RCV_SHUTDOWN: the peer shut down writing");
	cr_assert_eq(u.n_icons, 0);
	free(h);
}

Test(sockdiag, saved_tcp_listener)
{
	size_t len;
	struct nlmsghdr *h = load("inet_tcp_listen.bin", &len);
	struct sd_inet s;
	uint8_t lo[4];

	cr_assert_eq(sockdiag_parse_inet(h, IPPROTO_TCP, &s), 0);
	cr_assert_eq(s.family, AF_INET);
	cr_assert_eq(s.protocol, IPPROTO_TCP);
	cr_assert_eq(s.state, TCP_LISTEN);
	cr_assert_eq(s.sport, 55509);
	inet_pton(AF_INET, "127.0.0.1", lo);
	cr_assert_eq(memcmp(s.src, lo, 4), 0);
	cr_assert_eq(s.wqueue, 9, "the backlog");
	cr_assert_eq(s.rqueue, 0);
	cr_assert_neq(s.ino, 0);
	/* not a unix answer */
	struct sd_unix u;
	cr_assert_eq(sockdiag_parse_unix(h, &u), -EINVAL);
	free(h);
}

/* a unix_diag answer with every attribute, built here */
static struct nl_msg *unix_msg(uint8_t family, bool all)
{
	struct nl_msg *m = nlmsg_alloc_simple(SOCK_DIAG_BY_FAMILY, 0);
	struct unix_diag_msg d = { .udiag_family = family, .udiag_type = SOCK_DGRAM, .udiag_state = TCP_ESTABLISHED,
				   .udiag_ino = 77 };
	struct unix_diag_vfs v = { .udiag_vfs_ino = 99, .udiag_vfs_dev = 0x801 };
	struct unix_diag_rqlen q = { .udiag_rqueue = 12, .udiag_wqueue = 34 };
	uint32_t icons[3] = { 1, 2, 3 };

	cr_assert_not_null(m);
	cr_assert_eq(nlmsg_append(m, &d, sizeof(d), NLMSG_ALIGNTO), 0);
	cr_assert_eq(nla_put(m, UNIX_DIAG_NAME, 4, "\0abc"), 0);
	if (all) {
		cr_assert_eq(nla_put(m, UNIX_DIAG_VFS, sizeof(v), &v), 0);
		cr_assert_eq(nla_put_u32(m, UNIX_DIAG_PEER, 78), 0);
		cr_assert_eq(nla_put(m, UNIX_DIAG_ICONS, sizeof(icons), icons), 0);
		cr_assert_eq(nla_put(m, UNIX_DIAG_RQLEN, sizeof(q), &q), 0);
		cr_assert_eq(nla_put_u8(m, UNIX_DIAG_SHUTDOWN, 3), 0);
	}
	return m;
}

Test(sockdiag, unix_every_attribute)
{
	struct nl_msg *m = unix_msg(AF_UNIX, true);
	struct sd_unix u;

	cr_assert_eq(sockdiag_parse_unix(nlmsg_hdr(m), &u), 0);
	cr_assert_eq(u.ino, 77);
	cr_assert_eq(u.type, SOCK_DGRAM);
	cr_assert_eq(u.state, TCP_ESTABLISHED);
	cr_assert_eq(u.name_len, 4);
	cr_assert_eq(memcmp(u.name, "\0abc", 4), 0, "an abstract name, as it is");
	cr_assert(u.has_vfs);
	cr_assert_eq(u.vfs_ino, 99);
	cr_assert_eq(u.vfs_dev, 0x801);
	cr_assert_eq(u.peer_ino, 78);
	cr_assert_eq(u.n_icons, 3);
	{
		struct sd_icon ic[4] = { 0 };

		sockdiag_unix_icons(nlmsg_hdr(m), &u, ic);
		for (uint32_t i = 0; i < 3; i++) {
			cr_assert_eq(ic[i].ino, i + 1);
			cr_assert_eq(ic[i].listener, 77);
			cr_assert_eq(ic[i].pos, i);
		}
		cr_assert_eq(ic[3].ino, 0, "no more than n_icons written");
	}
	cr_assert(u.has_rqlen);
	cr_assert_eq(u.rqueue, 12);
	cr_assert_eq(u.wqueue, 34);
	cr_assert_eq(u.shutdown, 3);
	nlmsg_free(m);

	/* only a name: the rest reads as none */
	m = unix_msg(AF_UNIX, false);
	cr_assert_eq(sockdiag_parse_unix(nlmsg_hdr(m), &u), 0);
	cr_assert(!u.has_vfs && !u.has_rqlen);
	cr_assert_eq(u.peer_ino, 0);
	cr_assert_eq(u.n_icons, 0);
	cr_assert_eq(u.shutdown, 0);
	nlmsg_free(m);
}

Test(sockdiag, unix_refuses_what_is_not_one)
{
	struct nl_msg *m = unix_msg(AF_INET, true);
	struct nlmsghdr *h;
	struct sd_unix u;

	cr_assert_eq(sockdiag_parse_unix(nlmsg_hdr(m), &u), -EINVAL, "another family");
	nlmsg_free(m);

	m = unix_msg(AF_UNIX, true);
	h = nlmsg_hdr(m);
	h->nlmsg_type = NLMSG_ERROR;
	cr_assert_eq(sockdiag_parse_unix(h, &u), -EINVAL, "another message type");
	h->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	h->nlmsg_len = NLMSG_HDRLEN + 4;
	cr_assert_eq(sockdiag_parse_unix(h, &u), -EINVAL, "cut short");
	nlmsg_free(m);

	/* attributes too short for what they carry */
	m = nlmsg_alloc_simple(SOCK_DIAG_BY_FAMILY, 0);
	struct unix_diag_msg d = { .udiag_family = AF_UNIX, .udiag_ino = 5 };
	cr_assert_eq(nlmsg_append(m, &d, sizeof(d), NLMSG_ALIGNTO), 0);
	cr_assert_eq(nla_put(m, UNIX_DIAG_RQLEN, 4, "\1\0\0\0"), 0);
	cr_assert_eq(sockdiag_parse_unix(nlmsg_hdr(m), &u), -EINVAL, "RQLEN of 4 bytes");
	nlmsg_free(m);
	m = nlmsg_alloc_simple(SOCK_DIAG_BY_FAMILY, 0);
	cr_assert_eq(nlmsg_append(m, &d, sizeof(d), NLMSG_ALIGNTO), 0);
	cr_assert_eq(nla_put(m, UNIX_DIAG_ICONS, 6, "\1\0\0\0\2\0"), 0);
	cr_assert_eq(sockdiag_parse_unix(nlmsg_hdr(m), &u), -EINVAL, "ICONS not of whole u32s");
	nlmsg_free(m);
}

Test(sockdiag, inet6_built)
{
	struct nl_msg *m = nlmsg_alloc_simple(SOCK_DIAG_BY_FAMILY, 0);
	struct inet_diag_msg d = { .idiag_family = AF_INET6, .idiag_state = TCP_CLOSE, .idiag_inode = 4321,
				   .idiag_rqueue = 100, .idiag_wqueue = 0 };
	struct sd_inet s;

	d.id.idiag_sport = htons(53);
	d.id.idiag_dport = htons(5353);
	inet_pton(AF_INET6, "fe80::1", d.id.idiag_src);
	inet_pton(AF_INET6, "fe80::2", d.id.idiag_dst);
	d.id.idiag_if = 2;
	cr_assert_eq(nlmsg_append(m, &d, sizeof(d), NLMSG_ALIGNTO), 0);
	cr_assert_eq(sockdiag_parse_inet(nlmsg_hdr(m), IPPROTO_UDP, &s), 0);
	cr_assert_eq(s.ino, 4321);
	cr_assert_eq(s.protocol, IPPROTO_UDP);
	cr_assert_eq(s.sport, 53);
	cr_assert_eq(s.dport, 5353);
	cr_assert_eq(memcmp(s.src, d.id.idiag_src, 16), 0);
	cr_assert_eq(memcmp(s.dst, d.id.idiag_dst, 16), 0);
	cr_assert_eq(s.ifindex, 2);
	cr_assert_eq(s.rqueue, 100);
	cr_assert_not(s.md5);
	nlmsg_hdr(m)->nlmsg_len = NLMSG_HDRLEN + 8;
	cr_assert_eq(sockdiag_parse_inet(nlmsg_hdr(m), IPPROTO_UDP, &s), -EINVAL, "cut short");
	nlmsg_free(m);
}

/* a TCP connection signed with TCP-MD5 (sock_diag appends its keys) and shut down for reading */
Test(sockdiag, inet_md5)
{
	struct nl_msg *m = nlmsg_alloc_simple(SOCK_DIAG_BY_FAMILY, 0);
	struct inet_diag_msg d = { .idiag_family = AF_INET, .idiag_state = TCP_ESTABLISHED, .idiag_inode = 99 };
	uint8_t key[100] = { 0 };
	struct sd_inet s;

	cr_assert_eq(nlmsg_append(m, &d, sizeof(d), NLMSG_ALIGNTO), 0);
	cr_assert_eq(nla_put(m, INET_DIAG_INFO, 8, key), 0);
	cr_assert_eq(sockdiag_parse_inet(nlmsg_hdr(m), IPPROTO_TCP, &s), 0);
	cr_assert_not(s.md5);
	cr_assert_eq(s.shutdown, 0);
	cr_assert_eq(nla_put(m, INET_DIAG_MD5SIG, sizeof(key), key), 0);
	cr_assert_eq(nla_put_u8(m, INET_DIAG_SHUTDOWN, 1), 0);
	cr_assert_eq(sockdiag_parse_inet(nlmsg_hdr(m), IPPROTO_TCP, &s), 0);
	cr_assert(s.md5);
	cr_assert_eq(s.shutdown, 1, "shut down for reading");
	nlmsg_free(m);
}

/* the kernel's answers about sockets made here */
Test(sockdiag, live)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	const struct sd_unix *x, *y, *l;
	const struct sd_inet *t;
	struct sockdiag d;
	int sv[2], lfd, tfd;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(send(sv[0], "abc", 3, 0), 3);
	cr_assert_eq(send(sv[0], "de", 2, 0), 2);
	snprintf(un.sun_path + 1, sizeof(un.sun_path) - 1, "memdump-test-%d", getpid());
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&un, sizeof(un)), 0);
	cr_assert_eq(listen(lfd, 13), 0);
	tfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(bind(tfd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(tfd, 7), 0);
	cr_assert_eq(getsockname(tfd, (struct sockaddr *)&a, &al), 0);

	cr_assert_eq(sockdiag_collect(true, true, &d), 0);
	x = sockdiag_find_unix(&d, ino_of(sv[0]));
	y = sockdiag_find_unix(&d, ino_of(sv[1]));
	l = sockdiag_find_unix(&d, ino_of(lfd));
	t = sockdiag_find_inet(&d, ino_of(tfd));
	cr_assert(x && y && l && t);
	cr_assert_eq(x->peer_ino, ino_of(sv[1]));
	cr_assert_eq(y->peer_ino, ino_of(sv[0]));
	cr_assert_eq(y->type, SOCK_SEQPACKET);
	cr_assert_eq(y->rqueue, 5, "seqpacket: every byte queued");
	cr_assert_eq(l->state, TCP_LISTEN);
	cr_assert_eq(l->wqueue, 13);
	cr_assert_eq(l->name_len, sizeof(un.sun_path), "an abstract name as long as it was bound");
	cr_assert_eq(memcmp(l->name, un.sun_path, sizeof(un.sun_path)), 0);
	cr_assert_eq(t->state, TCP_LISTEN);
	cr_assert_eq(t->sport, ntohs(a.sin_port));
	cr_assert_eq(t->wqueue, 7);
	cr_assert_null(sockdiag_find_unix(&d, 1));
	sockdiag_release(&d);
	close(sv[0]);
	close(sv[1]);
	close(lfd);
	close(tfd);
}

/*
 * Connections waiting in a listener's backlog, by the socket that
 * connect()ed: in order, and with nothing sent (what the dump relies on)
 * or something (what it refuses). One that closed since reads as 0.
 */
Test(sockdiag, live_backlog)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int n = snprintf(un.sun_path + 1, sizeof(un.sun_path) - 1, "memdump-bl-%d", getpid());
	socklen_t ul = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	const struct sd_icon *ic[3];
	const struct sd_unix *c[3], *l;
	struct sockdiag d;
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), cfd[4];

	cr_assert_eq(bind(lfd, (struct sockaddr *)&un, ul), 0);
	cr_assert_eq(listen(lfd, 8), 0);
	for (int i = 0; i < 4; i++) {
		cfd[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		cr_assert_eq(connect(cfd[i], (struct sockaddr *)&un, ul), 0);
	}
	cr_assert_eq(send(cfd[1], "hello", 5, 0), 5);
	close(cfd[3]);
	cr_assert_eq(sockdiag_collect(true, false, &d), 0);
	l = sockdiag_find_unix(&d, ino_of(lfd));
	cr_assert_not_null(l);
	cr_assert_eq(l->n_icons, 4);
	for (int i = 0; i < 3; i++) {
		ic[i] = sockdiag_find_icon(&d, ino_of(cfd[i]));
		c[i] = sockdiag_find_unix(&d, ino_of(cfd[i]));
		cr_assert(ic[i] && c[i], "connection %d", i);
		cr_assert_eq(ic[i]->listener, ino_of(lfd));
		cr_assert_eq(ic[i]->pos, (uint32_t)i);
		cr_assert_eq(c[i]->state, TCP_ESTABLISHED);
		cr_assert_eq(c[i]->peer_ino, 0, "the other end has no inode until accept()");
	}
	cr_assert_eq(c[0]->wqueue, 0, "nothing sent");
	cr_assert_gt(c[1]->wqueue, 0, "sent, waiting in the other end");
	cr_assert_eq(c[2]->wqueue, 0);
	cr_assert_null(sockdiag_find_icon(&d, 0), "one that closed is found by no inode");
	cr_assert_null(sockdiag_find_icon(&d, ino_of(lfd)));
	sockdiag_release(&d);
	for (int i = 0; i < 3; i++)
		close(cfd[i]);
	close(lfd);
}

/*
 * A listener whose waiting connections fill more than a page, and the first
 * socket of the kernel's walk: alone in a network namespace of its own, its
 * clients closed (their connections still wait, found by no inode). The
 * kernel fills the first part of a dump before anything was read from the
 * socket; where that part cannot hold the listener, it ends the listing.
 */
Test(sockdiag, live_backlog_first_and_large)
{
	enum { N = 2000 };
	struct sockaddr_un un = { .sun_family = AF_UNIX, .sun_path = "\0memdump-bl-large" };
	socklen_t ul = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 18);
	const struct sd_unix *l;
	struct sockdiag d;
	int lfd;

	if (unshare(CLONE_NEWNET) < 0)
		cr_skip_test("cannot make a network namespace: %s", strerror(errno));
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&un, ul), 0);
	cr_assert_eq(listen(lfd, N), 0);
	for (int i = 0; i < N; i++) {
		int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		cr_assert_eq(connect(c, (struct sockaddr *)&un, ul), 0, "connection %d: %s", i, strerror(errno));
		close(c);
	}
	cr_assert_eq(sockdiag_collect(true, false, &d), 0);
	cr_assert_eq(d.n_unix, 1, "the listener alone: %zu", d.n_unix);
	l = sockdiag_find_unix(&d, ino_of(lfd));
	cr_assert_not_null(l, "the listener is listed");
	cr_assert_eq(l->n_icons, N);
	sockdiag_release(&d);
	close(lfd);
}

/* a netlink socket with its memory (the bytes queued) and its flags */
Test(sockdiag, netlink_built)
{
	struct nl_msg *m = nlmsg_alloc_simple(SOCK_DIAG_BY_FAMILY, 0);
	struct netlink_diag_msg d = { .ndiag_family = AF_NETLINK, .ndiag_type = SOCK_RAW, .ndiag_protocol = 0,
				      .ndiag_portid = 4242, .ndiag_ino = 987 };
	uint32_t mem[SK_MEMINFO_VARS] = { [SK_MEMINFO_RMEM_ALLOC] = 2304 };
	struct sd_netlink l;

	cr_assert_eq(nlmsg_append(m, &d, sizeof(d), NLMSG_ALIGNTO), 0);
	cr_assert_eq(nla_put(m, NETLINK_DIAG_MEMINFO, sizeof(mem), mem), 0);
	cr_assert_eq(nla_put_u32(m, NETLINK_DIAG_FLAGS,
				 NDIAG_FLAG_CB_RUNNING | NDIAG_FLAG_PKTINFO | NDIAG_FLAG_LISTEN_ALL_NSID), 0);
	cr_assert_eq(sockdiag_parse_netlink(nlmsg_hdr(m), &l), 0);
	cr_assert_eq(l.ino, 987);
	cr_assert_eq(l.portid, 4242);
	cr_assert_eq(l.rmem, 2304);
	cr_assert(l.dump_running);
	cr_assert(l.all_nsid);
	nlmsg_free(m);

	/* no attributes: nothing queued, no dump */
	m = nlmsg_alloc_simple(SOCK_DIAG_BY_FAMILY, 0);
	cr_assert_eq(nlmsg_append(m, &d, sizeof(d), NLMSG_ALIGNTO), 0);
	cr_assert_eq(sockdiag_parse_netlink(nlmsg_hdr(m), &l), 0);
	cr_assert_eq(l.rmem, 0);
	cr_assert_not(l.dump_running);
	cr_assert_not(l.all_nsid);
	nlmsg_free(m);

	/* a memory attribute too short to hold the bytes queued, a flags one of 2 bytes, another family */
	m = nlmsg_alloc_simple(SOCK_DIAG_BY_FAMILY, 0);
	cr_assert_eq(nlmsg_append(m, &d, sizeof(d), NLMSG_ALIGNTO), 0);
	cr_assert_eq(nla_put(m, NETLINK_DIAG_MEMINFO, 2, mem), 0);
	cr_assert_eq(sockdiag_parse_netlink(nlmsg_hdr(m), &l), -EINVAL);
	nlmsg_free(m);
	m = nlmsg_alloc_simple(SOCK_DIAG_BY_FAMILY, 0);
	cr_assert_eq(nlmsg_append(m, &d, sizeof(d), NLMSG_ALIGNTO), 0);
	cr_assert_eq(nla_put_u16(m, NETLINK_DIAG_FLAGS, 1), 0);
	cr_assert_eq(sockdiag_parse_netlink(nlmsg_hdr(m), &l), -EINVAL);
	nlmsg_free(m);
	m = nlmsg_alloc_simple(SOCK_DIAG_BY_FAMILY, 0);
	d.ndiag_family = AF_UNIX;
	cr_assert_eq(nlmsg_append(m, &d, sizeof(d), NLMSG_ALIGNTO), 0);
	cr_assert_eq(sockdiag_parse_netlink(nlmsg_hdr(m), &l), -EINVAL);
	nlmsg_free(m);
}

/* a netlink socket made here: listed once bound, with the answer it has not read */
Test(sockdiag, netlink_live)
{
	struct {
		struct nlmsghdr h;
		unsigned char body[16];
	} req = { .h = { .nlmsg_len = sizeof(req), .nlmsg_type = 18 /* RTM_GETLINK */,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 } };
	struct sockaddr_nl a = { .nl_family = AF_NETLINK };
	socklen_t al = sizeof(a);
	const struct sd_netlink *l;
	struct sockdiag d = { 0 };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	cr_assert_geq(fd, 0);
	cr_assert_eq(sockdiag_add_netlink(&d, SD_NETLINK_ALL), 0);
	cr_assert_null(sockdiag_find_netlink(&d, ino_of(fd)), "not bound: not listed");
	sockdiag_release(&d);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	cr_assert_eq(sockdiag_add_netlink(&d, NETLINK_ROUTE), 0);
	l = sockdiag_find_netlink(&d, ino_of(fd));
	cr_assert_not_null(l, "asked for its protocol only");
	cr_assert_eq(l->portid, a.nl_pid);
	cr_assert_eq(l->protocol, NETLINK_ROUTE);
	cr_assert_eq(l->rmem, 0);
	sockdiag_release(&d);
	cr_assert_eq(send(fd, &req, sizeof(req), 0), (ssize_t)sizeof(req));
	cr_assert_eq(sockdiag_add_netlink(&d, SD_NETLINK_ALL), 0);
	l = sockdiag_find_netlink(&d, ino_of(fd));
	cr_assert_not_null(l);
	cr_assert_gt(l->rmem, 0, "the answer waits to be read");
	sockdiag_release(&d);
	cr_assert_eq(sockdiag_add_netlink(&d, NETLINK_GENERIC), 0);
	cr_assert_null(sockdiag_find_netlink(&d, ino_of(fd)), "asked for another protocol");
	sockdiag_release(&d);
	close(fd);
}

Test(sockdiag, probe)
{
	cr_assert(sockdiag_probe(AF_UNIX, 0));
	cr_assert(!sockdiag_probe(AF_MAX + 1, 0), "a family nobody has");
}
