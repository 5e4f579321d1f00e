/*
 * TCP connections (dump --tcp-established), established or closing half
 * way (read_stream()), read with TCP repair as CRIU does: the network lock
 * first drops their packets both ways (memdump/netlock.h), then each
 * socket goes into repair mode through a pidfd_getfd() copy, gives its
 * sequence numbers, options, window and both queues (peeked: nothing is
 * taken), and comes out of it again at once: the lock and the freeze keep
 * it as it was. Right before the tree is killed each goes back into repair
 * mode, in which a socket closes without a FIN or a reset: the connection
 * waits, locked, for the restore. A dump that fails or leaves the tree
 * running takes the lock away before the tree runs again, and sends each
 * connection's window probe (in and out of repair mode, SO_REUSEADDR
 * back, which leaving repair clears).
 *
 * Should memdump end half way without a word (SIGKILL, a crash), the
 * kernel lets the tree go on at once, its connections locked for ever: a
 * guard process, forked before the lock with copies of the sockets, sees
 * memdump's socket close without a word and takes the lock away (and any
 * socket out of repair mode: one being read, or all once the kill began,
 * if a holder lives on). Told, it ends doing nothing: once the tree is
 * killed (the connections are the image's), or thawed after memdump undid
 * all itself.
 */
#include "memdump/dump.h"
#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "memdump/netlock.h"
#include "memdump/proc.h"
#include "memdump/sigs.h"
#include "memdump/sockdiag.h"
#include "dump/internal.h"
#include "compat/tcp.h"

#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define TCP_OPTS_KEPT (TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE)

/*
 * One queue, peeked whole in repair mode: its sequence number and its len
 * bytes. The send queue's first buffer may start before what the peer
 * acknowledged (the kernel trims only what it frees): the peek then gives
 * more, and the last len bytes are the queue. A peek offset the process set
 * (SO_PEEK_OFF) would move ours and be moved by it: off meanwhile.
 */
static int peek_queue(int sk, int queue, size_t len, uint32_t *seq, uint8_t **ret)
{
	size_t cap = len + (queue == TCP_SEND_QUEUE ? 65536 : 1);
	int v, r, peek_off = -1, none = -1;
	uint8_t *buf = NULL;
	ssize_t n = 0;

	if (setsockopt(sk, SOL_TCP, TCP_REPAIR_QUEUE, &queue, sizeof(queue)) < 0)
		return -errno;
	if ((r = dump_sock_int(sk, SOL_TCP, TCP_QUEUE_SEQ, &v)) < 0)
		return r;
	*seq = (uint32_t)v;
	/* kernels before 6.10 have no peek offset for TCP (EOPNOTSUPP) */
	if (dump_sock_int(sk, SOL_SOCKET, SO_PEEK_OFF, &peek_off) < 0)
		peek_off = -1;
	if (peek_off >= 0 && setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &none, sizeof(none)) < 0)
		return -errno;
	for (;;) {
		uint8_t *nb = realloc(buf, cap);

		r = -ENOMEM;
		if (!nb)
			break;
		buf = nb;
		n = len ? recv(sk, buf, cap, MSG_PEEK | MSG_DONTWAIT) : 0;
		r = n < 0 ? -errno : (size_t)n < len ? -EIO : 0;
		/* a full buffer may have been cut short: once more, larger */
		if (r < 0 || (size_t)n < cap || cap >= len + (64 << 20))
			break;
		cap *= 2;
	}
	if (peek_off >= 0 && setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &peek_off, sizeof(peek_off)) < 0 && r >= 0)
		r = -errno;
	/* a send queue's peek says how much there was even where it copied less */
	if (r >= 0 && ((size_t)n > cap || ((size_t)n > len && queue != TCP_SEND_QUEUE)))
		r = -EIO;
	if (r < 0) {
		free(buf);
		return r;
	}
	if ((size_t)n > len)
		memmove(buf, buf + ((size_t)n - len), len);
	*ret = buf;
	return 0;
}

/*
 * The connection's queues and sequence numbers as an established one's:
 * restore makes it established and closes it again (restore/tcp.c). Its
 * own FIN, sent or queued after the data, counts in SIOCOUTQ while not
 * acknowledged and in SIOCOUTQNSD while not sent; the peer's, in the
 * receive queue's sequence number. state: what sock_diag said.
 */
