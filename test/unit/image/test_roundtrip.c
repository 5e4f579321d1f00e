/*
 * Every image kind written and read back with every field set: what goes
 * in comes out, field by field.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "image/internal.h"
#include "memdump/image.h"
#include "memdump/model.h"
#include "dirsuite.h"

#include "inventory.pb-c.h"

TestSuite(image_roundtrip, .init = synth_dir_setup, .fini = synth_dir_teardown);

Test(image_roundtrip, proc)
{
	struct md_proc in, out;

	synth_proc(&in, SYNTH_PID, 3);
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(faccessat(dirfd, "core-4242.img", R_OK, 0), 0);
	cr_assert_eq(faccessat(dirfd, "mm-4242.img", R_OK, 0), 0);
	cr_assert_eq(faccessat(dirfd, "files-4242.img", R_OK, 0), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	assert_proc_eq(&in, &out);
	md_proc_release(&in);
	md_proc_release(&out);
}

/* the synthetic process, with n more fds (zeroed, not counted yet) after its own */
static struct md_fd *synth_proc_more_fds(struct md_proc *p, size_t n)
{
	synth_proc(p, SYNTH_PID, 3);
	p->fds = realloc(p->fds, (p->n_fds + n) * sizeof(*p->fds));
	cr_assert_not_null(p->fds);
	memset(&p->fds[p->n_fds], 0, n * sizeof(*p->fds));
	return &p->fds[p->n_fds];
}

/* eventfd, signalfd and timerfd state, and an eventfd image without its counter refused */
Test(image_roundtrip, anon_fds)
{
	struct md_proc in, out;
	struct md_fd *f;

	f = synth_proc_more_fds(&in, 3);
	f[0] = (struct md_fd){ .fd = 40, .kind = MD_FD_EVENTFD, .flags = 04002, .dup_of = -1, .ofd = 40,
			       .count = 0x123456789ULL, .semaphore = true };
	f[1] = (struct md_fd){ .fd = 41, .kind = MD_FD_SIGNALFD, .flags = 02, .dup_of = -1, .ofd = 41,
			       .sigmask = 1ULL << 38 | 1ULL << 9 };
	f[2] = (struct md_fd){ .fd = 42, .kind = MD_FD_TIMERFD, .flags = 04002, .dup_of = -1, .ofd = 42,
			       .count = 3, .timer = { 7, 1, 2995586884ULL, 1000000500ULL } };
	in.n_fds += 3;
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	assert_proc_eq(&in, &out);
	f = &out.fds[out.n_fds - 3];
	cr_expect_eq(f[0].count, 0x123456789ULL);
	cr_expect(f[0].semaphore);
	cr_expect_eq(f[1].sigmask, 1ULL << 38 | 1ULL << 9);
	cr_expect_eq(f[2].count, 3);
	cr_expect_eq(f[2].timer.clockid, 7);
	cr_expect_eq(f[2].timer.settime_flags, 1);
	cr_expect_eq(f[2].timer.value_ns, 2995586884ULL);
	cr_expect_eq(f[2].timer.interval_ns, 1000000500ULL);
	md_proc_release(&out);

	/* a counter no eventfd can hold */
	in.fds[in.n_fds - 3].count = UINT64_MAX;
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_expect_lt(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	md_proc_release(&in);
}

/* pidfds: on a process (non-blocking), on one gone; a thread's cannot be made again */
Test(image_roundtrip, pidfds)
{
	struct md_proc in, out;
	struct md_fd *f;

	f = synth_proc_more_fds(&in, 3);
	f[0] = (struct md_fd){ .fd = 40, .kind = MD_FD_PIDFD, .flags = O_RDWR | O_NONBLOCK | O_CLOEXEC, .dup_of = -1,
			       .ofd = 40, .pidfd_pid = SYNTH_PID + 1 };
	f[1] = (struct md_fd){ .fd = 41, .kind = MD_FD_PIDFD, .flags = O_RDWR | O_APPEND, .dup_of = -1, .ofd = 41,
			       .pidfd_gone = 77, .pidfd_exit_known = true, .pidfd_exit = 0x300 };
	f[2] = (struct md_fd){ .fd = 42, .kind = MD_FD_PIDFD, .flags = O_RDWR, .dup_of = -1, .ofd = 42 };
	in.n_fds += 3;
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	assert_proc_eq(&in, &out);
	f = &out.fds[out.n_fds - 3];
	cr_expect_eq(f[0].kind, MD_FD_PIDFD);
	cr_expect_eq(f[0].pidfd_pid, SYNTH_PID + 1);
	cr_expect_eq(f[0].flags, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	cr_expect_eq(f[1].pidfd_pid, 0);
	cr_expect_eq(f[1].pidfd_gone, 77);
	cr_expect(f[1].pidfd_exit_known);
	cr_expect_eq(f[1].pidfd_exit, 0x300);
	cr_expect_eq(f[1].flags, O_RDWR | O_APPEND);
	cr_expect_eq(f[2].kind, MD_FD_PIDFD);
	cr_expect_eq(f[2].pidfd_pid, 0);
	cr_expect_eq(f[2].pidfd_gone, 0);
	cr_expect_not(f[2].pidfd_exit_known);
	md_proc_release(&out);

	/* PIDFD_THREAD (O_EXCL), a flag a pidfd cannot have, no wait status */
	f = &in.fds[in.n_fds - 3];
	f[0].flags |= O_EXCL;
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_expect_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL);
	f[0].flags = O_RDWR | O_DIRECT;
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_expect_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL);
	f[0].flags = O_WRONLY;
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_expect_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL);
	f[0].flags = O_RDWR;
	f[1].pidfd_exit = 0x37f;	/* stopped, not ended */
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_expect_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL);
	f[1].pidfd_exit = 0x380;	/* a core dumped with no signal */
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_expect_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL);
	f[1].pidfd_exit = 0x8f;		/* SIGTERM, a core dumped */
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	md_proc_release(&out);
	md_proc_release(&in);
}

