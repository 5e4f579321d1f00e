/*
 * The fd table of a process, from /proc/PID/fd and fdinfo: regular files,
 * directories and character devices by path, memfds by object (their data
 * is dumped by shm.c), pipes, and eventfds, signalfds, timerfds and epoll
 * fds by the state fdinfo shows; sockets by sockets.c; inotify fds by their
 * watches (inotify.c), files and directories deleted while open marked as
 * ghosts (their data: ghost.c). Every other kind is refused with one line
 * per fd.
 */
#include "memdump/dump.h"
#include "compat/pidfd.h"
#include "dump/internal.h"
#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "memdump/proc.h"

#include <dirent.h>
#include <errno.h>
#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#define MEMFD_PREFIX "/memfd:"
/* the file system of POSIX message queues (ipc/mqueue.c; no uapi header has it) */
#define MQUEUE_MAGIC 0x19800202

static int cmp_fd(const void *a, const void *b)
{
	const struct md_fd *x = a, *y = b;

	return (x->fd > y->fd) - (x->fd < y->fd);
}

/* What to call an fd we cannot restore, for the user. */
static const char *fd_kind_name(mode_t mode, const char *link, char *buf, size_t len)
{
	const char *p;

	if (S_ISFIFO(mode))
		return strncmp(link, "pipe:", 5) == 0 ? "pipe" : "fifo";
	if (S_ISSOCK(mode))
		return "socket";
	if (S_ISBLK(mode))
		return "block device";
	/* "anon_inode:[eventfd]", "anon_inode:inotify", "anon_inode:[pidfd]"... */
	if (strncmp(link, "anon_inode:", 11) == 0) {
		p = link + 11;
		if (*p == '[') {
			snprintf(buf, len, "%.*s", (int)strcspn(p + 1, "]"), p + 1);
			return buf;
		}
		return p;
	}
	snprintf(buf, len, "file of mode 0%o", (unsigned)(mode & S_IFMT));
	return buf;
}

/*
 * Restore opens a regular file, a directory, a device or a FIFO again by
 * the name its link shows (/proc/PID/fd/N), which must still lead to
 * it. Names under /proc are the tree's own with a /proc of its own, and
 * dump_ns_files() refuses them then; else a name there (not a deleted
 * one: a process gone) leads to the file.
 */
static int check_by_name(pid_t pid, int fd, const char *link, const struct stat *st, bool deleted)
{
	if ((!deleted && dump_under_proc(link)) || dump_name_leads_to(link, st))
		return 0;
	if (deleted)
		return log_refuse("fd %d of %d is '%s', deleted by that name but with %lu links left (another name, a "
				  "file of the kernel's, or a terminal hung up): not supported", fd, pid, link,
				  (unsigned long)st->st_nlink);
	return log_refuse("fd %d of %d is '%s', a name that now leads to another file or to none (removed, "
			  "mounted over, or on a mount memdump does not see): not supported", fd, pid, link);
}

/*
 * A pidfd on a process that has exited and been reaped (fdinfo's Pid -1):
 * which process, by its pidfs inode (before 6.9 every pidfd had the same
 * anonymous inode, which tells nothing), and its wait status where the
 * kernel tells it (PIDFD_INFO_EXIT, 6.15 on), through a copy of the fd.
 */
static void pidfd_gone(pid_t pid, int fd, const char *path, const struct stat *st, struct md_fd *ret)
{
	struct md_pidfd_info info = { .mask = PIDFD_INFO_EXIT };
	_cleanup_close_ int copy = -1;
	struct statfs sfs;

	ret->pidfd_pid = 0;
	if (statfs(path, &sfs) == 0 && sfs.f_type == PID_FS_MAGIC)
		ret->pidfd_gone = st->st_ino;
	copy = dump_copy_fd(pid, fd);
	if (copy >= 0 && ioctl(copy, MD_PIDFD_GET_INFO, &info) == 0 && info.mask & PIDFD_INFO_EXIT &&
	    md_wait_status_valid((uint32_t)info.exit_code)) {
		ret->pidfd_exit_known = true;
		ret->pidfd_exit = (uint16_t)info.exit_code;
	}
}

/*
 * One fd. Returns 0 with ret filled, -ENOTSUP (logged) for a kind we do
 * not restore, or -errno. The target is frozen, so the fd cannot change
 * between the stat, the readlink and the fdinfo.
 */