static int read_stream(int sk, int state, struct md_tcp_stream *t)
{
	struct tcp_repair_window w;
	struct tcp_info ti;
	socklen_t len;
	int inq, outq, unsent, v, r, none = TCP_NO_QUEUE;
	/* our FIN waits for its acknowledgement in the send queue */
	int fin_queued = state == TCP_FIN_WAIT1 || state == TCP_CLOSING || state == TCP_LAST_ACK;

	len = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(sk, SOL_TCP, TCP_INFO, &ti, &len) < 0)
		return -errno;
	/* a FIN may have come in, or been acknowledged, before the lock */
	if (ti.tcpi_state != state)
		return -ENOTCONN;
	if (ioctl(sk, SIOCINQ, &inq) < 0 || ioctl(sk, SIOCOUTQ, &outq) < 0 || ioctl(sk, SIOCOUTQNSD, &unsent) < 0)
		return -errno;
	if (inq < 0 || outq < fin_queued || unsent < 0 || unsent > outq)
		return -EIO;
	/* with nothing else not sent yet, the FIN went out; else it waits behind the bytes */
	outq -= fin_queued;
	if (fin_queued && unsent)
		unsent--;
	t->unsent = (uint32_t)unsent;
	if ((r = dump_sock_int(sk, SOL_TCP, TCP_MAXSEG, &v)) < 0)
		return r;
	t->mss = (uint32_t)v;
	t->options = ti.tcpi_options & TCP_OPTS_KEPT;
	t->snd_wscale = ti.tcpi_snd_wscale;
	t->rcv_wscale = ti.tcpi_rcv_wscale;
	if (t->options & TCPI_OPT_TIMESTAMPS) {
		if ((r = dump_sock_int(sk, SOL_TCP, TCP_TIMESTAMP, &v)) < 0)
			return r;
		t->timestamp = (uint32_t)v;
	}
	len = sizeof(w);
	if (getsockopt(sk, SOL_TCP, TCP_REPAIR_WINDOW, &w, &len) == 0 && len == sizeof(w)) {
		t->has_window = true;
		t->snd_wl1 = w.snd_wl1;
		t->snd_wnd = w.snd_wnd;
		t->max_window = w.max_window;
		t->rcv_wnd = w.rcv_wnd;
		t->rcv_wup = w.rcv_wup;
	}
	if ((r = dump_sock_int(sk, SOL_TCP, TCP_NODELAY, &v)) < 0)
		return r;
	t->nodelay = v;
	if ((r = dump_sock_int(sk, SOL_SOCKET, SO_KEEPALIVE, &v)) < 0)
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
	/* the sequence numbers past the data: a FIN takes one of its own */
	t->recv_seq -= md_tcp_state_fin_received(state);
	t->send_seq -= md_tcp_state_fin_sent(state);
	/*
	 * Window marks past the peer's FIN (the last window it advertised, the
	 * segment that last updated ours) at the FIN: repair refuses rcv_wup
	 * past rcv_nxt, and snd_wl1 past rcv_nxt + rcv_wnd, with a closed window.
	 */
	if (t->has_window && (int32_t)(t->rcv_wup - t->recv_seq) > 0)
		t->rcv_wup = t->recv_seq;
	if (t->has_window && (int32_t)(t->snd_wl1 - t->recv_seq) > 0)
		t->snd_wl1 = t->recv_seq;
	/* what a recv() of the process's would see, were repair left on by mistake */
	setsockopt(sk, SOL_TCP, TCP_REPAIR_QUEUE, &none, sizeof(none));
	return 0;
}

/*
 * Socket i of t into repair mode (TCP_REPAIR_ON) or out of it (TCP_REPAIR_OFF,
 * with a window probe, or TCP_REPAIR_OFF_NO_WP), with the SO_REUSEADDR that
 * leaving it clears: 0, or -errno (logged)
 */
