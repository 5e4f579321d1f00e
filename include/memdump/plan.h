#pragma once
/*
 * The planner: a pure function from a VMA and the state of each of its
 * pages to the page ranges an image holds. Page states come either from
 * pagemap entries or from PAGEMAP_SCAN regions; both classifiers must give
 * the same states for the same memory (tested).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

struct md_vma;
struct md_pagemap;
struct page_region;

enum md_page_state {
	MD_PS_NONE = 0,		/* not present, not swapped: reads as zero / comes from the file */
	MD_PS_ZERO,		/* present, the shared zero page */
	MD_PS_ANON,		/* present, anonymous (private CoW'd or anon) */
	MD_PS_FILE,		/* present, page-cache page or shared anon (bit 61 / PAGE_IS_FILE) */
	MD_PS_SWAPPED,		/* swapped out (bit 62 / PAGE_IS_SWAPPED) */
	MD_PS_INHERIT,		/* the very page the parent has at this address (fork CoW) */
};

/* pagemap entries -> states; zero_pfn 0 means "unknown" (then PFNs are not compared). */
void plan_classify_pme(const uint64_t *pme, size_t n, uint64_t zero_pfn, uint8_t *ret_state);
/*
 * PAGEMAP_SCAN regions (categories PRESENT|SWAPPED|FILE|PFNZERO returned)
 * covering part of [start, end) -> states for every page of [start, end).
 */
void plan_classify_regions(const struct page_region *r, size_t n, uint64_t start, uint64_t end,
			   uint8_t *ret_state);

/*
 * The parent's VMA a child's VMA v came from by fork, still the same: the
 * same bounds, kind, file and offset, private, with the same madvise state,
 * and one that fork copies (not MADV_DONTFORK / MADV_WIPEONFORK). Restore
 * forks the child from its restored parent, so such a VMA arrives with the
 * parent's pages in it. NULL if there is none.
 */
const struct md_vma *plan_vma_twin(const struct md_vma *v, const struct md_vma *parent, size_t n);

/*
 * Pages of a child's VMA shared copy-on-write with the parent's twin VMA
 * (same address): planned as data (ANON or SWAPPED) in the child, not
 * mapped exclusively, and the same page frame (or the same swap slot) in
 * both. Those become MD_PS_INHERIT. Page frames are shown to
 * CAP_SYS_ADMIN only: without them (all zero) nothing is marked.
 * zero_pfn (0: unknown) is never taken for a shared page.
 */
void plan_mark_inherited(const uint64_t *child_pme, const uint64_t *parent_pme, size_t n, uint64_t zero_pfn,
			 uint8_t *state);

/* An address range [start, end), page aligned. */
struct md_range {
	uint64_t start, end;
};

/*
 * An incremental plan. The DATA pages of pm that lie in a tracked range,
 * were not written since the parent image, and that the parent image's
 * pagemap (of the same process) holds as DATA or PARENT become
 * MD_PM_PARENT: restore takes them from there. Everything else stays as
 * it is, so a tracking gap can only cost a copy, never lose one. tracked
 * and written are sorted and non-overlapping. *ret gets a new pagemap.
 * Returns 0 or -ENOMEM.
 */
int plan_mark_in_parent(const struct md_pagemap *pm, const struct md_range *tracked, size_t n_tracked,
			const struct md_range *written, size_t n_written, const struct md_pagemap *parent,
			struct md_pagemap *ret);

/* Append [start, end) to a sorted range list, merged with its last range. 0 or -ENOMEM. */
int plan_range_add(struct md_range **r, size_t *n, uint64_t start, uint64_t end);
/*
 * The parts of v that the previous image of the same process had as
 * memory of the same kind (prev: that image's process, NULL: none),
 * appended to *r: what the previous round armed and has tracked since.
 * Tracked VMAs merge with each other and may grow (brk), so the previous
 * image's VMAs, not v's bounds, say what was tracked. 0 or -ENOMEM.
 */
struct md_proc;
int plan_tracked_since(const struct md_vma *v, const struct md_proc *prev, struct md_range **r, size_t *n);
/*
 * Soft-dirty tracking: the pages of n pagemap entries (the first at
 * address start) with bit 55 set, appended to *written. 0 or -ENOMEM.
 */
int plan_soft_dirty_ranges(const uint64_t *pme, size_t n, uint64_t start, struct md_range **written,
			   size_t *n_written);
/* Whether the planner could ever want pages of this VMA (private anon/file, memfd private). */
bool plan_vma_wants_pages(const struct md_vma *v);

/*
 * Append to pm the ranges of v: MD_PM_DATA for pages to copy, MD_PM_ZERO
 * for zero pages of anonymous memory; neighbouring pages with the same
 * flags merge into one entry. state has one byte per page of v.
 * Returns 0 or -ENOMEM.
 */
int plan_vma(const struct md_vma *v, const uint8_t *state, struct md_pagemap *pm);

/*
 * Like plan_classify_regions() without clearing first: only the pages the
 * regions cover are written (used to classify PAGEMAP_SCAN results in rounds).
 */
void plan_apply_regions(const struct page_region *r, size_t n, uint64_t start, uint64_t end,
			uint8_t *state);

/*
 * States of every page of [start, end) (page aligned) of the process whose
 * /proc/PID/pagemap is pagemap_fd, one byte per page into ret_state.
 * plan_scan_states() runs PAGEMAP_SCAN (6.7+); plan_pagemap_states() reads
 * the pagemap entries with large preads. Both give the same states for the
 * same memory. They live in src/proc/pagemap.c. Return 0 or -errno.
 */
int plan_scan_states(int pagemap_fd, uint64_t start, uint64_t end, uint8_t *ret_state);
int plan_pagemap_states(int pagemap_fd, uint64_t start, uint64_t end, uint64_t zero_pfn,
			uint8_t *ret_state);
