/*
 * Credentials in core-PID.img: each thread's ids, groups, capability sets
 * and securebits and the process's dumpable flag written and read back,
 * the header flag older readers refuse (only when a thread is not full
 * root), and impossible credentials refused.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>

#include "memdump/image.h"
#include "memdump/model.h"
#include "dirsuite.h"

TestSuite(image_creds, .init = synth_dir_setup, .fini = synth_dir_teardown);

#define FULL 0x1fffeffffffull	/* a bounding set */

static void set_groups(struct md_creds *c, size_t n, uint32_t first)
{
	free(c->groups);
	c->groups = n ? calloc(n, sizeof(*c->groups)) : NULL;
	cr_assert(!n || c->groups);
	for (size_t i = 0; i < n; i++)
		c->groups[i] = first + (uint32_t)i;
	c->n_groups = n;
}

/* the leader full root with groups 0 and 4299; thread two anything but */
static void with_creds(struct md_proc *p)
{
	struct md_creds *a, *b;

	synth_proc(p, SYNTH_PID, 5);
	a = &p->threads[0].creds;
	b = &p->threads[1].creds;
	p->dumpable = 1;
	p->threads[0].has_creds = p->threads[1].has_creds = true;
	a->cap_prm = a->cap_eff = a->cap_bnd = FULL;
	set_groups(a, 2, 0);
	a->groups[1] = 4299;
	*b = (struct md_creds){
		.uid = { 4250, 4251, 4252, 4253 },
		.gid = { 4261, 4262, 4263, 4264 },
		.cap_inh = 0x2400,
		.cap_prm = 0x2481,
		.cap_eff = 0x1,
		.cap_bnd = FULL & ~0x8400000ull,
		.cap_amb = 0x400,
		.secbits = 0x13,
	};
	set_groups(b, 3, 4260);
}

static void roundtrip(struct md_proc *in)
{
	struct md_proc out;

	cr_assert_eq(image_write_proc(dirfd, in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	assert_proc_eq(in, &out);
	cr_assert_eq(out.dumpable, in->dumpable);
	md_proc_release(&out);
}

Test(image_creds, roundtrip)
{
	struct md_proc in;

	with_creds(&in);
	roundtrip(&in);
	cr_expect_eq(synth_core_flags(), MD_CORE_F_CREDS);
	/* no groups, the most groups, dumpable 0 and 2 */
	set_groups(&in.threads[1].creds, 0, 0);
	in.dumpable = 0;
	roundtrip(&in);
	set_groups(&in.threads[1].creds, MD_NGROUPS_MAX, 1);
	in.dumpable = 2;
	roundtrip(&in);
	md_proc_release(&in);
}

Test(image_creds, full_root_needs_no_flag)
{
	struct md_proc in;

	with_creds(&in);
	free(in.threads[1].creds.groups);
	in.threads[1].creds = in.threads[0].creds;
	in.threads[1].creds.groups = NULL;	/* the leader's are released with it */
	in.threads[1].creds.n_groups = 0;
	roundtrip(&in);
	cr_expect_eq(synth_core_flags(), 0, "full root credentials set the header flag");
	/* a root thread with an inheritable capability is not full root */
	in.threads[1].creds.cap_inh = 1;
	roundtrip(&in);
	cr_expect_eq(synth_core_flags(), MD_CORE_F_CREDS);
	md_proc_release(&in);
}

Test(image_creds, the_flag_guards_older_readers)
{
	struct md_proc in, out;
	char core[64];

	snprintf(core, sizeof(core), "core-%d.img", SYNTH_PID);
	with_creds(&in);
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	flip_bits(core, 36, MD_CORE_F_CREDS);
	cr_expect_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL, "credentials without the flag were read");
	/* the same file with its flag back is read */
	flip_bits(core, 36, MD_CORE_F_CREDS);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	md_proc_release(&out);
	md_proc_release(&in);
}

Test(image_creds, older_images_keep_none)
{
	struct md_proc in, out;

	synth_proc(&in, SYNTH_PID, 5);
	in.dumpable = -1;
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	cr_expect(!out.threads[0].has_creds && !out.threads[1].has_creds);
	cr_expect_eq(out.dumpable, -1, "an image without dumpable read as %d", out.dumpable);
	md_proc_release(&out);
	md_proc_release(&in);
}

static void expect_refused(const char *what, void (*spoil)(struct md_proc *))
{
	struct md_proc in, out;

	with_creds(&in);
	spoil(&in);
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_expect_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL, "%s was read", what);
	md_proc_release(&in);
}

static void eff_not_permitted(struct md_proc *p) { p->threads[1].creds.cap_eff |= 0x2; }
static void ambient_not_inheritable(struct md_proc *p) { p->threads[1].creds.cap_amb |= 0x80; }
static void ambient_not_permitted(struct md_proc *p)
{
	p->threads[1].creds.cap_inh |= 0x2;
	p->threads[1].creds.cap_amb |= 0x2;
}
static void unknown_secbits(struct md_proc *p) { p->threads[1].creds.secbits |= 0x1000; }
static void some_threads_only(struct md_proc *p)
{
	free(p->threads[0].creds.groups);
	p->threads[0].creds = (struct md_creds){};
	p->threads[0].has_creds = false;
}
static void too_many_groups(struct md_proc *p) { set_groups(&p->threads[1].creds, MD_NGROUPS_MAX + 1, 1); }
static void dumpable_3(struct md_proc *p) { p->dumpable = 3; }

Test(image_creds, impossible_credentials_refused)
{
	expect_refused("an effective capability not permitted", eff_not_permitted);
	expect_refused("an ambient capability not inheritable", ambient_not_inheritable);
	expect_refused("an ambient capability not permitted", ambient_not_permitted);
	expect_refused("an unknown securebit", unknown_secbits);
	expect_refused("credentials of one thread of two", some_threads_only);
	expect_refused("65537 groups", too_many_groups);
	expect_refused("dumpable 3", dumpable_3);
}