/* an epoll fd's items, in order, with and without the description they watch */
Test(image_roundtrip, epoll_items)
{
	struct md_epoll_item items[3] = {
		{ .tfd = 41, .events = 0x80000019, .data = 0xdeadbeefcafeULL, .ofd = 41 },
		{ .tfd = 40, .events = 0x40000000, .data = 40, .ofd = 40 },
		{ .tfd = 9, .events = 0x19, .data = 0 },
	};
	struct md_proc in, out;
	struct md_fd *f;

	synth_proc(&in, SYNTH_PID, 3);
	in.fds = realloc(in.fds, (in.n_fds + 1) * sizeof(*in.fds));
	cr_assert_not_null(in.fds);
	f = &in.fds[in.n_fds++];
	*f = (struct md_fd){ .fd = 50, .kind = MD_FD_EPOLL, .flags = 02000002, .dup_of = -1, .ofd = 50,
			     .n_epoll = 3 };
	f->epoll = malloc(sizeof(items));
	cr_assert_not_null(f->epoll);
	memcpy(f->epoll, items, sizeof(items));
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	assert_proc_eq(&in, &out);
	md_proc_release(&out);

	/* items on an fd that is not an epoll fd */
	f->kind = MD_FD_REG;
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_expect_lt(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	md_proc_release(&in);
}

Test(image_roundtrip, proc_minimal)
{
	/* NULL strings, no xsave, no pending signals, no fds: all optional. */
	struct md_proc in = { .pid = 7 }, out;
	struct md_thread t = { .tid = 7 };

	in.threads = &t;
	in.n_threads = 1;
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, 7, &out), 0);
	assert_proc_eq(&in, &out);
	cr_assert_null(out.cwd);
	cr_assert_null(out.threads[0].xsave);
	md_proc_release(&out);
}

Test(image_roundtrip, read_missing_is_enoent)
{
	struct md_proc out;

	cr_assert_eq(image_read_proc(dirfd, 99, &out), -ENOENT);
}

/* the low byte of image name's header flags */
static uint8_t header_flags(const char *name)
{
	uint8_t b = 0xff;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);

	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &b, 1, 36), 1);
	close(fd);
	return b;
}

Test(image_roundtrip, inventory)
{
	struct md_inventory in, out;

	synth_inventory(&in, 5);
	cr_assert_eq(image_write_inventory(dirfd, &in), 0);
	cr_assert_eq(header_flags("inventory.img"), 0);
	cr_assert_eq(image_read_inventory(dirfd, &out), 0);
	assert_inventory_eq(&in, &out);
	md_inventory_release(&in);
	md_inventory_release(&out);
}

/* a tree in namespaces of its own: the UTS names, pid_ns, and each id in the PID namespace */
Test(image_roundtrip, namespaces)
{
	struct md_inventory in, out;
	struct md_proc p, q;

	synth_inventory(&in, 5);
	in.pid_ns = true;
	in.uts_host = strdup("box");
	in.uts_domain = strdup("");
	cr_assert_eq(image_write_inventory(dirfd, &in), 0);
	cr_assert_eq(image_read_inventory(dirfd, &out), 0);
	assert_inventory_eq(&in, &out);
	cr_assert_str_eq(out.uts_domain, "");
	md_inventory_release(&out);
	/* the header flag older readers refuse, required with them */
	cr_assert_eq(header_flags("inventory.img"), MD_INVENTORY_F_NS);
	flip_bits("inventory.img", 36, MD_INVENTORY_F_NS);
	cr_assert_eq(image_read_inventory(dirfd, &out), -EINVAL, "namespaces without the header flag were read");
	flip_bits("inventory.img", 36, MD_INVENTORY_F_NS);
	cr_assert_eq(image_read_inventory(dirfd, &out), 0);
	md_inventory_release(&out);

	synth_proc(&p, SYNTH_PID, 2);
	p.ns_pid = 1;
	for (size_t i = 0; i < p.n_threads; i++)
		p.threads[i].ns_tid = (pid_t)(1 + i * 7);
	cr_assert_eq(image_write_proc(dirfd, &p), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &q), 0);
	assert_proc_eq(&p, &q);
	md_proc_release(&q);

	/* malformed: a negative id; a host name without a domain name; a name past 64 bytes */
	p.threads[0].ns_tid = -1;
	cr_assert_eq(image_write_proc(dirfd, &p), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &q), -EINVAL);
	p.threads[0].ns_tid = 1;
	p.ns_pid = -1;
	cr_assert_eq(image_write_proc(dirfd, &p), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &q), -EINVAL);
	free(in.uts_domain);
	in.uts_domain = NULL;
	cr_assert_eq(image_write_inventory(dirfd, &in), 0);
	cr_assert_eq(image_read_inventory(dirfd, &out), -EINVAL);
	in.uts_domain = strdup("d");
	free(in.uts_host);
	in.uts_host = strdup("0123456789012345678901234567890123456789012345678901234567890123456789");
	cr_assert_eq(image_write_inventory(dirfd, &in), 0);
	cr_assert_eq(image_read_inventory(dirfd, &out), -EINVAL);
	in.uts_host[64] = '\0';
	cr_assert_eq(image_write_inventory(dirfd, &in), 0);
	cr_assert_eq(image_read_inventory(dirfd, &out), 0);
	md_inventory_release(&out);
	free(in.uts_domain);
	in.uts_domain = malloc(MD_UTS_NAME_MAX + 2);
	snprintf(in.uts_domain, MD_UTS_NAME_MAX + 2, "%sx", in.uts_host);
	cr_assert_eq(image_write_inventory(dirfd, &in), 0);
	cr_assert_eq(image_read_inventory(dirfd, &out), -EINVAL, "a domain name of 65 bytes was read");

	/* a PID namespace alone takes the flag too */
	free(in.uts_host);
	free(in.uts_domain);
	in.uts_host = in.uts_domain = NULL;
	cr_assert_eq(image_write_inventory(dirfd, &in), 0);
	cr_assert_eq(header_flags("inventory.img"), MD_INVENTORY_F_NS);
	cr_assert_eq(image_read_inventory(dirfd, &out), 0);
	assert_inventory_eq(&in, &out);
	md_inventory_release(&out);

	/* a mount namespace with its /proc: only with the PID namespace, and flags mount(2) takes back */
	in.mnt_ns = true;
	in.proc_flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME;
	in.proc_opts = strdup("rw,hidepid=invisible");
	cr_assert_eq(image_write_inventory(dirfd, &in), 0);
	cr_assert_eq(image_read_inventory(dirfd, &out), 0);
	cr_assert(out.mnt_ns);
	cr_assert_eq(out.proc_flags, in.proc_flags);
	cr_assert_str_eq(out.proc_opts, in.proc_opts);
	md_inventory_release(&out);
	in.proc_flags |= MS_BIND;
	cr_assert_eq(image_write_inventory(dirfd, &in), 0);
	cr_assert_eq(image_read_inventory(dirfd, &out), -EINVAL, "MS_BIND for /proc was read");
	in.proc_flags &= ~(uint32_t)MS_BIND;
	in.pid_ns = false;
	cr_assert_eq(image_write_inventory(dirfd, &in), 0);
	cr_assert_eq(image_read_inventory(dirfd, &out), -EINVAL, "a mount namespace without a PID one was read");
	in.pid_ns = true;

	/* ids the kernel never gives */
	p.ns_pid = MD_PID_LIMIT;
	cr_assert_eq(image_write_proc(dirfd, &p), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &q), -EINVAL);
	p.ns_pid = 1;
	p.threads[1].ns_tid = MD_PID_LIMIT;
	cr_assert_eq(image_write_proc(dirfd, &p), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &q), -EINVAL);
	p.threads[1].ns_tid = 2;
	in.pids[1] = MD_PID_LIMIT;
	cr_assert_eq(image_write_inventory(dirfd, &in), 0);
	cr_assert_eq(image_read_inventory(dirfd, &out), -EINVAL);
	md_inventory_release(&in);
	md_proc_release(&p);
}

