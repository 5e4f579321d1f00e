/*
 * Every image kind written and read back with every field set: what goes
 * in comes out, field by field.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "memdump/image.h"
#include "memdump/model.h"
#include "dirsuite.h"

TestSuite(image_roundtrip, .init = synth_dir_setup, .fini = synth_dir_teardown);

Test(image_roundtrip, proc)
{
	struct md_proc in, out;

	synth_proc(&in, SYNTH_PID, 3);
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(faccessat(dirfd, "core-4242.img", R_OK, 0), 0);
	cr_assert_eq(faccessat(dirfd, "mm-4242.img", R_OK, 0), 0);
	cr_assert_eq(faccessat(dirfd, "files-4242.img", R_OK, 0), 0);
	cr_assert_eq(image_read_proc(dirfd, SYNTH_PID, &out), 0);
	assert_proc_eq(&in, &out);
	md_proc_release(&in);
	md_proc_release(&out);
}

Test(image_roundtrip, proc_minimal)
{
	/* NULL strings, no xsave, no pending signals, no fds: all optional. */
	struct md_proc in = { .pid = 7 }, out;
	struct md_thread t = { .tid = 7 };

	in.threads = &t;
	in.n_threads = 1;
	cr_assert_eq(image_write_proc(dirfd, &in), 0);
	cr_assert_eq(image_read_proc(dirfd, 7, &out), 0);
	assert_proc_eq(&in, &out);
	cr_assert_null(out.cwd);
	cr_assert_null(out.threads[0].xsave);
	md_proc_release(&out);
}

Test(image_roundtrip, read_missing_is_enoent)
{
	struct md_proc out;

	cr_assert_eq(image_read_proc(dirfd, 99, &out), -ENOENT);
}

Test(image_roundtrip, inventory)
{
	struct md_inventory in, out;

	synth_inventory(&in, 5);
	cr_assert_eq(image_write_inventory(dirfd, &in), 0);
	cr_assert_eq(image_read_inventory(dirfd, &out), 0);
	assert_inventory_eq(&in, &out);
	md_inventory_release(&in);
	md_inventory_release(&out);
}

Test(image_roundtrip, pagemap)
{
	struct md_proc p;
	struct md_pagemap in, out;
	char err[256];

	synth_proc(&p, SYNTH_PID, 3);
	synth_pagemap(&in, &p);
	cr_assert_eq(image_check_proc(&p, &in, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(image_write_pagemap(dirfd, SYNTH_PID, &in), 0);
	cr_assert_eq(image_read_pagemap(dirfd, SYNTH_PID, &out), 0);
	assert_pagemap_eq(&in, &out);
	md_pagemap_release(&in);
	md_pagemap_release(&out);
	md_proc_release(&p);
}

Test(image_roundtrip, empty_pagemap)
{
	struct md_pagemap in = {0}, out;

	cr_assert_eq(image_write_pagemap(dirfd, 12, &in), 0);
	cr_assert_eq(image_read_pagemap(dirfd, 12, &out), 0);
	cr_assert_eq(out.n, 0);
	cr_assert_eq(out.nr_data_pages, 0);
	md_pagemap_release(&out);
}

Test(image_roundtrip, shm)
{
	struct md_shm in, out;
	struct md_pagemap pm, outpm;

	synth_shm(&in, &pm, 1);
	cr_assert_eq(image_write_shm(dirfd, &in, &pm), 0);
	cr_assert_eq(faccessat(dirfd, "shm-778.img", R_OK, 0), 0);
	cr_assert_eq(image_read_shm(dirfd, in.id, &out, &outpm), 0);
	assert_shm_eq(&in, &out);
	assert_pagemap_eq(&pm, &outpm);
	md_shm_release(&in);
	md_shm_release(&out);
	md_pagemap_release(&pm);
	md_pagemap_release(&outpm);
}

Test(image_roundtrip, dir_open_create)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	cr_assert_eq(image_dir_open(path, true, &fd), 0);
	close(fd);
	/* Still empty: may be created again. */
	cr_assert_eq(image_dir_open(path, true, &fd), 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/a", dir);
	cr_assert_eq(image_dir_open(path, true, &fd), -EEXIST);
	cr_assert_eq(image_dir_open(path, false, &fd), 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/nonexistent", dir);
	cr_assert_eq(image_dir_open(path, false, &fd), -ENOENT);
}
