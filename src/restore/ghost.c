/*
 * Files deleted while open or mapped ("ghosts"), made again before any
 * process exists: in the directory they were in, under their old name if
 * it is free (else a temporary one), with their size, data (holes stay
 * holes), owner and mode; then deleted again. A removed directory (an fd's
 * or a cwd) is made again empty, and removed again. memdump keeps one fd on
 * each; every open file description of the image on it is opened from
 * that fd (/proc/self/fd/N), so fds that shared the file share it again;
 * every VMA on it maps that fd (a shared writable one an O_RDWR fd opened
 * from it), and a deleted exe is that fd again. Reading and checking the
 * images comes first, with the rest of the image.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memdump/cleanup.h"
#include "memdump/image.h"
#include "memdump/log.h"
#include "restore/internal.h"

static struct restore_ghost *find_ghost(const struct restore_ctx *rc, uint64_t id)
{
	for (size_t i = 0; i < rc->n_ghosts; i++)
		if (rc->ghosts[i].g->id == id)
			return &rc->ghosts[i];
	return NULL;
}

static bool same_ghost(const struct md_ghost *a, const struct md_ghost *b)
{
	if (a->size != b->size || a->uid != b->uid || a->gid != b->gid || a->data.n != b->data.n)
		return false;
	for (size_t i = 0; i < a->data.n; i++)
		if (a->data.entries[i].vaddr != b->data.entries[i].vaddr ||
		    a->data.entries[i].nr_pages != b->data.entries[i].nr_pages)
			return false;
	return true;
}

/* g, held by holder, of the image in dir: one more ghost of rc, or checked against the one with its id */
static int read_one(struct restore_ctx *rc, const char *dir, const struct md_ghost *g, const char *path, uint32_t mode,
		    const char *holder)
{
	struct restore_ghost *rg = find_ghost(rc, g->id), *ng;
	char name[64];
	int r;

	if (rg) {
		if (!same_ghost(rg->g, g) || (rg->mode & S_IFMT) != (mode & S_IFMT))
			return log_err(-EINVAL, "image '%s': %s and %s say different things of deleted file %llu", dir,
				       rg->holder, holder, (unsigned long long)g->id);
		return 0;
	}
	ng = realloc(rc->ghosts, (rc->n_ghosts + 1) * sizeof(*ng));
	if (!ng)
		return -ENOMEM;
	rc->ghosts = ng;
	rg = &rc->ghosts[rc->n_ghosts++];
	*rg = (struct restore_ghost){ .g = g, .path = path, .mode = mode, .fd = -1, .fd_rw = -1 };
	snprintf(rg->holder, sizeof(rg->holder), "%s", holder);
	/* whole, checked, also for a lazy restore: it is written before anything runs */
	image_pages_name(name, sizeof(name), MD_PAGES_GHOST, g->id);
	r = image_pages_open(rc->dirfd, name, g->data.nr_data_pages, true, &rg->pages);
	if (r < 0)
		return log_err(r, "image '%s': no valid data for %s, the deleted file '%s'", dir, holder, path);
	return 0;
}

