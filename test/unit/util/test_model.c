/*
 * Lookups of the shared model: fds by number, sockets by inode (the first
 * fd of the tree on each), pipes and FIFOs by id, on synthetic processes.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "memdump/model.h"

static struct md_fd sock(int fd, uint64_t ino, uint64_t peer)
{
	return (struct md_fd){ .fd = fd, .kind = MD_FD_UNIX_SOCKET,
			       .sock = { .family = AF_UNIX, .type = SOCK_STREAM, .state = TCP_ESTABLISHED, .ino = ino,
					 .peer_ino = peer } };
}

Test(model, fd_by_number)
{
	struct md_fd fds[] = { { .fd = 0 }, { .fd = 1 }, { .fd = 7 }, { .fd = 100 }, { .fd = 4096 } };
	struct md_proc p = { .fds = fds, .n_fds = 5 }, none = { 0 };

	for (size_t i = 0; i < 5; i++)
		cr_expect_eq(md_proc_fd(&p, fds[i].fd), &fds[i]);
	cr_expect_null(md_proc_fd(&p, 2));
	cr_expect_null(md_proc_fd(&p, -1));
	cr_expect_null(md_proc_fd(&p, 5000));
	cr_expect_null(md_proc_fd(&none, 0));
}

/*
 * Process 10: sockets 500 (fd 3), 400 (fd 4, and fd 9: a dup), a pipe at 5
 * (whose socket fields hold junk).
 * Process 11: 400 again (fd 3, inherited), 300 (fd 6), peer of 500.
 */
Test(model, sockets_by_inode)
{
	struct md_fd a[] = { sock(3, 500, 300), sock(4, 400, 0),
			     { .fd = 5, .kind = MD_FD_PIPE, .pipe_id = 401, .sock.ino = 401 }, sock(9, 400, 0) };
	struct md_fd b[] = { sock(3, 400, 0), sock(6, 300, 500) };
	struct md_proc procs[] = { { .pid = 10, .fds = a, .n_fds = 4 }, { .pid = 11, .fds = b, .n_fds = 2 } };
	struct md_socks s;
	pid_t pid = 0;

	cr_assert_eq(md_socks_make(&s, procs, 2), 0);
	cr_expect_eq(s.n, 3);
	/* the first in the walk's order, process by process, fd by fd */
	cr_expect_eq(md_socks_find(&s, 400, &pid), &a[1]);
	cr_expect_eq(pid, 10);
	cr_expect_eq(md_socks_find(&s, 300, &pid), &b[1]);
	cr_expect_eq(pid, 11);
	cr_expect_eq(md_socks_find(&s, 500, NULL), &a[0]);
	pid = 0;
	cr_expect_null(md_socks_find(&s, 600, &pid));
	cr_expect_eq(pid, 0);
	/* only sockets: not a pipe, whatever its fields hold */
	cr_expect_null(md_socks_find(&s, 401, NULL));
	cr_expect_eq(md_socks_slot(&s, 300), 0);
	cr_expect_eq(md_socks_slot(&s, 401), -1);
	/* connected both ways: its queue can be sent again; one way only, not */
	cr_expect(md_sock_refillable(&s, &a[0].sock));
	b[1].sock.peer_ino = 0;
	cr_expect_not(md_sock_refillable(&s, &a[0].sock));
	/* its peer closed: nothing to send it again, nothing lost */
	cr_expect(md_sock_refillable(&s, &a[1].sock));
	md_socks_release(&s);
	cr_expect_null(s.refs);

	cr_assert_eq(md_socks_make(&s, procs, 0), 0);
	cr_expect_null(md_socks_find(&s, 400, NULL));
	md_socks_release(&s);
}

static struct md_fd waiting(int fd, uint64_t ino, uint64_t listener, uint32_t pos)
{
	struct md_fd f = sock(fd, ino, 0);

	f.sock.pending_on = listener;
	f.sock.pending_pos = pos;
	return f;
}

/*
 * Connections waiting in backlogs, each once (a dup is the same socket),
 * by listener then place, whatever the fds' order: listener 70 holds 3
 * (places 2, 0, 5), listener 60 one; 80 and 90 are not waiting.
 */
