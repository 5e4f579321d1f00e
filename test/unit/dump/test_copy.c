/*
 * dump_copy_pages(), dump_plan_proc() and dump_shm_objects() on live forked
 * children whose memory holds a known pattern: the pages files must hold
 * exactly the planned pages, in pagemap order.
 */
#include "memdump/dump.h"
#include "memdump/image.h"
#include "memdump/kfeat.h"
#include "memdump/model.h"
#include "child.h"
#include "memdump/proc.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096UL

static char imgdir[PATH_MAX];

static void make_imgdir(void)
{
	char t[] = "/tmp/md-copy-XXXXXX";

	cr_assert_not_null(mkdtemp(t));
	cr_assert_not_null(realpath(t, imgdir));
}

static void remove_imgdir(void)
{
	char cmd[PATH_MAX + 64];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", imgdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", imgdir);
}

TestSuite(dump_copy, .init = make_imgdir, .fini = remove_imgdir);



/* Each 8-byte word holds a function of its own address (or object offset). */
static uint64_t pattern(uint64_t where)
{
	return where * 0x9E3779B97F4A7C15ULL ^ 0x5555aaaa5555aaaaULL;
}

static void fill(void *p, size_t len, uint64_t base)
{
	uint64_t *w = p;

	for (size_t i = 0; i < len / 8; i++)
		w[i] = pattern(base + i * 8);
}

/* Whether the page at buf holds the pattern of the page at base; logs the first bad word. */
static bool page_matches(const uint8_t *buf, uint64_t base)
{
	const uint64_t *w = (const uint64_t *)buf;

	for (size_t i = 0; i < PG / 8; i++) {
		if (w[i] != pattern(base + i * 8)) {
			cr_log_error("page %#lx word %zu: %#lx, want %#lx", (unsigned long)base, i,
				     (unsigned long)w[i], (unsigned long)pattern(base + i * 8));
			return false;
		}
	}
	return true;
}

/* ------------------------------------------------------------ hand-made pm */

enum { A_PAGES = 8, B_PAGES = 1536, C_PAGES = 4, D_PAGES = 2600, E_PAGES = 2 };

/* a 1 GiB reservation with three pages written: more than one planner chunk */
#define G_PAGES (256UL * 1024)
static const uint64_t g_written[] = { 0, 75000, G_PAGES - 1 };

struct layout {
	uint64_t a, b, c, d, e, g;
};

