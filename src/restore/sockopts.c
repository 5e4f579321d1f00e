/*
 * The options a socket of the image had set (memdump/sockopts.h), set on
 * the socket made for it in two steps: early, right after socket(), for
 * those that count only before bind(), listen() or connect()
 * (IP_FREEBIND, SO_BINDTODEVICE, TCP_FASTOPEN...); late, once its queues
 * are in, for the buffer sizes (the queues may need more meanwhile), the
 * lock on them, the peek offset and timestamping (a TCP socket takes
 * SOF_TIMESTAMPING_OPT_ID only connected). An option this kernel refuses
 * (TCP_CONGESTION of a module it lacks, SO_BINDTODEVICE of an interface
 * it has not got) fails the restore, naming it: the process relied on it.
 */
#include <errno.h>
#include <linux/filter.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "memdump/sockopts.h"
#include "restore/internal.h"

void restore_sock_buf(int fd, int force, int plain, uint32_t bytes)
{
	/* getsockopt() said twice what setsockopt() takes; FORCE passes net.core.*mem_max (CAP_NET_ADMIN) */
	int v = (int)(bytes / 2);

	if (!v)
		return;
	if (setsockopt(fd, SOL_SOCKET, force, &v, sizeof(v)) < 0)
		setsockopt(fd, SOL_SOCKET, plain, &v, sizeof(v));
}

static void describe(char *what, size_t len, const struct md_sockopt_def *d, const struct md_sockopts *o, size_t i)
{
	if (md_sockopt_is_name(d))
		snprintf(what, len, "set %s to '%s'", d->name, md_sockopt_str((struct md_sockopts *)o, d));
	else
		snprintf(what, len, "set %s to %lld", d->name, (long long)o->v[i]);
}

static int filter(int fd, const struct md_sockopts *o, char *what, size_t len)
{
	struct sock_fprog prog = { .len = (unsigned short)o->n_filter, .filter = (struct sock_filter *)o->filter };

	if (!o->n_filter)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0) {
		snprintf(what, len, "attach its filter (%u instructions)", o->n_filter);
		return -errno;
	}
	return 0;
}

int restore_sockopts(int fd, const struct md_sock *s, bool late, char *what, size_t len)
{
	const struct md_sockopts *o = s->opts;
	size_t lock = md_sockopt_find(SOL_SOCKET, SO_BUF_LOCK);
	int r;

	if (!late && o && (r = filter(fd, o, what, len)) < 0)
		return r;
	if (late) {
		restore_sock_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, s->sndbuf);
		restore_sock_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, s->rcvbuf);
		/*
		 * Setting a size fixes it (as may refilling the queues): the
		 * lock goes back to what it was, on kernels that have it.
		 */
		if (!md_sockopt_isset(o, lock) &&
		    (r = md_sockopt_put(fd, &md_sockopt_defs[lock], 0, NULL)) < 0 && r != -ENOPROTOOPT) {
			snprintf(what, len, "clear SO_BUF_LOCK");
			return r;
		}
		if (s->peek_off != -1 &&
		    setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &s->peek_off, sizeof(s->peek_off)) < 0) {
			snprintf(what, len, "set SO_PEEK_OFF to %d", s->peek_off);
			return -errno;
		}
	}
	for (size_t i = 0; o && i < md_n_sockopt_defs; i++) {
		const struct md_sockopt_def *d = &md_sockopt_defs[i];

		if (!md_sockopt_isset(o, i) || !(d->flags & MD_SOCKOPT_LATE) != !late)
			continue;
		r = md_sockopt_put(fd, d, o->v[i], md_sockopt_str((struct md_sockopts *)o, d));
		if (r < 0) {
			describe(what, len, d, o, i);
			return r;
		}
	}
	return 0;
}
