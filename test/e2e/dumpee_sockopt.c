/*
 * dumpee_sockopt: sockets with options set, for test/e2e/run.sh. Every
 * option below is read on every socket before the dump and again after the
 * restore (a list of this test's own, not memdump's), and each must read the
 * same, set or not; a few are also checked for the value set.
 *
 *   L   TCP listening on 127.0.0.1: buffer size fixed, keepalive and its
 *       timings, SO_LINGER, timeouts, TOS, TTL, mark, priority, IP_FREEBIND,
 *       SO_BINDTODEVICE lo, TCP_CONGESTION reno, TCP_DEFER_ACCEPT,
 *       TCP_FASTOPEN, TCP_MAXSEG, TCP_SAVE_SYN, TCP_WINDOW_CLAMP...
 *   L6  TCP listening on ::1 (if this host has it): traffic class, hop limit,
 *       IPV6_FREEBIND, source address preference
 *   U   UDP on 127.0.0.1: broadcast, PKTINFO, RECVERR, PMTU discovery,
 *       timestamps, GSO/GRO, multicast TTL and loop, no checksum, pacing rate
 *   U6  UDP on ::1 (if any): PKTINFO, DONTFRAG, multicast hops, checksums
 *   F   UDP on 127.0.0.1 with a classic BPF filter that drops everything,
 *       locked (SO_LOCK_FILTER)
 *   X   a unix datagram pair: receive timeout, SO_PASSSEC, timestamps,
 *       priority, mark, a fixed send buffer
 *   D   a TCP and a UDP socket with no option set: all as a new socket's, the
 *       buffer sizes not fixed (TCP grows them itself)
 *   -t: C and S, a TCP connection to L (dump --tcp-established): S accepted
 *       it; C has keepalive, SO_LINGER 0, user timeout, a fixed send buffer,
 *       reno, TOS, timestamping with OPT_ID, and a peek offset of 10 into the
 *       100 bytes S sent it.
 *   -i IFNAME: B, a UDP socket bound to that device (SO_BINDTODEVICE)
 *   -e: E, a UDP socket with an eBPF filter (SO_ATTACH_BPF): a dump must
 *       refuse it
 *   -g IFNAME: M and M6, UDP sockets (IP_MULTICAST_ALL off) joined to
 *       multicast groups on IFNAME, some with source filters (mgroups[]);
 *       IFNAME must have 10.77.0.1 and fd77::1 (test/e2e/run.sh makes it
 *       in a network namespace). The check finds each group with its filter
 *       on the interface of that name (its index may have changed), then
 *       sends a datagram to every group from those addresses: M and M6
 *       must get those of the groups whose filter lets them in, and no
 *       other.
 *
 * Modes: -m wait (default) writes "READY PID PORT" to STATUS and waits for
 * SIGUSR1; -m selftest checks at once; -m corrupt -c WHAT changes one
 * option after the first reading (tos, cong, timeo, buflock, filter; mcast
 * with -g: M leaves a group) and the check must notice. After the comparison, L and L6 answer a connection, F
 * drops a datagram and U passes one. Writes "OK" or "FAIL: <what>" and exits.
 */
#define DUMPEE_NAME "dumpee_sockopt"
#include "dumpee.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/net_tstamp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>

#ifndef IPV6_PREFER_SRC_PUBLIC
#define IPV6_PREFER_SRC_PUBLIC 0x0002	/* linux/in6.h */
#endif
#ifndef SO_BUF_LOCK
#define SO_BUF_LOCK 72
#endif

enum kind { INT, TV, LINGER, STR, ULONG };

struct opt {
	const char *name;
	int level, opt;
	enum kind kind;
	bool conn_varies;	/* the kernel's own on a connection: not compared there */
};

#define O(l, o, k) { #o, l, o, k, false }
#define V(l, o, k) { #o, l, o, k, true }

