/*
 * ptys.img: ptys written and read back field by field, malformed ones
 * refused on reading, pty fds in files-PID.img, and image_check_ptys():
 * every pty fd has its pty, every pty a master fd of one description,
 * and a terminal's session and foreground group are the image's.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "image/internal.h"
#include "memdump/image.h"
#include "memdump/model.h"
#include "dirsuite.h"

#include "ptys.pb-c.h"

TestSuite(image_ptys, .init = synth_dir_setup, .fini = synth_dir_teardown);

static void three(struct md_pty *t)
{
	memset(t, 0, 3 * sizeof(*t));
	t[0] = (struct md_pty){ .index = 0, .iflag = 0x500, .oflag = 5, .cflag = 0xbf, .lflag = 0x8a3b, .line = 0,
				.ispeed = 9600, .ospeed = 9600, .rows = 40, .cols = 132, .xpixel = 7, .ypixel = 65535,
				.sid = 300, .fg_pgrp = 301, .owner_known = true, .slave_uid = 1000, .slave_gid = 5,
				.slave_mode = 0620 };
	for (int i = 0; i < MD_PTY_NCC; i++)
		t[0].cc[i] = (uint8_t)(i * 13 + 1);
	t[1] = (struct md_pty){ .index = 7, .hup = true, .slave_excl = true, .line = 2 };
	t[2] = (struct md_pty){ .index = MD_PTY_MAX - 1, .locked = true, .packet = true };
}

Test(image_ptys, round_trip)
{
	struct md_pty in[3], *out;
	size_t n;

	three(in);
	cr_assert_eq(image_write_ptys(dirfd, in, 3), 0);
	cr_assert_eq(image_read_ptys(dirfd, &out, &n), 0);
	cr_assert_eq(n, 3);
	for (size_t i = 0; i < 3; i++)
		cr_expect(!memcmp(&in[i], &out[i], sizeof(in[i])), "pty %zu differs", i);
	free(out);
}

Test(image_ptys, missing_is_none)
{
	struct md_pty *out = (void *)1;
	size_t n = 9;

	cr_assert_eq(image_read_ptys(dirfd, &out, &n), 0);
	cr_assert_null(out);
	cr_assert_eq(n, 0);
}

/* a message as a reader of another version might write it: one pty, broken as asked */
static void write_raw(void (*breakit)(Md__Pty *))
{
	Md__PtysImage m = MD__PTYS_IMAGE__INIT;
	Md__Pty p = MD__PTY__INIT, *pp = &p;
	uint8_t cc[MD_PTY_NCC + 1] = { 3 };	/* one more for long_cc */

	p.index = 4;
	p.cc.data = cc;
	p.cc.len = MD_PTY_NCC;
	p.rows = 24;
	p.cols = 80;
	breakit(&p);
	m.ptys = &pp;
	m.n_ptys = 1;
	cr_assert_eq(img_write_msg(dirfd, "ptys.img", MD_IMG_PTYS, &m.base), 0);
}

static void nothing(Md__Pty *p) { (void)p; }
static void big_index(Md__Pty *p) { p->index = MD_PTY_MAX; }
static void short_cc(Md__Pty *p) { p->cc.len = MD_PTY_NCC - 1; }
static void long_cc(Md__Pty *p) { p->cc.len = MD_PTY_NCC + 1; }
static void big_line(Md__Pty *p) { p->line = 256; }
static void big_rows(Md__Pty *p) { p->rows = 65536; }
static void big_cols(Md__Pty *p) { p->cols = 1u << 31; }
static void big_xpixel(Md__Pty *p) { p->has_xpixel = true; p->xpixel = 70000; }
static void big_ypixel(Md__Pty *p) { p->has_ypixel = true; p->ypixel = 65536; }
static void zero_sid(Md__Pty *p) { p->has_sid = true; p->sid = 0; }
static void negative_sid(Md__Pty *p) { p->has_sid = true; p->sid = -5; }
static void fg_without_sid(Md__Pty *p) { p->has_fg_pgrp = true; p->fg_pgrp = 9; }
static void negative_fg(Md__Pty *p) { p->has_sid = true; p->sid = 9; p->has_fg_pgrp = true; p->fg_pgrp = -9; }
static void owner_without_mode(Md__Pty *p) { p->has_slave_uid = p->has_slave_gid = true; }
static void mode_too_big(Md__Pty *p)
{
	p->has_slave_uid = p->has_slave_gid = p->has_slave_mode = true;
	p->slave_mode = 010000;
}

