/*
 * Pipes of the tree: each dumped once, with the bytes sitting in it. The
 * bytes are copied with tee(2) from a pidfd_getfd() copy of a read end
 * into a pipe of our own, which leaves them in place for the reader: a
 * dump that fails, or one with --leave-running, takes nothing away.
 */
#include "memdump/dump.h"
#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "compat/pidfd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The unread bytes of the pipe whose read end is fd of pid, without taking them. */
static int peek_pipe(pid_t pid, int fd, struct md_pipe *ret)
{
	_cleanup_close_ int src = -1, tr = -1, tw = -1;
	int p[2], size, queued = 0;
	ssize_t n = 0, got = 0;

	src = md_pidfd_copy_fd(pid, fd);
	if (src < 0)
		return log_err(src, "cannot get a copy of fd %d of %d", fd, pid);
	size = fcntl(src, F_GETPIPE_SZ);
	if (size < 0 || ioctl(src, FIONREAD, &queued) < 0)
		return log_err(-errno, "cannot size the pipe of fd %d of %d", fd, pid);
	ret->size = (uint32_t)size;
	ret->len = 0;
	ret->data = malloc(queued ? (size_t)queued : 1);
	if (!ret->data)
		return -ENOMEM;
	if (!queued)
		return 0;

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	tr = p[0];
	tw = p[1];
	/* as many slots as the source: tee links buffers one for one */
	if (fcntl(tw, F_SETPIPE_SZ, size) < size)
		return log_err(-errno, "cannot make a pipe of %d bytes", size);
	n = tee(src, tw, INT_MAX, SPLICE_F_NONBLOCK);
	if (n < 0)
		return log_err(-errno, "cannot copy the data of the pipe of fd %d of %d", fd, pid);
	if (n != queued)
		return log_err(-EIO, "pipe of fd %d of %d: %d bytes queued, %zd copied", fd, pid, queued, n);
	while (got < n) {
		ssize_t k = read(tr, ret->data + got, (size_t)(n - got));

		if (k <= 0)
			return log_err(k < 0 ? -errno : -EIO, "cannot read back the data of a pipe");
		got += k;
	}
	ret->len = (size_t)n;
	return 0;
}

/* The tree's pipes and, for each, a process outside the tree holding it (0: none). */
struct holders {
	uint64_t *ids;
	pid_t *outside;
	size_t n;
};

static void holders_release(struct holders *h)
{
	free(h->ids);
	free(h->outside);
}

static pid_t *holder_of(const struct holders *h, uint64_t id)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->ids[i] == id)
			return &h->outside[i];
	return NULL;
}

/* One walk over every fd of every process outside the tree, for all the tree's pipes at once. */
static int find_outside_holders(const struct md_proc *procs, size_t n, struct holders *h)
{
	_cleanup_closedir_ DIR *proc = NULL;
	struct dirent *de;

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < procs[i].n_fds; j++) {
			const struct md_fd *f = &procs[i].fds[j];
			uint64_t *ids;
			pid_t *outside;

			if (f->kind != MD_FD_PIPE || holder_of(h, f->pipe_id))
				continue;
			ids = reallocarray(h->ids, h->n + 1, sizeof(*ids));
			if (ids)
				h->ids = ids;
			outside = reallocarray(h->outside, h->n + 1, sizeof(*outside));
			if (outside)
				h->outside = outside;
			if (!ids || !outside)
				return -ENOMEM;
			h->ids[h->n] = f->pipe_id;
			h->outside[h->n++] = 0;
		}
	if (!h->n)
		return 0;
	proc = opendir("/proc");
	if (!proc)
		return -errno;
	while ((de = readdir(proc))) {
		_cleanup_closedir_ DIR *fds = NULL;
		struct dirent *fe;
		char path[64];
		pid_t pid = (pid_t)atoi(de->d_name);

		if (pid <= 0 || pid == getpid() || md_find_proc(procs, n, pid))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", pid);
		fds = opendir(path);
		if (!fds)
			continue;
		while ((fe = readdir(fds))) {
			char link[64], lpath[300];
			unsigned long long id;
			pid_t *holder;
			ssize_t k;

			snprintf(lpath, sizeof(lpath), "/proc/%d/fd/%s", pid, fe->d_name);
			k = readlink(lpath, link, sizeof(link) - 1);
			if (k <= 0)
				continue;
			link[k] = '\0';
			if (sscanf(link, "pipe:[%llu]", &id) == 1 && (holder = holder_of(h, id)) && !*holder)
				*holder = pid;
		}
	}
	return 0;
}

