/*
 * Sockets of the tree. collect_fd() hands each socket fd here for what
 * the socket itself answers (family, type, options, addresses) through a
 * pidfd_getfd() copy; dump_sockets() then asks sock_diag about them all
 * at once (state, peer, name, queue lengths, pending connections), checks
 * that each can be restored, and copies the data queued in unix sockets
 * with MSG_PEEK, which leaves it in place. Whatever is refused is refused
 * with one line naming the fd, before anything of the tree changes.
 */
#include "memdump/dump.h"
#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "memdump/proc.h"
#include "memdump/sockdiag.h"
#include "memdump/sockopts.h"
#include "dump/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netlink.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define TCP_BOUND_INACTIVE 13	/* 6.6: bound, neither listening nor connected (inet_diag) */

int dump_sock_int(int sk, int level, int opt, int *ret)
{
	socklen_t len = sizeof(*ret);

	return getsockopt(sk, level, opt, ret, &len) < 0 ? -errno : 0;
}

static const char *family_name(int family)
{
	switch (family) {
	case AF_NETLINK:
		return "netlink";
	case AF_PACKET:
		return "packet";
	case AF_INET:
		return "IPv4";
	case AF_INET6:
		return "IPv6";
	case AF_VSOCK:
		return "vsock";
	case AF_ALG:
		return "AF_ALG";
	default:
		return "other";
	}
}

static const char *unix_type_name(int type)
{
	return type == SOCK_STREAM ? "stream" : type == SOCK_DGRAM ? "datagram" : "seqpacket";
}

void dump_take_inet_addr(const struct sockaddr_storage *ss, uint8_t *addr, uint16_t *port, uint32_t *scope)
{
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

		memcpy(addr, &a->sin6_addr, 16);
		*port = ntohs(a->sin6_port);
		if (scope)
			*scope = a->sin6_scope_id;
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

		memcpy(addr, &a->sin_addr, 4);
		*port = ntohs(a->sin_port);
	}
}

static int collect_inet(int sk, int fd, pid_t pid, struct md_sock *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int v = 0, r;

	if (!((s->type == SOCK_STREAM && s->protocol == IPPROTO_TCP) ||
	      (s->type == SOCK_DGRAM && s->protocol == IPPROTO_UDP))) {
		log_msg(LOG_ERR, "fd %d of %d is an %s socket of type %d, protocol %d: not supported (only TCP "
				 "and UDP); close it in the process or run it without it",
			fd, pid, family_name(s->family), s->type, s->protocol);
		return -ENOTSUP;
	}
	if (getsockname(sk, (struct sockaddr *)&ss, &len) < 0)
		return log_err(-errno, "cannot read the address of fd %d of %d", fd, pid);
	dump_take_inet_addr(&ss, s->addr, &s->port, &s->scope_id);
	len = sizeof(ss);
	if (getpeername(sk, (struct sockaddr *)&ss, &len) == 0)
		dump_take_inet_addr(&ss, s->peer_addr, &s->peer_port, NULL);
	else if (errno != ENOTCONN)
		return log_err(-errno, "cannot read the peer of fd %d of %d", fd, pid);
	r = dump_sock_int(sk, SOL_SOCKET, SO_ACCEPTCONN, &v);
	if (r < 0)
		return log_err(r, "cannot read the state of fd %d of %d", fd, pid);
	/* what sock_diag will say (it does not list sockets that are neither bound nor connected) */
	s->state = v ? TCP_LISTEN : s->peer_port ? TCP_ESTABLISHED : TCP_CLOSE;
	if ((r = dump_sock_int(sk, SOL_SOCKET, SO_REUSEADDR, &v)) < 0)
		return log_err(r, "cannot read SO_REUSEADDR of fd %d of %d", fd, pid);
	s->reuseaddr = v;
	if ((r = dump_sock_int(sk, SOL_SOCKET, SO_REUSEPORT, &v)) < 0)
		return log_err(r, "cannot read SO_REUSEPORT of fd %d of %d", fd, pid);
	s->reuseport = v;
	/* TCP and UDP (since 4.11) */
	if (dump_sock_int(sk, SOL_SOCKET, SO_PEEK_OFF, &s->peek_off) < 0)
		s->peek_off = -1;
	if (s->family == AF_INET6) {
		if ((r = dump_sock_int(sk, IPPROTO_IPV6, IPV6_V6ONLY, &v)) < 0)
			return log_err(r, "cannot read IPV6_V6ONLY of fd %d of %d", fd, pid);
		s->v6only = v;
	}
	return 0;
}

