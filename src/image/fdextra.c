/*
 * The parts of files-PID.img that are lists of their own: an inotify fd's
 * watches, a deleted file's ghost record, an fd's locks (Fd fields 16, 18
 * and 19) and the ghosts only mapped (FilesImage.mapped), model <->
 * protobuf-c, checked on read, with the VMAs', the exe's and the cwd's
 * references to ghosts. The rest of the image is proc.c's; the ghost's
 * data file is pages.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image/internal.h"
#include "memdump/log.h"
#include "memdump/model.h"

#include "files.pb-c.h"

static void *keep(struct image_files_extras *ex, size_t n, size_t size)
{
	void *p, **na;

	if (ex->n == ex->cap) {
		size_t nc = ex->cap ? 2 * ex->cap : 16;

		na = realloc(ex->allocs, nc * sizeof(*na));
		if (!na)
			return NULL;
		ex->allocs = na;
		ex->cap = nc;
	}
	p = calloc(n ? n : 1, size);
	if (p)
		ex->allocs[ex->n++] = p;
	return p;
}

void image_files_extras_release(struct image_files_extras *ex)
{
	for (size_t i = 0; i < ex->n; i++)
		free(ex->allocs[i]);
	free(ex->allocs);
	memset(ex, 0, sizeof(*ex));
}

static int put_watches(const struct md_fd *s, Md__Fd *f, struct image_files_extras *ex)
{
	Md__InotifyWatch *w = keep(ex, s->n_watches, sizeof(*w));
	Md__InotifyWatch **wp = keep(ex, s->n_watches, sizeof(*wp));

	if (!w || !wp)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_watches; i++) {
		md__inotify_watch__init(&w[i]);
		w[i].wd = s->watches[i].wd;
		w[i].mask = s->watches[i].mask;
		w[i].path = s->watches[i].path;
		w[i].has_ino = true;
		w[i].ino = s->watches[i].ino;
		w[i].has_sdev = true;
		w[i].sdev = s->watches[i].sdev;
		wp[i] = &w[i];
	}
	f->n_watches = s->n_watches;
	f->watches = wp;
	return 0;
}

static int put_locks(const struct md_fd *s, Md__Fd *f, struct image_files_extras *ex)
{
	Md__FileLock *l = keep(ex, s->n_locks, sizeof(*l));
	Md__FileLock **lp = keep(ex, s->n_locks, sizeof(*lp));

	if (!l || !lp)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_locks; i++) {
		const struct md_file_lock *k = &s->locks[i];

		md__file_lock__init(&l[i]);
		l[i].kind = k->kind;
		l[i].write = k->write;
		l[i].has_start = k->kind != MD_LOCK_FLOCK;
		l[i].start = k->start;
		l[i].has_end = k->end != MD_LOCK_EOF;
		l[i].end = k->end;
		lp[i] = &l[i];
	}
	f->n_locks = s->n_locks;
	f->locks = lp;
	return 0;
}

/* g into m; with its mode and path for FilesImage.mapped */
static int put_ghost(const struct md_ghost *g, bool mapped, Md__GhostFile *m, struct image_files_extras *ex)
{
	Md__GhostExtent *e = keep(ex, g->data.n, sizeof(*e));
	Md__GhostExtent **ep = keep(ex, g->data.n, sizeof(*ep));

	if (!e || !ep)
		return -ENOMEM;
	md__ghost_file__init(m);
	m->id = g->id;
	m->size = g->size;
	m->uid = g->uid;
	m->gid = g->gid;
	for (size_t i = 0; i < g->data.n; i++) {
		md__ghost_extent__init(&e[i]);
		e[i].offset = g->data.entries[i].vaddr;
		e[i].nr_pages = g->data.entries[i].nr_pages;
		ep[i] = &e[i];
	}
	m->n_extents = g->data.n;
	m->extents = ep;
	m->has_mode = mapped;
	m->mode = g->mode;
	m->path = mapped ? g->path : NULL;
	return 0;
}

int image_files_extras_prepare(const struct md_proc *p, struct Md__FilesImage *m, struct Md__Fd *f,
			       struct image_files_extras *ret)
{
	struct image_files_extras ex = { 0 };
	Md__GhostFile *g = keep(&ex, p->n_mapped, sizeof(*g));
	Md__GhostFile **gp = keep(&ex, p->n_mapped, sizeof(*gp));
	int r = g && gp ? 0 : -ENOMEM;

	for (size_t i = 0; i < p->n_fds && r >= 0; i++) {
		if (p->fds[i].kind == MD_FD_INOTIFY)
			r = put_watches(&p->fds[i], &f[i], &ex);
		if (r >= 0 && p->fds[i].n_locks)
			r = put_locks(&p->fds[i], &f[i], &ex);
		if (r >= 0 && p->fds[i].ghost) {
			f[i].ghost = keep(&ex, 1, sizeof(*f[i].ghost));
			r = f[i].ghost ? put_ghost(p->fds[i].ghost, false, f[i].ghost, &ex) : -ENOMEM;
		}
	}
	for (size_t i = 0; i < p->n_mapped && r >= 0; i++) {
		r = put_ghost(&p->mapped[i], true, &g[i], &ex);
		gp[i] = &g[i];
	}
	m->n_mapped = p->n_mapped;
	m->mapped = gp;
	if (r < 0) {
		image_files_extras_release(&ex);
		return r;
	}
	*ret = ex;
	return 0;
}

