/*
 * TCP connections closing half way (FIN-WAIT-1/2, CLOSE-WAIT, LAST-ACK,
 * CLOSING): TCP repair makes only established ones, so restore/tcp.c makes
 * each established with its data, and once out of repair mode, before the
 * tree runs, it closes here as it was:
 * - the socket's own FIN is sent again with shutdown(SHUT_WR), at the
 *   sequence number it had (after the data not sent yet, if it was not
 *   sent either). The peer had it already, or gets it now, and
 *   acknowledges it: FIN-WAIT-2 comes back as FIN-WAIT-1 until then.
 * - the peer's FIN, which the socket had received, is given to it again as
 *   the peer sent it: a segment from the peer's address and port, carrying
 *   the FIN at its sequence number, written through a raw socket to the
 *   socket's own address (the loopback path takes it to the socket). Its
 *   acknowledgement, which reaches the peer, is one the peer had already.
 *   The segment carries no timestamp option: it leaves the socket's PAWS
 *   state to the peer's own segments.
 * CLOSE-WAIT and LAST-ACK take the FIN before their shutdown, CLOSING
 * after it. The raw sockets are opened before anything else is done, so
 * that a restore without CAP_NET_RAW fails while nothing is changed. Once
 * the lock is gone nothing fails: a peer that forgot the connection resets
 * it, as it would an established one, and a socket the segment would not
 * reach (its address not on this host, as with IP_TRANSPARENT, or on
 * another device than the one it is bound to, where this host's reset
 * would reach the peer) is shut down for reading instead of taking the
 * FIN, with a warning.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "memdump/log.h"
#include "memdump/sockopts.h"
#include "restore/internal.h"

#define SEG_FIN 0x01
#define SEG_ACK 0x10
#define IP4_HDR 20
#define IP6_HDR 40
#define TCP_HDR 20
#define FIN_WAIT_MS 200	/* for the socket to take the FIN (it does at once, when it does) */

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

/* the ones' complement sum of len bytes (len even), added to sum */
static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	return sum;
}

/* the checksum of what sum summed */
static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

size_t restore_tcp_segment(uint8_t *buf, size_t cap, const struct restore_segment *g)
{
	size_t hdr = g->family == AF_INET6 ? IP6_HDR : IP4_HDR;
	uint8_t pseudo[40] = { 0 };
	uint8_t *t = buf + hdr;

	if (cap < hdr + TCP_HDR)
		return 0;
	memset(buf, 0, hdr + TCP_HDR);
	if (g->family == AF_INET6) {
		buf[0] = 0x60;			/* version 6, no traffic class, no flow label */
		put16(buf + 4, TCP_HDR);	/* payload length */
		buf[6] = IPPROTO_TCP;
		buf[7] = 64;			/* hop limit */
		memcpy(buf + 8, g->src, 16);
		memcpy(buf + 24, g->dst, 16);
		memcpy(pseudo, g->src, 16);
		memcpy(pseudo + 16, g->dst, 16);
		put32(pseudo + 32, TCP_HDR);
		pseudo[39] = IPPROTO_TCP;
	} else {
		buf[0] = 0x45;			/* version 4, 5 words of header */
		put16(buf + 2, IP4_HDR + TCP_HDR);
		put16(buf + 6, 0x4000);		/* don't fragment */
		buf[8] = 64;			/* time to live */
		buf[9] = IPPROTO_TCP;
		memcpy(buf + 12, g->src, 4);
		memcpy(buf + 16, g->dst, 4);
		memcpy(pseudo, g->src, 4);
		memcpy(pseudo + 4, g->dst, 4);
		pseudo[9] = IPPROTO_TCP;
		put16(pseudo + 10, TCP_HDR);
	}
	put16(t, g->sport);
	put16(t + 2, g->dport);
	put32(t + 4, g->seq);
	put32(t + 8, g->ack);
	t[12] = (TCP_HDR / 4) << 4;
	t[13] = g->flags;
	put16(t + 14, g->window);
	put16(t + 16, fold(sum16(sum16(0, pseudo, g->family == AF_INET6 ? 40 : 12), t, TCP_HDR)));
	/* (the kernel fills it in anyway) */
	if (g->family == AF_INET)
		put16(buf + 10, fold(sum16(0, buf, IP4_HDR)));
	return hdr + TCP_HDR;
}

/* whether s's connection goes as IPv4 (an AF_INET socket, or AF_INET6 with v4-mapped addresses) */
static bool conn_v4(const struct md_sock *s)
{
	return s->family == AF_INET || !memcmp(s->peer_addr, v4mapped, sizeof(v4mapped));
}

int restore_tcp_close_prepare(struct restore_ctx *rc)
{
	int *raw;

	for (size_t i = 0; i < rc->n_tcp; i++) {
		const struct md_fd *f = restore_find_sock(rc, rc->tcp[i].ino, NULL);

		if (!f || !md_tcp_state_fin_received(f->sock.state))
			continue;
		raw = conn_v4(&f->sock) ? &rc->tcp_raw4 : &rc->tcp_raw6;
		if (*raw >= 0)
			continue;
		*raw = socket(conn_v4(&f->sock) ? AF_INET : AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
		if (*raw < 0)
			return log_err(-errno, "cannot open a raw socket to give TCP connection(s) back the FIN "
				       "their peer sent (it needs CAP_NET_RAW)");
	}
	return 0;
}

/* the socket's TCP state, or -errno */
static int tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, SOL_TCP, TCP_INFO, &ti, &len) < 0)
		return -errno;
	return ti.tcpi_state;
}

