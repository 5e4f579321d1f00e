/*
 * dumpee_sock: a parent P and a child C holding sockets, for
 * test/e2e/run.sh.
 *
 *   stream   a unix stream pair, P's end non-blocking with a 1 MiB send
 *            buffer: STREAM_PC bytes queued from P to C, STREAM_CP from C
 *            to P
 *   dgram    a unix datagram pair: the DGRAM_PC datagrams (of every size,
 *            one over 64 KiB) queued from P to C, DGRAM_CP from C to P;
 *            C's end has SO_PASSCRED
 *   seqpkt   a unix seqpacket pair in P: three packets queued, the sending
 *            end shut down for writing (the reader gets them, then EOF)
 *   closed   a unix stream socket in P whose peer sent bytes and closed
 *   unconn   a unix stream socket in P never connected
 *   listen   a unix socket listening on DIR/listen.sock (mode 0600,
 *            backlog 17), and one on an abstract name
 *   tcp      a TCP socket listening on 127.0.0.1 (port from the kernel,
 *            SO_REUSEADDR, backlog 9)
 *   udp      a UDP socket bound on 127.0.0.1, and a TCP socket bound but
 *            not listening
 *   epoll    P's epoll fd over P's stream and datagram ends and the path
 *            listener; C inherits it but closes those ends
 *
 * Modes: -m wait (default) writes "READY P C TCPPORT" to STATUS and waits
 * for SIGUSR1; -m selftest checks at once; -m corrupt -c WHAT breaks one
 * piece first (stream, dgram, seqpkt, closed, listen, tcp, udp, passcred,
 * nonblock, epoll), and the check must notice; -m tcpconn also holds an
 * established TCP connection (to itself); -m pending five connections
 * not accepted yet: two of P's in the path listener's backlog (the second
 * bound to an abstract name and shut down for writing), one of C's in the
 * abstract listener's, and two of P's whose fds come before their
 * listener's (listening with a backlog of 0 since, which takes one). A
 * dump must refuse -m pendingdata (-m pending with a byte sent on the
 * first) and -m inflight (a unix pair with a file descriptor in flight,
 * SCM_RIGHTS, checked to be still there).
 * The check, from inside each process: every queued byte in order, every
 * datagram with its length, EOF where the peer is gone or shut down, no
 * byte more; the names and addresses (getsockname), options and flags; a
 * client connects to each listener and gets an answer. P writes "OK" or
 * "FAIL: <process>: <what>" to STATUS and exits.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define STREAM_PC 600000
#define STREAM_CP 3000
#define SEQ_N 3
#define CLOSED_LEN 777
#define LISTEN_BACKLOG 17
#define TCP_BACKLOG 9
#define TCP_SC_MAX (8 << 20)	/* conn_s sends until its queue is full, at most this */
#define TCP_CS 5000		/* conn_c to conn_s */

static const size_t dgram_pc[] = { 1, 7, 1000, 70000, 3, 4096 };
/* C->P: two datagrams, then 250 of one byte (each costs the sender ~800 bytes of buffer) */
static size_t dgram_cp[252] = { 12, 200 };

__attribute__((constructor)) static void small_dgrams(void)
{
	for (size_t k = 2; k < sizeof(dgram_cp) / sizeof(dgram_cp[0]); k++)
		dgram_cp[k] = 1;
}
static const size_t seq_len[SEQ_N] = { 5, 50, 500 };
#define N_PC (sizeof(dgram_pc) / sizeof(dgram_pc[0]))
#define N_CP (sizeof(dgram_cp) / sizeof(dgram_cp[0]))

static const char *status_path, *corrupt_what, *dir;
static volatile sig_atomic_t got_usr1;
static bool is_child;
static char *shared;		/* C's verdict for P, MAP_SHARED */

/* the sockets, at the same numbers in both processes (each closes the other's) */
static int ep = -1;	/* P's epoll fd over st[0], dg[0] and lsn; C inherits it */
static int st[2], dg[2], sq[2], closed_fd = -1, lsn = -1, abst = -1, tcp = -1, udp = -1, tcpb = -1;
static int unconn = -1;	/* a unix stream socket never connected */
static int conn_c = -1, conn_s = -1;	/* -m tcpconn: conn_s accepted from tcp */
static size_t tcp_sc;			/* -m tcpconn: bytes queued from conn_s to conn_c */
/* -m pending: P's two in the path listener, C's in the abstract one, P's two in lsn2 */
static int pend[5] = { -1, -1, -1, -1, -1 };
static int lsn2 = -1;				/* -m pending: a listener at a higher number than pend[3] */
static bool pend_sent;			/* -m pendingdata: pend[0] sent "x" */
static int ex[2] = { -1, -1 };		/* -m inflight */
static struct sockaddr_in tcp_addr, udp_addr, tcpb_addr;
static char listen_path[108], abstract_name[64];

