/*
 * File locks an fd held (model.h md_file_lock). flock() and OFD locks
 * belong to the open file description: memdump takes them on its own copy
 * of each description, before any process exists, and the processes that
 * get that description share them, as before. POSIX locks belong to the
 * process: memdump checks with F_GETLK, before any process exists, that
 * no other process holds a lock in their way, and each process takes its
 * own by a remote fcntl(F_SETLK) once its fds are in. Nothing waits for a
 * lock: one held elsewhere fails the restore, naming the file and holder.
 * Taking a lock the description or process holds already changes nothing,
 * so a lock listed by several fds is simply taken again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/syscall.h>

#include "memdump/inject.h"
#include "memdump/log.h"
#include "restore/internal.h"

static struct flock range_of(const struct md_file_lock *k)
{
	return (struct flock){ .l_type = k->write ? F_WRLCK : F_RDLCK, .l_whence = SEEK_SET, .l_start = (off_t)k->start,
			       .l_len = k->end == MD_LOCK_EOF ? 0 : (off_t)(k->end - k->start + 1) };
}

static const char *kind_name(uint8_t kind)
{
	return kind == MD_LOCK_FLOCK ? "flock()" : kind == MD_LOCK_OFD ? "OFD" : "POSIX";
}

/* "bytes 10 to 109", "bytes 200 to the end", "the whole file" */
static void describe(char *buf, size_t len, const struct md_file_lock *k)
{
	if (k->kind == MD_LOCK_FLOCK)
		snprintf(buf, len, "the whole file");
	else if (k->end == MD_LOCK_EOF)
		snprintf(buf, len, "bytes %llu to the end", (unsigned long long)k->start);
	else
		snprintf(buf, len, "bytes %llu to %llu", (unsigned long long)k->start, (unsigned long long)k->end);
}

static int take(int fd, const struct md_fd *f, pid_t pid, const struct md_file_lock *k)
{
	struct flock fl = range_of(k);
	char what[64];
	int r = 0;

	if (k->kind == MD_LOCK_FLOCK && flock(fd, (k->write ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0)
		r = -errno;
	else if (k->kind == MD_LOCK_OFD && fcntl(fd, F_OFD_SETLK, &fl) < 0)
		r = -errno;
	else if (k->kind == MD_LOCK_POSIX) {
		/* F_GETLK: the first lock in the way, held by anybody but us (an OFD lock's pid is -1) */
		if (fcntl(fd, F_GETLK, &fl) < 0)
			r = -errno;
		else if (fl.l_type != F_UNLCK) {
			char by[48];

			describe(what, sizeof(what), k);
			if (fl.l_pid > 0)
				snprintf(by, sizeof(by), "process %d holds a", (int)fl.l_pid);
			else
				snprintf(by, sizeof(by), "another process holds an OFD");
			return log_err(-EAGAIN, "cannot take back the POSIX %s lock of %d on %s of '%s': %s lock in "
				       "its way", k->write ? "write" : "read", pid, what, f->path, by);
		}
	}
	if (!r)
		return 0;
	describe(what, sizeof(what), k);
	if (r == -EAGAIN || r == -EWOULDBLOCK)
		return log_err(r, "cannot take back the %s %s lock of fd %d of %d on %s of '%s': another "
			       "process holds it or one in its way", kind_name(k->kind), k->write ? "write" : "read",
			       f->fd, pid, what, f->path);
	return log_err(r, "cannot take back the %s lock of fd %d of %d on %s of '%s'", kind_name(k->kind), f->fd,
		       pid, what, f->path);
}

/* fd j of p lists the locks of an earlier fd of p: the same description lists the same */
static bool listed_before(const struct md_proc *p, size_t j)
{
	for (size_t i = 0; i < j; i++)
		if (p->fds[i].ofd == p->fds[j].ofd && p->fds[j].ofd)
			return true;
	return false;
}

int restore_take_locks(struct restore_ctx *rc)
{
	/* the description's own first, then the POSIX ones' check: those may be in their way */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < rc->n; i++) {
			const struct md_proc *p = &rc->procs[i].p;

			for (size_t j = 0; j < p->n_fds; j++) {
				const struct md_fd *f = &p->fds[j];
				int fd = f->n_locks && !listed_before(p, j) ? restore_ofd_fd(rc, f->ofd) : -2;

				for (size_t k = 0; fd != -2 && k < f->n_locks; k++) {
					int r;

					if ((f->locks[k].kind == MD_LOCK_POSIX) != (pass == 1))
						continue;
					r = fd < 0 ? log_err(-ENOENT, "no file for fd %d of %d", f->fd, p->pid)
						   : take(fd, f, p->pid, &f->locks[k]);
					if (r < 0)
						return r;
				}
			}
		}
	return 0;
}

int restore_posix_locks(struct restore_proc *rp)
{
	const struct md_proc *p = &rp->p;
	char what[64];
	int r;

	for (size_t j = 0; j < p->n_fds; j++) {
		const struct md_fd *f = &p->fds[j];

		if (!f->n_locks || listed_before(p, j))
			continue;
		for (size_t k = 0; k < f->n_locks; k++) {
			struct flock fl = range_of(&f->locks[k]);
			int64_t ret = 0;

			if (f->locks[k].kind != MD_LOCK_POSIX)
				continue;
			r = inject_write_mem(rp->pid, rp->scratch, &fl, sizeof(fl));
			if (r < 0)
				return log_err(r, "cannot write to %d", rp->pid);
			r = restore_rcall(rp, "fcntl", SYS_fcntl, (uint64_t)f->fd, F_SETLK, rp->scratch, 0, 0, 0, &ret);
			if (r < 0)
				return r;
			if (ret < 0) {
				describe(what, sizeof(what), &f->locks[k]);
				return log_err((int)ret, "cannot take back the POSIX %s lock of %d on %s of '%s' "
					       "(fd %d)", f->locks[k].write ? "write" : "read", p->pid, what, f->path,
					       f->fd);
			}
		}
	}
	return 0;
}