static void *map_filled(size_t pages)
{
	void *p = mmap(NULL, pages * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		_exit(1);
	fill(p, pages * PG, (uint64_t)(uintptr_t)p);
	return p;
}

static void setup_layout(int sync_fd)
{
	struct layout l;
	uint8_t *d;

	l.a = (uintptr_t)map_filled(A_PAGES);
	l.b = (uintptr_t)map_filled(B_PAGES);	/* 6 MiB: more than one 4 MiB buffer */
	l.c = (uintptr_t)map_filled(C_PAGES);
	if (mprotect((void *)(uintptr_t)l.c, C_PAGES * PG, PROT_NONE) < 0)
		_exit(1);
	/* every other page touched: 1300 one-page ranges, more than IOV_MAX */
	d = mmap(NULL, D_PAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (d == MAP_FAILED)
		_exit(1);
	for (size_t i = 0; i < D_PAGES; i += 2)
		fill(d + i * PG, PG, (uint64_t)(uintptr_t)(d + i * PG));
	l.d = (uintptr_t)d;
	l.e = (uintptr_t)map_filled(E_PAGES);
	if (mprotect((void *)(uintptr_t)l.e, E_PAGES * PG, PROT_READ) < 0)
		_exit(1);
	d = mmap(NULL, G_PAGES * PG, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (d == MAP_FAILED)
		_exit(1);
	for (size_t i = 0; i < sizeof(g_written) / sizeof(g_written[0]); i++)
		fill(d + g_written[i] * PG, PG, (uint64_t)(uintptr_t)(d + g_written[i] * PG));
	if (mprotect(d, G_PAGES * PG, PROT_NONE) < 0)
		_exit(1);
	l.g = (uintptr_t)d;

	if (write(sync_fd, &l, sizeof(l)) != sizeof(l))
		_exit(1);
}

static int cmp_vma(const void *a, const void *b)
{
	const struct md_vma *x = a, *y = b;

	return (x->start > y->start) - (x->start < y->start);
}

static void add_entry(struct md_pagemap *pm, uint64_t vaddr, uint64_t nr)
{
	pm->entries = realloc(pm->entries, (pm->n + 1) * sizeof(*pm->entries));
	cr_assert_not_null(pm->entries);
	pm->entries[pm->n++] = (struct md_pagemap_entry){ vaddr, nr, MD_PM_DATA };
	pm->nr_data_pages += nr;
}

/* Read the pages file back and check every MD_PM_DATA page, in pagemap order. */
static void check_pages_file(int dirfd, const char *name, const struct md_pagemap *pm,
			     bool (*check)(const uint8_t *page, uint64_t vaddr, void *arg), void *arg)
{
	uint8_t page[PG];
	uint64_t off = 0;
	size_t bad = 0;
	struct image_pages *p;

	cr_assert_eq(image_pages_open(dirfd, name, pm->nr_data_pages, true, &p), 0);
	for (size_t i = 0; i < pm->n; i++) {
		const struct md_pagemap_entry *e = &pm->entries[i];

		if (!(e->flags & MD_PM_DATA))
			continue;
		for (uint64_t k = 0; k < e->nr_pages; k++, off += PG) {
			cr_assert_eq(image_pages_read(p, NULL, off, page, PG), 0);
			if (!check(page, e->vaddr + k * PG, arg) && ++bad > 5)
				cr_assert_fail("too many bad pages");
		}
	}
	/* nothing after the last page */
	cr_expect_eq(image_pages_read(p, NULL, off, page, PG), -EINVAL);
	image_pages_close(p);
	cr_expect_eq(bad, 0, "%zu bad pages", bad);
}

static bool check_pattern(const uint8_t *page, uint64_t vaddr, void *arg)
{
	return page_matches(page, vaddr);
}

Test(dump_copy, handmade_pagemap_in_order)
{
	struct layout l;
	struct md_vma vmas[5] = {};
	struct md_pagemap pm = {};
	struct image_pages_writer *w = NULL;
	char name[64];
	int dirfd;
	pid_t pid;

	pid = start_child(setup_layout, &l, sizeof(l));

	vmas[0] = (struct md_vma){ .start = l.a, .end = l.a + A_PAGES * PG, .prot = PROT_READ };
	vmas[1] = (struct md_vma){ .start = l.b, .end = l.b + B_PAGES * PG, .prot = PROT_READ };
	vmas[2] = (struct md_vma){ .start = l.c, .end = l.c + C_PAGES * PG, .prot = PROT_NONE };
	vmas[3] = (struct md_vma){ .start = l.d, .end = l.d + D_PAGES * PG, .prot = PROT_READ };
	vmas[4] = (struct md_vma){ .start = l.e, .end = l.e + E_PAGES * PG, .prot = PROT_READ };
	qsort(vmas, 5, sizeof(vmas[0]), cmp_vma);

	/* deliberately not in address order: the file must follow the pagemap */
	add_entry(&pm, l.a + 4 * PG, 4);
	add_entry(&pm, l.a, 4);
	for (size_t i = 0; i < D_PAGES; i += 2)
		add_entry(&pm, l.d + i * PG, 1);
	add_entry(&pm, l.c, C_PAGES);
	add_entry(&pm, l.b, B_PAGES);
	add_entry(&pm, l.e, E_PAGES);

	cr_assert_eq(image_dir_open(imgdir, false, &dirfd), 0);
	image_pages_name(name, sizeof(name), MD_PAGES_PROC, pid);
	cr_assert_eq(image_pages_create(dirfd, name, &w), 0);
	cr_assert_eq(dump_copy_pages(pid, vmas, 5, &pm, w), 0);
	cr_assert_eq(image_pages_finish(w), 0);

	check_pages_file(dirfd, name, &pm, check_pattern, NULL);

	close(dirfd);
	stop_child(pid);
	md_pagemap_release(&pm);
}

Test(dump_copy, range_outside_vmas_fails)
{
	struct layout l;
	struct md_vma vma = {};
	struct md_pagemap pm = {};
	struct image_pages_writer *w = NULL;
	char name[64];
	int dirfd;
	pid_t pid;

	pid = start_child(setup_layout, &l, sizeof(l));
	vma = (struct md_vma){ .start = l.a, .end = l.a + A_PAGES * PG, .prot = PROT_READ };
	add_entry(&pm, l.a, A_PAGES + 1);

	cr_assert_eq(image_dir_open(imgdir, false, &dirfd), 0);
	image_pages_name(name, sizeof(name), MD_PAGES_PROC, pid);
	cr_assert_eq(image_pages_create(dirfd, name, &w), 0);
	cr_expect_lt(dump_copy_pages(pid, &vma, 1, &pm, w), 0);
	image_pages_abort(w);

	close(dirfd);
	stop_child(pid);
	md_pagemap_release(&pm);
}

static bool check_zero(const uint8_t *page, uint64_t vaddr, void *arg)
{
	for (size_t i = 0; i < PG; i++)
		if (page[i])
			return false;
	return true;
}

/*
 * A pre-dump copies while the process runs: memory it unmapped meanwhile
 * reads as zeroes there, and is still an error for a frozen process.
 */
Test(dump_copy, unmapped_meanwhile_reads_as_zeroes_only_when_running)
{
	struct layout l;
	struct md_vma vma;
	struct md_pagemap pm = {};
	struct image_pages_writer *w = NULL;
	char name[64];
	int dirfd;
	pid_t pid;

	pid = start_child(setup_layout, &l, sizeof(l));
	/* where the child has nothing mapped: the page below its first mapping is never its own */
	vma = (struct md_vma){ .start = 0x10000, .end = 0x10000 + 2 * PG, .prot = PROT_READ | PROT_WRITE };
	add_entry(&pm, vma.start, 2);

	cr_assert_eq(image_dir_open(imgdir, false, &dirfd), 0);
	image_pages_name(name, sizeof(name), MD_PAGES_PROC, pid);
	cr_assert_eq(image_pages_create(dirfd, name, &w), 0);
	cr_expect_lt(dump_copy_pages(pid, &vma, 1, &pm, w), 0);
	image_pages_abort(w);

	cr_assert_eq(image_pages_create(dirfd, name, &w), 0);
	cr_assert_eq(dump_copy_pages_running(pid, &vma, 1, &pm, w), 0);
	cr_assert_eq(image_pages_finish(w), 0);
	check_pages_file(dirfd, name, &pm, check_zero, NULL);

	close(dirfd);
	stop_child(pid);
	md_pagemap_release(&pm);
}

/* ------------------------------------------------- copy-on-write stays shared */

#define COW_PAGES 64

struct cow_layout {
	uint64_t addr;
	pid_t grandchild;
};

static void setup_cow(int sync_fd)
{
	struct cow_layout l;

	l.addr = (uintptr_t)map_filled(COW_PAGES);
	l.grandchild = fork();
	if (l.grandchild < 0)
		_exit(1);
	if (l.grandchild == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sync_fd);
		for (;;)
			pause();
	}
	if (write(sync_fd, &l, sizeof(l)) != sizeof(l))
		_exit(1);
}

/* the page frame behind addr in pid (0 if not present or hidden) */
static uint64_t pfn_of(pid_t pid, uint64_t addr, bool *exclusive)
{
	char path[64];
	uint64_t e = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &e, 8, (off_t)(addr / PG * 8)), 8);
	close(fd);
	*exclusive = e >> 56 & 1;
	return e >> 63 ? e & ((1ULL << 55) - 1) : 0;
}