Test(model, connections_by_backlog)
{
	struct md_fd a[] = { waiting(3, 503, 70, 2), sock(4, 80, 0), waiting(5, 501, 70, 0), waiting(6, 600, 60, 0),
			     waiting(7, 503, 70, 2) };
	struct md_fd b[] = { waiting(3, 505, 70, 5), sock(4, 90, 0) };
	struct md_proc procs[] = { { .pid = 10, .fds = a, .n_fds = 5 }, { .pid = 11, .fds = b, .n_fds = 2 } };
	const struct md_fd **p;
	struct md_socks s;
	size_t n;

	cr_assert_eq(md_socks_make(&s, procs, 2), 0);
	cr_assert_eq(md_socks_pending(&s, &p, &n), 0);
	cr_assert_eq(n, 4);
	cr_expect_eq(p[0], &a[3]);
	cr_expect_eq(p[1], &a[2]);
	cr_expect_eq(p[2], &a[0], "the first fd of socket 503");
	cr_expect_eq(p[3], &b[0]);
	cr_expect_eq(md_pending_first(p, n, 60), 0);
	cr_expect_eq(md_pending_first(p, n, 70), 1);
	cr_expect_eq(md_pending_first(p, n, 65), 1, "none waits in 65: where it would be");
	cr_expect_eq(md_pending_first(p, n, 80), 4);
	cr_expect_eq(md_pending_first(p, 0, 70), 0);
	/* its other end is the kernel's: its queue cannot be sent again */
	cr_expect_not(md_sock_refillable(&s, &a[0].sock));
	free(p);
	md_socks_release(&s);

	cr_assert_eq(md_socks_make(&s, procs + 1, 1), 0);
	b[0].sock.pending_on = 0;
	cr_assert_eq(md_socks_pending(&s, &p, &n), 0);
	cr_expect_eq(n, 0);
	free(p);
	md_socks_release(&s);
}

Test(model, pipes_by_id)
{
	struct md_pipe p[] = { { .id = 9, .fifo = true }, { .id = 7 }, { .id = 3, .fifo = true }, { .id = 9 },
			       { .id = 1 } };
	static const struct {
		uint64_t id;
		bool fifo;
	} order[] = { { 1, false }, { 7, false }, { 9, false }, { 3, true }, { 9, true } };

	md_pipes_sort(p, 5);
	for (size_t i = 0; i < 5; i++) {
		cr_expect_eq(p[i].id, order[i].id);
		cr_expect_eq(p[i].fifo, order[i].fifo);
		cr_expect_eq(md_pipes_find(p, 5, order[i].fifo, order[i].id), (ssize_t)i);
	}
	cr_expect_eq(md_pipes_find(p, 5, true, 7), -1);
	cr_expect_eq(md_pipes_find(p, 5, false, 3), -1);
	cr_expect_eq(md_pipes_find(p, 5, false, 10), -1);
	cr_expect_eq(md_pipes_find(p, 0, false, 1), -1);
}

/* ids and groups alone, or with the capabilities and securebits too */
Test(model, creds_same_ids)
{
	uint32_t ga[] = { 10, 20 }, gb[] = { 10, 20 };
	struct md_creds a = { .uid = { 1, 2, 3, 4 }, .gid = { 5, 6, 7, 8 }, .groups = ga, .n_groups = 2,
			      .cap_eff = 1 }, b = a;

	b.groups = gb;
	cr_expect(md_creds_same_ids(&a, &b));
	cr_expect(md_creds_same(&a, &b));
	b.cap_eff = 0;
	cr_expect(md_creds_same_ids(&a, &b), "capabilities aside");
	cr_expect_not(md_creds_same(&a, &b));
	b.uid[3] = 9;
	cr_expect_not(md_creds_same_ids(&a, &b), "the fs uid counts");
	b = a;
	gb[1] = 21;
	b.groups = gb;
	cr_expect_not(md_creds_same_ids(&a, &b));
	b.n_groups = 1;
	cr_expect(md_creds_same_ids(&a, &(struct md_creds){ .uid = { 1, 2, 3, 4 }, .gid = { 5, 6, 7, 8 },
							    .groups = ga, .n_groups = 2 }));
	cr_expect_not(md_creds_same_ids(&a, &b), "one group fewer");
}