int restore_read_ghosts(struct restore_ctx *rc, const char *dir)
{
	char holder[48];
	int r;

	for (size_t k = 0; k < rc->n; k++) {
		const struct md_proc *p = &rc->procs[k].p;

		for (size_t i = 0; i < p->n_fds; i++) {
			const struct md_fd *f = &p->fds[i];

			if (!f->ghost)
				continue;
			snprintf(holder, sizeof(holder), "fd %d of %d", f->fd, p->pid);
			r = read_one(rc, dir, f->ghost, f->path, f->mode, holder);
			if (r < 0)
				return r;
		}
		for (size_t i = 0; i < p->n_mapped; i++) {
			snprintf(holder, sizeof(holder), "a mapping or the cwd of %d", p->pid);
			r = read_one(rc, dir, &p->mapped[i], p->mapped[i].path, p->mapped[i].mode, holder);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* an empty directory in dirfd as name, open, removed again: its fd, or -errno (-EEXIST: the name is taken) */
static int create_dir(int dirfd, const char *name)
{
	int fd, r = 0;

	if (mkdirat(dirfd, name, 0700) < 0)
		return -errno;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		r = -errno;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && r == 0)
		r = -errno;
	if (r < 0 && fd >= 0)
		close(fd);
	return r < 0 ? r : fd;
}

/* an empty file in dirfd as name, open, deleted again: its fd, or -errno (-EEXIST: the name is taken) */
static int create_file(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return -errno;
	if (unlinkat(dirfd, name, 0) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* create g's file (or directory) in dirfd as name; its fd, or -errno (-EEXIST: the name is taken) */
static int create_as(const struct restore_ghost *g, int dirfd, const char *name)
{
	/* deleted at once: nobody can open it by its name with the owner and mode it gets below */
	_cleanup_close_ int fd = S_ISDIR(g->mode) ? create_dir(dirfd, name) : create_file(dirfd, name);
	int r = 0;

	if (fd < 0)
		return fd;
	if (!S_ISDIR(g->mode))
		r = ftruncate(fd, (off_t)g->g->size) < 0 ? -errno
							  : restore_fill_file(&g->g->data, g->pages, fd, g->g->size);
	/* owner first: chown() clears set-user-ID and set-group-ID */
	if (r >= 0 && fchown(fd, g->g->uid, g->g->gid) < 0)
		r = -errno;
	if (r >= 0 && fchmod(fd, g->mode & 07777) < 0)
		r = -errno;
	if (r < 0)
		return r;
	return TAKE_FD(fd);
}

static int make_one(struct restore_ghost *g)
{
	_cleanup_free_ char *dir = strdup(g->path);
	_cleanup_close_ int dirfd = -1;
	char tmp[NAME_MAX + 1];
	const char *base;
	char *slash;
	int fd;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	base = g->path + (slash - dir) + 1;
	*slash = '\0';
	dirfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return log_err(-errno, "%s was the deleted file '%s': cannot make it again in '%s'", g->holder, g->path,
			       dir[0] ? dir : "/");
	fd = *base ? create_as(g, dirfd, base) : -EEXIST;
	if (fd == -EEXIST) {
		/* a new file has its name now: the fd will show the temporary one */
		snprintf(tmp, sizeof(tmp), ".memdump-ghost-%llu-%d", (unsigned long long)g->g->id, (int)getpid());
		fd = create_as(g, dirfd, tmp);
	}
	if (fd < 0)
		return log_err(fd, "%s was the deleted file '%s': cannot make it again", g->holder, g->path);
	/* no writer left: fds reopen it with their own flags, and a deleted exe must have none */
	g->fd = restore_reopen(fd, O_RDONLY);
	close(fd);
	if (g->fd < 0)
		return log_err(-errno, "%s was the deleted file '%s': cannot open it again", g->holder, g->path);
	return 0;
}

int restore_make_ghosts(struct restore_ctx *rc)
{
	for (size_t i = 0; i < rc->n_ghosts; i++) {
		int r = make_one(&rc->ghosts[i]);

		if (r < 0)
			return r;
	}
	return 0;
}

int restore_ghost_fd(const struct restore_ctx *rc, uint64_t id, bool write)
{
	const struct restore_ghost *g = find_ghost(rc, id);

	return !g ? -1 : write ? g->fd_rw : g->fd;
}

int restore_ghost_open_rw(struct restore_ctx *rc, uint64_t id)
{
	struct restore_ghost *g = find_ghost(rc, id);

	if (!g || g->fd < 0)
		return log_err(-ENOENT, "no deleted file %llu to map", (unsigned long long)id);
	if (g->fd_rw >= 0)
		return 0;
	g->fd_rw = restore_reopen(g->fd, O_RDWR);
	if (g->fd_rw < 0)
		return log_err(-errno, "%s was the deleted file '%s': cannot open it for writing", g->holder, g->path);
	return 0;
}

void restore_ghosts_close(struct restore_ctx *rc)
{
	for (size_t i = 0; i < rc->n_ghosts; i++) {
		struct restore_ghost *g = &rc->ghosts[i];

		if (g->fd >= 0)
			close(g->fd);
		if (g->fd_rw >= 0)
			close(g->fd_rw);
		g->fd = g->fd_rw = -1;
	}
}

void restore_ghosts_release(struct restore_ctx *rc)
{
	restore_ghosts_close(rc);
	for (size_t i = 0; i < rc->n_ghosts; i++)
		image_pages_close(rc->ghosts[i].pages);
	free(rc->ghosts);
	rc->ghosts = NULL;
	rc->n_ghosts = 0;
}