static int collect_fd(pid_t pid, int fd, struct md_fd *ret)
{
	_cleanup_free_ char *info = NULL;
	char path[64], link[PATH_MAX + 1], kbuf[64];
	struct proc_fdinfo fi;
	struct statfs sfs;
	struct stat st;
	bool deleted;
	ssize_t n;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return log_err(-errno, "cannot read the link of fd %d of %d", fd, pid);
	link[n] = '\0';
	/* stat through the magic link: it reaches the open file even if deleted */
	if (stat(path, &st) < 0)
		return log_err(-errno, "cannot stat fd %d of %d ('%s')", fd, pid, link);

	r = proc_read_filef(&info, NULL, "/proc/%d/fdinfo/%d", pid, fd);
	if (r < 0)
		return log_err(r, "cannot read fdinfo of fd %d of %d", fd, pid);
	r = proc_parse_fdinfo(info, &fi);
	if (r < 0)
		return log_err(r, "cannot parse fdinfo of fd %d of %d", fd, pid);

	memset(ret, 0, sizeof(*ret));
	ret->fd = fd;
	ret->flags = fi.flags;
	ret->pos = fi.pos;
	ret->mode = st.st_mode;
	ret->dup_of = -1;
	ret->dev = st.st_dev;
	ret->ino = st.st_ino;

	/* link[0] == '/' tells a real path from "pipe:[..]", "anon_inode:..." */
	deleted = link[0] == '/' && proc_path_deleted(link);
	/*
	 * A POSIX message queue stats as a regular file: its name is its path's
	 * last part ("/NAME" from mq_open(), or the path of a mount of the
	 * queues' flat file system), in the IPC namespace dump_mqueues() checks
	 * it is of (the queue, with its messages, is in the image if the
	 * namespace is the tree's).
	 */
	if (S_ISREG(st.st_mode) && statfs(path, &sfs) == 0 && sfs.f_type == MQUEUE_MAGIC) {
		const char *name = strrchr(link, '/');

		if (st.st_nlink == 0)
			return log_refuse("fd %d of %d is POSIX message queue '%s', removed (mq_unlink()) while open: "
					  "not supported", fd, pid, link);
		if (link[0] != '/' || !name || !md_mq_name_ok(name + 1))
			return log_refuse("fd %d of %d is POSIX message queue '%s': not supported (no name to open it "
					  "by)", fd, pid, link);
		memmove(link, name, strlen(name) + 1);
		ret->kind = MD_FD_MQUEUE;
	} else if (S_ISREG(st.st_mode) && strncmp(link, MEMFD_PREFIX, strlen(MEMFD_PREFIX)) == 0 &&
	    deleted) {
		ret->kind = MD_FD_MEMFD;
		ret->shm_id = st.st_ino;
	} else if (S_ISREG(st.st_mode) && link[0] == '/') {
		/*
		 * nlink 0 tells a deleted file from one whose name ends in
		 * " (deleted)": a ghost, whose data dump_ghosts() saves
		 */
		if (deleted && st.st_nlink == 0) {
			ret->ghost = calloc(1, sizeof(*ret->ghost));
			if (!ret->ghost)
				return -ENOMEM;
			ret->ghost->size = (uint64_t)st.st_size;
			ret->ghost->uid = st.st_uid;
			ret->ghost->gid = st.st_gid;
		}
		ret->kind = MD_FD_REG;
	} else if (S_ISDIR(st.st_mode) && link[0] == '/') {
		/* removed while open: a ghost with no data, made again empty (ghost.c) */
		if (deleted && st.st_nlink == 0) {
			ret->ghost = calloc(1, sizeof(*ret->ghost));
			if (!ret->ghost)
				return -ENOMEM;
			ret->ghost->uid = st.st_uid;
			ret->ghost->gid = st.st_gid;
		}
		ret->kind = MD_FD_DIR;
	} else if (S_ISCHR(st.st_mode) && link[0] == '/') {
		ret->kind = MD_FD_CHR;
	} else if (S_ISFIFO(st.st_mode) && strncmp(link, "pipe:", 5) == 0) {
		/* whether both ends are in the tree is for dump_link_fds() to say */
		ret->kind = MD_FD_PIPE;
		ret->pipe_id = st.st_ino;
	} else if (S_ISFIFO(st.st_mode) && link[0] == '/') {
		/* a named pipe; its id (per FIFO) and who else holds it: dump_pipes() */
		ret->kind = MD_FD_FIFO;
	} else if (!strcmp(link, "anon_inode:[eventfd]")) {
		struct proc_eventfd e;

		if (proc_parse_eventfd(info, &e) < 0)
			return log_err(-EINVAL, "cannot parse fdinfo of eventfd %d of %d", fd, pid);
		if (!e.semaphore_known)
			log_warn("fd %d of %d: this kernel does not say whether the eventfd is a semaphore; "
				 "it is restored as a plain one", fd, pid);
		ret->kind = MD_FD_EVENTFD;
		ret->count = e.count;
		ret->semaphore = e.semaphore;
	} else if (!strcmp(link, "anon_inode:[signalfd]")) {
		if (proc_parse_signalfd(info, &ret->sigmask) < 0)
			return log_err(-EINVAL, "cannot parse fdinfo of signalfd %d of %d", fd, pid);
		ret->kind = MD_FD_SIGNALFD;
	} else if (!strcmp(link, "anon_inode:[timerfd]")) {
		struct proc_timerfd t;

		if (proc_parse_timerfd(info, &t) < 0)
			return log_err(-EINVAL, "cannot parse fdinfo of timerfd %d of %d", fd, pid);
		ret->kind = MD_FD_TIMERFD;
		ret->count = t.ticks;
		ret->timer.clockid = t.clockid;
		ret->timer.settime_flags = t.settime_flags;
		ret->timer.value_ns = t.value_ns;
		ret->timer.interval_ns = t.interval_ns;
	} else if (!strcmp(link, "anon_inode:[pidfd]")) {
		/* whether its process is of the tree: dump_link_pidfds(), once the tree is known */
		if (proc_parse_pidfd(info, &ret->pidfd_pid) < 0)
			return log_err(-EINVAL, "cannot parse fdinfo of pidfd %d of %d", fd, pid);
		if (fi.flags & PIDFD_THREAD)
			return log_refuse("fd %d of %d is the pidfd of thread %d (PIDFD_THREAD): not supported yet", fd,
					  pid, ret->pidfd_pid);
		if ((fi.flags & O_ACCMODE) != O_RDWR || (fi.flags & ~MD_PIDFD_FLAGS))
			return log_refuse("fd %d of %d is a pidfd with flags %#o: not supported", fd, pid, fi.flags);
		if (!ret->pidfd_pid)
			return log_refuse("fd %d of %d is the pidfd of a process in a PID namespace memdump does "
					  "not see: not supported", fd, pid);
		if (ret->pidfd_pid < 0)
			pidfd_gone(pid, fd, path, &st, ret);
		ret->kind = MD_FD_PIDFD;
	} else if (!strcmp(link, "anon_inode:[eventpoll]")) {
		/* which file each item watches: dump_link_epoll(), once every fd is known */
		if (proc_parse_epoll(info, &ret->epoll, &ret->n_epoll) < 0)
			return log_err(-EINVAL, "cannot parse fdinfo of epoll fd %d of %d", fd, pid);
		ret->kind = MD_FD_EPOLL;
	} else if (S_ISSOCK(st.st_mode)) {
		/* what the socket says of itself; sock_diag is asked once for the tree (dump_sockets()) */
		r = dump_collect_socket(pid, fd, st.st_ino, ret);
		if (r < 0)
			return r;
	} else if (!strcmp(link, "anon_inode:inotify")) {
		ret->kind = MD_FD_INOTIFY;
		r = dump_inotify_fd(pid, fd, info, ret);
		if (r < 0) {
			md_fd_release(ret);
			return r;
		}
	} else {
		log_msg(LOG_ERR,
			"fd %d is a %s ('%s'): not supported yet; close it in the process or run it without it",
			fd, fd_kind_name(st.st_mode, link, kbuf, sizeof(kbuf)), link);
		return -ENOTSUP;
	}

	if (((ret->kind == MD_FD_REG || ret->kind == MD_FD_DIR) && !ret->ghost) || ret->kind == MD_FD_CHR ||
	    ret->kind == MD_FD_FIFO) {
		r = check_by_name(pid, fd, link, &st, deleted);
		if (r < 0) {
			md_fd_release(ret);
			return r;
		}
	}
	r = proc_parse_locks(info, &ret->locks, &ret->n_locks);
	if (r < 0) {
		md_fd_release(ret);
		return log_err(r, "cannot parse the locks in fdinfo of fd %d of %d", fd, pid);
	}
	for (size_t i = 0; i < ret->n_locks; i++) {
		bool lockable = ret->kind == MD_FD_REG || ret->kind == MD_FD_DIR || ret->kind == MD_FD_CHR;
		const char *why = ret->locks[i].kind == MD_LOCK_OTHER ? "a lease or delegation (F_SETLEASE)"
				  : !lockable ? "a lock" : NULL;

		if (why) {
			md_fd_release(ret);
			return log_refuse("fd %d of %d holds %s on '%s': not supported", fd, pid, why, link);
		}
	}
	if (ret->n_locks > MD_LOCKS_MAX) {
		r = log_refuse("fd %d of %d holds %zu locks on '%s', more than %d: not supported", fd, pid,
			       ret->n_locks, link, MD_LOCKS_MAX);
		md_fd_release(ret);
		return r;
	}
	if (deleted && (ret->kind == MD_FD_MEMFD || ret->ghost))
		link[n - strlen(PROC_DELETED_SUFFIX)] = '\0';
	ret->path = strdup(link);
	if (!ret->path) {
		md_fd_release(ret);
		return -ENOMEM;
	}
	return 0;
}

