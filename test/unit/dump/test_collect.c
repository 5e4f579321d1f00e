/*
 * dump_collect_proc() and dump_collect_fds() on live forked children that
 * set up known state: ids, umask, cwd, personality, brk, and fd tables
 * with supported and unsupported kinds.
 */
#include "compat/pidfd.h"
#include "dump/internal.h"
#include "memdump/dump.h"
#include "memdump/model.h"
#include "child.h"
#include <linux/netlink.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>


static char tmpdir[PATH_MAX];



static void make_tmpdir(void)
{
	char t[] = "/tmp/md-collect-XXXXXX";

	cr_assert_not_null(mkdtemp(t));
	cr_assert_not_null(realpath(t, tmpdir));
}

static void remove_tmpdir(void)
{
	char cmd[PATH_MAX + 64];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

TestSuite(dump_collect, .init = make_tmpdir, .fini = remove_tmpdir);

static char *tpath(const char *name)
{
	static char buf[PATH_MAX + 64];

	snprintf(buf, sizeof(buf), "%s/%s", tmpdir, name);
	return buf;
}

/* ------------------------------------------------------------------ proc */

struct proc_info {
	uint64_t brk;
};

static void setup_proc(int sync_fd)
{
	struct proc_info info;

	prctl(PR_SET_NAME, "collect-kid");
	setpgid(0, 0);
	umask(027);
	if (chdir(tmpdir) < 0)
		_exit(1);
	personality(ADDR_NO_RANDOMIZE);
	if (sbrk(3 * 4096 + 100) == (void *)-1)
		_exit(1);
	info.brk = (uint64_t)(uintptr_t)sbrk(0);
	if (write(sync_fd, &info, sizeof(info)) != sizeof(info))
		_exit(1);
}

Test(dump_collect, proc_fields)
{
	struct md_proc p = {};
	struct proc_info info = {};
	char exe[PATH_MAX];
	ssize_t n;
	bool pagesz = false;
	pid_t pid;

	pid = start_child(setup_proc, &info, sizeof(info));
	cr_assert_eq(dump_collect_proc(pid, &p), 0);

	cr_expect_eq(p.pid, pid);
	cr_expect_eq(p.ppid, getpid());
	cr_expect_eq(p.pgid, pid);
	cr_expect_eq(p.sid, getsid(0));
	cr_expect_str_eq(p.comm, "collect-kid");
	cr_expect_eq(p.umask, 027);
	cr_expect_str_eq(p.cwd, tmpdir);

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	cr_assert_gt(n, 0);
	exe[n] = '\0';
	cr_expect_str_eq(p.exe, exe);

	cr_expect_eq(p.personality & ADDR_NO_RANDOMIZE, ADDR_NO_RANDOMIZE);

	/* brk: the end of [heap], i.e. sbrk(0) rounded up to a page */
	cr_expect_neq(info.brk, 0);
	cr_expect_eq(p.mm.brk, (info.brk + 4095) & ~4095ULL, "brk %#lx, child says %#lx",
		     (unsigned long)p.mm.brk, (unsigned long)info.brk);
	cr_expect_leq(p.mm.start_brk, p.mm.brk);
	cr_expect_lt(p.mm.start_code, p.mm.end_code);
	cr_expect_lt(p.mm.arg_start, p.mm.arg_end);
	cr_expect_lt(p.mm.env_start, p.mm.env_end);
	cr_expect_neq(p.mm.start_stack, 0);

	cr_assert_geq(p.auxv_len, 2);
	cr_assert_eq(p.auxv_len % 2, 0);
	cr_expect_eq(p.auxv[p.auxv_len - 2], AT_NULL);
	cr_expect_eq(p.auxv[p.auxv_len - 1], 0);
	for (size_t i = 0; i + 1 < p.auxv_len; i += 2) {
		if (p.auxv[i] == AT_PAGESZ) {
			cr_expect_eq(p.auxv[i + 1], 4096);
			pagesz = true;
		}
		if (p.auxv[i] == AT_NULL)
			cr_expect_eq(i, p.auxv_len - 2, "AT_NULL before the end");
	}
	cr_expect(pagesz, "no AT_PAGESZ in auxv");

	stop_child(pid);
	md_proc_release(&p);
}

/* ------------------------------------------------------------------- fds */

struct fds_info {
	uint64_t memfd_ino;
};

static void setup_fds(int sync_fd)
{
	struct fds_info info;
	struct stat st;
	char data[100] = { 1 };
	int fd;

	/* 3: read-write regular file at offset 37 */
	fd = open(tpath("a"), O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd != 3 || write(fd, data, sizeof(data)) != sizeof(data) || lseek(fd, 37, SEEK_SET) != 37)
		_exit(1);
	/* 4: append-only, close-on-exec */
	fd = open(tpath("b"), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd != 4)
		_exit(1);
	/* 5: memfd */
	fd = memfd_create("testmem", 0);
	if (fd != 5 || ftruncate(fd, 8192) < 0 || fstat(fd, &st) < 0)
		_exit(1);
	info.memfd_ino = st.st_ino;
	/* 6: a directory */
	fd = open(tmpdir, O_RDONLY | O_DIRECTORY);
	if (fd != 6)
		_exit(1);
	/* 9: /dev/zero after a gap */
	fd = open("/dev/zero", O_RDONLY);
	if (fd < 0 || dup2(fd, 9) != 9)
		_exit(1);
	close(fd);
	/* 10: a file whose real name ends in " (deleted)" is not deleted */
	fd = open(tpath("c (deleted)"), O_RDONLY | O_CREAT, 0600);
	if (fd < 0 || dup2(fd, 10) != 10)
		_exit(1);
	close(fd);

	if (write(sync_fd, &info, sizeof(info)) != sizeof(info))
		_exit(1);
}

Test(dump_collect, fds_supported_kinds)
{
	static const int want_fd[] = { 0, 1, 2, 3, 4, 5, 6, 9, 10 };
	struct md_proc p = {};
	struct fds_info info = {};
	pid_t pid;

	pid = start_child(setup_fds, &info, sizeof(info));
	cr_assert_eq(dump_collect_fds(pid, &p), 0);

	cr_assert_eq(p.n_fds, sizeof(want_fd) / sizeof(want_fd[0]), "n_fds %zu", p.n_fds);
	for (size_t i = 0; i < p.n_fds; i++)
		cr_expect_eq(p.fds[i].fd, want_fd[i], "fds[%zu].fd = %d", i, p.fds[i].fd);

	for (int i = 0; i < 3; i++) {
		cr_expect_eq(p.fds[i].kind, MD_FD_CHR);
		cr_expect_str_eq(p.fds[i].path, "/dev/null");
		cr_expect_eq(p.fds[i].flags & O_ACCMODE, O_RDWR);
		cr_expect(S_ISCHR(p.fds[i].mode));
	}

	cr_expect_eq(p.fds[3].kind, MD_FD_REG);
	cr_expect_str_eq(p.fds[3].path, tpath("a"));
	cr_expect_eq(p.fds[3].pos, 37);
	cr_expect_eq(p.fds[3].flags & O_ACCMODE, O_RDWR);
	cr_expect_eq(p.fds[3].flags & (O_APPEND | O_CLOEXEC), 0);
	cr_expect(S_ISREG(p.fds[3].mode));

	cr_expect_eq(p.fds[4].kind, MD_FD_REG);
	cr_expect_str_eq(p.fds[4].path, tpath("b"));
	cr_expect_eq(p.fds[4].flags & O_ACCMODE, O_WRONLY);
	cr_expect_eq(p.fds[4].flags & O_APPEND, O_APPEND);
	cr_expect_eq(p.fds[4].flags & O_CLOEXEC, O_CLOEXEC);
	cr_expect_eq(O_CLOEXEC, 02000000);

	cr_expect_eq(p.fds[5].kind, MD_FD_MEMFD);
	cr_expect_str_eq(p.fds[5].path, "/memfd:testmem");
	cr_expect_eq(p.fds[5].shm_id, info.memfd_ino);
	cr_expect_neq(info.memfd_ino, 0);

	cr_expect_eq(p.fds[6].kind, MD_FD_DIR);
	cr_expect_str_eq(p.fds[6].path, tmpdir);
	cr_expect(S_ISDIR(p.fds[6].mode));

	cr_expect_eq(p.fds[7].kind, MD_FD_CHR);
	cr_expect_str_eq(p.fds[7].path, "/dev/zero");
	cr_expect_eq(p.fds[7].flags & O_ACCMODE, O_RDONLY);

	cr_expect_eq(p.fds[8].kind, MD_FD_REG);
	cr_expect_str_eq(p.fds[8].path, tpath("c (deleted)"));

	stop_child(pid);
	md_proc_release(&p);
}

/* a pipe at fds 10 (read) and 11 (write, non-blocking) with 5 bytes in it */
static void setup_pipe(int sync_fd)
{
	int p[2];

	if (pipe(p) < 0 || dup2(p[0], 10) < 0 || dup2(p[1], 11) < 0)
		_exit(1);
	close(p[0]);
	close(p[1]);
	if (fcntl(11, F_SETFL, O_NONBLOCK) < 0 || write(11, "hello", 5) != 5)
		_exit(1);
}

Test(dump_collect, pipe_ends_and_bytes)
{
	struct md_proc p = {};
	struct md_pipe *pipes = NULL;
	size_t n = 0;
	char path[64], buf[8] = "";
	int fd;
	pid_t pid;

	pid = start_child(setup_pipe, NULL, 0);
	cr_assert_eq(dump_collect_fds(pid, &p), 0);
	p.pid = pid;
	cr_assert_eq(p.n_fds, 5);
	cr_expect_eq(p.fds[3].fd, 10);
	cr_expect_eq(p.fds[3].kind, MD_FD_PIPE);
	cr_expect_eq(p.fds[3].flags & O_ACCMODE, O_RDONLY);
	cr_expect_eq(p.fds[4].kind, MD_FD_PIPE);
	cr_expect_eq(p.fds[4].flags & (O_ACCMODE | O_NONBLOCK), O_WRONLY | O_NONBLOCK);
	cr_expect_neq(p.fds[3].pipe_id, 0);
	cr_expect_eq(p.fds[3].pipe_id, p.fds[4].pipe_id);

	cr_assert_eq(dump_link_fds(&p, 1), 0);
	/* 0-2 are one /dev/null description; each pipe end is its own */
	cr_expect_eq(p.fds[0].ofd, p.fds[1].ofd);
	cr_expect_eq(p.fds[0].ofd, p.fds[2].ofd);
	cr_expect_neq(p.fds[3].ofd, p.fds[4].ofd);
	cr_expect_neq(p.fds[3].ofd, p.fds[0].ofd);

	cr_assert_eq(dump_pipes(&p, 1, &pipes, &n), 0);
	cr_assert_eq(n, 1);
	cr_expect_eq(pipes[0].id, p.fds[3].pipe_id);
	cr_expect_eq(pipes[0].len, 5);
	cr_expect_eq(memcmp(pipes[0].data, "hello", 5), 0);
	cr_expect_geq(pipes[0].size, 4096);

	/* peeked, not taken: the bytes are still there for the reader */
	snprintf(path, sizeof(path), "/proc/%d/fd/10", pid);
	fd = open(path, O_RDONLY | O_NONBLOCK);
	cr_assert_geq(fd, 0);
	cr_expect_eq(read(fd, buf, sizeof(buf)), 5);
	cr_expect_str_eq(buf, "hello");
	close(fd);

	md_pipe_release(&pipes[0]);
	free(pipes);
	stop_child(pid);
	md_proc_release(&p);
}

/* 300 descriptions of /dev/null at fds 300..599, and fd 700 + k a dup of fd 300 + 7k (k < 40) */
static void setup_many_nulls(int sync_fd)
{
	(void)sync_fd;
	for (int i = 300; i < 600; i++) {
		int fd = open("/dev/null", O_RDONLY);

		if (fd < 0 || dup2(fd, i) < 0)
			_exit(1);
		close(fd);
	}
	for (int k = 0; k < 40; k++)
		if (dup2(300 + 7 * k, 700 + k) < 0)
			_exit(1);
}

/* p's fd fd, which must be there */
static const struct md_fd *fd_of(const struct md_proc *p, int fd)
{
	for (size_t i = 0; i < p->n_fds; i++)
		if (p->fds[i].fd == fd)
			return &p->fds[i];
	cr_assert_fail("no fd %d", fd);
	return NULL;
}

/* many fds on one inode: the descriptions they share, and only those, numbered as they first come */
Test(dump_collect, many_descriptions_on_one_inode)
{
	struct md_proc p = {};
	uint64_t max = 0;
	pid_t pid;

	pid = start_child(setup_many_nulls, NULL, 0);
	cr_assert_eq(dump_collect_fds(pid, &p), 0);
	p.pid = pid;
	cr_assert_eq(dump_link_fds(&p, 1), 0);
	for (size_t i = 0; i < p.n_fds; i++) {
		const struct md_fd *f = &p.fds[i];

		/* a new description gets the next number */
		cr_assert_leq(f->ofd, max + 1, "fd %d: ofd %llu after %llu", f->fd, (unsigned long long)f->ofd,
			      (unsigned long long)max);
		if (f->ofd > max)
			max = f->ofd;
	}
	/* 0-2 share one, 300..599 have one each */
	cr_expect_eq(max, 1 + 300);
	for (int a = 300; a < 600; a++)
		for (int b = a + 1; b < 600; b++)
			cr_assert_neq(fd_of(&p, a)->ofd, fd_of(&p, b)->ofd, "fds %d and %d", a, b);
	for (int k = 0; k < 40; k++) {
		cr_expect_eq(fd_of(&p, 700 + k)->ofd, fd_of(&p, 300 + 7 * k)->ofd, "fd %d", 700 + k);
		cr_expect_eq(fd_of(&p, 700 + k)->dup_of, 300 + 7 * k, "fd %d", 700 + k);
		cr_expect_eq(fd_of(&p, 300 + 7 * k)->dup_of, -1);
	}
	cr_expect_eq(fd_of(&p, 2)->dup_of, 0);
	stop_child(pid);
	md_proc_release(&p);
}

/*
 * The same, and a child that inherits them, opens fd 301 anew and dups fd
 * 302 to 800 (its pid to sync_fd)
 */
static void setup_nulls_and_child(int sync_fd)
{
	int ready[2];
	char c;
	pid_t kid;

	setup_many_nulls(sync_fd);
	if (pipe2(ready, O_CLOEXEC) < 0)
		_exit(1);
	kid = fork();
	if (kid == 0) {
		int fd;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sync_fd);
		close(ready[0]);
		close(301);
		fd = open("/dev/null", O_RDONLY);
		if (fd < 0 || dup2(fd, 301) < 0 || dup2(302, 800) < 0)
			_exit(1);
		close(fd);
		close(ready[1]);
		for (;;)
			pause();
	}
	/* EOF once the child's table is final */
	close(ready[1]);
	if (kid < 0 || read(ready[0], &c, 1) != 0)
		_exit(1);
	close(ready[0]);
	if (write(sync_fd, &kid, sizeof(kid)) != sizeof(kid))
		_exit(1);
}

