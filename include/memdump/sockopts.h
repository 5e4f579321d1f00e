#pragma once
/*
 * Socket options memdump keeps: one table that the dump reads by, the
 * image names its fields by (SockOpts in files.proto, each field the C
 * name in lower case) and restore sets by. md_sockopts holds those a
 * socket had set: the ones that differ from a new socket's of its kind.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "memdump/model.h"

/* how an option's value is passed and kept (in md_sockopts.v as int64) */
enum md_sockopt_kind {
	MD_SOCKOPT_INT,		/* int */
	MD_SOCKOPT_BOOL,	/* int, kept as 0 or 1 */
	MD_SOCKOPT_TIMEO,	/* struct timeval, kept in microseconds */
	MD_SOCKOPT_LINGER,	/* struct linger, kept as its seconds (off: not set) */
	MD_SOCKOPT_U64,		/* unsigned long */
	MD_SOCKOPT_DEV,		/* an interface name (md_sockopts.dev) */
	MD_SOCKOPT_CONG,	/* a congestion control's name (md_sockopts.cong) */
};

/* the sockets an option belongs to */
enum {
	MD_SOCKOPT_UNIX = 1 << 0,
	MD_SOCKOPT_TCP4 = 1 << 1,
	MD_SOCKOPT_TCP6 = 1 << 2,
	MD_SOCKOPT_UDP4 = 1 << 3,
	MD_SOCKOPT_UDP6 = 1 << 4,
	MD_SOCKOPT_NETLINK = 1 << 5,
};

/* md_sockopt_def.flags */
enum {
	MD_SOCKOPT_LATE = 1 << 0,	/* set once the socket's queues are in (else before bind()) */
	MD_SOCKOPT_UNCONNECTED = 1 << 1,	/* TCP: on listeners only (a connection's, or a closed one's
						 * that may have been connected, is the connection's) */
};

struct md_sockopt_def {
	const char *name;	/* as in C: SO_KEEPALIVE; the image field is the same in lower case */
	int level, opt;
	uint8_t kind;		/* enum md_sockopt_kind */
	uint8_t socks;		/* MD_SOCKOPT_UNIX... */
	uint8_t flags;		/* MD_SOCKOPT_LATE... */
};

#define MD_SOCKOPT_MAX 96	/* entries md_sockopt_defs[] may have */
#define MD_SOCKOPT_NAME_MAX 16	/* IFNAMSIZ, TCP_CA_NAME_MAX: NUL included */
#define MD_SOCKOPT_FILTER_MAX 4096	/* BPF_MAXINSNS */

/* one classic BPF instruction, struct sock_filter */
struct md_bpf_insn {
	uint16_t code;
	uint8_t jt, jf;
	uint32_t k;
};

#define MD_MCAST_MAX 4096	/* memberships a socket may have in an image */
#define MD_MCAST_SRC_MAX 65536	/* sources of all of them */

/*
 * A multicast group a UDP socket joined (IP_ADD_MEMBERSHIP,
 * MCAST_JOIN_GROUP, MCAST_JOIN_SOURCE_GROUP...) on one interface, and its
 * source filter as MCAST_MSFILTER reads it: its sources are n_src
 * addresses of md_sockopts_srcs(), from index src.
 */
struct md_mcast {
	uint8_t family;		/* the group's: AF_INET (an IPv6 socket's too, SOL_IP) or AF_INET6 */
	uint8_t include;	/* MCAST_INCLUDE: only from the sources; else MCAST_EXCLUDE: all but them */
	uint8_t group[16];	/* network byte order, 4 or 16 bytes by family */
	uint32_t ifindex;	/* the interface at the dump */
	char ifname[MD_SOCKOPT_NAME_MAX];	/* and its name, which restore finds it by */
	uint32_t src, n_src;
};

/*
 * The options a socket had set, its classic BPF filter (SO_ATTACH_FILTER)
 * and its multicast memberships; one allocation, sized by
 * md_sockopts_size(): filter[], then the memberships, then their sources.
 */
