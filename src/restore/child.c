/*
 * The new process's own work, in plain C, before memdump replaces its
 * address space by remote syscalls: block signals, install the fd table
 * (files, character devices, memfds filled from the image), open the
 * files its mappings need, cwd, umask and sigactions. Then it stops
 * itself with SIGSTOP for memdump to take over. It never returns.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "compat/mman.h"
#include "memdump/image.h"
#include "restore/internal.h"

#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_SEAL_SEAL 0x0001
#endif

struct ksigaction {
	uint64_t handler, flags, restorer, mask;
};

static __attribute__((noreturn)) void fail(struct restore_ctx *rc, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rc->rep->msg, sizeof(rc->rep->msg), fmt, ap);
	va_end(ap);
	rc->rep->status = err < 0 ? err : -EINVAL;
	_exit(1);
}

static int highest_open_fd(void)
{
	int hi = 2;

	for (int fd = 0; fd < 65536; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			hi = fd;
	return hi;
}

/* move fd to the first free number >= floor, closing the old one */
static int move_up(int fd, int floor)
{
	int n = fcntl(fd, F_DUPFD_CLOEXEC, floor);

	if (n < 0)
		return -errno;
	close(fd);
	return n;
}

static int create_memfd(struct restore_ctx *rc, const struct restore_shm *s)
{
	static char buf[1 << 20];
	unsigned flags = MFD_CLOEXEC;
	int fd;

	if (s->shm.seals & ~F_SEAL_SEAL || !(s->shm.seals & F_SEAL_SEAL))
		flags |= MFD_ALLOW_SEALING;
	fd = (int)syscall(SYS_memfd_create, s->shm.name ? s->shm.name : "", flags);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)s->shm.size) < 0)
		return -errno;
	uint64_t off_in_file = MD_PAGES_HEADER_SIZE;
	for (size_t i = 0; i < s->pm.n; i++) {
		const struct md_pagemap_entry *e = &s->pm.entries[i];
		uint64_t left = e->nr_pages * MD_PAGE_SIZE, dst = e->vaddr;

		if (!(e->flags & MD_PM_DATA))
			continue;
		while (left) {
			size_t chunk = left < sizeof(buf) ? left : sizeof(buf);
			ssize_t n = pread(s->pages_fd, buf, chunk, (off_t)off_in_file);

			if (n != (ssize_t)chunk)
				return n < 0 ? -errno : -EIO;
			if (pwrite(fd, buf, chunk, (off_t)dst) != (ssize_t)chunk)
				return -errno;
			left -= chunk;
			dst += chunk;
			off_in_file += chunk;
		}
	}
	/*
	 * Seals go on once the content is in. A write seal would refuse a
	 * writable shared mapping, but the dumped process could not have had
	 * one either, and read-only ones are still allowed.
	 */
	if (flags & MFD_ALLOW_SEALING && s->shm.seals && fcntl(fd, F_ADD_SEALS, (int)s->shm.seals) < 0)
		return -errno;
	return fd;
}

static int shm_fd_of(struct restore_ctx *rc, const int *shm_fds, uint64_t id)
{
	for (size_t i = 0; i < rc->n_shms; i++)
		if (rc->shms[i].shm.id == id)
			return shm_fds[i];
	return -1;
}

static bool shm_is_memfd(const struct restore_ctx *rc, uint64_t id)
{
	for (size_t i = 0; i < rc->p.n_vmas; i++)
		if (rc->p.vmas[i].kind == MD_VMA_MEMFD && rc->p.vmas[i].shm_id == id)
			return true;
	for (size_t i = 0; i < rc->p.n_fds; i++)
		if (rc->p.fds[i].kind == MD_FD_MEMFD && rc->p.fds[i].shm_id == id)
			return true;
	return false;
}

