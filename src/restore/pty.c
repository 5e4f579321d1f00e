/*
 * Pseudo-terminals, before any process exists: each pty of the image is
 * made again under its index, by opening its ptmx until the kernel, which
 * hands out the lowest free index, gives that one (the others opened on
 * the way are closed once all are made); an index in use on this host
 * fails the restore. Then its settings, and the slave opened by the
 * master (TIOCGPTPEER, whatever the mounts) wherever the tree's fds, a
 * session or a hangup need it. Master fds share the one description;
 * each slave description is opened on its own.
 *
 * A session's terminal is taken by its leader right after its setsid(),
 * before it forks the members, which inherit it (restore_pty_ctty());
 * the foreground group is set once every group exists (restore_pty_fg()).
 * Locking and exclusive mode come last: either would keep the tree's own
 * slave fds from being opened. memdump's slave copy goes with its other
 * files once the tree runs: if no fd of the tree is on the slave, the
 * master reads EIO from then on, as it did (md_pty.hup).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <asm/termbits.h>

#include "memdump/image.h"
#include "memdump/log.h"
#include "restore/internal.h"

/*
 * The slave opened from master with access mode acc, close-on-exec for us
 * only: TIOCGPTPEER keeps O_CLOEXEC among the file's own flags, which the
 * next dump would take for the fd's (open() drops it, and adds
 * O_LARGEFILE). fd or -errno.
 */
static int open_slave(int master, int acc)
{
	int fd = ioctl(master, TIOCGPTPEER, acc | O_NOCTTY | O_LARGEFILE);

	if (fd < 0)
		return -errno;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* /dev/pts/N's owner and mode again (grantpt(), a login's chown, mesg) */
static int set_owner(const struct restore_pty *p)
{
	const struct md_pty *t = &p->t;
	int peer, r = 0;
	char path[64];

	if (!t->owner_known)
		return 0;
	peer = ioctl(p->master, TIOCGPTPEER, O_PATH | O_NOCTTY | O_CLOEXEC);
	if (peer < 0)
		return log_err(-errno, "/dev/pts/%u: cannot find its slave", t->index);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", peer);
	if (fchownat(peer, "", t->slave_uid, t->slave_gid, AT_EMPTY_PATH) < 0 || chmod(path, t->slave_mode) < 0)
		r = log_err(-errno, "/dev/pts/%u: cannot give it owner %u:%u and mode %#o", t->index, t->slave_uid,
			    t->slave_gid, t->slave_mode);
	close(peer);
	return r;
}