static int read_watches(const char *name, const Md__Fd *s, struct md_fd *f)
{
	if (s->n_watches && f->kind != MD_FD_INOTIFY)
		return img_invalid(name, "fd %d has inotify watches but is no inotify fd", f->fd);
	if (!s->n_watches)
		return 0;
	f->watches = calloc(s->n_watches, sizeof(*f->watches));
	if (!f->watches)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_watches; i++) {
		const Md__InotifyWatch *w = s->watches[i];

		if (w->wd <= 0 || (i && w->wd <= s->watches[i - 1]->wd))
			return img_invalid(name, "inotify fd %d: watch %d is not positive or out of order", f->fd, w->wd);
		if (!w->path || w->path[0] != '/')
			return img_invalid(name, "inotify fd %d: watch %d has no absolute path", f->fd, w->wd);
		f->watches[i].path = strdup(w->path);
		if (!f->watches[i].path)
			return -ENOMEM;
		f->n_watches = i + 1;
		f->watches[i].wd = w->wd;
		f->watches[i].mask = w->mask;
		f->watches[i].ino = w->has_ino ? w->ino : 0;
		f->watches[i].sdev = w->has_sdev ? w->sdev : 0;
	}
	return 0;
}

/* m into g, checked; what names its holder in messages */
static int read_ghost(const char *name, const char *what, const Md__GhostFile *m, struct md_ghost *g)
{
	uint64_t end = 0, pages = 0, limit;

	if (!m->id)
		return img_invalid(name, "%s: deleted file with id 0", what);
	limit = md_page_round_up(m->size);
	if (limit < m->size)
		return img_invalid(name, "%s: deleted file of impossible size", what);
	for (size_t i = 0; i < m->n_extents; i++) {
		const Md__GhostExtent *e = m->extents[i];

		if (e->offset % MD_PAGE_SIZE || !e->nr_pages || e->offset < end || e->nr_pages > limit / MD_PAGE_SIZE ||
		    e->offset > limit - e->nr_pages * MD_PAGE_SIZE)
			return img_invalid(name, "%s: deleted file extent %zu is out of order or outside its %llu "
					   "bytes", what, i, (unsigned long long)m->size);
		end = e->offset + e->nr_pages * MD_PAGE_SIZE;
		pages += e->nr_pages;
	}
	g->data.entries = calloc(m->n_extents ? m->n_extents : 1, sizeof(*g->data.entries));
	if (!g->data.entries)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_extents; i++)
		g->data.entries[i] =
			(struct md_pagemap_entry){ m->extents[i]->offset, m->extents[i]->nr_pages, MD_PM_DATA };
	g->data.n = m->n_extents;
	g->data.nr_data_pages = pages;
	g->id = m->id;
	g->size = m->size;
	g->uid = m->uid;
	g->gid = m->gid;
	return 0;
}

static int read_fd_ghost(const char *name, const Md__Fd *s, struct md_fd *f)
{
	char what[32];

	if (!s->ghost)
		return 0;
	if ((f->kind != MD_FD_REG && f->kind != MD_FD_DIR) || !f->path || f->path[0] != '/')
		return img_invalid(name, "fd %d has a deleted file's data but is no regular file or directory with a "
				   "path", f->fd);
	if (f->kind == MD_FD_DIR ? !S_ISDIR(f->mode) || s->ghost->size || s->ghost->n_extents : !S_ISREG(f->mode))
		return img_invalid(name, "fd %d: a deleted %s of mode %#o%s", f->fd,
				   f->kind == MD_FD_DIR ? "directory" : "file", f->mode,
				   f->kind == MD_FD_DIR ? ", or with data" : "");
	f->ghost = calloc(1, sizeof(*f->ghost));
	if (!f->ghost)
		return -ENOMEM;
	snprintf(what, sizeof(what), "fd %d", f->fd);
	return read_ghost(name, what, s->ghost, f->ghost);
}

/*
 * The fd's locks: on a file, directory or device; a byte range for POSIX
 * and OFD locks, taken through an fd that reads for a shared one and
 * writes for an exclusive one (fcntl() refuses them otherwise); the whole
 * file for flock.
 */
