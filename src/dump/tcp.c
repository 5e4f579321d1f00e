/*
 * Established TCP connections (dump --tcp-established), read with TCP
 * repair as CRIU does: the network lock first drops their packets both
 * ways (memdump/netlock.h), then each socket goes into repair mode
 * through a pidfd_getfd() copy and gives its sequence numbers, options,
 * window and both queues (peeked: nothing is taken). A socket in repair
 * mode sends nothing and closes without a FIN or a reset: once the tree is
 * killed the connection waits, locked, for the restore. A dump that fails
 * or leaves the tree running takes every socket out of repair mode (its
 * SO_REUSEADDR back, which leaving repair clears) and the lock away before
 * the tree runs again.
 */
#include "memdump/dump.h"
#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "memdump/netlock.h"
#include "compat/pidfd.h"

#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define TCP_OPTS_KEPT (TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE)

static bool is_established_tcp(const struct md_fd *f)
{
	return f->kind == MD_FD_INET_SOCKET && f->sock.protocol == IPPROTO_TCP && f->sock.state == TCP_ESTABLISHED;
}

static int get_int(int sk, int level, int opt, int *ret)
{
	socklen_t len = sizeof(*ret);

	return getsockopt(sk, level, opt, ret, &len) < 0 ? -errno : 0;
}

/* one queue, peeked whole in repair mode: its sequence number and bytes */
static int peek_queue(int sk, int queue, size_t len, uint32_t *seq, uint8_t **ret)
{
	uint8_t *buf;
	int v;
	ssize_t n;

	if (setsockopt(sk, SOL_TCP, TCP_REPAIR_QUEUE, &queue, sizeof(queue)) < 0)
		return -errno;
	if (get_int(sk, SOL_TCP, TCP_QUEUE_SEQ, &v) < 0)
		return -errno;
	*seq = (uint32_t)v;
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	n = len ? recv(sk, buf, len, MSG_PEEK | MSG_DONTWAIT) : 0;
	if (n < 0 || (size_t)n != len) {
		int r = n < 0 ? -errno : -EIO;

		free(buf);
		return r;
	}
	*ret = buf;
	return 0;
}

static int read_stream(int sk, struct md_tcp_stream *t)
{
	struct tcp_repair_window w;
	struct tcp_info ti;
	socklen_t len;
	int inq, outq, unsent, v, r, none = TCP_NO_QUEUE;

	if (ioctl(sk, SIOCINQ, &inq) < 0 || ioctl(sk, SIOCOUTQ, &outq) < 0 || ioctl(sk, SIOCOUTQNSD, &unsent) < 0)
		return -errno;
	if (inq < 0 || outq < 0 || unsent < 0 || unsent > outq)
		return -EIO;
	t->unsent = (uint32_t)unsent;
	if ((r = get_int(sk, SOL_TCP, TCP_MAXSEG, &v)) < 0)
		return r;
	t->mss = (uint32_t)v;
	len = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(sk, SOL_TCP, TCP_INFO, &ti, &len) < 0)
		return -errno;
	t->options = ti.tcpi_options & TCP_OPTS_KEPT;
	t->snd_wscale = ti.tcpi_snd_wscale;
	t->rcv_wscale = ti.tcpi_rcv_wscale;
	if ((t->options & TCPI_OPT_TIMESTAMPS) && (r = get_int(sk, SOL_TCP, TCP_TIMESTAMP, &v)) < 0)
		return r;
	t->timestamp = (uint32_t)v;
	len = sizeof(w);
	if (getsockopt(sk, SOL_TCP, TCP_REPAIR_WINDOW, &w, &len) == 0 && len == sizeof(w)) {
		t->has_window = true;
		t->snd_wl1 = w.snd_wl1;
		t->snd_wnd = w.snd_wnd;
		t->max_window = w.max_window;
		t->rcv_wnd = w.rcv_wnd;
		t->rcv_wup = w.rcv_wup;
	}
	if ((r = get_int(sk, SOL_TCP, TCP_NODELAY, &v)) < 0)
		return r;
	t->nodelay = v;
	if ((r = get_int(sk, SOL_SOCKET, SO_KEEPALIVE, &v)) < 0)
		return r;
	t->keepalive = v;
	r = peek_queue(sk, TCP_RECV_QUEUE, (size_t)inq, &t->recv_seq, &t->recvq);
	if (r < 0)
		return r;
	t->recvq_len = (size_t)inq;
	r = peek_queue(sk, TCP_SEND_QUEUE, (size_t)outq, &t->send_seq, &t->sendq);
	if (r < 0)
		return r;
	t->sendq_len = (size_t)outq;
	/* what a recv() of the process's would see, were repair left on by mistake */
	setsockopt(sk, SOL_TCP, TCP_REPAIR_QUEUE, &none, sizeof(none));
	return 0;
}