static int repair_set(const struct dump_tcp *t, size_t i, int how)
{
	int one = 1;

	if (setsockopt(t->fds[i], SOL_TCP, TCP_REPAIR, &how, sizeof(how)) < 0 ||
	    (how != TCP_REPAIR_ON && t->files[i]->sock.reuseaddr &&
	     setsockopt(t->fds[i], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0))
		return log_err(-errno, "cannot put fd %d of %d, a TCP connection, %s repair mode", t->files[i]->fd,
			       t->pids[i], how == TCP_REPAIR_ON ? "into" : "out of");
	return 0;
}

/* the guard's words: the kill begins (the sockets are in repair mode again); all is settled */
#define GUARD_KILLING 'K'
#define GUARD_SETTLED 'k'

/* a process that held a connection still lives (not gone, no zombie) after up to 2 s */
static bool holder_lives(const struct dump_tcp *t)
{
	for (int tries = 0; tries < 200; tries++) {
		bool lives = false;

		for (size_t i = 0; i < t->n && !lives; i++) {
			struct proc_stat st;

			lives = proc_read_stat(t->pids[i], 0, &st) == 0 && st.state != 'Z' && st.state != 'X';
		}
		if (!lives)
			return false;
		usleep(10000);
	}
	return true;
}

/* what memdump left half done: each socket out of repair mode (no window probe: the lock is on), the lock away */
static void __attribute__((noreturn)) guard_undo(const struct dump_tcp *t)
{
	size_t out = 0;
	int r;

	for (size_t i = 0; i < t->n; i++) {
		int on = 0;
		socklen_t len = sizeof(on);

		if (getsockopt(t->fds[i], SOL_TCP, TCP_REPAIR, &on, &len) == 0 && on &&
		    repair_set(t, i, TCP_REPAIR_OFF_NO_WP) == 0)
			out++;
	}
	r = netlock_remove(t->lock);
	if (r < 0)
		log_err(r, "memdump ended half way, and its guard could not take the network lock away: remove it "
			"with `nft delete table inet %s`", t->lock);
	else
		log_warn("memdump ended half way: its guard took the network lock away%s", out ?
			 " and the tree's TCP connections out of repair mode" : "");
	_exit(r < 0);
}

/* the guard's own end of the socket pair (first) and the sockets' copies */
struct guard_fds {
	const struct dump_tcp *t;
	int own;
};

/* of memdump's fds, the guard keeps stdio, its own end and the sockets' copies: nothing else of the tree's */
static bool guard_keeps(int fd, void *arg)
{
	const struct guard_fds *g = arg;

	for (size_t i = 0; i < g->t->n; i++)
		if (fd == g->t->fds[i])
			return true;
	return fd == g->own;
}

/*
 * The guard: a child with memdump's copies of the sockets, in the tree's
 * network namespace (memdump's thread is there), in a session of its own
 * (a kill of memdump's process group, as timeout(1) sends, is not for it),
 * ignoring the signals that stop memdump, waiting for memdump's words
 * until its end of the socket pair closes.
 */
static void __attribute__((noreturn)) guard_main(const struct dump_tcp *t, int sk)
{
	static const int ignored[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE };
	char word = 0, c;
	ssize_t n;

	proc_close_fds(guard_keeps, &(struct guard_fds){ t, sk });
	setsid();
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		signal(ignored[i], SIG_IGN);
	prctl(PR_SET_NAME, "memdump-guard");
	while ((n = read(sk, &c, 1)) != 0)
		if (n == 1)
			word = c;
		else if (errno != EINTR)
			break;
	if (word == GUARD_SETTLED || (word == GUARD_KILLING && !holder_lives(t)))
		_exit(0);
	guard_undo(t);
}

static int guard_start(struct dump_tcp *t)
{
	int sk[2], e;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sk) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(sk[1]);
		guard_main(t, sk[0]);
	}
	e = errno;
	close(sk[0]);
	if (pid < 0) {
		close(sk[1]);
		return -e;
	}
	t->guard = pid;
	t->guard_fd = sk[1];
	log_debug("guard of the TCP connections: %d", pid);
	return 0;
}

static void guard_tell(const struct dump_tcp *t, char word)
{
	if (t->guard > 0 && send(t->guard_fd, &word, 1, MSG_NOSIGNAL) != 1)
		log_warn("cannot tell the guard of the TCP connections: %s", strerror(errno));
}

void dump_tcp_unguard(struct dump_tcp *t)
{
	int status;

	if (t->guard <= 0)
		return;
	/* not settled: the guard undoes what memdump could not */
	if (t->settled)
		guard_tell(t, GUARD_SETTLED);
	close(t->guard_fd);
	/* with SIGCHLD ignored (inherited so), ECHILD once it has ended */
	while (waitpid(t->guard, &status, 0) < 0 && errno == EINTR)
		;
	t->guard = 0;
	t->guard_fd = -1;
}

/*
 * What TCP repair cannot carry: a ULP (kTLS: the keys are the kernel's) or
 * TCP-AO keys would come back as plain TCP, which the peer drops. -ENOTSUP
 * (logged) for those; TCP-MD5 keys only sock_diag shows (recheck()).
 */
static int check_extras(int sk, int fd, pid_t pid)
{
	char ulp[32] = "";
	uint8_t ao[64] = { 0 };
	socklen_t len = sizeof(ulp) - 1;

	if (getsockopt(sk, SOL_TCP, TCP_ULP, ulp, &len) == 0 && ulp[0])
		return log_refuse("fd %d of %d is a TCP connection with upper layer '%s' (kTLS...): not "
				  "supported", fd, pid, ulp);
	len = sizeof(ao);
	if (getsockopt(sk, SOL_TCP, TCP_AO_INFO, ao, &len) == 0)
		return log_refuse("fd %d of %d is a TCP connection signed with TCP-AO: not supported", fd, pid);
	return 0;
}

