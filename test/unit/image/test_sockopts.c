/*
 * Socket options in images: every option of the table has its SockOpts
 * field (named after it, of a type that holds it) and the reverse; a
 * socket's options written and read back; values out of range, options
 * of another kind of socket and malformed filters refused on reading.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "memdump/image.h"
#include "memdump/model.h"
#include "memdump/sockopts.h"
#include "image/sockets.h"
#include "dirsuite.h"

TestSuite(image_sockopts, .init = synth_dir_setup, .fini = synth_dir_teardown);

static const ProtobufCFieldDescriptor *field_of(const char *name)
{
	char lower[48];
	size_t i;

	for (i = 0; name[i] && i < sizeof(lower) - 1; i++)
		lower[i] = (char)tolower((unsigned char)name[i]);
	lower[i] = '\0';
	return protobuf_c_message_descriptor_get_field_by_name(&md__sock_opts__descriptor, lower);
}

static ProtobufCType type_for(uint8_t kind)
{
	switch (kind) {
	case MD_SOCKOPT_BOOL:
		return PROTOBUF_C_TYPE_BOOL;
	case MD_SOCKOPT_INT:
	case MD_SOCKOPT_LINGER:
		return PROTOBUF_C_TYPE_INT32;
	case MD_SOCKOPT_TIMEO:
		return PROTOBUF_C_TYPE_INT64;
	case MD_SOCKOPT_U64:
		return PROTOBUF_C_TYPE_UINT64;
	default:
		return PROTOBUF_C_TYPE_STRING;
	}
}

Test(image_sockopts, table_and_message_agree)
{
	const ProtobufCMessageDescriptor *d = &md__sock_opts__descriptor;

	cr_assert_lt(md_n_sockopt_defs, MD_SOCKOPT_MAX);
	for (size_t i = 0; i < md_n_sockopt_defs; i++) {
		const ProtobufCFieldDescriptor *f = field_of(md_sockopt_defs[i].name);

		cr_assert_not_null(f, "%s has no field", md_sockopt_defs[i].name);
		cr_assert_eq(f->type, type_for(md_sockopt_defs[i].kind), "%s: field of another type",
			     md_sockopt_defs[i].name);
		cr_assert_eq(f->label, PROTOBUF_C_LABEL_OPTIONAL);
		/* the image's order is the table's: field numbers follow it */
		cr_assert_eq(f->id, i + 1, "%s is field %u, not %zu", md_sockopt_defs[i].name, f->id, i + 1);
		cr_assert_eq(md_sockopt_find(md_sockopt_defs[i].level, md_sockopt_defs[i].opt), i,
			     "%s is in the table twice", md_sockopt_defs[i].name);
	}
	/* every field but the filter is an option of the table */
	cr_assert_eq(d->n_fields, md_n_sockopt_defs + 1);
	cr_assert_not_null(protobuf_c_message_descriptor_get_field_by_name(d, "so_filter"));
	cr_assert_eq(md_sockopt_find(SOL_SOCKET, SO_ACCEPTCONN), md_n_sockopt_defs);
}

static struct md_sockopts *opts_with(uint32_t n_filter)
{
	struct md_sockopts *o = calloc(1, md_sockopts_size(n_filter));

	cr_assert_not_null(o);
	o->n_filter = n_filter;
	for (uint32_t k = 0; k < n_filter; k++)
		o->filter[k] = (struct md_bpf_insn){ .code = (uint16_t)(6 + k), .jt = 1, .jf = 2, .k = 0xffff0000u + k };
	return o;
}

static void set_opt(struct md_sockopts *o, int level, int opt, int64_t v)
{
	size_t i = md_sockopt_find(level, opt);

	cr_assert_lt(i, md_n_sockopt_defs);
	o->v[i] = v;
	md_sockopt_mark(o, i);
}

static struct md_fd inet_fd(int fd, uint64_t ino, int type, int state, struct md_sockopts *o)
{
	struct md_fd f = { .fd = fd, .kind = MD_FD_INET_SOCKET, .flags = O_RDWR, .dup_of = -1, .ofd = 200 + fd,
			   .mode = 0140777 };

