/*
 * tcp-stream.img: the TCP connections of the tree (dump --tcp-established),
 * each as TCP repair read it, and the name of the network lock that drops
 * their packets until restore has them back. Which fds hold each socket,
 * and its state (established, or closing), is in files-PID.img (Socket).
 */
#include "memdump/image.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/internal.h"
#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "memdump/netlock.h"

#include "files.pb-c.h"

#define TCP_NAME "tcp-stream.img"
#define TCP_OPTS_ALL (TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE)
#define TCP_MAX_WSCALE 14	/* RFC 7323 */

int image_write_tcp(int dirfd, const struct md_tcp_stream *t, size_t n, const char *net_lock)
{
	Md__TcpStreamsImage m = MD__TCP_STREAMS_IMAGE__INIT;
	_cleanup_free_ Md__TcpStream *e = calloc(n ? n : 1, sizeof(*e));
	_cleanup_free_ Md__TcpStream **ep = calloc(n ? n : 1, sizeof(*ep));

	if (!e || !ep)
		return log_err(-ENOMEM, "cannot write image '%s'", TCP_NAME);
	for (size_t i = 0; i < n; i++) {
		Md__TcpStream *s = &e[i];

		md__tcp_stream__init(s);
		s->ino = t[i].ino;
		s->send_seq = t[i].send_seq;
		s->recv_seq = t[i].recv_seq;
		s->send_queue.data = t[i].sendq;
		s->send_queue.len = t[i].sendq_len;
		s->unsent = t[i].unsent;
		s->recv_queue.data = t[i].recvq;
		s->recv_queue.len = t[i].recvq_len;
		s->mss = t[i].mss;
		s->options = t[i].options;
		s->has_snd_wscale = s->has_rcv_wscale = (t[i].options & TCPI_OPT_WSCALE) != 0;
		s->snd_wscale = t[i].snd_wscale;
		s->rcv_wscale = t[i].rcv_wscale;
		s->has_timestamp = (t[i].options & TCPI_OPT_TIMESTAMPS) != 0;
		s->timestamp = t[i].timestamp;
		s->has_snd_wl1 = s->has_snd_wnd = s->has_max_window = s->has_rcv_wnd = s->has_rcv_wup = t[i].has_window;
		s->snd_wl1 = t[i].snd_wl1;
		s->snd_wnd = t[i].snd_wnd;
		s->max_window = t[i].max_window;
		s->rcv_wnd = t[i].rcv_wnd;
		s->rcv_wup = t[i].rcv_wup;
		s->has_nodelay = t[i].nodelay;
		s->nodelay = t[i].nodelay;
		s->has_keepalive = t[i].keepalive;
		s->keepalive = t[i].keepalive;
		ep[i] = s;
	}
	m.n_streams = n;
	m.streams = ep;
	m.net_lock = (char *)net_lock;
	return img_write_msg(dirfd, TCP_NAME, MD_IMG_TCP, &m.base);
}

static int copy_bytes(const ProtobufCBinaryData *b, uint8_t **ret, size_t *ret_len)
{
	*ret = malloc(b->len ? b->len : 1);
	if (!*ret)
		return -ENOMEM;
	if (b->len)	/* protobuf-c gives no buffer for empty bytes */
		memcpy(*ret, b->data, b->len);
	*ret_len = b->len;
	return 0;
}

static int check_stream(const Md__TcpStream *s)
{
	bool win = s->has_snd_wl1 && s->has_snd_wnd && s->has_max_window && s->has_rcv_wnd && s->has_rcv_wup;

	if (!s->ino)
		return img_invalid(TCP_NAME, "a connection of no socket");
	if (s->unsent > s->send_queue.len)
		return img_invalid(TCP_NAME, "socket %llu: %u bytes not sent of a send queue of %zu",
				   (unsigned long long)s->ino, s->unsent, s->send_queue.len);
	if (s->send_queue.len > INT32_MAX || s->recv_queue.len > INT32_MAX)
		return img_invalid(TCP_NAME, "socket %llu: a queue of more than 2 GiB", (unsigned long long)s->ino);
	if (s->options & ~(uint32_t)TCP_OPTS_ALL)
		return img_invalid(TCP_NAME, "socket %llu: unknown options %#x", (unsigned long long)s->ino,
				   s->options);
	if ((s->options & TCPI_OPT_WSCALE) && (!s->has_snd_wscale || !s->has_rcv_wscale ||
					       s->snd_wscale > TCP_MAX_WSCALE || s->rcv_wscale > TCP_MAX_WSCALE))
		return img_invalid(TCP_NAME, "socket %llu: bad window scaling", (unsigned long long)s->ino);
	if ((s->options & TCPI_OPT_TIMESTAMPS) && !s->has_timestamp)
		return img_invalid(TCP_NAME, "socket %llu: timestamps without a timestamp", (unsigned long long)s->ino);
	if (!win && (s->has_snd_wl1 || s->has_snd_wnd || s->has_max_window || s->has_rcv_wnd || s->has_rcv_wup))
		return img_invalid(TCP_NAME, "socket %llu: part of a window", (unsigned long long)s->ino);
	if (!s->mss || s->mss > 65535)
		return img_invalid(TCP_NAME, "socket %llu: mss %u", (unsigned long long)s->ino, s->mss);
	return 0;
}

