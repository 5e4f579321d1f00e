/*
 * The planner on synthetic input: one test per row of design.md's "What the
 * planner copies", each fed both as pagemap entries and as PAGEMAP_SCAN
 * regions, plus merging and VMA boundaries.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compat/fs.h"
#include "memdump/cleanup.h"
#include "memdump/model.h"
#include "memdump/plan.h"
#include "memdump/proc.h"

#define PS MD_PAGE_SIZE
#define BASE 0x7f0000000000ULL
#define ZPFN 0x1234ULL

/* pagemap entries as this machine shows them (kernel-facts.md) */
#define E_ANON (PME_PRESENT | PME_EXCLUSIVE | 0x5000)	/* 0x81...: written anon / CoW'd */
#define E_SHARED_ANON (PME_PRESENT | 0x5001)		/* anon shared with a fork child */
#define E_ZERO (PME_PRESENT | ZPFN)
#define E_FILE (PME_PRESENT | PME_FILE | PME_EXCLUSIVE | 0x6000)	/* 0xa1... */
#define E_SWAP (PME_SWAP | 0x20)			/* 0x4000000000000020 */
#define E_NONE 0ULL

#define R_ANON PAGE_IS_PRESENT
#define R_ZERO (PAGE_IS_PRESENT | PAGE_IS_PFNZERO)
#define R_FILE (PAGE_IS_PRESENT | PAGE_IS_FILE)
#define R_SWAP PAGE_IS_SWAPPED

static struct md_vma mkvma(enum md_vma_kind kind, bool shared, size_t pages)
{
	return (struct md_vma){
		.start = BASE,
		.end = BASE + pages * PS,
		.prot = 3,
		.shared = shared,
		.kind = kind,
	};
}

/* region-category equivalent of one pagemap entry, 0 for "not reported" */
static uint64_t cat_of(uint64_t e)
{
	if (e == E_ZERO)
		return R_ZERO;
	if ((e & PME_PRESENT) && (e & PME_FILE))
		return R_FILE;
	if (e & PME_PRESENT)
		return R_ANON;
	if (e & PME_SWAP)
		return R_SWAP;
	return 0;
}

/*
 * States of a VMA from its pagemap entries, checked against the states
 * from the PAGEMAP_SCAN regions the kernel would report for the same pages
 * (merged like the kernel merges them).
 */
static void states_both_ways(const struct md_vma *v, const uint64_t *pme, uint8_t *st)
{
	size_t n = (v->end - v->start) / PS, nr = 0;
	_cleanup_free_ uint8_t *st2 = malloc(n);
	_cleanup_free_ struct page_region *r = calloc(n, sizeof(*r));

	cr_assert(st2 && r);
	for (size_t i = 0; i < n; i++) {
		uint64_t c = cat_of(pme[i]);

		if (!c)
			continue;
		if (nr && r[nr - 1].end == v->start + i * PS && r[nr - 1].categories == c) {
			r[nr - 1].end += PS;
			continue;
		}
		r[nr++] = (struct page_region){ v->start + i * PS, v->start + (i + 1) * PS, c };
	}
	plan_classify_pme(pme, n, ZPFN, st);
	memset(st2, 0xee, n);
	plan_classify_regions(r, nr, v->start, v->end, st2);
	cr_assert_arr_eq(st, st2, n, "pagemap and PAGEMAP_SCAN disagree");
}

static void plan_both(const struct md_vma *v, const uint64_t *pme, struct md_pagemap *pm)
{
	size_t n = (v->end - v->start) / PS;
	_cleanup_free_ uint8_t *st = malloc(n);

	cr_assert_not_null(st);
	states_both_ways(v, pme, st);
	cr_assert_eq(plan_vma(v, st, pm), 0);
}

static void expect_entry(const struct md_pagemap *pm, size_t i, uint64_t page, uint64_t nr,
			 uint32_t flags)
{
	cr_assert_lt(i, pm->n, "entry %zu missing (n=%zu)", i, pm->n);
	cr_assert_eq(pm->entries[i].vaddr, BASE + page * PS, "entry %zu vaddr", i);
	cr_assert_eq(pm->entries[i].nr_pages, nr, "entry %zu nr_pages", i);
	cr_assert_eq(pm->entries[i].flags, flags, "entry %zu flags", i);
}

