/*
 * Files deleted while open ("ghosts"): once per file across the tree, its
 * data (SEEK_DATA/SEEK_HOLE, whole pages: shm.c's) into pages-ghost-ID.img,
 * read through /proc/PID/fd/N, which reaches the file although no name
 * does. Files larger than the limit are refused. Making the file again on
 * restore is restore/ghost.c's.
 */
#include "memdump/dump.h"
#include "dump/internal.h"
#include "memdump/cleanup.h"
#include "memdump/image.h"
#include "memdump/log.h"
#include "memdump/model.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	char path[64], name[64], what[PATH_MAX + 32];
	int r;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", p->pid, f->fd);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_err(-errno, "cannot open fd %d of %d, the deleted file '%s'", f->fd, p->pid, f->path);
	r = dump_file_data(fd, f->ghost->size, &f->ghost->data);
	if (r < 0)
		return log_err(r, "cannot find the data of fd %d of %d, the deleted file '%s'", f->fd, p->pid,
			       f->path);
	image_pages_name(name, sizeof(name), MD_PAGES_GHOST, f->ghost->id);
	snprintf(what, sizeof(what), "the deleted file '%s'", f->path);
	return dump_file_pages(fd, &f->ghost->data, out, name, what);
}

static int copy_ghost(struct md_ghost *dst, const struct md_ghost *src)
{
	const struct md_pagemap *s = &src->data;

	dst->id = src->id;
	dst->data = (struct md_pagemap){ .n = s->n, .nr_data_pages = s->nr_data_pages };
	dst->data.entries = calloc(s->n ? s->n : 1, sizeof(*s->entries));
	if (!dst->data.entries)
		return -ENOMEM;
	memcpy(dst->data.entries, s->entries, s->n * sizeof(*s->entries));
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
