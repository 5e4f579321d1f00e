/*
 * The planner: page states -> pagemap entries (what to copy, what is zero).
 * Pure: reading pagemap or running PAGEMAP_SCAN is src/proc/pagemap.c's job,
 * shared memory objects are planned once per object elsewhere (dump/shm.c).
 */
#include "memdump/plan.h"
#include "memdump/model.h"
#include "memdump/proc.h"
#include "compat/fs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void plan_classify_pme(const uint64_t *pme, size_t n, uint64_t zero_pfn, uint8_t *ret_state)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t e = pme[i];
		uint64_t pfn = pme_pfn(e);

		/*
		 * A guard region holds no data: it is recreated as a guard. Its
		 * entry may carry the swap bit too, so check it first.
		 */
		if (e & PME_GUARD)
			ret_state[i] = MD_PS_NONE;
		else if (pme_present(e) && zero_pfn != 0 && pfn != 0 && pfn == zero_pfn)
			ret_state[i] = MD_PS_ZERO;
		else if (pme_present(e) && pme_file(e))
			ret_state[i] = MD_PS_FILE;
		else if (pme_present(e))
			ret_state[i] = MD_PS_ANON;
		/*
		 * Not all "swapped" entries hold swapped data: an async uffd-wp
		 * marker on a never-populated page reads 0x420000000000003f (bits
		 * 62 and 57, swap type 31: a PTE marker). PAGEMAP_SCAN calls it
		 * SWAPPED|WPALLOWED, like a page in swap: VMAs under uffd-wp are
		 * planned from pagemap entries (dump/pagemap.c).
		 */
		else if (pme_swapped(e) && (e & PME_SWAP_TYPE_MASK) == PME_SWAP_TYPE_MARKER)
			ret_state[i] = MD_PS_NONE;
		else if (pme_swapped(e))
			ret_state[i] = MD_PS_SWAPPED;
		else
			ret_state[i] = MD_PS_NONE;
	}
}

static uint8_t region_state(uint64_t cat)
{
	if (cat & PAGE_IS_GUARD)
		return MD_PS_NONE;
	if ((cat & PAGE_IS_PRESENT) && (cat & PAGE_IS_PFNZERO))
		return MD_PS_ZERO;
	if ((cat & PAGE_IS_PRESENT) && (cat & PAGE_IS_FILE))
		return MD_PS_FILE;
	if (cat & PAGE_IS_PRESENT)
		return MD_PS_ANON;
	if (cat & PAGE_IS_SWAPPED)
		return MD_PS_SWAPPED;
	return MD_PS_NONE;
}

void plan_apply_regions(const struct page_region *r, size_t n, uint64_t start, uint64_t end,
			uint8_t *state)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t s = r[i].start < start ? start : r[i].start;
		uint64_t e = r[i].end > end ? end : r[i].end;
		uint8_t st = region_state(r[i].categories);

		if (s >= e)
			continue;
		memset(state + (s - start) / MD_PAGE_SIZE, st, (e - s) / MD_PAGE_SIZE);
	}
}

void plan_classify_regions(const struct page_region *r, size_t n, uint64_t start, uint64_t end,
			   uint8_t *ret_state)
{
	memset(ret_state, MD_PS_NONE, (end - start) / MD_PAGE_SIZE);
	plan_apply_regions(r, n, start, end, ret_state);
}

bool plan_vma_wants_pages(const struct md_vma *v)
{
	/*
	 * Shared mappings keep their data in the file or in the shm object
	 * (dumped once per object); the vDSO family is recreated by the
	 * kernel. VM_IO/VM_PFNMAP memory is not made of pages we can read.
	 */
	if (v->shared)
		return false;
	if (v->vmflags & (MD_VMF_IO | MD_VMF_PF))
		return false;
	switch (v->kind) {
	case MD_VMA_ANON:
	case MD_VMA_FILE:
	case MD_VMA_MEMFD:
		return true;
	default:
		return false;
	}
}

/* madvise state fork keeps per VMA; the twin must agree on it */
#define TWIN_FLAGS (MD_VMF_HG | MD_VMF_NH | MD_VMF_DD | MD_VMF_MG | MD_VMF_SR | MD_VMF_RR)

