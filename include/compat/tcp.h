#pragma once
/*
 * TCP socket options newer than Debian 12's headers, each guarded on its
 * own. Whether the kernel has them is found by trying.
 */
#include <netinet/tcp.h>

#ifndef TCP_AO_INFO
#define TCP_AO_INFO 40	/* 6.7: TCP-AO (RFC 5925) state; ENOENT without keys */
#endif
