/*
 * Pseudo-terminals of the tree. An fd on /dev/ptmx is the master of a pty
 * (opening /dev/ptmx again would make a new one), an fd on /dev/pts/N its
 * slave: both are kept as the pty they are on, by index, with the state
 * master and slave share (termios, window size, lock, packet mode), read
 * through a pidfd_getfd() copy of the master. A slave whose master no fd
 * of the tree holds cannot come back (the master's holder would not know
 * the new pty): refused. Bytes queued on either side are not kept.
 *
 * Which pty a slave is on: its device number gives the index, its st_dev
 * the devpts instance; TIOCGPTPEER with O_PATH gives the master's slave
 * without opening it (no open, so no hangup state changes), and the owner
 * and mode of its /dev/pts/N. An fd on /dev/tty is on the terminal its
 * process had when it opened it (TIOCGDEV says which): a slave like any
 * other. A pty end another process holds, outside the tree, is refused
 * (it would keep the index, and lose its pty).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <asm/termbits.h>

#include "dump/internal.h"
#include "memdump/cleanup.h"
#include "memdump/dump.h"
#include "memdump/log.h"
#include "memdump/model.h"
#include "memdump/proc.h"

#define PTMX_DEV makedev(5, 2)		/* /dev/ptmx, /dev/pts/ptmx */
#define TTY_DEV makedev(5, 0)		/* /dev/tty: the opener's terminal, whichever it was */

struct pty_seen {
	dev_t devpts;		/* st_dev of the slave's devpts */
	bool master;		/* some fd of the tree holds the master */
	uint64_t master_ofd;
	struct md_pty pty;
};

struct pty_seen_list {
	const struct pty_seen *s;
	size_t n;
};

/* the terminal an fd on /dev/tty is on: the one its process had when it opened it; -errno */
static int real_dev(pid_t pid, int fd, dev_t *ret)
{
	_cleanup_close_ int c = dump_copy_fd(pid, fd);
	unsigned int dev;

	if (c < 0)
		return c;
	if (ioctl(c, TIOCGDEV, &dev) < 0)
		return -errno;
	*ret = proc_tty_dev(dev);	/* new_encode_dev(), as stat's tty_nr */
	return 0;
}

bool dump_pty_slave(dev_t rdev)
{
	return major(rdev) >= 136 && major(rdev) <= 143;
}

uint32_t dump_pty_index(dev_t rdev)
{
	return (major(rdev) - 136) * 256 + minor(rdev);
}

static struct pty_seen *find(struct pty_seen *s, size_t n, dev_t devpts, uint32_t index)
{
	for (size_t i = 0; i < n; i++)
		if (s[i].pty.index == index && s[i].devpts == devpts)
			return &s[i];
	return NULL;
}

static struct pty_seen *add(struct pty_seen **s, size_t *n, dev_t devpts, uint32_t index)
{
	struct pty_seen *e = find(*s, *n, devpts, index);

	if (e)
		return e;
	e = realloc(*s, (*n + 1) * sizeof(**s));
	if (!e)
		return NULL;
	*s = e;
	e = &e[(*n)++];
	memset(e, 0, sizeof(*e));
	e->devpts = devpts;
	e->pty.index = index;
	return e;
}