const struct md_vma *plan_vma_twin(const struct md_vma *v, const struct md_vma *parent, size_t n)
{
	if (!plan_vma_wants_pages(v) || v->kind == MD_VMA_MEMFD)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const struct md_vma *p = &parent[i];

		if (p->end <= v->start)
			continue;
		if (p->start != v->start || p->end != v->end || p->kind != v->kind || p->shared ||
		    p->pgoff != v->pgoff || p->inode != v->inode || p->dev_major != v->dev_major ||
		    p->dev_minor != v->dev_minor)
			return NULL;
		if (p->vmflags & (MD_VMF_DC | MD_VMF_WF | MD_VMF_IO | MD_VMF_PF))
			return NULL;
		if ((p->vmflags ^ v->vmflags) & TWIN_FLAGS)
			return NULL;
		if (p->kind == MD_VMA_FILE && (!p->path || !v->path || strcmp(p->path, v->path)))
			return NULL;
		return p;
	}
	return NULL;
}

void plan_mark_inherited(const uint64_t *child_pme, const uint64_t *parent_pme, size_t n, uint64_t zero_pfn,
			 uint8_t *state)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t c = child_pme[i], p = parent_pme[i];
		uint64_t cf = c & PME_PFN_MASK, pf = p & PME_PFN_MASK;

		if (state[i] != MD_PS_ANON && state[i] != MD_PS_SWAPPED)
			continue;
		if (!cf || cf != pf || (c & PME_GUARD) || (p & PME_GUARD))
			continue;
		/* present in both, the same frame, mapped by more than one */
		if (pme_present(c) && pme_present(p) && !(c & PME_EXCLUSIVE) && !(p & PME_EXCLUSIVE) &&
		    !pme_file(c) && !pme_file(p) && cf != zero_pfn)
			state[i] = MD_PS_INHERIT;
		/* swapped out in both, the same swap slot (type and offset) */
		else if (!pme_present(c) && !pme_present(p) && pme_swapped(c) && pme_swapped(p))
			state[i] = MD_PS_INHERIT;
	}
}

/* enum md_pm_flags for one page of v, 0 when the image needs nothing for it */
static uint32_t page_flags(const struct md_vma *v, uint8_t st)
{
	bool anon = v->kind == MD_VMA_ANON;

	switch (st) {
	case MD_PS_ZERO:
		return MD_PM_ZERO;
	case MD_PS_ANON:
	case MD_PS_SWAPPED:
		return MD_PM_DATA;
	case MD_PS_INHERIT:
		return MD_PM_INHERIT;
	case MD_PS_FILE:
		/*
		 * In a private file (or memfd) mapping the page is still the
		 * page cache's and comes back from the file. Private anon
		 * cannot show the bit; if it ever does, copying is the safe side.
		 */
		return anon ? MD_PM_DATA : 0;
	default:
		return 0;
	}
}

int plan_vma(const struct md_vma *v, const uint8_t *state, struct md_pagemap *pm)
{
	size_t nr_pages, runs = 0;
	struct md_pagemap_entry *ne;
	uint32_t prev = 0;

	if (!plan_vma_wants_pages(v))
		return 0;
	nr_pages = (v->end - v->start) / MD_PAGE_SIZE;

	/* count the entries first so the array grows once per VMA */
	for (size_t i = 0; i < nr_pages; i++) {
		uint32_t f = page_flags(v, state[i]);

		if (f && f != prev)
			runs++;
		prev = f;
	}
	if (runs == 0)
		return 0;

	ne = realloc(pm->entries, (pm->n + runs) * sizeof(*ne));
	if (!ne)
		return -ENOMEM;
	pm->entries = ne;

	/* entries start fresh in each VMA: they never cross one */
	prev = 0;
	for (size_t i = 0; i < nr_pages; i++) {
		uint32_t f = page_flags(v, state[i]);

		if (f && f == prev) {
			pm->entries[pm->n - 1].nr_pages++;
		} else if (f) {
			pm->entries[pm->n++] = (struct md_pagemap_entry){
				.vaddr = v->start + i * MD_PAGE_SIZE,
				.nr_pages = 1,
				.flags = f,
			};
		}
		if (f & MD_PM_DATA)
			pm->nr_data_pages++;
		prev = f;
	}
	return 0;
}

/* a cursor over sorted, non-overlapping ranges: does the next asked address (never lower) lie in one? */
struct range_cursor {
	const struct md_range *r;
	size_t n, i;
};

static bool in_ranges(struct range_cursor *c, uint64_t addr)
{
	while (c->i < c->n && c->r[c->i].end <= addr)
		c->i++;
	return c->i < c->n && c->r[c->i].start <= addr;
}

/* the same over the parent's pagemap: does it hold the page at addr (DATA or PARENT)? */
struct pm_cursor {
	const struct md_pagemap *pm;
	size_t i;
};