static void add_sysctl(struct md_inventory *inv, const char *name, const char *value)
{
	inv->net_sysctls = reallocarray(inv->net_sysctls, inv->n_net_sysctls + 1, sizeof(*inv->net_sysctls));
	cr_assert_not_null(inv->net_sysctls);
	inv->net_sysctls[inv->n_net_sysctls].name = strdup(name);
	inv->net_sysctls[inv->n_net_sysctls].value = strdup(value);
	inv->n_net_sysctls++;
}

/* a network namespace of the tree's own: the loopback's state and sysctls, names only under /proc/sys/net */
Test(image_roundtrip, network_namespace)
{
	static const char *const bad[] = { "../../../etc/passwd", "/ipv4/ip_forward", "ipv4//ip_forward", "ipv4/.",
					   "./ipv4/x", "ipv4/..", "ipv4/ip forward", "", "ipv4/\n" };
	struct md_inventory in, out;

	synth_inventory(&in, 3);
	in.net_ns = true;
	in.lo_up = true;
	in.lo_mtu = 9000;
	add_sysctl(&in, "core/somaxconn", "900");
	add_sysctl(&in, "ipv4/ping_group_range", "0\t0");
	add_sysctl(&in, "ipv6/conf/lo/stable_secret", "");
	cr_assert_eq(image_write_inventory(dirfd, &in), 0);
	cr_assert_eq(image_read_inventory(dirfd, &out), 0);
	assert_inventory_eq(&in, &out);
	md_inventory_release(&out);
	/* its own header flag, which older readers refuse, and not the other namespaces' one */
	cr_assert_eq(header_flags("inventory.img"), MD_INVENTORY_F_NETNS);
	flip_bits("inventory.img", 36, MD_INVENTORY_F_NETNS);
	cr_assert_eq(image_read_inventory(dirfd, &out), -EINVAL, "net_ns without the header flag was read");
	flip_bits("inventory.img", 36, MD_INVENTORY_F_NETNS);
	/* a loopback left down, no sysctls */
	in.lo_up = false;
	in.lo_mtu = 0;
	for (size_t i = 0; i < in.n_net_sysctls; i++) {
		free(in.net_sysctls[i].name);
		free(in.net_sysctls[i].value);
	}
	in.n_net_sysctls = 0;
	cr_assert_eq(image_write_inventory(dirfd, &in), 0);
	cr_assert_eq(image_read_inventory(dirfd, &out), 0);
	assert_inventory_eq(&in, &out);
	md_inventory_release(&out);

	/* malformed: names that would leave /proc/sys/net, a value too long, sysctls without net_ns */
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		in.n_net_sysctls = 0;
		add_sysctl(&in, bad[k], "1");
		cr_assert_eq(image_write_inventory(dirfd, &in), 0);
		cr_assert_eq(image_read_inventory(dirfd, &out), -EINVAL, "sysctl name '%s' was read", bad[k]);
		free(in.net_sysctls[0].name);
		free(in.net_sysctls[0].value);
	}
	in.n_net_sysctls = 0;
	add_sysctl(&in, "ipv4/tcp_fastopen_key", "");
	free(in.net_sysctls[0].value);
	in.net_sysctls[0].value = malloc(MD_NET_SYSCTL_VALUE_MAX + 2);
	memset(in.net_sysctls[0].value, '1', MD_NET_SYSCTL_VALUE_MAX + 1);
	in.net_sysctls[0].value[MD_NET_SYSCTL_VALUE_MAX + 1] = '\0';
	cr_assert_eq(image_write_inventory(dirfd, &in), 0);
	cr_assert_eq(image_read_inventory(dirfd, &out), -EINVAL, "a value of %d bytes was read",
		     MD_NET_SYSCTL_VALUE_MAX + 1);
	in.net_sysctls[0].value[MD_NET_SYSCTL_VALUE_MAX] = '\0';
	cr_assert_eq(image_write_inventory(dirfd, &in), 0);
	cr_assert_eq(image_read_inventory(dirfd, &out), 0);
	md_inventory_release(&out);
	in.net_ns = false;
	cr_assert_eq(image_write_inventory(dirfd, &in), 0);
	cr_assert_eq(image_read_inventory(dirfd, &out), -EINVAL, "sysctls without a network namespace were read");
	md_inventory_release(&in);
}

