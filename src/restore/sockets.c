/*
 * Sockets for the restored tree, made by memdump before any process
 * exists, like every other file (files.c hands them over). A connected
 * unix pair is made with socketpair() and each end gets its queue back,
 * sent from the other end; a pair whose peer had closed gets a new end
 * that is closed once it has sent. Named unix sockets are bound to their
 * name again (a stale socket file the dumped process left is removed,
 * if nobody listens on it), listening ones listen with their backlog and
 * get the connections waiting in it again, connect()ed in order. TCP
 * and UDP sockets are bound to their address and port again, listen, or
 * (UDP) connect. Established TCP connections are made in repair mode
 * (tcp.c). A netlink socket is bound to its port id again, joins its
 * groups and connects to its destination.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "memdump/image.h"
#include "memdump/log.h"
#include "memdump/sockopts.h"
#include "restore/internal.h"


/* status flags F_SETFL takes (files.c has the same) */
#define MAX_DEPTH 8	/* datagram sockets connected to named ones, in a chain */

int restore_read_sockets(struct restore_ctx *rc, const struct md_proc *procs, const char *dir)
{
	char err[256];
	int r;

	r = image_read_sockets(rc->dirfd, &rc->sockq, &rc->n_sockq);
	if (r < 0)
		return r;
	r = image_check_sockets(&rc->socks, procs, rc->n, rc->sockq, rc->n_sockq, err, sizeof(err));
	if (r == -EINVAL)
		return log_err(r, "image '%s': %s", dir, err);
	if (r < 0)
		return r;
	r = md_socks_pending(&rc->socks, &rc->pending, &rc->n_pending);
	if (r < 0)
		return r;
	return restore_read_tcp(rc, procs, dir);
}

void restore_close_sockets(struct restore_ctx *rc)
{
	for (size_t i = 0; rc->sock_ends && i < rc->socks.n; i++)
		if (rc->sock_ends[i] >= 0)
			close(rc->sock_ends[i]);
	free(rc->sock_ends);
	rc->sock_ends = NULL;
	free(rc->pending);
	rc->pending = NULL;
	rc->n_pending = 0;
	for (size_t i = 0; i < rc->n_sockq; i++)
		md_sock_queue_release(&rc->sockq[i]);
	free(rc->sockq);
	rc->sockq = NULL;
	rc->n_sockq = 0;
	restore_tcp_release(rc);
}

const struct md_fd *restore_find_sock(const struct restore_ctx *rc, uint64_t ino, pid_t *ret_pid)
{
	return md_socks_find(&rc->socks, ino, ret_pid);
}

static const struct md_sock_queue *find_queue(const struct restore_ctx *rc, uint64_t ino)
{
	return image_find_queue(rc->sockq, rc->n_sockq, ino);
}

/*
 * Sockets made ahead of their fd (the other end of a pair, a datagram
 * socket's named peer), by their place in rc->socks: SOCK_END_NONE, ours
 * waiting for its fd, or SOCK_END_TAKEN.
 */
#define SOCK_END_NONE (-2)
#define SOCK_END_TAKEN (-1)	/* rc->files holds it now */

static int *find_end(struct restore_ctx *rc, uint64_t ino)
{
	ssize_t k = md_socks_slot(&rc->socks, ino);

	if (k < 0)
		return NULL;
	if (!rc->sock_ends) {
		rc->sock_ends = malloc((rc->socks.n ? rc->socks.n : 1) * sizeof(*rc->sock_ends));
		if (!rc->sock_ends)
			return NULL;
		for (size_t i = 0; i < rc->socks.n; i++)
			rc->sock_ends[i] = SOCK_END_NONE;
	}
	return &rc->sock_ends[k];
}

static int add_end(struct restore_ctx *rc, uint64_t ino, int fd)
{
	int *e = find_end(rc, ino);

	if (!e)
		return -ENOMEM;
	*e = fd;
	return 0;
}