/* across processes: what fork() shares is one description, what each opens its own */
Test(dump_collect, descriptions_shared_across_processes)
{
	struct md_proc p[2] = {};
	pid_t pid, kid = 0;

	pid = start_child(setup_nulls_and_child, &kid, sizeof(kid));
	cr_assert_eq(dump_collect_fds(pid, &p[0]), 0);
	cr_assert_eq(dump_collect_fds(kid, &p[1]), 0);
	p[0].pid = pid;
	p[1].pid = kid;
	cr_assert_eq(dump_link_fds(p, 2), 0);
	cr_expect_eq(fd_of(&p[1], 300)->ofd, fd_of(&p[0], 300)->ofd);
	cr_expect_eq(fd_of(&p[1], 599)->ofd, fd_of(&p[0], 599)->ofd);
	cr_expect_eq(fd_of(&p[1], 700)->ofd, fd_of(&p[0], 300)->ofd);
	/* the child's own: the next number after the parent's 301 */
	cr_expect_eq(fd_of(&p[1], 301)->ofd, 1 + 300 + 1);
	cr_expect_eq(fd_of(&p[1], 800)->ofd, fd_of(&p[0], 302)->ofd);
	/* dup_of names an fd of the same process */
	cr_expect_eq(fd_of(&p[1], 300)->dup_of, -1);
	cr_expect_eq(fd_of(&p[1], 800)->dup_of, 302);
	cr_expect_eq(fd_of(&p[1], 700)->dup_of, 300);
	kill(kid, SIGKILL);
	stop_child(pid);
	md_proc_release(&p[0]);
	md_proc_release(&p[1]);
}