/* the index of the connection of t that link names, or -1 */
static int stream_of(const struct dump_tcp *t, const char *link)
{
	unsigned long long ino;

	if (sscanf(link, "socket:[%llu]", &ino) != 1)
		return -1;
	for (size_t i = 0; i < t->n; i++)
		if (t->streams[i].ino == ino)
			return (int)i;
	return -1;
}

static int refuse_outside(pid_t pid, int fd, const char *link, void *arg)
{
	const struct dump_tcp *t = arg;
	int i = stream_of(t, link);

	(void)fd;
	if (i < 0)
		return 0;
	return log_refuse("fd %d of %d is a TCP connection also held outside the dumped tree (by %d): not supported "
			  "(dump the tree that holds it)", t->files[i]->fd, t->pids[i], pid);
}

/*
 * A connection held by a process outside the tree too would be left to it
 * in repair mode (and locked) once the tree is killed: refused, as pipes
 * are.
 */
static int check_outside(const struct md_proc *procs, size_t n, const struct dump_tcp *t)
{
	int r = dump_walk_outside_fds(procs, n, refuse_outside, (void *)t);

	if (r < 0 && r != -ENOTSUP)
		return log_err(r, "cannot look for holders of the tree's TCP connections outside it");
	return r;
}

/*
 * Once all is read, sock_diag again: each connection still established,
 * with as many bytes unread as the receive queue we peeked. It counts to
 * the last byte received where SIOCINQ (and the peek) stop at urgent data
 * not read yet, or before a FIN.
 */
static int recheck(const struct dump_tcp *t)
{
	struct sockdiag d = { 0 };
	int r = sockdiag_collect(false, true, &d);

	if (r < 0)
		return log_err(r, "cannot ask the kernel about the TCP connections again (sock_diag)");
	for (size_t i = 0; i < t->n && r >= 0; i++) {
		const struct sd_inet *e = sockdiag_find_inet(&d, t->streams[i].ino);

		int state = t->files[i]->sock.state;
		bool fin_in = md_tcp_state_fin_received(state);

		if (e && e->md5)
			r = log_refuse("fd %d of %d is a TCP connection signed with TCP-MD5: not supported",
				       t->files[i]->fd, t->pids[i]);
		/* (the peer's FIN shut it down for reading too) */
		else if (e && (e->shutdown & 1) && !fin_in)
			r = log_refuse("fd %d of %d is a TCP connection shut down for reading: not supported",
				       t->files[i]->fd, t->pids[i]);
		else if (!e || e->state != state)
			r = log_refuse("fd %d of %d: its TCP connection went from state %s to %s while the dump read "
				       "it (try again)", t->files[i]->fd, t->pids[i], md_tcp_state_name(state),
				       e ? md_tcp_state_name(e->state) : "gone");
		/* sock_diag counts the peer's FIN until the process reads the end of the stream */
		else if (e->rqueue != t->streams[i].recvq_len && !(fin_in && e->rqueue == t->streams[i].recvq_len + 1))
			r = log_refuse("fd %d of %d is a TCP connection with urgent data (MSG_OOB) not read yet: "
				       "not supported (%u bytes received, %zu before the mark)", t->files[i]->fd,
				       t->pids[i], e->rqueue, t->streams[i].recvq_len);
	}
	sockdiag_release(&d);
	return r;
}