Test(plan, private_anon_present_or_swapped_is_copied)
{
	struct md_vma v = mkvma(MD_VMA_ANON, false, 4);
	uint64_t pme[4] = { E_ANON, E_SWAP, E_NONE, E_SHARED_ANON };
	struct md_pagemap pm = {};

	plan_both(&v, pme, &pm);
	cr_assert_eq(pm.n, 2);
	expect_entry(&pm, 0, 0, 2, MD_PM_DATA);
	expect_entry(&pm, 1, 3, 1, MD_PM_DATA);
	cr_assert_eq(pm.nr_data_pages, 3);
	md_pagemap_release(&pm);
}

Test(plan, private_anon_zero_page_is_recorded_as_zero)
{
	struct md_vma v = mkvma(MD_VMA_ANON, false, 3);
	uint64_t pme[3] = { E_ZERO, E_ZERO, E_ANON };
	struct md_pagemap pm = {};

	plan_both(&v, pme, &pm);
	cr_assert_eq(pm.n, 2);
	expect_entry(&pm, 0, 0, 2, MD_PM_ZERO);
	expect_entry(&pm, 1, 2, 1, MD_PM_DATA);
	cr_assert_eq(pm.nr_data_pages, 1);
	md_pagemap_release(&pm);
}

Test(plan, private_anon_untouched_is_not_copied)
{
	struct md_vma v = mkvma(MD_VMA_ANON, false, 3);
	uint64_t pme[3] = { E_NONE, E_NONE, E_NONE };
	struct md_pagemap pm = {};

	plan_both(&v, pme, &pm);
	cr_assert_eq(pm.n, 0);
	cr_assert_eq(pm.nr_data_pages, 0);
	md_pagemap_release(&pm);
}

Test(plan, private_file_page_cache_page_is_not_copied)
{
	struct md_vma v = mkvma(MD_VMA_FILE, false, 3);
	uint64_t pme[3] = { E_FILE, E_FILE, E_NONE };
	struct md_pagemap pm = {};

	plan_both(&v, pme, &pm);
	cr_assert_eq(pm.n, 0);
	md_pagemap_release(&pm);
}

Test(plan, private_file_cowed_or_swapped_is_copied)
{
	struct md_vma v = mkvma(MD_VMA_FILE, false, 5);
	uint64_t pme[5] = { E_FILE, E_ANON, E_SWAP, E_FILE, E_ANON };
	struct md_pagemap pm = {};

	plan_both(&v, pme, &pm);
	cr_assert_eq(pm.n, 2);
	expect_entry(&pm, 0, 1, 2, MD_PM_DATA);
	expect_entry(&pm, 1, 4, 1, MD_PM_DATA);
	cr_assert_eq(pm.nr_data_pages, 3);
	md_pagemap_release(&pm);
}

Test(plan, private_memfd_behaves_like_private_file)
{
	struct md_vma v = mkvma(MD_VMA_MEMFD, false, 3);
	uint64_t pme[3] = { E_FILE, E_ANON, E_NONE };
	struct md_pagemap pm = {};

	cr_assert(plan_vma_wants_pages(&v));
	plan_both(&v, pme, &pm);
	cr_assert_eq(pm.n, 1);
	expect_entry(&pm, 0, 1, 1, MD_PM_DATA);
	md_pagemap_release(&pm);
}

Test(plan, shared_mappings_are_never_copied_per_mapping)
{
	static const enum md_vma_kind kinds[] = { MD_VMA_FILE, MD_VMA_ANON, MD_VMA_MEMFD,
						  MD_VMA_SHMEM };
	uint64_t pme[3] = { E_FILE, E_ANON, E_SWAP };

	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		struct md_vma v = mkvma(kinds[k], true, 3);
		struct md_pagemap pm = {};

		cr_assert(!plan_vma_wants_pages(&v), "kind %d", kinds[k]);
		plan_both(&v, pme, &pm);
		cr_assert_eq(pm.n, 0, "kind %d", kinds[k]);
		cr_assert_null(pm.entries);
	}
}

