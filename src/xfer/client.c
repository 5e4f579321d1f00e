/*
 * The dumping side of the page server: one TCP connection, files opened,
 * written and closed by id, then DONE and the server's answer. Which files
 * go there is the dump's choice (pages as they are copied, the rest from
 * the local image directory at the end); the server's side is server.c.
 *
 * The tree may be frozen while we send: a server that stops reading for
 * XFER_TIMEOUT_S fails the dump (which then thaws the tree) instead of
 * leaving it frozen for good.
 */
#include "memdump/xfer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memdump/cleanup.h"
#include "memdump/image.h"
#include "memdump/log.h"
#include "xfer/wire.h"

#define XFER_TIMEOUT_S 120
#define SEND_DIR_CHUNK (1U << 20)
#define LAST "inventory.img"

struct xfer {
	int fd;
	uint32_t next_id;
	char peer[300];		/* "addr:port", for messages */
};

static void xfer_free(struct xfer *x)
{
	if (!x)
		return;
	if (x->fd >= 0)
		close(x->fd);
	free(x);
}

/* h is an ERR: log its reason, return -EIO; < 0 if it cannot be read */
static int server_said(struct xfer *x, const struct xfer_hdr *h, const char *what)
{
	char why[XFER_TEXT_MAX + 1];

	if (h->type != XFER_ERR || xfer_recv_text(x->fd, h, why, sizeof(why)) < 0)
		return -EPROTO;
	log_msg(LOG_ERR, "page server %s refused %s: %s", x->peer, what, why);
	return -EIO;
}

/* after a failed send: the server may have said why before it closed */
static int lost(struct xfer *x, int r)
{
	struct xfer_hdr h;
	int eof;

	if (r == -EAGAIN || r == -EWOULDBLOCK)
		return log_err(-ETIMEDOUT, "page server %s received nothing for %d s", x->peer, XFER_TIMEOUT_S);
	if (xfer_recv_hdr(x->fd, &h, &eof) == 0 && !eof && server_said(x, &h, "the image") == -EIO)
		return -EIO;
	return log_err(r, "lost the page server %s", x->peer);
}

static int send_msg(struct xfer *x, uint32_t type, uint32_t id, uint64_t off, const void *p, size_t len)
{
	int r = xfer_send_msg(x->fd, type, id, off, p, len);

	return r < 0 ? lost(x, r) : 0;
}

/* the server's OK, or its ERR logged */
static int answer(struct xfer *x, const char *what)
{
	struct xfer_hdr h;
	int eof, r;

	r = xfer_recv_hdr(x->fd, &h, &eof);
	if (r == -EAGAIN || r == -EWOULDBLOCK)
		return log_err(-ETIMEDOUT, "page server %s did not answer %s in %d s", x->peer, what, XFER_TIMEOUT_S);
	if (r < 0 || eof)
		return log_err(r < 0 ? r : -ECONNRESET, "page server %s closed the connection at %s", x->peer, what);
	if (h.type == XFER_OK && h.len == 0)
		return 0;
	if (server_said(x, &h, what) == -EIO)
		return -EIO;
	log_msg(LOG_ERR, "%s is not a memdump page server (it answered %s with something else)", x->peer, what);
	return -EPROTO;
}

static int try_connect(const struct addrinfo *ai)
{
	struct timeval tv = { .tv_sec = XFER_TIMEOUT_S };
	int one = 1;
	_cleanup_close_ int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		return -errno;
	return TAKE_FD(fd);
}

int xfer_connect(const char *addr, uint16_t port, struct xfer **ret)
{
	struct addrinfo *res = NULL;
	struct xfer *x;
	int r;

	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->fd = -1;
	snprintf(x->peer, sizeof(x->peer), "%s:%u", addr, port);
	r = xfer_resolve(addr, port, false, &res);
	if (r < 0) {
		xfer_free(x);
		return r;
	}
	r = -EADDRNOTAVAIL;
	for (struct addrinfo *ai = res; ai && x->fd < 0; ai = ai->ai_next) {
		r = try_connect(ai);
		if (r >= 0)
			x->fd = r;
	}
	freeaddrinfo(res);
	if (x->fd < 0) {
		log_err(r, "cannot connect to the page server %s", x->peer);
		xfer_free(x);
		return r;
	}
	r = send_msg(x, XFER_HELLO, XFER_VERSION, 0, XFER_GREETING, strlen(XFER_GREETING));
	if (r >= 0)
		r = answer(x, "the greeting");
	if (r < 0) {
		xfer_free(x);
		return r;
	}
	*ret = x;
	return 0;
}