/* an IPC namespace of the tree's own: two sysctls, a semaphore set, a queue of three messages and an empty one */
static void synth_ipcns(struct md_ipcns *ns)
{
	static const uint16_t vals[] = { 1, 0, 32767 };

	*ns = (struct md_ipcns){ 0 };
	ns->sysctls = calloc(2, sizeof(*ns->sysctls));
	ns->sems = calloc(1, sizeof(*ns->sems));
	ns->msgqs = calloc(2, sizeof(*ns->msgqs));
	cr_assert(ns->sysctls && ns->sems && ns->msgqs);
	ns->sysctls[0] = (struct md_sysctl){ strdup("kernel/msgmnb"), strdup("20000") };
	ns->sysctls[1] = (struct md_sysctl){ strdup("kernel/sem"), strdup("250\t32000\t32\t64") };
	ns->n_sysctls = 2;
	ns->sems[0] = (struct md_semset){ 32769, 0x4d495301, 0640, 1234, 5678, malloc(sizeof(vals)), 3,
					  4321, 8765, true };
	memcpy(ns->sems[0].values, vals, sizeof(vals));
	ns->n_sems = 1;
	ns->msgqs[0] = (struct md_msgq){ 65538, 0x4d495302, 0620, 1234, 0, 12000, calloc(3, sizeof(struct md_msg)), 3,
					 4321, 8765 };
	ns->msgqs[0].msgs[0] = (struct md_msg){ 1, (uint8_t *)strdup("hello"), 5 };
	ns->msgqs[0].msgs[1] = (struct md_msg){ 2, (uint8_t *)strdup(""), 0 };
	ns->msgqs[0].msgs[2] = (struct md_msg){ 7, (uint8_t *)strdup("last"), 4 };
	ns->msgqs[1] = (struct md_msgq){ 1, 0, 0600, 0, 0, 16384, NULL, 0 };
	ns->n_msgqs = 2;
}

static void assert_ipcns_eq(const struct md_ipcns *a, const struct md_ipcns *b)
{
	cr_assert_eq(a->n_sysctls, b->n_sysctls);
	for (size_t i = 0; i < a->n_sysctls; i++) {
		cr_assert_str_eq(a->sysctls[i].name, b->sysctls[i].name);
		cr_assert_str_eq(a->sysctls[i].value, b->sysctls[i].value);
	}
	cr_assert_eq(a->n_sems, b->n_sems);
	for (size_t i = 0; i < a->n_sems; i++) {
		const struct md_semset *x = &a->sems[i], *y = &b->sems[i];

		cr_assert(x->id == y->id && x->key == y->key && x->mode == y->mode && x->uid == y->uid &&
			  x->gid == y->gid && x->nsems == y->nsems && x->cuid == y->cuid && x->cgid == y->cgid &&
			  x->operated == y->operated);
		cr_assert_arr_eq(x->values, y->values, x->nsems * sizeof(*x->values));
	}
	cr_assert_eq(a->n_msgqs, b->n_msgqs);
	for (size_t i = 0; i < a->n_msgqs; i++) {
		const struct md_msgq *x = &a->msgqs[i], *y = &b->msgqs[i];

		cr_assert(x->id == y->id && x->key == y->key && x->mode == y->mode && x->uid == y->uid &&
			  x->gid == y->gid && x->qbytes == y->qbytes && x->n_msgs == y->n_msgs && x->cuid == y->cuid &&
			  x->cgid == y->cgid);
		for (size_t k = 0; k < x->n_msgs; k++) {
			cr_assert(x->msgs[k].mtype == y->msgs[k].mtype && x->msgs[k].len == y->msgs[k].len);
			cr_assert_arr_eq(x->msgs[k].data, y->msgs[k].data, x->msgs[k].len);
		}
	}
}

/* a time namespace's clocks in the inventory, under a flag of their own, within what the kernel takes */
Test(image_roundtrip, time_namespace)
{
	struct md_inventory in, out;

	synth_inventory(&in, 2);
	in.time_ns = true;
	in.time_monotonic_ns = 10000000123456789ull;
	in.time_boottime_ns = 20000000000000001ull;
	cr_assert_eq(image_write_inventory(dirfd, &in), 0);
	cr_assert_eq(image_read_inventory(dirfd, &out), 0);
	assert_inventory_eq(&in, &out);
	md_inventory_release(&out);
	cr_assert_eq(header_flags("inventory.img"), MD_INVENTORY_F_TIMENS);
	flip_bits("inventory.img", 36, MD_INVENTORY_F_TIMENS);
	cr_assert_eq(image_read_inventory(dirfd, &out), -EINVAL, "time_ns without the header flag was read");
	flip_bits("inventory.img", 36, MD_INVENTORY_F_TIMENS);

	/* the most a clock may start at, and one past it */
	in.time_boottime_ns = MD_TIMENS_CLOCK_MAX;
	cr_assert_eq(image_write_inventory(dirfd, &in), 0);
	cr_assert_eq(image_read_inventory(dirfd, &out), 0);
	assert_inventory_eq(&in, &out);
	md_inventory_release(&out);
	in.time_boottime_ns = MD_TIMENS_CLOCK_MAX + 1;
	cr_assert_eq(image_write_inventory(dirfd, &in), 0);
	cr_assert_eq(image_read_inventory(dirfd, &out), -EINVAL, "a clock past the kernel's range was read");
	md_inventory_release(&in);
}

