/*
 * Files deleted while open or mapped ("ghosts"), and directories removed
 * while open or a process's cwd (empty: no data): once per file (dev,
 * inode) across the tree, its data (SEEK_DATA/SEEK_HOLE, whole pages:
 * shm.c's) into pages-ghost-ID.img, read through /proc/PID/fd/N or
 * /proc/PID/map_files/START-END, which reach the file although no name
 * does. Files larger than the limit are refused, all of them before
 * anything is written. An fd's ghost gets the file's id and data map; a
 * VMA gets the id, and its process the whole record in md_proc.mapped
 * unless one of its fds has it; a deleted exe or cwd that is one of them,
 * its id.
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
#include <linux/magic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

/* one deleted file of the tree, as its first holder (an fd or a mapping) shows it */
struct ghost_file {
	uint64_t dev, ino;
	struct md_ghost g;	/* size, owner, mode, path; the id and data map once written */
	char src[64];		/* /proc/PID/fd/N or /proc/PID/map_files/START-END */
	char holder[64];	/* "fd N of PID" or "mapping START-END of PID", for messages */
};

/* a holder of one of them: VMA vma of procs[proc], or with vma EXE_HOLDER its exe, CWD_HOLDER its cwd */
struct ghost_map {
	size_t proc, vma, file;
};

#define EXE_HOLDER SIZE_MAX
#define CWD_HOLDER (SIZE_MAX - 1)

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

/*
 * The entry for (dev, ino), new if t has none (its path copied, src and
 * holder formatted, the rest for the caller to fill); NULL when out of memory
 */
static struct ghost_file *add_file(struct ghost_files *t, uint64_t dev, uint64_t ino, const char *path,
				   const char *src, const char *holder)
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
	snprintf(f->src, sizeof(f->src), "%s", src);
	snprintf(f->holder, sizeof(f->holder), "%s", holder);
	t->n++;
	return f;
}

/* path's directory into dir; false if path has none */
static bool dir_of(const char *path, char dir[PATH_MAX])
{
	const char *slash = strrchr(path, '/');

	if (!slash || (size_t)(slash - path) >= PATH_MAX)
		return false;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	if (!dir[0])
		strcpy(dir, "/");
	return true;
}

/*
 * Whether restore can make the deleted file src (a /proc link) reaches,
 * named path, again as holder has it: a regular file (dir: a directory)
 * deleted for good, not on hugetlbfs, in a directory that is still there
 * on the file's file system (restore makes it in there). 0 with *st, or
 * -ENOTSUP (logged), or -errno.
 */
static int check_makeable(const char *src, const char *path, bool dir, const char *holder, struct stat *st)
{
	const char *why = NULL;
	char parent[PATH_MAX];
	struct stat dst;
	struct statfs sfs;

	if (stat(src, st) < 0 || statfs(src, &sfs) < 0)
		return log_err(-errno, "cannot stat %s, the deleted file '%s'", holder, path);
	/* nlink 0 tells a deleted file from one whose name ends in " (deleted)" */
	if (dir ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode))
		why = dir ? "no directory" : "no regular file";
	else if (st->st_nlink)
		why = "a file still linked under another name";
	else if (sfs.f_type == HUGETLBFS_MAGIC)
		why = "on hugetlbfs";
	else if (!dir_of(path, parent) || stat(parent, &dst) < 0 || !S_ISDIR(dst.st_mode))
		why = "in a directory removed too (restore makes it again in its directory)";
	else if (dst.st_dev != st->st_dev)
		why = "on another file system than its directory (a file of the kernel's own, or a mount gone)";
	if (why)
		return log_refuse("%s: '%s (deleted)' is %s; not supported yet", holder, path, why);
	return 0;
}

/*
 * The deleted file src (a /proc link: map_files, exe or cwd) reaches, named
 * path, as the holder procs[proc]'s VMA vma (or EXE_HOLDER, CWD_HOLDER: a
 * directory) shows it, into t; -ENOTSUP (logged) for a file restore could
 * not make again.
 */
static int add_linked(struct ghost_files *t, size_t proc, size_t vma, const char *src, const char *path,
		      const char *holder)
{
	struct ghost_map *nm;
	struct ghost_file *f;
	struct stat st;
	int r = check_makeable(src, path, vma == CWD_HOLDER, holder, &st);

	if (r < 0)
		return r;
	nm = realloc(t->maps, (t->n_maps + 1) * sizeof(*nm));
	if (!nm)
		return -ENOMEM;
	t->maps = nm;
	f = find_file(t, st.st_dev, st.st_ino);
	if (!f) {
		f = add_file(t, st.st_dev, st.st_ino, path, src, holder);
		if (!f)
			return -ENOMEM;
		f->g.size = S_ISDIR(st.st_mode) ? 0 : (uint64_t)st.st_size;
		f->g.uid = st.st_uid;
		f->g.gid = st.st_gid;
		f->g.mode = st.st_mode;
	}
	t->maps[t->n_maps++] = (struct ghost_map){ proc, vma, (size_t)(f - t->f) };
	return 0;
}

/*
 * p's cwd: into t if it was removed; else its name must still lead to it,
 * as restore goes there by name. Under /proc it is the tree's own /proc's
 * with a mount namespace of its own, which dump_ns_files() refuses.
 */