/* q sent from fd: every packet, oldest first, as it was queued */
static int refill(int fd, const struct md_sock_queue *q, int type)
{
	size_t off = 0;
	uint64_t want;

	if (!q)
		return 0;
	/*
	 * Room for all of it at once: the peer reads it only once the tree runs.
	 * The kernel charges each packet its buffer's overhead (some 800 bytes
	 * for a one-byte datagram), not just its data.
	 */
	want = 2 * (uint64_t)q->len;
	if (want < q->len + (uint64_t)q->n_pkts * 2048)
		want = q->len + (uint64_t)q->n_pkts * 2048;
	want += 1u << 17;
	restore_sock_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, (uint32_t)(want > (1u << 30) ? 1u << 30 : want));
	for (size_t k = 0; k < q->n_pkts; k++) {
		size_t len = q->pkt_len[k], done = 0;

		do {
			ssize_t n = send(fd, q->data + off + done, len - done, MSG_DONTWAIT | MSG_NOSIGNAL);

			if (n < 0)
				return -errno;
			if (type != SOCK_STREAM && (size_t)n != len)
				return -EMSGSIZE;
			done += (size_t)n;
		} while (done < len);
		off += len;
	}
	return 0;
}

/* the options of a unix socket, once its data is in; what failed in what */
static int unix_options(int fd, const struct md_fd *f, char *what, size_t len)
{
	int v = f->sock.passcred, r;

	if (v && setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &v, sizeof(v)) < 0) {
		snprintf(what, len, "set SO_PASSCRED");
		return -errno;
	}
	if ((r = restore_sockopts(fd, &f->sock, false, what, len)) < 0)
		return r;
	return restore_sockopts(fd, &f->sock, true, what, len);
}

static int apply_shutdown(int fd, uint32_t shut)
{
	int how = (shut & MD_SOCK_SHUT_RD ? 1 : 0) | (shut & MD_SOCK_SHUT_WR ? 2 : 0);

	/* SHUT_RD 0, SHUT_WR 1, SHUT_RDWR 2 */
	if (!how)
		return 0;
	if (shutdown(fd, how == 1 ? SHUT_RD : how == 2 ? SHUT_WR : SHUT_RDWR) < 0 && errno != ENOTCONN)
		return -errno;
	return 0;
}

static int set_flags(int fd, const struct md_fd *f)
{
	return fcntl(fd, F_SETFL, (int)f->flags & RESTORE_SETFL_MASK) < 0 ? -errno : 0;
}

/*
 * A connected pair: f's socket and its peer (or, peer gone, a stand-in
 * closed once it has sent f's queue). The peer end waits in rc->sock_ends
 * for its own fd.
 */
static int make_pair(struct restore_ctx *rc, const struct md_fd *f)
{
	const struct md_sock *s = &f->sock;
	const struct md_fd *pf = s->peer_ino ? restore_find_sock(rc, s->peer_ino, NULL) : NULL;
	char what[128] = "set up its pair";
	int sv[2], r;

	if (socketpair(AF_UNIX, s->type | SOCK_CLOEXEC, 0, sv) < 0)
		return log_err(-errno, "cannot make a unix %d socket pair", s->type);
	r = refill(sv[1], find_queue(rc, s->ino), s->type);
	if (r >= 0 && pf)
		r = refill(sv[0], find_queue(rc, pf->sock.ino), s->type);
	if (r < 0) {
		log_err(r, "cannot queue the data of unix socket %llu again", (unsigned long long)s->ino);
		goto out_close;
	}
	if (!pf) {
		/* its peer had closed: reads end with EOF, writes fail with EPIPE, as they did */
		close(sv[1]);
		sv[1] = -1;
	}
	r = unix_options(sv[0], f, what, sizeof(what));
	if (r >= 0)
		r = apply_shutdown(sv[0], s->shutdown);
	if (r >= 0)
		r = set_flags(sv[0], f);
	if (r >= 0 && pf) {
		r = unix_options(sv[1], pf, what, sizeof(what));
		if (r >= 0)
			r = apply_shutdown(sv[1], pf->sock.shutdown);
		if (r >= 0)
			r = set_flags(sv[1], pf);
		if (r >= 0)
			r = add_end(rc, pf->sock.ino, sv[1]);
		if (r >= 0)
			sv[1] = -1;
	}
	if (r < 0) {
		log_err(r, "cannot %s on unix socket %llu", what, (unsigned long long)s->ino);
		goto out_close;
	}
	return sv[0];
out_close:
	close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	return r;
}

