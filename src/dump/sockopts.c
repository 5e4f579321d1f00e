/*
 * The options of the tree's sockets (see memdump/sockopts.h): each read
 * through a pidfd_getfd() copy and kept where it differs from a new
 * socket's of the same kind, made here in the same network namespace
 * (dump_sockets() checked it) and so with the same sysctls. An option the
 * process left alone is not kept, and follows the defaults of the host
 * that restores it. Buffer sizes count only where the process fixed them
 * (SO_BUF_LOCK): the kernel grows them itself otherwise. A classic BPF
 * filter is kept; an eBPF one cannot be read back and is refused. A UDP
 * socket's multicast memberships are kept too (mcast.c).
 */
#include <errno.h>
#include <linux/net_tstamp.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dump/internal.h"
#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "memdump/sockopts.h"

#define SOCK_SNDBUF_LOCK 1	/* SO_BUF_LOCK bits */
#define SOCK_RCVBUF_LOCK 2
#define MD_SOF_OPT_ID_TCP (1 << 16)	/* 6.10: SOF_TIMESTAMPING_OPT_ID_TCP */

/* what each option reads as on a new socket: v.set marks those this kernel has */
struct dump_sockopt_ref {
	int family, type, protocol;
	struct md_sockopts v;
};

static bool unsupported(int r)
{
	return r == -ENOPROTOOPT || r == -EOPNOTSUPP || r == -EINVAL || r == -ENOTSUP;
}

static int fill_ref(struct dump_sockopt_ref *ref, const struct md_sock *s)
{
	_cleanup_close_ int fd = socket(s->family, s->type | SOCK_CLOEXEC, s->protocol);

	if (fd < 0)
		return log_err(-errno, "cannot make a socket of family %d, type %d to compare options with",
			       s->family, s->type);
	memset(ref, 0, sizeof(*ref));
	ref->family = s->family;
	ref->type = s->type;
	ref->protocol = s->protocol;
	for (size_t i = 0; i < md_n_sockopt_defs; i++) {
		const struct md_sockopt_def *d = &md_sockopt_defs[i];

		if (!(d->socks & md_sockopt_sock(s)) ||
		    md_sockopt_get(fd, d, &ref->v.v[i], md_sockopt_str(&ref->v, d)) < 0)
			continue;
		md_sockopt_mark(&ref->v, i);
	}
	return 0;
}

static const struct dump_sockopt_ref *ref_for(struct dump_sockopt_refs *refs, const struct md_sock *s)
{
	struct dump_sockopt_ref *ref, **grown;

	for (size_t i = 0; i < refs->n; i++)
		if (refs->r[i]->family == s->family && refs->r[i]->type == s->type &&
		    refs->r[i]->protocol == s->protocol)
			return refs->r[i];
	grown = realloc(refs->r, (refs->n + 1) * sizeof(*refs->r));
	if (!grown)
		return NULL;
	refs->r = grown;
	ref = malloc(sizeof(*ref));
	if (!ref || fill_ref(ref, s) < 0) {
		free(ref);
		return NULL;
	}
	refs->r[refs->n++] = ref;
	return ref;
}

void dump_sockopt_refs_release(struct dump_sockopt_refs *refs)
{
	for (size_t i = 0; i < refs->n; i++)
		free(refs->r[i]);
	free(refs->r);
	refs->r = NULL;
	refs->n = 0;
	free(refs->groups);
	refs->groups = NULL;
	refs->n_groups = 0;
	refs->groups_read = false;
}

/* a classic BPF filter into (*o)->filter, grown for it; an eBPF one refused */
static int read_filter(int sk, pid_t pid, int fd, struct md_sockopts **o)
{
	socklen_t n = 0;
	struct md_sockopts *grown;

	/* the number of instructions (0: no filter) */
	if (getsockopt(sk, SOL_SOCKET, SO_GET_FILTER, NULL, &n) < 0) {
		if (errno == EACCES)
			return log_refuse("fd %d of %d is a socket with an eBPF filter (SO_ATTACH_BPF): not "
					  "supported (the kernel cannot give its program back)", fd, pid);
		return log_err(-errno, "cannot read the filter of socket fd %d of %d", fd, pid);
	}
	if (!n)
		return 0;
	if (n > MD_SOCKOPT_FILTER_MAX)
		return log_err(-E2BIG, "socket fd %d of %d: a filter of %u instructions", fd, pid, n);
	grown = realloc(*o, md_sockopts_size(n, 0, 0));
	if (!grown)
		return -ENOMEM;
	*o = grown;
	if (getsockopt(sk, SOL_SOCKET, SO_GET_FILTER, grown->filter, &n) < 0)
		return log_err(-errno, "cannot read the filter of socket fd %d of %d", fd, pid);
	grown->n_filter = n;
	return 0;
}

