/*
 * Files deleted while open or mapped ("ghosts"): once per file (dev,
 * inode) across the tree, its data (SEEK_DATA/SEEK_HOLE, whole pages:
 * shm.c's) into pages-ghost-ID.img, read through /proc/PID/fd/N or
 * /proc/PID/map_files/START-END, which reach the file although no name
 * does. Files larger than the limit are refused, all of them before
 * anything is written. An fd's ghost gets the file's id and data map; a
 * VMA gets the id, and its process the whole record in md_proc.mapped
 * unless one of its fds has it; a deleted exe that is one of them, its id.
 * Making the file again on restore is restore/ghost.c's.
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
#include <sys/stat.h>
#include <unistd.h>

/* one deleted file of the tree, as its first holder (an fd or a mapping) shows it */
struct ghost_file {
	uint64_t dev, ino;
	struct md_ghost g;	/* size, owner, mode, path; the id and data map once written */
	char src[64];		/* /proc/PID/fd/N or /proc/PID/map_files/START-END */
	char holder[64];	/* "fd N of PID" or "mapping START-END of PID", for messages */
};

/* a VMA on one of them */
struct ghost_map {
	size_t proc, vma, file;
};

struct ghost_files {
	struct ghost_file *f;
	size_t n;
	struct ghost_map *maps;
	size_t n_maps;
};

static void ghost_files_release(struct ghost_files *t)
{
	for (size_t i = 0; i < t->n; i++)
		md_ghost_release(&t->f[i].g);
	free(t->f);
	free(t->maps);
}

static struct ghost_file *find_file(const struct ghost_files *t, uint64_t dev, uint64_t ino)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->f[i].dev == dev && t->f[i].ino == ino)
			return &t->f[i];
	return NULL;
}

/* a new entry for (dev, ino) with path (copied); NULL when out of memory */
static struct ghost_file *add_file(struct ghost_files *t, uint64_t dev, uint64_t ino, const char *path)
{
	struct ghost_file *nf = realloc(t->f, (t->n + 1) * sizeof(*nf)), *f;

	if (!nf)
		return NULL;
	t->f = nf;
	f = &t->f[t->n];
	*f = (struct ghost_file){ .dev = dev, .ino = ino };
	f->g.path = strdup(path);
	if (!f->g.path)
		return NULL;
	t->n++;
	return f;
}

static void map_files_path(char *buf, size_t len, pid_t pid, const struct md_vma *v)
{
	snprintf(buf, len, "/proc/%d/map_files/%llx-%llx", pid, (unsigned long long)v->start,
		 (unsigned long long)v->end);
}

/*
 * The file VMA vma of procs[proc] maps (deleted), into t; -ENOTSUP (logged)
 * for one that cannot be a ghost
 */
static int add_mapping(struct ghost_files *t, const struct md_proc *procs, size_t proc, size_t vma)
{
	const struct md_vma *v = &procs[proc].vmas[vma];
	pid_t pid = procs[proc].pid;
	struct ghost_map *nm;
	struct ghost_file *f;
	char src[64];
	struct stat st;

	nm = realloc(t->maps, (t->n_maps + 1) * sizeof(*nm));
	if (!nm)
		return -ENOMEM;
	t->maps = nm;
	map_files_path(src, sizeof(src), pid, v);
	if (stat(src, &st) < 0)
		return log_err(-errno, "cannot stat mapping %#llx-%#llx of %d, the deleted file '%s'",
			       (unsigned long long)v->start, (unsigned long long)v->end, pid, v->path);
	/* nlink 0 tells a deleted file from one whose name ends in " (deleted)" */
	if (!S_ISREG(st.st_mode) || st.st_nlink)
		return log_err(-ENOTSUP, "mapping %#llx-%#llx of %d: '%s (deleted)' is %s; not supported yet",
			       (unsigned long long)v->start, (unsigned long long)v->end, pid, v->path,
			       !S_ISREG(st.st_mode) ? "no regular file" : "a file still linked under another name");
	f = find_file(t, st.st_dev, st.st_ino);
	if (f) {
		t->maps[t->n_maps++] = (struct ghost_map){ proc, vma, (size_t)(f - t->f) };
		return 0;
	}
	f = add_file(t, st.st_dev, st.st_ino, v->path);
	if (!f)
		return -ENOMEM;
	t->maps[t->n_maps++] = (struct ghost_map){ proc, vma, t->n - 1 };
	f->g.size = (uint64_t)st.st_size;
	f->g.uid = st.st_uid;
	f->g.gid = st.st_gid;
	f->g.mode = st.st_mode;
	snprintf(f->src, sizeof(f->src), "%s", src);
	snprintf(f->holder, sizeof(f->holder), "mapping %#llx-%#llx of %d", (unsigned long long)v->start,
		 (unsigned long long)v->end, pid);
	return 0;
}