static socklen_t unix_addr(const struct md_sock *s, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, s->name, s->name_len);
	/* a path with its NUL, an abstract name as it is */
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + s->name_len + (s->name[0] != '\0'));
}

/*
 * A path name: the dumped process's socket file is usually still there
 * (a killed process does not unlink it). It goes if it is a socket nobody
 * listens on (connect() is refused); anything else in the way fails.
 */
static int clear_path(const struct md_sock *s, const struct sockaddr_un *sa, socklen_t len)
{
	struct stat st;
	int c, r;

	if (lstat(s->name, &st) < 0)
		return errno == ENOENT ? 0 : log_err(-errno, "cannot look at '%s'", s->name);
	if (!S_ISSOCK(st.st_mode))
		return log_err(-EEXIST, "cannot bind a unix socket to '%s': a file that is not a socket is in the way",
			       s->name);
	c = socket(AF_UNIX, s->type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c < 0)
		return -errno;
	r = connect(c, (const struct sockaddr *)sa, len) < 0 ? -errno : 0;
	close(c);
	if (r != -ECONNREFUSED)
		return log_err(-EADDRINUSE, "cannot bind a unix socket to '%s': a live socket is bound there", s->name);
	log_debug("removing the stale socket file '%s'", s->name);
	if (unlink(s->name) < 0 && errno != ENOENT)
		return log_err(-errno, "cannot remove the stale socket file '%s'", s->name);
	return 0;
}

static int bind_unix(int fd, const struct md_sock *s)
{
	struct sockaddr_un sa;
	socklen_t len = unix_addr(s, &sa);
	bool path = s->name[0] != '\0';
	int r;

	if (path && (r = clear_path(s, &sa, len)) < 0)
		return r;
	if (bind(fd, (struct sockaddr *)&sa, len) < 0)
		return log_err(-errno, path ? "cannot bind a unix socket to '%s'" : "cannot bind a unix socket to "
			       "the abstract name '@%s'", path ? s->name : s->name + 1);
	/* bind() made the file with our umask */
	if (path && (chmod(s->name, s->path_mode & 07777) < 0 ||
		     lchown(s->name, (uid_t)s->path_uid, (gid_t)s->path_gid) < 0))
		return log_err(-errno, "cannot give '%s' its mode and owner", s->name);
	return 0;
}

static int make_unix(struct restore_ctx *rc, const struct md_fd *f, int depth);

/* whether the description ofd is open already (in rc->files) */
static bool file_made(const struct restore_ctx *rc, uint64_t ofd)
{
	const struct restore_ofd *o = restore_find_ofd(rc, ofd);

	return o && o->file >= 0;
}

/* a datagram socket connected to a named one (which need not be connected back) */
static int connect_named(struct restore_ctx *rc, int fd, const struct md_fd *f, int depth)
{
	const struct md_fd *pf = restore_find_sock(rc, f->sock.peer_ino, NULL);
	struct sockaddr_un sa;
	socklen_t len;
	const int *e;

	if (!pf || depth > MAX_DEPTH)
		return log_err(-ELOOP, "cannot connect unix socket %llu to its peer", (unsigned long long)f->sock.ino);
	e = find_end(rc, pf->sock.ino);
	if (!e)
		return -ENOMEM;
	/* the peer must exist first: made now, it waits for its fd */
	if (*e == SOCK_END_NONE && !file_made(rc, pf->ofd)) {
		int pfd = make_unix(rc, pf, depth + 1), r;

		if (pfd < 0)
			return pfd;
		r = add_end(rc, pf->sock.ino, pfd);
		if (r < 0) {
			close(pfd);
			return r;
		}
	}
	len = unix_addr(&pf->sock, &sa);
	if (connect(fd, (struct sockaddr *)&sa, len) < 0)
		return log_err(-errno, "cannot connect unix socket %llu to its peer", (unsigned long long)f->sock.ino);
	return 0;
}

