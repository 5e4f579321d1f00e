/*
 * Which filters the restore installs once, in the leader, and syncs to
 * every thread (TSYNC); programs tried on this kernel before any process.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "memdump/model.h"
#include "restore/internal.h"

/* filters: 1; 2 on 1; 3 on 2; 4 on 1 */
static struct md_seccomp_filter filters[] = {
	{ .parent = 0 }, { .parent = 1 }, { .parent = 2 }, { .parent = 1 },
};

static size_t shared(uint32_t *leaf, uint32_t *mode, size_t n)
{
	struct md_thread t[4] = { 0 };
	struct md_proc p = { .threads = t, .n_threads = n, .seccomp = filters, .n_seccomp = 4 };

	for (size_t i = 0; i < n; i++) {
		t[i].seccomp_filter = leaf[i];
		t[i].seccomp_mode = mode ? mode[i] : leaf[i] ? SECCOMP_MODE_FILTER : 0;
	}
	return restore_seccomp_shared(&p);
}

Test(restore_seccomp, shared_filters)
{
	cr_expect_eq(shared((uint32_t[]){ 3 }, NULL, 1), 0, "one thread has nobody to sync");
	cr_expect_eq(shared((uint32_t[]){ 3, 3 }, NULL, 2), 3);
	cr_expect_eq(shared((uint32_t[]){ 2, 3 }, NULL, 2), 2, "the second's own comes after");
	cr_expect_eq(shared((uint32_t[]){ 3, 2, 3 }, NULL, 3), 2);
	cr_expect_eq(shared((uint32_t[]){ 3, 4 }, NULL, 2), 1, "they part after the first");
	cr_expect_eq(shared((uint32_t[]){ 3, 4, 1 }, NULL, 3), 1);
	cr_expect_eq(shared((uint32_t[]){ 3, 0 }, NULL, 2), 0, "a thread without filters");
	cr_expect_eq(shared((uint32_t[]){ 0, 0 }, (uint32_t[]){ SECCOMP_MODE_STRICT, 0 }, 2), 0);
	cr_expect_eq(shared((uint32_t[]){ 2, 0, 2 }, (uint32_t[]){ 2, SECCOMP_MODE_STRICT, 2 }, 3), 0,
		     "a strict thread takes no TSYNC");
}

Test(restore_seccomp, has_seccomp)
{
	struct md_thread t[2] = { 0 };
	struct md_proc p = { .threads = t, .n_threads = 2 };

	cr_assert_not(restore_has_seccomp(&p));
	t[1].no_new_privs = true;
	cr_assert(restore_has_seccomp(&p));
	t[1].no_new_privs = false;
	t[0].seccomp_mode = SECCOMP_MODE_STRICT;
	cr_assert(restore_has_seccomp(&p));
}

/* a process of one thread running prog in mode; no_new_privs alone when n is 0 */
static int check(struct sock_filter *prog, size_t n, bool *suspend)
{
	struct md_seccomp_filter f = { .insns = prog, .n_insns = n };
	struct md_thread t = { .tid = 1234, .no_new_privs = true };
	struct restore_proc rp = { .p = { .pid = 1234, .threads = &t, .n_threads = 1 } };
	struct restore_ctx rc = { .procs = &rp, .n = 1 };
	int r;

	if (n) {
		rp.p.seccomp = &f;
		rp.p.n_seccomp = 1;
		t.seccomp_mode = SECCOMP_MODE_FILTER;
		t.seccomp_filter = 1;
	}
	r = restore_check_seccomp(&rc);
	*suspend = rc.seccomp;
	return r;
}

/* every program goes through this kernel's checks before any process exists */
Test(restore_seccomp, programs_tried_first)
{
	struct sock_filter good[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 39, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_filter jump_out[] = {
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 39, 0, 5),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_filter odd_load[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 3),	/* not aligned in struct seccomp_data */
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	bool suspend;

	cr_assert_eq(check(good, 4, &suspend), 0);
	cr_assert(suspend, "filters need the tree's filters suspended");
	cr_assert_eq(check(jump_out, 2, &suspend), -EINVAL);
	cr_assert_eq(check(odd_load, 2, &suspend), -EINVAL);
	cr_assert_eq(check(good, 4, &suspend), 0, "a refusal changed what comes after");
	cr_assert_eq(check(NULL, 0, &suspend), 0);
	cr_assert_not(suspend, "no_new_privs alone needs no suspension");
	/* the probes are reaped */
	cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1);
}
