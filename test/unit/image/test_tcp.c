/*
 * tcp-stream.img: established TCP connections written and read back field
 * by field, malformed ones refused on reading, and image_check_tcp(): each
 * established TCP socket of the fds has exactly its state. The Socket of an
 * established connection's fd round-trips in files-PID.img.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "memdump/image.h"
#include "memdump/model.h"
#include "dirsuite.h"

TestSuite(image_tcp, .init = synth_dir_setup, .fini = synth_dir_teardown);

#define LOCK "memdump_4242_1795566885_240493135"

static uint8_t *bytes(size_t len, int seed)
{
	uint8_t *b = malloc(len ? len : 1);

	cr_assert_not_null(b);
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(i * 7 + (unsigned)seed);
	return b;
}

/* one with every option, a window and both queues; one with nothing queued and no options */
static void two_streams(struct md_tcp_stream t[2])
{
	t[0] = (struct md_tcp_stream){ .ino = 3001, .send_seq = 0xfffffff0u, .recv_seq = 12345, .unsent = 1000,
				       .mss = 1448, .options = TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE,
				       .snd_wscale = 7, .rcv_wscale = 14, .timestamp = 0xdeadbeef, .has_window = true,
				       .snd_wl1 = 1, .snd_wnd = 2, .max_window = 3, .rcv_wnd = 4, .rcv_wup = 5,
				       .nodelay = true, .keepalive = true };
	t[0].sendq = bytes(t[0].sendq_len = 70000, 's');
	t[0].recvq = bytes(t[0].recvq_len = 3000, 'r');
	t[1] = (struct md_tcp_stream){ .ino = 3002, .send_seq = 1, .recv_seq = 2, .mss = 536 };
	t[1].sendq = bytes(0, 0);
	t[1].recvq = bytes(0, 0);
}

static void assert_stream_eq(const struct md_tcp_stream *a, const struct md_tcp_stream *b)
{
	cr_assert_eq(a->ino, b->ino);
	cr_assert_eq(a->send_seq, b->send_seq);
	cr_assert_eq(a->recv_seq, b->recv_seq);
	cr_assert_eq(a->sendq_len, b->sendq_len);
	cr_assert_eq(memcmp(a->sendq, b->sendq, a->sendq_len), 0);
	cr_assert_eq(a->unsent, b->unsent);
	cr_assert_eq(a->recvq_len, b->recvq_len);
	cr_assert_eq(memcmp(a->recvq, b->recvq, a->recvq_len), 0);
	cr_assert_eq(a->mss, b->mss);
	cr_assert_eq(a->options, b->options);
	if (a->options & TCPI_OPT_WSCALE) {
		cr_assert_eq(a->snd_wscale, b->snd_wscale);
		cr_assert_eq(a->rcv_wscale, b->rcv_wscale);
	}
	if (a->options & TCPI_OPT_TIMESTAMPS)
		cr_assert_eq(a->timestamp, b->timestamp);
	cr_assert_eq(a->has_window, b->has_window);
	if (a->has_window) {
		cr_assert_eq(a->snd_wl1, b->snd_wl1);
		cr_assert_eq(a->snd_wnd, b->snd_wnd);
		cr_assert_eq(a->max_window, b->max_window);
		cr_assert_eq(a->rcv_wnd, b->rcv_wnd);
		cr_assert_eq(a->rcv_wup, b->rcv_wup);
	}
	cr_assert_eq(a->nodelay, b->nodelay);
	cr_assert_eq(a->keepalive, b->keepalive);
}

static void release(struct md_tcp_stream *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		md_tcp_stream_release(&t[i]);
}