static int collect_unix(int sk, int fd, pid_t pid, struct md_sock *s)
{
	int v = 0, r;

	if ((r = dump_sock_int(sk, SOL_SOCKET, SO_PASSCRED, &v)) < 0)
		return log_err(r, "cannot read SO_PASSCRED of fd %d of %d", fd, pid);
	s->passcred = v;
	if ((r = dump_sock_int(sk, SOL_SOCKET, SO_PEEK_OFF, &s->peek_off)) < 0)
		return log_err(r, "cannot read SO_PEEK_OFF of fd %d of %d", fd, pid);
	if ((r = dump_sock_int(sk, SOL_SOCKET, SO_SNDBUF, &v)) < 0)
		return log_err(r, "cannot read SO_SNDBUF of fd %d of %d", fd, pid);
	s->sndbuf = (uint32_t)v;
	if ((r = dump_sock_int(sk, SOL_SOCKET, SO_RCVBUF, &v)) < 0)
		return log_err(r, "cannot read SO_RCVBUF of fd %d of %d", fd, pid);
	s->rcvbuf = (uint32_t)v;
	return 0;
}

/*
 * The groups netlink socket sk joined, into s->nl_groups; -E2BIG for one
 * above what that holds. The kernel says how many bytes all the groups of
 * the protocol take, which may be more than it was given room for.
 */
static int read_groups(int sk, struct md_sock *s)
{
	_cleanup_free_ uint32_t *all = NULL;
	socklen_t len = sizeof(s->nl_groups), want;

	if (getsockopt(sk, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, s->nl_groups, &len) < 0)
		return -errno;
	if (len <= sizeof(s->nl_groups))
		return 0;
	want = len;
	all = calloc(1, want);
	if (!all)
		return -ENOMEM;
	if (getsockopt(sk, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, all, &len) < 0)
		return -errno;
	for (size_t i = MD_NL_GROUP_WORDS; i < want / sizeof(*all); i++)
		if (all[i])
			return -E2BIG;
	return 0;
}

/* whether theirs (a stat of a network namespace) is memdump's: 1, 0, or -1 and errno */
static int netns_ours(const struct stat *theirs)
{
	struct stat ours;

	if (stat("/proc/self/ns/net", &ours) < 0)
		return -1;
	return ours.st_ino == theirs->st_ino && ours.st_dev == theirs->st_dev;
}

/* the socket sk is of memdump's network namespace (its process may have moved since it made it) */
static int same_netns(int sk, int fd, pid_t pid)
{
	_cleanup_close_ int ns = ioctl(sk, SIOCGSKNS);
	struct stat theirs;
	int r;

	if (ns < 0)
		return log_err(-errno, "cannot read the network namespace of socket fd %d of %d", fd, pid);
	if (fstat(ns, &theirs) < 0 || (r = netns_ours(&theirs)) < 0)
		return log_err(-errno, "cannot compare the network namespace of socket fd %d of %d", fd, pid);
	if (!r)
		return log_refuse("fd %d of %d is a socket of another network namespace than memdump's: not supported",
				  fd, pid);
	return 0;
}

/*
 * What a netlink socket cannot take along: messages queued (the answer to
 * a request the process waits for, as well as notifications; poll() on our
 * copy tells without taking them), a pending ENOBUFS (notifications lost,
 * which the process would never learn of), and what the kernel ties to
 * its port and ends with the socket (an nflog group, an NFQUEUE queue).
 */
static int check_netlink(int sk, int fd, pid_t pid, const struct md_sock *s)
{
	struct pollfd pfd = { .fd = sk, .events = POLLIN };
	bool bound = false;
	int r = same_netns(sk, fd, pid);

	if (r < 0)
		return r;
	if (poll(&pfd, 1, 0) < 0)
		return log_err(-errno, "cannot poll netlink socket fd %d of %d", fd, pid);
	if (pfd.revents & POLLERR)
		return log_refuse("fd %d of %d is a netlink socket (protocol %d) that lost messages it has not been "
				  "told of (ENOBUFS): not supported (dump again once the process has read the error)",
				  fd, pid, s->protocol);
	if (pfd.revents & POLLIN)
		return log_refuse("fd %d of %d is a netlink socket (protocol %d) holding messages it has not read: not "
				  "supported (dump again once the process has read them)", fd, pid, s->protocol);
	if (s->protocol != NETLINK_NETFILTER || !s->nl_portid)
		return 0;
	r = proc_nfnl_port_used(s->nl_portid, &bound);
	if (r < 0)
		return log_err(r, "cannot read the nflog groups and NFQUEUE queues");
	if (bound)
		return log_refuse("fd %d of %d is a netlink socket with an nflog group or NFQUEUE queue bound to its "
				  "port %u: not supported (the kernel ends them with the socket)", fd, pid,
				  s->nl_portid);
	return 0;
}

