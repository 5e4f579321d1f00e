/*
 * `memdump page-server`: listen, take one connection, write the files it
 * sends into an empty images directory, and keep them only when the dump
 * says DONE (after an fsync of each). Anything else (ABORT, a dropped
 * connection, a protocol error, a full disk) removes every file received,
 * so the directory never holds half an image. The sending side is client.c.
 *
 * Names are checked before anything is created: plain file names ending
 * in .img, and one symlink named "parent"; nothing outside the directory.
 */
#include "memdump/xfer.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "memdump/cleanup.h"
#include "memdump/image.h"
#include "memdump/log.h"
#include "xfer/wire.h"

#define RECV_CHUNK (4U << 20)
#define MAX_FILE_SIZE (1ULL << 48)
#define WRITEBACK_STEP (64ULL << 20)	/* start writeback this often: the fsync at CLOSE stays short */
#define IDLE_TIMEOUT_S 600		/* a dump that sends nothing for this long is gone */
#define HELLO_TIMEOUT_S 10		/* a connection that does not greet in time is turned away */

struct rfile {
	uint32_t id;
	int fd;			/* -1 once closed */
	uint64_t unsynced;	/* bytes written since writeback was last started */
	char name[XFER_NAME_MAX + 1];
};

struct session {
	int dirfd;
	int sock;
	struct rfile *files;
	size_t n;
	bool linked;
	uint8_t *buf;
	uint64_t bytes;
};

static int refuse(struct session *s, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* tell the dump why (best effort), log it, return r */
static int refuse(struct session *s, int r, const char *fmt, ...)
{
	char why[XFER_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	xfer_send_msg(s->sock, XFER_ERR, 0, 0, why, strlen(why));
	return log_err(r, "%s", why);
}

static void remove_all(struct session *s)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->files[i].fd >= 0)
			close(s->files[i].fd);
		s->files[i].fd = -1;
		unlinkat(s->dirfd, s->files[i].name, 0);
	}
	if (s->linked)
		unlinkat(s->dirfd, "parent", 0);
}

static struct rfile *find(struct session *s, uint32_t id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->files[i].id == id)
			return &s->files[i];
	return NULL;
}