/* a cgroup namespace of the tree's own: a flag of its own, required */
Test(image_roundtrip, cgroup_namespace)
{
	struct md_inventory in, out;

	synth_inventory(&in, 3);
	in.cgroup_ns = true;
	cr_assert_eq(image_write_inventory(dirfd, &in), 0);
	cr_assert_eq(image_read_inventory(dirfd, &out), 0);
	assert_inventory_eq(&in, &out);
	md_inventory_release(&out);
	cr_assert_eq(header_flags("inventory.img"), MD_INVENTORY_F_CGROUPNS);
	flip_bits("inventory.img", 36, MD_INVENTORY_F_CGROUPNS);
	cr_assert_eq(image_read_inventory(dirfd, &out), -EINVAL, "cgroup_ns without the header flag was read");
	md_inventory_release(&in);
}

/* the clocks come with the namespace, both of them, and not without it */
Test(image_roundtrip, time_namespace_malformed)
{
	Md__InventoryImage m = MD__INVENTORY_IMAGE__INIT;
	int32_t pids[] = { SYNTH_PID };
	struct md_inventory out;

	m.format_version = MD_FORMAT_VERSION;
	m.root_pid = SYNTH_PID;
	m.page_size = MD_PAGE_SIZE;
	m.n_pids = 1;
	m.pids = pids;
	m.has_time_ns = m.time_ns = true;
	m.has_time_monotonic_ns = true;
	m.time_monotonic_ns = 5;
	cr_assert_eq(img_write_msg_flags(dirfd, "inventory.img", MD_IMG_INVENTORY, MD_INVENTORY_F_TIMENS, &m.base), 0);
	cr_assert_eq(image_read_inventory(dirfd, &out), -EINVAL, "a time namespace without CLOCK_BOOTTIME was read");
	m.has_time_boottime_ns = true;
	cr_assert_eq(img_write_msg_flags(dirfd, "inventory.img", MD_IMG_INVENTORY, MD_INVENTORY_F_TIMENS, &m.base), 0);
	cr_assert_eq(image_read_inventory(dirfd, &out), 0);
	cr_assert(out.time_ns && out.time_monotonic_ns == 5 && out.time_boottime_ns == 0);
	md_inventory_release(&out);
	m.has_time_ns = m.time_ns = false;
	cr_assert_eq(img_write_msg_flags(dirfd, "inventory.img", MD_IMG_INVENTORY, 0, &m.base), 0);
	cr_assert_eq(image_read_inventory(dirfd, &out), -EINVAL, "clocks without a time namespace were read");
}

/* ipcns.img and the inventory's flag for it; what a restore would write is checked when read */
Test(image_roundtrip, ipc_namespace)
{
	static const char *const bad_names[] = { "kernel/core_pattern", "kernel/shm_next_id", "net/core/somaxconn",
						 "kernel/../kernel/sem", "" };
	static const char *const bad_values[] = {
		"|/bin/sh", "", "1\n2", "12345678901234567890123456789012345678901234567890123456789012345",
	};
	struct md_inventory inv, inv_out;
	struct md_ipcns in, out;
	char *keep;

	synth_inventory(&inv, 2);
	inv.ipc_ns = true;
	cr_assert_eq(image_write_inventory(dirfd, &inv), 0);
	cr_assert_eq(image_read_inventory(dirfd, &inv_out), 0);
	assert_inventory_eq(&inv, &inv_out);
	md_inventory_release(&inv_out);
	cr_assert_eq(header_flags("inventory.img"), MD_INVENTORY_F_IPCNS);
	flip_bits("inventory.img", 36, MD_INVENTORY_F_IPCNS);
	cr_assert_eq(image_read_inventory(dirfd, &inv_out), -EINVAL, "ipc_ns without the header flag was read");
	md_inventory_release(&inv);

	synth_ipcns(&in);
	cr_assert_eq(image_write_ipcns(dirfd, &in), 0);
	cr_assert_eq(image_read_ipcns(dirfd, &out), 0);
	assert_ipcns_eq(&in, &out);
	md_ipcns_release(&out);

	/* sysctls: only the IPC ones memdump keeps, with numbers */
	keep = in.sysctls[0].name;
	for (size_t k = 0; k < sizeof(bad_names) / sizeof(bad_names[0]); k++) {
		in.sysctls[0].name = (char *)bad_names[k];
		cr_assert_eq(image_write_ipcns(dirfd, &in), 0);
		cr_assert_eq(image_read_ipcns(dirfd, &out), -EINVAL, "sysctl '%s' was read", bad_names[k]);
	}
	in.sysctls[0].name = (char *)"kernel/sem";
	cr_assert_eq(image_write_ipcns(dirfd, &in), 0);
	cr_assert_eq(image_read_ipcns(dirfd, &out), -EINVAL, "a sysctl twice was read");
	in.sysctls[0].name = keep;
	keep = in.sysctls[0].value;
	for (size_t k = 0; k < sizeof(bad_values) / sizeof(bad_values[0]); k++) {
		in.sysctls[0].value = (char *)bad_values[k];
		cr_assert_eq(image_write_ipcns(dirfd, &in), 0);
		cr_assert_eq(image_read_ipcns(dirfd, &out), -EINVAL, "sysctl value '%s' was read", bad_values[k]);
	}
	in.sysctls[0].value = keep;

	/* objects: semaphore values within SEMVMX, message types above 0, ids and keys once per kind */
	in.sems[0].values[1] = 32768;
	cr_assert_eq(image_write_ipcns(dirfd, &in), 0);
	cr_assert_eq(image_read_ipcns(dirfd, &out), -EINVAL, "semaphore value 32768 was read");
	in.sems[0].values[1] = 0;
	in.msgqs[0].msgs[1].mtype = 0;
	cr_assert_eq(image_write_ipcns(dirfd, &in), 0);
	cr_assert_eq(image_read_ipcns(dirfd, &out), -EINVAL, "message type 0 was read");
	in.msgqs[0].msgs[1].mtype = 2;
	in.msgqs[1].key = in.msgqs[0].key;
	cr_assert_eq(image_write_ipcns(dirfd, &in), 0);
	cr_assert_eq(image_read_ipcns(dirfd, &out), -EINVAL, "two queues with one key were read");
	in.msgqs[1].key = 0;
	in.msgqs[1].id = in.msgqs[0].id;
	cr_assert_eq(image_write_ipcns(dirfd, &in), 0);
	cr_assert_eq(image_read_ipcns(dirfd, &out), -EINVAL, "two queues with one id were read");
	in.msgqs[1].id = 1;
	in.sems[0].nsems = 0;
	cr_assert_eq(image_write_ipcns(dirfd, &in), 0);
	cr_assert_eq(image_read_ipcns(dirfd, &out), -EINVAL, "a set of no semaphores was read");
	in.sems[0].nsems = 3;
	cr_assert_eq(image_write_ipcns(dirfd, &in), 0);
	cr_assert_eq(image_read_ipcns(dirfd, &out), 0);
	md_ipcns_release(&out);
	md_ipcns_release(&in);
}