Test(image_tcp, round_trip)
{
	struct md_tcp_stream in[2], *out;
	char *lock;
	size_t n;

	cr_assert_eq(image_read_tcp(dirfd, &out, &n, &lock), 0);
	cr_assert(n == 0 && lock == NULL, "no tcp-stream.img reads as no connections");
	free(out);
	two_streams(in);
	cr_assert_eq(image_write_tcp(dirfd, in, 2, LOCK), 0);
	cr_assert_eq(image_read_tcp(dirfd, &out, &n, &lock), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(lock, LOCK);
	for (size_t i = 0; i < n; i++)
		assert_stream_eq(&in[i], &out[i]);
	release(out, n);
	free(out);
	free(lock);
	release(in, 2);
}

/* stream 0 spoiled (or the lock's name): reading refuses the file */
static void assert_read_refuses(void (*spoil)(struct md_tcp_stream *), const char *lock)
{
	struct md_tcp_stream in[2], *out = NULL;
	char *got = NULL;
	size_t n;

	two_streams(in);
	if (spoil)
		spoil(in);
	cr_assert_eq(image_write_tcp(dirfd, in, 2, lock), 0);
	cr_assert_eq(image_read_tcp(dirfd, &out, &n, &got), -EINVAL);
	release(in, 2);
}

static void unsent_too_many(struct md_tcp_stream *t)
{
	t->unsent = (uint32_t)t->sendq_len + 1;
}
static void wscale_too_big(struct md_tcp_stream *t)
{
	t->rcv_wscale = 15;
}
static void unknown_option(struct md_tcp_stream *t)
{
	t->options |= 0x40;
}
static void no_mss(struct md_tcp_stream *t)
{
	t->mss = 0;
}
static void same_socket_twice(struct md_tcp_stream *t)
{
	t->ino = t[1].ino;
}
static void no_socket(struct md_tcp_stream *t)
{
	t->ino = 0;
}

Test(image_tcp, malformed_refused)
{
	assert_read_refuses(unsent_too_many, LOCK);
	assert_read_refuses(wscale_too_big, LOCK);
	assert_read_refuses(unknown_option, LOCK);
	assert_read_refuses(no_mss, LOCK);
	assert_read_refuses(same_socket_twice, LOCK);
	assert_read_refuses(no_socket, LOCK);
	assert_read_refuses(NULL, "memdump; flush ruleset");
	assert_read_refuses(NULL, "");
}

/* ---- the fds ---- */

static struct md_fd tcp_fd(int fd, uint64_t ino, int state)
{
	struct md_fd f = { .fd = fd, .kind = MD_FD_INET_SOCKET, .flags = O_RDWR, .dup_of = -1, .ofd = 100 + fd,
			   .mode = 0140777 };

	f.sock = (struct md_sock){ .ino = ino, .family = AF_INET, .type = SOCK_STREAM, .protocol = IPPROTO_TCP,
				   .state = state, .port = 40000, .peek_off = -1 };
	inet_pton(AF_INET, "10.0.0.1", f.sock.addr);
	if (md_tcp_state_conn(state)) {
		f.sock.peer_port = 443;
		inet_pton(AF_INET, "192.0.2.7", f.sock.peer_addr);
	}
	return f;
}

/* fds 3 and 4: established connections 3001 and 3002; fd 5 a listener; fd 6 shares 3001 */
static void tcp_proc(struct md_proc *p)
{
	memset(p, 0, sizeof(*p));
	p->pid = SYNTH_PID;
	p->umask = 022;
	p->fds = calloc(4, sizeof(*p->fds));
	cr_assert_not_null(p->fds);
	p->fds[0] = tcp_fd(3, 3001, TCP_ESTABLISHED);
	p->fds[1] = tcp_fd(4, 3002, TCP_ESTABLISHED);
	p->fds[2] = tcp_fd(5, 3003, TCP_LISTEN);
	p->fds[3] = tcp_fd(6, 3001, TCP_ESTABLISHED);
	p->fds[3].ofd = p->fds[0].ofd;
	p->n_fds = 4;
}

static char err[256];

static int check(const struct md_proc *p, const struct md_tcp_stream *t, size_t nt)
{
	struct md_socks socks;
	int r;

	err[0] = '\0';
	cr_assert_eq(md_socks_make(&socks, p, 1), 0);
	r = image_check_tcp(&socks, p, 1, t, nt, err, sizeof(err));
	md_socks_release(&socks);
	return r;
}

Test(image_tcp, established_fd_round_trip)
{
	struct md_proc in, out;

	tcp_proc(&in);
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	cr_assert_eq(out.n_fds, 4);
	cr_assert_eq(out.fds[0].sock.state, TCP_ESTABLISHED);
	cr_assert_eq(out.fds[0].sock.peer_port, 443);
	cr_assert_eq(memcmp(out.fds[0].sock.peer_addr, in.fds[0].sock.peer_addr, 4), 0);
	cr_assert_eq(memcmp(out.fds[0].sock.addr, in.fds[0].sock.addr, 4), 0);
	md_proc_release(&out);
	md_proc_release(&in);
}

/* every state of a connection closing half way comes back, and needs its stream as an established one */
Test(image_tcp, closing_fd_round_trip)
{
	static const int states[] = { TCP_FIN_WAIT1, TCP_FIN_WAIT2, TCP_CLOSE_WAIT, TCP_LAST_ACK, TCP_CLOSING };
	struct md_tcp_stream t[2];
	struct md_proc in, out;

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		tcp_proc(&in);
		in.fds[1] = tcp_fd(4, 3002, states[i]);
		cr_assert_eq(image_write_proc(dirfd, &in), 0);
		cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0, "state %d", states[i]);
		cr_assert_eq(out.fds[1].sock.state, states[i]);
		cr_assert_eq(out.fds[1].sock.peer_port, 443);
		cr_assert(md_fd_tcp_conn(&out.fds[1]));
		two_streams(t);
		cr_assert_eq(check(&out, t, 2), 0, "%s", err);
		cr_assert_eq(check(&out, t, 1), -EINVAL, "state %d", states[i]);
		release(t, 2);
		md_proc_release(&out);
		md_proc_release(&in);
	}
}

