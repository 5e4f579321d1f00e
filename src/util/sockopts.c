/*
 * The socket options memdump keeps, and how each is read and set. An
 * option is kept when the process set it, which the dump sees as a value
 * other than a new socket's; restore sets it again (see dump/sockopts.c,
 * restore/sockopts.c). Options whose value the kernel changes by itself
 * are not here (SO_INCOMING_CPU, TCP_QUICKACK), nor those an established
 * connection gets from its handshake (TCP_MAXSEG, kept by tcp.c).
 */
#include "memdump/sockopts.h"

#include <errno.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "compat/socket.h"

#define UNIX MD_SOCKOPT_UNIX
#define TCP4 MD_SOCKOPT_TCP4
#define TCP6 MD_SOCKOPT_TCP6
#define UDP4 MD_SOCKOPT_UDP4
#define UDP6 MD_SOCKOPT_UDP6
#define TCP (TCP4 | TCP6)
#define UDP (UDP4 | UDP6)
#define IN4 (TCP4 | UDP4)
#define IN6 (TCP6 | UDP6)
#define INET (IN4 | IN6)
#define NL MD_SOCKOPT_NETLINK
#define ALL (UNIX | INET | NL)
#define LATE MD_SOCKOPT_LATE
#define UNCONN MD_SOCKOPT_UNCONNECTED

#define O(level, opt, kind, socks, flags) { #opt, level, opt, MD_SOCKOPT_##kind, socks, flags }

