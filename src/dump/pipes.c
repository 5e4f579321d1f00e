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

	src = dump_copy_fd(pid, fd);
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
 * device and inode (two file systems may number alike). Every fd on one
 * is a neighbour of the others in refs, which is sorted by pipe and then
 * by place in the tree; h has one holder per pipe, in the same order.
 */
struct pipe_ref {
	struct md_fd *f;
	pid_t pid;
	size_t pos;		/* place in the tree: process by process, fd by fd */
};

struct holder {
	struct md_fd key;	/* kind, and pipe_id (a pipe) or dev and ino (a FIFO): see cmp_pipe() */
	pid_t outside;
	size_t first, n;	/* its fds: refs[first..first + n) */
};

struct holders {
	struct holder *h;
	size_t n;
	struct pipe_ref *refs;
	bool any_fifo;
};

static bool is_pipe(const struct md_fd *f)
{
	return f->kind == MD_FD_PIPE || f->kind == MD_FD_FIFO;
}

#define CMP(x, y) (((x) > (y)) - ((x) < (y)))

/* the order of pipes and FIFOs: 0 for fds on the same one; FIFOs by inode first */
static int cmp_pipe(const struct md_fd *f, const struct md_fd *g)
{
	if (f->kind != g->kind)
		return CMP(f->kind, g->kind);
	if (f->kind == MD_FD_FIFO)
		return f->ino != g->ino ? CMP(f->ino, g->ino) : CMP(f->dev, g->dev);
	return CMP(f->pipe_id, g->pipe_id);
}

static int cmp_ref(const void *a, const void *b)
{
	const struct pipe_ref *x = a, *y = b;
	int c = cmp_pipe(x->f, y->f);

	return c ? c : CMP(x->pos, y->pos);
}

static int cmp_holder(const void *key, const void *elem)
{
	return cmp_pipe(key, &((const struct holder *)elem)->key);
}

/* holders by their first fd's place in the tree */
static int cmp_first(const void *a, const void *b, void *arg)
{
	const struct holders *h = arg;
	const struct holder *x = &h->h[*(const size_t *)a], *y = &h->h[*(const size_t *)b];

	return CMP(h->refs[x->first].pos, h->refs[y->first].pos);
}

static struct holder *holder_of(const struct holders *h, const struct md_fd *f)
{
	return bsearch(f, h->h, h->n, sizeof(*h->h), cmp_holder);
}

/* whether some FIFO of the tree has inode ino, on whatever device */
static int cmp_fifo_ino(const void *key, const void *elem)
{
	const struct md_fd *k = &((const struct holder *)elem)->key;

	return k->kind != MD_FD_FIFO ? CMP(MD_FD_FIFO, k->kind) : CMP(*(const uint64_t *)key, k->ino);
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

	if (fdinfo_ino(pid, fd, &ino) && !bsearch(&ino, h->h, h->n, sizeof(*h->h), cmp_fifo_ino))
		return NULL;
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

/*
 * The tree's pipes, each with its fds; then one walk over every fd of every
 * process outside the tree, for all of them at once.
 */
static int find_holders(struct md_proc *procs, size_t n, struct holders *h)
{
	size_t n_refs = 0, pos = 0;

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < procs[i].n_fds; j++)
			n_refs += is_pipe(&procs[i].fds[j]);
	if (!n_refs)
		return 0;
	h->refs = calloc(n_refs, sizeof(*h->refs));
	h->h = calloc(n_refs, sizeof(*h->h));
	if (!h->refs || !h->h)
		return -ENOMEM;
	n_refs = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < procs[i].n_fds; j++, pos++)
			if (is_pipe(&procs[i].fds[j]))
				h->refs[n_refs++] = (struct pipe_ref){ &procs[i].fds[j], procs[i].pid, pos };
	qsort(h->refs, n_refs, sizeof(*h->refs), cmp_ref);
	for (size_t i = 0; i < n_refs; i++) {
		const struct md_fd *f = h->refs[i].f;

		if (h->n && cmp_pipe(&h->h[h->n - 1].key, f) == 0) {
			h->h[h->n - 1].n++;
			continue;
		}
		h->h[h->n++] = (struct holder){ .key = { .kind = f->kind, .pipe_id = f->pipe_id, .dev = f->dev,
							 .ino = f->ino },
						.first = i, .n = 1 };
		h->any_fifo |= f->kind == MD_FD_FIFO;
	}
	return dump_walk_outside_fds(procs, n, note_holder, h);
}

