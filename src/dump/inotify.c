/*
 * An inotify fd: its watches from fdinfo, each watched inode's path found
 * from the file handle fdinfo prints (open_by_handle_at() on a mount of
 * the same file system, then the path of what it opened), checked against
 * the inode number. Events queued and not read yet cannot be kept: warned
 * about. Making the instance again is restore/'s.
 */
#include "memdump/dump.h"
#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "memdump/proc.h"
#include "dump/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>


/* the kernel's dev_t encoding in fdinfo's sdev: 12 bits of major, 20 of minor */
static unsigned sdev_major(uint32_t sdev)
{
	return sdev >> 20;
}

static unsigned sdev_minor(uint32_t sdev)
{
	return sdev & 0xfffff;
}

static int cmp_wd(const void *a, const void *b)
{
	const struct md_inotify_watch *x = a, *y = b;

	return (x->wd > y->wd) - (x->wd < y->wd);
}

/*
 * The path of w's inode through mount m of pid: NULL (and -errno) if the
 * handle does not open there or what it opens is not w's inode as our
 * root sees it.
 */
static int path_through(pid_t pid, const struct proc_mount *m, const struct proc_inotify_watch *w, char **ret)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + PROC_FHANDLE_MAX];
	} h;
	_cleanup_close_ int mfd = -1, fd = -1;
	char mp[PATH_MAX + 64], link[PATH_MAX + 1], self[64];
	struct stat st;
	ssize_t n;

	snprintf(mp, sizeof(mp), "/proc/%d/root%s", pid, m->mount_point);
	/* not O_PATH: open_by_handle_at() wants an fd it can read (fdget()) */
	mfd = open(mp, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (mfd < 0)
		return -errno;
	h.fh.handle_bytes = w->fh_bytes;
	h.fh.handle_type = w->fh_type;
	memcpy(h.fh.f_handle, w->fh, w->fh_bytes);
	fd = open_by_handle_at(mfd, &h.fh, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	n = readlink(self, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	if (link[0] != '/')
		return -ENOENT;
	/*
	 * What a new watch on that path would watch: the very inode (no link
	 * followed). A file named "x (deleted)" is found; one deleted is not.
	 */
	if (lstat(link, &st) < 0)
		return errno == ENOENT && proc_path_deleted(link) ? -EIDRM : -errno;
	if (st.st_ino != w->ino || major(st.st_dev) != sdev_major(w->sdev) || minor(st.st_dev) != sdev_minor(w->sdev))
		return -ESTALE;
	*ret = strdup(link);
	return *ret ? 0 : -ENOMEM;
}

/* w's path, trying every mount of its file system in pid, whole ones ("/" roots) first */
static int resolve_watch(pid_t pid, int fd, const struct proc_mount *mounts, size_t n_mounts,
			 const struct proc_inotify_watch *w, char **ret)
{
	int r = -ENOENT;

	if (!w->has_fh) {
		log_msg(LOG_ERR, "fd %d of %d is inotify, watch %d (inode %llu on %u:%u): its file system gives no "
				 "file handle, so its path cannot be found; not supported (remove the watch)",
			fd, pid, w->wd, (unsigned long long)w->ino, sdev_major(w->sdev), sdev_minor(w->sdev));
		return -ENOTSUP;
	}
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n_mounts; i++) {
			const struct proc_mount *m = &mounts[i];

			if (m->major != sdev_major(w->sdev) || m->minor != sdev_minor(w->sdev) ||
			    (strcmp(m->root, "/") == 0) != (pass == 0))
				continue;
			r = path_through(pid, m, w, ret);
			if (r >= 0)
				return 0;
			if (r == -EIDRM) {
				log_msg(LOG_ERR, "fd %d of %d is inotify, watch %d: its file was deleted; not "
						 "supported (remove the watch)", fd, pid, w->wd);
				return -ENOTSUP;
			}
			if (r == -ENOMEM)
				return r;
		}
	log_msg(LOG_ERR, "fd %d of %d is inotify, watch %d (inode %llu on %u:%u): cannot find its path from its "
			 "file handle (%s); not supported (remove the watch)", fd, pid, w->wd,
		(unsigned long long)w->ino, sdev_major(w->sdev), sdev_minor(w->sdev),
		r == -ESTALE ? "it opens another inode" : strerror(-r));
	return -ENOTSUP;
}

/* events the process has not read yet are lost: say so */
static void warn_queued(pid_t pid, int fd)
{
	_cleanup_close_ int copy = dump_copy_fd(pid, fd);
	int queued = 0;

	if (copy >= 0 && ioctl(copy, FIONREAD, &queued) == 0 && queued > 0)
		log_warn("fd %d of %d: %d bytes of inotify events not read yet are not kept (restore makes the "
			 "instance again, empty)", fd, pid, queued);
}

int dump_inotify_fd(pid_t pid, int fd, const char *fdinfo, struct md_fd *ret)
{
	_cleanup_free_ struct proc_inotify_watch *w = NULL;
	_cleanup_free_ char *mi = NULL;
	struct proc_mount *mounts = NULL;
	size_t n = 0, n_mounts = 0;
	int r;

	r = proc_parse_inotify(fdinfo, &w, &n);
	if (r < 0)
		return log_err(r, "cannot parse the watches of inotify fd %d of %d", fd, pid);
	ret->watches = calloc(n ? n : 1, sizeof(*ret->watches));
	if (!ret->watches)
		return -ENOMEM;
	if (n) {
		r = proc_read_filef(&mi, NULL, "/proc/%d/mountinfo", pid);
		if (r >= 0)
			r = proc_parse_mountinfo(mi, &mounts, &n_mounts);
		if (r < 0)
			return log_err(r, "cannot read the mounts of %d", pid);
	}
	for (size_t i = 0; i < n; i++) {
		struct md_inotify_watch *m = &ret->watches[i];

		if (w[i].ignored_mask)
			log_debug("fd %d of %d: watch %d has ignored mask %#x, which inotify never sets", fd, pid,
				  w[i].wd, w[i].ignored_mask);
		r = resolve_watch(pid, fd, mounts, n_mounts, &w[i], &m->path);
		if (r < 0)
			break;
		m->wd = w[i].wd;
		m->mask = w[i].mask;
		m->ino = w[i].ino;
		m->sdev = w[i].sdev;
		ret->n_watches++;
	}
	proc_mounts_free(mounts, n_mounts);
	if (r < 0)
		return r;
	qsort(ret->watches, ret->n_watches, sizeof(*ret->watches), cmp_wd);
	warn_queued(pid, fd);
	return 0;
}
