/*
 * An inotify instance made again by memdump, before any process exists,
 * with every watch under the same watch descriptor. The kernel hands out
 * wds cyclically (idr_alloc_cyclic from 1, never reusing a number until it
 * wraps), so watches are added in wd order, and a number nobody held is
 * skipped by adding a watch and removing it at once. Each wd we get is
 * checked. The IN_IGNORED events those removals queue are read away before
 * the fd goes to the process; events of the dumped instance were not kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "restore/internal.h"

/*
 * Numbers are skipped with watches on a memfd of our own: no watch of the
 * image can be on it (one on the same inode would be changed, not added).
 */
#define SKIP_MASK IN_DELETE_SELF
/* wds skipped at most: each costs two syscalls */
#define SKIP_MAX (1 << 20)

/* every queued event: the IN_IGNORED of each skipping watch */
static int drain(int fd)
{
	char buf[4096];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		return n < 0 ? -errno : -EIO;
	}
}

/* the kernel's next wd is *next: make it want */
static int skip_to(int fd, const char *skip_path, const struct md_fd *f, int32_t want, int32_t *next)
{
	for (uint32_t skipped = 0; *next < want; skipped++) {
		int wd;

		if (skipped == SKIP_MAX)
			return log_refuse("inotify fd %d: watch %d is too far past the last one (more than %d "
					  "unused numbers to skip)", f->fd, want, SKIP_MAX);
		wd = inotify_add_watch(fd, skip_path, SKIP_MASK);
		if (wd < 0)
			return log_err(-errno, "inotify fd %d: cannot add a watch to skip wd %d", f->fd, *next);
		if (wd != *next)
			return log_err(-EBUSY, "inotify fd %d: skipping wd %d, the kernel gave %d", f->fd, *next, wd);
		if (inotify_rm_watch(fd, wd) < 0)
			return log_err(-errno, "inotify fd %d: cannot remove the watch skipping wd %d", f->fd, wd);
		(*next)++;
		/* keep the queue of IN_IGNORED short of its limit (fs.inotify.max_queued_events) */
		if (skipped % 4096 == 4095 && drain(fd) < 0)
			return log_err(-errno, "inotify fd %d: cannot read its events", f->fd);
	}
	return 0;
}

int restore_make_inotify(const struct md_fd *f)
{
	_cleanup_close_ int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK), skip = -1;
	char skip_path[64];
	int32_t next = 1;
	int r;

	if (fd < 0)
		return log_err(-errno, "inotify fd %d: cannot make an inotify instance", f->fd);
	skip = memfd_create("memdump-inotify-skip", MFD_CLOEXEC);
	if (skip < 0)
		return log_err(-errno, "inotify fd %d: cannot make a memfd", f->fd);
	snprintf(skip_path, sizeof(skip_path), "/proc/self/fd/%d", skip);
	for (size_t i = 0; i < f->n_watches; i++) {
		const struct md_inotify_watch *w = &f->watches[i];
		int wd;

		r = skip_to(fd, skip_path, f, w->wd, &next);
		if (r < 0)
			return r;
		/* the path is the inode's own (no symlink in it): a watch on a symlink stays one */
		wd = inotify_add_watch(fd, w->path, w->mask | IN_DONT_FOLLOW);
		if (wd < 0)
			return log_err(-errno, "inotify fd %d: cannot watch '%s' (mask %#x) again as wd %d", f->fd, w->path,
				       w->mask, w->wd);
		if (wd != w->wd)
			return log_err(-EBUSY, "inotify fd %d: watch on '%s' came back as wd %d, not %d (is another watch "
					       "on the same file?)", f->fd, w->path, wd, w->wd);
		next++;
	}
	r = drain(fd);
	if (r < 0)
		return log_err(r, "inotify fd %d: cannot read its events", f->fd);
	if (!(f->flags & O_NONBLOCK) && fcntl(fd, F_SETFL, 0) < 0)
		return log_err(-errno, "inotify fd %d: cannot make it blocking", f->fd);
	return TAKE_FD(fd);
}
