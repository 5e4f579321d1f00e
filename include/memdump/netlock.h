/*
 * The network lock of established TCP connections (dump --tcp-established):
 * an nftables table (family inet) whose rules drop every packet of the
 * locked connections, both ways, at the raw priority of the input and
 * output hooks. The dump takes it before it reads a connection in repair
 * mode and leaves it in place once the tree is gone, so that the peer
 * meets silence, not a reset, and sends again; restore removes it once the
 * connections are back. Needs CAP_NET_ADMIN.
 */
#ifndef MEMDUMP_NETLOCK_H
#define MEMDUMP_NETLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MD_NET_LOCK_NAME_MAX 64

/* one connection: addresses in network byte order (4 or 16 bytes by family), ports in host order */
struct md_net_conn {
	int family;
	uint8_t addr[16];
	uint16_t port;
	uint8_t peer_addr[16];
	uint16_t peer_port;
};

struct md_sock;

/* the connection of an inet socket (addr, port, peer_addr, peer_port) */
void netlock_conn(struct md_net_conn *c, const struct md_sock *s);

/* a name netlock_name() makes, memdump_PID_SECONDS_NANOSECONDS (nine digits): never another's table */
bool md_net_lock_name_valid(const char *name);

/* the lock's name for a dump of pid at CLOCK_REALTIME ns: memdump_PID_SECONDS_NANOSECONDS */
void netlock_name(char *buf, size_t len, pid_t pid, uint64_t ns);

/*
 * The nft commands that make the lock (pure, for tests): a malloc'ed
 * string, or NULL without memory. An IPv4-mapped IPv6 connection is
 * matched as the IPv4 packets it sends.
 */
char *netlock_script(const char *name, const struct md_net_conn *c, size_t n);

/* make the lock, all or nothing; a one-line error names nftables' complaint */
int netlock_add(const char *name, const struct md_net_conn *c, size_t n);
/* the same, unless a table of that name is there already (0; 1: made) */
int netlock_keep(const char *name, const struct md_net_conn *c, size_t n);
/* remove it: 0 also when it is not there */
int netlock_remove(const char *name);
/* whether this host lets memdump make and remove a lock (memdump check): 1, 0, or -errno */
int netlock_probe(void);

#endif