/* the state master and slave share, as the master m (our copy) tells it */
static int read_master(int m, pid_t pid, int fd, struct md_pty *t)
{
	struct termios2 tio;
	struct winsize ws;
	struct pollfd pfd = { .fd = m, .events = POLLIN | POLLPRI };
	int v, queued = 0;

	if (ioctl(m, TCGETS2, &tio) < 0 || ioctl(m, TIOCGWINSZ, &ws) < 0)
		return log_err(-errno, "cannot read the settings of the pty of fd %d of %d", fd, pid);
	t->iflag = tio.c_iflag;
	t->oflag = tio.c_oflag;
	t->cflag = tio.c_cflag;
	t->lflag = tio.c_lflag;
	t->line = tio.c_line;
	_Static_assert(sizeof(tio.c_cc) == MD_PTY_NCC, "termios2 c_cc");
	memcpy(t->cc, tio.c_cc, MD_PTY_NCC);
	t->ispeed = tio.c_ispeed;
	t->ospeed = tio.c_ospeed;
	t->rows = ws.ws_row;
	t->cols = ws.ws_col;
	t->xpixel = ws.ws_xpixel;
	t->ypixel = ws.ws_ypixel;
	if (ioctl(m, TIOCGPTLCK, &v) < 0)
		return log_err(-errno, "cannot read whether the pty of fd %d of %d is locked", fd, pid);
	t->locked = v;
	if (ioctl(m, TIOCGPKT, &v) < 0)
		return log_err(-errno, "cannot read the packet mode of the pty of fd %d of %d", fd, pid);
	t->packet = v;
	/* every fd on the slave closed since it was opened: the master reads EIO, polls POLLHUP */
	if (poll(&pfd, 1, 0) < 0)
		return log_err(-errno, "cannot poll the pty of fd %d of %d", fd, pid);
	t->hup = pfd.revents & POLLHUP;
	if (t->packet && (pfd.revents & POLLPRI))
		log_warn("/dev/pts/%u: the packet-mode status its master (fd %d of %d) has not read is not kept",
			 t->index, fd, pid);
	/* whose controlling terminal it is: asked through the master, anyone may */
	if (ioctl(m, TIOCGSID, &v) == 0) {
		t->sid = v;
		if (ioctl(m, TIOCGPGRP, &v) < 0)
			return log_err(-errno, "cannot read the foreground group of the pty of fd %d of %d", fd, pid);
		t->fg_pgrp = v;
	} else if (errno != ENOTTY) {
		return log_err(-errno, "cannot read the session of the pty of fd %d of %d", fd, pid);
	}
	if (ioctl(m, FIONREAD, &queued) == 0 && queued > 0)
		log_warn("/dev/pts/%u: %d bytes its slave side wrote, which the master (fd %d of %d) has not read, are "
			 "not kept", t->index, queued, fd, pid);
	return 0;
}

/* fd of pid on /dev/ptmx: which pty, and (once per pty) its state */
static int take_master(pid_t pid, struct md_fd *f, struct pty_seen **seen, size_t *n_seen)
{
	_cleanup_close_ int m = dump_copy_fd(pid, f->fd);
	_cleanup_close_ int peer = -1;
	struct pty_seen *e;
	unsigned int index;
	struct stat st;
	dev_t devpts = 0;
	int r;

	if (m < 0)
		return log_err(m, "cannot take a copy of fd %d of %d", f->fd, pid);
	if (ioctl(m, TIOCGPTN, &index) < 0)
		return log_err(-errno, "fd %d of %d is on /dev/ptmx but no pty master", f->fd, pid);
	if (index >= MD_PTY_MAX)
		return log_err(-ERANGE, "fd %d of %d: pty index %u", f->fd, pid, index);
	/* the slave's devpts, owner and mode; O_PATH opens nothing */
	peer = ioctl(m, TIOCGPTPEER, O_PATH | O_NOCTTY | O_CLOEXEC);
	if (peer >= 0 && fstat(peer, &st) == 0)
		devpts = st.st_dev;
	e = add(seen, n_seen, devpts, index);
	if (!e)
		return -ENOMEM;
	if (e->master && e->master_ofd != f->ofd)
		return log_err(-EINVAL, "pty %u has two masters", index);
	if (!e->master) {
		r = read_master(m, pid, f->fd, &e->pty);
		if (r < 0)
			return r;
		if (devpts) {
			e->pty.owner_known = true;
			e->pty.slave_uid = st.st_uid;
			e->pty.slave_gid = st.st_gid;
			e->pty.slave_mode = st.st_mode & 07777;
		}
	}
	e->master = true;
	e->master_ofd = f->ofd;
	f->kind = MD_FD_PTY_MASTER;
	f->pty = index;
	return 0;
}

