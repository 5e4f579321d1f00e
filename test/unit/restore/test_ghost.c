/*
 * Files deleted while open or mapped: the data file of a ghost written as
 * a dump writes it, read back and checked (restore_read_ghosts()), the
 * file made again (restore_make_ghosts()) with its bytes, holes, size and
 * mode, and deleted; a missing, truncated or corrupt data file refused
 * before anything is made; a ghost only mapped made with its record's mode;
 * a removed directory made again empty.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memdump/image.h"
#include "memdump/model.h"
#include "restore/internal.h"

#define PG 4096UL
#define SIZE (40 * PG + 123)	/* data in pages 0-1 and 30-40 (the last one partly) */

static char img[64], files[64], path[PATH_MAX];
static struct restore_ctx rc;
static struct restore_proc rp;
static struct md_ghost ghost;
static struct md_pagemap_entry extents[2] = { { 0, 2, MD_PM_DATA }, { 30 * PG, 11, MD_PM_DATA } };
static struct md_fd fd;

static uint8_t byte_at(uint64_t off)
{
	return (uint8_t)(off * 31 + off / PG + 1);
}

/* pages-ghost-9.img as the dump writes it: the extents' pages, in order, zstd at level */
static void write_data(int level)
{
	struct image_pages_writer *w;
	uint8_t page[PG];
	char name[64];

	image_pages_name(name, sizeof(name), MD_PAGES_GHOST, 9);
	cr_assert_str_eq(name, "pages-ghost-9.img");
	cr_assert_eq(image_pages_create(rc.dirfd, name, &w), 0);
	cr_assert_eq(image_pages_compress(w, md_zstd(level)), 0);
	for (size_t e = 0; e < 2; e++)
		for (uint64_t p = 0; p < extents[e].nr_pages; p++) {
			uint64_t at = extents[e].vaddr + p * PG;

			for (size_t i = 0; i < PG; i++)
				page[i] = at + i < SIZE ? byte_at(at + i) : 0;
			cr_assert_eq(image_pages_write(w, page, PG), 0);
		}
	cr_assert_eq(image_pages_finish(w), 0);
}

