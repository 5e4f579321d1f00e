/*
 * Copy the MD_PM_DATA pages of a pagemap out of a frozen process into a
 * pages writer, in pagemap order, straight into the writer's 4 MiB
 * buffers (on two threads that take buffers in turn where there are cores
 * for them), while the writer's threads compress and write the ones
 * filled before. Planning is pagemap.c's, the file format image/'s.
 *
 * Two ways to read. process_vm_readv() copies once, from the target's
 * page to our buffer. But it pins the pages it reads, and pinning an
 * anonymous page shared copy-on-write (a parent's page its child still
 * shares since fork, a KSM page) makes the kernel give the process a
 * private copy first: a dump would double the memory of a forked tree
 * while it reads it, and a tree left running (-R) would keep the copies.
 * Reading /proc/PID/mem takes a reference without pinning and unshares
 * nothing, but copies twice (through a kernel bounce page); it also reads
 * memory without PROT_READ (FOLL_FORCE). So each range's pagemap entries
 * decide: pages mapped exclusively (bit 56, mapped by this process alone)
 * of a readable VMA go through process_vm_readv(), about 30% faster here,
 * and all others through /proc/PID/mem.
 */
#include "memdump/dump.h"
#include "memdump/cleanup.h"
#include "memdump/image.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "memdump/parallel.h"
#include "memdump/proc.h"
#include "memdump/progress.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

int dump_pages_create(const struct dump_out *out, const char *name, struct image_pages_writer **ret)
{
	int r;

	r = out->xfer ? image_pages_create_remote(out->xfer, name, ret) : image_pages_create(out->dirfd, name, ret);
	if (r >= 0 && out->compress.codec) {
		r = image_pages_compress(*ret, out->compress);
		if (r < 0)
			image_pages_abort(*ret);
	}
	return r;
}

struct copy_ctx {
	pid_t pid;
	int mem_fd;	/* /proc/PID/mem */
	int pagemap_fd;	/* /proc/PID/pagemap, -1: everything through mem_fd */
	bool running;	/* the process runs: what it unmapped meanwhile reads as zeroes */
};

/* whether addr is in a mapping of pid now (a running process may have unmapped it) */
static bool mapped(pid_t pid, uint64_t addr)
{
	_cleanup_free_ char *maps = NULL;
	bool found = false;

	if (proc_read_filef(&maps, NULL, "/proc/%d/maps", pid) < 0)
		return true;	/* cannot tell: not gone */
	for (char *line = maps; line && *line && !found;) {
		char *nl = strchr(line, '\n');
		struct md_vma v;

		if (nl)
			*nl = '\0';
		if (proc_parse_maps_line(line, &v) == 0) {
			found = v.start <= addr && addr < v.end;
			free(v.path);
		}
		line = nl ? nl + 1 : NULL;
	}
	return found;
}

/* pread a whole remote range from /proc/PID/mem into dst; a range it cannot read is an error. */
static int read_mem(struct copy_ctx *c, uint64_t addr, uint8_t *dst, size_t len)
{
	while (len) {
		ssize_t n = pread(c->mem_fd, dst, len, (off_t)addr);

		if (n < 0 && errno == EINTR)
			continue;
		/* unmapped meanwhile: a page at a time, zeroes where it is gone */
		if (n <= 0 && c->running && !mapped(c->pid, addr)) {
			size_t k = len < MD_PAGE_SIZE ? len : MD_PAGE_SIZE;

			log_debug("%#llx of %d is gone: zeroes", (unsigned long long)addr, c->pid);
			memset(dst, 0, k);
			addr += k;
			dst += k;
			len -= k;
			continue;
		}
		if (n <= 0)
			return log_err(n < 0 ? -errno : -EIO, "cannot read %#llx-%#llx of %d",
				       (unsigned long long)addr, (unsigned long long)(addr + len),
				       c->pid);
		addr += n;
		dst += n;
		len -= n;
	}
	return 0;
}