/* fd 11 is the write end; the read end lives only in a child of ours, outside the "tree" */
static void setup_half_pipe(int sync_fd)
{
	int p[2];

	if (pipe(p) < 0 || dup2(p[1], 11) < 0)
		_exit(1);
	close(p[1]);
	if (fork() == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(11);
		close(sync_fd);
		for (;;)
			pause();
	}
	close(p[0]);
}

Test(dump_collect, pipe_with_an_end_outside_is_refused)
{
	struct md_proc p = {};
	struct md_pipe *pipes = NULL;
	size_t n = 0;
	pid_t pid;

	pid = start_child(setup_half_pipe, NULL, 0);
	cr_assert_eq(dump_collect_fds(pid, &p), 0);
	p.pid = pid;
	cr_assert_eq(dump_link_fds(&p, 1), 0);
	/* the read end lives on in the helper child, which is not in the list */
	cr_expect_eq(dump_pipes(&p, 1, &pipes, &n), -ENOTSUP);
	cr_expect_null(pipes);
	stop_child(pid);
	md_proc_release(&p);
}

/* a family memdump does not restore */
/* fd 3: a packet socket, a family memdump does not restore */
static void setup_socket(int sync_fd)
{
	if (socket(AF_PACKET, SOCK_DGRAM, 0) < 0)
		_exit(1);
}