static struct md_pmsg pmsg(uint32_t prio, const char *text)
{
	return (struct md_pmsg){ prio, (uint8_t *)strdup(text), strlen(text) };
}

/* one POSIX queue field set to a bad value (by set), written and refused when read */
#define MQ_REFUSED(in, what, set, back)                                                                 \
	do {                                                                                            \
		struct md_ipcns out_;                                                                   \
		set;                                                                                    \
		cr_assert_eq(image_write_ipcns(dirfd, &(in)), 0);                                       \
		cr_assert_eq(image_read_ipcns(dirfd, &out_), -EINVAL, "%s was read", what);             \
		back;                                                                                   \
	} while (0)

/* POSIX message queues in ipcns.img, under a header flag, with what mq_open() and mq_send() take */
Test(image_roundtrip, posix_message_queues)
{
	char long_name[NAME_MAX + 2], *keep;
	struct md_ipcns in, out;

	synth_ipcns(&in);
	cr_assert_eq(image_write_ipcns(dirfd, &in), 0);
	cr_assert_eq(header_flags("ipcns.img"), 0, "the flag without POSIX queues");
	in.mqs = calloc(2, sizeof(*in.mqs));
	cr_assert_not_null(in.mqs);
	in.mqs[0] = (struct md_posix_mq){ strdup("jobs"), 0640, 1234, 5678, 5, 64, calloc(4, sizeof(struct md_pmsg)),
					  4 };
	in.mqs[0].msgs[0] = pmsg(31000, "top");
	in.mqs[0].msgs[1] = pmsg(7, "");
	in.mqs[0].msgs[2] = pmsg(7, "two");
	in.mqs[0].msgs[3] = pmsg(0, "last");
	/* after "jobs": the names sorted */
	in.mqs[1] = (struct md_posix_mq){ strdup("ready"), 0600, 0, 0, 10, 8192, NULL, 0 };
	in.n_mqs = 2;
	cr_assert_eq(image_write_ipcns(dirfd, &in), 0);
	cr_assert_eq(header_flags("ipcns.img"), MD_IPCNS_F_POSIX_MQ);
	cr_assert_eq(image_read_ipcns(dirfd, &out), 0);
	assert_ipcns_eq(&in, &out);
	cr_assert_eq(out.n_mqs, 2);
	for (size_t i = 0; i < 2; i++) {
		const struct md_posix_mq *x = &in.mqs[i], *y = &out.mqs[i];

		cr_assert_str_eq(x->name, y->name);
		cr_assert(x->mode == y->mode && x->uid == y->uid && x->gid == y->gid && x->maxmsg == y->maxmsg &&
			  x->msgsize == y->msgsize && x->n_msgs == y->n_msgs);
		for (size_t k = 0; k < x->n_msgs; k++) {
			cr_assert(x->msgs[k].prio == y->msgs[k].prio && x->msgs[k].len == y->msgs[k].len);
			cr_assert_arr_eq(x->msgs[k].data, y->msgs[k].data, x->msgs[k].len);
		}
	}
	md_ipcns_release(&out);
	/* a reader before the flag would lose them; this one refuses queues without it */
	flip_bits("ipcns.img", 36, MD_IPCNS_F_POSIX_MQ);
	cr_assert_eq(image_read_ipcns(dirfd, &out), -EINVAL, "POSIX queues without the header flag were read");

	memset(long_name, 'q', NAME_MAX + 1);
	long_name[NAME_MAX + 1] = '\0';
	keep = in.mqs[0].name;
	MQ_REFUSED(in, "a name with a slash", in.mqs[0].name = "a/b", in.mqs[0].name = keep);
	MQ_REFUSED(in, "name ..", in.mqs[0].name = "..", in.mqs[0].name = keep);
	MQ_REFUSED(in, "an empty name", in.mqs[0].name = "", in.mqs[0].name = keep);
	MQ_REFUSED(in, "a name over NAME_MAX", in.mqs[0].name = long_name, in.mqs[0].name = keep);
	keep = in.mqs[1].name;
	MQ_REFUSED(in, "one name twice", in.mqs[1].name = in.mqs[0].name, in.mqs[1].name = keep);
	MQ_REFUSED(in, "names out of order", in.mqs[1].name = "aaa", in.mqs[1].name = keep);
	MQ_REFUSED(in, "owner -1", in.mqs[0].uid = UINT32_MAX, in.mqs[0].uid = 1234);
	MQ_REFUSED(in, "group -1", in.mqs[0].gid = UINT32_MAX, in.mqs[0].gid = 5678);
	MQ_REFUSED(in, "mode 010000", in.mqs[0].mode = 010000, in.mqs[0].mode = 0640);
	MQ_REFUSED(in, "maxmsg 0", in.mqs[1].maxmsg = 0, in.mqs[1].maxmsg = 10);
	MQ_REFUSED(in, "maxmsg 65537", in.mqs[1].maxmsg = 65537, in.mqs[1].maxmsg = 10);
	MQ_REFUSED(in, "msgsize 0", in.mqs[1].msgsize = 0, in.mqs[1].msgsize = 8192);
	MQ_REFUSED(in, "msgsize over 16 MiB", in.mqs[1].msgsize = (16u << 20) + 1, in.mqs[1].msgsize = 8192);
	MQ_REFUSED(in, "more messages than maxmsg", in.mqs[0].maxmsg = 3, in.mqs[0].maxmsg = 5);
	MQ_REFUSED(in, "a message over msgsize", in.mqs[0].msgsize = 3, in.mqs[0].msgsize = 64);
	MQ_REFUSED(in, "priority 32768", in.mqs[0].msgs[0].prio = 32768, in.mqs[0].msgs[0].prio = 31000);
	MQ_REFUSED(in, "a higher priority after a lower", in.mqs[0].msgs[3].prio = 8, in.mqs[0].msgs[3].prio = 0);
	cr_assert_eq(image_write_ipcns(dirfd, &in), 0);
	cr_assert_eq(image_read_ipcns(dirfd, &out), 0);
	md_ipcns_release(&out);
	md_ipcns_release(&in);
}