static const struct opt opts[] = {
	O(SOL_SOCKET, SO_KEEPALIVE, INT), O(SOL_SOCKET, SO_PRIORITY, INT), O(SOL_SOCKET, SO_RCVLOWAT, INT),
	O(SOL_SOCKET, SO_MARK, INT), O(SOL_SOCKET, SO_RCVTIMEO, TV), O(SOL_SOCKET, SO_SNDTIMEO, TV),
	O(SOL_SOCKET, SO_LINGER, LINGER), O(SOL_SOCKET, SO_OOBINLINE, INT), O(SOL_SOCKET, SO_BROADCAST, INT),
	O(SOL_SOCKET, SO_DONTROUTE, INT), O(SOL_SOCKET, SO_NO_CHECK, INT), O(SOL_SOCKET, SO_TIMESTAMP, INT),
	O(SOL_SOCKET, SO_TIMESTAMPNS, INT), O(SOL_SOCKET, SO_TIMESTAMPING, INT), O(SOL_SOCKET, SO_RXQ_OVFL, INT),
	O(SOL_SOCKET, SO_PASSSEC, INT), O(SOL_SOCKET, SO_PASSCRED, INT), O(SOL_SOCKET, SO_BUSY_POLL, INT),
	O(SOL_SOCKET, SO_MAX_PACING_RATE, ULONG), O(SOL_SOCKET, SO_ZEROCOPY, INT),
	O(SOL_SOCKET, SO_BINDTODEVICE, STR), O(SOL_SOCKET, SO_LOCK_FILTER, INT), O(SOL_SOCKET, SO_BUF_LOCK, INT),
	O(SOL_SOCKET, SO_PEEK_OFF, INT), O(SOL_SOCKET, SO_REUSEADDR, INT), O(SOL_SOCKET, SO_REUSEPORT, INT),
	V(SOL_SOCKET, SO_SNDBUF, INT), V(SOL_SOCKET, SO_RCVBUF, INT),
	O(IPPROTO_IP, IP_TOS, INT), O(IPPROTO_IP, IP_TTL, INT), O(IPPROTO_IP, IP_MTU_DISCOVER, INT),
	O(IPPROTO_IP, IP_RECVERR, INT), O(IPPROTO_IP, IP_PKTINFO, INT), O(IPPROTO_IP, IP_RECVTTL, INT),
	O(IPPROTO_IP, IP_RECVTOS, INT), O(IPPROTO_IP, IP_FREEBIND, INT), O(IPPROTO_IP, IP_TRANSPARENT, INT),
	O(IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, INT), V(IPPROTO_IP, IP_MULTICAST_TTL, INT),
	O(IPPROTO_IP, IP_MULTICAST_LOOP, INT), O(IPPROTO_IP, IP_MULTICAST_ALL, INT),
	O(IPPROTO_IP, IP_RECVORIGDSTADDR, INT),
	O(IPPROTO_IPV6, IPV6_TCLASS, INT), O(IPPROTO_IPV6, IPV6_UNICAST_HOPS, INT),
	O(IPPROTO_IPV6, IPV6_MTU_DISCOVER, INT), O(IPPROTO_IPV6, IPV6_RECVERR, INT),
	O(IPPROTO_IPV6, IPV6_RECVPKTINFO, INT), O(IPPROTO_IPV6, IPV6_RECVHOPLIMIT, INT),
	O(IPPROTO_IPV6, IPV6_RECVTCLASS, INT), O(IPPROTO_IPV6, IPV6_FREEBIND, INT),
	O(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, INT), O(IPPROTO_IPV6, IPV6_MULTICAST_LOOP, INT),
	O(IPPROTO_IPV6, IPV6_MULTICAST_IF, INT), O(IPPROTO_IPV6, IPV6_DONTFRAG, INT),
	O(IPPROTO_IPV6, IPV6_V6ONLY, INT), O(IPPROTO_IPV6, IPV6_ADDR_PREFERENCES, INT),
	O(IPPROTO_TCP, TCP_NODELAY, INT), O(IPPROTO_TCP, TCP_CORK, INT), O(IPPROTO_TCP, TCP_KEEPIDLE, INT),
	O(IPPROTO_TCP, TCP_KEEPINTVL, INT), O(IPPROTO_TCP, TCP_KEEPCNT, INT), O(IPPROTO_TCP, TCP_SYNCNT, INT),
	O(IPPROTO_TCP, TCP_LINGER2, INT), O(IPPROTO_TCP, TCP_DEFER_ACCEPT, INT),
	V(IPPROTO_TCP, TCP_WINDOW_CLAMP, INT), O(IPPROTO_TCP, TCP_USER_TIMEOUT, INT),
	O(IPPROTO_TCP, TCP_NOTSENT_LOWAT, INT), O(IPPROTO_TCP, TCP_FASTOPEN, INT), O(IPPROTO_TCP, TCP_SAVE_SYN, INT),
	V(IPPROTO_TCP, TCP_MAXSEG, INT), O(IPPROTO_TCP, TCP_CONGESTION, STR),
	O(IPPROTO_UDP, UDP_CORK, INT), O(IPPROTO_UDP, UDP_SEGMENT, INT), O(IPPROTO_UDP, UDP_GRO, INT),
	O(IPPROTO_UDP, UDP_NO_CHECK6_TX, INT), O(IPPROTO_UDP, UDP_NO_CHECK6_RX, INT),
};
#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

/* one reading: the value's bytes, or the error */
struct reading {
	int err;
	socklen_t len;
	char v[32];
};

struct sock {
	const char *name;
	int fd;
	bool conn;		/* an established TCP connection */
	struct reading r[N_OPTS];
};

enum { L, L6, U, U6, F, X0, X1, DT, DU, C, S, B, E, M, M6, N_SOCKS };
static struct sock socks[N_SOCKS] = {
	[L] = { "L" }, [L6] = { "L6" }, [U] = { "U" }, [U6] = { "U6" }, [F] = { "F" }, [X0] = { "X0" },
	[X1] = { "X1" }, [DT] = { "D tcp" }, [DU] = { "D udp" }, [C] = { "C", .conn = true },
	[S] = { "S", .conn = true }, [B] = { "B" }, [E] = { "E" }, [M] = { "M" }, [M6] = { "M6" },
};