static int add_cwd(struct ghost_files *t, const struct md_proc *p, size_t proc)
{
	char src[64], holder[64];
	struct stat st;

	snprintf(src, sizeof(src), "/proc/%d/cwd", p->pid);
	if (p->zombie || !p->cwd || p->cwd[0] != '/')
		return 0;
	if (stat(src, &st) < 0)
		return log_err(-errno, "cannot stat the working directory of %d", p->pid);
	if (S_ISDIR(st.st_mode) && st.st_nlink == 0) {
		snprintf(holder, sizeof(holder), "the working directory of %d", p->pid);
		return add_linked(t, proc, CWD_HOLDER, src, p->cwd, holder);
	}
	if (dump_under_proc(p->cwd) || dump_name_leads_to(p->cwd, &st))
		return 0;
	return log_refuse("the working directory of %d is '%s', a name that now leads to another directory or to "
			  "none (mounted over, or on a mount memdump does not see): not supported", p->pid, p->cwd);
}

/* procs[proc]'s deleted-file VMAs, deleted exe and removed cwd into t; -ENOTSUP (logged) once all are seen */
static int add_mapped(struct ghost_files *t, const struct md_proc *procs, size_t proc)
{
	const struct md_proc *p = &procs[proc];
	char src[64], holder[64];
	struct stat st;
	int r, refused = 0;

	for (size_t j = 0; j < p->n_vmas; j++) {
		const struct md_vma *v = &p->vmas[j];

		if (v->kind != MD_VMA_FILE || !v->deleted)
			continue;
		dump_map_files_path(src, sizeof(src), p->pid, v);
		snprintf(holder, sizeof(holder), "mapping %#llx-%#llx of %d", (unsigned long long)v->start,
			 (unsigned long long)v->end, p->pid);
		r = add_linked(t, proc, j, src, v->path, holder);
		if (r == -ENOTSUP)
			refused = r;
		else if (r < 0)
			return r;
	}
	/* a deleted exe (not a memfd's, made again by no name) */
	snprintf(src, sizeof(src), "/proc/%d/exe", p->pid);
	if (p->exe && strncmp(p->exe, "/memfd:", 7) && stat(src, &st) == 0 && st.st_nlink == 0) {
		snprintf(holder, sizeof(holder), "the exe of %d", p->pid);
		r = add_linked(t, proc, EXE_HOLDER, src, p->exe, holder);
		if (r == -ENOTSUP)
			refused = r;
		else if (r < 0)
			return r;
	}
	r = add_cwd(t, p, proc);
	return r == -ENOTSUP ? r : r < 0 ? r : refused;
}

/*
 * Every deleted file the live processes hold, map or run, once, in the
 * order they meet them; every one refused is logged before -ENOTSUP.
 */
static int find_files(const struct md_proc *procs, size_t n, struct ghost_files *t)
{
	char src[64], holder[64];
	int r, refused = 0;

	for (size_t i = 0; i < n; i++) {
		const struct md_proc *p = &procs[i];

		for (size_t j = 0; j < p->n_fds; j++) {
			const struct md_fd *fd = &p->fds[j];
			struct ghost_file *f;
			struct stat st;

			if (!fd->ghost || find_file(t, fd->dev, fd->ino))
				continue;
			snprintf(src, sizeof(src), "/proc/%d/fd/%d", p->pid, fd->fd);
			snprintf(holder, sizeof(holder), "fd %d of %d", fd->fd, p->pid);
			r = check_makeable(src, fd->path, fd->kind == MD_FD_DIR, holder, &st);
			if (r == -ENOTSUP) {
				refused = r;
				continue;
			}
			if (r < 0)
				return r;
			f = add_file(t, fd->dev, fd->ino, fd->path, src, holder);
			if (!f)
				return -ENOMEM;
			f->g.size = fd->ghost->size;
			f->g.uid = fd->ghost->uid;
			f->g.gid = fd->ghost->gid;
			f->g.mode = fd->mode;
		}
		r = add_mapped(t, procs, i);
		if (r == -ENOTSUP)
			refused = r;
		else if (r < 0)
			return r;
	}
	return refused;
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
	if (s->n)
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

/* a VMA or the exe of p on f: *ref its id, and f's record in p if p has none yet */
static int link_mapped(struct md_proc *p, uint64_t *ref, const struct ghost_file *f)
{
	struct md_ghost *nm;

	*ref = f->g.id;
	if (md_proc_ghost(p, f->g.id))
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

/* p's fds on files of t get their ids and data maps */
static int link_fds(struct md_proc *p, const struct ghost_files *t)
{
	for (size_t j = 0; j < p->n_fds; j++) {
		struct md_fd *fd = &p->fds[j];
		int r;

		if (fd->ghost) {
			/* found: find_files() added every fd's file */
			r = copy_ghost(fd->ghost, &find_file(t, fd->dev, fd->ino)->g, false);
			if (r < 0)
				return r;
		}
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
		struct md_proc *p = &procs[m->proc];

		r = link_mapped(p, m->vma == EXE_HOLDER	  ? &p->exe_ghost
				   : m->vma == CWD_HOLDER ? &p->cwd_ghost
							  : &p->vmas[m->vma].ghost,
				&t.f[m->file]);
	}
	ghost_files_release(&t);
	return r;
}