/* an fd on a POSIX message queue: by name, with its access mode; no other name or mode */
Test(image_roundtrip, mqueue_fd)
{
	static const char *const bad[] = { "jobs", "/", "/a/b", "/..", "/." };
	struct md_proc in, out;
	char *path;

	synth_proc(&in, 4242, 3);
	in.fds[1].kind = MD_FD_MQUEUE;
	path = in.fds[1].path;
	in.fds[1].path = "/jobs";
	in.fds[1].flags = O_WRONLY | O_NONBLOCK;
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, 4242, &out), 0);
	cr_assert_eq(out.fds[1].kind, MD_FD_MQUEUE);
	cr_assert_str_eq(out.fds[1].path, "/jobs");
	cr_assert_eq(out.fds[1].flags, O_WRONLY | O_NONBLOCK);
	md_proc_release(&out);
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		in.fds[1].path = (char *)bad[k];
		cr_assert_eq(image_write_proc(dirfd, &in), 0);
		cr_assert_eq(image_read_proc(dirfd, 4242, &out), -EINVAL, "queue '%s' was read", bad[k]);
	}
	in.fds[1].path = "/jobs";
	in.fds[1].flags = O_ACCMODE;
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, 4242, &out), -EINVAL, "access mode 3 was read");
	in.fds[1].path = path;
	md_proc_release(&in);
}