int dump_link_pidfds(const struct md_proc *procs, size_t n_live, size_t n)
{
	int err = 0;

	for (size_t i = 0; i < n_live; i++)
		for (size_t k = 0; k < procs[i].n_fds; k++) {
			const struct md_fd *f = &procs[i].fds[k];

			if (f->kind == MD_FD_PIDFD && f->pidfd_pid && !md_find_proc(procs, n, f->pidfd_pid))
				err = log_refuse("fd %d of %d is the pidfd of process %d, which is not in the dumped "
						 "tree: not supported (dump a tree that holds it)", f->fd, procs[i].pid,
						 f->pidfd_pid);
		}
	return err;
}

int dump_collect_fds(pid_t pid, struct md_proc *p)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct md_fd *fds = NULL;
	size_t n = 0, cap = 0;
	char path[64];
	struct dirent *de;
	int r = 0, err = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return log_err(-errno, "cannot list the fds of %d", pid);

	while ((errno = 0, de = readdir(d))) {
		char *end;
		long fd;

		if (de->d_name[0] == '.')
			continue;
		fd = strtol(de->d_name, &end, 10);
		if (*end || fd < 0 || fd > INT_MAX)
			continue;

		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct md_fd *nf = realloc(fds, nc * sizeof(*fds));

			if (!nf) {
				r = -ENOMEM;
				goto out_free;
			}
			fds = nf;
			cap = nc;
		}
		r = collect_fd(pid, fd, &fds[n]);
		if (r == -ENOTSUP) {
			/* go on, so that the user learns about every fd at once */
			err = r;
			continue;
		}
		if (r < 0)
			goto out_free;
		n++;
	}
	if (errno) {
		r = log_err(-errno, "cannot list the fds of %d", pid);
		goto out_free;
	}
	if (err) {
		r = err;
		goto out_free;
	}

	qsort(fds, n, sizeof(*fds), cmp_fd);
	for (size_t i = 0; i < p->n_fds; i++)
		md_fd_release(&p->fds[i]);
	free(p->fds);
	p->fds = fds;
	p->n_fds = n;
	return 0;

