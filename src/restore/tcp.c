/*
 * TCP connections (tcp-stream.img, restore --tcp-established),
 * made again with TCP repair as CRIU does: a socket in repair mode takes
 * the dumped sequence numbers before it is bound, connect() then makes it
 * established without a handshake, its options and window are set, and the
 * queues are written back in repair mode (the receive queue as received,
 * the send queue as sent and not acknowledged yet). The sockets stay in
 * repair mode, silent (the bytes never sent are written out of it for a
 * moment, as usual, while the lock keeps them in), until the whole tree is
 * in place; then restore_tcp_finish() removes the network lock and takes
 * them out of repair mode. The lock is the dump's, or where the restore
 * runs on another host the same one made here (restore_tcp_lock()). A
 * restore that fails before closes them still in repair mode, without a
 * word to the peer, and leaves the lock: it can be tried again. Those that
 * were closing half way close again once out of repair mode (tcpclose.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "memdump/image.h"
#include "memdump/log.h"
#include "memdump/netlock.h"
#include "memdump/sockdiag.h"
#include "memdump/sockopts.h"
#include "restore/internal.h"

#define CHUNK (256 * 1024)
#define MAX_GROW 12	/* buffer doublings a queue may need */

int restore_read_tcp(struct restore_ctx *rc, const struct md_proc *procs, const char *dir)
{
	char err[256];
	int r;

	r = image_read_tcp(rc->dirfd, &rc->tcp, &rc->n_tcp, &rc->net_lock);
	if (r < 0)
		return r;
	r = image_check_tcp(&rc->socks, procs, rc->n, rc->tcp, rc->n_tcp, err, sizeof(err));
	if (r == -EINVAL)
		return log_err(r, "image '%s': %s", dir, err);
	if (r < 0)
		return r;
	if (rc->n_tcp && !rc->tcp_established)
		return log_err(-EINVAL, "image '%s' holds %zu TCP connection(s): restore it with "
			       "--tcp-established", dir, rc->n_tcp);
	rc->tcp_fds = malloc((rc->n_tcp ? rc->n_tcp : 1) * sizeof(*rc->tcp_fds));
	if (!rc->tcp_fds)
		return log_err(-ENOMEM, "cannot read image '%s'", dir);
	for (size_t i = 0; i < rc->n_tcp; i++)
		rc->tcp_fds[i] = -1;
	return 0;
}

void restore_tcp_release(struct restore_ctx *rc)
{
	for (size_t i = 0; rc->tcp && i < rc->n_tcp; i++)
		md_tcp_stream_release(&rc->tcp[i]);
	free(rc->tcp);
	free(rc->tcp_fds);
	free(rc->net_lock);
	if (rc->tcp_raw4 >= 0)
		close(rc->tcp_raw4);
	if (rc->tcp_raw6 >= 0)
		close(rc->tcp_raw6);
	rc->tcp_raw4 = rc->tcp_raw6 = -1;
	rc->tcp = NULL;
	rc->tcp_fds = NULL;
	rc->net_lock = NULL;
	rc->n_tcp = 0;
}

static bool same_conn(const struct sd_inet *e, const struct md_sock *s)
{
	size_t alen = s->family == AF_INET6 ? 16 : 4;

	return e->family == s->family && e->sport == s->port && e->dport == s->peer_port &&
	       !memcmp(e->src, s->addr, alen) && !memcmp(e->dst, s->peer_addr, alen);
}

int restore_tcp_lock(struct restore_ctx *rc)
{
	struct md_net_conn *conns;
	struct sockdiag d = { 0 };
	char name[MD_NET_LOCK_NAME_MAX];
	int r;

	if (!rc->n_tcp)
		return 0;
	/*
	 * A socket of this host on one of the connections (the dumped
	 * process, left running by dump -R) would lose its packets to the
	 * lock: refused before anything changes.
	 */
	r = sockdiag_collect(false, true, &d);
	if (r < 0)
		return log_err(r, "cannot ask the kernel about this host's TCP sockets (sock_diag)");
	for (size_t i = 0; i < rc->n_tcp && r >= 0; i++) {
		const struct md_fd *f = restore_find_sock(rc, rc->tcp[i].ino, NULL);

		for (size_t k = 0; f && k < d.n_inet && r >= 0; k++)
			if (d.inet[k].protocol == IPPROTO_TCP && d.inet[k].state != TCP_LISTEN &&
			    same_conn(&d.inet[k], &f->sock))
				r = log_err(-EADDRINUSE, "a TCP connection of the image (fd %d) is in use on this host, "
					    "by socket %llu in state %d (does the dumped process still run?)", f->fd,
					    (unsigned long long)d.inet[k].ino, d.inet[k].state);
	}
	sockdiag_release(&d);
	if (r < 0 || (r = restore_tcp_close_prepare(rc)) < 0)
		return r;
	/*
	 * The dump's lock where it is still there (this host); else the same
	 * one made here, so that the peers' packets wait here too until the
	 * tree runs, and a failed restore can be tried again.
	 */
	if (!rc->net_lock) {
		netlock_name(name, sizeof(name), rc->inv.root_pid, rc->inv.dump_time_ns);
		rc->net_lock = strdup(name);
		if (!rc->net_lock)
			return -ENOMEM;
	}
	conns = calloc(rc->n_tcp, sizeof(*conns));
	if (!conns)
		return -ENOMEM;
	for (size_t i = 0; i < rc->n_tcp; i++)
		netlock_conn(&conns[i], &restore_find_sock(rc, rc->tcp[i].ino, NULL)->sock);
	r = netlock_keep(rc->net_lock, conns, rc->n_tcp);
	free(conns);
	return r < 0 ? r : 0;
}

