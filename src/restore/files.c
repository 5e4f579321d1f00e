/*
 * Files for the restored tree. memdump opens every open file description
 * of the image once, in its own process, before any process exists:
 * regular files, directories and devices by path, memfds and shared
 * anonymous objects made and filled here, pipes made and refilled here,
 * eventfds, signalfds and timerfds made here with the state they had,
 * epoll instances made here empty, sockets made, bound and refilled here
 * (sockets.c), inotify instances with their watches (inotify.c), files
 * deleted while open or mapped made again and deleted (ghost.c), POSIX
 * message queues by name in the tree's IPC namespace. Only
 * pidfds wait for the tree: restore_open_pidfds() opens them once its
 * processes exist.
 * A process gets its fds through a unix socket (SCM_RIGHTS), up to 253 at
 * a time, by remote recvmsg()s that put each at its own number: fds that
 * shared a description at dump time, in one process or across the tree,
 * share the same one again.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "compat/fs.h"
#include "compat/mman.h"
#include "compat/pidfd.h"
#include "compat/timerfd.h"
#include "memdump/cleanup.h"
#include "memdump/image.h"
#include "memdump/log.h"
#include "restore/internal.h"

#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_SEAL_SEAL 0x0001
#endif

/* scratch layout for a recvmsg(): msghdr, iovec, one data byte, control */
#define SCRATCH_MSG 8192
#define FD_BATCH 253		/* SCM_MAX_FD: fds one message carries */
#define SCRATCH_PATH 12288	/* PATH_MAX bytes for chdir() */


static bool shm_is_memfd(const struct restore_ctx *rc, uint64_t id)
{
	for (size_t k = 0; k < rc->n; k++) {
		const struct md_proc *p = &rc->procs[k].p;

		for (size_t i = 0; i < p->n_vmas; i++)
			if (p->vmas[i].kind == MD_VMA_MEMFD && p->vmas[i].shm_id == id)
				return true;
		for (size_t i = 0; i < p->n_fds; i++)
			if (p->fds[i].kind == MD_FD_MEMFD && p->fds[i].shm_id == id)
				return true;
	}
	return false;
}

