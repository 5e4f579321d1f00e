/*
 * Seccomp state in core-PID.img: threads' modes, no_new_privs and filter
 * chains written and read back, the header flag older readers refuse, and
 * impossible filter trees refused.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>

#include "memdump/image.h"
#include "memdump/model.h"
#include "dirsuite.h"

TestSuite(image_seccomp, .init = synth_dir_setup, .fini = synth_dir_teardown);

/* n instructions of a program, told apart by seed */
static void program(struct md_seccomp_filter *f, size_t n, uint32_t seed, uint32_t parent, uint32_t flags)
{
	f->insns = calloc(n ? n : 1, sizeof(*f->insns));
	cr_assert_not_null(f->insns);
	for (size_t i = 0; i < n; i++)
		f->insns[i] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, seed * 1000 + (uint32_t)i);
	f->n_insns = n;
	f->parent = parent;
	f->flags = flags;
}

/*
 * Filters 1 (base), 2 on 1 (LOG), 3 on 1: the leader runs 1, 2; thread two
 * runs 1, 3; both with no_new_privs.
 */
static void with_filters(struct md_proc *p)
{
	synth_proc(p, SYNTH_PID, 9);
	p->seccomp = calloc(3, sizeof(*p->seccomp));
	cr_assert_not_null(p->seccomp);
	program(&p->seccomp[0], 7, 1, 0, 0);
	program(&p->seccomp[1], 3, 2, 1, SECCOMP_FILTER_FLAG_LOG);
	program(&p->seccomp[2], 4096, 3, 1, 0);
	p->n_seccomp = 3;
	p->threads[0].seccomp_mode = SECCOMP_MODE_FILTER;
	p->threads[0].seccomp_filter = 2;
	p->threads[0].no_new_privs = true;
	p->threads[1].seccomp_mode = SECCOMP_MODE_FILTER;
	p->threads[1].seccomp_filter = 3;
	p->threads[1].no_new_privs = true;
}

static void core_name(char *buf, size_t len)
{
	snprintf(buf, len, "core-%d.img", SYNTH_PID);
}

Test(image_seccomp, roundtrip)
{
	struct md_proc in, out;

	with_filters(&in);
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	assert_proc_eq(&in, &out);
	md_proc_release(&out);
	/* strict mode and no_new_privs alone */
	for (size_t i = 0; i < in.n_seccomp; i++)
		free(in.seccomp[i].insns);
	free(in.seccomp);
	in.seccomp = NULL;
	in.n_seccomp = 0;
	in.threads[0].seccomp_mode = SECCOMP_MODE_STRICT;
	in.threads[0].seccomp_filter = 0;
	in.threads[0].no_new_privs = false;
	in.threads[1].seccomp_mode = 0;
	in.threads[1].seccomp_filter = 0;
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	assert_proc_eq(&in, &out);
	md_proc_release(&out);
	md_proc_release(&in);
}

Test(image_seccomp, the_flag_guards_older_readers)
{
	struct md_proc in, out;
	char core[64];

	core_name(core, sizeof(core));
	with_filters(&in);
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	flip_bits(core, 36, MD_CORE_F_SECCOMP);
	cr_expect_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL, "filters without the flag were read");
	/* no_new_privs alone needs it too */
	for (size_t i = 0; i < in.n_threads; i++)
		in.threads[i].seccomp_mode = in.threads[i].seccomp_filter = 0;
	for (size_t i = 0; i < in.n_seccomp; i++)
		free(in.seccomp[i].insns);
	in.n_seccomp = 0;
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	md_proc_release(&out);
	flip_bits(core, 36, MD_CORE_F_SECCOMP);
	cr_expect_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL, "no_new_privs without the flag was read");
	/* another bit: unknown */
	flip_bits(core, 36, MD_CORE_F_SECCOMP | 0x80);
	cr_expect_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL, "an unknown core flag was read");
	/* nothing of it: no flag written, and the flag alone is harmless */
	for (size_t i = 0; i < in.n_threads; i++)
		in.threads[i].no_new_privs = false;
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	flip_bits(core, 36, MD_CORE_F_SECCOMP);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0, "the flag alone was refused");
	md_proc_release(&out);
	flip_bits(core, 36, MD_CORE_F_SECCOMP);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	md_proc_release(&out);
	md_proc_release(&in);
}