int xfer_open(struct xfer *x, const char *name, uint32_t *ret_id)
{
	size_t len = strlen(name);
	int r;

	if (len == 0 || len > XFER_NAME_MAX || strchr(name, '/'))
		return log_err(-EINVAL, "cannot send '%s' to a page server: not a file name", name);
	r = send_msg(x, XFER_OPEN, ++x->next_id, 0, name, len);
	if (r < 0)
		return r;
	*ret_id = x->next_id;
	return 0;
}

int xfer_write(struct xfer *x, uint32_t id, uint64_t off, const void *buf, size_t len)
{
	return len ? send_msg(x, XFER_WRITE, id, off, buf, len) : 0;
}

int xfer_close_file(struct xfer *x, uint32_t id)
{
	return send_msg(x, XFER_CLOSE, id, 0, NULL, 0);
}

static int send_file(struct xfer *x, int dirfd, const char *name, uint8_t *buf)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	uint64_t off = 0;
	uint32_t id;
	int r;

	if (fd < 0)
		return log_err(-errno, "cannot read image '%s'", name);
	r = xfer_open(x, name, &id);
	while (r >= 0) {
		ssize_t n = read(fd, buf, SEND_DIR_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return log_err(-errno, "cannot read image '%s'", name);
		if (n == 0)
			break;
		r = xfer_write(x, id, off, buf, n);
		off += n;
	}
	return r < 0 ? r : xfer_close_file(x, id);
}

static int send_link(struct xfer *x, int dirfd, const char *name)
{
	char target[4096];
	size_t nl = strlen(name) + 1;
	char msg[sizeof(target) + XFER_NAME_MAX + 1];
	ssize_t n = readlinkat(dirfd, name, target, sizeof(target));

	if (n < 0 || (size_t)n >= sizeof(target) || nl > XFER_NAME_MAX)
		return log_err(n < 0 ? -errno : -ENAMETOOLONG, "cannot read the link '%s'", name);
	memcpy(msg, name, nl);
	memcpy(msg + nl, target, n);
	return send_msg(x, XFER_LINK, 0, 0, msg, nl + n);
}

int xfer_send_dir(struct xfer *x, int dirfd)
{
	_cleanup_free_ uint8_t *buf = malloc(SEND_DIR_CHUNK);
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd, r = 0;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return log_err(-errno, "cannot read the image directory");
	d = fdopendir(fd);
	if (!d || !buf) {
		if (!d)
			close(fd);
		return log_err(-ENOMEM, "cannot read the image directory");
	}
	while (r >= 0 && (errno = 0, de = readdir(d))) {
		unsigned char type = de->d_type;
		struct stat st;

		/* not every file system fills in d_type */
		if (type == DT_UNKNOWN && fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			type = S_ISREG(st.st_mode) ? DT_REG : S_ISLNK(st.st_mode) ? DT_LNK : DT_UNKNOWN;
		if (type == DT_REG && image_file_name(de->d_name) && strcmp(de->d_name, LAST))
			r = send_file(x, dirfd, de->d_name, buf);
		else if (type == DT_LNK && !strcmp(de->d_name, "parent"))
			r = send_link(x, dirfd, de->d_name);
	}
	if (r >= 0 && errno)
		r = log_err(-errno, "cannot read the image directory");
	/* the inventory last, as a local dump writes it: a directory without one is no image */
	if (r >= 0 && faccessat(dirfd, LAST, F_OK, 0) == 0)
		r = send_file(x, dirfd, LAST, buf);
	return r;
}

int xfer_finish(struct xfer *x)
{
	int r = send_msg(x, XFER_DONE, 0, 0, NULL, 0);

	if (r >= 0)
		r = answer(x, "the image");
	xfer_free(x);
	return r;
}

void xfer_abort(struct xfer *x, const char *why)
{
	if (!x)
		return;
	xfer_send_msg(x->fd, XFER_ABORT, 0, 0, why, strnlen(why, XFER_TEXT_MAX));
	xfer_free(x);
}