/* the order is the image's: append only */
const struct md_sockopt_def md_sockopt_defs[] = {
	O(SOL_SOCKET, SO_KEEPALIVE, BOOL, INET, 0),
	/* after IP_TOS, which sets it too */
	O(SOL_SOCKET, SO_PRIORITY, INT, ALL, LATE),
	O(SOL_SOCKET, SO_RCVLOWAT, INT, ALL, 0),
	O(SOL_SOCKET, SO_MARK, INT, ALL, 0),
	O(SOL_SOCKET, SO_RCVTIMEO, TIMEO, ALL, 0),
	O(SOL_SOCKET, SO_SNDTIMEO, TIMEO, ALL, 0),
	O(SOL_SOCKET, SO_LINGER, LINGER, INET, 0),
	O(SOL_SOCKET, SO_OOBINLINE, BOOL, TCP, 0),
	O(SOL_SOCKET, SO_BROADCAST, BOOL, UDP, 0),
	O(SOL_SOCKET, SO_DONTROUTE, BOOL, INET, 0),
	O(SOL_SOCKET, SO_NO_CHECK, BOOL, UDP, 0),
	O(SOL_SOCKET, SO_TIMESTAMP, BOOL, ALL, 0),
	O(SOL_SOCKET, SO_TIMESTAMPNS, BOOL, ALL, 0),
	/* with SOF_TIMESTAMPING_OPT_ID a TCP socket must be connected first */
	O(SOL_SOCKET, SO_TIMESTAMPING, INT, ALL, LATE),
	O(SOL_SOCKET, SO_RXQ_OVFL, BOOL, ALL, 0),
	O(SOL_SOCKET, SO_PASSSEC, BOOL, UNIX, 0),
	O(SOL_SOCKET, SO_PASSPIDFD, BOOL, UNIX, 0),
	O(SOL_SOCKET, SO_BUSY_POLL, INT, INET, 0),
	O(SOL_SOCKET, SO_MAX_PACING_RATE, U64, INET, 0),
	O(SOL_SOCKET, SO_ZEROCOPY, BOOL, INET, 0),
	O(SOL_SOCKET, SO_BINDTODEVICE, DEV, INET, 0),
	O(SOL_SOCKET, SO_LOCK_FILTER, BOOL, ALL, 0),
	/* after the buffer sizes, which restore sets last (they set these bits too) */
	O(SOL_SOCKET, SO_BUF_LOCK, INT, ALL, LATE),

	/* on IPv6 sockets too, for their IPv4 traffic */
	O(IPPROTO_IP, IP_TOS, INT, INET, 0),
	O(IPPROTO_IP, IP_TTL, INT, INET, 0),
	O(IPPROTO_IP, IP_MTU_DISCOVER, INT, INET, 0),
	O(IPPROTO_IP, IP_RECVERR, BOOL, INET, 0),
	O(IPPROTO_IP, IP_PKTINFO, BOOL, INET, 0),
	O(IPPROTO_IP, IP_RECVTTL, BOOL, INET, 0),
	O(IPPROTO_IP, IP_RECVTOS, BOOL, INET, 0),
	O(IPPROTO_IP, IP_FREEBIND, BOOL, INET, 0),
	O(IPPROTO_IP, IP_TRANSPARENT, BOOL, INET, 0),
	O(IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, BOOL, INET, 0),
	O(IPPROTO_IP, IP_MULTICAST_TTL, INT, UDP, 0),
	O(IPPROTO_IP, IP_MULTICAST_LOOP, BOOL, UDP, 0),
	O(IPPROTO_IP, IP_MULTICAST_ALL, BOOL, UDP, 0),
	O(IPPROTO_IP, IP_RECVORIGDSTADDR, BOOL, INET, 0),
	O(IPPROTO_IP, IP_LOCAL_PORT_RANGE, INT, INET, 0),

	O(IPPROTO_IPV6, IPV6_TCLASS, INT, IN6, 0),
	O(IPPROTO_IPV6, IPV6_UNICAST_HOPS, INT, IN6, 0),
	O(IPPROTO_IPV6, IPV6_MTU_DISCOVER, INT, IN6, 0),
	O(IPPROTO_IPV6, IPV6_RECVERR, BOOL, IN6, 0),
	O(IPPROTO_IPV6, IPV6_RECVPKTINFO, BOOL, IN6, 0),
	O(IPPROTO_IPV6, IPV6_RECVHOPLIMIT, BOOL, IN6, 0),
	O(IPPROTO_IPV6, IPV6_RECVTCLASS, BOOL, IN6, 0),
	O(IPPROTO_IPV6, IPV6_FREEBIND, BOOL, IN6, 0),
	O(IPPROTO_IPV6, IPV6_TRANSPARENT, BOOL, IN6, 0),
	O(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, INT, UDP6, 0),
	O(IPPROTO_IPV6, IPV6_MULTICAST_LOOP, BOOL, UDP6, 0),
	O(IPPROTO_IPV6, IPV6_MULTICAST_ALL, BOOL, UDP6, 0),
	O(IPPROTO_IPV6, IPV6_MULTICAST_IF, INT, UDP6, 0),
	O(IPPROTO_IPV6, IPV6_RECVORIGDSTADDR, BOOL, IN6, 0),
	O(IPPROTO_IPV6, IPV6_AUTOFLOWLABEL, BOOL, IN6, 0),
	O(IPPROTO_IPV6, IPV6_DONTFRAG, BOOL, IN6, 0),
	O(IPPROTO_IPV6, IPV6_RECVPATHMTU, BOOL, IN6, 0),
	O(IPPROTO_IPV6, IPV6_ADDR_PREFERENCES, INT, IN6, 0),
	O(IPPROTO_IPV6, IPV6_FLOWINFO_SEND, BOOL, IN6, 0),

	O(IPPROTO_TCP, TCP_NODELAY, BOOL, TCP, 0),
	O(IPPROTO_TCP, TCP_CORK, BOOL, TCP, 0),
	O(IPPROTO_TCP, TCP_KEEPIDLE, INT, TCP, 0),
	O(IPPROTO_TCP, TCP_KEEPINTVL, INT, TCP, 0),
	O(IPPROTO_TCP, TCP_KEEPCNT, INT, TCP, 0),
	O(IPPROTO_TCP, TCP_SYNCNT, INT, TCP, 0),
	O(IPPROTO_TCP, TCP_LINGER2, INT, TCP, 0),
	O(IPPROTO_TCP, TCP_DEFER_ACCEPT, INT, TCP, 0),
	O(IPPROTO_TCP, TCP_WINDOW_CLAMP, INT, TCP, UNCONN),
	O(IPPROTO_TCP, TCP_USER_TIMEOUT, INT, TCP, 0),
	O(IPPROTO_TCP, TCP_THIN_LINEAR_TIMEOUTS, BOOL, TCP, 0),
	O(IPPROTO_TCP, TCP_NOTSENT_LOWAT, INT, TCP, 0),
	O(IPPROTO_TCP, TCP_FASTOPEN, INT, TCP, 0),
	O(IPPROTO_TCP, TCP_FASTOPEN_CONNECT, BOOL, TCP, UNCONN),
	O(IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE, BOOL, TCP, 0),
	O(IPPROTO_TCP, TCP_SAVE_SYN, INT, TCP, 0),
	O(IPPROTO_TCP, TCP_INQ, BOOL, TCP, 0),
	O(IPPROTO_TCP, TCP_TX_DELAY, INT, TCP, 0),
	O(IPPROTO_TCP, TCP_MAXSEG, INT, TCP, UNCONN),
	O(IPPROTO_TCP, TCP_CONGESTION, CONG, TCP, 0),

	O(IPPROTO_UDP, UDP_CORK, BOOL, UDP, 0),
	O(IPPROTO_UDP, UDP_SEGMENT, INT, UDP, 0),
	O(IPPROTO_UDP, UDP_GRO, BOOL, UDP, 0),
	O(IPPROTO_UDP, UDP_NO_CHECK6_TX, BOOL, UDP6, 0),
	O(IPPROTO_UDP, UDP_NO_CHECK6_RX, BOOL, UDP6, 0),
	O(IPPROTO_UDP, UDP_ENCAP, INT, UDP, 0),

	O(SOL_NETLINK, NETLINK_PKTINFO, BOOL, NL, 0),
	O(SOL_NETLINK, NETLINK_BROADCAST_ERROR, BOOL, NL, 0),
	O(SOL_NETLINK, NETLINK_NO_ENOBUFS, BOOL, NL, 0),
	O(SOL_NETLINK, NETLINK_CAP_ACK, BOOL, NL, 0),
	O(SOL_NETLINK, NETLINK_EXT_ACK, BOOL, NL, 0),
	O(SOL_NETLINK, NETLINK_GET_STRICT_CHK, BOOL, NL, 0),
};

