/*
 * Reading page states out of /proc/PID/pagemap, two ways: large preads of
 * the 64-bit entries, or the PAGEMAP_SCAN ioctl (6.7+). Classifying the
 * states and deciding what to copy is the planner's (src/dump/plan.c).
 */
#include "memdump/proc.h"
#include "memdump/plan.h"
#include "memdump/model.h"
#include "memdump/cleanup.h"
#include "compat/fs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* 64 Ki entries = 512 KiB per pread: one call per 256 MiB of address space */
#define PAGEMAP_CHUNK_ENTRIES (64 * 1024)
/* regions per PAGEMAP_SCAN call (48 bytes each) */
#define SCAN_VEC_LEN 4096

int proc_pagemap_read(int pagemap_fd, uint64_t start, uint64_t end, uint64_t *ret)
{
	size_t want, done = 0;
	off_t off;

	if (start % MD_PAGE_SIZE || end % MD_PAGE_SIZE || end < start)
		return -EINVAL;
	want = (end - start) / MD_PAGE_SIZE * sizeof(uint64_t);
	off = (off_t)(start / MD_PAGE_SIZE * sizeof(uint64_t));

	/* one large pread: per-entry preads are ~30x slower */
	while (done < want) {
		ssize_t n = pread(pagemap_fd, (char *)ret + done, want - done, off + done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) {
			/*
			 * Past the task's address space limit (e.g. [vsyscall])
			 * pagemap ends: nothing there is in the user page tables.
			 */
			memset((char *)ret + done, 0, want - done);
			break;
		}
		done += n;
	}
	return 0;
}

int plan_pagemap_states(int pagemap_fd, uint64_t start, uint64_t end, uint64_t zero_pfn,
			uint8_t *ret_state)
{
	_cleanup_free_ uint64_t *buf = NULL;
	size_t total, chunk;

	if (start % MD_PAGE_SIZE || end % MD_PAGE_SIZE || end < start)
		return -EINVAL;
	total = (end - start) / MD_PAGE_SIZE;
	chunk = total < PAGEMAP_CHUNK_ENTRIES ? total : PAGEMAP_CHUNK_ENTRIES;
	if (chunk == 0)
		return 0;

	buf = malloc(chunk * sizeof(*buf));
	if (!buf)
		return -ENOMEM;

	for (size_t i = 0; i < total; i += chunk) {
		size_t n = total - i < chunk ? total - i : chunk;
		uint64_t s = start + i * MD_PAGE_SIZE;
		int r;

		r = proc_pagemap_read(pagemap_fd, s, s + n * MD_PAGE_SIZE, buf);
		if (r < 0)
			return r;
		plan_classify_pme(buf, n, zero_pfn, ret_state + i);
	}
	return 0;
}

int plan_scan_states(int pagemap_fd, uint64_t start, uint64_t end, uint8_t *ret_state)
{
	_cleanup_free_ struct page_region *vec = NULL;
	uint64_t cur = start;

	if (start % MD_PAGE_SIZE || end % MD_PAGE_SIZE || end < start)
		return -EINVAL;
	memset(ret_state, MD_PS_NONE, (end - start) / MD_PAGE_SIZE);
	if (start == end)
		return 0;

	vec = calloc(SCAN_VEC_LEN, sizeof(*vec));
	if (!vec)
		return -ENOMEM;

	while (cur < end) {
		struct pm_scan_arg arg = {
			.size = sizeof(arg),
			.start = cur,
			.end = end,
			.vec = (uintptr_t)vec,
			.vec_len = SCAN_VEC_LEN,
			/* only pages that hold something; the rest stay NONE */
			.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_FILE |
				       PAGE_IS_PFNZERO,
		};
		uint64_t next;
		int n;

		n = ioctl(pagemap_fd, PAGEMAP_SCAN, &arg);
		if (n < 0)
			return -errno;
		plan_apply_regions(vec, n, start, end, ret_state);

		/*
		 * When a call stops after more than 512 regions, walk_end may
		 * point at the start of the last internal chunk (6.18): resume
		 * from the end of the last region if that is further.
		 */
		next = arg.walk_end;
		if (n > 0 && vec[n - 1].end > next)
			next = vec[n - 1].end;
		if (next <= cur)
			return -EIO;	/* no progress: never spin */
		cur = next;
	}
	return 0;
}