/* -g: the groups M and M6 joined; each gets a datagram from SENDER4 or SENDER6 at the check */
#define SENDER4 "10.77.0.1"
#define SENDER6 "fd77::1"
#define MCAST_PORT 45678	/* M's; M6's is the next one */
static const struct mgroup {
	int sock;		/* M, M6 */
	int family;		/* the group's */
	const char *group;
	uint32_t fmode;		/* MCAST_INCLUDE: from source only; MCAST_EXCLUDE: from all but source */
	const char *source;	/* NULL: none */
	bool gets;		/* the datagram from the sender passes */
} mgroups[] = {
	{ M, AF_INET, "239.77.1.1", MCAST_EXCLUDE, NULL, true },
	{ M, AF_INET, "232.77.1.2", MCAST_INCLUDE, SENDER4, true },
	{ M, AF_INET, "239.77.1.3", MCAST_EXCLUDE, SENDER4, false },
	{ M, AF_INET, "232.77.1.4", MCAST_INCLUDE, "10.77.0.99", false },
	{ M6, AF_INET6, "ff05::77:1", MCAST_EXCLUDE, NULL, true },
	{ M6, AF_INET, "239.77.1.5", MCAST_EXCLUDE, NULL, true },
	{ M6, AF_INET6, "ff35::77:2", MCAST_INCLUDE, "fd77::99", false },
};
#define N_MGROUPS (sizeof(mgroups) / sizeof(mgroups[0]))
static const char *mcast_if;
static struct sockaddr_in l_addr, u_addr, f_addr;
static struct sockaddr_in6 l6_addr;
static volatile sig_atomic_t got_usr1;

static struct sock_filter drop_all[] = {
	{ BPF_LD | BPF_W | BPF_LEN, 0, 0, 0 },
	{ BPF_JMP | BPF_JGE | BPF_K, 0, 0, 0 },
	{ BPF_RET | BPF_K, 0, 0, 0 },
};

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

static void set(int fd, int level, int opt, const void *v, socklen_t len, const char *name)
{
	if (setsockopt(fd, level, opt, v, len) < 0)
		die_setup(name);
}

#define SET_INT(fd, level, opt, val)                                   \
	do {                                                           \
		int v_ = (val);                                        \
		set(fd, level, opt, &v_, sizeof(v_), #opt);            \
	} while (0)

static void read_all(struct sock *s, struct reading *r)
{
	for (size_t i = 0; i < N_OPTS; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].len = opts[i].kind == INT ? sizeof(int) : opts[i].kind == TV ? sizeof(struct timeval)
			 : opts[i].kind == LINGER ? sizeof(struct linger) : opts[i].kind == ULONG ? sizeof(long) : 16;
		if (getsockopt(s->fd, opts[i].level, opts[i].opt, r[i].v, &r[i].len) < 0)
			r[i].err = errno;
	}
}

static int inet_sock(int family, int type, const char *what)
{
	int fd = socket(family, type | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die_setup(what);
	return fd;
}

static void bind4(int fd, struct sockaddr_in *a)
{
	socklen_t l = sizeof(*a);

	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)a, sizeof(*a)) < 0 || getsockname(fd, (struct sockaddr *)a, &l) < 0)
		die_setup("bind on 127.0.0.1");
}

/* false if this host has no ::1 */
static bool bind6(int fd, struct sockaddr_in6 *a)
{
	socklen_t l = sizeof(*a);

	memset(a, 0, sizeof(*a));
	a->sin6_family = AF_INET6;
	a->sin6_addr = in6addr_loopback;
	return bind(fd, (struct sockaddr *)a, sizeof(*a)) == 0 && getsockname(fd, (struct sockaddr *)a, &l) == 0;
}

static void setup_l(void)
{
	int fd = socks[L].fd = inet_sock(AF_INET, SOCK_STREAM, "L");
	struct timeval rt = { 1, 500000 }, st = { 2, 250000 };
	struct linger lg = { 1, 3 };

	SET_INT(fd, SOL_SOCKET, SO_RCVBUF, 300000);
	SET_INT(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
	SET_INT(fd, IPPROTO_TCP, TCP_KEEPIDLE, 77);
	SET_INT(fd, IPPROTO_TCP, TCP_KEEPINTVL, 11);
	SET_INT(fd, IPPROTO_TCP, TCP_KEEPCNT, 4);
	SET_INT(fd, IPPROTO_TCP, TCP_SYNCNT, 3);
	SET_INT(fd, IPPROTO_TCP, TCP_LINGER2, 17);
	SET_INT(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, 5);
	SET_INT(fd, IPPROTO_TCP, TCP_FASTOPEN, 8);
	SET_INT(fd, IPPROTO_TCP, TCP_MAXSEG, 1200);
	SET_INT(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, 12345);
	SET_INT(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, 65536);
	SET_INT(fd, IPPROTO_TCP, TCP_SAVE_SYN, 1);
	SET_INT(fd, IPPROTO_TCP, TCP_WINDOW_CLAMP, 40000);
	SET_INT(fd, IPPROTO_TCP, TCP_NODELAY, 1);
	set(fd, IPPROTO_TCP, TCP_CONGESTION, "reno", 4, "TCP_CONGESTION");
	set(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg), "SO_LINGER");
	set(fd, SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof(rt), "SO_RCVTIMEO");
	set(fd, SOL_SOCKET, SO_SNDTIMEO, &st, sizeof(st), "SO_SNDTIMEO");
	/* IP_TOS sets the priority too (6 for this TOS): 5 set after it must stay 5 */
	SET_INT(fd, IPPROTO_IP, IP_TOS, 0x10);
	SET_INT(fd, SOL_SOCKET, SO_PRIORITY, 5);
	SET_INT(fd, SOL_SOCKET, SO_MARK, 42);
	SET_INT(fd, IPPROTO_IP, IP_TTL, 33);
	SET_INT(fd, IPPROTO_IP, IP_FREEBIND, 1);
	set(fd, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3, "SO_BINDTODEVICE");
	bind4(fd, &l_addr);
	if (listen(fd, 5) < 0)
		die_setup("listen");
}