static int pwrite_all(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int restore_fill_file(const struct md_pagemap *pm, struct image_pages *pages, int fd, uint64_t size)
{
	_cleanup_free_ uint8_t *buf = malloc(MD_PAGES_CHUNK);
	struct image_pages_cursor *c = NULL;
	uint64_t data_off = 0;
	int r = 0;

	if (!buf || image_pages_cursor_new(&c) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < pm->n && r >= 0; i++) {
		const struct md_pagemap_entry *e = &pm->entries[i];
		uint64_t left = e->nr_pages * MD_PAGE_SIZE, dst = e->vaddr;

		if (!(e->flags & MD_PM_DATA))
			continue;
		while (left && r >= 0) {
			size_t chunk = left < MD_PAGES_CHUNK ? left : MD_PAGES_CHUNK;
			size_t len = dst >= size ? 0 : size - dst < chunk ? size - dst : chunk;

			r = image_pages_read(pages, c, data_off, buf, chunk);
			if (r >= 0)
				r = pwrite_all(fd, buf, len, dst);
			left -= chunk;
			dst += chunk;
			data_off += chunk;
		}
	}
	image_pages_cursor_free(c);
	return r;
}

static int make_memfd(const struct restore_shm *s)
{
	unsigned flags = MFD_CLOEXEC;
	int fd, r;

	if (s->shm.seals & ~F_SEAL_SEAL || !(s->shm.seals & F_SEAL_SEAL))
		flags |= MFD_ALLOW_SEALING;
	fd = (int)syscall(SYS_memfd_create, s->shm.name ? s->shm.name : "", flags);
	if (fd < 0)
		return -errno;
	/* the fill stops at the size; a hole at the end is the size's to make */
	r = restore_fill_file(&s->pm, s->pages, fd, s->shm.size);
	if (!r && ftruncate(fd, (off_t)s->shm.size) < 0)
		r = -errno;
	/*
	 * Seals go on once the content is in. A write seal would refuse a
	 * writable shared mapping, but the dumped process could not have had
	 * one either, and read-only ones are still allowed.
	 */
	if (!r && flags & MFD_ALLOW_SEALING && s->shm.seals && fcntl(fd, F_ADD_SEALS, (int)s->shm.seals) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

/*
 * Shared anonymous memory is a shmem file the kernel makes for
 * mmap(MAP_SHARED | MAP_ANONYMOUS): make one here, fill it and keep it
 * open through /proc/self/map_files; processes then map that file, and
 * their maps show "/dev/zero (deleted)" as before.
 */
static int make_shared_anon(const struct restore_shm *s)
{
	uint64_t size = md_page_round_up(s->shm.size);
	char path[64];
	void *m;
	int fd, r;

	if (!size)
		size = MD_PAGE_SIZE;
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return -errno;
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)m,
		 (unsigned long)m + (unsigned long)size);
	fd = open(path, O_RDWR | O_CLOEXEC);
	r = fd < 0 ? -errno : restore_fill_file(&s->pm, s->pages, fd, s->shm.size);
	munmap(m, size);
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	return fd;
}

/* one more in *files (rc->files or rc->map_files) */
static struct restore_file *add_file(struct restore_file **files, size_t *n)
{
	struct restore_file *f = reallocarray(*files, *n + 1, sizeof(*f));

	if (!f)
		return NULL;
	*files = f;
	f = &f[(*n)++];
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	return f;
}

static int cmp_ofd(const void *a, const void *b)
{
	const struct restore_ofd *x = a, *y = b;

	return (x->ofd > y->ofd) - (x->ofd < y->ofd);
}

static int cmp_ofd_pos(const void *a, const void *b)
{
	const struct restore_ofd *x = a, *y = b;
	int c = cmp_ofd(a, b);

	return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

int restore_index_ofds(struct restore_ctx *rc)
{
	size_t n = 0, k = 0, pos = 0;

	free(rc->ofds);
	rc->n_ofds = 0;
	for (size_t i = 0; i < rc->n; i++)
		n += rc->procs[i].p.n_fds;
	rc->ofds = calloc(n ? n : 1, sizeof(*rc->ofds));
	if (!rc->ofds)
		return -ENOMEM;
	for (size_t i = 0; i < rc->n; i++)
		for (size_t j = 0; j < rc->procs[i].p.n_fds; j++, pos++) {
			const struct md_fd *f = &rc->procs[i].p.fds[j];

			if (f->ofd)
				rc->ofds[k++] = (struct restore_ofd){ .ofd = f->ofd, .first = f, .pos = pos,
								      .file = -1 };
		}
	qsort(rc->ofds, k, sizeof(*rc->ofds), cmp_ofd_pos);
	for (size_t i = 0; i < k; i++)
		if (!rc->n_ofds || rc->ofds[rc->n_ofds - 1].ofd != rc->ofds[i].ofd)
			rc->ofds[rc->n_ofds++] = rc->ofds[i];
	return 0;
}

struct restore_ofd *restore_find_ofd(const struct restore_ctx *rc, uint64_t ofd)
{
	struct restore_ofd key = { .ofd = ofd };

	return rc->n_ofds ? bsearch(&key, rc->ofds, rc->n_ofds, sizeof(key), cmp_ofd) : NULL;
}

static struct restore_file *find_ofd(struct restore_ctx *rc, uint64_t ofd)
{
	const struct restore_ofd *o = ofd ? restore_find_ofd(rc, ofd) : NULL;

	return o && o->file >= 0 ? &rc->files[o->file] : NULL;
}

int restore_ofd_fd(struct restore_ctx *rc, uint64_t ofd)
{
	const struct restore_file *f = find_ofd(rc, ofd);

	return f ? f->fd : -1;
}

const struct restore_shm *restore_find_shm(const struct restore_ctx *rc, bool sysv, uint64_t id)
{
	for (size_t i = 0; i < rc->n_shms; i++)
		if (rc->shms[i].shm.id == id && rc->shms[i].shm.sysv == sysv)
			return &rc->shms[i];
	return NULL;
}

static int shm_fd(const struct restore_ctx *rc, uint64_t id)
{
	const struct restore_shm *s = restore_find_shm(rc, false, id);

	if (s)
		return s->fd;
	return -1;
}

int restore_open_flags(const struct md_fd *f, bool via_link)
{
	int flags = (int)f->flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_CLOEXEC);

	return (via_link ? flags & ~O_NOFOLLOW : flags) | O_CLOEXEC | O_NOCTTY;
}

static int open_at_pos(const char *path, const struct md_fd *f, bool via_link)
{
	int fd = open(path, restore_open_flags(f, via_link));

	if (fd < 0)
		return -errno;
	if ((f->kind == MD_FD_REG || f->kind == MD_FD_MEMFD) && lseek(fd, (off_t)f->pos, SEEK_SET) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

int restore_set_fl(int fd, const struct md_fd *f)
{
	if (fcntl(fd, F_SETFL, (int)f->flags & RESTORE_SETFL_MASK) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* one end of a pipe: the end we made first, another description of it after that */
int restore_reopen(int fd, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, flags | O_CLOEXEC);
}

int restore_find_pipe(const struct restore_ctx *rc, const struct md_fd *f)
{
	return md_pipes_find(rc->pipes, rc->n_pipes, f->kind == MD_FD_FIFO, f->pipe_id);
}

/* whether the image's fds on f's FIFO include a writer, or it has bytes: then restore opens it O_RDWR too */
static bool fifo_needs_keeper(const struct restore_ctx *rc, const struct md_fd *f, const struct md_pipe *p)
{
	if (p->len)
		return true;
	for (size_t k = 0; k < rc->n; k++)
		for (size_t i = 0; i < rc->procs[k].p.n_fds; i++) {
			const struct md_fd *g = &rc->procs[k].p.fds[i];
			int acc = (int)g->flags & O_ACCMODE;

			if (g->kind == MD_FD_FIFO && g->pipe_id == f->pipe_id && !(g->flags & O_PATH) &&
			    (acc == O_WRONLY || acc == O_RDWR))
				return true;
		}
	return false;
}

/* path opened as the FIFO it must be: looked at (O_PATH) before it is opened, non-blocking, with flags */
static int open_fifo_path(const char *path, int flags, struct stat *st)
{
	int fd = open(path, O_PATH | O_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0 || !S_ISFIFO(st->st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if (flags & O_PATH)
		return fd;
	r = restore_reopen(fd, (flags & O_ACCMODE) | O_NONBLOCK | O_NOCTTY);
	if (r < 0)
		r = -errno;
	close(fd);
	return r;
}

/*
 * A FIFO's fd, opened by its path as it was. Where the tree writes to it
 * or it has bytes, its first fd has us open it O_RDWR (which never blocks)
 * first, put the bytes back and keep a reader and a writer on it while the
 * tree's fds are opened: a reader or a writer alone would wait for the
 * other, or fail. Where it only has readers, they open it alone, as the
 * dumped ones had (no writer yet: no POLLHUP). Every fd must reach the
 * same FIFO; one that holds bytes already is somebody else's too. Our
 * O_RDWR one goes once all the tree's files are open (restore_open_files()).
 * Processes blocked in open() on it (outside the tree) are woken, as by
 * any reader and writer.
 */
static int open_fifo(struct restore_ctx *rc, const struct md_fd *f)
{
	int i = restore_find_pipe(rc, f), *keep, *anchor, fd, queued = 0, r;
	const struct md_pipe *p;
	struct stat st, first;

	if (i < 0)
		return -ENOENT;
	p = &rc->pipes[i];
	keep = &rc->pipe_fds[2 * i];
	anchor = &rc->pipe_fds[2 * i + 1];
	if (*anchor < 0) {
		*anchor = open_fifo_path(f->path, O_PATH, &st);
		if (*anchor < 0)
			return log_err(*anchor, *anchor == -EINVAL ? "'%s' is no FIFO any more" : "cannot open FIFO '%s'",
				       f->path);
		if (fifo_needs_keeper(rc, f, p)) {
			*keep = open_fifo_path(f->path, O_RDWR, &st);
			if (*keep < 0)
				return log_err(*keep, "cannot open FIFO '%s'", f->path);
			if (ioctl(*keep, FIONREAD, &queued) < 0 || queued)
				return log_err(-EBUSY, "FIFO '%s' holds %d bytes already: somebody else uses it", f->path,
					       queued);
			if (p->size && fcntl(*keep, F_SETPIPE_SZ, (int)p->size) < 0)
				return log_err(-errno, "cannot give FIFO '%s' %u bytes", f->path, p->size);
			if (p->len && write(*keep, p->data, p->len) != (ssize_t)p->len)
				return log_err(-EIO, "cannot refill FIFO '%s' with its %zu bytes", f->path, p->len);
		}
	}
	if (fstat(*anchor, &first) < 0)
		return -errno;
	fd = open_fifo_path(f->path, (int)f->flags, &st);
	if (fd < 0)
		return log_err(fd, "cannot open FIFO '%s'", f->path);
	r = st.st_dev != first.st_dev || st.st_ino != first.st_ino ? -EXDEV : 0;
	if (r < 0)
		log_err(r, "'%s' leads to another FIFO than before", f->path);
	if (r >= 0 && *keep < 0 && !(f->flags & O_PATH) && (ioctl(fd, FIONREAD, &queued) < 0 || queued))
		r = log_err(-EBUSY, "FIFO '%s' holds %d bytes already: somebody else uses it", f->path, queued);
	if (r >= 0 && !(f->flags & O_PATH) && fcntl(fd, F_SETFL, (int)f->flags & RESTORE_SETFL_MASK) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

/* our own opens of the FIFOs: the tree's fds (and our copies of them) hold them now */
static void close_fifo_keepers(struct restore_ctx *rc)
{
	for (size_t i = 0; i < rc->n_pipes; i++)
		if (rc->pipes[i].fifo)
			for (int e = 0; e < 2; e++)
				if (rc->pipe_fds[2 * i + e] >= 0) {
					close(rc->pipe_fds[2 * i + e]);
					rc->pipe_fds[2 * i + e] = -1;
				}
}

/*
 * An fd on a pipe: the end pipe2() made for its direction, or a new open of
 * the pipe through /proc/self/fd once that end is taken. An O_RDWR one (the
 * process opened /proc/PID/fd/N so) is always such a new open, of both ends.
 */
static int open_pipe_end(struct restore_ctx *rc, const struct md_fd *f)
{
	int acc = (int)f->flags & O_ACCMODE;
	bool rd = acc == O_RDONLY;
	int i = restore_find_pipe(rc, f), *end, fd;

	if (i < 0)
		return -ENOENT;
	end = &rc->pipe_fds[2 * i + (rd ? 0 : 1)];
	if (*end >= 0 && acc != O_RDWR) {
		fd = *end;
		*end = -2;	/* taken: it is in rc->files now */
	} else {
		/* a description of ours on this pipe, either end */
		int other = *end >= 0 ? *end : rc->pipe_file[i] >= 0 ? rc->files[rc->pipe_file[i]].fd : -1;

		if (other < 0)
			return -ENOENT;
		fd = restore_reopen(other, acc == O_RDWR ? O_RDWR : rd ? O_RDONLY : O_WRONLY);
		if (fd < 0)
			return -errno;
	}
	return restore_set_fl(fd, f);
}

static int make_pipes(struct restore_ctx *rc)
{
	rc->pipe_fds = malloc((2 * rc->n_pipes + 1) * sizeof(int));
	rc->pipe_file = malloc((rc->n_pipes + 1) * sizeof(int));
	if (!rc->pipe_fds || !rc->pipe_file)
		return -ENOMEM;
	for (size_t i = 0; i < 2 * rc->n_pipes; i++)
		rc->pipe_fds[i] = -1;
	for (size_t i = 0; i < rc->n_pipes; i++)
		rc->pipe_file[i] = -1;
	for (size_t i = 0; i < rc->n_pipes; i++) {
		const struct md_pipe *p = &rc->pipes[i];
		int fds[2];
		ssize_t n;

		/* open_fifo() opens it by its path */
		if (p->fifo)
			continue;
		if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
			return log_err(-errno, "cannot make a pipe");
		rc->pipe_fds[2 * i] = fds[0];
		rc->pipe_fds[2 * i + 1] = fds[1];
		if (p->size && fcntl(fds[1], F_SETPIPE_SZ, (int)p->size) < 0)
			return log_err(-errno, "cannot give a pipe %u bytes", p->size);
		n = p->len ? write(fds[1], p->data, p->len) : 0;
		if (n != (ssize_t)p->len)
			return log_err(n < 0 ? -errno : -EIO, "cannot refill a pipe with its %zu bytes", p->len);
		if (fcntl(fds[0], F_SETFL, 0) < 0 || fcntl(fds[1], F_SETFL, 0) < 0)
			return -errno;
	}
	return 0;
}

/*
 * A timerfd as it was: the same clock, armed with the time that was left
 * (counted from now: the process did not run meanwhile), or for an
 * absolute CLOCK_REALTIME timer at the same wall-clock time, and the
 * expirations nobody had read yet.
 */
static int make_timerfd(const struct restore_ctx *rc, const struct md_fd *f)
{
	struct itimerspec it = { md_ns_timespec(f->timer.interval_ns), md_ns_timespec(f->timer.value_ns) };
	uint64_t value = f->timer.value_ns;
	int flags = 0, fd, r = 0;

	/*
	 * A periodic timer that expired with nobody reading it stops until
	 * read (fdinfo shows no time left): it goes on a period from now. One
	 * that shows no time left and no expiration was due as the tree froze,
	 * before the kernel counted it: it expires at once.
	 */
	if (!value && f->timer.interval_ns) {
		value = f->count ? f->timer.interval_ns : 1;
		it.it_value = md_ns_timespec(value);
	}

	fd = timerfd_create(f->timer.clockid, TFD_CLOEXEC | (f->flags & O_NONBLOCK ? TFD_NONBLOCK : 0));
	if (fd < 0)
		return -errno;
	if (value && f->timer.settime_flags & TFD_TIMER_ABSTIME &&
	    (f->timer.clockid == CLOCK_REALTIME || f->timer.clockid == CLOCK_REALTIME_ALARM)) {
		it.it_value = md_ns_timespec(rc->inv.dump_time_ns + value);
		flags = f->timer.settime_flags & (TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET);
	}
	if (value && timerfd_settime(fd, flags, &it, NULL) < 0)
		r = -errno;
	if (!r && f->count && ioctl(fd, TFD_IOC_SET_TICKS, &f->count) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

/* eventfds and signalfds hold their state in themselves: made again here */
static int make_anon_fd(const struct restore_ctx *rc, const struct md_fd *f)
{
	int nonblock = f->flags & O_NONBLOCK, fd;

	switch (f->kind) {
	case MD_FD_EVENTFD:
		/* eventfd() takes an int to start with: the counter goes in by write() */
		fd = eventfd(0, EFD_CLOEXEC | (nonblock ? EFD_NONBLOCK : 0) | (f->semaphore ? EFD_SEMAPHORE : 0));
		if (fd >= 0 && f->count && write(fd, &f->count, sizeof(f->count)) != sizeof(f->count)) {
			close(fd);
			return -EIO;
		}
		return fd < 0 ? -errno : fd;
	case MD_FD_SIGNALFD: {
		sigset_t set;

		sigemptyset(&set);
		for (int sig = 1; sig <= 64; sig++)
			if (f->sigmask & 1ULL << (sig - 1))
				sigaddset(&set, sig);
		fd = signalfd(-1, &set, SFD_CLOEXEC | (nonblock ? SFD_NONBLOCK : 0));
		return fd < 0 ? -errno : fd;
	}
	default:
		return make_timerfd(rc, f);
	}
}

/* our fd, on the image's description of f, for the processes to get */
static int keep_file(struct restore_ctx *rc, const struct md_fd *f, int fd)
{
	struct restore_file *rf = add_file(&rc->files, &rc->n_files);

	if (!rf) {
		close(fd);
		return -ENOMEM;
	}
	rf->ofd = f->ofd;
	rf->fd = fd;
	restore_find_ofd(rc, f->ofd)->file = (int)(rf - rc->files);
	return 0;
}

static int open_fd_file(struct restore_ctx *rc, const struct md_fd *f)
{
	char path[64];
	int fd, r;

	if (find_ofd(rc, f->ofd))
		return 0;
	switch (f->kind) {
	case MD_FD_MEMFD:
		/* a new open file description of the object, with this fd's own flags */
		fd = shm_fd(rc, f->shm_id);
		if (fd < 0)
			return -ENOENT;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		fd = open_at_pos(path, f, true);
		break;
	case MD_FD_PIPE:
		fd = open_pipe_end(rc, f);
		break;
	case MD_FD_FIFO:
		fd = open_fifo(rc, f);
		break;
	case MD_FD_EVENTFD:
	case MD_FD_SIGNALFD:
	case MD_FD_TIMERFD:
		fd = make_anon_fd(rc, f);
		break;
	case MD_FD_EPOLL:
		/* empty: its items go in from the processes (epoll.c) */
		fd = epoll_create1(EPOLL_CLOEXEC);
		fd = fd < 0 ? -errno : restore_set_fl(fd, f);
		break;
	case MD_FD_UNIX_SOCKET:
	case MD_FD_INET_SOCKET:
	case MD_FD_NETLINK_SOCKET:
		fd = restore_open_socket(rc, f);
		break;
	case MD_FD_INOTIFY:
		fd = restore_make_inotify(f);
		break;
	case MD_FD_PTY_MASTER:
	case MD_FD_PTY_SLAVE:
		fd = restore_pty_open(rc, f);
		break;
	case MD_FD_PIDFD:
		/* restore_open_pidfds(), once the tree exists */
		return 0;
	case MD_FD_MQUEUE:
		/* by name, in memdump's IPC namespace: the tree's (restore_ipcns() made it, with its queues) */
		fd = mq_open(f->path, (int)(f->flags & (O_ACCMODE | O_NONBLOCK)));
		fd = fd < 0 ? -errno : fd;
		break;
	default:
		if (f->ctty) {
			fd = restore_tty_open(rc, f);
			break;
		}
		if (!f->ghost) {
			fd = open_at_pos(f->path, f, false);
			break;
		}
		/* a new open file description of the deleted file, made again */
		fd = restore_ghost_fd(rc, f->ghost->id, false);
		if (fd < 0)
			return -ENOENT;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		fd = open_at_pos(path, f, true);
		break;
	}
	if (fd < 0)
		return fd;
	r = keep_file(rc, f, fd);
	if (r < 0)
		return r;
	/* for another description of the pipe */
	if (f->kind == MD_FD_PIPE) {
		int i = restore_find_pipe(rc, f);

		if (i >= 0 && rc->pipe_file[i] < 0)
			rc->pipe_file[i] = (int)(rc->n_files - 1);
	}
	return 0;
}

/* a pidfd on a process gone, for sorting: one process's descriptions next to each other */
struct gone_ref {
	const struct md_fd *f;
	pid_t holder;
};

/* by process (pidfd_gone; 0: each description a process of its own), then description */
static int cmp_gone(const void *a, const void *b)
{
	const struct md_fd *x = ((const struct gone_ref *)a)->f, *y = ((const struct gone_ref *)b)->f;

	if (x->pidfd_gone != y->pidfd_gone)
		return x->pidfd_gone < y->pidfd_gone ? -1 : 1;
	return (x->ofd > y->ofd) - (x->ofd < y->ofd);
}

/*
 * The n descriptions of g, pidfds on one process gone: on a child of ours
 * that ends as that process did, then reaped. Their signals fail with
 * ESRCH and they poll readable, as long as its struct pid is of the
 * caller's PID namespace or one below: the tree's, which memdump's
 * children are in while it is pid_for_children.
 */
static int open_gone(struct restore_ctx *rc, const struct gone_ref *g, size_t n, int *fds)
{
	int status = -1, r;

	/* image_check_pidfds(): those that know its status agree */
	for (size_t j = 0; j < n && status < 0; j++)
		status = g[j].f->pidfd_exit_known ? g[j].f->pidfd_exit : -1;
	r = restore_gone_pidfds(fds, n, status);
	if (r < 0)
		return log_err(r, "cannot make a pidfd of a process gone for fd %d of %d", g[0].f->fd, g[0].holder);
	/* each closed where it fails, and all after it */
	for (size_t j = 0; j < n; j++) {
		int fd = r < 0 ? -1 : restore_set_fl(fds[j], g[j].f);

		if (r < 0)
			close(fds[j]);
		else
			r = fd < 0 ? fd : keep_file(rc, g[j].f, fd);
	}
	return r < 0 ? log_err(r, "cannot set up a pidfd of a process gone for fd %d of %d", g[0].f->fd, g[0].holder)
		     : 0;
}

/* every pidfd on a process gone, each description once, one child per process */
static int open_gone_pidfds(struct restore_ctx *rc)
{
	_cleanup_free_ struct gone_ref *refs = NULL;
	_cleanup_free_ int *fds = NULL;
	size_t n = 0, total = 0;
	int r = 0;

	for (size_t k = 0; k < rc->n; k++)
		total += rc->procs[k].p.n_fds;
	refs = calloc(total ? total : 1, sizeof(*refs));
	fds = calloc(total ? total : 1, sizeof(*fds));
	if (!refs || !fds)
		return -ENOMEM;
	for (size_t k = 0; k < rc->n; k++)
		for (size_t i = 0; i < rc->procs[k].p.n_fds; i++) {
			const struct md_fd *f = &rc->procs[k].p.fds[i];

			if (f->kind == MD_FD_PIDFD && !f->pidfd_pid && !find_ofd(rc, f->ofd))
				refs[n++] = (struct gone_ref){ f, rc->procs[k].p.pid };
		}
	if (n)
		qsort(refs, n, sizeof(*refs), cmp_gone);
	for (size_t i = 0, end; i < n && r >= 0; i = end) {
		size_t m = 0;

		/* one process: one pidfd_gone, or one description (fds of one are neighbours) */
		for (end = i; end < n; end++) {
			uint64_t gone = refs[i].f->pidfd_gone;
			bool dup = end > i && refs[end].f->ofd == refs[end - 1].f->ofd;

			if (end > i && !dup && !(gone && refs[end].f->pidfd_gone == gone))
				break;
			if (!dup)
				refs[i + m++] = refs[end];
		}
		r = open_gone(rc, &refs[i], m, fds);
	}
	return r;
}

/* a pidfd on the process of the tree f names */
static int open_pidfd(struct restore_ctx *rc, const struct md_proc *p, const struct md_fd *f)
{
	const struct restore_proc *target = restore_find_proc(rc, f->pidfd_pid);
	int fd;

	/* image_check_pidfds() saw to it */
	if (!target || !target->pid)
		return log_err(-ESRCH, "fd %d of %d: no process %d for its pidfd", f->fd, p->pid, f->pidfd_pid);
	/* O_NONBLOCK by F_SETFL, as PIDFD_NONBLOCK would (5.10 on), with the other status flags */
	fd = md_pidfd_open(target->pid);
	fd = fd < 0 ? -errno : restore_set_fl(fd, f);
	if (fd < 0)
		return log_err(fd, "cannot open a pidfd of %d for fd %d of %d", target->pid, f->fd, p->pid);
	return keep_file(rc, f, fd);
}

/* memdump's children from now on in the tree's PID namespace; *own: the way back */
static int enter_tree_pidns(const struct restore_ctx *rc, int *own)
{
	char path[64];
	_cleanup_close_ int tree = -1;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", rc->procs[0].pid);
	*own = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	tree = open(path, O_RDONLY | O_CLOEXEC);
	if (*own < 0 || tree < 0 || setns(tree, CLONE_NEWPID) < 0)
		return log_err(-errno, "cannot enter the PID namespace of the tree (%s)", path);
	return 0;
}

int restore_open_pidfds(struct restore_ctx *rc)
{
	_cleanup_close_ int own = -1;
	bool gone = false;
	int r = 0;

	for (size_t k = 0; k < rc->n && r >= 0; k++) {
		const struct md_proc *p = &rc->procs[k].p;

		for (size_t i = 0; i < p->n_fds && r >= 0; i++) {
			const struct md_fd *f = &p->fds[i];

			gone = gone || (f->kind == MD_FD_PIDFD && !f->pidfd_pid);
			if (f->kind == MD_FD_PIDFD && f->pidfd_pid && !find_ofd(rc, f->ofd))
				r = open_pidfd(rc, p, f);
		}
	}
	if (r < 0 || !gone)
		return r;
	if (rc->inv.pid_ns)
		r = enter_tree_pidns(rc, &own);
	if (r >= 0)
		r = open_gone_pidfds(rc);
	if (own >= 0 && setns(own, CLONE_NEWPID) < 0)
		return log_err(-errno, "cannot return to memdump's PID namespace");
	return r;
}

/* the description we opened for mapping path with flags, or NULL */
static struct restore_file *find_map_file(struct restore_ctx *rc, const char *path, int flags)
{
	for (size_t i = 0; i < rc->n_map_files; i++)
		if (rc->map_files[i].flags == flags && !strcmp(rc->map_files[i].path, path))
			return &rc->map_files[i];
	return NULL;
}

/* a file to map, or an exe: one description per path and access mode serves them all */
static int open_map_file(struct restore_ctx *rc, const char *path, int flags)
{
	struct restore_file *rf;
	int fd;

	if (find_map_file(rc, path, flags))
		return 0;
	fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rf = add_file(&rc->map_files, &rc->n_map_files);
	if (!rf) {
		close(fd);
		return -ENOMEM;
	}
	rf->path = path;
	rf->flags = flags;
	rf->fd = fd;
	return 0;
}

static int vma_open_flags(const struct md_vma *v)
{
	return v->shared && (v->vmflags & MD_VMF_MW) ? O_RDWR : O_RDONLY;
}

int restore_vma_file(struct restore_ctx *rc, const struct md_vma *v)
{
	if (v->kind == MD_VMA_MEMFD || v->kind == MD_VMA_SHMEM)
		return shm_fd(rc, v->shm_id);
	const struct restore_file *rf;

	if (v->kind != MD_VMA_FILE)
		return -1;
	if (v->ghost)
		return restore_ghost_fd(rc, v->ghost, vma_open_flags(v) == O_RDWR);
	rf = find_map_file(rc, v->path, vma_open_flags(v));
	return rf ? rf->fd : -1;
}

int restore_open_files(struct restore_ctx *rc)
{
	int r;

	for (size_t i = 0; i < rc->n_shms; i++) {
		struct restore_shm *s = &rc->shms[i];

		if (s->shm.sysv) {
			r = restore_make_sysv(s);
			if (r < 0)
				return r;
			continue;
		}
		s->fd = shm_is_memfd(rc, s->shm.id) ? make_memfd(s) : make_shared_anon(s);
		if (s->fd < 0) {
			r = s->fd;
			s->fd = -1;
			return log_err(r, "cannot recreate the %s %llu", s->shm.name ? "memfd" : "shared memory object",
				       (unsigned long long)s->shm.id);
		}
	}
	r = make_pipes(rc);
	if (r < 0)
		return r;
	r = restore_open_ptys(rc);
	if (r < 0)
		return r;
	r = restore_make_ghosts(rc);
	if (r < 0)
		return r;
	for (size_t k = 0; k < rc->n; k++) {
		const struct md_proc *p = &rc->procs[k].p;

		for (size_t i = 0; i < p->n_fds; i++) {
			r = open_fd_file(rc, &p->fds[i]);
			if (r < 0)
				return log_err(r, "cannot reopen fd %d of %d ('%s')", p->fds[i].fd, p->pid,
					       p->fds[i].path ? p->fds[i].path : "");
		}
		for (size_t i = 0; i < p->n_vmas; i++) {
			const struct md_vma *v = &p->vmas[i];

			if (v->kind != MD_VMA_FILE)
				continue;
			if (v->ghost) {
				r = vma_open_flags(v) == O_RDWR ? restore_ghost_open_rw(rc, v->ghost) : 0;
				if (r < 0)
					return r;
				continue;
			}
			r = open_map_file(rc, v->path, vma_open_flags(v));
			if (r < 0)
				return log_err(r, "cannot open '%s' to map it at %#llx in %d", v->path,
					       (unsigned long long)v->start, p->pid);
		}
		if (p->exe && !p->exe_ghost) {
			r = open_map_file(rc, p->exe, O_RDONLY);
			if (r < 0)
				return log_err(r, "cannot open the executable '%s' of %d", p->exe, p->pid);
		}
	}
	close_fifo_keepers(rc);
	return restore_ptys_lock(rc);
}

void restore_close_files(struct restore_ctx *rc)
{
	restore_close_ptys(rc);
	for (size_t i = 0; i < rc->n_files; i++)
		if (rc->files[i].fd >= 0)
			close(rc->files[i].fd);
	free(rc->files);
	rc->files = NULL;
	rc->n_files = 0;
	for (size_t i = 0; i < rc->n_ofds; i++)
		rc->ofds[i].file = -1;
	for (size_t i = 0; i < rc->n_map_files; i++)
		close(rc->map_files[i].fd);
	free(rc->map_files);
	rc->map_files = NULL;
	rc->n_map_files = 0;
	for (size_t i = 0; rc->pipe_fds && i < 2 * rc->n_pipes; i++)
		if (rc->pipe_fds[i] >= 0)
			close(rc->pipe_fds[i]);
	free(rc->pipe_fds);
	rc->pipe_fds = NULL;
	free(rc->pipe_file);
	rc->pipe_file = NULL;
	restore_close_sockets(rc);
	restore_ghosts_close(rc);
	for (size_t i = 0; i < rc->n_shms; i++)
		if (rc->shms[i].fd >= 0) {
			close(rc->shms[i].fd);
			rc->shms[i].fd = -1;
		}
}

int restore_put_string(struct restore_proc *rp, uint64_t off, const char *s)
{
	size_t len = strlen(s) + 1;

	if (off + len > RESTORE_SCRATCH_SIZE)
		return -ENAMETOOLONG;
	return inject_write_mem(rp->pid, rp->scratch + off, s, len);
}

/*
 * Give rp our fds ours[0..n) in one datagram (n <= SCM_MAX_FD): a remote
 * recvmsg() puts each at the lowest number free there, in turn, close on
 * exec or not; got[i] is where ours[i] went.
 */
static int send_fds(struct restore_ctx *rc, struct restore_proc *rp, const int *ours, size_t n, bool cloexec,
		    int *got)
{
	union {
		char buf[CMSG_SPACE(FD_BATCH * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct {
		struct msghdr mh;
		struct iovec iov;
		char byte;
	} remote;
	uint64_t base = rp->scratch + SCRATCH_MSG, ctl_at = base + 128;
	size_t len = n * sizeof(int);
	struct iovec iov = { "", 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = CMSG_SPACE(len) };
	struct cmsghdr *cm;
	int64_t res;
	int r;

	if (n == 0 || n > FD_BATCH)
		return -EINVAL;
	memset(&ctl, 0, sizeof(ctl));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(cm), ours, len);
	if (sendmsg(rc->sock, &mh, MSG_NOSIGNAL) != 1)
		return log_err(-errno, "cannot send fds to %d", rp->pid);

	/* the same message as the target sees it, pointing into its scratch area */
	memset(&remote, 0, sizeof(remote));
	remote.iov.iov_base = (void *)(uintptr_t)(base + offsetof(typeof(remote), byte));
	remote.iov.iov_len = 1;
	remote.mh.msg_iov = (void *)(uintptr_t)(base + offsetof(typeof(remote), iov));
	remote.mh.msg_iovlen = 1;
	remote.mh.msg_control = (void *)(uintptr_t)ctl_at;
	remote.mh.msg_controllen = CMSG_SPACE(len);
	memset(&ctl, 0, sizeof(ctl));
	r = inject_write_mem(rp->pid, base, &remote, sizeof(remote));
	if (r >= 0)
		r = inject_write_mem(rp->pid, ctl_at, &ctl, CMSG_SPACE(len));
	if (r < 0)
		return log_err(r, "cannot write to %d", rp->pid);
	r = restore_rcall(rp, "recvmsg", SYS_recvmsg, (uint64_t)rc->sock_remote, base, cloexec ? MSG_CMSG_CLOEXEC : 0,
			  0, 0, 0, &res);
	if (r < 0)
		return r;
	if (res != 1)
		return log_err(res < 0 ? (int)res : -EIO, "%d could not receive fds", rp->pid);
	r = inject_read_mem(rp->pid, ctl_at, &ctl, CMSG_SPACE(len));
	if (r < 0)
		return log_err(r, "cannot read from %d", rp->pid);
	/* fewer than sent (its fd limit, a security module): the rest are dropped with the message */
	cm = (struct cmsghdr *)ctl.buf;
	if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(len))
		return log_err(-EIO, "%d did not receive all of %zu fd(s)", rp->pid, n);
	memcpy(got, CMSG_DATA(cm), len);
	return 0;
}

int restore_send_fd(struct restore_ctx *rc, struct restore_proc *rp, int fd, int *ret)
{
	return send_fds(rc, rp, &fd, 1, true, ret);
}

/* put our fd at number want in rp, close-on-exec or not: sent alone, moved there */
static int install_fd(struct restore_ctx *rc, struct restore_proc *rp, int fd, int want, bool cloexec)
{
	int got = -1, r;

	r = restore_send_fd(rc, rp, fd, &got);
	if (r < 0)
		return r;
	if (got == want)
		return restore_rcall_ok(rp, "fcntl(F_SETFD)", SYS_fcntl, (uint64_t)want, F_SETFD,
					cloexec ? FD_CLOEXEC : 0, 0, 0, 0);
	r = restore_rcall_ok(rp, "dup3", SYS_dup3, (uint64_t)got, (uint64_t)want, cloexec ? O_CLOEXEC : 0, 0, 0, 0);
	if (r < 0)
		return r;
	return restore_rcall_ok(rp, "close", SYS_close, (uint64_t)got, 0, 0, 0, 0, 0);
}

/*
 * Fds travel in batches. With every fd of rp closed but the restore socket
 * (above every number the image uses), recvmsg() puts a batch's fds at the
 * lowest free numbers in order: listed by number, with a placeholder (a
 * copy of the next file) for each free number below the next one, each
 * lands at its own. A batch is all close-on-exec or all not. Placeholders
 * are closed once every batch is in. An fd past a gap that would take more
 * batches to fill than sending it alone costs (three remote calls for it
 * and for each fd after it) is sent alone at the end and moved.
 */
struct fd_batch {
	int ours[FD_BATCH];		/* what we send */
	int first;			/* the number ours[0] lands at */
	size_t n;
	bool cloexec;
};

struct fd_gap {
	int lo, hi;			/* placeholders: closed at the end */
};

static int flush_batch(struct restore_ctx *rc, struct restore_proc *rp, struct fd_batch *b)
{
	int got[FD_BATCH];
	int r;

	if (!b->n)
		return 0;
	r = send_fds(rc, rp, b->ours, b->n, b->cloexec, got);
	if (r < 0)
		return r;
	for (size_t i = 0; i < b->n; i++)
		if (got[i] != b->first + (int)i)
			return log_err(-EIO, "an fd sent to %d went to %d, not %d", rp->pid, got[i], b->first + (int)i);
	b->first += (int)b->n;
	b->n = 0;
	return 0;
}

/* one more fd for number next in the batch, sent when full */
static int batch_add(struct restore_ctx *rc, struct restore_proc *rp, struct fd_batch *b, int ours)
{
	b->ours[b->n++] = ours;
	return b->n == FD_BATCH ? flush_batch(rc, rp, b) : 0;
}

int restore_install_files(struct restore_ctx *rc, struct restore_proc *rp)
{
	const struct md_proc *p = &rp->p;
	_cleanup_free_ struct fd_gap *gaps = NULL;
	_cleanup_free_ size_t *alone = NULL;
	struct fd_batch b = { .first = 0 };
	size_t n_gaps = 0, n_alone = 0;
	int r;

	/* nothing of memdump's or its parent's: every fd it has comes from the image (sock_remote > 2) */
	r = restore_rcall_ok(rp, "close_range", SYS_close_range, 0, (uint64_t)rc->sock_remote - 1, 0, 0, 0, 0);
	if (r >= 0)
		r = restore_rcall_ok(rp, "close_range", SYS_close_range, (uint64_t)rc->sock_remote + 1, ~0U, 0, 0, 0,
				     0);
	if (r < 0)
		return r;
	gaps = calloc(p->n_fds + 1, sizeof(*gaps));
	alone = calloc(p->n_fds + 1, sizeof(*alone));
	if (!gaps || !alone)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_fds; i++) {
		const struct md_fd *f = &p->fds[i];
		const struct restore_file *rf = find_ofd(rc, f->ofd);
		bool cloexec = f->flags & O_CLOEXEC;
		int next = b.first + (int)b.n;
		uint64_t fill;

		if (!rf)
			return log_err(-ENOENT, "no file for fd %d of %d", f->fd, p->pid);
		/* image_check_proc() and open_socket() saw to it */
		if (f->fd < next || f->fd >= rc->sock_remote)
			return log_err(-EINVAL, "fd %d of %d is out of order", f->fd, p->pid);
		fill = (uint64_t)(f->fd - next);
		if ((fill + FD_BATCH - 1) / FD_BATCH > 3 * (uint64_t)(p->n_fds - i)) {
			alone[n_alone++] = i;
			continue;
		}
		if (b.n && b.cloexec != cloexec) {
			r = flush_batch(rc, rp, &b);
			if (r < 0)
				return r;
		}
		b.cloexec = cloexec;
		if (fill)
			gaps[n_gaps++] = (struct fd_gap){ next, f->fd - 1 };
		for (r = 0; r >= 0 && b.first + (int)b.n < f->fd;)
			r = batch_add(rc, rp, &b, rf->fd);
		if (r >= 0)
			r = batch_add(rc, rp, &b, rf->fd);
		if (r < 0)
			return r;
	}
	r = flush_batch(rc, rp, &b);
	for (size_t i = 0; i < n_gaps && r >= 0; i++)
		r = restore_rcall_ok(rp, "close_range", SYS_close_range, (uint64_t)gaps[i].lo, (uint64_t)gaps[i].hi, 0,
				     0, 0, 0);
	for (size_t i = 0; i < n_alone && r >= 0; i++) {
		const struct md_fd *f = &p->fds[alone[i]];

		r = install_fd(rc, rp, find_ofd(rc, f->ofd)->fd, f->fd, f->flags & O_CLOEXEC);
		if (r < 0)
			return log_err(r, "cannot install fd %d of %d", f->fd, p->pid);
	}
	if (r < 0)
		return log_err(r, "cannot install the fds of %d", p->pid);
	if (p->cwd_ghost) {
		/* removed: the one made again (ghost.c), entered through an fd lent for it */
		int got = -1;

		r = restore_send_fd(rc, rp, restore_ghost_fd(rc, p->cwd_ghost, false), &got);
		if (r >= 0)
			r = restore_rcall_ok(rp, "fchdir", SYS_fchdir, (uint64_t)got, 0, 0, 0, 0, 0);
		if (got >= 0) {
			int c = restore_rcall_ok(rp, "close", SYS_close, (uint64_t)got, 0, 0, 0, 0, 0);

			r = r < 0 ? r : c;
		}
		if (r < 0)
			return log_err(r, "cannot change the directory of %d to the removed '%s'", p->pid, p->cwd);
	} else if (p->cwd) {
		r = restore_put_string(rp, SCRATCH_PATH, p->cwd);
		if (r < 0)
			return log_err(r, "cannot write to %d", rp->pid);
		r = restore_rcall_ok(rp, "chdir", SYS_chdir, rp->scratch + SCRATCH_PATH, 0, 0, 0, 0, 0);
		if (r < 0)
			return log_err(r, "cannot change the directory of %d to '%s'", p->pid, p->cwd);
	}
	if (p->umask != ~0u)
		return restore_rcall_ok(rp, "umask", SYS_umask, p->umask & 0777, 0, 0, 0, 0, 0);
	return 0;
}