/* the buffer sizes the process fixed: as getsockopt() says them */
static int read_bufs(int sk, const struct md_sockopts *o, struct md_sock *s)
{
	size_t lock = md_sockopt_find(SOL_SOCKET, SO_BUF_LOCK);
	int v, r = 0;

	if (s->family == AF_UNIX)
		return 0;	/* collect_unix() keeps them whatever the lock */
	if (!md_sockopt_isset(o, lock))
		return 0;
	if ((o->v[lock] & SOCK_SNDBUF_LOCK) && (r = dump_sock_int(sk, SOL_SOCKET, SO_SNDBUF, &v)) == 0)
		s->sndbuf = (uint32_t)v;
	if (r == 0 && (o->v[lock] & SOCK_RCVBUF_LOCK) && (r = dump_sock_int(sk, SOL_SOCKET, SO_RCVBUF, &v)) == 0)
		s->rcvbuf = (uint32_t)v;
	return r;
}

/*
 * What the options alone cannot bring back: a PHC bound to by index, a
 * corked datagram's bytes; and SOF_TIMESTAMPING_OPT_ID, which a TCP socket
 * takes only connected (its ids start again from the restore anyway).
 */
static int check_odd(int sk, pid_t pid, int fd, const struct md_sock *s, struct md_sockopts *o)
{
	size_t ts = md_sockopt_find(SOL_SOCKET, SO_TIMESTAMPING), cork = md_sockopt_find(IPPROTO_UDP, UDP_CORK);
	int pending = 0;

	if (md_sockopt_isset(o, ts) && (o->v[ts] & SOF_TIMESTAMPING_BIND_PHC))
		return log_refuse("fd %d of %d is a socket bound to a PTP hardware clock "
				  "(SOF_TIMESTAMPING_BIND_PHC): not supported", fd, pid);
	if (md_sockopt_isset(o, ts) && md_sockopt_sock(s) & (MD_SOCKOPT_TCP4 | MD_SOCKOPT_TCP6) &&
	    !md_tcp_state_conn(s->state))
		o->v[ts] &= ~(int64_t)(SOF_TIMESTAMPING_OPT_ID | MD_SOF_OPT_ID_TCP);
	if (md_sockopt_isset(o, cork) && o->v[cork] && ioctl(sk, SIOCOUTQ, &pending) == 0 && pending > 0)
		return log_refuse("fd %d of %d is a UDP socket holding a corked datagram (UDP_CORK, %d bytes): "
				  "not supported (uncork it first)", fd, pid, pending);
	return 0;
}

int dump_sockopts(struct dump_sockopt_refs *refs, pid_t pid, int fd, struct md_sock *s)
{
	_cleanup_close_ int sk = dump_copy_fd(pid, fd);
	const struct dump_sockopt_ref *ref;
	size_t prio = md_sockopt_find(SOL_SOCKET, SO_PRIORITY);
	struct md_sockopts *o;
	bool any = false;
	int r;

	if (sk < 0)
		return log_err(sk, "cannot get a copy of fd %d of %d", fd, pid);
	ref = ref_for(refs, s);
	if (!ref)
		return log_err(-ENOMEM, "cannot compare the options of socket fd %d of %d", fd, pid);
	o = calloc(1, md_sockopts_size(0, 0, 0));
	if (!o)
		return -ENOMEM;
	for (size_t i = 0; i < md_n_sockopt_defs; i++) {
		const struct md_sockopt_def *d = &md_sockopt_defs[i];
		char *str = md_sockopt_str(o, d);

		if (!md_sockopt_applies(d, s) || !md_sockopt_isset(&ref->v, i))
			continue;
		r = md_sockopt_get(sk, d, &o->v[i], str);
		if (r == -ENODEV && d->opt == SO_BINDTODEVICE) {
			free(o);
			return log_refuse("fd %d of %d is a socket bound to an interface that is gone "
					  "(SO_BINDTODEVICE): not supported", fd, pid);
		}
		if (r < 0 && unsupported(r))
			continue;
		if (r < 0) {
			free(o);
			return log_err(r, "cannot read %s of socket fd %d of %d", d->name, fd, pid);
		}
		if (o->v[i] == ref->v.v[i] &&
		    (!md_sockopt_is_name(d) || !strcmp(str, md_sockopt_str((struct md_sockopts *)&ref->v, d))))
			continue;
		md_sockopt_mark(o, i);
		any = true;
	}
	if ((r = check_odd(sk, pid, fd, s, o)) < 0) {
		free(o);
		return r;
	}
	/* IP_TOS sets the priority too (from the TOS): with it, the priority comes back as it was */
	if (md_sockopt_isset(o, md_sockopt_find(IPPROTO_IP, IP_TOS)) && !md_sockopt_isset(o, prio) &&
	    md_sockopt_applies(&md_sockopt_defs[prio], s))
		md_sockopt_mark(o, prio);
	if ((r = read_bufs(sk, o, s)) < 0)
		log_err(r, "cannot read the buffer sizes of socket fd %d of %d", fd, pid);
	if (r < 0 || (r = read_filter(sk, pid, fd, &o)) < 0 ||
	    (md_sock_is_udp(s) && (r = dump_mcast(refs, sk, pid, fd, s, &o)) < 0)) {
		free(o);
		return r;
	}
	if (!any && !o->n_filter && !o->n_mcast) {
		free(o);
		return 0;
	}
	s->opts = o;
	return 0;
}
