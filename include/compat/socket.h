#pragma once
/*
 * Socket options newer than Debian 12's headers (or only in headers that
 * clash with glibc's), each guarded on its own. Whether the kernel has
 * them is found by trying.
 */
#include <netinet/in.h>
#include <sys/socket.h>

#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76		/* 6.5: SCM_PIDFD with every message (unix) */
#endif
#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51	/* 6.3: ephemeral ports of this socket, hi << 16 | lo */
#endif
#ifndef IPV6_FLOWINFO_SEND
#define IPV6_FLOWINFO_SEND 33	/* linux/in6.h: send the flow label of sin6_flowinfo */
#endif
