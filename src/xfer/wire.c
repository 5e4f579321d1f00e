/*
 * The page server's framing: headers in and out, payloads read whole.
 * What the messages mean is client.c's and server.c's business.
 */
#include "xfer/wire.h"
#include "memdump/log.h"

#include <endian.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

static void encode(const struct xfer_hdr *h, uint8_t *b)
{
	uint32_t t = htole32(h->type), id = htole32(h->id);
	uint64_t off = htole64(h->off), len = htole64(h->len);

	memcpy(b, &t, 4);
	memcpy(b + 4, &id, 4);
	memcpy(b + 8, &off, 8);
	memcpy(b + 16, &len, 8);
}

static void decode(const uint8_t *b, struct xfer_hdr *h)
{
	uint32_t t, id;
	uint64_t off, len;

	memcpy(&t, b, 4);
	memcpy(&id, b + 4, 4);
	memcpy(&off, b + 8, 8);
	memcpy(&len, b + 16, 8);
	*h = (struct xfer_hdr){ le32toh(t), le32toh(id), le64toh(off), le64toh(len) };
}

int xfer_resolve(const char *addr, uint16_t port, bool passive, struct addrinfo **ret)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0) };
	char service[8];
	int r;

	snprintf(service, sizeof(service), "%u", port);
	r = getaddrinfo(addr, service, &hints, ret);
	if (r != 0) {
		log_msg(LOG_ERR, "cannot resolve '%s': %s", addr ? addr : "*", gai_strerror(r));
		return -EINVAL;
	}
	return 0;
}

int xfer_send_msg(int fd, uint32_t type, uint32_t id, uint64_t off, const void *payload, size_t len)
{
	struct xfer_hdr h = { type, id, off, len };
	uint8_t hdr[XFER_HDR_SIZE];
	struct iovec iov[2] = {
		{ hdr, sizeof(hdr) },
		{ (void *)payload, len },
	};
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };

	encode(&h, hdr);
	while (m.msg_iovlen) {
		ssize_t n = sendmsg(fd, &m, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (m.msg_iovlen && (size_t)n >= m.msg_iov->iov_len) {
			n -= m.msg_iov->iov_len;
			m.msg_iov++;
			m.msg_iovlen--;
		}
		if (m.msg_iovlen) {
			m.msg_iov->iov_base = (uint8_t *)m.msg_iov->iov_base + n;
			m.msg_iov->iov_len -= n;
		}
	}
	return 0;
}

static int recv_some(int fd, void *buf, size_t len, size_t *got)
{
	*got = 0;
	while (*got < len) {
		ssize_t n = recv(fd, (uint8_t *)buf + *got, len - *got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		*got += n;
	}
	return 0;
}

int xfer_recv_all(int fd, void *buf, size_t len)
{
	size_t got;
	int r = recv_some(fd, buf, len, &got);

	if (r < 0)
		return r;
	return got == len ? 0 : -ECONNRESET;
}

int xfer_recv_hdr(int fd, struct xfer_hdr *h, int *eof)
{
	uint8_t b[XFER_HDR_SIZE];
	size_t got;
	int r = recv_some(fd, b, sizeof(b), &got);

	*eof = 0;
	if (r < 0)
		return r;
	if (got == 0) {
		*eof = 1;
		return 0;
	}
	if (got != sizeof(b))
		return -ECONNRESET;
	decode(b, h);
	return 0;
}

int xfer_recv_text(int fd, const struct xfer_hdr *h, char *buf, size_t size)
{
	int r;

	if (h->len >= size || h->len > XFER_TEXT_MAX)
		return -EPROTO;
	r = xfer_recv_all(fd, buf, h->len);
	if (r < 0)
		return r;
	buf[h->len] = '\0';
	/* one line, printable: it goes to a log */
	for (size_t i = 0; i < h->len; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = ' ';
	return 0;
}