static int take_slave(pid_t pid, struct md_fd *f, dev_t rdev, dev_t devpts, struct pty_seen **seen, size_t *n_seen)
{
	_cleanup_close_ int s = dump_copy_fd(pid, f->fd);
	uint32_t index = dump_pty_index(rdev);
	struct pty_seen *e = find(*seen, *n_seen, devpts, index);
	int v, queued = 0;

	/* a master whose devpts TIOCGPTPEER could not tell; /dev/tty, whose devpts we cannot tell */
	if (!e)
		e = find(*seen, *n_seen, 0, index);
	for (size_t i = 0; !e && !devpts && i < *n_seen; i++)
		if ((*seen)[i].pty.index == index)
			e = &(*seen)[i];
	if (!e)
		e = add(seen, n_seen, devpts, index);
	if (!e)
		return -ENOMEM;
	if (s < 0)
		return log_err(s, "cannot take a copy of fd %d of %d", f->fd, pid);
	if (ioctl(s, TIOCGEXCL, &v) < 0) {
		if (errno == EIO)
			return log_refuse("fd %d of %d is on /dev/pts/%u, hung up (its master was closed, or "
					  "vhangup()): not supported", f->fd, pid, index);
		return log_err(-errno, "cannot read whether /dev/pts/%u (fd %d of %d) is exclusive", index, f->fd,
			       pid);
	}
	e->pty.slave_excl |= v;
	if (ioctl(s, FIONREAD, &queued) == 0 && queued > 0)
		log_warn("/dev/pts/%u: %d bytes typed into it that fd %d of %d has not read are not kept", index,
			 queued, f->fd, pid);
	f->kind = MD_FD_PTY_SLAVE;
	f->pty = index;
	return 0;
}

int dump_tty_real_dev(pid_t pid, int fd, dev_t *ret)
{
	int r = real_dev(pid, fd, ret);

	if (r == -EIO)
		return log_refuse("fd %d of %d is on /dev/tty, hung up: not supported", fd, pid);
	if (r < 0)
		return log_err(r, "cannot read which terminal fd %d of %d (/dev/tty) is on", fd, pid);
	return 0;
}

/* masters first: slaves are matched to the devpts their master found */
static int take(struct md_proc *procs, size_t n, bool masters, struct pty_seen **seen, size_t *n_seen)
{
	int refused = 0, r;

	for (size_t k = 0; k < n; k++)
		for (size_t i = 0; i < procs[k].n_fds; i++) {
			struct md_fd *f = &procs[k].fds[i];
			dev_t rdev, devpts;
			char path[64];
			struct stat st;

			/* an O_PATH fd opens nothing again: by path, as any other device */
			if (f->kind != MD_FD_CHR || f->ctty || (f->flags & O_PATH))
				continue;
			snprintf(path, sizeof(path), "/proc/%d/fd/%d", procs[k].pid, f->fd);
			if (stat(path, &st) < 0)
				return log_err(-errno, "cannot stat fd %d of %d", f->fd, procs[k].pid);
			rdev = st.st_rdev;
			devpts = st.st_dev;
			if (!masters && rdev == TTY_DEV) {
				r = dump_tty_real_dev(procs[k].pid, f->fd, &rdev);
				if (r < 0 && r != -ENOTSUP)
					return r;
				if (r < 0) {
					refused = r;
					continue;
				}
				if (!dump_pty_slave(rdev)) {
					refused = log_refuse("fd %d of %d is /dev/tty, on a terminal that is no "
							     "pty of the tree: not supported", f->fd, procs[k].pid);
					continue;
				}
				devpts = 0;	/* its master's */
			}
			if (masters ? rdev != PTMX_DEV : !dump_pty_slave(rdev))
				continue;
			if (f->n_locks) {
				refused = log_refuse("fd %d of %d: a lock on a pty: not supported", f->fd,
						     procs[k].pid);
				continue;
			}
			r = masters ? take_master(procs[k].pid, f, seen, n_seen) :
				      take_slave(procs[k].pid, f, rdev, devpts, seen, n_seen);
			if (r < 0 && r != -ENOTSUP)
				return r;
			if (r < 0)
				refused = r;
		}
	return refused;
}