const size_t md_n_sockopt_defs = sizeof(md_sockopt_defs) / sizeof(md_sockopt_defs[0]);

/* < : md_sockopt_find()'s "not there" is an index too, of a bit never set */
_Static_assert(sizeof(md_sockopt_defs) / sizeof(md_sockopt_defs[0]) < MD_SOCKOPT_MAX,
	       "md_sockopts has no room for every option");
_Static_assert(sizeof(struct md_bpf_insn) == 8, "struct sock_filter is 8 bytes");

size_t md_sockopt_find(int level, int opt)
{
	size_t i = 0;

	while (i < md_n_sockopt_defs && (md_sockopt_defs[i].level != level || md_sockopt_defs[i].opt != opt))
		i++;
	return i;
}

unsigned md_sockopt_sock(const struct md_sock *s)
{
	bool v6 = s->family == AF_INET6;

	if (s->family == AF_UNIX)
		return UNIX;
	if (s->family == AF_NETLINK)
		return NL;
	if (s->family != AF_INET && !v6)
		return 0;
	if (s->protocol == IPPROTO_TCP)
		return v6 ? TCP6 : TCP4;
	if (s->protocol == IPPROTO_UDP)
		return v6 ? UDP6 : UDP4;
	return 0;
}

bool md_sockopt_applies(const struct md_sockopt_def *d, const struct md_sock *s)
{
	if (!(d->socks & md_sockopt_sock(s)))
		return false;
	/* a closed TCP socket may have been connected (reset, failed connect): only listeners */
	return !(d->flags & UNCONN) || s->protocol != IPPROTO_TCP || s->state == TCP_LISTEN;
}

