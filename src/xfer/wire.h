#pragma once
/*
 * The page server's wire format, shared by both ends: every message is a
 * 24-byte little-endian header, then len bytes of payload.
 *
 *   HELLO  client: id = XFER_VERSION, payload "memdump"; server: OK or ERR
 *   OPEN   id = a new file id, payload = its name (no '/', *.img)
 *   WRITE  id, off: payload = the bytes at off in that file
 *   CLOSE  id: that file is complete
 *   LINK   payload = "name\0target": a symlink (only "parent")
 *   DONE   keep everything: the server fsyncs it all, then answers OK or ERR
 *   ABORT  payload = why: the server removes what it received
 *   OK / ERR (payload = a one-line reason): the server's answers
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XFER_VERSION 1
#define XFER_GREETING "memdump"
#define XFER_HDR_SIZE 24
#define XFER_NAME_MAX 255
#define XFER_TEXT_MAX 512

enum xfer_type {
	XFER_HELLO = 1,
	XFER_OPEN = 2,
	XFER_WRITE = 3,
	XFER_CLOSE = 4,
	XFER_LINK = 5,
	XFER_DONE = 6,
	XFER_ABORT = 7,
	XFER_OK = 8,
	XFER_ERR = 9,
};

struct xfer_hdr {
	uint32_t type;
	uint32_t id;
	uint64_t off;
	uint64_t len;
};

struct addrinfo;
/* the TCP addresses of addr:port (addr NULL with passive: every local one); logs a failure */
int xfer_resolve(const char *addr, uint16_t port, bool passive, struct addrinfo **ret);

/* one message, header and payload, in one sendmsg() where it fits (no SIGPIPE) */
int xfer_send_msg(int fd, uint32_t type, uint32_t id, uint64_t off, const void *payload, size_t len);
/* exactly len bytes; -ECONNRESET on an early end */
int xfer_recv_all(int fd, void *buf, size_t len);
/* a header; 0 and *eof = 1 when the peer closed cleanly before it */
int xfer_recv_hdr(int fd, struct xfer_hdr *h, int *eof);
/* a message with a short text payload (ERR, ABORT): read it into buf as a string */
int xfer_recv_text(int fd, const struct xfer_hdr *h, char *buf, size_t size);