Test(plan, vdso_family_is_never_copied)
{
	static const enum md_vma_kind kinds[] = { MD_VMA_VDSO, MD_VMA_VVAR, MD_VMA_VVAR_VCLOCK,
						  MD_VMA_VSYSCALL };
	uint64_t pme[2] = { E_ANON, E_FILE };

	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		struct md_vma v = mkvma(kinds[k], false, 2);
		struct md_pagemap pm = {};

		cr_assert(!plan_vma_wants_pages(&v), "kind %d", kinds[k]);
		plan_both(&v, pme, &pm);
		cr_assert_eq(pm.n, 0, "kind %d", kinds[k]);
	}
}

Test(plan, io_and_pfnmap_vmas_are_not_read)
{
	struct md_vma v = mkvma(MD_VMA_FILE, false, 1);

	v.vmflags = MD_VMF_RD | MD_VMF_IO | MD_VMF_PF;
	cr_assert(!plan_vma_wants_pages(&v));
	v.vmflags = MD_VMF_RD | MD_VMF_WR;
	cr_assert(plan_vma_wants_pages(&v));
}

Test(plan, guard_regions_hold_no_data)
{
	uint64_t pme[2] = { PME_GUARD | PME_SWAP, E_ANON };
	struct page_region r[2] = {
		{ BASE, BASE + PS, PAGE_IS_GUARD | PAGE_IS_SWAPPED },
		{ BASE + PS, BASE + 2 * PS, PAGE_IS_PRESENT },
	};
	uint8_t a[2], b[2];

	plan_classify_pme(pme, 2, ZPFN, a);
	plan_classify_regions(r, 2, BASE, BASE + 2 * PS, b);
	cr_assert_eq(a[0], MD_PS_NONE);
	cr_assert_eq(a[1], MD_PS_ANON);
	cr_assert_arr_eq(a, b, 2);
}

Test(plan, anon_with_file_bit_is_copied_to_be_safe)
{
	struct md_vma v = mkvma(MD_VMA_ANON, false, 2);
	uint64_t pme[2] = { E_FILE, E_NONE };
	struct md_pagemap pm = {};

	plan_both(&v, pme, &pm);
	cr_assert_eq(pm.n, 1);
	expect_entry(&pm, 0, 0, 1, MD_PM_DATA);
	md_pagemap_release(&pm);
}

Test(plan_classify, pme_states)
{
	uint64_t pme[] = { E_ANON, E_ZERO, E_FILE, E_SWAP, E_NONE, PME_PRESENT /* pfn hidden */ };
	uint8_t st[ARRAY_SIZE(pme)];
	const uint8_t want[] = { MD_PS_ANON, MD_PS_ZERO, MD_PS_FILE, MD_PS_SWAPPED, MD_PS_NONE,
				 MD_PS_ANON };

	plan_classify_pme(pme, ARRAY_SIZE(pme), ZPFN, st);
	cr_assert_arr_eq(st, want, sizeof(want));

	/* zero_pfn unknown: the zero page cannot be told from anon, so it is copied */
	plan_classify_pme(pme, ARRAY_SIZE(pme), 0, st);
	cr_assert_eq(st[1], MD_PS_ANON);
}

/*
 * A uffd-wp marker on a page never populated holds no data; a page in swap
 * under uffd-wp does. PAGEMAP_SCAN cannot tell them apart (both
 * SWAPPED|WPALLOWED), the pagemap entry can (swap type 31 is the marker).
 */
Test(plan_classify, uffd_wp_marker_is_no_data)
{
	uint64_t pme[2] = { 0x420000000000003fULL, PME_SWAP | PME_UFFD_WP | 0x20 };
	struct page_region r = { BASE, BASE + PS, PAGE_IS_SWAPPED | PAGE_IS_WPALLOWED };
	uint8_t a[2], b;

	plan_classify_pme(pme, 2, ZPFN, a);
	plan_classify_regions(&r, 1, BASE, BASE + PS, &b);
	cr_assert_eq(a[0], MD_PS_NONE);
	cr_assert_eq(a[1], MD_PS_SWAPPED);
	cr_assert_eq(b, MD_PS_SWAPPED, "PAGEMAP_SCAN cannot tell: such VMAs use the pagemap path");
}