/* one thing wrong: the image is refused */
static void expect_refused(const char *what, void (*spoil)(struct md_proc *))
{
	struct md_proc in, out;

	with_filters(&in);
	spoil(&in);
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_expect_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL, "%s was read", what);
	md_proc_release(&in);
}

static void parent_above(struct md_proc *p) { p->seccomp[1].parent = 3; }
static void parent_itself(struct md_proc *p) { p->seccomp[1].parent = 2; }
static void parent_missing(struct md_proc *p) { p->seccomp[2].parent = 9; }
static void tsync_flag(struct md_proc *p) { p->seccomp[1].flags |= SECCOMP_FILTER_FLAG_TSYNC; }
static void empty_program(struct md_proc *p) { p->seccomp[0].n_insns = 0; }
static void long_program(struct md_proc *p)
{
	free(p->seccomp[2].insns);
	program(&p->seccomp[2], 4097, 3, 1, 0);
}
static void unknown_mode(struct md_proc *p) { p->threads[0].seccomp_mode = 3; }
static void filter_mode_without(struct md_proc *p) { p->threads[0].seccomp_filter = 0; }
static void strict_with_filter(struct md_proc *p) { p->threads[0].seccomp_mode = SECCOMP_MODE_STRICT; }
static void filter_out_of_range(struct md_proc *p) { p->threads[1].seccomp_filter = 4; }
static void filter_unused(struct md_proc *p) { p->threads[1].seccomp_filter = 1; }

/* 9 programs of 4096 on top of each other: over the kernel's 32768 per thread */
static void path_too_long(struct md_proc *p)
{
	struct md_seccomp_filter *a = realloc(p->seccomp, 12 * sizeof(*a));

	cr_assert_not_null(a);
	p->seccomp = a;
	for (uint32_t i = 3; i < 12; i++)
		program(&p->seccomp[i], 4096, i + 1, i, 0);
	p->n_seccomp = 12;
	p->threads[1].seccomp_filter = 12;
}

Test(image_seccomp, impossible_filters_refused)
{
	expect_refused("a parent above its child", parent_above);
	expect_refused("a filter its own parent", parent_itself);
	expect_refused("a parent that does not exist", parent_missing);
	expect_refused("a TSYNC flag", tsync_flag);
	expect_refused("an empty program", empty_program);
	expect_refused("a program of 4097 instructions", long_program);
	expect_refused("seccomp mode 3", unknown_mode);
	expect_refused("filter mode without a filter", filter_mode_without);
	expect_refused("strict mode with a filter", strict_with_filter);
	expect_refused("a thread's filter out of range", filter_out_of_range);
	expect_refused("a filter no thread runs", filter_unused);
	expect_refused("a chain over 32768 instructions", path_too_long);
}

/* the most a thread may have: 7 programs of 4092, one of 4096 and their 7 links of 4 make 32768 */
Test(image_seccomp, longest_chain_read)
{
	struct md_proc in, out;

	with_filters(&in);
	for (size_t i = 0; i < in.n_seccomp; i++)
		free(in.seccomp[i].insns);
	free(in.seccomp);
	in.seccomp = calloc(8, sizeof(*in.seccomp));
	cr_assert_not_null(in.seccomp);
	for (uint32_t i = 0; i < 8; i++)
		program(&in.seccomp[i], i == 7 ? 4096 : 4092, i + 1, i, 0);
	in.n_seccomp = 8;
	in.threads[0].seccomp_filter = in.threads[1].seccomp_filter = 8;
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	assert_proc_eq(&in, &out);
	md_proc_release(&out);
	free(in.seccomp[0].insns);
	program(&in.seccomp[0], 4093, 1, 0, 0);
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_expect_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL, "a chain of 32769 was read");
	md_proc_release(&in);
}