static int open_fd_path(const char *path, const struct md_fd *f)
{
	int flags = (int)f->flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_CLOEXEC);
	int fd;

	fd = open(path, flags | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if ((f->kind == MD_FD_REG || f->kind == MD_FD_MEMFD) && lseek(fd, (off_t)f->pos, SEEK_SET) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

void restore_child_main(struct restore_ctx *rc)
{
	struct md_proc *p = &rc->p;
	sigset_t all;
	int floor, *shm_fds, *tmp_fds;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* our SIGSTOP must reach memdump as a ptrace stop, not stop us unseen */
	while (!rc->rep->go)
		usleep(100);

	shm_fds = calloc(rc->n_shms + 1, sizeof(int));
	tmp_fds = calloc(p->n_fds + 1, sizeof(int));
	if (!shm_fds || !tmp_fds)
		fail(rc, -ENOMEM, "out of memory");

	/*
	 * Everything we open lives above every fd we hold now and every
	 * number the restored table uses, so installing the table below
	 * can never clobber one of them.
	 */
	/* the image's fd numbers and our helper fds may pass memdump's soft limit */
	{
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	floor = highest_open_fd() + 1;
	for (size_t i = 0; i < p->n_fds; i++)
		if (p->fds[i].fd >= floor)
			floor = p->fds[i].fd + 1;

	for (size_t i = 0; i < rc->n_shms; i++) {
		int fd;

		/* shared anonymous objects are mapped and filled by memdump, not here */
		shm_fds[i] = -1;
		if (!shm_is_memfd(rc, rc->shms[i].shm.id))
			continue;
		fd = create_memfd(rc, &rc->shms[i]);

		if (fd < 0)
			fail(rc, fd, "cannot recreate memfd '%s'", rc->shms[i].shm.name ? rc->shms[i].shm.name : "");
		shm_fds[i] = move_up(fd, floor);
		if (shm_fds[i] < 0)
			fail(rc, shm_fds[i], "no fd number left for memfd '%s'", rc->shms[i].shm.name ? rc->shms[i].shm.name : "");
	}
	for (size_t i = 0; i < p->n_fds; i++) {
		const struct md_fd *f = &p->fds[i];
		int fd;

		if (f->dup_of >= 0) {
			/* the same open file description as an earlier fd: offset and flags shared */
			size_t j;

			for (j = 0; j < i && p->fds[j].fd != f->dup_of; j++)
				;
			fd = j < i ? fcntl(tmp_fds[j], F_DUPFD_CLOEXEC, floor) : -1;
			if (fd < 0)
				fd = j < i ? -errno : -ENOENT;
		} else if (f->kind == MD_FD_MEMFD) {
			int src = shm_fd_of(rc, shm_fds, f->shm_id);
			char path[64];

			/* a new open file description of the object, with this fd's own flags */
			snprintf(path, sizeof(path), "/proc/self/fd/%d", src);
			fd = src < 0 ? -ENOENT : open_fd_path(path, f);
			if (fd >= 0)
				fd = move_up(fd, floor);
		} else {
			fd = open_fd_path(f->path, f);
			if (fd >= 0)
				fd = move_up(fd, floor);
		}
		if (fd < 0)
			fail(rc, fd, "cannot reopen fd %d ('%s')", f->fd, f->path ? f->path : "");
		tmp_fds[i] = fd;
	}
	for (size_t i = 0; i < p->n_vmas; i++) {
		const struct md_vma *v = &p->vmas[i];
		int fd = -1;

		if (v->kind == MD_VMA_FILE) {
			int mode = v->shared && (v->vmflags & MD_VMF_MW) ? O_RDWR : O_RDONLY;

			fd = open(v->path, mode | O_CLOEXEC);
			if (fd < 0)
				fail(rc, -errno, "cannot open '%s' to map it at %#llx", v->path,
				     (unsigned long long)v->start);
			fd = move_up(fd, floor);
			if (fd < 0)
				fail(rc, fd, "no fd number left to map '%s'", v->path);
		} else if (v->kind == MD_VMA_MEMFD) {
			int src = shm_fd_of(rc, shm_fds, v->shm_id);

			fd = src < 0 ? -1 : fcntl(src, F_DUPFD_CLOEXEC, floor);
			if (fd < 0)
				fail(rc, -ENOENT, "no memfd object for the mapping at %#llx", (unsigned long long)v->start);
		}
		rc->rep->vma_fd[i] = fd;
	}
	rc->rep->exe_fd = -1;
	if (p->exe) {
		int fd = open(p->exe, O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			fail(rc, -errno, "cannot open the executable '%s'", p->exe);
		rc->rep->exe_fd = move_up(fd, floor);
		if (rc->rep->exe_fd < 0)
			fail(rc, rc->rep->exe_fd, "no fd number left for the executable");
	}

	/* drop every fd of memdump's below the floor, then install the table */
	for (int fd = 0; fd < floor; fd++)
		close(fd);
	for (size_t i = 0; i < p->n_fds; i++) {
		const struct md_fd *f = &p->fds[i];
		int cloexec = f->flags & O_CLOEXEC ? O_CLOEXEC : 0;

		if (dup3(tmp_fds[i], f->fd, cloexec) < 0)
			fail(rc, -errno, "cannot install fd %d", f->fd);
		close(tmp_fds[i]);
	}
	for (size_t i = 0; i < rc->n_shms; i++)
		if (shm_fds[i] >= 0)
			close(shm_fds[i]);

	/* before the address space is rebuilt: ADDR_NO_RANDOMIZE and friends shape mmap */
	if (personality((unsigned long)p->personality) < 0)
		fail(rc, -errno, "cannot set personality %#llx", (unsigned long long)p->personality);

	if (p->cwd && chdir(p->cwd) < 0)
		fail(rc, -errno, "cannot change directory to '%s'", p->cwd);
	if (p->umask != ~0u)
		umask(p->umask & 0777);

	for (int sig = 1; sig <= MD_NSIG; sig++) {
		const struct md_sigaction *sa = &p->sigactions[sig - 1];
		struct ksigaction k = { sa->handler, sa->flags, sa->restorer, sa->mask };

		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (syscall(SYS_rt_sigaction, sig, &k, NULL, 8) < 0)
			fail(rc, -errno, "cannot set the action of signal %d", sig);
	}

	rc->rep->status = 0;
	/* raw syscalls: glibc's cached thread id is memdump's, not ours */
	syscall(SYS_tgkill, syscall(SYS_getpid), syscall(SYS_gettid), SIGSTOP);
	/* memdump never lets us get here */
	_exit(127);
}