	f.sock = (struct md_sock){ .ino = ino, .family = AF_INET, .type = type,
				   .protocol = type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP, .state = state,
				   .backlog = 5, .port = 8080, .peek_off = -1, .opts = o };
	f.sock.addr[0] = 127;
	f.sock.addr[3] = 1;
	return f;
}

static void opts_proc(struct md_proc *p)
{
	struct md_sockopts *o = opts_with(3), *u = opts_with(0), *x = opts_with(0);

	memset(p, 0, sizeof(*p));
	p->pid = SYNTH_PID;
	p->umask = 022;
	p->fds = calloc(4, sizeof(*p->fds));
	cr_assert_not_null(p->fds);
	set_opt(o, SOL_SOCKET, SO_KEEPALIVE, 1);
	set_opt(o, SOL_SOCKET, SO_LINGER, 0);
	set_opt(o, SOL_SOCKET, SO_RCVTIMEO, 1500000);
	set_opt(o, SOL_SOCKET, SO_MAX_PACING_RATE, -1);
	set_opt(o, SOL_SOCKET, SO_BUF_LOCK, 3);
	set_opt(o, IPPROTO_IP, IP_TOS, 0x10);
	set_opt(o, IPPROTO_TCP, TCP_KEEPIDLE, 77);
	set_opt(o, IPPROTO_TCP, TCP_CONGESTION, 0);
	strcpy(o->cong, "reno");
	set_opt(o, SOL_SOCKET, SO_BINDTODEVICE, 0);
	strcpy(o->dev, "eth0.100");
	p->fds[0] = inet_fd(3, 3001, SOCK_STREAM, TCP_LISTEN, o);
	p->fds[0].sock.sndbuf = 600000;
	p->fds[0].sock.rcvbuf = 300000;
	set_opt(u, IPPROTO_IP, IP_PKTINFO, 1);
	set_opt(u, SOL_SOCKET, SO_TIMESTAMPING, 0x4000 | 0x80);
	p->fds[1] = inet_fd(4, 3002, SOCK_DGRAM, TCP_CLOSE, u);
	p->fds[1].sock.peek_off = 12;
	p->fds[2] = inet_fd(5, 3003, SOCK_DGRAM, TCP_CLOSE, NULL);
	set_opt(x, SOL_SOCKET, SO_PASSSEC, 1);
	p->fds[3] = (struct md_fd){ .fd = 6, .kind = MD_FD_UNIX_SOCKET, .flags = O_RDWR, .dup_of = -1, .ofd = 206,
				    .mode = 0140777 };
	p->fds[3].sock = (struct md_sock){ .ino = 3004, .family = AF_UNIX, .type = SOCK_DGRAM, .state = TCP_CLOSE,
					   .peek_off = -1, .sndbuf = 4608, .rcvbuf = 4608, .opts = x };
	p->n_fds = 4;
}

static void assert_opts_eq(const struct md_sock *a, const struct md_sock *b)
{
	cr_assert_eq(a->sndbuf, b->sndbuf);
	cr_assert_eq(a->rcvbuf, b->rcvbuf);
	cr_assert_eq(a->peek_off, b->peek_off);
	cr_assert_eq(!a->opts, !b->opts);
	if (!a->opts)
		return;
	for (size_t i = 0; i < md_n_sockopt_defs; i++) {
		cr_assert_eq(md_sockopt_isset(a->opts, i), md_sockopt_isset(b->opts, i), "%s", md_sockopt_defs[i].name);
		if (md_sockopt_isset(a->opts, i))
			cr_assert_eq(a->opts->v[i], b->opts->v[i], "%s", md_sockopt_defs[i].name);
	}
	cr_assert_str_eq(a->opts->cong, b->opts->cong);
	cr_assert_str_eq(a->opts->dev, b->opts->dev);
	cr_assert_eq(a->opts->n_filter, b->opts->n_filter);
	cr_assert_eq(memcmp(a->opts->filter, b->opts->filter, a->opts->n_filter * sizeof(a->opts->filter[0])), 0);
}