Test(plan_classify, regions_partial_and_clipped)
{
	/* regions may start before and end after the asked range */
	struct page_region r[] = {
		{ BASE - 2 * PS, BASE + PS, R_ANON },
		{ BASE + 3 * PS, BASE + 4 * PS, R_ZERO },
		{ BASE + 5 * PS, BASE + 9 * PS, R_FILE },
	};
	uint8_t st[7];
	const uint8_t want[] = { MD_PS_ANON, MD_PS_NONE, MD_PS_NONE, MD_PS_ZERO,
				 MD_PS_NONE, MD_PS_FILE, MD_PS_FILE };

	memset(st, 0xaa, sizeof(st));
	plan_classify_regions(r, ARRAY_SIZE(r), BASE, BASE + 7 * PS, st);
	cr_assert_arr_eq(st, want, sizeof(want));
}

Test(plan_merge, alternating_flags_make_separate_entries)
{
	struct md_vma v = mkvma(MD_VMA_ANON, false, 8);
	uint64_t pme[8] = { E_ANON, E_ANON, E_ZERO, E_ZERO, E_SWAP, E_ANON, E_NONE, E_ANON };
	struct md_pagemap pm = {};

	plan_both(&v, pme, &pm);
	cr_assert_eq(pm.n, 4);
	expect_entry(&pm, 0, 0, 2, MD_PM_DATA);
	expect_entry(&pm, 1, 2, 2, MD_PM_ZERO);
	/* swapped and present anon are both data: one entry */
	expect_entry(&pm, 2, 4, 2, MD_PM_DATA);
	expect_entry(&pm, 3, 7, 1, MD_PM_DATA);
	cr_assert_eq(pm.nr_data_pages, 5);
	md_pagemap_release(&pm);
}

Test(plan_merge, entries_never_cross_vmas)
{
	struct md_vma a = mkvma(MD_VMA_ANON, false, 2);
	struct md_vma b = mkvma(MD_VMA_ANON, false, 2);
	uint8_t st[2] = { MD_PS_ANON, MD_PS_ANON };
	struct md_pagemap pm = {};

	/* b starts exactly where a ends */
	b.start = a.end;
	b.end = a.end + 2 * PS;
	cr_assert_eq(plan_vma(&a, st, &pm), 0);
	cr_assert_eq(plan_vma(&b, st, &pm), 0);
	cr_assert_eq(pm.n, 2);
	expect_entry(&pm, 0, 0, 2, MD_PM_DATA);
	expect_entry(&pm, 1, 2, 2, MD_PM_DATA);
	cr_assert_eq(pm.nr_data_pages, 4);
	md_pagemap_release(&pm);
}

Test(plan_merge, large_vma_one_entry)
{
	size_t n = 100000;
	struct md_vma v = mkvma(MD_VMA_ANON, false, n);
	_cleanup_free_ uint8_t *st = malloc(n);
	struct md_pagemap pm = {};

	cr_assert_not_null(st);
	memset(st, MD_PS_ANON, n);
	st[n / 2] = MD_PS_NONE;
	cr_assert_eq(plan_vma(&v, st, &pm), 0);
	cr_assert_eq(pm.n, 2);
	expect_entry(&pm, 0, 0, n / 2, MD_PM_DATA);
	expect_entry(&pm, 1, n / 2 + 1, n - n / 2 - 1, MD_PM_DATA);
	cr_assert_eq(pm.nr_data_pages, n - 1);
	md_pagemap_release(&pm);
}

/* ---- pages shared copy-on-write with the parent (fork) ---- */

/*
 * A child VMA of 8 pages against its parent's twin, one row of the table
 * per page: what the child and the parent show at the same address, and
 * whether the child's image takes the parent's page (INHERIT) or its own.
 */