static void setup_l6(void)
{
	int fd = inet_sock(AF_INET6, SOCK_STREAM, "L6");

	SET_INT(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	SET_INT(fd, IPPROTO_IPV6, IPV6_TCLASS, 0x20);
	SET_INT(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 9);
	SET_INT(fd, IPPROTO_IPV6, IPV6_FREEBIND, 1);
	SET_INT(fd, IPPROTO_IPV6, IPV6_ADDR_PREFERENCES, IPV6_PREFER_SRC_PUBLIC);
	SET_INT(fd, IPPROTO_TCP, TCP_KEEPIDLE, 99);
	if (!bind6(fd, &l6_addr)) {
		close(fd);
		socks[L6].fd = -1;
		return;
	}
	if (listen(fd, 5) < 0)
		die_setup("listen on ::1");
	socks[L6].fd = fd;
}

static void setup_udp(void)
{
	int fd = socks[U].fd = inet_sock(AF_INET, SOCK_DGRAM, "U");
	unsigned long rate = 1000000;
	struct sock_fprog prog = { sizeof(drop_all) / sizeof(drop_all[0]), drop_all };

	SET_INT(fd, SOL_SOCKET, SO_BROADCAST, 1);
	SET_INT(fd, IPPROTO_IP, IP_PKTINFO, 1);
	SET_INT(fd, IPPROTO_IP, IP_RECVERR, 1);
	SET_INT(fd, IPPROTO_IP, IP_RECVTOS, 1);
	SET_INT(fd, IPPROTO_IP, IP_RECVTTL, 1);
	SET_INT(fd, IPPROTO_IP, IP_RECVORIGDSTADDR, 1);
	SET_INT(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO);
	SET_INT(fd, IPPROTO_IP, IP_MULTICAST_TTL, 7);
	SET_INT(fd, IPPROTO_IP, IP_MULTICAST_LOOP, 0);
	SET_INT(fd, IPPROTO_IP, IP_MULTICAST_ALL, 0);
	SET_INT(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1);
	SET_INT(fd, SOL_SOCKET, SO_RXQ_OVFL, 1);
	SET_INT(fd, SOL_SOCKET, SO_NO_CHECK, 1);
	SET_INT(fd, SOL_SOCKET, SO_PEEK_OFF, 0);
	SET_INT(fd, IPPROTO_UDP, UDP_SEGMENT, 1000);
	SET_INT(fd, IPPROTO_UDP, UDP_GRO, 1);
	set(fd, SOL_SOCKET, SO_MAX_PACING_RATE, &rate, sizeof(rate), "SO_MAX_PACING_RATE");
	bind4(fd, &u_addr);

	fd = inet_sock(AF_INET6, SOCK_DGRAM, "U6");
	SET_INT(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
	SET_INT(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1);
	SET_INT(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, 1);
	SET_INT(fd, IPPROTO_IPV6, IPV6_RECVERR, 1);
	SET_INT(fd, IPPROTO_IPV6, IPV6_DONTFRAG, 1);
	SET_INT(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_PROBE);
	SET_INT(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 5);
	SET_INT(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0);
	SET_INT(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, 1);
	SET_INT(fd, IPPROTO_UDP, UDP_NO_CHECK6_TX, 1);
	SET_INT(fd, IPPROTO_UDP, UDP_NO_CHECK6_RX, 1);
	socks[U6].fd = fd;

	fd = socks[F].fd = inet_sock(AF_INET, SOCK_DGRAM, "F");
	set(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog), "SO_ATTACH_FILTER");
	SET_INT(fd, SOL_SOCKET, SO_LOCK_FILTER, 1);
	bind4(fd, &f_addr);
}

static void setup_others(void)
{
	struct timeval rt = { 0, 500000 };
	int x[2];

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, x) < 0)
		die_setup("socketpair");
	socks[X0].fd = x[0];
	socks[X1].fd = x[1];
	set(x[0], SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof(rt), "SO_RCVTIMEO");
	SET_INT(x[0], SOL_SOCKET, SO_PASSSEC, 1);
	SET_INT(x[0], SOL_SOCKET, SO_TIMESTAMP, 1);
	SET_INT(x[0], SOL_SOCKET, SO_PRIORITY, 3);
	SET_INT(x[1], SOL_SOCKET, SO_MARK, 7);
	SET_INT(x[1], SOL_SOCKET, SO_SNDBUF, 100000);
	socks[DT].fd = inet_sock(AF_INET, SOCK_STREAM, "D tcp");
	socks[DU].fd = inet_sock(AF_INET, SOCK_DGRAM, "D udp");
}