static int read_locks(const char *name, const Md__Fd *s, struct md_fd *f)
{
	int acc = (int)(f->flags & O_ACCMODE);

	if (!s->n_locks)
		return 0;
	if (f->kind != MD_FD_REG && f->kind != MD_FD_DIR && f->kind != MD_FD_CHR)
		return img_invalid(name, "fd %d holds locks but is no file, directory or device", f->fd);
	if (s->n_locks > MD_LOCKS_MAX)
		return img_invalid(name, "fd %d holds %zu locks", f->fd, s->n_locks);
	f->locks = calloc(s->n_locks, sizeof(*f->locks));
	if (!f->locks)
		return -ENOMEM;
	f->n_locks = s->n_locks;
	for (size_t i = 0; i < s->n_locks; i++) {
		const Md__FileLock *m = s->locks[i];
		struct md_file_lock *k = &f->locks[i];

		k->kind = (uint8_t)m->kind;
		k->write = m->write;
		k->start = m->has_start ? m->start : 0;
		k->end = m->has_end ? m->end : MD_LOCK_EOF;
		/* the kernel's last offset, OFFSET_MAX, is the end of the file ("EOF") */
		if (m->kind < MD_LOCK_FLOCK || m->kind > MD_LOCK_OFD || k->start > k->end || k->start >= INT64_MAX ||
		    (k->end != MD_LOCK_EOF && k->end >= INT64_MAX) ||
		    (m->kind == MD_LOCK_FLOCK && (k->start || k->end != MD_LOCK_EOF)))
			return img_invalid(name, "fd %d: lock %zu of kind %u on bytes %llu to %llu", f->fd, i, m->kind,
					   (unsigned long long)k->start, (unsigned long long)k->end);
		if (m->kind != MD_LOCK_FLOCK &&
		    (k->write ? acc != O_WRONLY && acc != O_RDWR : acc != O_RDONLY && acc != O_RDWR))
			return img_invalid(name, "fd %d: a %s lock through an fd open %s", f->fd,
					   k->write ? "write" : "read", acc == O_RDONLY ? "read-only" : "write-only");
	}
	return 0;
}

int image_read_fd_extras(const char *name, const struct Md__Fd *s, struct md_fd *f)
{
	int r = read_watches(name, s, f);

	if (r >= 0)
		r = read_fd_ghost(name, s, f);
	if (r >= 0)
		r = read_locks(name, s, f);
	if (r == -ENOMEM)
		return log_err(r, "cannot read image '%s'", name);
	return r;
}

/*
 * FilesImage.mapped into p (its fds and cwd read already), then the
 * references to ghosts (mm-PID.img, read already): each VMA's and the exe's
 * must name a regular file, FilesImage.cwd_ghost a directory.
 */
int image_read_mapped_ghosts(const char *name, const struct Md__FilesImage *m, struct md_proc *p)
{
	int r = 0;

	p->mapped = calloc(m->n_mapped ? m->n_mapped : 1, sizeof(*p->mapped));
	if (!p->mapped)
		return log_err(-ENOMEM, "cannot read image '%s'", name);
	for (size_t i = 0; i < m->n_mapped; i++) {
		const Md__GhostFile *s = m->mapped[i];
		struct md_ghost *g = &p->mapped[i];
		char what[48];

		snprintf(what, sizeof(what), "mapped deleted file %zu", i);
		if (!s->has_mode || (!S_ISREG(s->mode) && !S_ISDIR(s->mode)) || !s->path || s->path[0] != '/')
			return img_invalid(name, "%s has no regular file or directory mode or no absolute path", what);
		if (S_ISDIR(s->mode) && (s->size || s->n_extents))
			return img_invalid(name, "%s is a removed directory with data", what);
		if (md_proc_ghost(p, s->id))
			return img_invalid(name, "%s: id %llu is there twice", what, (unsigned long long)s->id);
		p->n_mapped = i + 1;
		r = read_ghost(name, what, s, g);
		if (r >= 0 && !(g->path = strdup(s->path)))
			r = -ENOMEM;
		if (r < 0)
			return r == -ENOMEM ? log_err(r, "cannot read image '%s'", name) : r;
		g->mode = s->mode;
	}
	for (size_t i = 0; i < p->n_vmas; i++) {
		uint64_t id = p->vmas[i].ghost;

		if (id && (!md_proc_ghost(p, id) || md_proc_ghost_is_dir(p, id)))
			return img_invalid(name,
					   "mapping %#llx-%#llx of %d is deleted file %llu, which is not here or no "
					   "regular file",
					   (unsigned long long)p->vmas[i].start, (unsigned long long)p->vmas[i].end,
					   p->pid, (unsigned long long)id);
	}
	if (p->exe_ghost && (!md_proc_ghost(p, p->exe_ghost) || md_proc_ghost_is_dir(p, p->exe_ghost)))
		return img_invalid(name, "the exe of %d is deleted file %llu, which is not here or no regular file",
				   p->pid, (unsigned long long)p->exe_ghost);
	p->cwd_ghost = m->has_cwd_ghost ? m->cwd_ghost : 0;
	if (p->cwd_ghost && (!p->cwd || p->cwd[0] != '/' || !md_proc_ghost_is_dir(p, p->cwd_ghost)))
		return img_invalid(name, "the cwd of %d is removed directory %llu, which is not here or no directory, "
				   "or has no path", p->pid, (unsigned long long)p->cwd_ghost);
	return 0;
}