Test(image_roundtrip, pagemap)
{
	struct md_proc p;
	struct md_pagemap in, out;
	char err[256];

	synth_proc(&p, SYNTH_PID, 3);
	synth_pagemap(&in, &p);
	cr_assert_eq(image_check_proc(&p, &in, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(image_write_pagemap(dirfd, SYNTH_PID, &in), 0);
	cr_assert_eq(image_read_pagemap(dirfd, SYNTH_PID, &out), 0);
	assert_pagemap_eq(&in, &out);
	md_pagemap_release(&in);
	md_pagemap_release(&out);
	md_proc_release(&p);
}

Test(image_roundtrip, empty_pagemap)
{
	struct md_pagemap in = {0}, out;

	cr_assert_eq(image_write_pagemap(dirfd, 12, &in), 0);
	cr_assert_eq(image_read_pagemap(dirfd, 12, &out), 0);
	cr_assert_eq(out.n, 0);
	cr_assert_eq(out.nr_data_pages, 0);
	md_pagemap_release(&out);
}

Test(image_roundtrip, shm)
{
	struct md_shm in, out;
	struct md_pagemap pm, outpm;

	synth_shm(&in, &pm, 1);
	cr_assert_eq(image_write_shm(dirfd, &in, &pm), 0);
	cr_assert_eq(faccessat(dirfd, "shm-778.img", R_OK, 0), 0);
	cr_assert_eq(image_read_shm(dirfd, false, in.id, &out, &outpm), 0);
	assert_shm_eq(&in, &out);
	assert_pagemap_eq(&pm, &outpm);
	md_shm_release(&in);
	md_shm_release(&out);
	md_pagemap_release(&pm);
	md_pagemap_release(&outpm);
}

/* a SysV segment: its own file name and id space, its ids kept, never read as the other kind */
Test(image_roundtrip, sysv_shm)
{
	struct md_shm in, out;
	struct md_pagemap pm, outpm;

	synth_shm(&in, &pm, 2);
	free(in.name);
	in.name = NULL;
	in.seals = in.memfd_flags = 0;
	in.sysv = true;
	in.sysv_key = 0x4d440001;
	in.sysv_mode = 0640 | 01000;	/* SHM_DEST */
	in.sysv_uid = 1000;
	in.sysv_gid = 100;
	cr_assert_eq(image_write_shm(dirfd, &in, &pm), 0);
	cr_assert_eq(faccessat(dirfd, "sysvshm-779.img", R_OK, 0), 0);
	cr_assert_neq(faccessat(dirfd, "shm-779.img", R_OK, 0), 0);
	cr_assert_eq(image_read_shm(dirfd, true, in.id, &out, &outpm), 0);
	assert_shm_eq(&in, &out);
	assert_pagemap_eq(&pm, &outpm);
	md_shm_release(&out);
	md_pagemap_release(&outpm);

	/* the same bytes under the other name: refused for its kind */
	cr_assert_eq(renameat(dirfd, "sysvshm-779.img", dirfd, "shm-779.img"), 0);
	cr_assert_eq(image_read_shm(dirfd, false, in.id, &out, &outpm), -EINVAL);
	md_shm_release(&in);
	md_pagemap_release(&pm);
}

Test(image_roundtrip, inventory_sysv_ids)
{
	struct md_inventory in, out;

	synth_inventory(&in, 3);
	in.n_sysv_shm_ids = 2;
	in.sysv_shm_ids = calloc(2, sizeof(uint64_t));
	in.sysv_shm_ids[0] = 0;
	in.sysv_shm_ids[1] = 32769;
	cr_assert_eq(image_write_inventory(dirfd, &in), 0);
	cr_assert_eq(image_read_inventory(dirfd, &out), 0);
	cr_assert_eq(out.n_sysv_shm_ids, 2);
	cr_assert_eq(out.sysv_shm_ids[0], 0);
	cr_assert_eq(out.sysv_shm_ids[1], 32769);
	md_inventory_release(&in);
	md_inventory_release(&out);
}

Test(image_roundtrip, dir_open_create)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	cr_assert_eq(image_dir_open(path, true, &fd), 0);
	close(fd);
	/* Still empty: may be created again. */
	cr_assert_eq(image_dir_open(path, true, &fd), 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/a", dir);
	cr_assert_eq(image_dir_open(path, true, &fd), -EEXIST);
	cr_assert_eq(image_dir_open(path, false, &fd), 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/nonexistent", dir);
	cr_assert_eq(image_dir_open(path, false, &fd), -ENOENT);
}

/* pipes.img: an empty pipe (no bytes in flight, as libuv's wakeup pipes) next to a full one */
Test(image_roundtrip, pipes_empty_and_not)
{
	uint8_t bytes[5] = { 'h', 'e', 'l', 'l', 'o' };
	struct md_pipe in[2] = { { .id = 7, .size = 65536 }, { .id = 8, .size = 4096, .data = bytes, .len = 5 } };
	struct md_pipe *out = NULL;
	size_t n = 0;

	cr_assert_eq(image_write_pipes(dirfd, in, 2), 0);
	cr_assert_eq(image_read_pipes(dirfd, &out, &n), 0);
	cr_assert_eq(n, 2);
	cr_expect_eq(out[0].id, 7);
	cr_expect_eq(out[0].size, 65536);
	cr_expect_eq(out[0].len, 0);
	cr_expect_eq(out[1].id, 8);
	cr_assert_eq(out[1].len, 5);
	cr_expect_eq(memcmp(out[1].data, bytes, 5), 0);
	for (size_t i = 0; i < n; i++)
		md_pipe_release(&out[i]);
	free(out);
}

/* pipes.img: a FIFO's id is its inode number, an id space of its own beside pipefs' */
Test(image_roundtrip, pipes_and_fifos)
{
	uint8_t bytes[3] = { 'f', 'i', 'f' };
	struct md_pipe in[3] = { { .id = 7, .size = 4096 },
				 { .id = 7, .size = 65536, .fifo = true, .data = bytes, .len = 3 },
				 { .id = 9, .size = 4096, .fifo = true } };
	struct md_pipe *out = NULL;
	size_t n = 0;

	cr_assert_eq(image_write_pipes(dirfd, in, 3), 0);
	cr_assert_eq(image_read_pipes(dirfd, &out, &n), 0);
	cr_assert_eq(n, 3);
	for (size_t i = 0; i < n; i++) {
		cr_expect_eq(out[i].id, in[i].id);
		cr_expect_eq(out[i].fifo, in[i].fifo);
		cr_expect_eq(out[i].size, in[i].size);
		cr_assert_eq(out[i].len, in[i].len);
		if (in[i].len)
			cr_expect_eq(memcmp(out[i].data, in[i].data, in[i].len), 0);
		md_pipe_release(&out[i]);
	}
	free(out);
	/* the same FIFO twice is not */
	in[2].id = 7;
	cr_assert_eq(image_write_pipes(dirfd, in, 3), 0);
	cr_assert_eq(image_read_pipes(dirfd, &out, &n), -EINVAL);
}

/* an fd on a FIFO: its path and pipe come back; without an absolute path it is refused */
Test(image_roundtrip, fifo_fd)
{
	struct md_proc in, out;
	char *path;

	synth_proc(&in, 4242, 3);
	in.fds[1].kind = MD_FD_FIFO;
	in.fds[1].pipe_id = 77;
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, 4242, &out), 0);
	cr_assert_eq(out.fds[1].kind, MD_FD_FIFO);
	cr_assert_eq(out.fds[1].pipe_id, 77);
	cr_assert_str_eq(out.fds[1].path, in.fds[1].path);
	md_proc_release(&out);
	path = in.fds[1].path;
	in.fds[1].path = "relative/fifo";
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, 4242, &out), -EINVAL);
	in.fds[1].path = path;
	md_proc_release(&in);
}
