/*
 * Where the data of each page comes from: the image's own pages file for
 * DATA entries, and for PARENT entries (an incremental dump) the image the
 * `parent` link names, or its parent, and so on: the first one that holds
 * the page as DATA. Everything is resolved, and every file opened and
 * checked, before any process is created.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "memdump/cleanup.h"
#include "memdump/image.h"
#include "memdump/log.h"
#include "restore/internal.h"

#define MAX_PARENTS 64

static int add_src(struct restore_proc *rp, size_t *cap, uint64_t vaddr, uint64_t nr, struct image_pages *p,
		   uint64_t off)
{
	if (rp->n_src == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct restore_src *n = realloc(rp->src, nc * sizeof(*n));

		if (!n)
			return -ENOMEM;
		rp->src = n;
		*cap = nc;
	}
	rp->src[rp->n_src++] = (struct restore_src){ vaddr, nr, p, off };
	return 0;
}

static int add_range(struct md_pagemap_entry **r, size_t *n, uint64_t vaddr, uint64_t nr)
{
	struct md_pagemap_entry *a = realloc(*r, (*n + 1) * sizeof(*a));

	if (!a)
		return -ENOMEM;
	a[(*n)++] = (struct md_pagemap_entry){ vaddr, nr, MD_PM_PARENT };
	*r = a;
	return 0;
}

static int keep_pages(struct restore_proc *rp, struct image_pages *p)
{
	struct image_pages **a = realloc(rp->parent_pages, (rp->n_parent_pages + 1) * sizeof(*a));

	if (!a) {
		image_pages_close(p);
		return -ENOMEM;
	}
	a[rp->n_parent_pages++] = p;
	rp->parent_pages = a;
	return 0;
}

/*
 * One level: the ranges want[] (sorted) against the parent's pagemap; DATA
 * becomes a source in pages file pf, PARENT goes on to *next.
 */
static int resolve_level(struct restore_proc *rp, size_t *cap, const struct md_pagemap_entry *want, size_t n_want,
			 const struct md_pagemap *ppm, struct image_pages *pf, struct md_pagemap_entry **next,
			 size_t *n_next, uint64_t *bad)
{
	size_t k = 0;
	uint64_t data_off = 0;	/* data offset of entry k's first page, if DATA */

	for (size_t i = 0; i < n_want; i++) {
		uint64_t a = want[i].vaddr, end = want[i].vaddr + want[i].nr_pages * MD_PAGE_SIZE;

		while (a < end) {
			const struct md_pagemap_entry *e;
			uint64_t e_end, stop;
			int r;

			while (k < ppm->n && ppm->entries[k].vaddr + ppm->entries[k].nr_pages * MD_PAGE_SIZE <= a) {
				if (ppm->entries[k].flags & MD_PM_DATA)
					data_off += ppm->entries[k].nr_pages * MD_PAGE_SIZE;
				k++;
			}
			e = k < ppm->n ? &ppm->entries[k] : NULL;
			if (!e || e->vaddr > a || !(e->flags & (MD_PM_DATA | MD_PM_PARENT))) {
				*bad = a;
				return -EINVAL;
			}
			e_end = e->vaddr + e->nr_pages * MD_PAGE_SIZE;
			stop = end < e_end ? end : e_end;
			if (e->flags & MD_PM_DATA)
				r = add_src(rp, cap, a, (stop - a) / MD_PAGE_SIZE, pf, data_off + (a - e->vaddr));
			else
				r = add_range(next, n_next, a, (stop - a) / MD_PAGE_SIZE);
			if (r < 0)
				return r;
			a = stop;
		}
	}
	return 0;
}

int restore_plan_sources(struct restore_ctx *rc, struct restore_proc *rp, const char *dir)
{
	_cleanup_free_ struct md_pagemap_entry *want = NULL;
	_cleanup_close_ int level = -1;
	size_t n_want = 0, cap = 0;
	uint64_t off = 0;
	int r;

	for (size_t i = 0; i < rp->pm.n; i++) {
		const struct md_pagemap_entry *e = &rp->pm.entries[i];

		if (e->flags & MD_PM_DATA) {
			r = add_src(rp, &cap, e->vaddr, e->nr_pages, rp->pages, off);
			off += e->nr_pages * MD_PAGE_SIZE;
		} else if (e->flags & MD_PM_PARENT) {
			r = add_range(&want, &n_want, e->vaddr, e->nr_pages);
		} else {
			r = 0;
		}
		if (r < 0)
			return r;
	}
	if (!n_want)
		return 0;

	level = dup(rc->dirfd);
	if (level < 0)
		return -errno;
	for (int depth = 1; n_want; depth++) {
		struct md_pagemap ppm = { 0 };
		struct md_pagemap_entry *next = NULL;
		size_t n_next = 0;
		uint64_t bad = 0;
		struct image_pages *pf = NULL;
		char name[64];
		int up;

		if (depth > MAX_PARENTS)
			return log_err(-ELOOP, "image '%s': more than %d parent images", dir, MAX_PARENTS);
		up = openat(level, "parent", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (up < 0)
			return log_err(-errno, "image '%s': pages of %d are in parent image %d, which cannot be opened",
				       dir, rp->p.pid, depth);
		close(level);
		level = up;
		r = image_read_pagemap(level, rp->p.pid, &ppm);
		if (r < 0)
			return log_err(r, "image '%s': parent image %d has no pagemap of %d", dir, depth, rp->p.pid);
		image_pages_name(name, sizeof(name), MD_PAGES_PROC, (uint64_t)rp->p.pid);
		r = restore_open_pages(rc, level, name, ppm.nr_data_pages, &pf);
		if (r < 0)
			log_err(r, "image '%s': parent image %d has no usable pages of %d", dir, depth, rp->p.pid);
		if (r >= 0)
			r = keep_pages(rp, pf);
		if (r >= 0) {
			r = resolve_level(rp, &cap, want, n_want, &ppm, pf, &next, &n_next, &bad);
			if (r == -EINVAL)
				log_err(r, "image '%s': page %#llx of %d is in parent image %d, which does not have it",
					dir, (unsigned long long)bad, rp->p.pid, depth);
		}
		md_pagemap_release(&ppm);
		if (r < 0) {
			free(next);
			return r;
		}
		free(want);
		want = next;
		n_want = n_next;
	}
	return 0;
}
