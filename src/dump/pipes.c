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
#include "dump/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
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

/*
 * The tree's pipes and FIFOs and, for each, a process outside the tree
 * holding it (0: none). A pipe is its pipefs inode; a FIFO its file's
 * device and inode (two file systems may number alike).
 */
struct holder {
	struct md_fd key;	/* kind, and pipe_id (a pipe) or dev and ino (a FIFO): see same_pipe() */
	pid_t outside;
};

struct holders {
	struct holder *h;
	size_t n;
	bool any_fifo;
};

static bool is_pipe(const struct md_fd *f)
{
	return f->kind == MD_FD_PIPE || f->kind == MD_FD_FIFO;
}

/* whether f and g are on the same pipe or FIFO */
static bool same_pipe(const struct md_fd *f, const struct md_fd *g)
{
	if (f->kind != g->kind)
		return false;
	return f->kind == MD_FD_FIFO ? f->dev == g->dev && f->ino == g->ino : f->pipe_id == g->pipe_id;
}

static struct holder *holder_of(const struct holders *h, const struct md_fd *f)
{
	for (size_t i = 0; i < h->n; i++)
		if (same_pipe(&h->h[i].key, f))
			return &h->h[i];
	return NULL;
}

/* the inode an fd of another process is on, from its fdinfo (which touches no file system) */
static bool fdinfo_ino(pid_t pid, int fd, uint64_t *ret)
{
	char path[64], line[128];
	unsigned long long ino = 0;
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "ino: %llu", &ino) == 1;
	fclose(f);
	*ret = ino;
	return found;
}

/*
 * A FIFO of ours, reached by whatever name (another link, a bind mount,
 * another root): fdinfo's inode first, stat() of the fd only where it
 * matches one (or where fdinfo has none, before 5.14).
 */
static struct holder *fifo_holder(const struct holders *h, pid_t pid, int fd)
{
	struct md_fd probe = { .kind = MD_FD_FIFO };
	char path[64];
	struct stat st;
	uint64_t ino;
	bool maybe = false;

	if (fdinfo_ino(pid, fd, &ino)) {
		for (size_t i = 0; i < h->n && !maybe; i++)
			maybe = h->h[i].key.kind == MD_FD_FIFO && h->h[i].key.ino == ino;
		if (!maybe)
			return NULL;
	}
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	if (stat(path, &st) < 0 || !S_ISFIFO(st.st_mode))
		return NULL;
	probe.dev = st.st_dev;
	probe.ino = st.st_ino;
	return holder_of(h, &probe);
}

static int note_holder(pid_t pid, int fd, const char *link, void *arg)
{
	struct holders *h = arg;
	struct md_fd probe = { .kind = MD_FD_PIPE };
	struct holder *holder = NULL;
	unsigned long long id;

	if (sscanf(link, "pipe:[%llu]", &id) == 1) {
		probe.pipe_id = id;
		holder = holder_of(h, &probe);
	} else if (link[0] == '/' && h->any_fifo) {
		holder = fifo_holder(h, pid, fd);
	}
	if (holder && !holder->outside)
		holder->outside = pid;
	return 0;
}

/* One walk over every fd of every process outside the tree, for all the tree's pipes at once. */
static int find_outside_holders(const struct md_proc *procs, size_t n, struct holders *h)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < procs[i].n_fds; j++) {
			const struct md_fd *f = &procs[i].fds[j];
			struct holder *nh;

			if (!is_pipe(f) || holder_of(h, f))
				continue;
			nh = reallocarray(h->h, h->n + 1, sizeof(*nh));
			if (!nh)
				return -ENOMEM;
			h->h = nh;
			h->h[h->n++] = (struct holder){ .key = { .kind = f->kind, .pipe_id = f->pipe_id, .dev = f->dev,
								 .ino = f->ino } };
			h->any_fifo |= f->kind == MD_FD_FIFO;
		}
	return h->n ? dump_walk_outside_fds(procs, n, note_holder, h) : 0;
}

/*
 * A pipe with no read end in the tree: only its size, the data nobody can
 * read is gone anyway. Not so a FIFO's: its bytes wait for whoever opens it
 * next, and we cannot read them without a reader of our own, whose open
 * would wake a writer waiting for one: refused if there are any.
 */
