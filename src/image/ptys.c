/*
 * ptys.img: the pseudo-terminals whose master the tree holds, with the
 * settings master and slave share and the session each is the terminal
 * of. Which fds are on them is in files-PID.img (FD_PTY_MASTER/SLAVE).
 */
#include "memdump/image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/internal.h"
#include "memdump/cleanup.h"
#include "memdump/log.h"
#include "memdump/model.h"

#include "ptys.pb-c.h"

#define PTYS_NAME "ptys.img"

int image_write_ptys(int dirfd, const struct md_pty *t, size_t n)
{
	Md__PtysImage m = MD__PTYS_IMAGE__INIT;
	_cleanup_free_ Md__Pty *e = calloc(n ? n : 1, sizeof(*e));
	_cleanup_free_ Md__Pty **ep = calloc(n ? n : 1, sizeof(*ep));

	if (!e || !ep)
		return log_err(-ENOMEM, "cannot write image '%s'", PTYS_NAME);
	for (size_t i = 0; i < n; i++) {
		md__pty__init(&e[i]);
		e[i].index = t[i].index;
		e[i].iflag = t[i].iflag;
		e[i].oflag = t[i].oflag;
		e[i].cflag = t[i].cflag;
		e[i].lflag = t[i].lflag;
		e[i].line = t[i].line;
		e[i].cc.data = (uint8_t *)t[i].cc;
		e[i].cc.len = MD_PTY_NCC;
		e[i].ispeed = t[i].ispeed;
		e[i].ospeed = t[i].ospeed;
		e[i].rows = t[i].rows;
		e[i].cols = t[i].cols;
		e[i].has_xpixel = t[i].xpixel != 0;
		e[i].xpixel = t[i].xpixel;
		e[i].has_ypixel = t[i].ypixel != 0;
		e[i].ypixel = t[i].ypixel;
		e[i].has_locked = t[i].locked;
		e[i].locked = t[i].locked;
		e[i].has_packet = t[i].packet;
		e[i].packet = t[i].packet;
		e[i].has_slave_excl = t[i].slave_excl;
		e[i].slave_excl = t[i].slave_excl;
		e[i].has_hup = t[i].hup;
		e[i].hup = t[i].hup;
		e[i].has_sid = t[i].sid != 0;
		e[i].sid = t[i].sid;
		e[i].has_fg_pgrp = t[i].fg_pgrp != 0;
		e[i].fg_pgrp = t[i].fg_pgrp;
		e[i].has_slave_uid = e[i].has_slave_gid = e[i].has_slave_mode = t[i].owner_known;
		e[i].slave_uid = t[i].slave_uid;
		e[i].slave_gid = t[i].slave_gid;
		e[i].slave_mode = t[i].slave_mode;
		ep[i] = &e[i];
	}
	m.n_ptys = n;
	m.ptys = ep;
	return img_write_msg(dirfd, PTYS_NAME, MD_IMG_PTYS, &m.base);
}

static int read_pty(const Md__Pty *s, struct md_pty *t)
{
	if (s->index >= MD_PTY_MAX)
		return img_invalid(PTYS_NAME, "pty index %u", s->index);
	if (s->cc.len != MD_PTY_NCC)
		return img_invalid(PTYS_NAME, "pty %u: %zu control characters, not %d", s->index, s->cc.len,
				   MD_PTY_NCC);
	if (s->line > UINT8_MAX || s->rows > UINT16_MAX || s->cols > UINT16_MAX ||
	    (s->has_xpixel && s->xpixel > UINT16_MAX) || (s->has_ypixel && s->ypixel > UINT16_MAX))
		return img_invalid(PTYS_NAME, "pty %u: a line discipline or window size out of range", s->index);
	if ((s->has_sid && s->sid <= 0) || (s->has_fg_pgrp && (s->fg_pgrp <= 0 || !s->has_sid)))
		return img_invalid(PTYS_NAME, "pty %u: session %d, foreground group %d", s->index,
				   s->has_sid ? s->sid : 0, s->has_fg_pgrp ? s->fg_pgrp : 0);
	if (s->has_slave_uid != s->has_slave_gid || s->has_slave_uid != s->has_slave_mode ||
	    (s->has_slave_mode && s->slave_mode > 07777))
		return img_invalid(PTYS_NAME, "pty %u: a part of the owner and mode of its slave, or mode %#o",
				   s->index, s->has_slave_mode ? s->slave_mode : 0);
	*t = (struct md_pty){
		.index = s->index, .iflag = s->iflag, .oflag = s->oflag, .cflag = s->cflag, .lflag = s->lflag,
		.line = (uint8_t)s->line, .ispeed = s->ispeed, .ospeed = s->ospeed, .rows = (uint16_t)s->rows,
		.cols = (uint16_t)s->cols, .xpixel = s->has_xpixel ? (uint16_t)s->xpixel : 0,
		.ypixel = s->has_ypixel ? (uint16_t)s->ypixel : 0, .locked = s->has_locked && s->locked,
		.packet = s->has_packet && s->packet, .slave_excl = s->has_slave_excl && s->slave_excl,
		.hup = s->has_hup && s->hup, .sid = s->has_sid ? s->sid : 0, .fg_pgrp = s->has_fg_pgrp ? s->fg_pgrp : 0,
		.owner_known = s->has_slave_uid, .slave_uid = s->slave_uid, .slave_gid = s->slave_gid,
		.slave_mode = s->slave_mode,
	};
	memcpy(t->cc, s->cc.data, MD_PTY_NCC);
	return 0;
}