/* a connect() in progress: its peer, and no stream */
Test(image_tcp, connecting_fd_round_trip)
{
	struct md_proc in, out;
	tcp_proc(&in);
	in.fds[2] = tcp_fd(5, 3003, TCP_SYN_SENT);
	in.fds[2].sock.peer_port = 8443;
	inet_pton(AF_INET, "192.0.2.9", in.fds[2].sock.peer_addr);
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	cr_assert_eq(out.fds[2].sock.state, TCP_SYN_SENT);
	cr_assert_eq(out.fds[2].sock.peer_port, 8443);
	cr_assert_eq(memcmp(out.fds[2].sock.peer_addr, in.fds[2].sock.peer_addr, 4), 0);
	cr_assert(!md_fd_tcp_conn(&out.fds[2]));
	md_proc_release(&out);
	/* without its peer: refused */
	in.fds[2].sock.peer_port = 0;
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL);
	md_proc_release(&in);
}

Test(image_tcp, state_names)
{
	cr_assert_str_eq(md_tcp_state_name(TCP_CLOSE_WAIT), "CLOSE-WAIT");
	cr_assert_str_eq(md_tcp_state_name(TCP_FIN_WAIT2), "FIN-WAIT-2");
	cr_assert_str_eq(md_tcp_state_name(0), "state 0");
	cr_assert_str_eq(md_tcp_state_name(99), "state 99");
	cr_assert(md_tcp_state_fin_sent(TCP_LAST_ACK) && md_tcp_state_fin_received(TCP_LAST_ACK));
	cr_assert(md_tcp_state_fin_sent(TCP_CLOSING) && md_tcp_state_fin_received(TCP_CLOSING));
	cr_assert(!md_tcp_state_fin_sent(TCP_CLOSE_WAIT) && !md_tcp_state_fin_received(TCP_FIN_WAIT1));
	cr_assert(!md_tcp_state_conn(TCP_SYN_SENT) && !md_tcp_state_conn(TCP_TIME_WAIT) &&
		  !md_tcp_state_conn(TCP_LISTEN) && !md_tcp_state_conn(TCP_CLOSE));
}


Test(image_tcp, check)
{
	struct md_tcp_stream t[2];
	struct md_proc p;

	tcp_proc(&p);
	two_streams(t);
	cr_assert_eq(check(&p, t, 2), 0, "%s", err);
	/* a connection without its state */
	cr_assert_eq(check(&p, t, 1), -EINVAL);
	cr_assert_not_null(strstr(err, "fd 4 of 4242 is a TCP connection without its state"), "%s", err);
	/* a state for the listener */
	t[1].ino = 3003;
	cr_assert_eq(check(&p, t, 2), -EINVAL);
	cr_assert_not_null(strstr(err, "socket 3003, which no fd holds as one"), "%s", err);
	/* or for no socket at all */
	t[1].ino = 9999;
	cr_assert_eq(check(&p, t, 2), -EINVAL);
	/* and none for any: no tcp-stream.img where the fds hold connections */
	cr_assert_eq(check(&p, NULL, 0), -EINVAL);
	release(t, 2);
	md_proc_release(&p);
}