/* fd 3: a route netlink socket bound by the kernel, in group 5, connected to port 99 */
static void setup_netlink(int sync_fd)
{
	struct sockaddr_nl a = { .nl_family = AF_NETLINK }, to = { .nl_family = AF_NETLINK, .nl_pid = 99 };
	int fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE), g = 5;

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) < 0 ||
	    connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0)
		_exit(1);
}

Test(dump_collect, netlink)
{
	struct md_proc p = {};
	pid_t pid;

	pid = start_child(setup_netlink, NULL, 0);
	cr_assert_eq(dump_collect_fds(pid, &p), 0);
	stop_child(pid);
	cr_assert_geq(p.n_fds, 4);
	cr_expect_eq(p.fds[3].kind, MD_FD_NETLINK_SOCKET);
	cr_expect_eq(p.fds[3].sock.family, AF_NETLINK);
	cr_expect_eq(p.fds[3].sock.protocol, NETLINK_ROUTE);
	cr_expect_neq(p.fds[3].sock.nl_portid, 0);
	cr_expect_eq(p.fds[3].sock.nl_groups[0], 1u << 4);
	cr_expect_eq(p.fds[3].sock.nl_dst_portid, 99);
	md_proc_release(&p);
}

/* fds 3, 4: a unix datagram pair, fd 4 with SO_PASSCRED */
static void setup_socketpair(int sync_fd)
{
	int s[2], one = 1;

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, s) < 0 ||
	    setsockopt(s[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
		_exit(1);
}

Test(dump_collect, socketpair)
{
	struct md_proc p = {};
	pid_t pid;

	pid = start_child(setup_socketpair, NULL, 0);
	cr_assert_eq(dump_collect_fds(pid, &p), 0);
	stop_child(pid);
	cr_assert_geq(p.n_fds, 5);
	for (int i = 3; i <= 4; i++) {
		cr_expect_eq(p.fds[i].kind, MD_FD_UNIX_SOCKET);
		cr_expect_eq(p.fds[i].sock.family, AF_UNIX);
		cr_expect_eq(p.fds[i].sock.type, SOCK_DGRAM);
		cr_expect_eq(p.fds[i].sock.ino, p.fds[i].ino);
	}
	cr_expect(!p.fds[3].sock.passcred);
	cr_expect(p.fds[4].sock.passcred);
	md_proc_release(&p);
}

/* an fd of a kind memdump does not know */
static void setup_userfaultfd(int sync_fd)
{
	if (syscall(SYS_userfaultfd, O_CLOEXEC) < 0)
		_exit(1);
}

static void epoll_add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		_exit(1);
}

/* fd 3 an epoll fd watching both ends of the pipe at 4 and 5; fd 6 an epoll fd watching fd 3 */
static void setup_epoll(int sync_fd)
{
	int p[2];

	if (epoll_create1(0) != 3 || pipe(p) < 0 || p[0] != 4 || epoll_create1(EPOLL_CLOEXEC) != 6)
		_exit(1);
	epoll_add(3, 4, EPOLLIN, 0x1111);
	epoll_add(3, 5, EPOLLOUT | EPOLLET, 0xdeadbeefcafeULL);
	epoll_add(6, 3, EPOLLIN, 3);
}

/* the watched pipe end moved from fd 4 to fd 7: the item is still keyed by 4 */
static void setup_epoll_moved(int sync_fd)
{
	int p[2];

	if (epoll_create1(0) != 3 || pipe(p) < 0 || p[0] != 4)
		_exit(1);
	epoll_add(3, 4, EPOLLIN, 1);
	if (dup2(4, 7) < 0 || close(4) < 0)
		_exit(1);
}

/* fd 4 closed and reused for another file after it was added */
static void setup_epoll_reused(int sync_fd)
{
	int p[2];

	if (epoll_create1(0) != 3 || pipe(p) < 0 || p[0] != 4)
		_exit(1);
	epoll_add(3, 4, EPOLLIN, 1);
	if (dup2(4, 9) < 0 || close(4) < 0 || eventfd(0, 0) != 4)
		_exit(1);
}

/*
 * Items added with a number later closed and taken by another file: pipe
 * A added as fd 4 (data 1), moved to 9, pipe B added as fd 4 (2); socket C
 * added as fd 7 (3), moved to 10, socket D added as fd 7 (4); C's peer at
 * 8 (5). Pipes are told apart by kcmp(), sockets by fdinfo's inode.
 */