/* -i: B, a UDP socket bound to device ifname */
static void setup_bound(const char *ifname)
{
	int fd = socks[B].fd = inet_sock(AF_INET, SOCK_DGRAM, "B");

	set(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname), "SO_BINDTODEVICE");
}

/* -e: E, a UDP socket with an eBPF filter (which drops everything) */
static void setup_ebpf(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr attr;
	int prog;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	attr.insns = (uintptr_t)insns;
	attr.insn_cnt = 2;
	attr.license = (uintptr_t) "GPL";
	prog = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
	if (prog < 0)
		die_setup("BPF_PROG_LOAD");
	socks[E].fd = inet_sock(AF_INET, SOCK_DGRAM, "E");
	set(socks[E].fd, SOL_SOCKET, SO_ATTACH_BPF, &prog, sizeof(prog), "SO_ATTACH_BPF");
	close(prog);
}

static void mcast_addr(struct sockaddr_storage *ss, int family, const char *text, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = (sa_family_t)family;
	if (family == AF_INET) {
		((struct sockaddr_in *)ss)->sin_port = htons(port);
		if (inet_pton(AF_INET, text, &((struct sockaddr_in *)ss)->sin_addr) != 1)
			die_setup(text);
	} else {
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
		if (inet_pton(AF_INET6, text, &((struct sockaddr_in6 *)ss)->sin6_addr) != 1)
			die_setup(text);
	}
}

static int mcast_level(int family)
{
	return family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
}

/* -g: M and M6 join mgroups[] on ifname, each in its own way (MCAST_JOIN_SOURCE_GROUP, MCAST_BLOCK_SOURCE...) */
static void setup_mcast(const char *ifname)
{
	unsigned ifindex = if_nametoindex(ifname);
	struct sockaddr_storage a;

	if (!ifindex)
		die_setup(ifname);
	socks[M].fd = inet_sock(AF_INET, SOCK_DGRAM, "M");
	SET_INT(socks[M].fd, IPPROTO_IP, IP_MULTICAST_ALL, 0);
	mcast_addr(&a, AF_INET, "0.0.0.0", MCAST_PORT);
	if (bind(socks[M].fd, (struct sockaddr *)&a, sizeof(struct sockaddr_in)) < 0)
		die_setup("bind M");
	socks[M6].fd = inet_sock(AF_INET6, SOCK_DGRAM, "M6");
	SET_INT(socks[M6].fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0);
	SET_INT(socks[M6].fd, IPPROTO_IP, IP_MULTICAST_ALL, 0);
	mcast_addr(&a, AF_INET6, "::", MCAST_PORT + 1);
	if (bind(socks[M6].fd, (struct sockaddr *)&a, sizeof(struct sockaddr_in6)) < 0)
		die_setup("bind M6");
	for (size_t i = 0; i < N_MGROUPS; i++) {
		const struct mgroup *g = &mgroups[i];
		struct group_source_req gs = { .gsr_interface = ifindex };
		struct group_req gr = { .gr_interface = ifindex };
		int fd = socks[g->sock].fd, level = mcast_level(g->family);

		mcast_addr(&gr.gr_group, g->family, g->group, 0);
		gs.gsr_group = gr.gr_group;
		if (g->source)
			mcast_addr(&gs.gsr_source, g->family, g->source, 0);
		if (g->fmode == MCAST_INCLUDE)
			set(fd, level, MCAST_JOIN_SOURCE_GROUP, &gs, sizeof(gs), g->group);
		else
			set(fd, level, MCAST_JOIN_GROUP, &gr, sizeof(gr), g->group);
		if (g->fmode == MCAST_EXCLUDE && g->source)
			set(fd, level, MCAST_BLOCK_SOURCE, &gs, sizeof(gs), g->group);
	}
	mcast_if = ifname;
}

/* each group of mgroups[] joined on mcast_if with its filter; a group not joined is not found */
static bool mcast_joined(unsigned ifindex)
{
	struct {
		struct group_filter gf;
		struct sockaddr_storage more[3];
	} f;
	struct sockaddr_storage want;
	socklen_t len;

	static const struct mgroup never = { M, AF_INET, "239.77.1.9" };

	for (size_t i = 0; i < N_MGROUPS + 1; i++) {
		const struct mgroup *g = i < N_MGROUPS ? &mgroups[i] : &never;
		int r;

		memset(&f, 0, sizeof(f));
		f.gf.gf_interface = ifindex;
		f.gf.gf_numsrc = 4;
		mcast_addr(&f.gf.gf_group, g->family, g->group, 0);
		len = sizeof(f);
		r = getsockopt(socks[g->sock].fd, mcast_level(g->family), MCAST_MSFILTER, &f, &len);
		if (i == N_MGROUPS) {
			if (r == 0 || errno != EADDRNOTAVAIL)
				return failf("M: a member of %s, which it never joined", g->group);
			break;
		}
		if (r < 0)
			return failf("%s: not a member of %s on %s (index %u): %s", socks[g->sock].name, g->group,
				     mcast_if, ifindex, strerror(errno));
		if (f.gf.gf_fmode != g->fmode || f.gf.gf_numsrc != (g->source ? 1 : 0))
			return failf("%s: %s: filter mode %u with %u sources, expected %u with %d", socks[g->sock].name,
				     g->group, f.gf.gf_fmode, f.gf.gf_numsrc, g->fmode, g->source ? 1 : 0);
		if (g->source) {
			mcast_addr(&want, g->family, g->source, 0);
			if (memcmp(&f.gf.gf_slist[0], &want, sizeof(want)))
				return failf("%s: %s: another source than %s", socks[g->sock].name, g->group,
					     g->source);
		}
	}
	return true;
}