int image_read_ptys(int dirfd, struct md_pty **ret, size_t *ret_n)
{
	_cleanup_msg_ ProtobufCMessage *raw = NULL;
	_cleanup_free_ struct md_pty *t = NULL;
	Md__PtysImage *m;
	int r;

	*ret = NULL;
	*ret_n = 0;
	r = img_read_msg_opt(dirfd, PTYS_NAME, MD_IMG_PTYS, &raw);
	if (r <= 0)
		return r;
	m = (Md__PtysImage *)raw;
	t = calloc(m->n_ptys ? m->n_ptys : 1, sizeof(*t));
	if (!t)
		return log_err(-ENOMEM, "cannot read image '%s'", PTYS_NAME);
	for (size_t i = 0; i < m->n_ptys; i++) {
		r = read_pty(m->ptys[i], &t[i]);
		if (r < 0)
			return r;
		for (size_t j = 0; j < i; j++)
			if (t[j].index == t[i].index)
				return img_invalid(PTYS_NAME, "pty %u appears twice", t[i].index);
	}
	*ret = TAKE_PTR(t);
	*ret_n = m->n_ptys;
	return 0;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static const struct md_pty *find_pty(const struct md_pty *t, size_t nt, uint32_t index)
{
	for (size_t i = 0; i < nt; i++)
		if (t[i].index == index)
			return &t[i];
	return NULL;
}

int image_check_ptys(const struct md_proc *procs, size_t n, const struct md_pty *t, size_t nt, char *err,
		     size_t errlen)
{
	for (size_t k = 0; k < nt; k++) {
		const struct md_proc *lead;
		uint64_t ofd = 0;
		bool fg = false;

		for (size_t p = 0; p < n; p++)
			for (size_t i = 0; i < procs[p].n_fds; i++) {
				const struct md_fd *f = &procs[p].fds[i];

				if (f->kind != MD_FD_PTY_MASTER || f->pty != t[k].index)
					continue;
				if (ofd && f->ofd != ofd)
					return fail(err, errlen, "pty %u: two descriptions of its master", t[k].index);
				ofd = f->ofd;
			}
		if (!ofd)
			return fail(err, errlen, "pty %u: no fd on its master", t[k].index);
		if (!t[k].sid)
			continue;
		lead = md_find_proc(procs, n, t[k].sid);
		if (!lead || lead->zombie || lead->sid != lead->pid)
			return fail(err, errlen, "pty %u: the terminal of session %d, which no live process of the "
				    "image leads", t[k].index, (int)t[k].sid);
		for (size_t j = 0; j < k; j++)
			if (t[j].sid == t[k].sid)
				return fail(err, errlen, "session %d has two terminals", (int)t[k].sid);
		for (size_t p = 0; p < n && t[k].fg_pgrp && !fg; p++)
			fg = procs[p].sid == t[k].sid && procs[p].pgid == t[k].fg_pgrp;
		if (t[k].fg_pgrp && !fg)
			return fail(err, errlen, "pty %u: foreground group %d, no group of session %d", t[k].index,
				    (int)t[k].fg_pgrp, (int)t[k].sid);
	}
	for (size_t p = 0; p < n; p++)
		for (size_t i = 0; i < procs[p].n_fds; i++) {
			const struct md_fd *f = &procs[p].fds[i];

			if ((f->kind == MD_FD_PTY_MASTER || f->kind == MD_FD_PTY_SLAVE) && !find_pty(t, nt, f->pty))
				return fail(err, errlen, "fd %d of %d: pty %u, which ptys.img has not", f->fd,
					    procs[p].pid, f->pty);
		}
	return 0;
}
