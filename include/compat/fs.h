#pragma once
/*
 * PAGEMAP_SCAN (6.7) and friends: Debian 12's uapi headers predate it.
 * Each late symbol is guarded on its own; values from include/uapi/linux/fs.h.
 * A definition here only lets us build; kfeat_probe() says whether it works.
 */
#include <linux/fs.h>
#include <linux/types.h>
#include <sys/syscall.h>

#ifndef SYS_close_range		/* 5.9; x86_64 */
#define SYS_close_range 436
#endif

#ifndef PAGEMAP_SCAN		/* 6.7 */
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)

struct page_region {
	__u64 start;
	__u64 end;
	__u64 categories;
};

struct pm_scan_arg {
	__u64 size;
	__u64 flags;
	__u64 start;
	__u64 end;
	__u64 walk_end;
	__u64 vec;
	__u64 vec_len;
	__u64 max_pages;
	__u64 category_inverted;
	__u64 category_mask;
	__u64 category_anyof_mask;
	__u64 return_mask;
};
#endif

#ifndef PAGE_IS_WPALLOWED	/* 6.7 */
#define PAGE_IS_WPALLOWED (1 << 0)
#endif
#ifndef PAGE_IS_WRITTEN		/* 6.7 */
#define PAGE_IS_WRITTEN (1 << 1)
#endif
#ifndef PAGE_IS_FILE		/* 6.7 */
#define PAGE_IS_FILE (1 << 2)
#endif
#ifndef PAGE_IS_PRESENT		/* 6.7 */
#define PAGE_IS_PRESENT (1 << 3)
#endif
#ifndef PAGE_IS_SWAPPED		/* 6.7 */
#define PAGE_IS_SWAPPED (1 << 4)
#endif
#ifndef PAGE_IS_PFNZERO		/* 6.7 */
#define PAGE_IS_PFNZERO (1 << 5)
#endif
#ifndef PAGE_IS_HUGE		/* 6.7 */
#define PAGE_IS_HUGE (1 << 6)
#endif
#ifndef PAGE_IS_SOFT_DIRTY	/* 6.7 */
#define PAGE_IS_SOFT_DIRTY (1 << 7)
#endif
#ifndef PAGE_IS_GUARD		/* 6.15 */
#define PAGE_IS_GUARD (1 << 8)
#endif

#ifndef PM_SCAN_WP_MATCHING	/* 6.7 */
#define PM_SCAN_WP_MATCHING (1 << 0)
#endif
#ifndef PM_SCAN_CHECK_WPASYNC	/* 6.7 */
#define PM_SCAN_CHECK_WPASYNC (1 << 1)
#endif