static void on_usr1(int sig)
{
	got_usr1 = 1;
}

static void die_setup(const char *what)
{
	fprintf(stderr, "dumpee_sock: %s: %s\n", what, strerror(errno));
	exit(2);
}

static uint8_t pattern(size_t i, int seed)
{
	return (uint8_t)(i * 7 + (i >> 8) * 13 + (unsigned)seed);
}

static void fill(uint8_t *buf, size_t len, int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pattern(i, seed);
}

static char verdict[512];

static bool failf(const char *fmt, ...)
{
	va_list ap;
	int n;

	if (verdict[0])
		return false;
	n = snprintf(verdict, sizeof(verdict), "FAIL: %s: ", is_child ? "C" : "P");
	va_start(ap, fmt);
	vsnprintf(verdict + n, sizeof(verdict) - (size_t)n, fmt, ap);
	va_end(ap);
	return false;
}

static void send_all(int fd, const uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(fd, buf + done, len - done, MSG_DONTWAIT);

		if (n < 0)
			die_setup("queueing stream data");
		done += (size_t)n;
	}
}

static void send_dgrams(int fd, const size_t *lens, size_t n, int seed)
{
	uint8_t *buf = malloc(100000);

	for (size_t k = 0; k < n; k++) {
		fill(buf, lens[k], seed + (int)k);
		if (send(fd, buf, lens[k], MSG_DONTWAIT) != (ssize_t)lens[k])
			die_setup("queueing a datagram");
	}
	free(buf);
}

/* exactly len bytes of pattern seed, then nothing more (EAGAIN), or EOF if eof */
static bool check_stream(const char *what, int fd, size_t len, int seed, bool eof)
{
	uint8_t *buf = malloc(len + 1);
	size_t got = 0;
	ssize_t n;
	bool ok = true;

	while (got < len) {
		n = recv(fd, buf + got, len - got, MSG_DONTWAIT);
		if (n <= 0) {
			free(buf);
			return failf("%s: %zu of %zu bytes, then %s", what, got, len, n == 0 ? "EOF" : strerror(errno));
		}
		got += (size_t)n;
	}
	for (size_t i = 0; i < len && ok; i++)
		if (buf[i] != pattern(i, seed))
			ok = failf("%s: byte %zu is %#x, expected %#x", what, i, buf[i], pattern(i, seed));
	n = recv(fd, buf, 1, MSG_DONTWAIT);
	free(buf);
	if (!ok)
		return false;
	if (eof && n != 0)
		return failf("%s: no EOF after the data (%zd, %s)", what, n, n < 0 ? strerror(errno) : "a byte more");
	if (!eof && !(n < 0 && errno == EAGAIN))
		return failf("%s: more than the %zu bytes queued (%zd)", what, len, n);
	return true;
}

/*
 * -m tcpconn: len bytes of pattern seed, then none more; they arrive over a
 * while (some had never been sent before the dump) and may not fit the
 * receive buffer at once
 */
static bool check_tcp_stream(const char *what, int fd, size_t len, int seed)
{
	struct timeval tv = { .tv_sec = 20 };
	uint8_t buf[65536];
	size_t got = 0;
	ssize_t n;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return failf("%s: SO_RCVTIMEO: %s", what, strerror(errno));
	while (got < len) {
		n = recv(fd, buf, len - got < sizeof(buf) ? len - got : sizeof(buf), 0);
		if (n <= 0)
			return failf("%s: %zu of %zu bytes, then %s", what, got, len, n == 0 ? "EOF" : strerror(errno));
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pattern(got + (size_t)i, seed))
				return failf("%s: byte %zu is %#x, expected %#x", what, got + (size_t)i, buf[i],
					     pattern(got + (size_t)i, seed));
		got += (size_t)n;
	}
	usleep(100000);
	n = recv(fd, buf, 1, MSG_DONTWAIT);
	if (!(n < 0 && errno == EAGAIN))
		return failf("%s: more than the %zu bytes queued (%zd)", what, len, n);
	return true;
}

