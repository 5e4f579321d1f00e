/*
 * The seccomp filter tree of a process: threads' chains merged where they
 * are one (same program, flags and parent), programs that may hand syscalls
 * to a supervisor found, and chains read back oldest first.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>

#include "dump/internal.h"
#include "memdump/model.h"

static const struct sock_filter prog_a[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 39, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};
static const struct sock_filter prog_b[] = {
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

/* what a process's threads give, oldest first: A; A, B (LOG); A, B; A, B (LOG) again; B */
Test(dump_seccomp, threads_share_what_is_one)
{
	struct md_proc p = { 0 };
	uint32_t chain[8];
	int a, ab, ab2, ab_log, ab_log2, b;

	a = dump_seccomp_intern(&p, 0, 0, prog_a, 4);
	ab_log = dump_seccomp_intern(&p, (uint32_t)a, SECCOMP_FILTER_FLAG_LOG, prog_b, 1);
	cr_assert_eq(dump_seccomp_intern(&p, 0, 0, prog_a, 4), a, "the same base was listed twice");
	ab = dump_seccomp_intern(&p, (uint32_t)a, 0, prog_b, 1);
	ab_log2 = dump_seccomp_intern(&p, (uint32_t)a, SECCOMP_FILTER_FLAG_LOG, prog_b, 1);
	b = dump_seccomp_intern(&p, 0, 0, prog_b, 1);
	ab2 = dump_seccomp_intern(&p, (uint32_t)a, 0, prog_b, 1);
	cr_assert_eq(a, 1);
	cr_assert_eq(ab_log, 2);
	cr_assert_eq(ab, 3, "flags make another filter");
	cr_assert_eq(ab_log2, ab_log);
	cr_assert_eq(b, 4, "the parent makes another filter");
	cr_assert_eq(ab2, ab);
	cr_assert_eq(p.n_seccomp, 4);
	cr_assert_eq(p.seccomp[2].parent, 1);
	cr_assert_eq(p.seccomp[3].parent, 0);
	cr_assert_eq(md_seccomp_chain(&p, (uint32_t)ab, chain, 8), 2);
	cr_assert(chain[0] == 0 && chain[1] == 2, "chain %u %u", chain[0], chain[1]);
	cr_assert_eq(md_seccomp_chain(&p, 0, chain, 8), 0);
	/* a program one instruction shorter is another */
	cr_assert_eq(dump_seccomp_intern(&p, 0, 0, prog_a, 3), 5);
	md_proc_release(&p);
}

Test(dump_seccomp, broken_chains)
{
	struct md_proc p = { 0 };
	uint32_t chain[4];

	cr_assert_eq(dump_seccomp_intern(&p, 0, 0, prog_b, 1), 1);
	cr_assert_eq(dump_seccomp_intern(&p, 1, 0, prog_a, 4), 2);
	p.seccomp[0].parent = 2;	/* a loop */
	cr_assert_eq(md_seccomp_chain(&p, 2, chain, 4), -EINVAL);
	p.seccomp[0].parent = 0;
	cr_assert_eq(md_seccomp_chain(&p, 3, chain, 4), -EINVAL, "a filter past the end");
	cr_assert_eq(md_seccomp_chain(&p, 2, chain, 1), 2, "the length, whatever fits");
	cr_assert_eq(chain[0], 0);
	md_proc_release(&p);
}

Test(dump_seccomp, supervisor_programs_found)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 39, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};

	cr_assert(md_seccomp_notifies(f, 4));
	cr_assert_not(md_seccomp_notifies(f, 2), "the notification is past the end");
	cr_assert_not(md_seccomp_notifies(prog_a, 4));
	/* the low 16 bits are the action's data */
	f[2].k = SECCOMP_RET_USER_NOTIF | 0x1234;
	cr_assert(md_seccomp_notifies(f, 4));
	/* a load of the same constant is no return */
	f[2] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_K, SECCOMP_RET_USER_NOTIF);
	cr_assert_not(md_seccomp_notifies(f, 4));
	/* ... but returning it, computed, may be */
	f[3] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_A, 0);
	cr_assert(md_seccomp_notifies(f, 4));
}
