/*
 * restore_check_epoll() on synthetic images: each epoll item must be on a
 * file of the image the helper may add, or have a process that holds both
 * the epoll description and the watched one at the item's fd number; any
 * such holder will do. restore_epoll_fill() on files of the test's own.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "restore/internal.h"
#include "../fdtest.h"

/* parent 10 and child 11 both hold epoll description 1 at fd 3; it watches ofd 2 as fd 4 */
static struct md_epoll_item items[2][1];
static struct md_fd fds[2][2];
static struct restore_proc procs[2];
static struct restore_ctx rc;

static void setup(void)
{
	memset(&rc, 0, sizeof(rc));
	memset(procs, 0, sizeof(procs));
	for (int i = 0; i < 2; i++) {
		items[i][0] = (struct md_epoll_item){ .tfd = 4, .events = 1, .data = 7, .ofd = 2 };
		fds[i][0] = (struct md_fd){ .fd = 3, .kind = MD_FD_EPOLL, .ofd = 1, .epoll = items[i], .n_epoll = 1 };
		fds[i][1] = (struct md_fd){ .fd = 4, .kind = MD_FD_PIPE, .ofd = 2 };
		procs[i].p.pid = 10 + i;
		procs[i].p.fds = fds[i];
		procs[i].p.n_fds = 2;
	}
	rc.procs = procs;
	rc.n = 2;
	cr_assert_eq(restore_index_ofds(&rc), 0);
}

static void teardown(void)
{
	restore_free_epoll(&rc);
	free(rc.ofds);
}

TestSuite(restore_epoll, .init = setup, .fini = teardown);

Test(restore_epoll, one_description_indexed_once)
{
	cr_assert_eq(restore_check_epoll(&rc), 0);
	cr_assert_eq(rc.n_epolls, 1);
	cr_expect_eq(rc.epolls[0].ofd, 1);
	cr_expect_eq(rc.epolls[0].n, 1);
	cr_expect(!rc.epolls[0].added[0]);
}

/* an epoll fd watching nothing (node has one): nothing to check, nothing allocated */
Test(restore_epoll, an_empty_epoll_fd)
{
	fds[0][0].n_epoll = fds[1][0].n_epoll = 0;
	cr_assert_eq(restore_check_epoll(&rc), 0);
	cr_expect_eq(rc.epolls[0].n, 0);
	cr_expect_eq(restore_epoll_fill(&rc), 0);
}

Test(restore_epoll, the_child_alone_can_add_it)
{
	/* the parent moved the pipe end to fd 5: the item is the child's to add */
	fds[0][1].fd = 5;
	items[0][0].ofd = 0;
	cr_expect_eq(restore_check_epoll(&rc), 0);
}

/* a pipe end moved to fd 5, the child's fd 4 another file: the helper adds it at 4 */
Test(restore_epoll, the_helper_adds_a_moved_pipe)
{
	fds[0][1].fd = 5;
	fds[1][1].ofd = 9;
	cr_expect_eq(restore_check_epoll(&rc), 0);
	cr_expect(!rc.epolls[0].added[0], "checked, and nothing added yet");
}

/* a signalfd polls the signals of whoever polls it: added by a process holding it at fd 4 */
Test(restore_epoll, nobody_can_add_a_moved_signalfd)
{
	fds[0][1].fd = 5;
	fds[0][1].kind = MD_FD_SIGNALFD;
	fds[1][1].ofd = 9;
	cr_expect_eq(restore_check_epoll(&rc), -EINVAL);
}

/* no holder knows which file fd 4 was */
Test(restore_epoll, an_unknown_file)
{
	fds[0][1].fd = fds[1][1].fd = 5;
	items[0][0].ofd = items[1][0].ofd = 0;
	cr_expect_eq(restore_check_epoll(&rc), -EINVAL);
}

Test(restore_epoll, holders_disagree_on_the_file)
{
	fds[1][1].ofd = 9;
	items[1][0].ofd = 9;
	cr_expect_eq(restore_check_epoll(&rc), -EINVAL);
}

Test(restore_epoll, holders_disagree_on_the_list)
{
	fds[1][0].n_epoll = 0;
	cr_expect_eq(restore_check_epoll(&rc), -EINVAL);
}

/* what epoll_ctl() would refuse once the tree exists is refused first */
Test(restore_epoll, a_regular_file_cannot_be_watched)
{
	fds[0][1].kind = MD_FD_REG;
	fds[1][1].kind = MD_FD_REG;
	cr_expect_eq(restore_check_epoll(&rc), -EINVAL);
}

Test(restore_epoll, events_epoll_ctl_refuses)
{
	items[0][0].events = items[1][0].events = 1u << 20;
	cr_expect_eq(restore_check_epoll(&rc), -EINVAL);
}

Test(restore_epoll, an_epoll_fd_watching_itself)
{
	for (int i = 0; i < 2; i++) {
		items[i][0].tfd = 3;
		items[i][0].ofd = 1;
	}
	cr_expect_eq(restore_check_epoll(&rc), -EINVAL);
}

/* fd 4 is an epoll description too, and watches fd 3: a loop */
Test(restore_epoll, a_loop_of_epoll_fds)
{
	static struct md_epoll_item back[2][1];

	for (int i = 0; i < 2; i++) {
		back[i][0] = (struct md_epoll_item){ .tfd = 3, .events = 1, .ofd = 1 };
		fds[i][1].kind = MD_FD_EPOLL;
		fds[i][1].epoll = back[i];
		fds[i][1].n_epoll = 1;
	}
	cr_expect_eq(restore_check_epoll(&rc), -EINVAL);
}