/* datagrams of lens[] with patterns seed + k, in order, then nothing (or EOF) */
static bool check_dgrams(const char *what, int fd, const size_t *lens, size_t n, int seed, bool eof)
{
	uint8_t *buf = malloc(200000), *want = malloc(200000);
	bool ok = true;
	ssize_t r;

	for (size_t k = 0; k < n && ok; k++) {
		r = recv(fd, buf, 200000, MSG_DONTWAIT);
		fill(want, lens[k], seed + (int)k);
		if (r != (ssize_t)lens[k])
			ok = failf("%s: datagram %zu has %zd bytes, expected %zu (%s)", what, k, r, lens[k],
				   r < 0 ? strerror(errno) : "");
		else if (memcmp(buf, want, lens[k]))
			ok = failf("%s: datagram %zu has other bytes", what, k);
	}
	if (ok) {
		r = recv(fd, buf, 200000, MSG_DONTWAIT);
		if (eof ? r != 0 : !(r < 0 && errno == EAGAIN))
			ok = failf("%s: after the %zu datagrams: %zd (%s)", what, n, r, r < 0 ? strerror(errno) : "");
	}
	free(buf);
	free(want);
	return ok;
}

static int get_int(int fd, int level, int opt)
{
	int v = -1;
	socklen_t l = sizeof(v);

	if (getsockopt(fd, level, opt, &v, &l) < 0)
		return -1;
	return v;
}

/* a client connects to listener lfd at addr, says ping, gets pong */
static bool ping(const char *what, int lfd, int family, const struct sockaddr *addr, socklen_t len)
{
	int c = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), s = -1;
	char buf[8] = "";
	bool ok = false;

	if (c < 0)
		return failf("%s: socket: %s", what, strerror(errno));
	if (connect(c, addr, len) < 0) {
		failf("%s: connect: %s", what, strerror(errno));
		goto out;
	}
	s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0) {
		failf("%s: accept: %s", what, strerror(errno));
		goto out;
	}
	if (send(c, "ping", 4, 0) != 4 || recv(s, buf, sizeof(buf), 0) != 4 || memcmp(buf, "ping", 4) ||
	    send(s, "pong", 4, 0) != 4 || recv(c, buf, sizeof(buf), 0) != 4 || memcmp(buf, "pong", 4)) {
		failf("%s: no answer through the connection", what);
		goto out;
	}
	ok = true;
out:
	close(c);
	if (s >= 0)
		close(s);
	return ok;
}

static bool same_inet(const char *what, int fd, const struct sockaddr_in *want)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);

	if (getsockname(fd, (struct sockaddr *)&a, &l) < 0)
		return failf("%s: getsockname: %s", what, strerror(errno));
	if (a.sin_family != AF_INET || a.sin_port != want->sin_port || a.sin_addr.s_addr != want->sin_addr.s_addr)
		return failf("%s: bound to %s:%u, expected port %u", what, inet_ntoa(a.sin_addr), ntohs(a.sin_port),
			     ntohs(want->sin_port));
	return true;
}

static bool check_child(void)
{
	struct epoll_event ev;

	if (epoll_wait(ep, &ev, 1, 0) < 0)
		return failf("epoll: C's epoll fd %d: %s", ep, strerror(errno));
	if (!check_stream("stream P->C", st[1], STREAM_PC, 'P', false))
		return false;
	if (!check_dgrams("dgram P->C", dg[1], dgram_pc, N_PC, 'p', false))
		return false;
	if (get_int(dg[1], SOL_SOCKET, SO_PASSCRED) != 1)
		return failf("dgram: SO_PASSCRED is off");
	/* and the pairs still work both ways */
	if (send(st[1], "!", 1, 0) != 1 || send(dg[1], "?", 1, 0) != 1)
		return failf("cannot send to P: %s", strerror(errno));
	/* -m pending: P accepted C's connection and sent "D" */
	if (pend[2] >= 0) {
		char c = 0;

		if (recv(pend[2], &c, 1, MSG_DONTWAIT) != 1 || c != 'D')
			return failf("pending: C's connection did not get P's byte: %s", strerror(errno));
		close(pend[2]);
	}
	return true;
}

/*
 * -m tcpconn: every byte queued both ways (conn_c's small window kept most
 * of conn_s's in conn_s, much of it never sent), the addresses, TCP_NODELAY,
 * and the connection still carries bytes both ways.
 */