Test(plan_inherit, rows)
{
	struct md_vma v = mkvma(MD_VMA_ANON, false, 9);
	uint64_t child[9] = {
		E_SHARED_ANON,			/* 0: same frame, shared in both: the parent's */
		PME_PRESENT | 0x7001,		/* 1: another frame (the child wrote it): its own */
		E_ANON,				/* 2: exclusive in the child: its own */
		E_ZERO,				/* 3: the zero page: zero, never inherited */
		E_SWAP,				/* 4: swapped, same slot in both: the parent's */
		PME_SWAP | 0x40,		/* 5: swapped, another slot: its own */
		E_NONE,				/* 6: nothing: nothing */
		PME_PRESENT | 0x5002,		/* 7: present, the parent's page is swapped: its own */
		PME_PRESENT,			/* 8: frames hidden (not root): its own */
	};
	uint64_t parent[9] = {
		E_SHARED_ANON, E_SHARED_ANON, PME_PRESENT | 0x5000, E_ZERO, E_SWAP, E_SWAP, E_SHARED_ANON,
		PME_SWAP | 0x5002, PME_PRESENT,
	};
	uint8_t st[9];
	struct md_pagemap pm = {};

	plan_classify_pme(child, 9, ZPFN, st);
	plan_mark_inherited(child, parent, 9, ZPFN, st);
	cr_assert_eq(plan_vma(&v, st, &pm), 0);
	expect_entry(&pm, 0, 0, 1, MD_PM_INHERIT);
	expect_entry(&pm, 1, 1, 2, MD_PM_DATA);
	expect_entry(&pm, 2, 3, 1, MD_PM_ZERO);
	expect_entry(&pm, 3, 4, 1, MD_PM_INHERIT);
	expect_entry(&pm, 4, 5, 1, MD_PM_DATA);
	expect_entry(&pm, 5, 7, 2, MD_PM_DATA);
	cr_expect_eq(pm.n, 6);
	/* inherited pages are not data: the pages file holds only the child's own */
	cr_expect_eq(pm.nr_data_pages, 5);
	md_pagemap_release(&pm);
}

Test(plan_inherit, twin_must_be_the_same_vma)
{
	struct md_vma c = mkvma(MD_VMA_ANON, false, 4), p[3];

	p[0] = mkvma(MD_VMA_ANON, false, 1);
	p[0].start -= 2 * PS;
	p[0].end -= 2 * PS;
	p[1] = c;
	p[2] = mkvma(MD_VMA_ANON, false, 1);
	p[2].start += 8 * PS;
	p[2].end += 8 * PS;
	cr_expect_eq(plan_vma_twin(&c, p, 3), &p[1]);

	/* other bounds: after an munmap or a new mmap the pages are not where fork put them */
	p[1].end += PS;
	cr_expect_null(plan_vma_twin(&c, p, 3));
	p[1] = c;
	/* not copied by fork, or wiped by it */
	p[1].vmflags = MD_VMF_DC;
	cr_expect_null(plan_vma_twin(&c, p, 3));
	p[1].vmflags = MD_VMF_WF;
	cr_expect_null(plan_vma_twin(&c, p, 3));
	/* madvise state differs: the kept VMA would keep the parent's */
	p[1].vmflags = MD_VMF_HG;
	cr_expect_null(plan_vma_twin(&c, p, 3));
	/* shared in the parent, or another file */
	p[1] = c;
	p[1].shared = true;
	cr_expect_null(plan_vma_twin(&c, p, 3));
	p[1] = c;
	p[1].kind = MD_VMA_FILE;
	cr_expect_null(plan_vma_twin(&c, p, 3));
	/* a shared child mapping never takes pages at all */
	c.shared = true;
	p[1] = c;
	cr_expect_null(plan_vma_twin(&c, p, 3));
}

Test(plan_inherit, file_twin_needs_the_same_file)
{
	struct md_vma c = mkvma(MD_VMA_FILE, false, 2), p = c;

	c.path = "/lib/a.so";
	p.path = "/lib/a.so";
	cr_expect_eq(plan_vma_twin(&c, &p, 1), &p);
	p.path = "/lib/b.so";
	cr_expect_null(plan_vma_twin(&c, &p, 1));
	p.path = "/lib/a.so";
	p.pgoff = PS;
	cr_expect_null(plan_vma_twin(&c, &p, 1));
}

/* ---------------------------------------------------------- in parent */

static struct md_pagemap mkpm(const struct md_pagemap_entry *e, size_t n)
{
	struct md_pagemap pm = { calloc(n + 1, sizeof(*e)), n, 0 };

	memcpy(pm.entries, e, n * sizeof(*e));
	for (size_t i = 0; i < n; i++)
		if (e[i].flags & MD_PM_DATA)
			pm.nr_data_pages += e[i].nr_pages;
	return pm;
}