/* the credentials of the process that holds socket ino, NULL if they are memdump's own or unknown */
static const struct md_creds *holder_creds(const struct restore_ctx *rc, uint64_t ino)
{
	pid_t pid = 0;

	if (!md_socks_find(&rc->socks, ino, &pid))
		return NULL;
	for (size_t i = 0; i < rc->n; i++) {
		const struct md_proc *p = &rc->procs[i].p;

		if (p->pid != pid || !p->n_threads || !p->threads[0].has_creds)
			continue;
		return md_creds_same_ids(&p->threads[0].creds, &rc->own_creds) ? NULL : &p->threads[0].creds;
	}
	return NULL;
}

/*
 * connect() as cr (NULL: as memdump). The kernel gives the socket accept()
 * returns the credentials of the task that connect()ed (SO_PEERCRED,
 * SO_PEERGROUPS), which a server may trust: a child of ours takes the
 * ids and groups of the process that holds the socket for that one call,
 * and with them its access to the listener's path. The pid it names is
 * the child's, gone at once. 0 or -errno; *what says what failed.
 */
struct connect_job {
	const struct md_creds *cr;
	int fd;
	const struct sockaddr_un *sa;
	socklen_t len;
};

/* in the child: 0, errno (7 bits) of connect(), or 128 | errno where the ids could not be taken */
static int connect_child(void *arg)
{
	const struct connect_job *j = arg;
	const struct md_creds *cr = j->cr;

	/* raw calls: glibc's would go through every thread of ours, and here is only one */
	if (syscall(SYS_setgroups, cr->n_groups, cr->groups) < 0 ||
	    syscall(SYS_setresgid, cr->gid[0], cr->gid[1], cr->gid[2]) < 0 ||
	    syscall(SYS_setresuid, cr->uid[0], cr->uid[1], cr->uid[2]) < 0)
		return 128 | (errno & 0x7f);
	syscall(SYS_setfsgid, cr->gid[3]);
	syscall(SYS_setfsuid, cr->uid[3]);
	return connect(j->fd, (const struct sockaddr *)j->sa, j->len) < 0 ? errno & 0x7f : 0;
}

static int connect_as(const struct md_creds *cr, int fd, const struct sockaddr_un *sa, socklen_t len,
		      const char **what)
{
	struct connect_job j = { cr, fd, sa, len };
	int r;

	*what = "connect";
	if (!cr)
		return connect(fd, (const struct sockaddr *)sa, len) < 0 ? -errno : 0;
	r = restore_in_child(connect_child, &j);
	if (r == -EIO)
		return r;
	if (r < 0) {
		*what = "fork a helper to connect";
		return r;
	}
	if (r & 128)
		*what = "take the ids of its holder to connect";
	return -(r & 0x7f);
}

/*
 * The connections waiting in the backlog of listener l (our lfd), oldest
 * first: each socket that connect()ed is made and connected again, as the
 * process that holds it, and waits for its fd. accept() then gives the
 * other end as it would have. Each sent nothing (the dump saw to it), so
 * nothing is queued again. A listener may hold more than its backlog (a
 * smaller listen() keeps those waiting): it takes them all first.
 */
