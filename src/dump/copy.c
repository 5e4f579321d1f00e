/*
 * Copy the MD_PM_DATA pages of a pagemap out of a frozen process into a
 * pages writer, in pagemap order: process_vm_readv with up to IOV_MAX
 * remote ranges per call into a 4 MiB buffer. Planning is pagemap.c's,
 * the file format image/'s.
 */
#include "memdump/dump.h"
#include "memdump/cleanup.h"
#include "memdump/image.h"
#include "memdump/log.h"
#include "memdump/model.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#define COPY_BUF_SIZE (4u << 20)
#define COPY_MAX_IOV 1024	/* IOV_MAX on Linux */

/* One remote range staged in the buffer at off. */
struct piece {
	uint64_t addr;
	size_t len;
	size_t off;
	bool force;	/* no PROT_READ: only /proc/PID/mem (FOLL_FORCE) reads it */
};

struct copy_ctx {
	pid_t pid;
	int mem_fd;	/* /proc/PID/mem, opened on first need */
	uint8_t *buf;
	size_t used;
	struct piece pieces[COPY_MAX_IOV];
	size_t n_pieces;
	struct iovec liov[COPY_MAX_IOV];
	struct iovec riov[COPY_MAX_IOV];
};

static int open_mem(struct copy_ctx *c)
{
	char path[64];

	if (c->mem_fd >= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/mem", c->pid);
	c->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c->mem_fd < 0)
		return log_err(-errno, "cannot open '%s'", path);
	return 0;
}

/* pread a whole remote range from /proc/PID/mem; a range it cannot read is an error. */
static int read_mem(struct copy_ctx *c, uint64_t addr, uint8_t *dst, size_t len)
{
	int r;

	r = open_mem(c);
	if (r < 0)
		return r;
	while (len) {
		ssize_t n = pread(c->mem_fd, dst, len, (off_t)addr);

		if (n < 0 && errno == EINTR)
			continue;
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
 * process_vm_readv() the readable pieces. A short count is not an error:
 * it stops at the first remote byte it cannot read, so resume after the
 * last byte copied; a piece where it cannot start at all (a VM_IO mapping,
 * a page the kernel refuses to fault) is read through /proc/PID/mem.
 */
static int read_pieces(struct copy_ctx *c)
{
	size_t i = 0, done = 0;	/* first unfinished piece, bytes of it already read */

	for (;;) {
		size_t k = 0;
		ssize_t n;

		while (i < c->n_pieces && c->pieces[i].force)
			i++, done = 0;
		if (i == c->n_pieces)
			return 0;

		for (size_t j = i; j < c->n_pieces; j++) {
			const struct piece *p = &c->pieces[j];
			size_t skip = j == i ? done : 0;

			if (p->force)
				continue;
			c->liov[k] = (struct iovec){ c->buf + p->off + skip, p->len - skip };
			c->riov[k] = (struct iovec){ (void *)(uintptr_t)(p->addr + skip), p->len - skip };
			k++;
		}

		n = process_vm_readv(c->pid, c->liov, k, c->riov, k, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EFAULT && errno != EIO && errno != ENOMEM)
			return log_err(-errno, "cannot read the memory of %d", c->pid);
		if (n <= 0) {
			const struct piece *p = &c->pieces[i];
			int r;

			r = read_mem(c, p->addr + done, c->buf + p->off + done, p->len - done);
			if (r < 0)
				return r;
			i++;
			done = 0;
			continue;
		}

		/* advance over n bytes of the readable pieces */
		while (n > 0 && i < c->n_pieces) {
			const struct piece *p = &c->pieces[i];
			size_t left = p->len - done;

			if (p->force) {
				i++;
				continue;
			}
			if ((size_t)n < left) {
				done += n;
				break;
			}
			n -= left;
			i++;
			done = 0;
		}
	}
}

static int flush(struct copy_ctx *c, struct image_pages_writer *w)
{
	int r;

	if (!c->used)
		return 0;

	r = read_pieces(c);
	if (r < 0)
		return r;

	/* process_vm_readv() cannot read a VMA without PROT_READ; /proc/PID/mem can */
	for (size_t i = 0; i < c->n_pieces; i++) {
		const struct piece *p = &c->pieces[i];

		if (!p->force)
			continue;
		r = read_mem(c, p->addr, c->buf + p->off, p->len);
		if (r < 0)
			return r;
	}

	/* image/ logs its own errors */
	r = image_pages_write(w, c->buf, c->used);
	if (r < 0)
		return r;
	c->used = 0;
	c->n_pieces = 0;
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

/* Stage [addr, addr + len) into the buffer, flushing when it or the iovecs are full. */
static int stage(struct copy_ctx *c, uint64_t addr, size_t len, bool force,
		 struct image_pages_writer *w)
{
	while (len) {
		size_t chunk = COPY_BUF_SIZE - c->used;
		struct piece *last = c->n_pieces ? &c->pieces[c->n_pieces - 1] : NULL;
		int r;

		if (chunk > len)
			chunk = len;

		if (last && last->force == force && last->addr + last->len == addr) {
			last->len += chunk;
		} else {
			c->pieces[c->n_pieces++] = (struct piece){ addr, chunk, c->used, force };
		}
		c->used += chunk;
		addr += chunk;
		len -= chunk;

		if (c->used == COPY_BUF_SIZE || c->n_pieces == COPY_MAX_IOV) {
			r = flush(c, w);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int dump_copy_pages(pid_t pid, const struct md_vma *vmas, size_t n, const struct md_pagemap *pm,
		    struct image_pages_writer *w)
{
	_cleanup_free_ struct copy_ctx *c = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	int r = 0;

	c = calloc(1, sizeof(*c));
	buf = malloc(COPY_BUF_SIZE);
	if (!c || !buf)
		return -ENOMEM;
	c->pid = pid;
	c->mem_fd = -1;
	c->buf = buf;

	for (size_t i = 0; i < pm->n; i++) {
		const struct md_pagemap_entry *e = &pm->entries[i];
		uint64_t addr = e->vaddr, end = e->vaddr + e->nr_pages * MD_PAGE_SIZE;

		if (!(e->flags & MD_PM_DATA))
			continue;

		/* an entry should lie in one VMA; split it if not */
		while (addr < end) {
			const struct md_vma *v = find_vma(vmas, n, addr);
			uint64_t stop = end;

			if (!v) {
				r = log_err(-EFAULT, "pagemap entry %#llx-%#llx of %d is outside its VMAs",
					    (unsigned long long)e->vaddr, (unsigned long long)end, pid);
				goto out;
			}
			if (stop > v->end)
				stop = v->end;
			r = stage(c, addr, stop - addr, !(v->prot & PROT_READ), w);
			if (r < 0)
				goto out;
			addr = stop;
		}
	}
	r = flush(c, w);
out:
	if (c->mem_fd >= 0)
		close(c->mem_fd);
	return r;
}
