/*
 * Copy the MD_PM_DATA pages of a pagemap out of a frozen process into a
 * pages writer, in pagemap order, through /proc/PID/mem: each run of
 * contiguous pages is one pread() straight into the writer's 4 MiB
 * buffers, while the writer's threads compress and write the ones filled
 * before. Planning is pagemap.c's, the file format image/'s.
 *
 * Why not process_vm_readv(): it pins the pages it reads, and pinning an
 * anonymous page shared copy-on-write (a parent's page its child still
 * shares since fork) makes the kernel give the process a private copy
 * first. A dump would then double the memory of a forked tree while it
 * reads it, and a tree left running (-R) would keep the copies. Reading
 * /proc/PID/mem takes a reference without pinning and unshares nothing;
 * on this machine it is also faster, one page per call or 4 MiB per call
 * (scripts/bench.sh measures it against a process_vm_readv floor). It
 * reads memory without PROT_READ as well (FOLL_FORCE).
 */
#include "memdump/dump.h"
#include "memdump/cleanup.h"
#include "memdump/image.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "memdump/proc.h"
#include "memdump/progress.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int dump_pages_create(const struct dump_out *out, const char *name, struct image_pages_writer **ret)
{
	int r;

	r = out->xfer ? image_pages_create_remote(out->xfer, name, ret) : image_pages_create(out->dirfd, name, ret);
	if (r >= 0 && out->compress) {
		r = image_pages_compress(*ret, out->compress);
		if (r < 0)
			image_pages_abort(*ret);
	}
	return r;
}

struct copy_ctx {
	pid_t pid;
	int mem_fd;	/* /proc/PID/mem */
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

/* Read [addr, addr + len) straight into the writer's buffers. */
static int stage(struct copy_ctx *c, uint64_t addr, size_t len, struct image_pages_writer *w)
{
	while (len) {
		void *buf;
		size_t room;
		int r = image_pages_reserve(w, &buf, &room);	/* image/ logs its own errors */

		if (r < 0)
			return r;
		if (room > len)
			room = len;
		r = read_mem(c, addr, buf, room);
		if (r < 0)
			return r;
		image_pages_commit(w, room);
		progress_add(room);
		addr += room;
		len -= room;
	}
	return 0;
}

static int copy_pages(pid_t pid, const struct md_vma *vmas, size_t n, const struct md_pagemap *pm,
		      struct image_pages_writer *w, bool running)
{
	struct copy_ctx ctx = { .pid = pid, .running = running }, *c = &ctx;
	char path[64];
	int r = 0;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	c->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c->mem_fd < 0)
		return log_err(-errno, "cannot open '%s'", path);

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
			r = stage(c, addr, stop - addr, w);
			if (r < 0)
				goto out;
			addr = stop;
		}
	}
out:
	close(c->mem_fd);
	return r;
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