static int do_open(struct session *s, const struct xfer_hdr *h)
{
	char name[XFER_NAME_MAX + 1];
	struct rfile *f;
	int r;

	if (h->len > XFER_NAME_MAX)
		return refuse(s, -EPROTO, "a file name of %llu bytes", (unsigned long long)h->len);
	r = xfer_recv_all(s->sock, name, h->len);
	if (r < 0)
		return log_err(r, "lost the dump");
	name[h->len] = '\0';
	if (!image_file_name(name))
		return refuse(s, -EINVAL, "'%s' is not the name of an image file", name);
	if (find(s, h->id))
		return refuse(s, -EPROTO, "file id %u used twice", h->id);
	f = realloc(s->files, (s->n + 1) * sizeof(*f));
	if (!f)
		return refuse(s, -ENOMEM, "out of memory");
	s->files = f;
	f = &s->files[s->n];
	*f = (struct rfile){ .id = h->id };
	memcpy(f->name, name, h->len + 1);
	f->fd = openat(s->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (f->fd < 0)
		return refuse(s, -errno, "cannot create '%s': %s", name, strerror(errno));
	s->n++;
	return 0;
}

static int do_write(struct session *s, const struct xfer_hdr *h)
{
	struct rfile *f = find(s, h->id);
	uint64_t done = 0;
	int r;

	if (!f || f->fd < 0)
		return refuse(s, -EPROTO, "data for file id %u, which is not open", h->id);
	if (h->off > MAX_FILE_SIZE || h->len > MAX_FILE_SIZE - h->off)
		return refuse(s, -EFBIG, "data at %llu+%llu of '%s'", (unsigned long long)h->off,
			      (unsigned long long)h->len, f->name);
	while (done < h->len) {
		size_t want = h->len - done < RECV_CHUNK ? h->len - done : RECV_CHUNK;

		r = xfer_recv_all(s->sock, s->buf, want);
		if (r < 0)
			return log_err(r, "lost the dump");
		for (size_t put = 0; put < want;) {
			ssize_t n = pwrite(f->fd, s->buf + put, want - put, h->off + done + put);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return refuse(s, n < 0 ? -errno : -EIO, "cannot write '%s': %s", f->name,
					      strerror(n < 0 ? errno : EIO));
			put += n;
		}
		done += want;
		f->unsynced += want;
		/* a multi-GiB file would otherwise sit in the page cache until its fsync */
		if (f->unsynced >= WRITEBACK_STEP) {
			sync_file_range(f->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
			f->unsynced = 0;
		}
	}
	s->bytes += h->len;
	return 0;
}

static int do_close(struct session *s, const struct xfer_hdr *h)
{
	struct rfile *f = find(s, h->id);
	int fd;

	if (!f || f->fd < 0 || h->len)
		return refuse(s, -EPROTO, "closing file id %u, which is not open", h->id);
	fd = TAKE_FD(f->fd);
	/* on disk before DONE is answered */
	if (fsync(fd) < 0) {
		int r = -errno;

		close(fd);
		return refuse(s, r, "cannot write '%s': %s", f->name, strerror(-r));
	}
	if (close(fd) < 0)
		return refuse(s, -errno, "cannot write '%s': %s", f->name, strerror(errno));
	return 0;
}

static int do_link(struct session *s, const struct xfer_hdr *h)
{
	char msg[XFER_NAME_MAX + 4096 + 2];
	const char *target;
	int r;

	if (h->len >= sizeof(msg))
		return refuse(s, -EPROTO, "a link of %llu bytes", (unsigned long long)h->len);
	r = xfer_recv_all(s->sock, msg, h->len);
	if (r < 0)
		return log_err(r, "lost the dump");
	msg[h->len] = '\0';
	target = msg + strlen(msg) + 1;
	if (strcmp(msg, "parent") || target > msg + h->len || !*target || s->linked)
		return refuse(s, -EPROTO, "a link other than one 'parent'");
	/* the destination has its own tree of images: only a path relative to this one */
	if (*target == '/')
		return refuse(s, -EINVAL, "the parent link '%s' is not relative to the image", target);
	if (symlinkat(target, s->dirfd, "parent") < 0)
		return refuse(s, -errno, "cannot link 'parent' to '%s': %s", target, strerror(errno));
	s->linked = true;
	return 0;
}

static int fsync_parent(int dirfd)
{
	_cleanup_close_ int up = openat(dirfd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return up < 0 || fsync(up) < 0 ? -1 : 0;
}

static int do_done(struct session *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->files[i].fd >= 0)
			return refuse(s, -EPROTO, "the image ended with '%s' incomplete", s->files[i].name);
	/* the files, and the directory itself in its parent (made for this image) */
	if (fsync(s->dirfd) < 0 || fsync_parent(s->dirfd) < 0)
		return refuse(s, -errno, "cannot write the image directory: %s", strerror(errno));
	return xfer_send_msg(s->sock, XFER_OK, 0, 0, NULL, 0);
}

static int greet(struct session *s)
{
	char hello[sizeof(XFER_GREETING)];
	struct xfer_hdr h;
	int eof, r;

	r = xfer_recv_hdr(s->sock, &h, &eof);
	if (r < 0 || eof)
		return log_err(r < 0 ? r : -ECONNRESET, "lost the dump before its greeting");
	if (h.type != XFER_HELLO || h.len != strlen(XFER_GREETING))
		return refuse(s, -EPROTO, "not a memdump dump");
	r = xfer_recv_all(s->sock, hello, h.len);
	if (r < 0)
		return log_err(r, "lost the dump before its greeting");
	if (memcmp(hello, XFER_GREETING, h.len))
		return refuse(s, -EPROTO, "not a memdump dump");
	if (h.id != XFER_VERSION)
		return refuse(s, -EPROTONOSUPPORT, "protocol version %u, this page server speaks %u", h.id,
			      XFER_VERSION);
	return xfer_send_msg(s->sock, XFER_OK, 0, 0, NULL, 0);
}

/* every message after the greeting until DONE (1), or an error */
static int receive(struct session *s)
{
	char why[XFER_TEXT_MAX + 1];
	struct xfer_hdr h;
	int eof, r;

	for (;;) {
		r = xfer_recv_hdr(s->sock, &h, &eof);
		if (r < 0)
			return log_err(r, "lost the dump");
		if (eof)
			return log_err(-ECONNRESET, "the dump ended before its image was complete");
		switch (h.type) {
		case XFER_OPEN:
			r = do_open(s, &h);
			break;
		case XFER_WRITE:
			r = do_write(s, &h);
			break;
		case XFER_CLOSE:
			r = do_close(s, &h);
			break;
		case XFER_LINK:
			r = do_link(s, &h);
			break;
		case XFER_DONE:
			r = do_done(s);
			return r < 0 ? r : 1;
		case XFER_ABORT:
			r = xfer_recv_text(s->sock, &h, why, sizeof(why));
			return log_err(-ECANCELED, "the dump failed (%s)", r < 0 ? "no reason given" : why);
		default:
			return refuse(s, -EPROTO, "unknown message %u", h.type);
		}
		if (r < 0)
			return r;
	}
}

static int listen_on(const struct xfer_server_opts *o)
{
	struct addrinfo *res = NULL;
	int r, one = 1;

	r = xfer_resolve(o->addr, o->port, true, &res);
	if (r < 0)
		return r;
	r = -EADDRNOTAVAIL;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);

		if (fd < 0) {
			r = -errno;
			continue;
		}
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
		    bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1) == 0) {
			r = fd;
			break;
		}
		r = -errno;
		close(fd);
	}
	freeaddrinfo(res);
	if (r < 0)
		return log_err(r, "cannot listen on %s:%u", o->addr ? o->addr : "*", o->port);
	return r;
}