/* what a netlink socket says of itself: its port, destination, groups, credentials flag */
static int collect_netlink(int sk, int fd, pid_t pid, struct md_sock *s)
{
	struct sockaddr_nl a;
	socklen_t len = sizeof(a);
	int v = 0, r;

	if (s->type != SOCK_RAW && s->type != SOCK_DGRAM)
		return log_err(-EINVAL, "fd %d of %d: a netlink socket of type %d", fd, pid, s->type);
	if (getsockname(sk, (struct sockaddr *)&a, &len) < 0)
		return log_err(-errno, "cannot read the address of fd %d of %d", fd, pid);
	s->nl_portid = a.nl_pid;
	len = sizeof(a);
	if (getpeername(sk, (struct sockaddr *)&a, &len) < 0)
		return log_err(-errno, "cannot read the destination of fd %d of %d", fd, pid);
	s->nl_dst_portid = a.nl_pid;
	/* connect() takes a group as a mask of one bit */
	s->nl_dst_group = a.nl_groups ? (uint32_t)__builtin_ctz(a.nl_groups) + 1 : 0;
	r = read_groups(sk, s);
	if (r == -E2BIG)
		return log_refuse("fd %d of %d is a netlink socket of protocol %d in a group above %d: not supported",
				  fd, pid, s->protocol, MD_NL_GROUP_WORDS * 32);
	if (r < 0)
		return log_err(r, "cannot read the groups of netlink socket fd %d of %d", fd, pid);
	if ((r = dump_sock_int(sk, SOL_SOCKET, SO_PASSCRED, &v)) < 0)
		return log_err(r, "cannot read SO_PASSCRED of fd %d of %d", fd, pid);
	s->passcred = v;
	s->state = TCP_CLOSE;
	return check_netlink(sk, fd, pid, s);
}

int dump_collect_socket(pid_t pid, int fd, uint64_t ino, struct md_fd *ret)
{
	_cleanup_close_ int sk = dump_copy_fd(pid, fd);
	struct md_sock *s = &ret->sock;
	int r;

	if (sk < 0)
		return log_err(sk, "cannot get a copy of fd %d of %d", fd, pid);
	memset(s, 0, sizeof(*s));
	s->ino = ino;
	s->peek_off = -1;
	if ((r = dump_sock_int(sk, SOL_SOCKET, SO_DOMAIN, &s->family)) < 0 ||
	    (r = dump_sock_int(sk, SOL_SOCKET, SO_TYPE, &s->type)) < 0 ||
	    (r = dump_sock_int(sk, SOL_SOCKET, SO_PROTOCOL, &s->protocol)) < 0)
		return log_err(r, "cannot read the family and type of socket fd %d of %d", fd, pid);
	switch (s->family) {
	case AF_UNIX:
		ret->kind = MD_FD_UNIX_SOCKET;
		return collect_unix(sk, fd, pid, s);
	case AF_INET:
	case AF_INET6:
		ret->kind = MD_FD_INET_SOCKET;
		return collect_inet(sk, fd, pid, s);
	case AF_NETLINK:
		ret->kind = MD_FD_NETLINK_SOCKET;
		return collect_netlink(sk, fd, pid, s);
	default:
		log_msg(LOG_ERR, "fd %d of %d is a %s socket (family %d): not supported yet; close it in the "
				 "process or run it without it", fd, pid, family_name(s->family), s->family);
		return -ENOTSUP;
	}
}

/* ---- the whole tree ---- */

/* sock_diag answers for memdump's network namespace: the tree must live in it */
static int check_netns(pid_t pid)
{
	struct stat theirs;
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	if (stat(path, &theirs) < 0 || (r = netns_ours(&theirs)) < 0)
		return log_err(-errno, "cannot read the network namespace of %d", pid);
	if (!r)
		return log_refuse("%d holds sockets in another network namespace than memdump's: not "
				  "supported (run memdump in it, e.g. with nsenter -n)", pid);
	return 0;
}

static void fmt_inet(char *buf, size_t len, int family, const uint8_t *addr, uint16_t port)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(family, addr, a, sizeof(a));
	snprintf(buf, len, family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, port);
}

/*
 * The file of a path name: its absolute path (a relative name counts from
 * the cwd, which we take as the one it was bound in), and that it is still
 * this socket's.
 */