struct md_sockopts {
	uint64_t set[(MD_SOCKOPT_MAX + 63) / 64];	/* bit i: option i of md_sockopt_defs */
	int64_t v[MD_SOCKOPT_MAX];
	char dev[MD_SOCKOPT_NAME_MAX];		/* SO_BINDTODEVICE */
	char cong[MD_SOCKOPT_NAME_MAX];		/* TCP_CONGESTION */
	uint32_t n_filter;			/* instructions of filter, 0: none */
	uint32_t n_mcast, n_src;		/* memberships, and sources of all of them */
	struct md_bpf_insn filter[];
};

extern const struct md_sockopt_def md_sockopt_defs[];
extern const size_t md_n_sockopt_defs;

static inline size_t md_sockopts_size(uint32_t n_filter, uint32_t n_mcast, uint32_t n_src)
{
	return sizeof(struct md_sockopts) + n_filter * sizeof(struct md_bpf_insn) +
	       n_mcast * sizeof(struct md_mcast) + n_src * (size_t)16;
}

/* the size of o as it is */
static inline size_t md_sockopts_bytes(const struct md_sockopts *o)
{
	return md_sockopts_size(o->n_filter, o->n_mcast, o->n_src);
}

static inline struct md_mcast *md_sockopts_mcast(const struct md_sockopts *o)
{
	return (struct md_mcast *)(void *)((char *)o->filter + o->n_filter * sizeof(struct md_bpf_insn));
}

/* the sources of the memberships: 16 bytes each, an IPv4 one in the first 4 */
static inline uint8_t (*md_sockopts_srcs(const struct md_sockopts *o))[16]
{
	return (uint8_t (*)[16])(void *)(md_sockopts_mcast(o) + o->n_mcast);
}

static inline bool md_sockopt_isset(const struct md_sockopts *o, size_t i)
{
	return o && (o->set[i / 64] >> (i % 64)) & 1;
}

static inline void md_sockopt_mark(struct md_sockopts *o, size_t i)
{
	o->set[i / 64] |= 1ULL << (i % 64);
}

/* an option whose value is a name (md_sockopt_str()), not v[] */
static inline bool md_sockopt_is_name(const struct md_sockopt_def *d)
{
	return d->kind == MD_SOCKOPT_DEV || d->kind == MD_SOCKOPT_CONG;
}

/* the index of an option in md_sockopt_defs[]; md_n_sockopt_defs if not there */
size_t md_sockopt_find(int level, int opt);
/* the MD_SOCKOPT_UNIX... bit of s, 0 for none */
unsigned md_sockopt_sock(const struct md_sock *s);
/* a UDP socket (IPv4 or IPv6): not a netlink one of protocol 17 */
static inline bool md_sock_is_udp(const struct md_sock *s)
{
	return md_sockopt_sock(s) & (MD_SOCKOPT_UDP4 | MD_SOCKOPT_UDP6);
}
/* whether option d belongs on socket s */
bool md_sockopt_applies(const struct md_sockopt_def *d, const struct md_sock *s);
/* the string of a MD_SOCKOPT_DEV or _CONG option in o */
char *md_sockopt_str(struct md_sockopts *o, const struct md_sockopt_def *d);
/*
 * Option d of socket fd, into *v (or str, MD_SOCKOPT_NAME_MAX bytes, for
 * the names); and set from them. -errno.
 */
int md_sockopt_get(int fd, const struct md_sockopt_def *d, int64_t *v, char *str);
int md_sockopt_put(int fd, const struct md_sockopt_def *d, int64_t v, const char *str);

/*
 * addr (4 or 16 bytes, network order; AF_INET6 or else AF_INET) with port
 * (host order) and an IPv6 scope as a sockaddr_in or _in6 in ss, for
 * bind(), connect() and the MCAST_* options; returns its length.
 */
socklen_t md_inet_sockaddr(int family, const uint8_t *addr, uint16_t port, uint32_t scope,
			   struct sockaddr_storage *ss);