int dump_tcp(const struct md_socks *socks, const struct md_proc *procs, size_t n, pid_t root, uint64_t now_ns,
	     struct dump_tcp *t)
{
	_cleanup_free_ struct md_net_conn *conns = NULL;
	size_t max = 0;
	int r, r2;

	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < procs[i].n_fds; k++)
			max += md_fd_tcp_conn(&procs[i].fds[k]);
	if (!max)
		return 0;
	t->streams = calloc(max, sizeof(*t->streams));
	t->files = calloc(max, sizeof(*t->files));
	t->pids = calloc(max, sizeof(*t->pids));
	t->fds = malloc(max * sizeof(*t->fds));
	conns = calloc(max, sizeof(*conns));
	if (!t->streams || !t->files || !t->pids || !t->fds || !conns)
		return -ENOMEM;
	/* each socket once: its first fd in the walk's order */
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < procs[i].n_fds; k++) {
			const struct md_fd *f = &procs[i].fds[k];

			if (!md_fd_tcp_conn(f) || md_socks_find(socks, f->sock.ino, NULL) != f)
				continue;
			t->fds[t->n] = dump_copy_fd(procs[i].pid, f->fd);
			if (t->fds[t->n] < 0)
				return log_err(t->fds[t->n], "cannot get a copy of fd %d of %d", f->fd, procs[i].pid);
			t->files[t->n] = f;
			t->pids[t->n] = procs[i].pid;
			t->streams[t->n].ino = f->sock.ino;
			netlock_conn(&conns[t->n], &f->sock);
			t->n++;
			r = check_extras(t->fds[t->n - 1], f->fd, procs[i].pid);
			if (r < 0)
				return r;
		}
	r = check_outside(procs, n, t);
	if (r < 0)
		return r;
	/*
	 * From the lock on, memdump ending half way would leave the tree
	 * running with sockets in repair mode and no packets: the signals that
	 * would end it wait until dump_tcp_release(), after all is undone.
	 */
	t->masked = md_hold_signals(&t->oldmask) == 0;
	netlock_name(t->lock, sizeof(t->lock), root, now_ns);
	r = guard_start(t);
	if (r < 0)
		return log_err(r, "cannot start the guard of the TCP connections");
	/* before: a lock made but reported failed must still go (removing a missing one is no error) */
	t->locked = true;
	r = netlock_add(t->lock, conns, t->n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < t->n; i++) {
		int on = TCP_REPAIR_ON;
		const struct md_fd *f = t->files[i];

		if (setsockopt(t->fds[i], SOL_TCP, TCP_REPAIR, &on, sizeof(on)) < 0)
			return log_err(-errno, "cannot put fd %d of %d, a TCP connection, into repair mode (it "
				       "needs CAP_NET_ADMIN)", f->fd, t->pids[i]);
		t->n_read = i + 1;
		r = read_stream(t->fds[i], f->sock.state, &t->streams[i]);
		/* out at once, without a window probe (the lock is on): a guard has less to undo */
		r2 = repair_set(t, i, TCP_REPAIR_OFF_NO_WP);
		if (r == -ENOTCONN)
			return log_refuse("fd %d of %d: its TCP connection left state %s while the dump took it "
					  "(try again)", f->fd, t->pids[i], md_tcp_state_name(f->sock.state));
		if (r < 0)
			return log_err(r, "cannot read fd %d of %d, a TCP connection, in repair mode", f->fd,
				       t->pids[i]);
		if (r2 < 0)
			return r2;
		log_debug("fd %d of %d: TCP %s: %zu bytes to send (%u not sent yet), %zu received, mss %u, "
			  "options %#x", f->fd, t->pids[i], md_tcp_state_name(f->sock.state), t->streams[i].sendq_len,
			  t->streams[i].unsent, t->streams[i].recvq_len, t->streams[i].mss, t->streams[i].options);
	}
	return recheck(t);
}

int dump_tcp_finish(struct dump_tcp *t, bool tree_gone)
{
	int r = 0, r2;

	t->settled = false;
	if (tree_gone) {
		/* closed by the kill in repair mode: silently, under the lock */
		for (size_t i = 0; i < t->n && r >= 0; i++)
			r = repair_set(t, i, TCP_REPAIR_ON);
		if (r < 0)
			return r;
		guard_tell(t, GUARD_KILLING);
		t->settled = true;
		return 0;
	}
	/* first: the window probe leaving repair mode sends must get through */
	if (t->locked) {
		r = netlock_remove(t->lock);
		t->locked = false;
	}
	for (size_t i = 0; i < t->n_read; i++) {
		r2 = repair_set(t, i, TCP_REPAIR_ON);
		if (r2 >= 0)
			r2 = repair_set(t, i, TCP_REPAIR_OFF);
		r = r < 0 ? r : r2;
	}
	t->n_read = 0;
	t->settled = r >= 0;
	return r;
}

void dump_tcp_release(struct dump_tcp *t)
{
	dump_tcp_unguard(t);
	for (size_t i = 0; t->fds && i < t->n; i++)
		if (t->fds[i] >= 0)
			close(t->fds[i]);
	for (size_t i = 0; t->streams && i < t->n; i++)
		md_tcp_stream_release(&t->streams[i]);
	free(t->streams);
	free(t->files);
	free(t->pids);
	free(t->fds);
	if (t->masked)
		sigprocmask(SIG_SETMASK, &t->oldmask, NULL);
	memset(t, 0, sizeof(*t));
}