char *md_sockopt_str(struct md_sockopts *o, const struct md_sockopt_def *d)
{
	return d->kind == MD_SOCKOPT_DEV ? o->dev : o->cong;
}

int md_sockopt_get(int fd, const struct md_sockopt_def *d, int64_t *v, char *str)
{
	union {
		int i;
		unsigned long ul;
		struct timeval tv;
		struct linger l;
		char name[MD_SOCKOPT_NAME_MAX];
	} u;
	socklen_t len;

	memset(&u, 0, sizeof(u));
	switch (d->kind) {
	case MD_SOCKOPT_INT:
	case MD_SOCKOPT_BOOL:
		len = sizeof(u.i);
		break;
	case MD_SOCKOPT_TIMEO:
		len = sizeof(u.tv);
		break;
	case MD_SOCKOPT_LINGER:
		len = sizeof(u.l);
		break;
	case MD_SOCKOPT_U64:
		len = sizeof(u.ul);
		break;
	default:
		len = sizeof(u.name);
		break;
	}
	if (getsockopt(fd, d->level, d->opt, &u, &len) < 0)
		return -errno;
	switch (d->kind) {
	case MD_SOCKOPT_INT:
		*v = u.i;
		break;
	case MD_SOCKOPT_BOOL:
		*v = u.i != 0;
		break;
	case MD_SOCKOPT_TIMEO:
		*v = (int64_t)u.tv.tv_sec * 1000000 + u.tv.tv_usec;
		break;
	case MD_SOCKOPT_LINGER:
		*v = u.l.l_onoff ? u.l.l_linger : -1;
		break;
	case MD_SOCKOPT_U64:
		*v = (int64_t)u.ul;
		break;
	default:
		/* SO_BINDTODEVICE: 0 bytes when unbound */
		u.name[len < sizeof(u.name) ? len : sizeof(u.name) - 1] = '\0';
		strcpy(str, u.name);
		*v = 0;
		break;
	}
	return 0;
}

int md_sockopt_put(int fd, const struct md_sockopt_def *d, int64_t v, const char *str)
{
	union {
		int i;
		unsigned long ul;
		struct timeval tv;
		struct linger l;
	} u;
	const void *p = &u;
	socklen_t len;

	switch (d->kind) {
	case MD_SOCKOPT_INT:
	case MD_SOCKOPT_BOOL:
		u.i = (int)v;
		len = sizeof(u.i);
		break;
	case MD_SOCKOPT_TIMEO:
		u.tv = (struct timeval){ .tv_sec = v / 1000000, .tv_usec = v % 1000000 };
		len = sizeof(u.tv);
		break;
	case MD_SOCKOPT_LINGER:
		u.l = (struct linger){ .l_onoff = v >= 0, .l_linger = v >= 0 ? (int)v : 0 };
		len = sizeof(u.l);
		break;
	case MD_SOCKOPT_U64:
		u.ul = (unsigned long)v;
		len = sizeof(u.ul);
		break;
	default:
		p = str;
		len = (socklen_t)strlen(str);
		break;
	}
	return setsockopt(fd, d->level, d->opt, p, len) < 0 ? -errno : 0;
}

socklen_t md_inet_sockaddr(int family, const uint8_t *addr, uint16_t port, uint32_t scope,
			   struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		memcpy(&a->sin6_addr, addr, 16);
		a->sin6_port = htons(port);
		a->sin6_scope_id = scope;
		return sizeof(*a);
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;

	a->sin_family = AF_INET;
	memcpy(&a->sin_addr, addr, 4);
	a->sin_port = htons(port);
	return sizeof(*a);
}