static void setup_epoll_renumbered(int sync_fd)
{
	int p[2], s[2];

	if (epoll_create1(0) != 3 || pipe(p) < 0 || p[0] != 4)
		_exit(1);
	epoll_add(3, 4, EPOLLIN, 1);
	if (dup2(4, 9) < 0 || close(4) < 0 || pipe(p) < 0 || p[0] != 4)
		_exit(1);
	epoll_add(3, 4, EPOLLIN, 2);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) < 0 || s[0] != 7 || s[1] != 8)
		_exit(1);
	epoll_add(3, 7, EPOLLIN, 3);
	if (dup2(7, 10) < 0 || close(7) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, s) < 0 || s[0] != 7)
		_exit(1);
	epoll_add(3, 7, EPOLLIN, 4);
	epoll_add(3, 8, EPOLLIN, 5);
}

Test(dump_collect, epoll_items_on_a_reused_number_told_apart)
{
	struct md_proc p = {};
	const struct md_fd *e;
	pid_t pid;

	pid = start_child(setup_epoll_renumbered, NULL, 0);
	cr_assert_eq(dump_collect_fds(pid, &p), 0);
	p.pid = pid;
	cr_expect_eq(dump_link_fds(&p, 1), 0);
	stop_child(pid);
	e = md_proc_fd(&p, 3);
	cr_assert_not_null(e);
	cr_assert_eq(e->n_epoll, 5);
	for (size_t k = 0; k < 5; k++) {
		const struct md_epoll_item *it = &e->epoll[k];
		/* the first and third were moved: found at their new numbers */
		int at = it->data == 1 ? 9 : it->data == 3 ? 10 : it->tfd;
		uint64_t want = md_proc_fd(&p, at)->ofd;

		cr_expect(it->file_known);
		cr_expect_eq(it->ofd, want, "item %llu: ofd %llu, not %llu", (unsigned long long)it->data,
			     (unsigned long long)it->ofd, (unsigned long long)want);
	}
	cr_expect_neq(md_proc_fd(&p, 4)->ofd, md_proc_fd(&p, 9)->ofd);
	cr_expect_neq(md_proc_fd(&p, 7)->ofd, md_proc_fd(&p, 10)->ofd);
	md_proc_release(&p);
}

/* fds 3, 4, 5: an eventfd at 9, a signalfd for SIGUSR2, a periodic timerfd on CLOCK_BOOTTIME */
static void setup_anon(int sync_fd)
{
	struct itimerspec it = { { 2, 0 }, { 100, 0 } };
	sigset_t set;
	int t;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	if (eventfd(9, EFD_SEMAPHORE) != 3 || signalfd(-1, &set, 0) != 4)
		_exit(1);
	t = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK);
	if (t != 5 || timerfd_settime(t, 0, &it, NULL) < 0)
		_exit(1);
}

Test(dump_collect, eventfd_signalfd_timerfd_with_their_state)
{
	struct md_proc p = {};
	pid_t pid;

	pid = start_child(setup_anon, NULL, 0);
	cr_assert_eq(dump_collect_fds(pid, &p), 0);
	stop_child(pid);
	cr_assert_geq(p.n_fds, 6);
	cr_expect_eq(p.fds[3].kind, MD_FD_EVENTFD);
	cr_expect_eq(p.fds[3].count, 9);
	cr_expect(p.fds[3].semaphore);
	cr_expect_eq(p.fds[4].kind, MD_FD_SIGNALFD);
	cr_expect_eq(p.fds[4].sigmask, 1ULL << (SIGUSR2 - 1));
	cr_expect_eq(p.fds[5].kind, MD_FD_TIMERFD);
	cr_expect_eq(p.fds[5].timer.clockid, CLOCK_BOOTTIME);
	cr_expect_eq(p.fds[5].timer.interval_ns, 2000000000ULL);
	cr_expect(p.fds[5].timer.value_ns > 90000000000ULL && p.fds[5].timer.value_ns <= 100000000000ULL);
	cr_expect(p.fds[5].flags & O_NONBLOCK);
	md_proc_release(&p);
}

/*
 * fd 3: its own pidfd (non-blocking); fds 4 and 5: two on a child that exited 3, reaped; fd 6:
 * its parent's (not in a tree)
 */
static void setup_pidfds(int sync_fd)
{
	pid_t c;

	if (md_pidfd_open_flags(getpid(), PIDFD_NONBLOCK) != 3)
		_exit(1);
	c = fork();
	if (c == 0)
		_exit(3);
	if (c < 0 || md_pidfd_open(c) != 4 || md_pidfd_open(c) != 5 || waitpid(c, NULL, 0) != c ||
	    md_pidfd_open(getppid()) != 6)
		_exit(1);
}

/* fd 3: its main thread's pidfd (PIDFD_THREAD) */
static void setup_thread_pidfd(int sync_fd)
{
	if (md_pidfd_open_flags(getpid(), PIDFD_THREAD) != 3)
		_exit(1);
}