static int unix_path(pid_t pid, int fd, const struct sd_unix *u, struct md_sock *s)
{
	char abs[PATH_MAX], cwd[PATH_MAX], link[64];
	struct stat st;
	ssize_t n;

	if (u->name[0] == '/') {
		snprintf(abs, sizeof(abs), "%.*s", (int)u->name_len, u->name);
	} else {
		snprintf(link, sizeof(link), "/proc/%d/cwd", pid);
		n = readlink(link, cwd, sizeof(cwd) - 1);
		if (n < 0)
			return log_err(-errno, "cannot read the cwd of %d", pid);
		cwd[n] = '\0';
		if (snprintf(abs, sizeof(abs), "%s/%.*s", cwd, (int)u->name_len, u->name) >= (int)sizeof(abs))
			return log_err(-ENAMETOOLONG, "fd %d of %d: cannot make the name of its unix socket absolute",
				       fd, pid);
	}
	/* the name as bind() takes it, NUL included */
	if (strlen(abs) >= MD_SOCK_NAME_MAX)
		return log_refuse("fd %d of %d is a unix socket bound to '%s': its absolute path is too long "
				  "to bind again; not supported", fd, pid, abs);
	if (stat(abs, &st) < 0 || !S_ISSOCK(st.st_mode) || (u->has_vfs && st.st_ino != u->vfs_ino))
		return log_refuse("fd %d of %d is a unix socket bound to '%s', whose file was removed or "
				  "replaced: not supported (nobody can reach it by its name; close it)",
				  fd, pid, abs);
	memset(s->name, 0, sizeof(s->name));
	memcpy(s->name, abs, strlen(abs));
	s->name_len = (uint32_t)strlen(abs);
	s->path_mode = st.st_mode;
	s->path_uid = st.st_uid;
	s->path_gid = st.st_gid;
	return 0;
}

static int fill_unix(const struct md_socks *socks, pid_t pid, struct md_fd *f, const struct sockdiag *d)
{
	const struct sd_unix *u = sockdiag_find_unix(d, f->sock.ino);
	struct md_sock *s = &f->sock;
	const struct sd_icon *ic = NULL;
	bool unpeered;

	if (!u)
		return log_err(-EIO, "fd %d of %d: the kernel does not list its unix socket %llu (sock_diag leaves out "
			       "a listener whose waiting connections do not fit in its answer: some 8000)", f->fd, pid,
			       (unsigned long long)s->ino);
	s->state = u->state;
	s->shutdown = u->shutdown & (MD_SOCK_SHUT_RD | MD_SOCK_SHUT_WR);
	s->peer_ino = u->peer_ino;
	if (u->state != TCP_ESTABLISHED && u->state != TCP_CLOSE && u->state != TCP_LISTEN)
		return log_refuse("fd %d of %d is a unix %s socket in state %d: not supported", f->fd, pid,
				  unix_type_name(s->type), u->state);
	/* the connections waiting in its backlog: check_backlogs() */
	if (u->state == TCP_LISTEN)
		s->backlog = u->wqueue;
	if (u->peer_ino && !md_socks_find(socks, u->peer_ino, NULL))
		return log_refuse("fd %d of %d is a unix %s socket connected to socket:[%llu] outside the "
				  "dumped tree: not supported (dump the tree that holds both ends, or close it)",
				  f->fd, pid, unix_type_name(s->type), (unsigned long long)u->peer_ino);
	/*
	 * unix_diag shows no peer for a stream whose peer closed (the kernel then
	 * shuts it down both ways) and for one whose connect() waits in the
	 * backlog of a listener: its other end is the kernel's until accept().
	 * Restore connects it again, if it has sent nothing: what it sent waits
	 * in that other end, which nothing outside the kernel can read.
	 */
	unpeered = !u->peer_ino && u->state == TCP_ESTABLISHED && s->type != SOCK_DGRAM;
	if (unpeered)
		ic = sockdiag_find_icon(d, s->ino);
	if (ic && !md_socks_find(socks, ic->listener, NULL))
		return log_refuse("fd %d of %d is a unix %s socket whose connect() waits in the backlog of "
				  "socket:[%llu] outside the dumped tree: not supported (dump once the listener has "
				  "accepted it, or dump the tree that holds the listener)", f->fd, pid,
				  unix_type_name(s->type), (unsigned long long)ic->listener);
	if (ic && u->wqueue)
		return log_refuse("fd %d of %d is a unix %s socket that has sent data on a connection its listener "
				  "has not accepted yet: not supported (dump once the listener has accepted it)",
				  f->fd, pid, unix_type_name(s->type));
	if (ic) {
		s->pending_on = ic->listener;
		s->pending_pos = ic->pos;
	}
	if (unpeered && !ic && s->shutdown != (MD_SOCK_SHUT_RD | MD_SOCK_SHUT_WR))
		return log_refuse("fd %d of %d is a unix %s socket connected to no peer, not shut down, and in no "
				  "listener's backlog: not supported", f->fd, pid, unix_type_name(s->type));
	if (u->name_len && u->name[0])
		return unix_path(pid, f->fd, u, s);
	memset(s->name, 0, sizeof(s->name));
	memcpy(s->name, u->name, u->name_len);
	s->name_len = u->name_len;
	return 0;
}