static int size_pipe(pid_t pid, const struct md_fd *f, struct md_pipe *ret)
{
	_cleanup_close_ int src = md_pidfd_copy_fd(pid, f->fd);
	int size, queued = 0;

	if (src < 0)
		return log_err(src, "cannot get a copy of fd %d of %d", f->fd, pid);
	if (f->kind == MD_FD_FIFO && ioctl(src, FIONREAD, &queued) < 0)
		return log_err(-errno, "cannot size the FIFO of fd %d of %d", f->fd, pid);
	if (queued)
		return log_refuse("fd %d of %d writes to FIFO '%s', which holds %d bytes no process of the tree "
				  "reads: not supported (let a reader take them first)", f->fd, pid, f->path, queued);
	size = fcntl(src, F_GETPIPE_SZ);
	if (size < 0)
		return log_err(-errno, "cannot size the pipe of fd %d of %d", f->fd, pid);
	ret->size = (uint32_t)size;
	ret->data = malloc(1);
	return ret->data ? 0 : -ENOMEM;
}

int dump_pipes(struct md_proc *procs, size_t n, struct md_pipe **ret, size_t *ret_n)
{
	struct md_pipe *pipes = NULL;
	struct holders h = {};
	uint64_t fifo_ids = 0;
	size_t np = 0;
	int r;

	r = find_outside_holders(procs, n, &h);
	if (r < 0) {
		log_err(r, "cannot look for holders of the tree's pipes outside it");
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < procs[i].n_fds; j++) {
			struct md_fd *f = &procs[i].fds[j];
			const struct md_fd *rd = NULL, *wr = NULL;
			bool fifo = f->kind == MD_FD_FIFO;
			pid_t rd_pid = 0, wr_pid = 0, other;
			struct md_pipe *np_;

			/* a FIFO's fds get their id (one per FIFO) here: the first one has none yet */
			if (!is_pipe(f) || (fifo && f->pipe_id))
				continue;
			if (!fifo) {
				bool seen = false;

				for (size_t k = 0; k < np; k++)
					seen = seen || (!pipes[k].fifo && pipes[k].id == f->pipe_id);
				if (seen)
					continue;
			}
			/* an end to read it by, and one that writes (a FIFO's O_RDWR fd is both; O_PATH neither) */
			for (size_t a = 0; a < n; a++)
				for (size_t b = 0; b < procs[a].n_fds; b++) {
					struct md_fd *g = &procs[a].fds[b];
					int acc = (int)g->flags & O_ACCMODE;

					if (!same_pipe(f, g))
						continue;
					if (fifo)
						g->pipe_id = fifo_ids + 1;
					if (g->flags & O_PATH)
						continue;
					if ((acc == O_RDONLY || acc == O_RDWR) && !rd) {
						rd = g;
						rd_pid = procs[a].pid;
					}
					if (acc == O_WRONLY || acc == O_RDWR) {
						wr = g;
						wr_pid = procs[a].pid;
					}
				}
			/*
			 * An end nobody holds is closed, and stays closed after
			 * restore (EOF, EPIPE); one held outside the tree would
			 * be cut off from the restored pipe.
			 */
			other = holder_of(&h, f)->outside;
			if (other && fifo) {
				r = log_refuse("fd %d of %d is FIFO '%s', also open outside the dumped tree (in %d); "
					       "not supported (dump the tree that holds it, or close it there)",
					       f->fd, procs[i].pid, f->path, other);
				goto fail;
			}
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
			pipes[np].id = fifo ? ++fifo_ids : f->pipe_id;
			pipes[np].fifo = fifo;
			np++;
			if (rd)
				r = peek_pipe(rd_pid, rd->fd, &pipes[np - 1]);
			else if (wr)
				r = size_pipe(wr_pid, wr, &pipes[np - 1]);
			else	/* O_PATH fds only: nothing to read or size */
				r = (pipes[np - 1].data = malloc(1)) ? 0 : -ENOMEM;
			if (r < 0)
				goto fail;
		}
	}
	free(h.h);
	*ret = pipes;
	*ret_n = np;
	return 0;
fail:
	free(h.h);
	for (size_t k = 0; k < np; k++)
		md_pipe_release(&pipes[k]);
	free(pipes);
	return r;
}