static bool check_tcpconn(void)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);
	char c;

	if (!check_tcp_stream("tcp conn_s->conn_c", conn_c, tcp_sc, 'S') ||
	    !check_tcp_stream("tcp conn_c->conn_s", conn_s, TCP_CS, 'T'))
		return false;
	if (getsockname(conn_s, (struct sockaddr *)&a, &l) < 0 || a.sin_port != tcp_addr.sin_port ||
	    getpeername(conn_c, (struct sockaddr *)&a, &l) < 0 || a.sin_port != tcp_addr.sin_port)
		return failf("tcp conn: not on the listener's port any more");
	if (get_int(conn_c, IPPROTO_TCP, TCP_NODELAY) != 1 || get_int(conn_s, IPPROTO_TCP, TCP_NODELAY) != 0)
		return failf("tcp conn: TCP_NODELAY is not as it was");
	if (send(conn_s, "!", 1, MSG_NOSIGNAL) != 1 || recv(conn_c, &c, 1, 0) != 1 || c != '!')
		return failf("tcp conn: no byte through after the check: %s", strerror(errno));
	return true;
}

/* whether fd's peer is bound to the abstract name want (NULL: unbound) */
static bool peer_named(int fd, const char *want)
{
	struct sockaddr_un a;
	socklen_t l = sizeof(a);

	if (getpeername(fd, (struct sockaddr *)&a, &l) < 0)
		return false;
	if (!want)
		return l == offsetof(struct sockaddr_un, sun_path);
	return l == offsetof(struct sockaddr_un, sun_path) + 1 + strlen(want) && !a.sun_path[0] &&
	       !memcmp(a.sun_path + 1, want, strlen(want));
}

static char pend_name[64];

/*
 * -m pending: the connections are still waiting, in order (the first from
 * an unbound socket, the second from pend_name, shut down for writing),
 * and no other; each works both ways once accepted (no read waits: the
 * bytes are there, or the check fails). C's waits in the abstract
 * listener: P sends it "D", C reads it.
 */
static bool check_pending(void)
{
	struct pollfd pf = { .fd = lsn, .events = POLLIN };
	int a[5];
	char buf[4] = "";

	for (int i = 0; i < 5; i++) {
		a[i] = accept4(i < 2 ? lsn : i == 2 ? abst : lsn2, NULL, NULL, SOCK_CLOEXEC);
		if (a[i] < 0)
			return failf("pending: connection %d is not waiting any more: %s", i, strerror(errno));
	}
	if (poll(&pf, 1, 0) != 0)
		return failf("pending: a connection more waits in the path listener");
	if (!peer_named(a[0], NULL) || !peer_named(a[1], pend_name))
		return failf("pending: the connections are not in their order, or not from their sockets");
	if (pend_sent && (recv(a[0], buf, 1, MSG_DONTWAIT) != 1 || buf[0] != 'x'))
		return failf("pending: the byte sent before the dump is lost");
	if (send(pend[0], "A", 1, 0) != 1 || recv(a[0], buf, sizeof(buf), MSG_DONTWAIT) != 1 || buf[0] != 'A' ||
	    send(a[0], "B", 1, 0) != 1 || recv(pend[0], buf, sizeof(buf), MSG_DONTWAIT) != 1 || buf[0] != 'B')
		return failf("pending: the first connection does not carry bytes both ways: %s", strerror(errno));
	if (recv(a[1], buf, sizeof(buf), MSG_DONTWAIT) != 0)
		return failf("pending: the second connection, shut down for writing, does not read EOF");
	if (send(a[1], "C", 1, 0) != 1 || recv(pend[1], buf, sizeof(buf), MSG_DONTWAIT) != 1 || buf[0] != 'C')
		return failf("pending: the second connection does not carry bytes back: %s", strerror(errno));
	if (send(a[2], "D", 1, 0) != 1)
		return failf("pending: cannot send to C's connection: %s", strerror(errno));
	if (send(pend[3], "E", 1, 0) != 1 || recv(a[3], buf, sizeof(buf), MSG_DONTWAIT) != 1 || buf[0] != 'E' ||
	    send(pend[4], "F", 1, 0) != 1 || recv(a[4], buf, sizeof(buf), MSG_DONTWAIT) != 1 || buf[0] != 'F')
		return failf("pending: the connections made before their listener do not carry bytes in order: %s",
			     strerror(errno));
	for (int i = 0; i < 5; i++)
		close(a[i]);
	close(pend[0]);
	close(pend[1]);
	close(pend[3]);
	close(pend[4]);
	close(lsn2);
	return true;
}