int restore_read_ptys(struct restore_ctx *rc, const struct md_proc *procs, const char *dir)
{
	struct md_pty *t;
	size_t n;
	char err[256];
	int r;

	r = image_read_ptys(rc->dirfd, &t, &n);
	if (r < 0)
		return r;
	rc->ptys = calloc(n ? n : 1, sizeof(*rc->ptys));
	if (!rc->ptys) {
		free(t);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		rc->ptys[i] = (struct restore_pty){ .t = t[i], .master = -1, .slave = -1 };
	rc->n_ptys = n;
	r = image_check_ptys(procs, rc->n, t, n, err, sizeof(err));
	free(t);
	if (r < 0)
		return log_err(r, "image '%s': %s", dir, err);
	return 0;
}

static struct restore_pty *find(struct restore_ctx *rc, uint32_t index)
{
	for (size_t i = 0; i < rc->n_ptys; i++)
		if (rc->ptys[i].t.index == index)
			return &rc->ptys[i];
	return NULL;
}

/*
 * The path the tree opened pty's master by and its access mode, and
 * whether any fd of the tree is on its slave
 */
static const char *master_path(const struct restore_ctx *rc, uint32_t index, int *acc, bool *slave_fd)
{
	const char *path = NULL;

	*slave_fd = false;
	for (size_t k = 0; k < rc->n; k++) {
		const struct md_proc *p = &rc->procs[k].p;

		for (size_t i = 0; i < p->n_fds; i++) {
			if (p->fds[i].pty != index)
				continue;
			if (p->fds[i].kind == MD_FD_PTY_MASTER && !path) {
				path = p->fds[i].path;
				*acc = (int)p->fds[i].flags & O_ACCMODE;
			}
			*slave_fd |= p->fds[i].kind == MD_FD_PTY_SLAVE;
		}
	}
	return path;
}

static int set_state(struct restore_pty *p, bool slave_fd)
{
	const struct md_pty *t = &p->t;
	struct termios2 tio = {
		.c_iflag = t->iflag, .c_oflag = t->oflag, .c_cflag = t->cflag, .c_lflag = t->lflag,
		.c_line = t->line, .c_ispeed = t->ispeed, .c_ospeed = t->ospeed,
	};
	struct winsize ws = { .ws_row = t->rows, .ws_col = t->cols, .ws_xpixel = t->xpixel, .ws_ypixel = t->ypixel };
	int off = 0, on = 1, r;

	memcpy(tio.c_cc, t->cc, MD_PTY_NCC);
	/* on the master, both act on the settings the slave reads by */
	if (ioctl(p->master, TCSETS2, &tio) < 0)
		return log_err(-errno, "/dev/pts/%u: cannot set its termios", t->index);
	if (ioctl(p->master, TIOCSWINSZ, &ws) < 0)
		return log_err(-errno, "/dev/pts/%u: cannot set its window size", t->index);
	if (t->packet && ioctl(p->master, TIOCPKT, &on) < 0)
		return log_err(-errno, "/dev/pts/%u: cannot set packet mode", t->index);
	if ((r = set_owner(p)) < 0)
		return r;
	if (!slave_fd && !t->sid && !t->hup && !t->slave_excl) {
		if (!t->locked && ioctl(p->master, TIOCSPTLCK, &off) < 0)
			return log_err(-errno, "/dev/pts/%u: cannot unlock it", t->index);
		return 0;
	}
	if (ioctl(p->master, TIOCSPTLCK, &off) < 0)
		return log_err(-errno, "/dev/pts/%u: cannot unlock it", t->index);
	p->slave = open_slave(p->master, O_RDWR);
	if (p->slave < 0)
		return log_err(p->slave, "/dev/pts/%u: cannot open its slave", t->index);
	return 0;
}

int restore_open_ptys(struct restore_ctx *rc)
{
	int *spare = NULL;
	size_t n_spare = 0;
	int r = 0;

	/* lowest index first: the kernel hands out the lowest free one */
	for (;;) {
		struct restore_pty *p = NULL;
		const char *path;
		bool slave_fd;
		int acc = O_RDWR;

		for (size_t i = 0; i < rc->n_ptys; i++)
			if (rc->ptys[i].master < 0 && (!p || rc->ptys[i].t.index < p->t.index))
				p = &rc->ptys[i];
		if (!p)
			break;
		path = master_path(rc, p->t.index, &acc, &slave_fd);
		for (;;) {
			unsigned int got;
			int fd = open(path, acc | O_NOCTTY | O_CLOEXEC), *more;

			if (fd < 0) {
				r = log_err(-errno, "cannot open '%s' for /dev/pts/%u", path, p->t.index);
				goto out;
			}
			if (ioctl(fd, TIOCGPTN, &got) < 0) {
				r = log_err(-errno, "'%s' gave no pty", path);
				close(fd);
				goto out;
			}
			if (got == p->t.index) {
				p->master = fd;
				break;
			}
			if (got > p->t.index) {
				close(fd);
				r = log_err(-EBUSY, "/dev/pts/%u is in use on this host: the tree's pty cannot come "
					    "back", p->t.index);
				goto out;
			}
			more = realloc(spare, (n_spare + 1) * sizeof(*spare));
			if (!more) {
				close(fd);
				r = -ENOMEM;
				goto out;
			}
			spare = more;
			spare[n_spare++] = fd;
		}
		r = set_state(p, slave_fd);
		if (r < 0)
			goto out;
	}
out:
	for (size_t i = 0; i < n_spare; i++)
		close(spare[i]);
	free(spare);
	return r;
}

int restore_pty_open(struct restore_ctx *rc, const struct md_fd *f)
{
	struct restore_pty *p = find(rc, f->pty);
	int fd;

	if (!p || p->master < 0)
		return -ENOENT;
	if (f->kind == MD_FD_PTY_SLAVE) {
		fd = open_slave(p->master, (int)f->flags & O_ACCMODE);
		if (fd < 0)
			return fd;
	} else if ((fd = fcntl(p->master, F_DUPFD_CLOEXEC, 3)) < 0) {
		return -errno;
	}
	return restore_set_fl(fd, f);
}

int restore_ptys_lock(struct restore_ctx *rc)
{
	int on = 1;

	for (size_t i = 0; i < rc->n_ptys; i++) {
		struct restore_pty *p = &rc->ptys[i];

		if (p->t.slave_excl && ioctl(p->slave, TIOCEXCL) < 0)
			return log_err(-errno, "/dev/pts/%u: cannot make it exclusive", p->t.index);
		if (p->t.locked && ioctl(p->master, TIOCSPTLCK, &on) < 0)
			return log_err(-errno, "/dev/pts/%u: cannot lock it", p->t.index);
	}
	return 0;
}

/* an ioctl on pty p's slave in rp, through a copy of our slave fd given to rp for it */
static int remote_ioctl(struct restore_ctx *rc, struct restore_proc *rp, const struct restore_pty *p,
			const char *what, unsigned long req, uint64_t arg)
{
	int fd = -1, r;

	r = restore_send_fd(rc, rp, p->slave, &fd);
	if (r < 0)
		return r;
	r = restore_rcall_ok(rp, what, SYS_ioctl, (uint64_t)fd, req, arg, 0, 0, 0);
	if (r < 0) {
		restore_rcall_ok(rp, "close", SYS_close, (uint64_t)fd, 0, 0, 0, 0, 0);
		return r;
	}
	return restore_rcall_ok(rp, "close", SYS_close, (uint64_t)fd, 0, 0, 0, 0, 0);
}

int restore_pty_ctty(struct restore_ctx *rc, struct restore_proc *rp)
{
	for (size_t i = 0; i < rc->n_ptys; i++)
		if (rc->ptys[i].t.sid == rp->p.pid)
			return remote_ioctl(rc, rp, &rc->ptys[i], "ioctl(TIOCSCTTY)", TIOCSCTTY, 0);
	return 0;
}

int restore_pty_fg(struct restore_ctx *rc)
{
	for (size_t i = 0; i < rc->n_ptys; i++) {
		const struct restore_pty *p = &rc->ptys[i];
		/* as the leader names it (in the tree's PID namespace) */
		int32_t pgrp = restore_ns_id(rc, p->t.fg_pgrp);
		struct restore_proc *lead;
		int r;

		if (!p->t.sid || !p->t.fg_pgrp)
			continue;
		lead = restore_find_proc(rc, p->t.sid);
		if (!lead)
			return -EINVAL;	/* image_check_ptys() saw to it */
		r = inject_write_mem(lead->pid, lead->scratch, &pgrp, sizeof(pgrp));
		if (r < 0)
			return log_err(r, "cannot write to %d", lead->pid);
		r = remote_ioctl(rc, lead, p, "ioctl(TIOCSPGRP)", TIOCSPGRP, lead->scratch);
		if (r < 0)
			return r;
	}
	return 0;
}

void restore_close_ptys(struct restore_ctx *rc)
{
	for (size_t i = 0; i < rc->n_ptys; i++) {
		if (rc->ptys[i].slave >= 0)
			close(rc->ptys[i].slave);
		if (rc->ptys[i].master >= 0)
			close(rc->ptys[i].master);
		rc->ptys[i].slave = rc->ptys[i].master = -1;
	}
}