/*
 * Reading a parent's pages that its child still shares copy-on-write must
 * leave them shared: pinning them (process_vm_readv) would give the parent
 * private copies.
 */
Test(dump_copy, copy_on_write_pages_stay_shared)
{
	struct cow_layout l;
	struct md_vma vma;
	struct md_pagemap pm = {};
	struct image_pages_writer *w = NULL;
	char name[64];
	bool excl;
	int dirfd;
	pid_t pid;

	pid = start_child(setup_cow, &l, sizeof(l));
	if (pfn_of(pid, l.addr, &excl) == 0) {
		stop_child(pid);
		cr_skip_test("page frames are hidden (no CAP_SYS_ADMIN)");
	}
	for (uint64_t i = 0; i < COW_PAGES; i++) {
		bool ge;

		cr_assert_eq(pfn_of(pid, l.addr + i * PG, &excl), pfn_of(l.grandchild, l.addr + i * PG, &ge),
			     "page %lu is not shared after fork", (unsigned long)i);
		cr_assert(!excl && !ge);
	}
	vma = (struct md_vma){ .start = l.addr, .end = l.addr + COW_PAGES * PG, .prot = PROT_READ | PROT_WRITE };
	add_entry(&pm, l.addr, COW_PAGES);

	cr_assert_eq(image_dir_open(imgdir, false, &dirfd), 0);
	image_pages_name(name, sizeof(name), MD_PAGES_PROC, pid);
	cr_assert_eq(image_pages_create(dirfd, name, &w), 0);
	cr_assert_eq(dump_copy_pages(pid, &vma, 1, &pm, w), 0);
	cr_assert_eq(image_pages_finish(w), 0);
	check_pages_file(dirfd, name, &pm, check_pattern, NULL);

	for (uint64_t i = 0; i < COW_PAGES; i++) {
		bool ge;

		cr_expect_eq(pfn_of(pid, l.addr + i * PG, &excl), pfn_of(l.grandchild, l.addr + i * PG, &ge),
			     "page %lu was unshared by the copy", (unsigned long)i);
		cr_expect(!excl, "page %lu became exclusive", (unsigned long)i);
	}
	close(dirfd);
	stop_child(pid);
	md_pagemap_release(&pm);
}