/* out of repair mode, with the SO_REUSEADDR that leaving it cleared */
static int repair_off(int sk, bool reuseaddr)
{
	int off = TCP_REPAIR_OFF, one = 1;

	if (setsockopt(sk, SOL_TCP, TCP_REPAIR, &off, sizeof(off)) < 0)
		return -errno;
	if (reuseaddr && setsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		return -errno;
	return 0;
}

static void add_conn(struct md_net_conn *c, const struct md_sock *s)
{
	memset(c, 0, sizeof(*c));
	c->family = s->family;
	memcpy(c->addr, s->addr, sizeof(c->addr));
	c->port = s->port;
	memcpy(c->peer_addr, s->peer_addr, sizeof(c->peer_addr));
	c->peer_port = s->peer_port;
}

int dump_tcp(const struct md_proc *procs, size_t n, pid_t root, uint64_t now_ns, struct dump_tcp *t)
{
	_cleanup_free_ struct md_net_conn *conns = NULL;
	size_t max = 0;
	int r;

	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < procs[i].n_fds; k++)
			max += is_established_tcp(&procs[i].fds[k]);
	if (!max)
		return 0;
	t->streams = calloc(max, sizeof(*t->streams));
	t->socks = calloc(max, sizeof(*t->socks));
	t->fds = malloc(max * sizeof(*t->fds));
	conns = calloc(max, sizeof(*conns));
	if (!t->streams || !t->socks || !t->fds || !conns)
		return -ENOMEM;
	/* each socket once: its first fd in the walk's order */
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < procs[i].n_fds; k++) {
			const struct md_fd *f = &procs[i].fds[k];

			if (!is_established_tcp(f) || md_find_sock(procs, n, f->sock.ino, NULL) != f)
				continue;
			t->fds[t->n] = md_pidfd_copy_fd(procs[i].pid, f->fd);
			if (t->fds[t->n] < 0)
				return log_err(t->fds[t->n], "cannot get a copy of fd %d of %d", f->fd, procs[i].pid);
			t->socks[t->n] = &f->sock;
			t->streams[t->n].ino = f->sock.ino;
			add_conn(&conns[t->n], &f->sock);
			t->n++;
		}
	netlock_name(t->lock, sizeof(t->lock), root, now_ns);
	r = netlock_add(t->lock, conns, t->n);
	if (r < 0)
		return r;
	t->locked = true;
	for (size_t i = 0; i < t->n; i++) {
		int on = TCP_REPAIR_ON;

		if (setsockopt(t->fds[i], SOL_TCP, TCP_REPAIR, &on, sizeof(on)) < 0)
			return log_err(-errno, "cannot put TCP socket %llu into repair mode (it needs CAP_NET_ADMIN)",
				       (unsigned long long)t->socks[i]->ino);
		t->n_repair = i + 1;
		r = read_stream(t->fds[i], &t->streams[i]);
		if (r < 0)
			return log_err(r, "cannot read the state of TCP socket %llu in repair mode",
				       (unsigned long long)t->socks[i]->ino);
		log_debug("TCP socket %llu: %zu bytes to send (%u not sent yet), %zu received, mss %u, options %#x",
			  (unsigned long long)t->socks[i]->ino, t->streams[i].sendq_len, t->streams[i].unsent,
			  t->streams[i].recvq_len, t->streams[i].mss, t->streams[i].options);
	}
	return 0;
}

int dump_tcp_finish(struct dump_tcp *t, bool tree_gone)
{
	int r = 0, r2;

	/* a tree that is gone closed its sockets in repair mode: silently, under the lock */
	for (size_t i = 0; !tree_gone && i < t->n_repair; i++) {
		r2 = repair_off(t->fds[i], t->socks[i]->reuseaddr);
		if (r2 < 0)
			r = log_err(r2, "cannot take TCP socket %llu out of repair mode",
				    (unsigned long long)t->socks[i]->ino);
	}
	t->n_repair = 0;
	if (!tree_gone && t->locked) {
		r2 = netlock_remove(t->lock);
		r = r < 0 ? r : r2;
		t->locked = false;
	}
	return r;
}

void dump_tcp_release(struct dump_tcp *t)
{
	for (size_t i = 0; t->fds && i < t->n; i++)
		if (t->fds[i] >= 0)
			close(t->fds[i]);
	for (size_t i = 0; t->streams && i < t->n; i++)
		md_tcp_stream_release(&t->streams[i]);
	free(t->streams);
	free(t->socks);
	free(t->fds);
	memset(t, 0, sizeof(*t));
}