/* the first connection that greets like a memdump dump; the others are turned away */
static int accept_dump(int lfd, struct session *s)
{
	struct timeval hello = { .tv_sec = HELLO_TIMEOUT_S }, idle = { .tv_sec = IDLE_TIMEOUT_S };
	int one = 1;

	for (;;) {
		s->sock = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (s->sock < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return log_err(-errno, "page server: cannot accept a connection");
		}
		if (setsockopt(s->sock, SOL_SOCKET, SO_RCVTIMEO, &hello, sizeof(hello)) < 0 ||
		    setsockopt(s->sock, SOL_SOCKET, SO_SNDTIMEO, &idle, sizeof(idle)) < 0 ||
		    setsockopt(s->sock, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) < 0)
			return log_err(-errno, "page server: cannot set up the connection");
		if (greet(s) >= 0) {
			if (setsockopt(s->sock, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof(idle)) < 0)
				return log_err(-errno, "page server: cannot set up the connection");
			return 0;
		}
		close(s->sock);
		s->sock = -1;
		log_msg(LOG_WARN, "page server: turned a connection away; still waiting for a dump");
	}
}

int xfer_receive(int lfd, int dirfd, const char *dir)
{
	struct session s = { .dirfd = dirfd, .sock = -1 };
	int r;

	r = accept_dump(lfd, &s);
	close(lfd);
	if (r < 0)
		return r;
	s.buf = malloc(RECV_CHUNK);
	r = s.buf ? receive(&s) : log_err(-ENOMEM, "page server");
	if (r == -EAGAIN || r == -EWOULDBLOCK)
		log_msg(LOG_ERR, "page server: the dump sent nothing for %d s", IDLE_TIMEOUT_S);
	if (r < 0) {
		remove_all(&s);
		log_msg(LOG_ERR, "page server: removed the %zu files received; '%s' holds no image", s.n, dir);
	} else {
		log_info("page server: received %zu files, %llu bytes, into '%s'", s.n, (unsigned long long)s.bytes,
			 dir);
		r = 0;
	}
	for (size_t i = 0; i < s.n; i++)
		if (s.files[i].fd >= 0)
			close(s.files[i].fd);
	free(s.files);
	free(s.buf);
	close(s.sock);
	return r;
}

/*
 * -d: the parent prints the server's pid and returns once it listens; the
 * server lets go of the caller's stdio (an ssh session would wait for it)
 * and logs to log_file, if given.
 */
static int daemonize(const char *log_file)
{
	int null, log_fd = -1;
	pid_t pid;

	if (log_file) {
		log_fd = open(log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (log_fd < 0)
			return log_err(-errno, "cannot open the log file '%s'", log_file);
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		if (log_fd >= 0)
			close(log_fd);
		return log_err(-errno, "cannot start the page server in the background");
	}
	if (pid > 0) {
		printf("%d\n", pid);
		if (log_fd >= 0)
			close(log_fd);
		return 1;
	}
	setsid();
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(log_fd >= 0 ? log_fd : null, STDERR_FILENO);
		close(null);
	}
	if (log_fd >= 0)
		close(log_fd);
	return 0;
}

int xfer_serve(const struct xfer_server_opts *o)
{
	_cleanup_close_ int dirfd = -1, lfd = -1;
	int r;

	r = image_dir_open(o->dir, true, &dirfd);
	if (r < 0)
		return r;
	lfd = listen_on(o);
	if (lfd < 0)
		return lfd;
	log_info("page server: listening on %s:%u for an image into '%s'", o->addr ? o->addr : "*", o->port,
		 o->dir);
	if (o->daemon) {
		r = daemonize(o->log_file);
		if (r != 0)
			return r < 0 ? r : 0;
	}
	return xfer_receive(TAKE_FD(lfd), dirfd, o->dir);
}