/*
 * A pipe with no read end in the tree: only its size, the data nobody can
 * read is gone anyway. Not so a FIFO's: its bytes wait for whoever opens it
 * next, and we cannot read them without a reader of our own, whose open
 * would wake a writer waiting for one: refused if there are any.
 */
static int size_pipe(pid_t pid, const struct md_fd *f, struct md_pipe *ret)
{
	_cleanup_close_ int src = dump_copy_fd(pid, f->fd);
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

static void holders_release(struct holders *h)
{
	free(h->h);
	free(h->refs);
}

int dump_pipes(struct md_proc *procs, size_t n, struct md_pipe **ret, size_t *ret_n)
{
	_cleanup_free_ size_t *order = NULL;
	struct md_pipe *pipes = NULL;
	struct holders h = {};
	uint64_t fifo_ids = 0;
	size_t np = 0;
	int r;

	r = find_holders(procs, n, &h);
	if (r < 0) {
		log_err(r, "cannot look for holders of the tree's pipes outside it");
		goto fail;
	}
	/* in the order each first appears in the tree */
	order = calloc(h.n ? h.n : 1, sizeof(*order));
	pipes = calloc(h.n ? h.n : 1, sizeof(*pipes));
	if (!order || !pipes) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t k = 0; k < h.n; k++)
		order[k] = k;
	qsort_r(order, h.n, sizeof(*order), cmp_first, &h);
	for (size_t k = 0; k < h.n; k++) {
		const struct holder *ho = &h.h[order[k]];
		const struct pipe_ref *first = &h.refs[ho->first];
		const struct md_fd *f = first->f, *rd = NULL, *wr = NULL;
		bool fifo = f->kind == MD_FD_FIFO;
		pid_t rd_pid = 0, wr_pid = 0;

		/* an end to read it by, and one that writes (a FIFO's O_RDWR fd is both; O_PATH neither) */
		for (size_t i = ho->first; i < ho->first + ho->n; i++) {
			struct md_fd *g = h.refs[i].f;
			int acc = (int)g->flags & O_ACCMODE;

			/* a FIFO's fds get their id (one per FIFO) here */
			if (fifo)
				g->pipe_id = fifo_ids + 1;
			if (g->flags & O_PATH)
				continue;
			if ((acc == O_RDONLY || acc == O_RDWR) && !rd) {
				rd = g;
				rd_pid = h.refs[i].pid;
			}
			if (acc == O_WRONLY || acc == O_RDWR) {
				wr = g;
				wr_pid = h.refs[i].pid;
			}
		}
		/*
		 * An end nobody holds is closed, and stays closed after
		 * restore (EOF, EPIPE); one held outside the tree would
		 * be cut off from the restored pipe.
		 */
		if (ho->outside && fifo) {
			r = log_refuse("fd %d of %d is FIFO '%s', also open outside the dumped tree (in %d); "
				       "not supported (dump the tree that holds it, or close it there)",
				       f->fd, first->pid, f->path, ho->outside);
			goto fail;
		}
		if (ho->outside) {
			r = log_refuse("fd %d of %d is a pipe also held outside the dumped tree (by "
				       "%d); not supported (dump the tree that holds all its ends)",
				       f->fd, first->pid, ho->outside);
			goto fail;
		}
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