/*
 * Read pages that are mapped by this process alone: one copy, nothing to
 * unshare. Whatever process_vm_readv() leaves (a page unmapped or swapped
 * out meanwhile, a failure) goes through /proc/PID/mem.
 */
static int read_exclusive(struct copy_ctx *c, uint64_t addr, uint8_t *dst, size_t len)
{
	while (len) {
		struct iovec local = { dst, len }, remote = { (void *)(uintptr_t)addr, len };
		ssize_t n = process_vm_readv(c->pid, &local, 1, &remote, 1, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return read_mem(c, addr, dst, len);
		addr += n;
		dst += n;
		len -= n;
	}
	return 0;
}

static bool exclusive(uint64_t pme)
{
	return (pme & (PME_PRESENT | PME_EXCLUSIVE)) == (PME_PRESENT | PME_EXCLUSIVE);
}

/*
 * Read a range: runs of exclusively mapped pages (pme: its pagemap
 * entries, NULL if unknown) one way, the others the other (see above).
 */
static int read_range(struct copy_ctx *c, uint64_t addr, uint8_t *dst, size_t len, const uint64_t *pme)
{
	size_t np = len / MD_PAGE_SIZE;

	if (!pme)
		return read_mem(c, addr, dst, len);
	for (size_t i = 0; i < np;) {
		bool excl = exclusive(pme[i]);
		size_t j = i + 1;
		int r;

		while (j < np && exclusive(pme[j]) == excl)
			j++;
		r = (excl ? read_exclusive : read_mem)(c, addr + i * MD_PAGE_SIZE, dst + i * MD_PAGE_SIZE,
						       (j - i) * MD_PAGE_SIZE);
		if (r < 0)
			return r;
		i = j;
	}
	return 0;
}

/* The VMA holding addr (vmas sorted, not overlapping), or NULL. */
static const struct md_vma *find_vma(const struct md_vma *vmas, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < vmas[mid].start)
			hi = mid;
		else if (addr >= vmas[mid].end)
			lo = mid + 1;
		else
			return &vmas[mid];
	}
	return NULL;
}

/* a run of pages to read: within one entry and one VMA */
struct copy_range {
	uint64_t addr, len;
	bool readable;	/* its VMA has PROT_READ: process_vm_readv() may read it */
};

#define COPY_READERS 2
#define COPY_MAX_RANGES (IMAGE_PAGES_SLOT / MD_PAGE_SIZE)

/* what the reader threads share: the next data to take is at offset off of entry e (pagemap order) */
struct copy_job {
	struct copy_ctx c;
	const struct md_vma *vmas;
	size_t n;
	const struct md_pagemap *pm;
	struct image_pages_writer *w;
	pthread_mutex_t lock;
	size_t e;
	uint64_t off;
	int err;
};

/* The next writer buffer's worth of ranges (locked): *bytes of them in rg[0..*n_rg). */
static int take(struct copy_job *j, struct copy_range *rg, size_t *n_rg, uint64_t *bytes)
{
	uint64_t used = 0;
	size_t n = 0;

	while (j->e < j->pm->n && used < IMAGE_PAGES_SLOT) {
		const struct md_pagemap_entry *e = &j->pm->entries[j->e];
		uint64_t addr = e->vaddr + j->off, end = e->vaddr + e->nr_pages * MD_PAGE_SIZE, stop;
		const struct md_vma *v;

		if (!(e->flags & MD_PM_DATA) || addr >= end) {
			j->e++;
			j->off = 0;
			continue;
		}
		/* an entry should lie in one VMA; split it if not */
		v = find_vma(j->vmas, j->n, addr);
		if (!v)
			return log_err(-EFAULT, "pagemap entry %#llx-%#llx of %d is outside its VMAs",
				       (unsigned long long)e->vaddr, (unsigned long long)end, j->c.pid);
		stop = end < v->end ? end : v->end;
		if (stop - addr > IMAGE_PAGES_SLOT - used)
			stop = addr + (IMAGE_PAGES_SLOT - used);
		rg[n++] = (struct copy_range){ addr, stop - addr, v->prot & PROT_READ };
		used += stop - addr;
		j->off += stop - addr;
	}
	*n_rg = n;
	*bytes = used;
	return 0;
}