out_free:
	for (size_t i = 0; i < n; i++)
		md_fd_release(&fds[i]);
	free(fds);
	return r;
}

/* qsort_r(): pids in the order kcmp(KCMP_FILES) gives their fd tables; *arg gets an error */
static int cmp_fd_tables(const void *a, const void *b, void *arg)
{
	long k = syscall(SYS_kcmp, *(const pid_t *)a, *(const pid_t *)b, KCMP_FILES, 0, 0);

	if (k < 0)
		*(int *)arg = -errno;
	return k == 1 ? -1 : k == 2 ? 1 : 0;
}

/*
 * Processes that share one fd table (clone() with CLONE_FILES, not
 * threads) would come back with one each: an fd one opens would no longer
 * be the other's, and the POSIX locks of the table would be taken twice.
 * Refused. Sorted by kcmp(), sharers are neighbours.
 */
static int check_fd_tables(const struct md_proc *procs, size_t n)
{
	_cleanup_free_ pid_t *p = calloc(n ? n : 1, sizeof(*p));
	size_t m = 0;
	int err = 0;

	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!procs[i].zombie)
			p[m++] = procs[i].pid;
	qsort_r(p, m, sizeof(*p), cmp_fd_tables, &err);
	if (err)
		return log_err(err, "cannot compare the fd tables of the tree's processes");
	for (size_t i = 1; i < m; i++)
		if (syscall(SYS_kcmp, p[i - 1], p[i], KCMP_FILES, 0, 0) == 0)
			return log_refuse("processes %d and %d share one fd table (clone() with CLONE_FILES): not "
					  "supported", p[i - 1], p[i]);
	return 0;
}

/* an fd of the tree, for the sort that finds the descriptions they share */
struct fd_ref {
	const struct md_proc *p;
	const struct md_fd *f;
	size_t pos;		/* its place in the tree's order (process, then fd) */
};