/*
 * One VMA as the caller sees it, but its second half is PROT_NONE in the
 * child: the copy must read both halves (/proc/PID/mem reads without
 * PROT_READ).
 */
struct split_layout {
	uint64_t f, a;
};

static void setup_split(int sync_fd)
{
	struct split_layout l;

	l.f = (uintptr_t)map_filled(6);
	if (mprotect((void *)(uintptr_t)(l.f + 3 * PG), 3 * PG, PROT_NONE) < 0)
		_exit(1);
	l.a = (uintptr_t)map_filled(2);
	if (write(sync_fd, &l, sizeof(l)) != sizeof(l))
		_exit(1);
}

Test(dump_copy, short_read_resumes)
{
	struct split_layout l;
	struct md_vma vmas[2] = {};
	struct md_pagemap pm = {};
	struct image_pages_writer *w = NULL;
	char name[64];
	int dirfd;
	pid_t pid;

	pid = start_child(setup_split, &l, sizeof(l));
	vmas[0] = (struct md_vma){ .start = l.f, .end = l.f + 6 * PG, .prot = PROT_READ };
	vmas[1] = (struct md_vma){ .start = l.a, .end = l.a + 2 * PG, .prot = PROT_READ };
	qsort(vmas, 2, sizeof(vmas[0]), cmp_vma);
	add_entry(&pm, l.f + PG, 5);
	add_entry(&pm, l.a, 2);
	add_entry(&pm, l.f, 1);

	cr_assert_eq(image_dir_open(imgdir, false, &dirfd), 0);
	image_pages_name(name, sizeof(name), MD_PAGES_PROC, pid);
	cr_assert_eq(image_pages_create(dirfd, name, &w), 0);
	cr_assert_eq(dump_copy_pages(pid, vmas, 2, &pm, w), 0);
	cr_assert_eq(image_pages_finish(w), 0);
	check_pages_file(dirfd, name, &pm, check_pattern, NULL);

	close(dirfd);
	stop_child(pid);
	md_pagemap_release(&pm);
}

/* A file mapping past the end of its file: no way reads it, and that is an error. */
static void setup_past_eof(int sync_fd)
{
	char path[PATH_MAX + 16];
	uint64_t addr;
	void *m;
	int fd;

	snprintf(path, sizeof(path), "%s/short", imgdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, PG) < 0)
		_exit(1);
	m = mmap(NULL, 4 * PG, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		_exit(1);
	addr = (uintptr_t)m;
	if (write(sync_fd, &addr, sizeof(addr)) != sizeof(addr))
		_exit(1);
}