static bool check_parent(void)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX }, got;
	socklen_t l = sizeof(got);
	struct stat sb;

	struct epoll_event ev[8];
	unsigned ready = 0;
	int n = epoll_wait(ep, ev, 8, 0);

	/* the stream and the datagram socket have data for P; the listener too with -m pending */
	for (int k = 0; k < n; k++)
		ready |= ev[k].data.u64 < 32 ? 1u << ev[k].data.u64 : 1u;
	if (n < 0 || ready != (1u << 1 | 1u << 2 | (pend[0] >= 0 ? 1u << 3 : 0)))
		return failf("epoll: ready items %#x (%s), expected the stream and the datagram socket (0x6), and "
			     "the listener with a connection waiting (0x8)",
			     ready, n < 0 ? strerror(errno) : "");
	if (!check_stream("stream C->P", st[0], STREAM_CP, 'C', false))
		return false;
	if (!(fcntl(st[0], F_GETFL) & O_NONBLOCK))
		return failf("stream: P's end is not non-blocking any more");
	if (get_int(st[0], SOL_SOCKET, SO_SNDBUF) < 2 << 20)
		return failf("stream: P's send buffer is %d bytes, expected at least 2 MiB", get_int(st[0], SOL_SOCKET, SO_SNDBUF));
	if (!check_dgrams("dgram C->P", dg[0], dgram_cp, N_CP, 'c', false))
		return false;
	if (!check_dgrams("seqpacket", sq[1], seq_len, SEQ_N, 's', true))
		return false;
	if (send(sq[0], "x", 1, MSG_NOSIGNAL) >= 0 || errno != EPIPE)
		return failf("seqpacket: sending on the end shut down for writing: %s", strerror(errno));
	if (!check_stream("closed peer", closed_fd, CLOSED_LEN, 'x', true))
		return false;
	if (send(closed_fd, "x", 1, MSG_NOSIGNAL) >= 0 || errno != EPIPE)
		return failf("closed peer: sending did not fail with EPIPE (%s)", strerror(errno));

	if (get_int(unconn, SOL_SOCKET, SO_TYPE) != SOCK_STREAM || get_int(unconn, SOL_SOCKET, SO_ACCEPTCONN) ||
	    getpeername(unconn, (struct sockaddr *)&got, &l) == 0 || errno != ENOTCONN)
		return failf("unconnected: not a unix stream socket that is neither listening nor connected");
	l = sizeof(got);

	/* the named listeners, by name */
	if (getsockname(lsn, (struct sockaddr *)&got, &l) < 0 || strcmp(got.sun_path, listen_path))
		return failf("listen: bound to '%s', expected '%s'", got.sun_path, listen_path);
	if (stat(listen_path, &sb) < 0 || !S_ISSOCK(sb.st_mode) || (sb.st_mode & 0777) != 0600)
		return failf("listen: '%s' is not a socket of mode 0600 (%o)", listen_path, sb.st_mode);
	if (get_int(lsn, SOL_SOCKET, SO_ACCEPTCONN) != 1)
		return failf("listen: not listening");
	strcpy(un.sun_path, listen_path);
	if (pend[0] >= 0 && !check_pending())
		return false;
	if (!ping("listen", lsn, AF_UNIX, (struct sockaddr *)&un, sizeof(un)))
		return false;
	memset(un.sun_path, 0, sizeof(un.sun_path));
	memcpy(un.sun_path + 1, abstract_name, strlen(abstract_name));
	if (!ping("abstract", abst, AF_UNIX, (struct sockaddr *)&un,
		  (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(abstract_name))))
		return false;

	if (!same_inet("tcp", tcp, &tcp_addr) || !same_inet("udp", udp, &udp_addr) || !same_inet("tcp bound", tcpb, &tcpb_addr))
		return false;
	if (get_int(tcp, SOL_SOCKET, SO_REUSEADDR) != 1)
		return failf("tcp: SO_REUSEADDR is off");
	if (get_int(tcp, SOL_SOCKET, SO_ACCEPTCONN) != 1 || get_int(tcpb, SOL_SOCKET, SO_ACCEPTCONN) != 0)
		return failf("tcp: the listener does not listen, or the bound one does");
	if (!ping("tcp", tcp, AF_INET, (struct sockaddr *)&tcp_addr, sizeof(tcp_addr)))
		return false;
	{
		int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		char buf[16] = "";

		if (sendto(u, "udp!", 4, 0, (struct sockaddr *)&udp_addr, sizeof(udp_addr)) != 4 ||
		    recv(udp, buf, sizeof(buf), 0) != 4 || memcmp(buf, "udp!", 4))
			return failf("udp: no datagram through the bound socket: %s", strerror(errno));
		close(u);
	}
	return conn_c < 0 || check_tcpconn();
}

