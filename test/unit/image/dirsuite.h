#pragma once
/*
 * A fresh image directory for every test of a suite: use
 * TestSuite(name, .init = synth_dir_setup, .fini = synth_dir_teardown)
 * and the test sees it as dir / dirfd.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "synth.h"

static char *dir;
static int dirfd = -1;

static inline void synth_dir_setup(void)
{
	dir = make_tmpdir();
	cr_assert_eq(image_dir_open(dir, false, &dirfd), 0);
}

static inline void synth_dir_teardown(void)
{
	close(dirfd);
	rm_tree(dir);
}

/* the bits of byte at of the directory's file name, inverted in place */
static inline void flip_bits(const char *name, off_t at, uint8_t bits)
{
	int wfd = openat(dirfd, name, O_RDWR | O_CLOEXEC);
	uint8_t b;

	cr_assert_geq(wfd, 0);
	cr_assert_eq(pread(wfd, &b, 1, at), 1);
	b ^= bits;
	cr_assert_eq(pwrite(wfd, &b, 1, at), 1);
	close(wfd);
}

/* core-SYNTH_PID.img: the synthetic process's core file */
static inline const char *synth_core_name(void)
{
	static char name[64];

	snprintf(name, sizeof(name), "core-%d.img", SYNTH_PID);
	return name;
}

/* the low byte of that file's header flags */
static inline uint8_t synth_core_flags(void)
{
	uint8_t b = 0xff;
	int fd = openat(dirfd, synth_core_name(), O_RDONLY | O_CLOEXEC);

	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &b, 1, 36), 1);
	close(fd);
	return b;
}