/*
 * A connect() in progress (SYN-SENT): restore connects again, from the same
 * address and port. Nothing of the connection is kept, so nothing needs TCP
 * repair: its SYNs so far went unanswered, and the new one starts afresh.
 * getpeername() does not give the peer yet; sock_diag does. Data queued to
 * go with the SYN (TCP Fast Open) would be lost: refused.
 */
static int fill_connecting(pid_t pid, struct md_fd *f, const struct sd_inet *i, const char *a)
{
	struct md_sock *s = &f->sock;

	memcpy(s->peer_addr, i->dst, sizeof(s->peer_addr));
	s->peer_port = i->dport;
	/* the SYN counts as one */
	if (i->wqueue > 1)
		return log_refuse("fd %d of %d is a TCP socket connecting from %s with %u bytes to send with its "
				  "SYN (TCP Fast Open): not supported", f->fd, pid, a, i->wqueue - 1);
	return 0;
}

static int fill_inet(pid_t pid, struct md_fd *f, const struct sockdiag *d, unsigned flags)
{
	const struct sd_inet *i = sockdiag_find_inet(d, f->sock.ino);
	struct md_sock *s = &f->sock;
	char a[INET6_ADDRSTRLEN + 8], b[INET6_ADDRSTRLEN + 8];

	fmt_inet(a, sizeof(a), s->family, s->addr, s->port);
	fmt_inet(b, sizeof(b), s->family, s->peer_addr, s->peer_port);
	/* not listed: neither bound nor connected, or bound on a kernel that does not list those */
	if (i) {
		s->state = i->state == TCP_BOUND_INACTIVE ? TCP_CLOSE : i->state;
		if (s->state == TCP_LISTEN)
			s->backlog = i->wqueue;
	}
	if (s->protocol == IPPROTO_UDP) {
		if (i && i->rqueue)
			log_warn("fd %d of %d: the datagrams waiting in UDP socket %s (%u bytes) are not kept "
				 "(UDP may lose datagrams anyway)", f->fd, pid, a, i->rqueue);
		return 0;
	}
	/*
	 * Connections the listener has not handed to accept() yet: the
	 * process never saw them, and a listener cannot be given them back.
	 * --skip-in-flight (CRIU's) leaves them out: their clients see them
	 * reset, as when a server restarts. Connections still in their
	 * handshake (SYN-RECV) are not counted, and never kept.
	 */
	if (s->state == TCP_LISTEN) {
		if (i && i->rqueue && !(flags & DUMP_SOCK_SKIP_IN_FLIGHT))
			return log_refuse("fd %d of %d is a TCP socket listening on %s with %u connection(s) "
					  "not accepted yet: not supported (accept them first, or dump with "
					  "--skip-in-flight to leave them out)", f->fd, pid, a, i->rqueue);
		if (i && i->rqueue)
			log_warn("fd %d of %d: the %u connection(s) waiting for accept() on TCP socket %s are left "
				 "out (--skip-in-flight): %s", f->fd, pid, i->rqueue, a,
				 flags & DUMP_SOCK_TREE_RUNS ? "they stay queued here, a restore of the image has none"
				 : "the restored listener has none, their clients see them reset");
		return 0;
	}
	if (s->state == TCP_CLOSE && !s->peer_port)
		return 0;
	if (s->state == TCP_SYN_SENT)
		return fill_connecting(pid, f, i, a);
	if (md_tcp_state_conn(s->state) && (flags & DUMP_SOCK_TCP_ESTABLISHED))
		return 0;	/* tcp.c reads it in repair mode */
	if (s->state == TCP_ESTABLISHED)
		return log_refuse("fd %d of %d is an established TCP connection %s - %s: dump it with "
				  "--tcp-established", f->fd, pid, a, b);
	if (md_tcp_state_conn(s->state))
		return log_refuse("fd %d of %d is a TCP connection %s - %s in state %s: dump it with "
				  "--tcp-established", f->fd, pid, a, b, md_tcp_state_name(s->state));
	return log_refuse("fd %d of %d is a TCP connection %s - %s in state %s: not supported", f->fd, pid, a, b,
			  md_tcp_state_name(s->state));
}

