/*
 * Files deleted while open ("ghosts"): once per file across the tree, its
 * data extents (SEEK_DATA/SEEK_HOLE, whole pages) into pages-ghost-ID.img,
 * read through /proc/PID/fd/N, which reaches the file although no name
 * does. Files larger than the limit are refused. Making the file again on
 * restore is restore/ghost.c's.
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
#include <unistd.h>

#define GHOST_BUF_SIZE (1u << 20)

static int add_extent(struct md_ghost *g, size_t *cap, uint64_t start, uint64_t end)
{
	struct md_pagemap_entry *last = g->n_extents ? &g->extents[g->n_extents - 1] : NULL;

	if (last && last->vaddr + last->nr_pages * MD_PAGE_SIZE >= start) {
		uint64_t last_end = last->vaddr + last->nr_pages * MD_PAGE_SIZE;

		if (end > last_end)
			last->nr_pages += (end - last_end) / MD_PAGE_SIZE;
		return 0;
	}
	if (g->n_extents == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		struct md_pagemap_entry *ne = realloc(g->extents, nc * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		g->extents = ne;
		*cap = nc;
	}
	g->extents[g->n_extents++] = (struct md_pagemap_entry){ start, (end - start) / MD_PAGE_SIZE, MD_PM_DATA };
	return 0;
}

/*
 * g's data as whole pages: holes a file system reports stay holes; one
 * that cannot tell (EINVAL) has one extent, the whole file.
 */
static int find_extents(int fd, struct md_ghost *g)
{
	uint64_t limit = md_page_round_up(g->size);
	size_t cap = 0;
	off_t off = 0;
	int r;

	while ((uint64_t)off < g->size) {
		off_t d = lseek(fd, off, SEEK_DATA), h;

		if (d < 0 && errno == ENXIO)
			break;
		if (d < 0 && errno == EINVAL && off == 0) {
			d = 0;
			h = (off_t)g->size;
		} else if (d < 0) {
			return -errno;
		} else {
			h = lseek(fd, d, SEEK_HOLE);
			if (h < 0)
				return -errno;
		}
		uint64_t start = (uint64_t)d & ~(MD_PAGE_SIZE - 1), end = md_page_round_up((uint64_t)h);

		if (end > limit)
			end = limit;
		if (end > start) {
			r = add_extent(g, &cap, start, end);
			if (r < 0)
				return r;
		}
		if (h <= d)
			break;
		off = h;
	}
	g->nr_pages = 0;
	for (size_t i = 0; i < g->n_extents; i++)
		g->nr_pages += g->extents[i].nr_pages;
	return 0;
}

/* the extents' pages into pages-ghost-ID.img; the last page past the end reads as zeroes */
static int write_data(int fd, const struct md_ghost *g, const struct dump_out *out, const char *path)
{
	_cleanup_free_ uint8_t *buf = malloc(GHOST_BUF_SIZE);
	struct image_pages_writer *w = NULL;
	char name[64];
	int r;

	if (!buf)
		return -ENOMEM;
	image_pages_name(name, sizeof(name), MD_PAGES_GHOST, g->id);
	r = dump_pages_create(out, name, &w);
	if (r < 0)
		return log_err(r, "cannot create '%s'", name);
	for (size_t i = 0; i < g->n_extents; i++) {
		uint64_t off = g->extents[i].vaddr, left = g->extents[i].nr_pages * MD_PAGE_SIZE;

		while (left) {
			size_t want = left < GHOST_BUF_SIZE ? left : GHOST_BUF_SIZE, got = 0;

			while (got < want) {
				ssize_t n = pread(fd, buf + got, want - got, (off_t)(off + got));

				if (n < 0 && errno == EINTR)
					continue;
				if (n < 0) {
					r = log_err(-errno, "cannot read the deleted file '%s'", path);
					goto out_abort;
				}
				if (n == 0) {
					memset(buf + got, 0, want - got);
					break;
				}
				got += (size_t)n;
			}
			r = image_pages_write(w, buf, want);
			if (r < 0)
				goto out_abort;
			off += want;
			left -= want;
		}
	}
	r = image_pages_finish(w);
	return r < 0 ? log_err(r, "cannot write '%s'", name) : 0;

out_abort:
	image_pages_abort(w);
	return r;
}

/* the first fd before procs[pi].fds[fi] on the same file, or NULL */
static const struct md_fd *first_on_file(const struct md_proc *procs, size_t pi, size_t fi)
{
	const struct md_fd *f = &procs[pi].fds[fi];

	for (size_t i = 0; i <= pi; i++)
		for (size_t j = 0; j < (i == pi ? fi : procs[i].n_fds); j++) {
			const struct md_fd *g = &procs[i].fds[j];

			if (g->ghost && g->dev == f->dev && g->ino == f->ino)
				return g;
		}
	return NULL;
}

static int dump_one(const struct md_proc *p, const struct md_fd *f, const struct dump_out *out)
{
	_cleanup_close_ int fd = -1;
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", p->pid, f->fd);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_err(-errno, "cannot open fd %d of %d, the deleted file '%s'", f->fd, p->pid, f->path);
	r = find_extents(fd, f->ghost);
	if (r < 0)
		return log_err(r, "cannot find the data of fd %d of %d, the deleted file '%s'", f->fd, p->pid,
			       f->path);
	return write_data(fd, f->ghost, out, f->path);
}

static int copy_ghost(struct md_ghost *dst, const struct md_ghost *src)
{
	dst->id = src->id;
	dst->nr_pages = src->nr_pages;
	dst->n_extents = src->n_extents;
	dst->extents = calloc(src->n_extents ? src->n_extents : 1, sizeof(*dst->extents));
	if (!dst->extents)
		return -ENOMEM;
	memcpy(dst->extents, src->extents, src->n_extents * sizeof(*dst->extents));
	return 0;
}

int dump_ghosts(struct md_proc *procs, size_t n, const struct dump_out *out, uint64_t limit)
{
	uint64_t next = 1;
	int r, err = 0;

	/* every file too large, at once, before anything is written */
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < procs[i].n_fds; j++) {
			const struct md_fd *f = &procs[i].fds[j];

			if (!f->ghost || f->ghost->size <= limit || first_on_file(procs, i, j))
				continue;
			log_msg(LOG_ERR, "fd %d of %d is the deleted file '%s' of %llu bytes, more than the %llu the "
					 "image keeps; raise --ghost-limit to dump it", f->fd, procs[i].pid, f->path,
				(unsigned long long)f->ghost->size, (unsigned long long)limit);
			err = -EFBIG;
		}
	if (err)
		return err;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < procs[i].n_fds; j++) {
			struct md_fd *f = &procs[i].fds[j];
			const struct md_fd *first;

			if (!f->ghost)
				continue;
			first = first_on_file(procs, i, j);
			if (first) {
				r = copy_ghost(f->ghost, first->ghost);
				if (r < 0)
					return r;
				continue;
			}
			f->ghost->id = next++;
			r = dump_one(&procs[i], f, out);
			if (r < 0)
				return r;
		}
	return 0;
}