static int set_int(int fd, int level, int opt, int v)
{
	return setsockopt(fd, level, opt, &v, sizeof(v)) < 0 ? -errno : 0;
}

/*
 * Bytes into a queue: in repair mode the receive or the send queue, else
 * sent as usual. A buffer too small for what the dumped socket held (it
 * had grown) is made larger, which fixes its size from then on.
 */
static int write_queue(int fd, int queue, const uint8_t *data, size_t len)
{
	int grow = 0, size, r;
	socklen_t sl;

	if (queue != TCP_NO_QUEUE && (r = set_int(fd, SOL_TCP, TCP_REPAIR_QUEUE, queue)) < 0)
		return r;
	while (len) {
		ssize_t n = send(fd, data, len < CHUNK ? len : CHUNK, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0 || (errno != ENOMEM && errno != EAGAIN) || ++grow > MAX_GROW)
			return n == 0 ? -EIO : -errno;
		/* the receive queue is charged to the receive buffer, the others to the send buffer */
		sl = sizeof(size);
		if (getsockopt(fd, SOL_SOCKET, queue == TCP_RECV_QUEUE ? SO_RCVBUF : SO_SNDBUF, &size, &sl) < 0)
			return -errno;
		/* getsockopt() gives the doubled size that setsockopt() makes of what it is given */
		r = set_int(fd, SOL_SOCKET, queue == TCP_RECV_QUEUE ? SO_RCVBUFFORCE : SO_SNDBUFFORCE, size);
		if (r < 0)
			return r;
	}
	return 0;
}

static int find_stream(const struct restore_ctx *rc, uint64_t ino)
{
	for (size_t i = 0; i < rc->n_tcp; i++)
		if (rc->tcp[i].ino == ino)
			return (int)i;
	return -1;
}

static int repair_options(int fd, const struct md_tcp_stream *t)
{
	struct tcp_repair_opt o[4];
	size_t n = 0;

	o[n++] = (struct tcp_repair_opt){ TCPOPT_MAXSEG, t->mss };
	if (t->options & TCPI_OPT_WSCALE)
		o[n++] = (struct tcp_repair_opt){ TCPOPT_WINDOW, t->snd_wscale | (t->rcv_wscale << 16) };
	if (t->options & TCPI_OPT_TIMESTAMPS)
		o[n++] = (struct tcp_repair_opt){ TCPOPT_TIMESTAMP, 0 };
	if (t->options & TCPI_OPT_SACK)
		o[n++] = (struct tcp_repair_opt){ TCPOPT_SACK_PERMITTED, 0 };
	if (setsockopt(fd, SOL_TCP, TCP_REPAIR_OPTIONS, o, (socklen_t)(n * sizeof(o[0]))) < 0)
		return -errno;
	return t->options & TCPI_OPT_TIMESTAMPS ? set_int(fd, SOL_TCP, TCP_TIMESTAMP, (int)t->timestamp) : 0;
}

static int repair_window(int fd, const struct md_tcp_stream *t)
{
	struct tcp_repair_window w = {
		.snd_wl1 = t->snd_wl1, .snd_wnd = t->snd_wnd, .max_window = t->max_window,
		.rcv_wnd = t->rcv_wnd, .rcv_wup = t->rcv_wup,
	};

	if (!t->has_window)
		return 0;
	return setsockopt(fd, SOL_TCP, TCP_REPAIR_WINDOW, &w, sizeof(w)) < 0 ? -errno : 0;
}