Test(dump_collect, pidfds_and_their_processes)
{
	struct md_proc p = {}, tree[2] = {};
	pid_t pid;

	pid = start_child(setup_pidfds, NULL, 0);
	cr_assert_eq(dump_collect_fds(pid, &p), 0);
	stop_child(pid);
	p.pid = pid;
	cr_assert_eq(p.n_fds, 7);
	cr_expect_eq(p.fds[3].kind, MD_FD_PIDFD);
	cr_expect_eq(p.fds[3].pidfd_pid, pid);
	cr_expect(p.fds[3].flags & O_NONBLOCK);
	cr_expect_not(p.fds[3].pidfd_gone);
	cr_expect_not(p.fds[3].pidfd_exit_known);
	for (int i = 4; i <= 5; i++) {
		cr_expect_eq(p.fds[i].kind, MD_FD_PIDFD);
		cr_expect_eq(p.fds[i].pidfd_pid, 0, "a reaped child's pidfd names %d", p.fds[i].pidfd_pid);
		/* one process, told apart where pidfds have an inode each (pidfs, 6.9) */
		cr_expect_eq(p.fds[i].pidfd_gone, p.fds[i].ino);
		cr_expect_eq(p.fds[i].pidfd_gone, p.fds[4].pidfd_gone);
		/* its exit code where the kernel tells it (6.15) */
		cr_expect(!p.fds[i].pidfd_exit_known || p.fds[i].pidfd_exit == 0x300);
	}
	cr_expect_eq(p.fds[6].kind, MD_FD_PIDFD);
	cr_expect_eq(p.fds[6].pidfd_pid, getpid());
	cr_expect_not(p.fds[6].flags & O_NONBLOCK);
	/* its parent is no process of a tree of it alone; of one with the parent (a zombie, say), it is */
	cr_expect_eq(dump_link_pidfds(&p, 1, 1), -ENOTSUP);
	tree[0] = p;
	tree[1] = (struct md_proc){ .pid = getpid(), .zombie = true };
	cr_expect_eq(dump_link_pidfds(tree, 1, 2), 0);
	md_proc_release(&p);
}

/* fd 3: a deleted file of 5000 bytes; fd 4: a deleted directory */
static void setup_deleted(int sync_fd)
{
	int fd = open(tpath("gone"), O_RDWR | O_CREAT, 0640);

	if (fd != 3 || ftruncate(fd, 5000) < 0 || unlink(tpath("gone")) < 0)
		_exit(1);
}

static void setup_deleted_dir(int sync_fd)
{
	if (mkdir(tpath("gonedir"), 0750) < 0 || chmod(tpath("gonedir"), 0750) < 0 ||
	    open(tpath("gonedir"), O_RDONLY | O_DIRECTORY) != 3 || rmdir(tpath("gonedir")) < 0)
		_exit(1);
}

/* fd 3: "a", deleted while "b" still names it: restore could open it by neither */
static void setup_deleted_linked(int sync_fd)
{
	char a[PATH_MAX + 64];
	int fd;

	snprintf(a, sizeof(a), "%s", tpath("a"));
	fd = open(a, O_RDWR | O_CREAT, 0600);
	if (fd != 3 || link(a, tpath("b")) < 0 || unlink(a) < 0)
		_exit(1);
}

/* fd 3: a POSIX message queue removed since (mq_unlink()): restore could open it by no name */
static void setup_mqueue_removed(int sync_fd)
{
	char name[64];

	snprintf(name, sizeof(name), "/memdump-collect-%d", (int)getpid());
	if (mq_open(name, O_RDWR | O_CREAT, 0600, NULL) != 3)
		_exit(1);
	mq_unlink(name);
}

/* the name of the queue of the test (its parent's pid: the children's is another) */
static const char *mq_name(void)
{
	static char name[64];

	snprintf(name, sizeof(name), "/memdump-collect-mq-%d", (int)getppid());
	return name;
}

/* fd 3: POSIX message queue mq_name(), write-only, non-blocking; in an IPC namespace of its own if asked */
static void setup_mqueue_write(bool own_ns)
{
	if (own_ns && unshare(CLONE_NEWIPC) < 0)
		_exit(1);
	if (mq_open(mq_name(), O_WRONLY | O_NONBLOCK | O_CREAT, 0600, NULL) != 3)
		_exit(1);
}

static void setup_mqueue(int sync_fd)
{
	setup_mqueue_write(false);
}

static void setup_mqueue_own_ns(int sync_fd)
{
	setup_mqueue_write(true);
}

/* the same, opened by its path on a mount of the queues' file system (as /dev/mqueue is) */
static void setup_mqueue_mounted(int sync_fd)
{
	char path[PATH_MAX + 128];

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mkdir(tpath("mq"), 0700) < 0 || mount("none", tpath("mq"), "mqueue", 0, NULL) < 0)
		_exit(1);
	snprintf(path, sizeof(path), "%s%s", tpath("mq"), mq_name());
	if (open(path, O_WRONLY | O_NONBLOCK | O_CREAT, 0600) != 3)
		_exit(1);
}

/* fd 3 of the child is a queue by name; in memdump's namespace it is kept, in another refused */
static void expect_mqueue(void (*setup)(int), int want)
{
	struct md_proc p = {};
	struct dump_ns ns = {};
	char name[64];

	/* the child's parent is us */
	snprintf(name, sizeof(name), "/memdump-collect-mq-%d", (int)getpid());
	p.pid = start_child(setup, NULL, 0);
	cr_assert_eq(dump_collect_fds(p.pid, &p), 0);
	cr_assert_geq(p.n_fds, 4);
	cr_expect_eq(p.fds[3].kind, MD_FD_MQUEUE);
	cr_expect_str_eq(p.fds[3].path, name);
	cr_expect_eq(p.fds[3].flags & (O_ACCMODE | O_NONBLOCK), O_WRONLY | O_NONBLOCK);
	cr_expect_eq(dump_mqueues(&ns, &p, 1), want);
	stop_child(p.pid);
	mq_unlink(name);
	md_proc_release(&p);
}

Test(dump_collect, mqueue_by_name) { expect_mqueue(setup_mqueue, 0); }
Test(dump_collect, mqueue_by_a_mount_path) { expect_mqueue(setup_mqueue_mounted, 0); }
Test(dump_collect, mqueue_of_another_ipcns_is_refused) { expect_mqueue(setup_mqueue_own_ns, -ENOTSUP); }