static void expect_pm(const struct md_pagemap *got, const struct md_pagemap_entry *want, size_t n)
{
	uint64_t data = 0;

	cr_assert_eq(got->n, n, "%zu entries, want %zu", got->n, n);
	for (size_t i = 0; i < n; i++) {
		cr_expect_eq(got->entries[i].vaddr, want[i].vaddr, "entry %zu at %#lx, want %#lx", i,
			     (unsigned long)got->entries[i].vaddr, (unsigned long)want[i].vaddr);
		cr_expect_eq(got->entries[i].nr_pages, want[i].nr_pages, "entry %zu: %lu pages, want %lu", i,
			     (unsigned long)got->entries[i].nr_pages, (unsigned long)want[i].nr_pages);
		cr_expect_eq(got->entries[i].flags, want[i].flags, "entry %zu: flags %u, want %u", i,
			     got->entries[i].flags, want[i].flags);
		if (want[i].flags & MD_PM_DATA)
			data += want[i].nr_pages;
	}
	cr_expect_eq(got->nr_data_pages, data);
}

#define P(n) (BASE + (n) * PS)

/* written pages and pages outside tracking are copied, the rest is in the parent */
Test(plan_parent, written_and_untracked_pages_are_copied)
{
	static const struct md_pagemap_entry now[] = { { P(0), 10, MD_PM_DATA }, { P(10), 2, MD_PM_ZERO },
						       { P(20), 4, MD_PM_DATA } };
	static const struct md_pagemap_entry before[] = { { P(0), 24, MD_PM_DATA } };
	static const struct md_range tracked[] = { { P(0), P(8) }, { P(20), P(24) } };
	static const struct md_range written[] = { { P(2), P(4) }, { P(21), P(22) } };
	static const struct md_pagemap_entry want[] = {
		{ P(0), 2, MD_PM_PARENT }, { P(2), 2, MD_PM_DATA },   { P(4), 4, MD_PM_PARENT },
		{ P(8), 2, MD_PM_DATA },   { P(10), 2, MD_PM_ZERO },  { P(20), 1, MD_PM_PARENT },
		{ P(21), 1, MD_PM_DATA },  { P(22), 2, MD_PM_PARENT },
	};
	struct md_pagemap pm = mkpm(now, 3), parent = mkpm(before, 1), out;

	cr_assert_eq(plan_mark_in_parent(&pm, tracked, 2, written, 2, &parent, &out), 0);
	expect_pm(&out, want, 8);
	free(out.entries);
	free(pm.entries);
	free(parent.entries);
}

/* a page the parent image does not hold as data (absent, zero, inherited) is copied */
Test(plan_parent, only_what_the_parent_holds)
{
	static const struct md_pagemap_entry now[] = { { P(0), 8, MD_PM_DATA } };
	static const struct md_pagemap_entry before[] = { { P(0), 1, MD_PM_PARENT }, { P(1), 1, MD_PM_ZERO },
							  { P(2), 1, MD_PM_INHERIT }, { P(4), 2, MD_PM_DATA } };
	static const struct md_range tracked[] = { { P(0), P(8) } };
	static const struct md_pagemap_entry want[] = {
		{ P(0), 1, MD_PM_PARENT }, { P(1), 3, MD_PM_DATA }, { P(4), 2, MD_PM_PARENT }, { P(6), 2, MD_PM_DATA },
	};
	struct md_pagemap pm = mkpm(now, 1), parent = mkpm(before, 4), out;

	cr_assert_eq(plan_mark_in_parent(&pm, tracked, 1, NULL, 0, &parent, &out), 0);
	expect_pm(&out, want, 4);
	free(out.entries);
	free(pm.entries);
	free(parent.entries);
}

/* entries of two adjacent VMAs stay two entries: restore maps VMAs one by one */
Test(plan_parent, entries_never_merge_across_input_entries)
{
	static const struct md_pagemap_entry now[] = { { P(0), 2, MD_PM_DATA }, { P(2), 2, MD_PM_DATA } };
	static const struct md_range tracked[] = { { P(0), P(4) } };
	static const struct md_range written[] = { { P(0), P(4) } };
	struct md_pagemap pm = mkpm(now, 2), parent = { 0 }, out;

	cr_assert_eq(plan_mark_in_parent(&pm, tracked, 1, written, 1, &parent, &out), 0);
	expect_pm(&out, now, 2);
	free(out.entries);
	free(pm.entries);
}