/*
 * Whether a segment to dst (the socket's own address, family AF_INET or
 * AF_INET6) reaches s: dst is an address of this host, on the device s is
 * bound to if it is (the kernel matches a bound socket against the device
 * that holds the address). Else it would leave the host, or draw a reset
 * from this host that reaches the peer.
 */
static bool segment_reaches(const struct md_sock *s, int family, const uint8_t *dst)
{
	size_t i = md_sockopt_find(SOL_SOCKET, SO_BINDTODEVICE);
	const char *dev = s->opts && md_sockopt_isset(s->opts, i) ? s->opts->dev : NULL;
	struct ifaddrs *ifa, *a;
	bool found = false;

	if (getifaddrs(&ifa) < 0)
		return false;
	for (a = ifa; a && !found; a = a->ifa_next) {
		if (!a->ifa_addr || a->ifa_addr->sa_family != family || (dev && strcmp(a->ifa_name, dev)))
			continue;
		if (family == AF_INET)
			found = !memcmp(&((struct sockaddr_in *)a->ifa_addr)->sin_addr, dst, 4);
		else
			found = !memcmp(&((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr, dst, 16);
	}
	freeifaddrs(ifa);
	return found;
}

/* the peer's FIN to fd, and the socket's word that it took it (out of ESTABLISHED or FIN-WAIT-1/2) */
static int give_fin(const struct restore_ctx *rc, int fd, const struct md_sock *s, const struct md_tcp_stream *t)
{
	struct restore_segment g = {
		.sport = s->peer_port, .dport = s->port, .seq = t->recv_seq,
		/* nothing new acknowledged: the segment only closes the peer's side */
		.ack = t->send_seq - (uint32_t)t->sendq_len, .flags = SEG_FIN | SEG_ACK,
	};
	struct timespec ms = { 0, 1000000 };
	struct sockaddr_storage ss;
	uint8_t pkt[IP6_HDR + TCP_HDR];
	uint32_t wnd = t->has_window ? t->snd_wnd : 65535;
	socklen_t sslen;
	size_t len;
	int raw, st;

	if (t->has_window && (t->options & TCPI_OPT_WSCALE))
		wnd >>= t->snd_wscale;
	g.window = wnd > 65535 ? 65535 : (uint16_t)wnd;
	if (conn_v4(s)) {
		size_t off = s->family == AF_INET6 ? 12 : 0;

		g.family = AF_INET;
		memcpy(g.src, s->peer_addr + off, 4);
		memcpy(g.dst, s->addr + off, 4);
		raw = rc->tcp_raw4;
	} else {
		g.family = AF_INET6;
		memcpy(g.src, s->peer_addr, 16);
		memcpy(g.dst, s->addr, 16);
		raw = rc->tcp_raw6;
	}
	if (!segment_reaches(s, g.family, g.dst))
		return -EHOSTUNREACH;
	sslen = md_inet_sockaddr(g.family, g.dst, 0, g.family == AF_INET6 ? s->scope_id : 0, &ss);
	len = restore_tcp_segment(pkt, sizeof(pkt), &g);
	if (sendto(raw, pkt, len, 0, (struct sockaddr *)&ss, sslen) < 0)
		return -errno;
	for (int i = 0; i < FIN_WAIT_MS; i++) {
		st = tcp_state(fd);
		if (st < 0 || (st != TCP_ESTABLISHED && st != TCP_FIN_WAIT1 && st != TCP_FIN_WAIT2))
			return st < 0 ? st : 0;
		nanosleep(&ms, NULL);
	}
	return -ETIMEDOUT;
}

/*
 * The peer's FIN, or where the socket would not get the segment
 * (segment_reaches()), does not take it, or it cannot be sent, the end of
 * the stream the process would read: shut down for reading, with a warning.
 */
static void take_fin(const struct restore_ctx *rc, int fd, const struct md_sock *s, const struct md_tcp_stream *t)
{
	char name[RESTORE_TCP_NAME_MAX];
	const char *conn = restore_tcp_name(name, sizeof(name), s), *state = md_tcp_state_name(s->state);
	int r = give_fin(rc, fd, s, t);

	if (r >= 0)
		return;
	shutdown(fd, SHUT_RD);
	if (r == -EHOSTUNREACH)
		log_warn("%s in state %s: a segment carrying its peer's FIN would not reach it (its address is not "
			 "on this host, or not on the device it is bound to): shut down for reading instead",
			 conn, state);
	else
		log_warn("%s in state %s: the segment carrying its peer's FIN %s (%s): shut down for reading "
			 "instead", conn, state, r == -ETIMEDOUT ? "was not taken" : "could not be sent", strerror(-r));
}

void restore_tcp_close(const struct restore_ctx *rc, int fd, const struct md_sock *s, const struct md_tcp_stream *t)
{
	char name[RESTORE_TCP_NAME_MAX];

	if (s->state == TCP_CLOSE_WAIT || s->state == TCP_LAST_ACK)
		take_fin(rc, fd, s, t);
	/* ENOTCONN: the peer, which forgot the connection meanwhile, reset it (as an established one) */
	if (md_tcp_state_fin_sent(s->state) && shutdown(fd, SHUT_WR) < 0) {
		const char *why = strerror(errno);

		log_warn("%s in state %s: cannot send its FIN again (%s): its peer reset it?",
			 restore_tcp_name(name, sizeof(name), s), md_tcp_state_name(s->state), why);
	}
	if (s->state == TCP_CLOSING)
		take_fin(rc, fd, s, t);
}