static int connect_pending(struct restore_ctx *rc, int lfd, const struct md_fd *l)
{
	size_t first = md_pending_first(rc->pending, rc->n_pending, l->sock.ino), n = 0;
	struct sockaddr_un sa;
	socklen_t len = unix_addr(&l->sock, &sa);
	char what[128] = "set its options";

	while (first + n < rc->n_pending && rc->pending[first + n]->sock.pending_on == l->sock.ino)
		n++;
	if (n > l->sock.backlog && listen(lfd, (int)n) < 0)
		return log_err(-errno, "cannot listen on unix socket %llu", (unsigned long long)l->sock.ino);
	for (size_t i = first; i < first + n; i++) {
		const struct md_fd *c = rc->pending[i];
		int fd = socket(AF_UNIX, c->sock.type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), r = 0;
		const struct md_creds *cr;
		const char *step;

		if (fd < 0)
			return log_err(-errno, "cannot make a unix socket");
		if (c->sock.name_len)
			r = bind_unix(fd, &c->sock);
		cr = holder_creds(rc, c->sock.ino);
		if (r >= 0 && (r = connect_as(cr, fd, &sa, len, &step)) < 0)
			log_err(r, "cannot %s unix socket %llu to listener %llu again, as uid %u gid %u "
				"(%zu connection(s) waiting in it%s)", step, (unsigned long long)c->sock.ino,
				(unsigned long long)l->sock.ino, cr ? cr->uid[1] : rc->own_creds.uid[1],
				cr ? cr->gid[1] : rc->own_creds.gid[1], n,
				r == -EAGAIN && !strcmp(step, "connect") ? "; net.core.somaxconn may be lower here"
									   : "");
		if (r >= 0 && (r = unix_options(fd, c, what, sizeof(what))) < 0)
			log_err(r, "cannot %s on unix socket %llu", what, (unsigned long long)c->sock.ino);
		if (r >= 0 && (r = apply_shutdown(fd, c->sock.shutdown)) < 0)
			log_err(r, "cannot shut unix socket %llu down", (unsigned long long)c->sock.ino);
		if (r >= 0 && (r = set_flags(fd, c)) < 0)
			log_err(r, "cannot set the flags of unix socket %llu", (unsigned long long)c->sock.ino);
		if (r >= 0)
			r = add_end(rc, c->sock.ino, fd);
		if (r < 0) {
			close(fd);
			return r;
		}
	}
	if (n > l->sock.backlog && listen(lfd, (int)l->sock.backlog) < 0)
		return log_err(-errno, "cannot listen on unix socket %llu", (unsigned long long)l->sock.ino);
	return 0;
}

/*
 * A connection waiting in a backlog, reached before its listener: the
 * listener is made now (it then waits for its fd), and with it every
 * connection waiting in it, this one too.
 */
static int make_pending(struct restore_ctx *rc, const struct md_fd *f, int depth)
{
	const struct md_fd *l = restore_find_sock(rc, f->sock.pending_on, NULL);
	int *e = l ? find_end(rc, l->sock.ino) : NULL, fd, r;

	if (!e)
		return l ? -ENOMEM : log_err(-EINVAL, "unix socket %llu waits in the backlog of a socket the image "
					     "lacks", (unsigned long long)f->sock.ino);
	if (*e != SOCK_END_NONE || file_made(rc, l->ofd))
		return log_err(-EIO, "unix socket %llu was not connected to its listener %llu when it was made",
			       (unsigned long long)f->sock.ino, (unsigned long long)l->sock.ino);
	fd = make_unix(rc, l, depth + 1);
	if (fd < 0)
		return fd;
	r = add_end(rc, l->sock.ino, fd);
	if (r < 0) {
		close(fd);
		return r;
	}
	e = find_end(rc, f->sock.ino);
	if (!e || *e < 0)
		return log_err(-EIO, "unix socket %llu is missing from the backlog of its listener %llu",
			       (unsigned long long)f->sock.ino, (unsigned long long)l->sock.ino);
	fd = *e;
	*e = SOCK_END_TAKEN;
	return fd;
}