Test(dump_copy, unreadable_range_fails)
{
	struct md_vma vma = {};
	struct md_pagemap pm = {};
	struct image_pages_writer *w = NULL;
	uint64_t addr;
	char name[64];
	int dirfd;
	pid_t pid;

	pid = start_child(setup_past_eof, &addr, sizeof(addr));
	vma = (struct md_vma){ .start = addr, .end = addr + 4 * PG, .prot = PROT_READ };
	add_entry(&pm, addr, 4);

	cr_assert_eq(image_dir_open(imgdir, false, &dirfd), 0);
	image_pages_name(name, sizeof(name), MD_PAGES_PROC, pid);
	cr_assert_eq(image_pages_create(dirfd, name, &w), 0);
	cr_expect_lt(dump_copy_pages(pid, &vma, 1, &pm, w), 0);
	image_pages_abort(w);

	close(dirfd);
	stop_child(pid);
	md_pagemap_release(&pm);
}

/* ---------------------------------------------------- planned from pagemap */

struct mem_check {
	int mem_fd;
};

/* Compare with the child's memory as /proc/PID/mem shows it now (it sleeps). */
static bool check_mem(const uint8_t *page, uint64_t vaddr, void *arg)
{
	struct mem_check *mc = arg;
	uint8_t want[PG];

	if (pread(mc->mem_fd, want, PG, vaddr) != (ssize_t)PG) {
		cr_log_error("cannot read %#lx of the child", (unsigned long)vaddr);
		return false;
	}
	if (memcmp(page, want, PG) != 0) {
		cr_log_error("page %#lx differs", (unsigned long)vaddr);
		return false;
	}
	return true;
}

/* flags of the entry holding page vaddr, 0 if none */
static uint32_t pm_flags_at(const struct md_pagemap *pm, uint64_t vaddr)
{
	for (size_t i = 0; i < pm->n; i++) {
		const struct md_pagemap_entry *e = &pm->entries[i];

		if (vaddr >= e->vaddr && vaddr < e->vaddr + e->nr_pages * PG)
			return e->flags;
	}
	return 0;
}

