#pragma once
/*
 * A fresh image directory for every test of a suite: use
 * TestSuite(name, .init = synth_dir_setup, .fini = synth_dir_teardown)
 * and the test sees it as dir / dirfd.
 */
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