Test(image_ptys, malformed_refused)
{
	void (*bad[])(Md__Pty *) = { big_index, short_cc, long_cc, big_line, big_rows, big_cols, big_xpixel,
				     big_ypixel, zero_sid, negative_sid, fg_without_sid, negative_fg,
				     owner_without_mode, mode_too_big };
	struct md_pty *out;
	size_t n;

	write_raw(nothing);
	cr_assert_eq(image_read_ptys(dirfd, &out, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(out[0].index, 4);
	cr_assert_eq(out[0].cc[0], 3);
	free(out);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_raw(bad[i]);
		cr_expect_eq(image_read_ptys(dirfd, &out, &n), -EINVAL, "malformed pty %zu read", i);
	}
}

Test(image_ptys, twice_refused)
{
	struct md_pty in[3], *out;
	size_t n;

	three(in);
	in[2].index = 7;
	cr_assert_eq(image_write_ptys(dirfd, in, 3), 0);
	cr_assert_eq(image_read_ptys(dirfd, &out, &n), -EINVAL);
}

/* pty fds in files-PID.img: the index goes with them, and only with them */
Test(image_ptys, fds_round_trip)
{
	struct md_proc in, out;

	synth_proc(&in, SYNTH_PID, 5);
	in.fds[0] = (struct md_fd){ .fd = in.fds[0].fd, .kind = MD_FD_PTY_MASTER, .path = in.fds[0].path,
				    .flags = 02 | 04000, .dup_of = -1, .ofd = 77, .pty = 12 };
	in.fds[1] = (struct md_fd){ .fd = in.fds[1].fd, .kind = MD_FD_PTY_SLAVE, .path = in.fds[1].path,
				    .flags = 02, .dup_of = -1, .ofd = 78, .pty = 12 };
	free(in.fds[0].path);
	in.fds[0].path = strdup("/dev/ptmx");
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	assert_proc_eq(&in, &out);
	md_proc_release(&out);

	/* a master with no path to open it by */
	free(in.fds[0].path);
	in.fds[0].path = NULL;
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_expect_eq(image_read_proc(dirfd, SYNTH_PID, &out), -EINVAL);
	md_proc_release(&in);
}

/* R (100) holds the masters of 3 and 4; its child C (101) leads session 101 on 3, with G (102) */
static void tree(struct md_proc *p, struct md_fd *fds, struct md_pty *t)
{
	memset(p, 0, 3 * sizeof(*p));
	memset(fds, 0, 4 * sizeof(*fds));
	fds[0] = (struct md_fd){ .fd = 3, .kind = MD_FD_PTY_MASTER, .ofd = 1, .pty = 3 };
	fds[1] = (struct md_fd){ .fd = 4, .kind = MD_FD_PTY_MASTER, .ofd = 2, .pty = 4 };
	fds[2] = (struct md_fd){ .fd = 0, .kind = MD_FD_PTY_SLAVE, .ofd = 3, .pty = 3 };
	fds[3] = (struct md_fd){ .fd = 5, .kind = MD_FD_PTY_MASTER, .ofd = 1, .pty = 3 };
	p[0] = (struct md_proc){ .pid = 100, .pgid = 100, .sid = 100, .fds = fds, .n_fds = 2 };
	p[1] = (struct md_proc){ .pid = 101, .ppid = 100, .pgid = 101, .sid = 101, .fds = fds + 2, .n_fds = 2 };
	p[2] = (struct md_proc){ .pid = 102, .ppid = 101, .pgid = 102, .sid = 101 };
	memset(t, 0, 2 * sizeof(*t));
	t[0] = (struct md_pty){ .index = 3, .sid = 101, .fg_pgrp = 102 };
	t[1] = (struct md_pty){ .index = 4 };
}

Test(image_ptys, check)
{
	struct md_proc p[3];
	struct md_fd fds[4];
	struct md_pty t[2];
	char e[256];

	tree(p, fds, t);
	cr_assert_eq(image_check_ptys(p, 3, t, 2, e, sizeof(e)), 0, "%s", e);
	t[0].fg_pgrp = 0;	/* the leader's own group */
	cr_assert_eq(image_check_ptys(p, 3, t, 2, e, sizeof(e)), 0, "%s", e);

	/* a slave fd whose pty is not there */
	cr_expect_eq(image_check_ptys(p, 3, t, 1, e, sizeof(e)), -EINVAL);
	cr_expect(strstr(e, "pty 4"), "%s", e);
	/* a pty no master fd holds */
	tree(p, fds, t);
	fds[1].pty = 3;
	cr_expect_eq(image_check_ptys(p, 3, t, 2, e, sizeof(e)), -EINVAL);
	/* two descriptions of one master */
	tree(p, fds, t);
	fds[3].ofd = 9;
	cr_expect_eq(image_check_ptys(p, 3, t, 2, e, sizeof(e)), -EINVAL);
	/* the terminal of a session nobody in the image leads */
	tree(p, fds, t);
	t[0].sid = 102;
	t[0].fg_pgrp = 0;
	cr_expect_eq(image_check_ptys(p, 3, t, 2, e, sizeof(e)), -EINVAL);
	tree(p, fds, t);
	t[0].sid = 55;
	t[0].fg_pgrp = 0;
	cr_expect_eq(image_check_ptys(p, 3, t, 2, e, sizeof(e)), -EINVAL);
	/* a leader that is a zombie */
	tree(p, fds, t);
	p[1].zombie = true;
	cr_expect_eq(image_check_ptys(p, 3, t, 2, e, sizeof(e)), -EINVAL);
	/* a foreground group of another session, and one that does not exist */
	tree(p, fds, t);
	t[0].fg_pgrp = 100;
	cr_expect_eq(image_check_ptys(p, 3, t, 2, e, sizeof(e)), -EINVAL);
	t[0].fg_pgrp = 103;
	cr_expect_eq(image_check_ptys(p, 3, t, 2, e, sizeof(e)), -EINVAL);
	/* one session, two terminals */
	tree(p, fds, t);
	t[1].sid = 101;
	cr_expect_eq(image_check_ptys(p, 3, t, 2, e, sizeof(e)), -EINVAL);
}