int image_read_tcp(int dirfd, struct md_tcp_stream **ret, size_t *ret_n, char **ret_lock)
{
	_cleanup_msg_ ProtobufCMessage *raw = NULL;
	struct md_tcp_stream *t;
	Md__TcpStreamsImage *m;
	int r;

	*ret = NULL;
	*ret_n = 0;
	*ret_lock = NULL;
	r = img_read_msg_opt(dirfd, TCP_NAME, MD_IMG_TCP, &raw);
	if (r <= 0)
		return r;
	m = (Md__TcpStreamsImage *)raw;
	for (size_t i = 0; i < m->n_streams; i++) {
		r = check_stream(m->streams[i]);
		if (r < 0)
			return r;
		for (size_t j = 0; j < i; j++)
			if (m->streams[j]->ino == m->streams[i]->ino)
				return img_invalid(TCP_NAME, "socket %llu is there twice",
						   (unsigned long long)m->streams[i]->ino);
	}
	if (m->net_lock && !md_net_lock_name_valid(m->net_lock))
		return img_invalid(TCP_NAME, "bad network lock name '%s'", m->net_lock);
	t = calloc(m->n_streams ? m->n_streams : 1, sizeof(*t));
	if (!t)
		return log_err(-ENOMEM, "cannot read image '%s'", TCP_NAME);
	for (size_t i = 0; i < m->n_streams; i++) {
		const Md__TcpStream *s = m->streams[i];

		t[i] = (struct md_tcp_stream){
			.ino = s->ino, .send_seq = s->send_seq, .recv_seq = s->recv_seq, .unsent = s->unsent,
			.mss = s->mss, .options = s->options, .snd_wscale = s->snd_wscale,
			.rcv_wscale = s->rcv_wscale, .timestamp = s->timestamp, .has_window = s->has_snd_wl1,
			.snd_wl1 = s->snd_wl1, .snd_wnd = s->snd_wnd, .max_window = s->max_window,
			.rcv_wnd = s->rcv_wnd, .rcv_wup = s->rcv_wup, .nodelay = s->nodelay, .keepalive = s->keepalive,
		};
		if (copy_bytes(&s->send_queue, &t[i].sendq, &t[i].sendq_len) < 0 ||
		    copy_bytes(&s->recv_queue, &t[i].recvq, &t[i].recvq_len) < 0) {
			for (size_t j = 0; j <= i; j++)
				md_tcp_stream_release(&t[j]);
			free(t);
			return log_err(-ENOMEM, "cannot read image '%s'", TCP_NAME);
		}
	}
	if (m->net_lock && !(*ret_lock = strdup(m->net_lock))) {
		for (size_t i = 0; i < m->n_streams; i++)
			md_tcp_stream_release(&t[i]);
		free(t);
		return log_err(-ENOMEM, "cannot read image '%s'", TCP_NAME);
	}
	*ret = t;
	*ret_n = m->n_streams;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

int image_check_tcp(const struct md_socks *socks, const struct md_proc *procs, size_t n, const struct md_tcp_stream *t,
		    size_t nt, char *err, size_t errlen)
{
	_cleanup_free_ uint64_t *inos = calloc(nt ? nt : 1, sizeof(*inos));

	if (!inos)
		return -ENOMEM;
	for (size_t i = 0; i < nt; i++) {
		const struct md_fd *f = md_socks_find(socks, t[i].ino, NULL);

		if (!f || !md_fd_tcp_conn(f)) {
			snprintf(err, errlen, "the TCP connection of socket %llu, which no fd holds as one",
				 (unsigned long long)t[i].ino);
			return -EINVAL;
		}
		inos[i] = t[i].ino;
	}
	qsort(inos, nt, sizeof(*inos), cmp_u64);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < procs[i].n_fds; k++) {
			const struct md_fd *f = &procs[i].fds[k];

			if (!md_fd_tcp_conn(f))
				continue;
			if (!nt || !bsearch(&f->sock.ino, inos, nt, sizeof(*inos), cmp_u64)) {
				snprintf(err, errlen, "fd %d of %d is a TCP connection without its state",
					 f->fd, procs[i].pid);
				return -EINVAL;
			}
		}
	return 0;
}
