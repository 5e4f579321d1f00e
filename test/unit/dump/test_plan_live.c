/*
 * The two page-state readers on a live child: PAGEMAP_SCAN and pagemap
 * preads must agree on every VMA, and both must see what the child did
 * (written, read-only-touched, untouched, CoW'd file pages).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compat/fs.h"
#include "memdump/cleanup.h"
#include "memdump/model.h"
#include "memdump/plan.h"
#include "memdump/proc.h"

#define PS MD_PAGE_SIZE
#define ANON_PAGES 16
#define FILE_PAGES 16
/* more regions than one PAGEMAP_SCAN vec holds, over more than one pread chunk */
#define BIG_PAGES 70000
#define BIG_ALTERNATING 10000

struct layout {
	uint64_t anon, file_priv, file_shared, big;
};

static pid_t child;

static void kill_child(void)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		child = 0;
	}
}

static void child_main(int fd_ready, const char *path)
{
	struct layout l;
	char *a, *fp, *fs, *big;
	int fd;

	fd = open(path, O_RDWR);
	if (fd < 0)
		_exit(1);
	a = mmap(NULL, ANON_PAGES * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fp = mmap(NULL, FILE_PAGES * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	fs = mmap(NULL, FILE_PAGES * PS, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	big = mmap(NULL, BIG_PAGES * PS, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (a == MAP_FAILED || fp == MAP_FAILED || fs == MAP_FAILED || big == MAP_FAILED)
		_exit(1);
	/* no THP: the zero page and per-page states must stay 4 KiB-sized */
	madvise(a, ANON_PAGES * PS, MADV_NOHUGEPAGE);
	madvise(big, BIG_PAGES * PS, MADV_NOHUGEPAGE);

	/* anon: 0-3 written, 4-7 read (zero page), 8-15 untouched */
	for (int i = 0; i < 4; i++)
		a[i * PS] = 1;
	for (int i = 4; i < 8; i++)
		(void)*(volatile char *)&a[i * PS];
	/* private file: all read, 2 and 5 CoW'd */
	for (int i = 0; i < FILE_PAGES; i++)
		(void)*(volatile char *)&fp[i * PS];
	fp[2 * PS] = 'x';
	fp[5 * PS] = 'y';
	/* shared file: some read, one written */
	(void)*(volatile char *)&fs[0];
	fs[3 * PS] = 'z';
	/* big: alternating written / zero page, then one page at the end */
	for (int i = 0; i < BIG_ALTERNATING; i++) {
		if (i % 2)
			(void)*(volatile char *)&big[i * PS];
		else
			big[i * PS] = 1;
	}
	big[(BIG_PAGES - 1) * PS] = 1;

	l = (struct layout){ (uintptr_t)a, (uintptr_t)fp, (uintptr_t)fs, (uintptr_t)big };
	if (write(fd_ready, &l, sizeof(l)) != sizeof(l))
		_exit(1);
	for (;;)
		pause();
}

/* the zero page's PFN from our own pagemap: read-touch two pages, same PFN */
static uint64_t own_zero_pfn(void)
{
	_cleanup_close_ int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	char *p = mmap(NULL, 2 * PS, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t e[2];

	cr_assert_neq(p, MAP_FAILED);
	(void)*(volatile char *)p;
	(void)*(volatile char *)(p + PS);
	cr_assert_eq(proc_pagemap_read(fd, (uintptr_t)p, (uintptr_t)p + 2 * PS, e), 0);
	munmap(p, 2 * PS);
	cr_assert(pme_present(e[0]) && pme_present(e[1]));
	cr_assert_eq(pme_pfn(e[0]), pme_pfn(e[1]));
	return pme_pfn(e[0]);
}

static bool have_pagemap_scan(int fd)
{
	struct pm_scan_arg arg = { .size = sizeof(arg) };

	/* an empty range is a valid no-op on kernels that know the ioctl */
	return ioctl(fd, PAGEMAP_SCAN, &arg) >= 0 || (errno != ENOTTY && errno != EINVAL);
}

static const struct md_vma *vma_at(const struct md_vma *v, size_t n, uint64_t addr)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].start <= addr && addr < v[i].end)
			return &v[i];
	return NULL;
}

static uint8_t state_at(const struct md_vma *v, const uint8_t *st, uint64_t addr)
{
	return st[(addr - v->start) / PS];
}

Test(plan_live, scan_and_pagemap_agree, .fini = kill_child)
{
	char path[] = "/tmp/memdump-plan-live-XXXXXX";
	_cleanup_close_ int tfd = mkstemp(path);
	_cleanup_close_ int pfd = -1;
	_cleanup_free_ char *page = malloc(PS);
	struct md_vma *v = NULL;
	size_t n = 0, compared = 0;
	struct layout l;
	uint64_t zpfn;
	int p[2];

	cr_assert_geq(tfd, 0);
	cr_assert_not_null(page);
	for (int i = 0; i < FILE_PAGES; i++) {
		memset(page, 'a' + i, PS);
		cr_assert_eq(write(tfd, page, PS), (ssize_t)PS);
	}
	cr_assert_eq(fsync(tfd), 0);
	zpfn = own_zero_pfn();
	if (zpfn == 0)
		cr_skip_test("PFNs are hidden here (no CAP_SYS_ADMIN)");

	cr_assert_eq(pipe(p), 0);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(p[0]);
		child_main(p[1], path);
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &l, sizeof(l)), (ssize_t)sizeof(l));
	close(p[0]);
	unlink(path);

	{
		char pm[64];

		snprintf(pm, sizeof(pm), "/proc/%d/pagemap", child);
		pfd = open(pm, O_RDONLY | O_CLOEXEC);
	}
	cr_assert_geq(pfd, 0);
	if (!have_pagemap_scan(pfd))
		cr_skip_test("PAGEMAP_SCAN is absent");

	cr_assert_eq(proc_read_smaps(child, &v, &n), 0);

	for (size_t i = 0; i < n; i++) {
		size_t np = (v[i].end - v[i].start) / PS;
		_cleanup_free_ uint8_t *a = NULL, *b = NULL;
		struct md_pagemap pa = {}, pb = {};

		/* [vsyscall] lies above the task size: neither reader covers it */
		if (v[i].kind == MD_VMA_VSYSCALL)
			continue;
		if (!plan_vma_wants_pages(&v[i]) && !v[i].shared)
			continue;
		a = malloc(np);
		b = malloc(np);
		cr_assert(a && b);
		memset(a, 0xaa, np);
		memset(b, 0xbb, np);
		cr_assert_eq(plan_scan_states(pfd, v[i].start, v[i].end, a), 0);
		cr_assert_eq(plan_pagemap_states(pfd, v[i].start, v[i].end, zpfn, b), 0);
		for (size_t j = 0; j < np; j++)
			cr_assert_eq(a[j], b[j], "VMA %lx-%lx '%s' page %zu: scan %d pagemap %d",
				     (unsigned long)v[i].start, (unsigned long)v[i].end,
				     v[i].path ? v[i].path : "", j, a[j], b[j]);
		cr_assert_eq(plan_vma(&v[i], a, &pa), 0);
		cr_assert_eq(plan_vma(&v[i], b, &pb), 0);
		cr_assert_eq(pa.n, pb.n);
		for (size_t k = 0; k < pa.n; k++) {
			cr_assert_eq(pa.entries[k].vaddr, pb.entries[k].vaddr);
			cr_assert_eq(pa.entries[k].nr_pages, pb.entries[k].nr_pages);
			cr_assert_eq(pa.entries[k].flags, pb.entries[k].flags);
		}
		cr_assert_eq(pa.nr_data_pages, pb.nr_data_pages);
		md_pagemap_release(&pa);
		md_pagemap_release(&pb);
		compared++;

		/* and both see what the child did */
		if (vma_at(&v[i], 1, l.anon)) {
			for (int k = 0; k < ANON_PAGES; k++) {
				uint8_t s = state_at(&v[i], a, l.anon + k * PS);
				uint8_t want = k < 4 ? MD_PS_ANON : k < 8 ? MD_PS_ZERO : MD_PS_NONE;

				cr_assert_eq(s, want, "anon page %d: %d", k, s);
			}
		}
		if (vma_at(&v[i], 1, l.file_priv)) {
			for (int k = 0; k < FILE_PAGES; k++) {
				uint8_t s = state_at(&v[i], a, l.file_priv + k * PS);

				if (k == 2 || k == 5)
					cr_assert_eq(s, MD_PS_ANON, "CoW'd page %d: %d", k, s);
				else	/* large folios may unmap untouched neighbours */
					cr_assert(s == MD_PS_FILE || s == MD_PS_NONE, "page %d: %d", k, s);
			}
		}
		if (vma_at(&v[i], 1, l.file_shared)) {
			cr_assert_eq(state_at(&v[i], a, l.file_shared + 3 * PS), MD_PS_FILE);
		}
		if (vma_at(&v[i], 1, l.big)) {
			for (int k = 0; k < BIG_ALTERNATING; k++)
				cr_assert_eq(state_at(&v[i], a, l.big + k * PS),
					     k % 2 ? MD_PS_ZERO : MD_PS_ANON, "big page %d", k);
			cr_assert_eq(state_at(&v[i], a, l.big + (BIG_PAGES - 1) * PS), MD_PS_ANON);
			cr_assert_eq(state_at(&v[i], a, l.big + (BIG_PAGES - 2) * PS), MD_PS_NONE);
		}
	}
	cr_assert_geq(compared, 4);
	cr_assert_not_null(vma_at(v, n, l.big));
	for (size_t i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

Test(plan_live, readers_reject_unaligned_ranges)
{
	_cleanup_close_ int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint8_t st[2];
	uint64_t e[2];

	cr_assert_geq(fd, 0);
	cr_assert_eq(plan_pagemap_states(fd, 0x1000, 0x2800, 0, st), -EINVAL);
	cr_assert_eq(plan_scan_states(fd, 0x1800, 0x3000, st), -EINVAL);
	cr_assert_eq(proc_pagemap_read(fd, 0x3000, 0x1000, e), -EINVAL);
	/* an empty range is no work, not an error */
	cr_assert_eq(plan_pagemap_states(fd, 0x1000, 0x1000, 0, st), 0);
}
