#pragma once
/*
 * What the kernel says about sockets through NETLINK_SOCK_DIAG (libnl):
 * unix_diag for AF_UNIX, inet_diag for TCP and UDP over IPv4 and IPv6,
 * netlink_diag for AF_NETLINK.
 * The parsers take one netlink message, so tests need no live socket;
 * sockdiag_collect() asks the kernel for every socket of memdump's
 * network namespace. Deciding what the answers mean is the caller's.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nlmsghdr;

#define SD_NAME_MAX 108		/* sizeof(sun_path) */

struct sd_unix {
	uint64_t ino;
	uint8_t type;		/* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
	uint8_t state;		/* TCP_ESTABLISHED, TCP_CLOSE, TCP_LISTEN */
	uint64_t peer_ino;	/* UNIX_DIAG_PEER, 0: none (or the peer is gone) */
	char name[SD_NAME_MAX];	/* UNIX_DIAG_NAME as bound; abstract: name[0] == 0 */
	uint32_t name_len;	/* 0: unbound */
	bool has_vfs;		/* UNIX_DIAG_VFS: the file of a path name */
	uint64_t vfs_ino;
	uint32_t vfs_dev;	/* the kernel's dev_t (new_encode_dev) */
	bool has_rqlen;
	uint32_t rqueue;	/* listening: connections not accepted; stream: bytes unread;
				 * datagram: bytes of the first datagram */
	uint32_t wqueue;	/* listening: the backlog; else bytes not yet read by the peer */
	uint32_t n_icons;	/* UNIX_DIAG_ICONS: connections waiting in a listener (sockdiag.icons) */
	uint8_t shutdown;	/* UNIX_DIAG_SHUTDOWN: 1 RCV_SHUTDOWN, 2 SEND_SHUTDOWN */
};

struct sd_inet {
	uint64_t ino;
	uint8_t family;		/* AF_INET, AF_INET6 */
	uint8_t protocol;	/* IPPROTO_TCP, IPPROTO_UDP (of the request) */
	uint8_t state;		/* TCP_*; UDP: TCP_CLOSE or TCP_ESTABLISHED (connected) */
	uint16_t sport, dport;	/* host order */
	uint8_t src[16], dst[16];	/* network order, 4 bytes for AF_INET */
	uint32_t ifindex;	/* bound to a device */
	uint32_t rqueue;	/* listening: connections not accepted; else bytes unread */
	uint32_t wqueue;	/* listening: the backlog; else bytes not yet sent */
	bool md5;		/* INET_DIAG_MD5SIG: TCP-MD5 keys (shown to CAP_NET_ADMIN) */
	uint8_t shutdown;	/* INET_DIAG_SHUTDOWN: 1 RCV_SHUTDOWN, 2 SEND_SHUTDOWN */
};

struct sd_netlink {
	uint64_t ino;
	uint8_t protocol;	/* NETLINK_ROUTE... */
	uint32_t portid;
	uint32_t rmem;		/* NETLINK_DIAG_MEMINFO: bytes queued for reading */
	bool dump_running;	/* NETLINK_DIAG_FLAGS: a dump request is still being answered */
	bool all_nsid;		/* NETLINK_LISTEN_ALL_NSID, which getsockopt() does not give */
};

/*
 * A connection waiting in a unix listener's backlog (UNIX_DIAG_ICONS),
 * by the socket that connect()ed: the listener's accept() will give the
 * socket of the other end, which the kernel made at connect() and lists
 * nowhere else.
 */
struct sd_icon {
	uint64_t ino;		/* the connecting socket, 0: it has closed since */
	uint64_t listener;
	uint32_t pos;		/* its place in the backlog, 0 first */
};

/* each list sorted by inode, once per socket (icons: by connecting socket) */
struct sockdiag {
	struct sd_unix *unx;
	size_t n_unix;
	struct sd_icon *icons;
	size_t n_icons;
	struct sd_inet *inet;
	size_t n_inet;
	struct sd_netlink *nl;
	size_t n_nl;
};

/* one unix_diag answer; -EINVAL if it is not one */
int sockdiag_parse_unix(struct nlmsghdr *nlh, struct sd_unix *ret);
/* the ret->n_icons connections waiting in the listener of nlh, which parsed as ret, into icons */
void sockdiag_unix_icons(struct nlmsghdr *nlh, const struct sd_unix *u, struct sd_icon *icons);
/* one inet_diag answer to a request for protocol; -EINVAL if it is not one */
int sockdiag_parse_inet(struct nlmsghdr *nlh, uint8_t protocol, struct sd_inet *ret);
/* one netlink_diag answer; -EINVAL if it is not one */
int sockdiag_parse_netlink(struct nlmsghdr *nlh, struct sd_netlink *ret);

/*
 * Every unix socket (with_unix) and every TCP and UDP socket over IPv4
 * and IPv6 (with_inet) of our network namespace, bound-only TCP sockets
 * included where the kernel lists them (6.6+). -errno on failure, debug
 * output only.
 */
int sockdiag_collect(bool with_unix, bool with_inet, struct sockdiag *ret);
/*
 * Every netlink socket of protocol (SD_NETLINK_ALL: any) the kernel lists
 * in our network namespace (bound ones, and those in a multicast group)
 * added to d. A long answer may miss a few: the kernel skips the socket
 * that does not fit at the end of each part of it; one listed before keeps
 * its first answer. -errno (-EOPNOTSUPP: no netlink_diag), debug output only.
 */
#define SD_NETLINK_ALL 255	/* NDIAG_PROTO_ALL */
int sockdiag_add_netlink(struct sockdiag *d, uint8_t protocol);
void sockdiag_release(struct sockdiag *d);
/* the answer for socket ino, or NULL */
const struct sd_unix *sockdiag_find_unix(const struct sockdiag *d, uint64_t ino);
const struct sd_inet *sockdiag_find_inet(const struct sockdiag *d, uint64_t ino);
const struct sd_netlink *sockdiag_find_netlink(const struct sockdiag *d, uint64_t ino);
/* the listener backlog socket ino's connect() waits in, or NULL */
const struct sd_icon *sockdiag_find_icon(const struct sockdiag *d, uint64_t ino);

/* whether the kernel answers a dump request for family (and protocol, for inet); lists no socket */
bool sockdiag_probe(int family, uint8_t protocol);