static int make_unix(struct restore_ctx *rc, const struct md_fd *f, int depth)
{
	const struct md_sock *s = &f->sock;
	const struct md_fd *pf = s->peer_ino ? restore_find_sock(rc, s->peer_ino, NULL) : NULL;
	char what[128] = "set its options";
	int fd, r = 0;

	if (s->pending_on)
		return make_pending(rc, f, depth);
	if (s->state == TCP_ESTABLISHED && (!pf || pf->sock.peer_ino == s->ino))
		return make_pair(rc, f);
	fd = socket(AF_UNIX, s->type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return log_err(-errno, "cannot make a unix socket");
	if (s->name_len)
		r = bind_unix(fd, s);
	if (r >= 0 && s->state == TCP_LISTEN && listen(fd, (int)s->backlog) < 0)
		r = log_err(-errno, "cannot listen on unix socket %llu", (unsigned long long)s->ino);
	if (r >= 0 && s->state == TCP_ESTABLISHED)
		r = connect_named(rc, fd, f, depth);
	if (r >= 0 && (r = unix_options(fd, f, what, sizeof(what))) < 0)
		log_err(r, "cannot %s on unix socket %llu", what, (unsigned long long)s->ino);
	/* after its options: a connection takes the listener's SO_PASSCRED when it connects (Linux 6.16+) */
	if (r >= 0 && s->state == TCP_LISTEN)
		r = connect_pending(rc, fd, f);
	if (r >= 0 && (r = apply_shutdown(fd, s->shutdown)) < 0)
		log_err(r, "cannot shut unix socket %llu down", (unsigned long long)s->ino);
	if (r >= 0 && (r = set_flags(fd, f)) < 0)
		log_err(r, "cannot set the flags of unix socket %llu", (unsigned long long)s->ino);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

static bool zero_addr(const uint8_t *a, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (a[i])
			return false;
	return true;
}

static int make_inet(struct restore_ctx *rc, const struct md_fd *f)
{
	const struct md_sock *s = &f->sock;
	const char *what = s->protocol == IPPROTO_TCP ? "TCP" : "UDP";
	struct sockaddr_storage ss;
	char a[INET6_ADDRSTRLEN], opt[128] = "set its options";
	socklen_t len;
	int fd, one = 1, off = 0, v6only = s->v6only, r = 0;
	/*
	 * A listener shares its port with the connections it accepted: bound
	 * after one of them, it needs SO_REUSEADDR until it listens.
	 */
	bool reuse_for_now = s->state == TCP_LISTEN && !s->reuseaddr && rc->n_tcp;

	if (md_fd_tcp_conn(f))
		return restore_make_tcp(rc, f);
	fd = socket(s->family, s->type | SOCK_CLOEXEC, s->protocol);
	if (fd < 0)
		return log_err(-errno, "cannot make a %s socket", what);
	if ((s->reuseaddr || reuse_for_now) && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		r = -errno;
	if (!r && s->reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		r = -errno;
	if (!r && s->family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) < 0)
		r = -errno;
	if (!r)
		r = restore_sockopts(fd, s, false, opt, sizeof(opt));
	if (r < 0) {
		log_err(r, "cannot %s on a %s socket", opt, what);
		goto out_close;
	}
	inet_ntop(s->family, s->addr, a, sizeof(a));
	if (s->port || !zero_addr(s->addr, s->family == AF_INET6 ? 16 : 4)) {
		len = md_inet_sockaddr(s->family, s->addr, s->port, s->scope_id, &ss);
		if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
			r = log_err(-errno, s->family == AF_INET6 ? "cannot bind a %s socket to [%s]:%u"
								  : "cannot bind a %s socket to %s:%u",
				    what, a, s->port);
			goto out_close;
		}
	}
	if (s->state == TCP_LISTEN && listen(fd, (int)s->backlog) < 0) {
		r = log_err(-errno, "cannot listen on %s port %u", what, s->port);
		goto out_close;
	}
	if (reuse_for_now && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &off, sizeof(off)) < 0) {
		r = log_err(-errno, "cannot clear SO_REUSEADDR of a %s socket", what);
		goto out_close;
	}
	if (s->protocol == IPPROTO_UDP && s->state == TCP_ESTABLISHED) {
		len = md_inet_sockaddr(s->family, s->peer_addr, s->peer_port, 0, &ss);
		if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
			r = log_err(-errno, "cannot connect UDP socket %s:%u to its peer", a, s->port);
			goto out_close;
		}
	}
	/* a connect() in progress: started again, not waited for (set_flags() puts the flags back) */
	if (s->protocol == IPPROTO_TCP && s->state == TCP_SYN_SENT) {
		len = md_inet_sockaddr(s->family, s->peer_addr, s->peer_port, 0, &ss);
		if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0 ||
		    (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS)) {
			r = log_err(-errno, "cannot start TCP socket %s:%u connecting to its peer again", a, s->port);
			goto out_close;
		}
	}
	if ((r = restore_sockopts(fd, s, true, opt, sizeof(opt))) < 0) {
		log_err(r, "cannot %s on a %s socket", opt, what);
		goto out_close;
	}
	r = set_flags(fd, f);
	if (r >= 0)
		return fd;