/* a datagram to every group from the senders: M and M6 get those their filters let in, and no other */
static bool mcast_delivered(unsigned ifindex)
{
	int s4 = inet_sock(AF_INET, SOCK_DGRAM, "sender"), s6 = inet_sock(AF_INET6, SOCK_DGRAM, "sender6");
	struct ip_mreqn mr = { .imr_ifindex = (int)ifindex };
	int idx = (int)ifindex;
	struct sockaddr_storage a;
	bool ok = true;

	mcast_addr(&a, AF_INET, SENDER4, 0);
	if (bind(s4, (struct sockaddr *)&a, sizeof(struct sockaddr_in)) < 0)
		die_setup("bind to " SENDER4);
	mcast_addr(&a, AF_INET6, SENDER6, 0);
	if (bind(s6, (struct sockaddr *)&a, sizeof(struct sockaddr_in6)) < 0)
		die_setup("bind to " SENDER6);
	set(s4, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof(mr), "IP_MULTICAST_IF");
	set(s6, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof(idx), "IPV6_MULTICAST_IF");
	/* those that must not pass first: each socket's queue is in order, so once the last comes, all did */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < N_MGROUPS; i++) {
			const struct mgroup *g = &mgroups[i];
			uint16_t port = (uint16_t)(MCAST_PORT + (g->sock == M6));

			if (g->gets != pass)
				continue;
			mcast_addr(&a, g->family, g->group, port);
			if (sendto(g->family == AF_INET ? s4 : s6, g->group, strlen(g->group), 0, (struct sockaddr *)&a,
				   g->family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) < 0)
				ok = failf("cannot send to %s: %s", g->group, strerror(errno));
		}
	for (size_t i = 0; ok && i < N_MGROUPS; i++) {
		const struct mgroup *g = &mgroups[i];
		struct pollfd p = { .fd = socks[g->sock].fd, .events = POLLIN };
		char buf[64];
		ssize_t n;

		if (!g->gets)
			continue;
		n = poll(&p, 1, 2000) == 1 ? recv(p.fd, buf, sizeof(buf) - 1, 0) : -1;
		if (n < 0) {
			ok = failf("%s: no datagram to %s", socks[g->sock].name, g->group);
			break;
		}
		buf[n] = 0;
		if (strcmp(buf, g->group))
			ok = failf("%s: a datagram to %s, expected one to %s", socks[g->sock].name, buf, g->group);
	}
	for (int k = M; ok && k <= M6; k++) {
		char buf[64];
		ssize_t n = recv(socks[k].fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

		if (n >= 0) {
			buf[n] = 0;
			ok = failf("%s: got the datagram to %s, which its filter keeps out", socks[k].name, buf);
		}
	}
	close(s4);
	close(s6);
	return ok;
}

/* C connects to L (whose TCP_DEFER_ACCEPT wants its data first), S is accepted */
static void setup_conn(void)
{
	int c = socks[C].fd = inet_sock(AF_INET, SOCK_STREAM, "C"), s;
	struct linger lg = { 1, 0 };
	struct timeval rt = { 3, 0 };
	char buf[100], peek[10];

	SET_INT(c, SOL_SOCKET, SO_KEEPALIVE, 1);
	SET_INT(c, IPPROTO_TCP, TCP_KEEPIDLE, 55);
	SET_INT(c, IPPROTO_TCP, TCP_USER_TIMEOUT, 4321);
	SET_INT(c, SOL_SOCKET, SO_SNDBUF, 200000);
	SET_INT(c, IPPROTO_IP, IP_TOS, 0x08);
	set(c, IPPROTO_TCP, TCP_CONGESTION, "reno", 4, "TCP_CONGESTION");
	set(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg), "SO_LINGER");
	set(c, SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof(rt), "SO_RCVTIMEO");
	if (connect(c, (struct sockaddr *)&l_addr, sizeof(l_addr)) < 0 || send(c, "hello", 5, 0) != 5)
		die_setup("connecting to L");
	s = socks[S].fd = accept4(socks[L].fd, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0 || recv(s, buf, 5, MSG_WAITALL) != 5)
		die_setup("accept");
	SET_INT(c, SOL_SOCKET, SO_TIMESTAMPING,
		SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_OPT_ID);
	for (int i = 0; i < 100; i++)
		buf[i] = (char)('a' + i % 26);
	if (send(s, buf, 100, 0) != 100)
		die_setup("S sends");
	/* all 100 in C, then 10 peeked past */
	for (int tries = 0; tries < 100; tries++) {
		int n = 0;

		if (ioctl(c, FIONREAD, &n) == 0 && n == 100)
			break;
		usleep(10000);
	}
	SET_INT(c, SOL_SOCKET, SO_PEEK_OFF, 0);
	if (recv(c, peek, sizeof(peek), MSG_PEEK) != sizeof(peek))
		die_setup("peeking");
}