Test(image_sockopts, round_trip)
{
	struct md_proc in, out;

	opts_proc(&in);
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	cr_assert_eq(out.n_fds, in.n_fds);
	for (size_t i = 0; i < in.n_fds; i++)
		assert_opts_eq(&in.fds[i].sock, &out.fds[i].sock);
	cr_assert_eq(out.fds[0].sock.opts->v[md_sockopt_find(SOL_SOCKET, SO_MAX_PACING_RATE)], -1);
	md_proc_release(&out);
	md_proc_release(&in);
}

/* fd i with one thing wrong, written as it is: reading it must fail */
static void assert_read_refuses(size_t i, int level, int opt, int64_t v, const char *str)
{
	struct md_proc in, out;
	struct md_sockopts *o;

	opts_proc(&in);
	o = in.fds[i].sock.opts;
	if (!o)
		o = in.fds[i].sock.opts = opts_with(0);
	o->v[md_sockopt_find(level, opt)] = v;
	md_sockopt_mark(o, md_sockopt_find(level, opt));
	if (str)
		strcpy(md_sockopt_str(o, &md_sockopt_defs[md_sockopt_find(level, opt)]), str);
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL, "%d/%d = %lld '%s' read", level, opt,
		     (long long)v, str ? str : "");
	md_proc_release(&in);
}

Test(image_sockopts, malformed_refused)
{
	/* options of another kind of socket */
	assert_read_refuses(3, IPPROTO_IP, IP_TOS, 4, NULL);
	assert_read_refuses(1, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
	assert_read_refuses(0, IPPROTO_UDP, UDP_SEGMENT, 1000, NULL);
	assert_read_refuses(0, IPPROTO_IPV6, IPV6_TCLASS, 4, NULL);
	assert_read_refuses(0, SOL_SOCKET, SO_PASSSEC, 1, NULL);
	/* values out of range */
	assert_read_refuses(0, SOL_SOCKET, SO_LINGER, -1, NULL);
	assert_read_refuses(2, SOL_SOCKET, SO_SNDTIMEO, -5, NULL);
	/* names: empty, with a slash, with a space */
	assert_read_refuses(0, SOL_SOCKET, SO_BINDTODEVICE, 0, "a/b");
	assert_read_refuses(0, SOL_SOCKET, SO_BINDTODEVICE, 0, "a b");
	assert_read_refuses(0, IPPROTO_TCP, TCP_CONGESTION, 0, "");
}

/* the message as a writer other than ours could make it */
static int read_msg(Md__SockOpts *om)
{
	Md__Socket m = MD__SOCKET__INIT;
	struct md_sock s;
	int r;

	m.ino = 9;
	m.family = AF_INET;
	m.type = SOCK_DGRAM;
	m.protocol = IPPROTO_UDP;
	m.state = TCP_CLOSE;
	m.addr = "0.0.0.0";
	m.has_port = true;
	m.opts = om;
	r = img_sock_read("files-1.img", 3, &m, &s);
	if (!r)
		free(s.opts);
	return r;
}

Test(image_sockopts, filter_checked)
{
	Md__SockOpts om = MD__SOCK_OPTS__INIT;
	uint8_t prog[8 * 4] = { 6, 0, 0, 0, 0xff, 0xff, 0, 0 };

	om.has_so_filter = true;
	om.so_filter.data = prog;
	om.so_filter.len = 8;
	cr_assert_eq(read_msg(&om), 0);
	om.so_filter.len = 12;
	cr_assert_eq(read_msg(&om), -EINVAL);
	om.so_filter.len = 0;
	cr_assert_eq(read_msg(&om), -EINVAL);
	om.has_so_filter = false;
	om.has_so_rcvtimeo = true;
	om.so_rcvtimeo = INT64_MAX;
	cr_assert_eq(read_msg(&om), -EINVAL);
	om.so_rcvtimeo = 20000000;
	cr_assert_eq(read_msg(&om), 0);
}