out_close:
	close(fd);
	return r;
}

/*
 * A netlink socket, bound to its port id again (a port another socket of
 * this host has taken fails the restore), in its groups, connected to its
 * destination. Group numbers are the kernel's: a generic netlink family's
 * are given out at run time, and may name other groups on another host.
 */
static int make_netlink(const struct md_fd *f)
{
	const struct md_sock *s = &f->sock;
	struct sockaddr_nl a = { .nl_family = AF_NETLINK };
	char opt[128] = "set its options";
	int fd, v = s->passcred, r = 0;

	fd = socket(AF_NETLINK, s->type | SOCK_CLOEXEC, s->protocol);
	if (fd < 0)
		return log_err(-errno, "cannot make a netlink socket of protocol %d", s->protocol);
	if (v && setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &v, sizeof(v)) < 0) {
		snprintf(opt, sizeof(opt), "set SO_PASSCRED");
		r = -errno;
	}
	v = s->nl_all_nsid;
	if (!r && v && setsockopt(fd, SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, &v, sizeof(v)) < 0) {
		snprintf(opt, sizeof(opt), "set NETLINK_LISTEN_ALL_NSID");
		r = -errno;
	}
	if (!r)
		r = restore_sockopts(fd, s, false, opt, sizeof(opt));
	if (r < 0) {
		log_err(r, "cannot %s on a netlink socket of protocol %d", opt, s->protocol);
		goto out_close;
	}
	a.nl_pid = s->nl_portid;
	if (s->nl_portid && bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		r = log_err(-errno, "cannot bind a netlink socket of protocol %d to port id %u", s->protocol,
			    s->nl_portid);
		goto out_close;
	}
	for (uint32_t g = 1; g <= MD_NL_GROUP_WORDS * 32; g++) {
		if (!(s->nl_groups[(g - 1) / 32] >> ((g - 1) % 32) & 1))
			continue;
		if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) < 0) {
			r = log_err(-errno, "cannot join group %u on a netlink socket of protocol %d", g,
				    s->protocol);
			goto out_close;
		}
	}
	if (s->nl_dst_portid || s->nl_dst_group) {
		a.nl_pid = s->nl_dst_portid;
		a.nl_groups = s->nl_dst_group ? 1u << (s->nl_dst_group - 1) : 0;
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			r = log_err(-errno, "cannot connect a netlink socket of protocol %d to port id %u, group %u",
				    s->protocol, s->nl_dst_portid, s->nl_dst_group);
			goto out_close;
		}
	}
	if ((r = restore_sockopts(fd, s, true, opt, sizeof(opt))) < 0) {
		log_err(r, "cannot %s on a netlink socket of protocol %d", opt, s->protocol);
		goto out_close;
	}
	r = set_flags(fd, f);
	if (r >= 0)
		return fd;
out_close:
	close(fd);
	return r;
}

int restore_open_socket(struct restore_ctx *rc, const struct md_fd *f)
{
	int *e, fd;

	if (f->kind == MD_FD_INET_SOCKET)
		return make_inet(rc, f);
	if (f->kind == MD_FD_NETLINK_SOCKET)
		return make_netlink(f);
	e = find_end(rc, f->sock.ino);
	if (!e)
		return -ENOMEM;
	if (*e >= 0) {
		fd = *e;
		*e = SOCK_END_TAKEN;
		return fd;
	}
	return make_unix(rc, f, 0);
}