/* -m inflight: the fd sent is still on its way, a /dev/null */
static bool check_inflight(void)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	char c;
	struct iovec iov = { &c, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *cm;
	struct stat a, b;
	int fd;

	if (recvmsg(ex[1], &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != 1)
		return failf("inflight: no message: %s", strerror(errno));
	cm = CMSG_FIRSTHDR(&mh);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return failf("inflight: the fd in flight is gone");
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	if (fstat(fd, &a) < 0 || stat("/dev/null", &b) < 0 || a.st_rdev != b.st_rdev)
		return failf("inflight: the fd received is not /dev/null");
	close(fd);
	return true;
}

/* once C has checked: what it sent since, through the pairs */
static bool check_after_child(void)
{
	char c;

	if (recv(st[0], &c, 1, MSG_DONTWAIT) != 1 || c != '!' || recv(dg[0], &c, 1, MSG_DONTWAIT) != 1 || c != '?')
		return failf("nothing from C after its check");
	return true;
}

static void corrupt(void)
{
	uint8_t b[8];
	int fd;

	if (!strcmp(corrupt_what, "epoll"))
		epoll_ctl(ep, EPOLL_CTL_DEL, dg[0], NULL);
	else if (!strcmp(corrupt_what, "stream"))
		recv(st[1], b, 1, 0);	/* C's first byte, taken in C's place */
	else if (!strcmp(corrupt_what, "dgram"))
		recv(dg[0], b, sizeof(b), 0);
	else if (!strcmp(corrupt_what, "seqpkt"))
		shutdown(sq[1], SHUT_RD), recv(sq[1], b, sizeof(b), 0);
	else if (!strcmp(corrupt_what, "closed"))
		recv(closed_fd, b, 1, 0);
	else if (!strcmp(corrupt_what, "listen"))
		chmod(listen_path, 0644);
	else if (!strcmp(corrupt_what, "tcp")) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		dup2(fd, tcp);
		close(fd);
	} else if (!strcmp(corrupt_what, "udp")) {
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		dup2(fd, udp);
		close(fd);
	} else if (!strcmp(corrupt_what, "passcred")) {
		int zero = 0;

		setsockopt(dg[1], SOL_SOCKET, SO_PASSCRED, &zero, sizeof(zero));
	} else if (!strcmp(corrupt_what, "nonblock")) {
		fcntl(st[0], F_SETFL, 0);
	} else {
		fprintf(stderr, "dumpee_sock: unknown corruption '%s'\n", corrupt_what);
		exit(2);
	}
}

static int bind_inet(int type, struct sockaddr_in *a)
{
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0), one = 1;
	socklen_t l = sizeof(*a);

	if (fd < 0)
		die_setup("socket");
	if (type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		die_setup("SO_REUSEADDR");
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)a, sizeof(*a)) < 0 || getsockname(fd, (struct sockaddr *)a, &l) < 0)
		die_setup("bind on 127.0.0.1");
	return fd;
}