/* every deleted file the live processes hold or map, once, in the order they meet them */
static int find_files(const struct md_proc *procs, size_t n, struct ghost_files *t)
{
	int r;

	for (size_t i = 0; i < n; i++) {
		const struct md_proc *p = &procs[i];

		for (size_t j = 0; j < p->n_fds; j++) {
			const struct md_fd *fd = &p->fds[j];
			struct ghost_file *f;

			if (!fd->ghost || find_file(t, fd->dev, fd->ino))
				continue;
			f = add_file(t, fd->dev, fd->ino, fd->path);
			if (!f)
				return -ENOMEM;
			f->g.size = fd->ghost->size;
			f->g.uid = fd->ghost->uid;
			f->g.gid = fd->ghost->gid;
			f->g.mode = fd->mode;
			snprintf(f->src, sizeof(f->src), "/proc/%d/fd/%d", p->pid, fd->fd);
			snprintf(f->holder, sizeof(f->holder), "fd %d of %d", fd->fd, p->pid);
		}
		for (size_t j = 0; j < p->n_vmas; j++) {
			if (p->vmas[j].kind != MD_VMA_FILE || !p->vmas[j].deleted)
				continue;
			r = add_mapping(t, procs, i, j);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int dump_one(struct ghost_file *f, const struct dump_out *out)
{
	_cleanup_close_ int fd = -1;
	char name[64], what[PATH_MAX + 32];
	int r;

	fd = open(f->src, O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(f->src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_err(-errno, "cannot open %s, the deleted file '%s'", f->holder, f->g.path);
	r = dump_file_data(fd, f->g.size, &f->g.data);
	if (r < 0)
		return log_err(r, "cannot find the data of %s, the deleted file '%s'", f->holder, f->g.path);
	image_pages_name(name, sizeof(name), MD_PAGES_GHOST, f->g.id);
	snprintf(what, sizeof(what), "the deleted file '%s'", f->g.path);
	return dump_file_pages(fd, &f->g.data, out, name, what);
}

/* dst gets src's id and data map, and with path its mode and path too */
static int copy_ghost(struct md_ghost *dst, const struct md_ghost *src, bool path)
{
	const struct md_pagemap *s = &src->data;

	dst->id = src->id;
	dst->data = (struct md_pagemap){ .n = s->n, .nr_data_pages = s->nr_data_pages };
	dst->data.entries = calloc(s->n ? s->n : 1, sizeof(*s->entries));
	if (!dst->data.entries)
		return -ENOMEM;
	memcpy(dst->data.entries, s->entries, s->n * sizeof(*s->entries));
	if (!path)
		return 0;
	dst->size = src->size;
	dst->uid = src->uid;
	dst->gid = src->gid;
	dst->mode = src->mode;
	dst->path = strdup(src->path);
	return dst->path ? 0 : -ENOMEM;
}

/* p's ghost with this id, among its fds' and mapped ones */
static bool has_ghost(const struct md_proc *p, uint64_t id)
{
	for (size_t i = 0; i < p->n_fds; i++)
		if (p->fds[i].ghost && p->fds[i].ghost->id == id)
			return true;
	for (size_t i = 0; i < p->n_mapped; i++)
		if (p->mapped[i].id == id)
			return true;
	return false;
}

/* a VMA of p on f: its id, and f's record in p if p has none yet */
static int link_mapping(struct md_proc *p, struct md_vma *v, const struct ghost_file *f)
{
	struct md_ghost *nm;

	v->ghost = f->g.id;
	if (has_ghost(p, f->g.id))
		return 0;
	nm = realloc(p->mapped, (p->n_mapped + 1) * sizeof(*nm));
	if (!nm)
		return -ENOMEM;
	p->mapped = nm;
	nm = &p->mapped[p->n_mapped];
	*nm = (struct md_ghost){ 0 };
	p->n_mapped++;
	return copy_ghost(nm, &f->g, true);
}

/* every holder in p (its fds and exe; VMAs are link_mapping()'s) of a file of t gets its id (and data map) */
static int link_fds(struct md_proc *p, const struct ghost_files *t)
{
	char exe[64];
	struct stat st;
	int r;

	for (size_t j = 0; j < p->n_fds; j++) {
		struct md_fd *fd = &p->fds[j];

		if (fd->ghost) {
			/* found: find_files() added every fd's file */
			r = copy_ghost(fd->ghost, &find_file(t, fd->dev, fd->ino)->g, false);
			if (r < 0)
				return r;
		}
	}
	/* a deleted exe that is one of them: restore makes it the exe again */
	snprintf(exe, sizeof(exe), "/proc/%d/exe", p->pid);
	if (stat(exe, &st) == 0 && st.st_nlink == 0) {
		const struct ghost_file *f = find_file(t, st.st_dev, st.st_ino);

		p->exe_ghost = f ? f->g.id : 0;
	}
	return 0;
}

int dump_ghosts(struct md_proc *procs, size_t n, const struct dump_out *out, uint64_t limit)
{
	struct ghost_files t = { 0 };
	int r, err = 0;

	r = find_files(procs, n, &t);
	/* every file too large, at once, before anything is written */
	for (size_t i = 0; r >= 0 && i < t.n; i++) {
		const struct ghost_file *f = &t.f[i];

		if (f->g.size <= limit)
			continue;
		log_msg(LOG_ERR, "%s is the deleted file '%s' of %llu bytes, more than the %llu the image keeps; "
				 "raise --ghost-limit to dump it", f->holder, f->g.path, (unsigned long long)f->g.size,
			(unsigned long long)limit);
		err = -EFBIG;
	}
	if (r >= 0)
		r = err;
	for (size_t i = 0; r >= 0 && i < t.n; i++) {
		t.f[i].g.id = i + 1;
		r = dump_one(&t.f[i], out);
	}
	/* fds first: a process's mapped records are of files none of its fds holds */
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = link_fds(&procs[i], &t);
	for (size_t i = 0; r >= 0 && i < t.n_maps; i++) {
		const struct ghost_map *m = &t.maps[i];

		r = link_mapping(&procs[m->proc], &procs[m->proc].vmas[m->vma], &t.f[m->file]);
	}
	ghost_files_release(&t);
	return r;
}