/* each description once, with the first fd of the tree on it; none opened yet */
Test(restore_epoll, descriptions_indexed_by_first_fd)
{
	cr_assert_eq(rc.n_ofds, 2);
	cr_expect_eq(restore_find_ofd(&rc, 1)->first, &fds[0][0]);
	cr_expect_eq(restore_find_ofd(&rc, 2)->first, &fds[0][1]);
	cr_expect_eq(restore_find_ofd(&rc, 2)->file, -1);
	cr_expect_null(restore_find_ofd(&rc, 3));
	cr_expect_null(restore_find_ofd(&rc, 0));
}

/* ---- restore_epoll_fill(), on files of this test's ---- */

/* "tfd: N ... ino:X" of the epoll fd ep's items, as fdinfo shows them */
static bool has_item(int ep, int tfd, uint64_t data, ino_t ino)
{
	char path[64], line[256];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ep);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	while (!found && fgets(line, sizeof(line), f)) {
		int t;
		unsigned long long d;
		unsigned long i;

		found = sscanf(line, "tfd: %d events: %*x data: %llx pos:%*d ino:%lx", &t, &d, &i) == 3 && t == tfd &&
			d == data && i == ino;
	}
	fclose(f);
	return found;
}

/* our files for descriptions 1 (an epoll fd) and 2, in rc.files */
static void give_files(int ep, int file)
{
	static struct restore_file files[2];

	files[0] = (struct restore_file){ .ofd = 1, .fd = ep };
	files[1] = (struct restore_file){ .ofd = 2, .fd = file };
	rc.files = files;
	rc.n_files = 2;
	restore_find_ofd(&rc, 1)->file = 0;
	restore_find_ofd(&rc, 2)->file = 1;
}

/*
 * The item goes in at fd 4, the tree's number, though here fd 4 is the
 * epoll fd itself (the helper moves it off first) and the pipe is at 60.
 */
Test(restore_epoll, fill_at_the_number_of_the_tree)
{
	struct epoll_event ev;
	int p[2], ep = epoll_create1(EPOLL_CLOEXEC);

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(dup2(ep, 4), 4);
	cr_assert_eq(dup2(p[0], 60), 60);
	cr_assert_eq(write(p[1], "x", 1), 1);
	give_files(4, 60);
	cr_assert_eq(restore_check_epoll(&rc), 0);
	cr_assert_eq(restore_epoll_fill(&rc), 0);
	cr_expect(rc.epolls[0].added[0]);
	cr_expect(has_item(4, 4, 7, ino_of(60)), "fdinfo of the epoll fd shows the pipe at fd 4");
	cr_expect_eq(epoll_wait(4, &ev, 1, 0), 1);
	cr_expect_eq(ev.data.u64, 7);
	cr_expect_eq(fcntl(60, F_GETFD), 0, "our own fds as they were");
	cr_expect_eq(fcntl(4, F_GETFD), 0);
	close(ep), close(4), close(60), close(p[0]), close(p[1]);
}

/* an item on a signalfd is left to the processes */
Test(restore_epoll, fill_leaves_a_signalfd)
{
	sigset_t set;
	int ep = epoll_create1(EPOLL_CLOEXEC), sfd;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	fds[0][1].kind = fds[1][1].kind = MD_FD_SIGNALFD;
	give_files(ep, sfd);
	cr_assert_eq(restore_check_epoll(&rc), 0);
	cr_assert_eq(restore_epoll_fill(&rc), 0);
	cr_expect(!rc.epolls[0].added[0]);
	cr_expect(!has_item(ep, 4, 7, ino_of(sfd)));
	close(ep), close(sfd);
}

/* epoll_ctl() refuses the second of two items on one file and number: the restore fails */
Test(restore_epoll, fill_fails_as_epoll_ctl_does)
{
	static struct md_epoll_item two[2][2];
	int p[2], ep = epoll_create1(EPOLL_CLOEXEC);

	for (int i = 0; i < 2; i++) {
		two[i][0] = two[i][1] = items[i][0];
		two[i][1].data = 8;
		fds[i][0].epoll = two[i];
		fds[i][0].n_epoll = 2;
	}
	cr_assert_eq(pipe(p), 0);
	give_files(ep, p[0]);
	cr_assert_eq(restore_check_epoll(&rc), 0);
	cr_expect_eq(restore_epoll_fill(&rc), -EEXIST);
	cr_expect(!rc.epolls[0].added[0] && !rc.epolls[0].added[1], "nothing marked when it failed");
	close(ep), close(p[0]), close(p[1]);
}

/* restore_epoll_fill() of an item at fd 1000, above an fd limit of 256; the file at 1000 in the tree or not */
static int fill_beyond_the_limit(bool held_there)
{
	struct rlimit rl = { 256, 256 };
	int p[2], ep = epoll_create1(EPOLL_CLOEXEC), r;

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	for (int i = 0; i < 2; i++) {
		items[i][0].tfd = 1000;
		if (held_there)
			fds[i][1].fd = 1000;
	}
	give_files(ep, p[0]);
	cr_assert_eq(restore_check_epoll(&rc), 0);
	r = restore_epoll_fill(&rc);
	cr_expect(!rc.epolls[0].added[0]);
	close(ep), close(p[0]), close(p[1]);
	return r;
}

/* left to a process that holds the file there ... */
Test(restore_epoll, fill_leaves_what_it_cannot_place)
{
	cr_expect_eq(fill_beyond_the_limit(true), 0);
}

/* ... and where none does (the file moved), the restore fails before any process exists */
Test(restore_epoll, fill_fails_where_nobody_else_can_add)
{
	cr_expect_eq(fill_beyond_the_limit(false), -EBADF);
}