/* an fd outside the tree on a pty end of ours (same index, same devpts where known): refused */
static int outside_fd(pid_t pid, int fd, const char *link, void *arg)
{
	const struct pty_seen *seen = ((const struct pty_seen_list *)arg)->s;
	size_t n = ((const struct pty_seen_list *)arg)->n;
	char path[64];
	struct stat st;
	dev_t rdev, devpts = 0;
	uint32_t index;
	int c, peer;

	if (strncmp(link, "/dev/", 5))
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	if (stat(path, &st) < 0 || !S_ISCHR(st.st_mode))
		return 0;
	rdev = st.st_rdev;
	if (rdev == TTY_DEV && real_dev(pid, fd, &rdev) < 0)
		return 0;
	if (dump_pty_slave(rdev)) {
		index = dump_pty_index(rdev);
		devpts = rdev == st.st_rdev ? st.st_dev : 0;	/* /dev/tty's is devtmpfs' */
	} else if (rdev == PTMX_DEV) {
		c = dump_copy_fd(pid, fd);
		if (c < 0)
			return 0;
		if (ioctl(c, TIOCGPTN, &index) < 0)
			index = UINT32_MAX;
		peer = ioctl(c, TIOCGPTPEER, O_PATH | O_NOCTTY | O_CLOEXEC);
		if (peer >= 0 && fstat(peer, &st) == 0)
			devpts = st.st_dev;
		if (peer >= 0)
			close(peer);
		close(c);
	} else {
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (seen[i].pty.index == index && seen[i].master &&
		    (!devpts || !seen[i].devpts || devpts == seen[i].devpts))
			return log_refuse("/dev/pts/%u of the tree is also held by process %d (fd %d, '%s') outside "
					  "it: not supported (dump that process too)", index, pid, fd, link);
	return 0;
}

int dump_ptys(struct md_proc *procs, size_t n, struct md_pty **ret, size_t *ret_n)
{
	_cleanup_free_ struct pty_seen *seen = NULL;
	struct md_pty *out;
	size_t n_seen = 0, k = 0;
	int refused, r;

	*ret = NULL;
	*ret_n = 0;
	refused = take(procs, n, true, &seen, &n_seen);
	if (refused < 0 && refused != -ENOTSUP)
		return refused;
	r = take(procs, n, false, &seen, &n_seen);
	if (r < 0 && r != -ENOTSUP)
		return r;
	refused = refused < 0 ? refused : r;
	for (size_t i = 0; i < n_seen; i++) {
		if (seen[i].master)
			continue;
		/* name the first fd on it */
		for (size_t p = 0; p < n; p++)
			for (size_t j = 0; j < procs[p].n_fds; j++) {
				const struct md_fd *f = &procs[p].fds[j];

				if (f->kind == MD_FD_PTY_SLAVE && f->pty == seen[i].pty.index) {
					refused = log_refuse("fd %d of %d is /dev/pts/%u, whose master (/dev/ptmx) no "
							     "process of the tree holds: not supported (dump the "
							     "process that holds it too)", f->fd, procs[p].pid,
							     seen[i].pty.index);
					p = n;
					break;
				}
			}
	}
	if (!refused && n_seen) {
		struct pty_seen_list l = { seen, n_seen };

		refused = dump_walk_outside_fds(procs, n, outside_fd, &l);
	}
	if (refused < 0)
		return refused;
	out = calloc(n_seen ? n_seen : 1, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n_seen; i++) {
		for (size_t j = 0; j < i; j++)
			if (seen[j].pty.index == seen[i].pty.index) {
				free(out);
				return log_refuse("two ptys numbered %u (of two devpts instances) in the tree: not "
						  "supported", seen[i].pty.index);
			}
		out[k++] = seen[i].pty;
	}
	*ret = out;
	*ret_n = k;
	return 0;
}