/*
 * A netlink socket: what only sock_diag tells (collect_netlink() saw to
 * the rest). A dump request still being answered would leave the process
 * waiting after the restore; NETLINK_LISTEN_ALL_NSID cannot be read back
 * otherwise.
 */
static int fill_netlink(pid_t pid, struct md_fd *f, const struct sockdiag *d)
{
	struct md_sock *s = &f->sock;
	const struct sd_netlink *l = sockdiag_find_netlink(d, s->ino);
	bool groups = false;

	for (size_t i = 0; i < MD_NL_GROUP_WORDS; i++)
		groups |= s->nl_groups[i] != 0;
	if (!l) {
		/* neither bound nor in a group: the kernel has nothing more to say of it */
		if (s->nl_portid || groups)
			log_warn("fd %d of %d: the kernel did not list netlink socket (protocol %d, port %u); "
				 "NETLINK_LISTEN_ALL_NSID, if it was set, is not kept", f->fd, pid, s->protocol,
				 s->nl_portid);
		return 0;
	}
	if (l->dump_running)
		return log_refuse("fd %d of %d is a netlink socket (protocol %d) whose dump request the kernel is "
				  "still answering: not supported (dump again once the process has read it)", f->fd,
				  pid, s->protocol);
	s->nl_all_nsid = l->all_nsid;
	return 0;
}

/*
 * The kernel's netlink_diag answer may skip a socket at the end of each
 * part of it: bound sockets it missed are asked for again, by protocol (a
 * shorter answer, cut elsewhere).
 */
static int relist_netlink(const struct md_proc *procs, size_t n, struct sockdiag *d)
{
	bool asked[MD_NL_PROTOCOLS] = { false };
	int r;

	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < procs[i].n_fds; k++) {
			const struct md_sock *s = &procs[i].fds[k].sock;

			if (procs[i].fds[k].kind != MD_FD_NETLINK_SOCKET || !s->nl_portid ||
			    s->protocol < 0 || s->protocol >= MD_NL_PROTOCOLS || asked[s->protocol] ||
			    sockdiag_find_netlink(d, s->ino))
				continue;
			asked[s->protocol] = true;
			r = sockdiag_add_netlink(d, (uint8_t)s->protocol);
			if (r < 0)
				return r;
		}
	return 0;
}

/* its options, read once per socket: its other fds get copies */
static int fill_opts(const struct md_socks *socks, pid_t pid, struct md_fd *f, struct dump_sockopt_refs *refs)
{
	const struct md_fd *first = md_socks_find(socks, f->sock.ino, NULL);
	const struct md_sockopts *o = first->sock.opts;

	if (first == f)
		return dump_sockopts(refs, pid, f->fd, &f->sock);
	f->sock.sndbuf = first->sock.sndbuf;
	f->sock.rcvbuf = first->sock.rcvbuf;
	if (o && !(f->sock.opts = malloc(md_sockopts_bytes(o))))
		return -ENOMEM;
	if (o)
		memcpy(f->sock.opts, o, md_sockopts_bytes(o));
	return 0;
}

/* ---- queued data ---- */

struct peeked {
	struct md_sock_queue q;
	size_t cap, pkt_cap;
	bool fds;		/* SCM_RIGHTS in flight */
};

static int add_packet(struct peeked *p, const uint8_t *buf, size_t len)
{
	if (p->q.len + len > p->cap) {
		size_t nc = p->cap ? p->cap : 65536;
		uint8_t *nd;

		while (nc < p->q.len + len)
			nc *= 2;
		nd = realloc(p->q.data, nc);
		if (!nd)
			return -ENOMEM;
		p->q.data = nd;
		p->cap = nc;
	}
	if (p->q.n_pkts == p->pkt_cap) {
		size_t nc = p->pkt_cap ? p->pkt_cap * 2 : 16;
		uint32_t *nl = reallocarray(p->q.pkt_len, nc, sizeof(*nl));

		if (!nl)
			return -ENOMEM;
		p->q.pkt_len = nl;
		p->pkt_cap = nc;
	}
	memcpy(p->q.data + p->q.len, buf, len);
	p->q.len += len;
	p->q.pkt_len[p->q.n_pkts++] = (uint32_t)len;
	return 0;
}

/* one peek: its length, or -errno; fds passed along come to us with it: closed, and noted */
static ssize_t peek_one(int sk, void *buf, size_t len, struct peeked *p)
{
	union {
		char buf[4096];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl) };
	ssize_t n = recvmsg(sk, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		p->fds = true;
		for (size_t k = 0; k < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); k++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
			close(fd);
		}
	}
	if (mh.msg_flags & MSG_CTRUNC)
		p->fds = true;
	return n;
}