static void setup_parent(void)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	static uint8_t big[STREAM_PC];
	int big_buf = 1 << 20, pc[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st) < 0 ||
	    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, dg) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sq) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pc) < 0)
		die_setup("socketpair");
	if (setsockopt(st[0], SOL_SOCKET, SO_SNDBUFFORCE, &big_buf, sizeof(big_buf)) < 0 &&
	    setsockopt(st[0], SOL_SOCKET, SO_SNDBUF, &big_buf, sizeof(big_buf)) < 0)
		die_setup("SO_SNDBUF");
	if (fcntl(st[0], F_SETFL, O_NONBLOCK) < 0)
		die_setup("O_NONBLOCK");
	fill(big, STREAM_PC, 'P');
	send_all(st[0], big, STREAM_PC);
	send_dgrams(dg[0], dgram_pc, N_PC, 'p');
	send_dgrams(sq[0], seq_len, SEQ_N, 's');
	shutdown(sq[0], SHUT_WR);
	fill(big, CLOSED_LEN, 'x');
	send_all(pc[1], big, CLOSED_LEN);
	close(pc[1]);
	closed_fd = pc[0];

	snprintf(listen_path, sizeof(listen_path), "%s/listen.sock", dir);
	unlink(listen_path);
	lsn = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	strcpy(un.sun_path, listen_path);
	if (lsn < 0 || bind(lsn, (struct sockaddr *)&un, sizeof(un)) < 0 || chmod(listen_path, 0600) < 0 ||
	    listen(lsn, LISTEN_BACKLOG) < 0)
		die_setup("listening on a path");
	snprintf(abstract_name, sizeof(abstract_name), "memdump-e2e-%d", getpid());
	memset(un.sun_path, 0, sizeof(un.sun_path));
	memcpy(un.sun_path + 1, abstract_name, strlen(abstract_name));
	abst = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (abst < 0 ||
	    bind(abst, (struct sockaddr *)&un, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(abstract_name))) < 0 ||
	    listen(abst, 3) < 0)
		die_setup("listening on an abstract name");

	tcp = bind_inet(SOCK_STREAM, &tcp_addr);
	if (listen(tcp, TCP_BACKLOG) < 0)
		die_setup("listen on 127.0.0.1");
	udp = bind_inet(SOCK_DGRAM, &udp_addr);
	tcpb = bind_inet(SOCK_STREAM, &tcpb_addr);

	unconn = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (unconn < 0)
		die_setup("socket");

	/* C closes the watched ends but keeps the epoll fd: P must add the items back */
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die_setup("epoll_create1");
	for (int k = 1; k <= 3; k++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)k };

		if (epoll_ctl(ep, EPOLL_CTL_ADD, k == 1 ? st[0] : k == 2 ? dg[0] : lsn, &ev) < 0)
			die_setup("epoll_ctl");
	}
}

/* an abstract name's address in un, its length returned */
static socklen_t abstract_addr(struct sockaddr_un *un, const char *name)
{
	memset(un, 0, sizeof(*un));
	un->sun_family = AF_UNIX;
	memcpy(un->sun_path + 1, name, strlen(name));
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
}