Test(dump_copy, planned_pages_match_memory)
{
	struct layout l;
	struct md_vma *vmas = NULL;
	size_t n = 0;
	struct kfeat kf;
	struct md_pagemap pm = {}, pm_other = {};
	struct image_pages_writer *w = NULL;
	struct mem_check mc;
	uint64_t sum = 0;
	char name[64], path[64];
	int dirfd;
	pid_t pid;

	pid = start_child(setup_layout, &l, sizeof(l));
	cr_assert_eq(proc_read_smaps(pid, &vmas, &n), 0);
	cr_assert_eq(kfeat_probe(&kf), 0);
	cr_assert_eq(dump_plan_proc(pid, vmas, n, &kf, &pm), 0);

	for (size_t i = 0; i < pm.n; i++) {
		if (pm.entries[i].flags & MD_PM_DATA)
			sum += pm.entries[i].nr_pages;
		if (i)
			cr_expect_geq(pm.entries[i].vaddr,
				      pm.entries[i - 1].vaddr + pm.entries[i - 1].nr_pages * PG,
				      "entries out of order or overlapping");
	}
	cr_expect_eq(pm.nr_data_pages, sum);

	/* every page we wrote is data; the untouched half of D is not */
	for (size_t i = 0; i < A_PAGES; i++)
		cr_expect_eq(pm_flags_at(&pm, l.a + i * PG), MD_PM_DATA);
	for (size_t i = 0; i < B_PAGES; i++)
		cr_expect_eq(pm_flags_at(&pm, l.b + i * PG), MD_PM_DATA);
	for (size_t i = 0; i < C_PAGES; i++)
		cr_expect_eq(pm_flags_at(&pm, l.c + i * PG), MD_PM_DATA, "PROT_NONE page %zu", i);
	for (size_t i = 0; i < D_PAGES; i++)
		cr_expect_eq(pm_flags_at(&pm, l.d + i * PG), i % 2 ? 0 : MD_PM_DATA, "D page %zu", i);
	for (size_t i = 0; i < E_PAGES; i++)
		cr_expect_eq(pm_flags_at(&pm, l.e + i * PG), MD_PM_DATA);
	for (size_t i = 0, k = 0; i < G_PAGES; i++) {
		bool written = k < sizeof(g_written) / sizeof(g_written[0]) && g_written[k] == i;

		if (pm_flags_at(&pm, l.g + i * PG) != (written ? MD_PM_DATA : 0))
			cr_expect_fail("G page %zu", i);
		k += written;
	}

	/* the other way of reading page states plans the same */
	if (kf.pagemap_scan) {
		kf.pagemap_scan = false;
		cr_assert_eq(dump_plan_proc(pid, vmas, n, &kf, &pm_other), 0);
		cr_expect_eq(pm_other.n, pm.n);
		cr_expect_eq(pm_other.nr_data_pages, pm.nr_data_pages);
		/* field by field: the structs have padding */
		for (size_t i = 0; i < pm.n && i < pm_other.n; i++) {
			const struct md_pagemap_entry *x = &pm.entries[i], *y = &pm_other.entries[i];

			cr_expect(x->vaddr == y->vaddr && x->nr_pages == y->nr_pages &&
					  x->flags == y->flags,
				  "entry %zu: PAGEMAP_SCAN %#lx+%lu/%u, pagemap %#lx+%lu/%u", i,
				  (unsigned long)x->vaddr, (unsigned long)x->nr_pages, x->flags,
				  (unsigned long)y->vaddr, (unsigned long)y->nr_pages, y->flags);
		}
	}

	cr_assert_eq(image_dir_open(imgdir, false, &dirfd), 0);
	image_pages_name(name, sizeof(name), MD_PAGES_PROC, pid);
	cr_assert_eq(image_pages_create(dirfd, name, &w), 0);
	cr_assert_eq(dump_copy_pages(pid, vmas, n, &pm, w), 0);
	cr_assert_eq(image_pages_finish(w), 0);

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	mc.mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(mc.mem_fd, 0);
	check_pages_file(dirfd, name, &pm, check_mem, &mc);
	close(mc.mem_fd);

	close(dirfd);
	stop_child(pid);
	md_pagemap_release(&pm);
	md_pagemap_release(&pm_other);
	md_vmas_free(vmas, n);
}

/* ------------------------------------------------------------------ shm */

#define SPARSE_SIZE (16UL << 20)
#define SEALED_SIZE (3 * PG + 17)

static const uint64_t sparse_pages[] = { 0, 5, 6, 100, 101, 102, 103, 4095 };

#define SYSV_SIZE (5 * PG + 100)

struct shm_setup {
	uint64_t sparse_ino, sealed_ino, anon_ino;
	int sysv_id;
};