static void setup(void)
{
	strcpy(img, "/tmp/memdump-ghost-img-XXXXXX");
	strcpy(files, "/tmp/memdump-ghost-files-XXXXXX");
	cr_assert_not_null(mkdtemp(img));
	cr_assert_not_null(mkdtemp(files));
	memset(&rc, 0, sizeof(rc));
	memset(&rp, 0, sizeof(rp));
	rc.dirfd = open(img, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(rc.dirfd, 0);
	snprintf(path, sizeof(path), "%s/gone", files);
	ghost = (struct md_ghost){ .id = 9, .size = SIZE, .uid = 0, .gid = 0, .data = { extents, 2, 13 } };
	fd = (struct md_fd){ .fd = 5, .kind = MD_FD_REG, .flags = O_RDWR, .mode = 0100751, .path = path,
			     .ghost = &ghost };
	rp.p.pid = 1234;
	rp.p.fds = &fd;
	rp.p.n_fds = 1;
	rc.procs = &rp;
	rc.n = 1;
}

static void teardown(void)
{
	char cmd[256];

	restore_ghosts_release(&rc);
	close(rc.dirfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", img, files);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(restore_ghost, .init = setup, .fini = teardown);

static void expect_made_again_as(mode_t mode)
{
	uint8_t *buf = malloc(SIZE);
	struct stat st, st_rw;
	char link[PATH_MAX + 32], self[64];
	ssize_t n;
	int f;

	cr_assert_eq(restore_read_ghosts(&rc, img), 0);
	cr_assert_eq(rc.n_ghosts, 1);
	cr_assert_eq(restore_make_ghosts(&rc), 0);
	f = restore_ghost_fd(&rc, 9, false);
	cr_assert_geq(f, 0);
	cr_assert_eq(restore_ghost_fd(&rc, 8, false), -1);
	/* no writer (a deleted exe must have none) until a shared writable mapping asks for one */
	cr_expect_eq(fcntl(f, F_GETFL) & O_ACCMODE, O_RDONLY);
	cr_expect_eq(restore_ghost_fd(&rc, 9, true), -1);
	cr_assert_eq(restore_ghost_open_rw(&rc, 9), 0);
	cr_assert_eq(restore_ghost_open_rw(&rc, 9), 0);
	cr_assert_geq(restore_ghost_fd(&rc, 9, true), 0);
	cr_expect_eq(fcntl(restore_ghost_fd(&rc, 9, true), F_GETFL) & O_ACCMODE, O_RDWR);
	cr_expect_lt(restore_ghost_open_rw(&rc, 8), 0);
	cr_assert_eq(fstat(f, &st), 0);
	cr_assert_eq(fstat(restore_ghost_fd(&rc, 9, true), &st_rw), 0);
	cr_expect(st.st_ino == st_rw.st_ino && st.st_dev == st_rw.st_dev, "the O_RDWR fd is on another file");
	cr_expect_eq(st.st_nlink, 0);
	cr_expect_eq(st.st_size, SIZE);
	cr_expect_eq(st.st_mode, mode);
	cr_expect_eq(access(path, F_OK), -1, "the name is left behind");
	snprintf(self, sizeof(self), "/proc/self/fd/%d", f);
	n = readlink(self, link, sizeof(link) - 1);
	cr_assert_gt(n, 0);
	link[n] = '\0';
	cr_expect_str_eq(link, strcat(strcpy((char[PATH_MAX + 32]){ 0 }, path), " (deleted)"));
	cr_assert_eq(pread(f, buf, SIZE, 0), SIZE);
	for (uint64_t i = 0; i < SIZE; i++) {
		uint8_t want = i < 2 * PG || i >= 30 * PG ? byte_at(i) : 0;

		if (buf[i] != want)
			cr_assert_fail("byte %llu is %#x, expected %#x", (unsigned long long)i, buf[i], want);
	}
	free(buf);
	/* the hole between the extents is one again */
	cr_expect_eq(lseek(f, 0, SEEK_HOLE), 2 * PG);
	cr_expect_eq(lseek(f, 2 * PG, SEEK_DATA), 30 * PG);
}

static void expect_made_again(void)
{
	expect_made_again_as(0100751);
}

Test(restore_ghost, made_again_raw)
{
	write_data(0);
	expect_made_again();
}

Test(restore_ghost, made_again_zstd)
{
	write_data(3);
	expect_made_again();
}

/* the name is taken by a new file: that one is left alone, the ghost gets another */
Test(restore_ghost, name_taken)
{
	struct stat st;
	int f;

	write_data(0);
	f = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(f, 0);
	cr_assert_eq(write(f, "new", 3), 3);
	close(f);
	cr_assert_eq(restore_read_ghosts(&rc, img), 0);
	cr_assert_eq(restore_make_ghosts(&rc), 0);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_size, 3);
	cr_assert_eq(fstat(restore_ghost_fd(&rc, 9, false), &st), 0);
	cr_expect_eq(st.st_size, SIZE);
	cr_expect_eq(st.st_nlink, 0);
}

/* a file only mapped: its record has the mode and path an fd would */
Test(restore_ghost, mapped_only)
{
	struct md_ghost mapped = ghost;

	write_data(0);
	mapped.mode = 0100640;
	mapped.path = path;
	rp.p.n_fds = 0;
	rp.p.mapped = &mapped;
	rp.p.n_mapped = 1;
	expect_made_again_as(0100640);
}

/* an fd and a mapped record of one id that disagree: refused */
Test(restore_ghost, fd_and_mapping_disagree)
{
	struct md_ghost mapped = ghost;

	write_data(0);
	mapped.mode = 0100751;
	mapped.path = path;
	mapped.size = SIZE + 1;
	rp.p.mapped = &mapped;
	rp.p.n_mapped = 1;
	cr_expect_eq(restore_read_ghosts(&rc, img), -EINVAL);
	mapped.size = SIZE;
	restore_ghosts_release(&rc);
	/* a directory's mode: the cwd of another process on this file */
	mapped.mode = 040751;
	cr_expect_eq(restore_read_ghosts(&rc, img), -EINVAL);
	mapped.mode = 0100751;
	restore_ghosts_release(&rc);
	cr_expect_eq(restore_read_ghosts(&rc, img), 0);
	cr_expect_eq(rc.n_ghosts, 1);
}

/*
 * a directory removed while fd 5 (or a cwd) was on it: made again empty, with its owner and mode,
 * removed again; fds open it again through /proc/self/fd, and nothing can be created in it
 */
static void expect_dir_made_again(bool name_taken)
{
	struct md_pagemap_entry none[1];
	struct image_pages_writer *w;
	struct stat st;
	char self[64], link[PATH_MAX + 32];
	ssize_t n;
	int f, again;

	/* its data file, empty */
	image_pages_name(self, sizeof(self), MD_PAGES_GHOST, 9);
	cr_assert_eq(image_pages_create(rc.dirfd, self, &w), 0);
	cr_assert_eq(image_pages_finish(w), 0);
	ghost = (struct md_ghost){ .id = 9, .uid = 1000, .gid = 100, .data = { none, 0, 0 } };
	fd.kind = MD_FD_DIR;
	fd.flags = O_RDONLY | O_DIRECTORY;
	fd.mode = 040751;
	cr_assert_eq(restore_read_ghosts(&rc, img), 0);
	cr_assert_eq(restore_make_ghosts(&rc), 0);
	f = restore_ghost_fd(&rc, 9, false);
	cr_assert_geq(f, 0);
	cr_assert_eq(fstat(f, &st), 0);
	cr_expect_eq(st.st_mode, 040751);
	cr_expect(st.st_uid == 1000 && st.st_gid == 100, "owner %u:%u", st.st_uid, st.st_gid);
	cr_expect_eq(st.st_nlink, 0);
	cr_expect_eq(access(path, F_OK), name_taken ? 0 : -1, "the name is left behind, or the one there is gone");
	snprintf(self, sizeof(self), "/proc/self/fd/%d", f);
	n = readlink(self, link, sizeof(link) - 1);
	cr_assert_gt(n, 0);
	link[n] = '\0';
	cr_expect(name_taken || !strcmp(link, strcat(strcpy((char[PATH_MAX + 32]){ 0 }, path), " (deleted)")), "%s",
		  link);
	cr_expect(strstr(link, " (deleted)"), "%s", link);
	again = open(self, restore_open_flags(&fd, true));
	cr_assert_geq(again, 0, "cannot open the removed directory again: %s", strerror(errno));
	cr_expect_eq(openat(again, "x", O_RDWR | O_CREAT | O_CLOEXEC, 0600), -1);
	cr_expect_eq(errno, ENOENT);
	close(again);
}

Test(restore_ghost, removed_dir_made_again)
{
	expect_dir_made_again(false);
}

/* the name is taken (by a file): the directory is made under another */
Test(restore_ghost, removed_dir_name_taken)
{
	int f = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);

	cr_assert_geq(f, 0);
	close(f);
	expect_dir_made_again(true);
	unlink(path);
}

Test(restore_ghost, directory_gone)
{
	write_data(0);
	snprintf(path, sizeof(path), "%s/not-here/gone", files);
	cr_assert_eq(restore_read_ghosts(&rc, img), 0);
	cr_expect_eq(restore_make_ghosts(&rc), -ENOENT);
}

Test(restore_ghost, data_missing)
{
	cr_expect_lt(restore_read_ghosts(&rc, img), 0);
}

Test(restore_ghost, data_truncated)
{
	struct stat st;

	write_data(0);
	cr_assert_eq(fstatat(rc.dirfd, "pages-ghost-9.img", &st, 0), 0);
	cr_assert_eq(truncate(strcat(strcat((char[PATH_MAX + 32]){ 0 }, img), "/pages-ghost-9.img"), st.st_size - PG), 0);
	cr_expect_lt(restore_read_ghosts(&rc, img), 0);
}

Test(restore_ghost, data_corrupt)
{
	char p[PATH_MAX + 32];
	uint8_t b;
	int f;

	write_data(0);
	snprintf(p, sizeof(p), "%s/pages-ghost-9.img", img);
	f = open(p, O_RDWR);
	cr_assert_geq(f, 0);
	/* a byte of the data, past the 4096-byte header */
	cr_assert_eq(pread(f, &b, 1, 4096 + 5000), 1);
	b ^= 0xff;
	cr_assert_eq(pwrite(f, &b, 1, 4096 + 5000), 1);
	close(f);
	cr_expect_lt(restore_read_ghosts(&rc, img), 0);
}

/* the image says the file has more pages than its data file holds */
Test(restore_ghost, data_shorter_than_extents)
{
	write_data(0);
	extents[1].nr_pages = 12;
	ghost.data.nr_data_pages = 14;
	cr_expect_lt(restore_read_ghosts(&rc, img), 0);
	extents[1].nr_pages = 11;
}
