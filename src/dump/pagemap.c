/*
 * Plan one process: page states of every VMA that may hold pages, from
 * PAGEMAP_SCAN where the kernel has it or the pagemap file where not, fed
 * to the pure planner (plan.c) chunk by chunk. Copying is copy.c's.
 */
#include "memdump/dump.h"
#include "memdump/cleanup.h"
#include "memdump/kfeat.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "memdump/plan.h"
#include "memdump/proc.h"
#include "compat/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/*
 * States are one byte per page; a chunk of 64 Ki pages (256 MiB of address
 * space) keeps memory bounded for huge sparse reservations.
 */
#define PLAN_CHUNK_PAGES (64 * 1024)

/*
 * plan_vma() merges neighbours within one call; a chunk boundary may leave
 * two entries that continue each other with the same flags: join them.
 */
static void merge_from(struct md_pagemap *pm, size_t from)
{
	size_t i;

	if (from == 0 || from >= pm->n)
		return;
	i = from - 1;
	if (pm->entries[i].flags == pm->entries[from].flags &&
	    pm->entries[i].vaddr + pm->entries[i].nr_pages * MD_PAGE_SIZE == pm->entries[from].vaddr) {
		pm->entries[i].nr_pages += pm->entries[from].nr_pages;
		memmove(&pm->entries[from], &pm->entries[from + 1],
			(pm->n - from - 1) * sizeof(pm->entries[0]));
		pm->n--;
	}
}

/*
 * The first page of [from, end) that holds something (present or swapped),
 * by one PAGEMAP_SCAN call; *ret = end if none. Huge sparse reservations
 * (runtimes reserve TiBs PROT_NONE) then cost one call, not a byte of
 * state per page.
 */
static int next_populated(int pagemap_fd, uint64_t from, uint64_t end, uint64_t *ret)
{
	struct page_region r;
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = from,
		.end = end,
		.vec = (uintptr_t)&r,
		.vec_len = 1,
		.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
	};
	int n;

	n = ioctl(pagemap_fd, PAGEMAP_SCAN, &arg);
	if (n < 0)
		return -errno;
	*ret = n > 0 && r.start < end ? (r.start > from ? r.start : from) : end;
	return 0;
}

/* what marking inherited pages needs: both pagemaps and room for a chunk of entries */
struct inherit {
	int parent_fd;		/* -1: no parent in the image */
	const struct md_vma *parent_vmas;
	size_t parent_n;
	uint64_t *child_pme, *parent_pme;
};

static int plan_one(int pagemap_fd, const struct md_vma *v, const struct kfeat *kf, uint8_t *state,
		    const struct inherit *inh, struct md_pagemap *pm)
{
	const struct md_vma *twin = NULL;
	size_t first = pm->n;	/* entries of this VMA start here */
	/*
	 * Under userfaultfd write-protection (dirty tracking) a page never
	 * populated holds a marker that PAGEMAP_SCAN reports SWAPPED, like a
	 * page in swap; the pagemap entry tells them apart (its swap type).
	 */
	bool scan_states = kf->pagemap_scan && !(v->vmflags & MD_VMF_UW);

	if (inh->parent_fd >= 0)
		twin = plan_vma_twin(v, inh->parent_vmas, inh->parent_n);

	for (uint64_t start = v->start; start < v->end;) {
		uint64_t end;
		struct md_vma sub = *v;
		size_t before = pm->n;
		int r;

		/* pages that hold nothing plan to nothing: skip them (exactly) */
		if (kf->pagemap_scan) {
			r = next_populated(pagemap_fd, start, v->end, &start);
			if (r < 0)
				return r;
			if (start >= v->end)
				break;
		}
		end = v->end;
		if ((end - start) / MD_PAGE_SIZE > PLAN_CHUNK_PAGES)
			end = start + PLAN_CHUNK_PAGES * MD_PAGE_SIZE;

		if (scan_states)
			r = plan_scan_states(pagemap_fd, start, end, state);
		else
			r = plan_pagemap_states(pagemap_fd, start, end, kf->zero_pfn, state);
		if (r < 0)
			return r;
		/* pages the parent has too, as they are: restore gets them by forking */
		if (twin) {
			size_t np = (end - start) / MD_PAGE_SIZE;

			r = proc_pagemap_read(pagemap_fd, start, end, inh->child_pme);
			if (r >= 0)
				r = proc_pagemap_read(inh->parent_fd, start, end, inh->parent_pme);
			if (r < 0)
				return r;
			plan_mark_inherited(inh->child_pme, inh->parent_pme, np, kf->zero_pfn, state);
		}

		/* the planner looks at the kind and flags, not at the bounds */
		sub.start = start;
		sub.end = end;
		sub.pgoff = v->pgoff + (start - v->start);
		r = plan_vma(&sub, state, pm);
		if (r < 0)
			return r;
		/* never across VMAs: restore maps each VMA on its own */
		if (before > first)
			merge_from(pm, before);
		start = end;
	}
	return 0;
}

int dump_plan_proc(pid_t pid, const struct md_vma *vmas, size_t n, const struct kfeat *kf,
		   struct md_pagemap *ret)
{
	return dump_plan_child(pid, vmas, n, kf, NULL, ret);
}

int dump_plan_child(pid_t pid, const struct md_vma *vmas, size_t n, const struct kfeat *kf,
		    const struct md_proc *parent, struct md_pagemap *ret)
{
	_cleanup_close_ int fd = -1, parent_fd = -1;
	_cleanup_free_ uint8_t *state = NULL;
	_cleanup_free_ uint64_t *child_pme = NULL, *parent_pme = NULL;
	struct md_pagemap pm = {};
	struct inherit inh = { .parent_fd = -1 };
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_err(-errno, "cannot open '%s'", path);

	state = malloc(PLAN_CHUNK_PAGES);
	if (!state)
		return -ENOMEM;
	if (parent) {
		snprintf(path, sizeof(path), "/proc/%d/pagemap", parent->pid);
		parent_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (parent_fd < 0)
			return log_err(-errno, "cannot open '%s'", path);
		child_pme = malloc(PLAN_CHUNK_PAGES * sizeof(uint64_t));
		parent_pme = malloc(PLAN_CHUNK_PAGES * sizeof(uint64_t));
		if (!child_pme || !parent_pme)
			return -ENOMEM;
		inh = (struct inherit){ parent_fd, parent->vmas, parent->n_vmas, child_pme, parent_pme };
	}

	for (size_t i = 0; i < n; i++) {
		const struct md_vma *v = &vmas[i];

		if (!plan_vma_wants_pages(v))
			continue;
		r = plan_one(fd, v, kf, state, &inh, &pm);
		if (r < 0) {
			md_pagemap_release(&pm);
			return log_err(r, "cannot plan %d's VMA %llx-%llx", pid,
				       (unsigned long long)v->start, (unsigned long long)v->end);
		}
	}

	pm.nr_data_pages = 0;
	for (size_t i = 0; i < pm.n; i++)
		if (pm.entries[i].flags & MD_PM_DATA)
			pm.nr_data_pages += pm.entries[i].nr_pages;

	*ret = pm;
	return 0;
}