/* fd 3: a file on a tmpfs detached since: its name leads nowhere */
static void setup_detached(int sync_fd)
{
	if (mkdir(tpath("mnt"), 0700) < 0 || mount("none", tpath("mnt"), "tmpfs", 0, NULL) < 0 ||
	    open(tpath("mnt/f"), O_RDWR | O_CREAT, 0600) != 3 || umount2(tpath("mnt"), MNT_DETACH) < 0)
		_exit(1);
}

/* fd 3: inotify, watching tmpdir (wd 1) and "f" (wd 3; wd 2 removed) */
static void setup_inotify(int sync_fd)
{
	int fd = inotify_init1(IN_NONBLOCK), f = open(tpath("f"), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

	if (fd != 3 || f < 0 || inotify_add_watch(fd, tpath(""), IN_CREATE) != 1 ||
	    inotify_add_watch(fd, tpath("f"), IN_ATTRIB) != 2 || inotify_rm_watch(fd, 2) < 0 ||
	    inotify_add_watch(fd, tpath("f"), IN_MODIFY | IN_ONESHOT) != 3)
		_exit(1);
	close(f);
}

Test(dump_collect, deleted_file_is_a_ghost)
{
	struct md_proc p = {};
	pid_t pid;

	pid = start_child(setup_deleted, NULL, 0);
	cr_assert_eq(dump_collect_fds(pid, &p), 0);
	stop_child(pid);
	cr_assert_geq(p.n_fds, 4);
	cr_expect_eq(p.fds[3].kind, MD_FD_REG);
	cr_expect_str_eq(p.fds[3].path, tpath("gone"));
	cr_assert_not_null(p.fds[3].ghost);
	cr_expect_eq(p.fds[3].ghost->size, 5000);
	cr_expect_eq(p.fds[3].mode & 07777, 0640);
	cr_expect_null(p.fds[0].ghost);
	md_proc_release(&p);
}

Test(dump_collect, inotify_watches_by_path)
{
	struct md_proc p = {};
	char dir[PATH_MAX + 64];
	pid_t pid;

	pid = start_child(setup_inotify, NULL, 0);
	cr_assert_eq(dump_collect_fds(pid, &p), 0);
	stop_child(pid);
	cr_assert_geq(p.n_fds, 4);
	cr_expect_eq(p.fds[3].kind, MD_FD_INOTIFY);
	cr_expect(p.fds[3].flags & O_NONBLOCK);
	cr_assert_eq(p.fds[3].n_watches, 2);
	snprintf(dir, sizeof(dir), "%s", tpath(""));
	dir[strlen(dir) - 1] = '\0';	/* no trailing slash: the path the kernel gives */
	cr_expect_eq(p.fds[3].watches[0].wd, 1);
	cr_expect_str_eq(p.fds[3].watches[0].path, dir);
	cr_expect_eq(p.fds[3].watches[0].mask, IN_CREATE);
	cr_expect_eq(p.fds[3].watches[1].wd, 3);
	cr_expect_str_eq(p.fds[3].watches[1].path, tpath("f"));
	cr_expect_eq(p.fds[3].watches[1].mask, IN_MODIFY | IN_ONESHOT);
	md_proc_release(&p);
}

static void expect_enotsup(void (*setup)(int))
{
	struct md_proc p = {};
	pid_t pid;

	pid = start_child(setup, NULL, 0);
	cr_expect_eq(dump_collect_fds(pid, &p), -ENOTSUP);
	cr_expect_eq(p.n_fds, 0);
	cr_expect_null(p.fds);
	stop_child(pid);
	md_proc_release(&p);
}

Test(dump_collect, socket_is_refused) { expect_enotsup(setup_socket); }
Test(dump_collect, unknown_anon_inode_is_refused) { expect_enotsup(setup_userfaultfd); }

Test(dump_collect, epoll_items_and_the_files_they_watch)
{
	struct md_proc p = {};
	pid_t pid;

	pid = start_child(setup_epoll, NULL, 0);
	cr_assert_eq(dump_collect_fds(pid, &p), 0);
	p.pid = pid;
	cr_assert_eq(dump_link_fds(&p, 1), 0);
	stop_child(pid);
	cr_assert_geq(p.n_fds, 7);
	cr_assert_eq(p.fds[3].kind, MD_FD_EPOLL);
	cr_assert_eq(p.fds[3].n_epoll, 2);
	for (size_t k = 0; k < 2; k++) {
		const struct md_epoll_item *it = &p.fds[3].epoll[k];

		cr_assert(it->tfd == 4 || it->tfd == 5);
		cr_expect_eq(it->ofd, p.fds[it->tfd].ofd);
		cr_expect_eq(it->data, it->tfd == 4 ? 0x1111 : 0xdeadbeefcafeULL);
		cr_expect_eq(it->events, it->tfd == 4 ? (EPOLLIN | EPOLLERR | EPOLLHUP) :
							(EPOLLOUT | EPOLLET | EPOLLERR | EPOLLHUP));
	}
	cr_assert_eq(p.fds[6].kind, MD_FD_EPOLL);
	cr_expect(p.fds[6].flags & O_CLOEXEC);
	cr_assert_eq(p.fds[6].n_epoll, 1);
	cr_expect_eq(p.fds[6].epoll[0].tfd, 3);
	cr_expect_eq(p.fds[6].epoll[0].ofd, p.fds[3].ofd);
	md_proc_release(&p);
}

/*
 * An item whose file is no longer at its number is found where it is now
 * (fd at), not at the other end of its pipe, or refused where it may not
 * be added back at another number, or is not in the tree (at < 0).
 */
static void expect_epoll_item_at(void (*setup)(int), int at)
{
	struct md_proc p = {};
	pid_t pid;

	pid = start_child(setup, NULL, 0);
	cr_assert_eq(dump_collect_fds(pid, &p), 0);
	p.pid = pid;
	cr_expect_eq(dump_link_fds(&p, 1), at < 0 ? -ENOTSUP : 0);
	cr_expect_eq(p.fds[3].epoll[0].ofd, at < 0 ? 0 : md_proc_fd(&p, at)->ofd);
	stop_child(pid);
	md_proc_release(&p);
}

/* a signalfd's item is added back by a process holding it at its number */
static void setup_epoll_signalfd_moved(int sync_fd)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (epoll_create1(0) != 3 || signalfd(-1, &set, 0) != 4)
		_exit(1);
	epoll_add(3, 4, EPOLLIN, 1);
	if (dup2(4, 7) < 0 || close(4) < 0)
		_exit(1);
}

