/* image_check_proc(): cross-references between VMAs, pagemap, threads and fds. */
#include <criterion/criterion.h>
#include <errno.h>

#include "memdump/image.h"
#include "memdump/model.h"
#include "synth.h"

static struct md_proc p;
static struct md_pagemap pm;
static char err[256];

static void setup(void)
{
	synth_proc(&p, SYNTH_PID, 1);
	synth_pagemap(&pm, &p);
	err[0] = '\0';
}

static void teardown(void)
{
	md_proc_release(&p);
	md_pagemap_release(&pm);
}

TestSuite(image_check, .init = setup, .fini = teardown);

static void expect_fail(const char *what)
{
	cr_assert_eq(image_check_proc(&p, &pm, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, what), "reason '%s' lacks '%s'", err, what);
}

Test(image_check, good)
{
	cr_assert_eq(image_check_proc(&p, &pm, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(image_check_proc(&p, NULL, err, sizeof(err)), 0, "%s", err);
}

Test(image_check, overlapping_vmas)
{
	p.vmas[1].start = p.vmas[0].end - 4096;
	expect_fail("overlaps");
}

Test(image_check, unaligned_vma)
{
	p.vmas[2].start += 8;
	expect_fail("not page aligned");
}

Test(image_check, entry_outside_any_vma)
{
	/* In the gap between VMA 0 and VMA 1. */
	pm.entries[1].vaddr = p.vmas[0].end + 4096;
	pm.entries[1].nr_pages = 1;
	expect_fail("outside every vma");
}

Test(image_check, entry_before_first_vma)
{
	pm.entries[0].vaddr = p.vmas[0].start - 4096;
	expect_fail("outside every vma");
}

Test(image_check, entry_after_last_vma)
{
	pm.entries[pm.n - 1].vaddr = p.vmas[p.n_vmas - 1].end;
	expect_fail("outside every vma");
}

Test(image_check, entry_crossing_vma_end)
{
	/* Zero range of VMA 0 starts at +0x4000 of an 0x8000 VMA: 5 pages cross. */
	pm.entries[1].nr_pages = 5;
	expect_fail("crosses the end");
}

Test(image_check, entry_spanning_adjacent_vmas)
{
	/* Even when the next VMA starts right at the end, an entry may not span both. */
	p.vmas[1].start = p.vmas[0].end;
	pm.entries[1].nr_pages = 5;
	expect_fail("crosses the end");
}

Test(image_check, unaligned_entry)
{
	pm.entries[2].vaddr += 100;
	expect_fail("not page aligned");
}

Test(image_check, unsorted_entries)
{
	struct md_pagemap_entry t = pm.entries[0];

	pm.entries[0] = pm.entries[2];
	pm.entries[2] = t;
	expect_fail("overlaps or precedes");
}

Test(image_check, nr_data_pages_mismatch)
{
	pm.nr_data_pages--;
	expect_fail("data pages");
}

Test(image_check, data_in_shared_vma)
{
	/* vma 2 is a shared mapping: restore must never write data into it */
	cr_assert(p.vmas[2].shared);
	pm.entries[4].flags = MD_PM_DATA;
	pm.nr_data_pages += pm.entries[4].nr_pages;
	expect_fail("cannot take it");
}

Test(image_check, no_threads)
{
	p.n_threads = 0;
	expect_fail("no thread");
	p.n_threads = 2;
}

Test(image_check, leader_not_first)
{
	p.threads[0].tid = SYNTH_PID + 5;
	expect_fail("not the leader");
}

Test(image_check, duplicate_tid)
{
	p.threads[1].tid = SYNTH_PID;
	expect_fail("thread 4242 appears twice");
}

Test(image_check, duplicate_fd)
{
	p.fds[1].fd = p.fds[0].fd;
	expect_fail("appears twice");
}

/* fds come by number: restore looks them up by bisection */
Test(image_check, fds_out_of_order)
{
	int fd = p.fds[1].fd;

	cr_assert_gt(p.n_fds, 2);
	p.fds[1].fd = p.fds[2].fd;
	p.fds[2].fd = fd;
	expect_fail("comes after");
}

Test(image_check, null_err_buffer)
{
	pm.nr_data_pages--;
	cr_assert_eq(image_check_proc(&p, &pm, NULL, 0), -EINVAL);
}

/* image_check_pidns(): a root (p, pid 1 in the namespace) and a child q with a zombie z */
static void pidns_tree(struct md_proc t[3])
{
	t[0] = p;
	t[0].ns_pid = 1;
	t[0].threads[0].ns_tid = 1;
	t[0].threads[1].ns_tid = 2;
	synth_proc(&t[1], SYNTH_PID + 10, 2);
	t[1].ns_pid = 3;
	t[1].threads[0].ns_tid = 3;
	t[1].threads[1].ns_tid = 4;
	t[2] = (struct md_proc){ .pid = SYNTH_PID + 20, .ns_pid = 5, .zombie = true };
}

static void expect_pidns_fail(bool pid_ns, const struct md_proc t[3], const char *what)
{
	cr_assert_eq(image_check_pidns(pid_ns, t, 3, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, what), "reason '%s' lacks '%s'", err, what);
}

Test(image_check, pidns)
{
	struct md_proc t[3];

	pidns_tree(t);
	cr_assert_eq(image_check_pidns(true, t, 3, err, sizeof(err)), 0, "%s", err);
	expect_pidns_fail(false, t, "a PID namespace the inventory does not have");
	t[2].ns_pid = 2;
	expect_pidns_fail(true, t, "id 2 is twice");
	t[2].ns_pid = 0;
	expect_pidns_fail(true, t, "has no pid in the tree's PID namespace");
	t[2].ns_pid = 1;
	expect_pidns_fail(true, t, "where the root has 1");
	t[2].ns_pid = 5;
	t[1].threads[0].ns_tid = 4;
	expect_pidns_fail(true, t, "thread 4252 of 4252 has id 4");
	t[1].threads[0].ns_tid = 3;
	t[1].threads[1].ns_tid = 0;
	expect_pidns_fail(true, t, "has id 0");
	t[1].threads[1].ns_tid = 4;
	t[0].ns_pid = 7;
	expect_pidns_fail(true, t, "where the root has 1");
	md_proc_release(&t[1]);

	/* outside a namespace: no ids in one */
	p.threads[1].ns_tid = 9;
	cr_assert_eq(image_check_pidns(false, &p, 1, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "thread"));
	p.threads[1].ns_tid = 0;
	p.threads[0].ns_tid = 0;
	cr_assert_eq(image_check_pidns(false, &p, 1, err, sizeof(err)), 0, "%s", err);
}

/* image_check_pidfds(): a pidfd names a process of the image (a zombie too) or one gone */
Test(image_check, pidfds)
{
	struct md_proc t[3];
	struct md_fd *f, *g;

	pidns_tree(t);
	cr_assert_eq(image_check_pidfds(t, 3, err, sizeof(err)), 0, "%s", err);
	f = &t[1].fds[t[1].n_fds - 1];
	f->kind = MD_FD_PIDFD;
	f->pidfd_pid = t[2].pid;
	cr_assert_eq(image_check_pidfds(t, 3, err, sizeof(err)), 0, "%s", err);
	f->pidfd_pid = t[0].pid;
	cr_assert_eq(image_check_pidfds(t, 3, err, sizeof(err)), 0, "%s", err);
	f->pidfd_pid = 0;
	cr_assert_eq(image_check_pidfds(t, 3, err, sizeof(err)), 0, "%s", err);
	f->pidfd_pid = t[2].pid + 1;
	cr_assert_eq(image_check_pidfds(t, 3, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "fd 7 of 4252 is a pidfd of 4263, no process of the image"), "%s", err);
	/* the process left out of the array */
	f->pidfd_pid = t[2].pid;
	cr_assert_eq(image_check_pidfds(t, 2, err, sizeof(err)), -EINVAL);
	/* two pidfds on one process gone: one status, or one of them knows none */
	f->pidfd_pid = 0;
	f->pidfd_gone = 9;
	f->pidfd_exit_known = true;
	f->pidfd_exit = 0x300;
	g = &t[0].fds[t[0].n_fds - 1];
	*g = (struct md_fd){ .fd = g->fd, .path = g->path, .kind = MD_FD_PIDFD, .flags = O_RDWR, .ofd = 99,
			     .pidfd_gone = 9 };
	cr_assert_eq(image_check_pidfds(t, 3, err, sizeof(err)), 0, "%s", err);
	g->pidfd_exit_known = true;
	g->pidfd_exit = 0x300;
	cr_assert_eq(image_check_pidfds(t, 3, err, sizeof(err)), 0, "%s", err);
	g->pidfd_exit = 0xf;
	cr_assert_eq(image_check_pidfds(t, 3, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "ended with wait status"), "%s", err);
	/* on two processes gone, two statuses */
	g->pidfd_gone = 10;
	cr_assert_eq(image_check_pidfds(t, 3, err, sizeof(err)), 0, "%s", err);
	md_proc_release(&t[1]);
}