static bool same(const struct sock *s)
{
	struct reading now[N_OPTS];

	read_all((struct sock *)s, now);
	for (size_t i = 0; i < N_OPTS; i++) {
		const struct reading *a = &s->r[i], *b = &now[i];

		if (s->conn && opts[i].conn_varies)
			continue;
		if (a->err != b->err)
			return failf("%s: %s: %s before, %s now", s->name, opts[i].name, a->err ? strerror(a->err) : "read",
				     b->err ? strerror(b->err) : "read");
		if (!a->err && (a->len != b->len || memcmp(a->v, b->v, a->len)) && opts[i].kind == INT)
			return failf("%s: %s: %d before, %d now", s->name, opts[i].name, *(const int *)a->v,
				     *(const int *)b->v);
		if (!a->err && (a->len != b->len || memcmp(a->v, b->v, a->len)))
			return failf("%s: %s: another value than before", s->name, opts[i].name);
	}
	return true;
}

static int get_int(int fd, int level, int opt)
{
	int v = -12345;
	socklen_t l = sizeof(v);

	getsockopt(fd, level, opt, &v, &l);
	return v;
}

/* a client connects to lfd at a and sends first (TCP_DEFER_ACCEPT), gets the byte back */
static bool answers(const char *what, int lfd, const struct sockaddr *a, socklen_t len)
{
	int c = socket(a->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0), s = -1;
	char b = 0;
	bool ok;

	ok = c >= 0 && connect(c, a, len) == 0 && send(c, "?", 1, 0) == 1 &&
	     (s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0 && recv(s, &b, 1, 0) == 1 && b == '?' &&
	     send(s, "!", 1, 0) == 1 && recv(c, &b, 1, 0) == 1 && b == '!';
	if (!ok)
		failf("%s: no answer through a new connection: %s", what, strerror(errno));
	if (c >= 0)
		close(c);
	if (s >= 0)
		close(s);
	return ok;
}

/* a datagram to a, then whether fd gets it within 200 ms */
static bool gets_dgram(int fd, const struct sockaddr_in *a)
{
	int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b[8];
	bool got;

	sendto(u, "dgram", 5, 0, (const struct sockaddr *)a, sizeof(*a));
	close(u);
	got = poll(&p, 1, 200) == 1;
	if (got)
		recv(fd, b, sizeof(b), MSG_DONTWAIT);
	return got;
}

static bool check(void)
{
	struct sock_filter f[8];
	socklen_t n = 8;
	char cong[16] = "", buf[16];

	for (int i = 0; i < N_SOCKS; i++)
		if (socks[i].fd >= 0 && !same(&socks[i]))
			return false;
	/* what was set is there (the comparison alone would pass on a setup that set nothing) */
	if (get_int(socks[L].fd, IPPROTO_IP, IP_TOS) != 0x10 || get_int(socks[L].fd, SOL_SOCKET, SO_PRIORITY) != 5 ||
	    get_int(socks[L].fd, IPPROTO_TCP, TCP_KEEPIDLE) != 77)
		return failf("L: IP_TOS %#x, SO_PRIORITY %d, TCP_KEEPIDLE %d", get_int(socks[L].fd, IPPROTO_IP, IP_TOS),
			     get_int(socks[L].fd, SOL_SOCKET, SO_PRIORITY), get_int(socks[L].fd, IPPROTO_TCP, TCP_KEEPIDLE));
	n = sizeof(cong);
	if (getsockopt(socks[L].fd, IPPROTO_TCP, TCP_CONGESTION, cong, &n) < 0 || strcmp(cong, "reno"))
		return failf("L: TCP_CONGESTION '%s'", cong);
	if (get_int(socks[DT].fd, SOL_SOCKET, SO_BUF_LOCK) != 0 || get_int(socks[DU].fd, SOL_SOCKET, SO_BUF_LOCK) != 0)
		return failf("D: buffer sizes fixed (SO_BUF_LOCK %d)", get_int(socks[DT].fd, SOL_SOCKET, SO_BUF_LOCK));
	n = 8;
	if (getsockopt(socks[F].fd, SOL_SOCKET, SO_GET_FILTER, f, &n) < 0 || n != 3 || memcmp(f, drop_all, sizeof(drop_all)))
		return failf("F: its filter is not the one attached (%u instructions: %s)", n, strerror(errno));
	if (setsockopt(socks[F].fd, SOL_SOCKET, SO_DETACH_FILTER, &n, sizeof(int)) == 0 || errno != EPERM)
		return failf("F: the filter is not locked");
	if (gets_dgram(socks[F].fd, &f_addr))
		return failf("F: a datagram passed its filter");
	if (!gets_dgram(socks[U].fd, &u_addr))
		return failf("U: no datagram");
	if (!answers("L", socks[L].fd, (struct sockaddr *)&l_addr, sizeof(l_addr)) ||
	    (socks[L6].fd >= 0 && !answers("L6", socks[L6].fd, (struct sockaddr *)&l6_addr, sizeof(l6_addr))))
		return false;
	if (mcast_if) {
		unsigned ifindex = if_nametoindex(mcast_if);

		if (!ifindex)
			return failf("no interface %s", mcast_if);
		if (!mcast_joined(ifindex) || !mcast_delivered(ifindex))
			return false;
	}
	if (socks[C].fd < 0)
		return true;
	/* C: peeking goes on from byte 10, reading starts at 0; the connection carries bytes */
	if (get_int(socks[C].fd, SOL_SOCKET, SO_PEEK_OFF) != 10)
		return failf("C: SO_PEEK_OFF %d, expected 10", get_int(socks[C].fd, SOL_SOCKET, SO_PEEK_OFF));
	if (recv(socks[C].fd, buf, 3, MSG_PEEK) != 3 || memcmp(buf, "klm", 3))
		return failf("C: peeked other bytes than 10 to 12");
	if (recv(socks[C].fd, buf, 3, 0) != 3 || memcmp(buf, "abc", 3))
		return failf("C: read other bytes than 0 to 2");
	if (send(socks[C].fd, "c", 1, 0) != 1 || recv(socks[S].fd, buf, 1, 0) != 1 || buf[0] != 'c')
		return failf("C to S: no byte through: %s", strerror(errno));
	return true;
}

static void corrupt(const char *what)
{
	struct timeval tv = { 0, 0 };
	int zero = 0, big = 400000;

	if (!strcmp(what, "tos"))
		setsockopt(socks[L].fd, IPPROTO_IP, IP_TOS, &zero, sizeof(zero));
	else if (!strcmp(what, "cong"))
		setsockopt(socks[L].fd, IPPROTO_TCP, TCP_CONGESTION, "cubic", 5);
	else if (!strcmp(what, "timeo"))
		setsockopt(socks[X0].fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	else if (!strcmp(what, "buflock"))
		setsockopt(socks[DT].fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	else if (!strcmp(what, "mcast") && mcast_if) {
		struct group_req gr = { .gr_interface = if_nametoindex(mcast_if) };

		mcast_addr(&gr.gr_group, AF_INET, mgroups[0].group, 0);
		setsockopt(socks[M].fd, IPPROTO_IP, MCAST_LEAVE_GROUP, &gr, sizeof(gr));
	} else if (!strcmp(what, "filter")) {
		/* a second socket on F's number, with no filter */
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		bind4(fd, &f_addr);
		dup2(fd, socks[F].fd);
		close(fd);
	} else {
		fprintf(stderr, "dumpee_sockopt: unknown corruption '%s'\n", what);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	const char *mode = "wait", *what = NULL, *ifname = NULL, *mcast = NULL;
	bool conn = false, ebpf = false;
	char line[64];
	sigset_t set, old;
	int c;

	while ((c = getopt(argc, argv, "m:c:ti:eg:")) != -1) {
		if (c == 'm')
			mode = optarg;
		else if (c == 'g')
			mcast = optarg;
		else if (c == 'i')
			ifname = optarg;
		else if (c == 'e')
			ebpf = true;
		else if (c == 'c')
			what = optarg;
		else if (c == 't')
			conn = true;
		else
			return 2;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: dumpee_sockopt [-m wait|selftest|corrupt] [-c WHAT] [-t] [-i IFNAME] [-e] "
				"[-g IFNAME] STATUS\n");
		return 2;
	}
	status_path = argv[optind];
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	signal(SIGUSR1, on_usr1);

	setup_l();
	setup_l6();
	setup_udp();
	setup_others();
	socks[C].fd = socks[S].fd = socks[B].fd = socks[E].fd = socks[M].fd = socks[M6].fd = -1;
	if (conn)
		setup_conn();
	if (ifname)
		setup_bound(ifname);
	if (ebpf)
		setup_ebpf();
	if (mcast)
		setup_mcast(mcast);
	for (int i = 0; i < N_SOCKS; i++)
		if (socks[i].fd >= 0)
			read_all(&socks[i], socks[i].r);
	if (!strcmp(mode, "corrupt") && what)
		corrupt(what);
	if (!strcmp(mode, "wait")) {
		snprintf(line, sizeof(line), "READY %d %s", (int)getpid(), socks[L6].fd >= 0 ? "ipv6" : "no-ipv6");
		write_status(line);
		while (!got_usr1)
			sigsuspend(&old);
	}
	if (check()) {
		write_status("OK");
		return 0;
	}
	snprintf(line, sizeof(line), "FAIL: ");
	write_status(strncat(line, failure, sizeof(line) - strlen(line) - 1));
	return 1;
}