static void setup_pending(bool data)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX }, ab;
	char lname[64];
	socklen_t l;

	strcpy(un.sun_path, listen_path);
	for (int i = 0; i < 5; i++)
		if ((pend[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
			die_setup("socket");
	/* its number above pend[3]'s and pend[4]'s: restore reaches the connections first */
	snprintf(lname, sizeof(lname), "memdump-lsn2-%d", getpid());
	l = abstract_addr(&ab, lname);
	lsn2 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* then a backlog of 0: the connections stay, and restore must take them all the same */
	if (lsn2 < 0 || bind(lsn2, (struct sockaddr *)&ab, l) < 0 || listen(lsn2, 1) < 0 ||
	    connect(pend[3], (struct sockaddr *)&ab, l) < 0 || connect(pend[4], (struct sockaddr *)&ab, l) < 0 ||
	    listen(lsn2, 0) < 0)
		die_setup("a listener after its connection");
	snprintf(pend_name, sizeof(pend_name), "memdump-pend-%d", getpid());
	l = abstract_addr(&ab, pend_name);
	if (bind(pend[1], (struct sockaddr *)&ab, l) < 0)
		die_setup("binding a client");
	l = abstract_addr(&ab, abstract_name);
	if (connect(pend[0], (struct sockaddr *)&un, sizeof(un)) < 0 ||
	    connect(pend[1], (struct sockaddr *)&un, sizeof(un)) < 0 || shutdown(pend[1], SHUT_WR) < 0 ||
	    connect(pend[2], (struct sockaddr *)&ab, l) < 0)
		die_setup("connections not accepted");
	if (data && send(pend[0], "x", 1, 0) != 1)
		die_setup("sending before accept()");
	pend_sent = data;
}

/* C: its ends only; queues its data toward P */
static void setup_child(int ready)
{
	static uint8_t buf[STREAM_CP];
	int one = 1;

	close(st[0]);
	close(dg[0]);
	close(sq[0]);
	close(sq[1]);
	close(closed_fd);
	close(unconn);
	close(lsn);
	close(abst);
	close(tcp);
	close(udp);
	close(tcpb);
	if (conn_c >= 0) {
		close(conn_c);
		close(conn_s);
	}
	close(pend[0]);
	close(pend[1]);
	close(pend[3]);
	close(pend[4]);
	close(lsn2);
	if (ex[0] >= 0) {
		close(ex[0]);
		close(ex[1]);
	}
	fill(buf, STREAM_CP, 'C');
	send_all(st[1], buf, STREAM_CP);
	send_dgrams(dg[1], dgram_cp, N_CP, 'c');
	if (setsockopt(dg[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
		die_setup("SO_PASSCRED");
	if (write(ready, "r", 1) != 1)
		die_setup("telling P");
	close(ready);
}

static void write_status(const char *s)
{
	FILE *f = fopen(status_path, "w");

	if (!f)
		exit(3);
	fprintf(f, "%s\n", s);
	fclose(f);
}

int main(int argc, char **argv)
{
	const char *mode = "wait";
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigset_t block, old;
	int opt, rp[2], status;
	pid_t child;
	char c, line[128];

	while ((opt = getopt(argc, argv, "m:c:")) != -1) {
		if (opt == 'm')
			mode = optarg;
		else if (opt == 'c')
			corrupt_what = optarg;
		else
			return 2;
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: dumpee_sock [-m wait|selftest|corrupt|tcpconn|pending|pendingdata|inflight] "
			"[-c WHAT] STATUS DIR\n");
		return 2;
	}
	status_path = argv[optind];
	dir = argv[optind + 1];
	shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		die_setup("mmap");
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old);

	setup_parent();
	if (!strcmp(mode, "pending") || !strcmp(mode, "pendingdata"))
		setup_pending(!strcmp(mode, "pendingdata"));
	if (!strcmp(mode, "inflight")) {
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} ctl = { 0 };
		struct iovec iov = { "f", 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &null, sizeof(int));
		if (null < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ex) < 0 || sendmsg(ex[0], &mh, 0) != 1)
			die_setup("an fd in flight");
		close(null);
	}
	if (!strcmp(mode, "tcpconn")) {
		static uint8_t big[TCP_SC_MAX];
		int small = 65536, one = 1;

		conn_c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (conn_c < 0 || setsockopt(conn_c, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) < 0 ||
		    setsockopt(conn_c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
		    connect(conn_c, (struct sockaddr *)&tcp_addr, sizeof(tcp_addr)) < 0 ||
		    (conn_s = accept4(tcp, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) < 0)
			die_setup("a TCP connection to ourselves");
		fill(big, TCP_SC_MAX, 'S');
		while (tcp_sc < TCP_SC_MAX) {
			ssize_t n = send(conn_s, big + tcp_sc, TCP_SC_MAX - tcp_sc, MSG_DONTWAIT);

			if (n < 0 && errno == EAGAIN)
				break;
			if (n < 0)
				die_setup("filling a TCP connection");
			tcp_sc += (size_t)n;
		}
		if (fcntl(conn_s, F_SETFL, 0) < 0)
			die_setup("O_NONBLOCK off");
		fill(big, TCP_CS, 'T');
		send_all(conn_c, big, TCP_CS);
	}
	if (pipe2(rp, O_CLOEXEC) < 0)
		die_setup("pipe");
	child = fork();
	if (child < 0)
		die_setup("fork");
	if (child == 0) {
		is_child = true;
		close(rp[0]);
		setup_child(rp[1]);
		while (!got_usr1)
			sigsuspend(&old);
		if (shared[2048]) {
			corrupt_what = shared + 2048;
			corrupt();
		}
		if (check_child())
			strcpy(shared, "OK");
		else
			snprintf(shared, 4096, "%s", verdict);
		_exit(0);
	}
	close(rp[1]);
	close(st[1]);
	close(dg[1]);
	if (pend[2] >= 0)
		close(pend[2]);
	if (read(rp[0], &c, 1) != 1)
		die_setup("waiting for C");
	close(rp[0]);

	if (!strcmp(mode, "corrupt")) {
		if (!corrupt_what)
			return 2;
		/* C's end is gone here: break "stream" and "passcred" in C instead */
		if (!strcmp(corrupt_what, "stream") || !strcmp(corrupt_what, "passcred"))
			snprintf(shared + 2048, 64, "%s", corrupt_what);
		else
			corrupt();
	}
	if (strcmp(mode, "selftest") && strcmp(mode, "corrupt")) {
		snprintf(line, sizeof(line), "READY %d %d %u", getpid(), child, ntohs(tcp_addr.sin_port));
		write_status(line);
		while (!got_usr1)
			sigsuspend(&old);
	}
	if (check_parent() && ex[1] >= 0)
		check_inflight();
	kill(child, SIGUSR1);
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status))
		failf("C did not exit cleanly (status %#x)", status);
	if (!verdict[0] && strcmp(shared, "OK"))
		snprintf(verdict, sizeof(verdict), "%s", shared[0] ? shared : "FAIL: C: no verdict");
	if (!verdict[0])
		check_after_child();
	unlink(listen_path);
	write_status(verdict[0] ? verdict : "OK");
	return verdict[0] ? 1 : 0;
}