/* epoll fd 3 watches pipe end 4, then left to a child (without the epoll fd) that sleeps: its pid */
static pid_t leave_pipe_to_child(int sync_fd)
{
	int p[2];
	pid_t pid;

	if (epoll_create1(0) != 3 || pipe(p) < 0 || p[0] != 4)
		_exit(1);
	epoll_add(3, 4, EPOLLIN, 1);
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(3);
		close(sync_fd);
		for (;;)
			pause();
	}
	if (pid < 0 || close(4) < 0)
		_exit(1);
	return pid;
}

/* the child is outside what is dumped */
static void setup_epoll_left_outside(int sync_fd)
{
	leave_pipe_to_child(sync_fd);
}

/* the child is dumped too: its pid goes to sync_fd */
static void setup_epoll_left_to_child(int sync_fd)
{
	pid_t pid = leave_pipe_to_child(sync_fd);

	if (write(sync_fd, &pid, sizeof(pid)) != sizeof(pid))
		_exit(1);
}

Test(dump_collect, epoll_item_found_in_another_process)
{
	struct md_proc p[2] = {};
	pid_t child;

	p[0].pid = start_child(setup_epoll_left_to_child, &child, sizeof(child));
	p[1].pid = child;
	cr_assert_eq(dump_collect_fds(p[0].pid, &p[0]), 0);
	cr_assert_eq(dump_collect_fds(p[1].pid, &p[1]), 0);
	cr_expect_eq(dump_link_fds(p, 2), 0);
	cr_assert_null(md_proc_fd(&p[0], 4));
	cr_assert_not_null(md_proc_fd(&p[1], 4));
	cr_expect_eq(md_proc_fd(&p[0], 3)->epoll[0].ofd, md_proc_fd(&p[1], 4)->ofd);
	cr_expect_neq(md_proc_fd(&p[1], 4)->ofd, md_proc_fd(&p[1], 5)->ofd, "not the pipe's other end");
	stop_child(p[0].pid);
	md_proc_release(&p[0]);
	md_proc_release(&p[1]);
}

Test(dump_collect, epoll_item_moved_is_found) { expect_epoll_item_at(setup_epoll_moved, 7); }
Test(dump_collect, epoll_item_fd_reused_is_found) { expect_epoll_item_at(setup_epoll_reused, 9); }
Test(dump_collect, epoll_item_signalfd_moved_is_refused) { expect_epoll_item_at(setup_epoll_signalfd_moved, -1); }
Test(dump_collect, epoll_item_outside_is_refused) { expect_epoll_item_at(setup_epoll_left_outside, -1); }
Test(dump_collect, deleted_linked_is_refused) { expect_enotsup(setup_deleted_linked); }
Test(dump_collect, mqueue_removed_is_refused) { expect_enotsup(setup_mqueue_removed); }
Test(dump_collect, thread_pidfd_is_refused) { expect_enotsup(setup_thread_pidfd); }
Test(dump_collect, detached_mount_is_refused) { expect_enotsup(setup_detached); }

Test(dump_collect, deleted_dir_is_a_ghost)
{
	struct md_proc p = {};
	pid_t pid;

	pid = start_child(setup_deleted_dir, NULL, 0);
	cr_assert_eq(dump_collect_fds(pid, &p), 0);
	stop_child(pid);
	cr_assert_geq(p.n_fds, 4);
	cr_expect_eq(p.fds[3].kind, MD_FD_DIR);
	cr_expect_str_eq(p.fds[3].path, tpath("gonedir"));
	cr_assert_not_null(p.fds[3].ghost);
	cr_expect_eq(p.fds[3].ghost->size, 0);
	cr_expect_eq(p.fds[3].ghost->uid, getuid());
	cr_expect_eq(p.fds[3].mode, S_IFDIR | 0750);
	md_proc_release(&p);
}

/* a child made by clone() of flags, sleeping until killed */
static pid_t clone_sleeper(unsigned long flags)
{
	long pid = syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		for (;;)
			syscall(SYS_pause);
	}
	return (pid_t)pid;
}

/* processes sharing one fd table (CLONE_FILES) are refused; a forked child (a copy) is not */
Test(dump_collect, shared_fd_table_refused)
{
	pid_t shared = clone_sleeper(CLONE_FILES), copied = clone_sleeper(0);
	struct md_proc p[3] = { { .pid = getpid() }, { .pid = copied }, { .pid = shared } };

	cr_expect_eq(dump_link_fds(p, 2), 0);
	cr_expect_eq(dump_link_fds(p, 3), -ENOTSUP);
	kill(shared, SIGKILL);
	kill(copied, SIGKILL);
	waitpid(shared, NULL, 0);
	waitpid(copied, NULL, 0);
}