static bool parent_holds(struct pm_cursor *c, uint64_t addr)
{
	const struct md_pagemap_entry *e;

	while (c->i < c->pm->n &&
	       c->pm->entries[c->i].vaddr + c->pm->entries[c->i].nr_pages * MD_PAGE_SIZE <= addr)
		c->i++;
	if (c->i == c->pm->n)
		return false;
	e = &c->pm->entries[c->i];
	return e->vaddr <= addr && (e->flags & (MD_PM_DATA | MD_PM_PARENT));
}

/* append e to pm (capacity *cap, grown by doubling) */
static int push_entry(struct md_pagemap *pm, size_t *cap, struct md_pagemap_entry e)
{
	if (pm->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct md_pagemap_entry *ne = realloc(pm->entries, nc * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		pm->entries = ne;
		*cap = nc;
	}
	pm->entries[pm->n++] = e;
	return 0;
}

/*
 * append one page with flags, growing the last entry when it continues it;
 * fresh: the page starts an entry of the input, which may be a new VMA
 */
static int append_page(struct md_pagemap *pm, size_t *cap, uint64_t addr, uint32_t flags, bool fresh)
{
	struct md_pagemap_entry *last = pm->n ? &pm->entries[pm->n - 1] : NULL;

	if (flags & MD_PM_DATA)
		pm->nr_data_pages++;
	if (!fresh && last && last->flags == flags && last->vaddr + last->nr_pages * MD_PAGE_SIZE == addr) {
		last->nr_pages++;
		return 0;
	}
	return push_entry(pm, cap, (struct md_pagemap_entry){ addr, 1, flags });
}

int plan_mark_in_parent(const struct md_pagemap *pm, const struct md_range *tracked, size_t n_tracked,
			const struct md_range *written, size_t n_written, const struct md_pagemap *parent,
			struct md_pagemap *ret)
{
	struct range_cursor tc = { tracked, n_tracked, 0 }, wc = { written, n_written, 0 };
	struct pm_cursor pc = { parent, 0 };
	struct md_pagemap out = { 0 };
	size_t cap = 0;
	int r;

	for (size_t i = 0; i < pm->n; i++) {
		const struct md_pagemap_entry *e = &pm->entries[i];

		/* anything but data is kept whole */
		if (!(e->flags & MD_PM_DATA)) {
			r = push_entry(&out, &cap, *e);
			if (r < 0)
				goto fail;
			continue;
		}
		for (uint64_t k = 0; k < e->nr_pages; k++) {
			uint64_t a = e->vaddr + k * MD_PAGE_SIZE;
			bool same = in_ranges(&tc, a) && !in_ranges(&wc, a) && parent_holds(&pc, a);

			r = append_page(&out, &cap, a, same ? MD_PM_PARENT : MD_PM_DATA, k == 0);
			if (r < 0)
				goto fail;
		}
	}
	*ret = out;
	return 0;
fail:
	free(out.entries);
	return r;
}

int plan_range_add(struct md_range **r, size_t *n, uint64_t start, uint64_t end)
{
	struct md_range *a;

	if (*n && (*r)[*n - 1].end >= start) {
		if (end > (*r)[*n - 1].end)
			(*r)[*n - 1].end = end;
		return 0;
	}
	a = realloc(*r, (*n + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	a[(*n)++] = (struct md_range){ start, end };
	*r = a;
	return 0;
}

int plan_tracked_since(const struct md_vma *v, const struct md_proc *prev, struct md_range **r, size_t *n)
{
	for (size_t i = 0; prev && i < prev->n_vmas; i++) {
		const struct md_vma *p = &prev->vmas[i];
		uint64_t s = p->start > v->start ? p->start : v->start;
		uint64_t e = p->end < v->end ? p->end : v->end;
		int ret;

		if (s >= e || p->kind != v->kind || p->shared != v->shared || !plan_vma_wants_pages(p))
			continue;
		ret = plan_range_add(r, n, s, e);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int plan_soft_dirty_ranges(const uint64_t *pme, size_t n, uint64_t start, struct md_range **written,
			   size_t *n_written)
{
	for (size_t i = 0; i < n; i++) {
		size_t j = i;
		int r;

		if (!(pme[i] & PME_SOFT_DIRTY))
			continue;
		while (j + 1 < n && (pme[j + 1] & PME_SOFT_DIRTY))
			j++;
		r = plan_range_add(written, n_written, start + i * MD_PAGE_SIZE, start + (j + 1) * MD_PAGE_SIZE);
		if (r < 0)
			return r;
		i = j;
	}
	return 0;
}
