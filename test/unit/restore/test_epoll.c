/*
 * restore_check_epoll() on synthetic images: each epoll item must have a
 * process that holds both the epoll description and the watched one at the
 * item's fd number; any such holder will do.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "restore/internal.h"

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

Test(restore_epoll, the_child_alone_can_add_it)
{
	/* the parent moved the pipe end to fd 5: the item is the child's to add */
	fds[0][1].fd = 5;
	items[0][0].ofd = 0;
	cr_expect_eq(restore_check_epoll(&rc), 0);
}

Test(restore_epoll, nobody_can_add_it)
{
	fds[0][1].fd = 5;
	fds[1][1].ofd = 9;	/* the child's fd 4 is another file */
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