/*
 * Everything queued, without taking it: SO_PEEK_OFF walks the queue (a
 * stream's bytes, datagram after datagram) and is put back as it was.
 */
static int peek_all(int sk, const struct md_sock *s, struct peeked *p)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t cap = 1 << 16;
	int r = 0;

	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n, len = (ssize_t)cap;

		if (s->type != SOCK_STREAM) {
			/* the datagram's length first: a short peek would split it */
			len = recv(sk, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
			if (len < 0)
				return errno == EAGAIN ? 0 : -errno;
			/* 0: either an empty datagram, or none and the socket shut down for reading */
			if (len == 0)
				return s->shutdown & MD_SOCK_SHUT_RD ? 0 : -ENOMSG;
			if ((size_t)len > cap) {
				uint8_t *nb = realloc(buf, (size_t)len);

				if (!nb)
					return -ENOMEM;
				buf = nb;
				cap = (size_t)len;
			}
		}
		n = peek_one(sk, buf, (size_t)len, p);
		if (n == -EAGAIN || n == 0)
			return 0;
		if (n < 0)
			return (int)n;
		if (s->type != SOCK_STREAM && n != len)
			return -EIO;
		r = add_packet(p, buf, (size_t)n);
		if (r < 0 || p->fds)
			return r;
	}
}

static int peek_queue(pid_t pid, const struct md_fd *f, struct peeked *p)
{
	_cleanup_close_ int sk = dump_copy_fd(pid, f->fd);
	int zero = 0, old, r, r2;

	if (sk < 0)
		return log_err(sk, "cannot get a copy of fd %d of %d", f->fd, pid);
	r = dump_sock_int(sk, SOL_SOCKET, SO_PEEK_OFF, &old);
	if (r < 0)
		return log_err(r, "cannot read SO_PEEK_OFF of fd %d of %d", f->fd, pid);
	if (setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) < 0)
		return log_err(-errno, "cannot set SO_PEEK_OFF on fd %d of %d", f->fd, pid);
	r = peek_all(sk, &f->sock, p);
	/* on every path: the process peeks as it did */
	r2 = setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &old, sizeof(old)) < 0 ? -errno : 0;
	if (r == -ENOMSG)
		return log_refuse("fd %d of %d is a unix %s socket with an empty datagram queued: not "
				  "supported (let the process read it first)", f->fd, pid,
				  unix_type_name(f->sock.type));
	if (r < 0)
		return log_err(r, "cannot read the data queued on fd %d of %d", f->fd, pid);
	if (r2 < 0)
		return log_err(r2, "cannot put SO_PEEK_OFF of fd %d of %d back", f->fd, pid);
	return 0;
}

static int dump_queue(const struct md_socks *socks, pid_t pid, const struct md_fd *f, struct md_sock_queue **qs,
		      size_t *nq)
{
	struct peeked p = { 0 };
	struct md_sock_queue *nqs;
	int r;

	r = peek_queue(pid, f, &p);
	if (r >= 0 && p.fds)
		r = log_refuse("fd %d of %d is a unix %s socket with file descriptors in flight (SCM_RIGHTS) in "
			       "its queue: not supported (let the process receive them first)",
			       f->fd, pid, unix_type_name(f->sock.type));
	if (r >= 0 && p.q.n_pkts && !md_sock_refillable(socks, &f->sock))
		r = log_refuse("fd %d of %d is a unix %s socket with %zu bytes queued but no connected peer in "
			       "the tree to send them again: not supported (let the process read them first)",
			       f->fd, pid, unix_type_name(f->sock.type), p.q.len);
	if (r < 0 || !p.q.n_pkts) {
		md_sock_queue_release(&p.q);
		return r;
	}
	nqs = reallocarray(*qs, *nq + 1, sizeof(**qs));
	if (!nqs) {
		md_sock_queue_release(&p.q);
		return -ENOMEM;
	}
	p.q.ino = f->sock.ino;
	nqs[(*nq)++] = p.q;
	*qs = nqs;
	return 0;
}

/*
 * The connections waiting in the backlogs of the tree's unix listeners:
 * each must come from a socket of the tree that is still open, which
 * restore connects again (fill_unix() checked what it sent). Others are
 * left out with DUMP_SOCK_SKIP_IN_FLIGHT: their clients see them reset.
 */