/*
 * A reader: takes the next buffer of the writer and the ranges that fill
 * it, then reads them outside the lock; the writer keeps the buffers in
 * the order they were taken. A failed buffer still goes back (empty), so
 * no thread waits for it; the job's error stops everyone.
 */
static void *reader_main(void *arg)
{
	struct copy_job *j = arg;
	struct copy_range *rg = malloc(COPY_MAX_RANGES * sizeof(*rg));
	/* pagemap entries of a range (no more than a buffer's pages) */
	uint64_t *pme = j->c.pagemap_fd >= 0 ? malloc(COPY_MAX_RANGES * sizeof(*pme)) : NULL;

	for (;;) {
		struct image_pages_slot *slot;
		uint64_t bytes = 0, off = 0;
		size_t n = 0;
		void *buf;
		int r;

		pthread_mutex_lock(&j->lock);
		if (j->err || j->e >= j->pm->n) {
			pthread_mutex_unlock(&j->lock);
			break;
		}
		r = rg ? image_pages_get(j->w, &slot, &buf) : -ENOMEM;	/* image/ logs its own errors */
		if (r >= 0) {
			r = take(j, rg, &n, &bytes);
			if (r < 0)
				image_pages_put(j->w, slot, 0);
		}
		if (r < 0)
			j->err = r;
		pthread_mutex_unlock(&j->lock);
		if (r < 0)
			break;
		for (size_t i = 0; i < n && r >= 0; i++) {
			/* unknown (no pagemap, an error): not exclusive */
			bool known = pme && rg[i].readable &&
				     proc_pagemap_read(j->c.pagemap_fd, rg[i].addr, rg[i].addr + rg[i].len, pme) >= 0;

			r = read_range(&j->c, rg[i].addr, (uint8_t *)buf + off, rg[i].len, known ? pme : NULL);
			off += rg[i].len;
		}
		image_pages_put(j->w, slot, r < 0 ? 0 : bytes);
		if (r < 0) {
			pthread_mutex_lock(&j->lock);
			if (!j->err)
				j->err = r;
			pthread_mutex_unlock(&j->lock);
			break;
		}
		progress_add(bytes);
	}
	free(rg);
	free(pme);
	return NULL;
}

static int copy_pages(pid_t pid, const struct md_vma *vmas, size_t n, const struct md_pagemap *pm,
		      struct image_pages_writer *w, bool running)
{
	struct copy_job j = { .c = { .pid = pid, .running = running }, .vmas = vmas, .n = n, .pm = pm, .w = w };
	size_t readers;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	j.c.mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (j.c.mem_fd < 0)
		return log_err(-errno, "cannot open '%s'", path);
	/* without it, everything goes through /proc/PID/mem: slower, never wrong */
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	j.c.pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
	pthread_mutex_init(&j.lock, NULL);
	/*
	 * The writer's thread is the one that cannot wait: a second reader
	 * helps only on a core of its own. On two cores it made dumps 20 to
	 * 40% slower (bench.sh: CPython, heap 1 GiB).
	 */
	readers = pm->nr_data_pages * MD_PAGE_SIZE > IMAGE_PAGES_SLOT ? md_cpus(COPY_READERS + 1) - 1 : 1;
	md_parallel(readers ? readers : 1, reader_main, &j);
	pthread_mutex_destroy(&j.lock);
	close(j.c.mem_fd);
	if (j.c.pagemap_fd >= 0)
		close(j.c.pagemap_fd);
	return j.err;
}

int dump_copy_pages(pid_t pid, const struct md_vma *vmas, size_t n, const struct md_pagemap *pm,
		    struct image_pages_writer *w)
{
	return copy_pages(pid, vmas, n, pm, w, false);
}

int dump_copy_pages_running(pid_t pid, const struct md_vma *vmas, size_t n, const struct md_pagemap *pm,
			    struct image_pages_writer *w)
{
	return copy_pages(pid, vmas, n, pm, w, true);
}