static void setup_shm(int sync_fd)
{
	struct shm_setup info;
	struct stat st;
	uint8_t *m, buf[SEALED_SIZE];
	int fd;

	/* a memfd known only through its shared mapping, data at sparse offsets */
	fd = memfd_create("sparse", 0);
	if (fd < 0 || ftruncate(fd, SPARSE_SIZE) < 0 || fstat(fd, &st) < 0)
		_exit(1);
	info.sparse_ino = st.st_ino;
	m = mmap(NULL, SPARSE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		_exit(1);
	for (size_t i = 0; i < sizeof(sparse_pages) / sizeof(sparse_pages[0]); i++)
		fill(m + sparse_pages[i] * PG, PG, sparse_pages[i] * PG);
	/* a few bytes in the middle of page 2048, written through the fd */
	if (pwrite(fd, "hello", 5, 2048 * PG + 10) != 5)
		_exit(1);
	close(fd);

	/* a sealed memfd known only through its fd, its last page partial */
	fd = memfd_create("sealed", MFD_ALLOW_SEALING);
	if (fd < 0)
		_exit(1);
	fill(buf, sizeof(buf) & ~7UL, 0);
	if (write(fd, buf, sizeof(buf)) != sizeof(buf) || fcntl(fd, F_ADD_SEALS, F_SEAL_GROW) < 0 ||
	    fstat(fd, &st) < 0)
		_exit(1);
	info.sealed_ino = st.st_ino;

	/* shared anonymous memory, one page touched */
	m = mmap(NULL, 256 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		_exit(1);
	fill(m + 3 * PG, PG, 3 * PG);
	info.anon_ino = 0;	/* found through maps */

	/*
	 * A SysV segment attached twice, page 1 written, then removed so that
	 * it goes away with the child: the image must keep SHM_DEST.
	 */
	info.sysv_id = shmget(IPC_PRIVATE, SYSV_SIZE, IPC_CREAT | 0640);
	if (info.sysv_id < 0)
		_exit(1);
	m = shmat(info.sysv_id, NULL, 0);
	if (m == (void *)-1 || shmat(info.sysv_id, NULL, SHM_RDONLY) == (void *)-1) {
		shmctl(info.sysv_id, IPC_RMID, NULL);
		_exit(1);
	}
	shmctl(info.sysv_id, IPC_RMID, NULL);
	fill(m + PG, PG, PG);

	if (write(sync_fd, &info, sizeof(info)) != sizeof(info))
		_exit(1);
}

static bool check_sparse(const uint8_t *page, uint64_t off, void *arg)
{
	if (off == 2048 * PG) {
		uint8_t want[PG] = {};

		memcpy(want + 10, "hello", 5);
		return memcmp(page, want, PG) == 0;
	}
	return page_matches(page, off);
}

static bool check_sealed(const uint8_t *page, uint64_t off, void *arg)
{
	uint8_t want[PG] = {};
	size_t len = off + PG <= SEALED_SIZE ? PG : SEALED_SIZE - off;

	fill(want, len & ~7UL, off);
	return memcmp(page, want, PG) == 0;
}

static void check_shm(int dirfd, bool sysv, uint64_t id, const char *want_name, uint64_t want_size,
		      const struct md_pagemap_entry *want, size_t n_want,
		      bool (*check)(const uint8_t *, uint64_t, void *))
{
	struct md_shm shm = {};
	struct md_pagemap pm = {};
	char name[64];

	cr_assert_eq(image_read_shm(dirfd, sysv, id, &shm, &pm), 0, "shm %lu", (unsigned long)id);
	cr_expect_eq(shm.sysv, sysv);
	if (sysv) {
		cr_expect_eq(shm.sysv_key, IPC_PRIVATE);
		cr_expect_eq(shm.sysv_mode & 0777, 0640);
		cr_expect(shm.sysv_mode & SHM_DEST, "mode %o lost SHM_DEST", shm.sysv_mode);
		cr_expect_eq(shm.sysv_uid, getuid());
	}
	cr_expect_eq(shm.id, id);
	cr_expect_eq(shm.size, want_size);
	if (want_name)
		cr_expect_str_eq(shm.name, want_name);
	else
		cr_expect_null(shm.name);

	cr_expect_eq(pm.n, n_want, "shm %lu: %zu entries, want %zu", (unsigned long)id, pm.n, n_want);
	for (size_t i = 0; i < pm.n && i < n_want; i++) {
		cr_expect_eq(pm.entries[i].vaddr, want[i].vaddr, "entry %zu", i);
		cr_expect_eq(pm.entries[i].nr_pages, want[i].nr_pages, "entry %zu", i);
		cr_expect_eq(pm.entries[i].flags, MD_PM_DATA);
	}
	image_pages_name(name, sizeof(name), sysv ? MD_PAGES_SYSV : MD_PAGES_SHM, id);
	check_pages_file(dirfd, name, &pm, check, NULL);

	md_shm_release(&shm);
	md_pagemap_release(&pm);
}

Test(dump_copy, shm_objects_once_with_data_extents)
{
	static const struct md_pagemap_entry sparse_want[] = {
		{ 0, 1, MD_PM_DATA }, { 5 * PG, 2, MD_PM_DATA }, { 100 * PG, 4, MD_PM_DATA },
		{ 2048 * PG, 1, MD_PM_DATA }, { 4095 * PG, 1, MD_PM_DATA },
	};
	static const struct md_pagemap_entry sealed_want[] = { { 0, 4, MD_PM_DATA } };
	static const struct md_pagemap_entry anon_want[] = { { 3 * PG, 1, MD_PM_DATA } };
	static const struct md_pagemap_entry sysv_want[] = { { PG, 1, MD_PM_DATA } };
	struct shm_setup info;
	struct md_proc p = {};
	struct md_shm shm = {};
	struct md_pagemap pm = {};
	struct dump_shm_ids ids = {};
	uint64_t anon_ino = 0;
	size_t n_sysv_vmas = 0;
	bool seen_sparse = false, seen_sealed = false, seen_anon = false;
	int dirfd;
	pid_t pid;

	pid = start_child(setup_shm, &info, sizeof(info));
	cr_assert_eq(proc_read_smaps(pid, &p.vmas, &p.n_vmas), 0);
	cr_assert_eq(dump_collect_fds(pid, &p), 0);

	cr_assert_eq(image_dir_open(imgdir, false, &dirfd), 0);
	cr_assert_eq(dump_shm_objects(pid, &p, &(struct dump_out){ .dirfd = dirfd }, &ids), 0);

	for (size_t i = 0; i < p.n_vmas; i++) {
		const struct md_vma *v = &p.vmas[i];

		if (v->kind == MD_VMA_MEMFD)
			cr_expect_eq(v->shm_id, info.sparse_ino);
		if (v->kind == MD_VMA_SHMEM) {
			cr_expect_neq(v->shm_id, 0);
			anon_ino = v->shm_id;
		}
		if (v->kind == MD_VMA_SYSV) {
			cr_expect_eq(v->shm_id, (uint64_t)info.sysv_id);
			n_sysv_vmas++;
		}
	}
	cr_assert_neq(anon_ino, 0, "no shared anonymous VMA found");
	cr_expect_eq(n_sysv_vmas, 2);

	cr_expect_eq(ids.n_shm, 3);
	for (size_t i = 0; i < ids.n_shm; i++) {
		seen_sparse |= ids.shm[i] == info.sparse_ino;
		seen_sealed |= ids.shm[i] == info.sealed_ino;
		seen_anon |= ids.shm[i] == anon_ino;
	}
	cr_expect(seen_sparse && seen_sealed && seen_anon);
	cr_assert_eq(ids.n_sysv, 1, "SysV segments dumped: %zu", ids.n_sysv);
	cr_expect_eq(ids.sysv[0], (uint64_t)info.sysv_id);

	check_shm(dirfd, false, info.sparse_ino, "sparse", SPARSE_SIZE, sparse_want, 5, check_sparse);
	check_shm(dirfd, false, info.sealed_ino, "sealed", SEALED_SIZE, sealed_want, 1, check_sealed);
	check_shm(dirfd, false, anon_ino, NULL, 256 * PG, anon_want, 1, check_pattern);
	check_shm(dirfd, true, (uint64_t)info.sysv_id, NULL, SYSV_SIZE, sysv_want, 1, check_pattern);

	cr_assert_eq(image_read_shm(dirfd, false, info.sealed_ino, &shm, &pm), 0);
	cr_expect_eq(shm.seals, F_SEAL_GROW);
	cr_expect_eq(shm.memfd_flags & MFD_ALLOW_SEALING, MFD_ALLOW_SEALING);
	md_shm_release(&shm);
	md_pagemap_release(&pm);

	/* a second process sharing the objects (here: the same one again) writes nothing */
	for (size_t i = 0; i < p.n_vmas; i++)
		p.vmas[i].shm_id = 0;
	cr_assert_eq(dump_shm_objects(pid, &p, &(struct dump_out){ .dirfd = -1 }, &ids), 0);
	cr_expect_eq(ids.n_shm, 3);
	cr_expect_eq(ids.n_sysv, 1);
	for (size_t i = 0; i < p.n_vmas; i++)
		if (p.vmas[i].kind == MD_VMA_MEMFD)
			cr_expect_eq(p.vmas[i].shm_id, info.sparse_ino);

	close(dirfd);
	free(ids.shm);
	free(ids.sysv);
	stop_child(pid);
	md_proc_release(&p);
}