/* the connection, established and in repair mode; what failed is in *what (maybe in buf) */
static int repair(int fd, const struct md_sock *s, const struct md_tcp_stream *t, const char **what, char *buf,
		  size_t buf_len)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int r, r2;

	*what = "enter repair mode (it needs CAP_NET_ADMIN)";
	if ((r = set_int(fd, SOL_TCP, TCP_REPAIR, TCP_REPAIR_ON)) < 0)
		return r;
	*what = "set IPV6_V6ONLY";
	if (s->family == AF_INET6 && (r = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, s->v6only)) < 0)
		return r;
	*what = buf;
	if ((r = restore_sockopts(fd, s, false, buf, buf_len)) < 0)
		return r;
	*what = "set its sequence numbers";
	if ((r = set_int(fd, SOL_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE)) < 0 ||
	    (r = set_int(fd, SOL_TCP, TCP_QUEUE_SEQ, (int)(t->recv_seq - (uint32_t)t->recvq_len))) < 0 ||
	    (r = set_int(fd, SOL_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE)) < 0 ||
	    (r = set_int(fd, SOL_TCP, TCP_QUEUE_SEQ, (int)(t->send_seq - (uint32_t)t->sendq_len))) < 0)
		return r;
	*what = "bind it to its address (is the address on this host, the port free?)";
	len = md_inet_sockaddr(s->family, s->addr, s->port, s->scope_id, &ss);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		return -errno;
	*what = "connect it to its peer";
	len = md_inet_sockaddr(s->family, s->peer_addr, s->peer_port, 0, &ss);
	if (connect(fd, (struct sockaddr *)&ss, len) < 0)
		return -errno;
	*what = "set its options";
	if ((r = repair_options(fd, t)) < 0)
		return r;
	*what = "queue the bytes it had received";
	if ((r = write_queue(fd, TCP_RECV_QUEUE, t->recvq, t->recvq_len)) < 0)
		return r;
	*what = "queue the bytes it had sent";
	if ((r = write_queue(fd, TCP_SEND_QUEUE, t->sendq, t->sendq_len - t->unsent)) < 0)
		return r;
	*what = "set its window";
	if ((r = repair_window(fd, t)) < 0)
		return r;
	*what = "set TCP_NODELAY and SO_KEEPALIVE";
	if ((r = set_int(fd, SOL_TCP, TCP_NODELAY, t->nodelay)) < 0 ||
	    (r = set_int(fd, SOL_SOCKET, SO_KEEPALIVE, t->keepalive)) < 0)
		return r;
	if (!t->unsent)
		return 0;
	/*
	 * The bytes never sent are written as usual, out of repair mode (no
	 * window probe) and back: under the lock the kernel cannot send them
	 * yet, and whatever fails here fails before the tree exists.
	 */
	*what = "queue the bytes it had not sent yet";
	if ((r = set_int(fd, SOL_TCP, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP)) < 0)
		return r;
	r = write_queue(fd, TCP_NO_QUEUE, t->sendq + (t->sendq_len - t->unsent), t->unsent);
	/* on every path: a socket closed in repair mode says nothing to the peer */
	r2 = set_int(fd, SOL_TCP, TCP_REPAIR, TCP_REPAIR_ON);
	return r < 0 ? r : r2;
}

const char *restore_tcp_name(char *buf, size_t len, const struct md_sock *s)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];

	inet_ntop(s->family, s->addr, a, sizeof(a));
	inet_ntop(s->family, s->peer_addr, b, sizeof(b));
	snprintf(buf, len, s->family == AF_INET6 ? "TCP connection [%s]:%u - [%s]:%u" : "TCP connection %s:%u - %s:%u",
		 a, s->port, b, s->peer_port);
	return buf;
}

int restore_make_tcp(struct restore_ctx *rc, const struct md_fd *f)
{
	const struct md_sock *s = &f->sock;
	int i = find_stream(rc, s->ino), fd, r;
	char name[RESTORE_TCP_NAME_MAX], opt[128];
	const char *what;

	/* image_check_tcp() saw to it */
	if (i < 0)
		return log_err(-EINVAL, "TCP socket %llu has no state in the image", (unsigned long long)s->ino);
	fd = socket(s->family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return log_err(-errno, "cannot make a TCP socket");
	r = repair(fd, s, &rc->tcp[i], &what, opt, sizeof(opt));
	if (r >= 0 && (r = restore_sockopts(fd, s, true, opt, sizeof(opt))) < 0)
		what = opt;
	if (r >= 0 && fcntl(fd, F_SETFL, (int)f->flags & RESTORE_SETFL_MASK) < 0) {
		r = -errno;
		what = "set its file status flags";
	}
	if (r < 0) {
		log_err(r, "%s: cannot %s", restore_tcp_name(name, sizeof(name), s), what);
		close(fd);
		return r;
	}
	rc->tcp_fds[i] = fd;	/* borrowed: rc->files owns it */
	return fd;
}

int restore_tcp_finish(struct restore_ctx *rc)
{
	int r;

	if (!rc->n_tcp)
		return 0;
	/* the peers' packets reach the sockets again (and the first ones they sent again) */
	if (rc->net_lock && (r = netlock_remove(rc->net_lock)) < 0)
		return r;
	for (size_t i = 0; i < rc->n_tcp; i++) {
		const struct md_tcp_stream *t = &rc->tcp[i];
		const struct md_fd *f = restore_find_sock(rc, t->ino, NULL);
		int fd = rc->tcp_fds[i];

		if (fd < 0)
			continue;
		/* with a window probe: the peer tells the window it has now */
		if ((r = set_int(fd, SOL_TCP, TCP_REPAIR, TCP_REPAIR_OFF)) < 0)
			return log_err(r, "cannot take TCP socket %llu out of repair mode", (unsigned long long)t->ino);
		rc->tcp_fds[i] = -1;
		/* leaving repair mode cleared it */
		if (f && f->sock.reuseaddr && (r = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1)) < 0)
			return log_err(r, "cannot set SO_REUSEADDR on TCP socket %llu", (unsigned long long)t->ino);
		if (f && f->sock.state != TCP_ESTABLISHED)
			restore_tcp_close(rc, fd, &f->sock, t);
	}
	return 0;
}