struct fd_sort {
	int err;		/* the first kcmp() that failed, on these two */
	const struct fd_ref *a, *b;
};

/* kcmp(KCMP_FILE) of two fds into *order: 0 the same description, else -1 or 1: 0, or -errno */
static int cmp_file(const struct fd_ref *a, const struct fd_ref *b, int *order)
{
	long k = syscall(SYS_kcmp, a->p->pid, b->p->pid, KCMP_FILE, a->f->fd, b->f->fd);

	if (k < 0)
		return -errno;
	if (k > 2)
		return -EINVAL;
	*order = k == 1 ? -1 : k == 2 ? 1 : 0;
	return 0;
}

/*
 * qsort_r(): by inode, then in the order kcmp() gives their descriptions
 * (a total order of the kernel's pointers, obfuscated), then by place: the
 * fds of one description end up next to each other. Once a kcmp() failed
 * (*arg), by place alone: the order is thrown away.
 */
static int cmp_fd_refs(const void *x, const void *y, void *arg)
{
	const struct fd_ref *a = x, *b = y;
	struct fd_sort *st = arg;
	int order = 0, r;

	if (a->f->dev != b->f->dev)
		return a->f->dev < b->f->dev ? -1 : 1;
	if (a->f->ino != b->f->ino)
		return a->f->ino < b->f->ino ? -1 : 1;
	if (!st->err) {
		r = cmp_file(a, b, &order);
		if (r < 0) {
			*st = (struct fd_sort){ r, a, b };
			order = 0;
		}
	}
	if (order)
		return order;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/*
 * fds that share one open file description (dup(), "2>&1", inherited by
 * fork) share its offset and flags, within a process or across the tree:
 * restore must hand out one description, not open the file twice.
 * kcmp() tells; only fds on the same inode can share one. Sorted by inode
 * and kcmp()'s order, the fds of a description are neighbours: O(n log n)
 * comparisons for n fds, not one per pair of fds on an inode (thousands of
 * sockets or of /dev/null opens). The descriptions are numbered as they
 * first come in the tree's order.
 */
int dump_link_fds(struct md_proc *procs, size_t n)
{
	_cleanup_free_ struct fd_ref *refs = NULL;
	_cleanup_free_ size_t *group_of = NULL, *ofd_of = NULL, *seen_in = NULL, *first_fd = NULL;
	struct fd_sort st = { 0, NULL, NULL };
	size_t total = 0, pos = 0, groups = 0;
	uint64_t next = 1;
	int r = check_fd_tables(procs, n);

	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		total += procs[i].n_fds;
	refs = calloc(total ? total : 1, sizeof(*refs));
	group_of = calloc(total ? total : 1, sizeof(*group_of));
	ofd_of = calloc(total ? total : 1, sizeof(*ofd_of));
	seen_in = calloc(total ? total : 1, sizeof(*seen_in));
	first_fd = calloc(total ? total : 1, sizeof(*first_fd));
	if (!refs || !group_of || !ofd_of || !seen_in || !first_fd)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < procs[i].n_fds; j++, pos++)
			refs[pos] = (struct fd_ref){ .p = &procs[i], .f = &procs[i].fds[j], .pos = pos };
	qsort_r(refs, total, sizeof(*refs), cmp_fd_refs, &st);
	for (size_t k = 0; k < total && !st.err; k++) {
		bool inode = k && refs[k - 1].f->dev == refs[k].f->dev && refs[k - 1].f->ino == refs[k].f->ino;
		int order = 1;

		if (inode && (r = cmp_file(&refs[k - 1], &refs[k], &order)) < 0)
			st = (struct fd_sort){ r, &refs[k - 1], &refs[k] };
		else if (order)
			groups++;
		group_of[refs[k].pos] = groups - 1;
	}
	if (st.err)
		return log_err(st.err, "cannot compare fd %d of %d with fd %d of %d", st.a->f->fd, st.a->p->pid,
			       st.b->f->fd, st.b->p->pid);

	/* numbered as they first come; dup_of: what readers of images without ofd understand */
	pos = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < procs[i].n_fds; j++, pos++) {
			struct md_fd *f = &procs[i].fds[j];
			size_t g = group_of[pos];

			if (!ofd_of[g])
				ofd_of[g] = next++;
			f->ofd = ofd_of[g];
			f->dup_of = -1;
			/* seen_in: 1 + the process in which first_fd is the group's first fd */
			if (seen_in[g] == i + 1)
				f->dup_of = (int)first_fd[g];
			else {
				seen_in[g] = i + 1;
				first_fd[g] = (size_t)f->fd;
			}
		}
	return dump_link_epoll(procs, n);
}