static int check_backlogs(const struct md_socks *socks, const struct sockdiag *d, unsigned flags)
{
	size_t left_out = 0;

	for (size_t i = 0; i < d->n_icons; i++) {
		const struct sd_icon *ic = &d->icons[i];
		const struct sd_unix *u;
		pid_t pid;
		const struct md_fd *l = md_socks_find(socks, ic->listener, &pid);

		if (!l || (ic->ino && md_socks_find(socks, ic->ino, NULL)))
			continue;
		if (flags & DUMP_SOCK_SKIP_IN_FLIGHT) {
			left_out++;
			continue;
		}
		u = sockdiag_find_unix(d, ic->listener);
		return log_refuse("fd %d of %d is a listening unix socket '%.*s' with a connection not accepted yet "
				  "%s: not supported (accept it, dump when none is waiting, or dump with "
				  "--skip-in-flight to leave it out)", l->fd, pid,
				  u ? (int)u->name_len - (u->name[0] == 0) : 0, u ? u->name + (u->name[0] == 0) : "",
				  ic->ino ? "from a socket outside the dumped tree"
					  : "whose connecting socket has closed");
	}
	if (left_out)
		log_warn("%zu connection(s) waiting for accept() on the tree's unix listeners, from outside the "
			 "tree or from sockets closed since, are left out (--skip-in-flight)", left_out);
	return 0;
}

int dump_sockets(const struct md_socks *socks, struct md_proc *procs, size_t n, unsigned flags,
		 struct md_sock_queue **ret, size_t *ret_n)
{
	struct md_sock_queue *qs = NULL;
	struct sockdiag d = { 0 };
	struct dump_sockopt_refs refs = { 0 };
	bool any_unix = false, any_inet = false, any_netlink = false;
	size_t nq = 0;
	int r = 0;

	*ret = NULL;
	*ret_n = 0;
	for (size_t i = 0; i < n; i++) {
		bool here = false;

		for (size_t k = 0; k < procs[i].n_fds; k++) {
			any_unix |= procs[i].fds[k].kind == MD_FD_UNIX_SOCKET;
			any_inet |= procs[i].fds[k].kind == MD_FD_INET_SOCKET;
			any_netlink |= procs[i].fds[k].kind == MD_FD_NETLINK_SOCKET;
			here |= md_fd_is_sock(&procs[i].fds[k]);
		}
		if (here && (r = check_netns(procs[i].pid)) < 0)
			return r;
	}
	if (!any_unix && !any_inet && !any_netlink)
		return 0;
	r = sockdiag_collect(any_unix, any_inet, &d);
	if (r >= 0 && any_netlink)
		r = sockdiag_add_netlink(&d, SD_NETLINK_ALL);
	if (r >= 0 && any_netlink)
		r = relist_netlink(procs, n, &d);
	if (r < 0) {
		sockdiag_release(&d);
		return log_err(r, "cannot ask the kernel about the tree's sockets (sock_diag)");
	}

	/* every fd: a socket held by several gets the same answers each time */
	for (size_t i = 0; i < n && r >= 0; i++)
		for (size_t k = 0; k < procs[i].n_fds && r >= 0; k++) {
			struct md_fd *f = &procs[i].fds[k];

			if (f->kind == MD_FD_UNIX_SOCKET)
				r = fill_unix(socks, procs[i].pid, f, &d);
			else if (f->kind == MD_FD_INET_SOCKET)
				r = fill_inet(procs[i].pid, f, &d, flags);
			else if (f->kind == MD_FD_NETLINK_SOCKET)
				r = fill_netlink(procs[i].pid, f, &d);
			if (r >= 0 && md_fd_is_sock(f))
				r = fill_opts(socks, procs[i].pid, f, &refs);
		}
	if (r >= 0)
		r = check_backlogs(socks, &d, flags);
	sockdiag_release(&d);
	dump_sockopt_refs_release(&refs);
	/* the queues, once per socket */
	for (size_t i = 0; i < n && r >= 0; i++)
		for (size_t k = 0; k < procs[i].n_fds && r >= 0; k++) {
			const struct md_fd *f = &procs[i].fds[k];

			/* a stream or seqpacket socket receives only once connected (recv() fails before) */
			if (f->kind != MD_FD_UNIX_SOCKET ||
			    (f->sock.state != TCP_ESTABLISHED && f->sock.type != SOCK_DGRAM))
				continue;
			/* its first fd in the walk's order: each socket's queue once */
			if (md_socks_find(socks, f->sock.ino, NULL) == f)
				r = dump_queue(socks, procs[i].pid, f, &qs, &nq);
		}
	if (r < 0) {
		for (size_t j = 0; j < nq; j++)
			md_sock_queue_release(&qs[j]);
		free(qs);
		return r;
	}
	*ret = qs;
	*ret_n = nq;
	return 0;
}