/* A pipe with no read end in the tree: only its size, the data nobody can read is gone anyway. */
static int size_pipe(pid_t pid, int fd, struct md_pipe *ret)
{
	_cleanup_close_ int src = md_pidfd_copy_fd(pid, fd);
	int size;

	if (src < 0)
		return log_err(src, "cannot get a copy of fd %d of %d", fd, pid);
	size = fcntl(src, F_GETPIPE_SZ);
	if (size < 0)
		return log_err(-errno, "cannot size the pipe of fd %d of %d", fd, pid);
	ret->size = (uint32_t)size;
	ret->data = malloc(1);
	return ret->data ? 0 : -ENOMEM;
}

int dump_pipes(const struct md_proc *procs, size_t n, struct md_pipe **ret, size_t *ret_n)
{
	struct md_pipe *pipes = NULL;
	struct holders h = {};
	size_t np = 0;
	int r;

	r = find_outside_holders(procs, n, &h);
	if (r < 0) {
		log_err(r, "cannot look for holders of the tree's pipes outside it");
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < procs[i].n_fds; j++) {
			const struct md_fd *f = &procs[i].fds[j];
			const struct md_fd *rd = NULL, *wr = NULL;
			pid_t rd_pid = 0, wr_pid = 0, other;
			struct md_pipe *np_;
			bool seen = false;

			if (f->kind != MD_FD_PIPE)
				continue;
			for (size_t k = 0; k < np; k++)
				seen = seen || pipes[k].id == f->pipe_id;
			if (seen)
				continue;
			/* both ends must be in the tree: the other one would be lost */
			for (size_t a = 0; a < n; a++)
				for (size_t b = 0; b < procs[a].n_fds; b++) {
					const struct md_fd *g = &procs[a].fds[b];

					if (g->kind != MD_FD_PIPE || g->pipe_id != f->pipe_id)
						continue;
					if ((g->flags & O_ACCMODE) == O_RDONLY && !rd) {
						rd = g;
						rd_pid = procs[a].pid;
					} else if ((g->flags & O_ACCMODE) == O_WRONLY) {
						wr = g;
						wr_pid = procs[a].pid;
					}
				}
			/*
			 * An end nobody holds is closed, and stays closed after
			 * restore (EOF, EPIPE); one held outside the tree would
			 * be cut off from the restored pipe.
			 */
			other = *holder_of(&h, f->pipe_id);
			if (other) {
				r = log_refuse("fd %d of %d is a pipe also held outside the dumped tree (by "
					       "%d); not supported (dump the tree that holds all its ends)",
					       f->fd, procs[i].pid, other);
				goto fail;
			}
			np_ = realloc(pipes, (np + 1) * sizeof(*pipes));
			if (!np_) {
				r = -ENOMEM;
				goto fail;
			}
			pipes = np_;
			memset(&pipes[np], 0, sizeof(pipes[np]));
			pipes[np].id = f->pipe_id;
			np++;
			if (rd)
				r = peek_pipe(rd_pid, rd->fd, &pipes[np - 1]);
			else
				r = size_pipe(wr_pid, wr->fd, &pipes[np - 1]);
			if (r < 0)
				goto fail;
		}
	}
	holders_release(&h);
	*ret = pipes;
	*ret_n = np;
	return 0;
fail:
	holders_release(&h);
	for (size_t k = 0; k < np; k++)
		md_pipe_release(&pipes[k]);
	free(pipes);
	return r;
}