/* soft-dirty: bit 55 on present and swapped pages, in runs; the other bits do not matter */
Test(plan_parent, soft_dirty_ranges)
{
	const uint64_t SD = PME_SOFT_DIRTY, PRESENT = 1ULL << 63, SWAPPED = 1ULL << 62;
	const uint64_t pme[] = {
		PRESENT | SD | 0x1234, PRESENT | SD, PRESENT,	 /* 0-1 dirty */
		0,		       SWAPPED | SD, SD,	 /* 4-5: swapped, and a hole of a new VMA */
		PRESENT,	       PRESENT | SD,		 /* 7 */
	};
	struct md_range *w = NULL;
	size_t n = 0;

	cr_assert_eq(plan_soft_dirty_ranges(pme, 8, P(0), &w, &n), 0);
	cr_assert_eq(n, 3);
	cr_expect(w[0].start == P(0) && w[0].end == P(2));
	cr_expect(w[1].start == P(4) && w[1].end == P(6));
	cr_expect(w[2].start == P(7) && w[2].end == P(8));
	/* a second read goes on where the first stopped: runs across the boundary merge */
	cr_assert_eq(plan_soft_dirty_ranges((const uint64_t[]){ SD, 0 }, 2, P(8), &w, &n), 0);
	cr_assert_eq(n, 3);
	cr_expect(w[2].start == P(7) && w[2].end == P(9));
	free(w);
}

/* soft-dirty ranges feed the in-parent planning like uffd-wp's: a clean page comes from the parent */
Test(plan_parent, soft_dirty_plans_in_parent)
{
	static const struct md_pagemap_entry now[] = { { P(0), 4, MD_PM_DATA } };
	static const struct md_range tracked[] = { { P(0), P(4) } };
	static const struct md_pagemap_entry want[] = { { P(0), 1, MD_PM_PARENT }, { P(1), 1, MD_PM_DATA },
							{ P(2), 2, MD_PM_PARENT } };
	const uint64_t pme[] = { 1ULL << 63, (1ULL << 63) | PME_SOFT_DIRTY, 1ULL << 63, 1ULL << 63 };
	struct md_pagemap pm = mkpm(now, 1), parent = mkpm(now, 1), out;
	struct md_range *w = NULL;
	size_t n = 0;

	cr_assert_eq(plan_soft_dirty_ranges(pme, 4, P(0), &w, &n), 0);
	cr_assert_eq(plan_mark_in_parent(&pm, tracked, 1, w, n, &parent, &out), 0);
	expect_pm(&out, want, 3);
	free(w);
	free(out.entries);
	free(pm.entries);
	free(parent.entries);
}

/* tracked since the previous image: the overlap with its VMAs of the same kind that hold pages */
Test(plan_parent, tracked_since_previous_vmas)
{
	struct md_vma prev_v[] = {
		{ .start = P(0), .end = P(4), .kind = MD_VMA_ANON },
		{ .start = P(6), .end = P(10), .kind = MD_VMA_ANON },	/* the heap grew after it */
		{ .start = P(12), .end = P(14), .kind = MD_VMA_SHMEM, .shared = true },
	};
	struct md_proc prev = { .vmas = prev_v, .n_vmas = 3 };
	struct md_vma v = { .start = P(2), .end = P(16), .kind = MD_VMA_ANON };
	struct md_range *r = NULL;
	size_t n = 0;

	cr_assert_eq(plan_tracked_since(&v, &prev, &r, &n), 0);
	cr_assert_eq(n, 2);
	cr_expect(r[0].start == P(2) && r[0].end == P(4));
	cr_expect(r[1].start == P(6) && r[1].end == P(10));
	free(r);
	/* a process new to the tree: nothing tracked */
	n = 0;
	r = NULL;
	cr_assert_eq(plan_tracked_since(&v, NULL, &r, &n), 0);
	cr_assert_eq(n, 0);
}
