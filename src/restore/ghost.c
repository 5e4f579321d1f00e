/*
 * Files deleted while open ("ghosts"), made again before any process
 * exists: in the directory they were in, under their old name if it is
 * free (else a temporary one), with their size, data (holes stay holes),
 * owner and mode; then deleted again. memdump keeps one fd on each; every
 * open file description of the image on it is opened from that fd
 * (/proc/self/fd/N), so fds that shared the file share it again. Reading
 * and checking the images comes first, with the rest of the image.
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

int restore_read_ghosts(struct restore_ctx *rc, const char *dir)
{
	for (size_t k = 0; k < rc->n; k++) {
		const struct md_proc *p = &rc->procs[k].p;

		for (size_t i = 0; i < p->n_fds; i++) {
			const struct md_fd *f = &p->fds[i];
			struct restore_ghost *g, *ng;
			char name[64];
			int r;

			if (!f->ghost)
				continue;
			g = find_ghost(rc, f->ghost->id);
			if (g) {
				if (!same_ghost(g->g, f->ghost))
					return log_err(-EINVAL, "image '%s': fd %d of %d and fd %d of %d say different things "
								"of deleted file %llu", dir, g->fd_no, g->pid, f->fd, p->pid,
						       (unsigned long long)f->ghost->id);
				continue;
			}
			ng = realloc(rc->ghosts, (rc->n_ghosts + 1) * sizeof(*ng));
			if (!ng)
				return -ENOMEM;
			rc->ghosts = ng;
			g = &rc->ghosts[rc->n_ghosts++];
			*g = (struct restore_ghost){ .g = f->ghost, .path = f->path, .mode = f->mode, .fd = -1,
						     .pid = p->pid, .fd_no = f->fd };
			/* whole, checked, also for a lazy restore: it is written before anything runs */
			image_pages_name(name, sizeof(name), MD_PAGES_GHOST, f->ghost->id);
			r = image_pages_open(rc->dirfd, name, f->ghost->data.nr_data_pages, true, &g->pages);
			if (r < 0)
				return log_err(r, "image '%s': no valid data for fd %d of %d, the deleted file '%s'", dir,
					       f->fd, p->pid, f->path);
		}
	}
	return 0;
}

/* create g's file in dirfd as name; its fd, or -errno (-EEXIST: the name is taken) */
static int create_as(const struct restore_ghost *g, int dirfd, const char *name)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	int r;

	if (fd < 0)
		return -errno;
	/* deleted at once: nobody can open it by its name with the owner and mode it gets below */
	if (unlinkat(dirfd, name, 0) < 0)
		return -errno;
	r = ftruncate(fd, (off_t)g->g->size) < 0 ? -errno : restore_fill_file(&g->g->data, g->pages, fd, g->g->size);
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
		return log_err(-errno, "fd %d of %d was the deleted file '%s': cannot make it again in '%s'", g->fd_no,
			       g->pid, g->path, dir[0] ? dir : "/");
	fd = *base ? create_as(g, dirfd, base) : -EEXIST;
	if (fd == -EEXIST) {
		/* a new file has its name now: the fd will show the temporary one */
		snprintf(tmp, sizeof(tmp), ".memdump-ghost-%llu-%d", (unsigned long long)g->g->id, (int)getpid());
		fd = create_as(g, dirfd, tmp);
	}
	if (fd < 0)
		return log_err(fd, "fd %d of %d was the deleted file '%s': cannot make it again", g->fd_no, g->pid,
			       g->path);
	g->fd = fd;
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

int restore_ghost_fd(const struct restore_ctx *rc, uint64_t id)
{
	const struct restore_ghost *g = find_ghost(rc, id);

	return g ? g->fd : -1;
}

void restore_ghosts_close(struct restore_ctx *rc)
{
	for (size_t i = 0; i < rc->n_ghosts; i++)
		if (rc->ghosts[i].fd >= 0) {
			close(rc->ghosts[i].fd);
			rc->ghosts[i].fd = -1;
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
